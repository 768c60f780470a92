"""deltamesh: the distribution behind the ``crdts``, ``gossip`` and ``sync`` packages.

This package holds what belongs to the distribution rather than to one layer: its version
(:data:`__version__`, read from the installed metadata) and ``python -m deltamesh doctor``, which
checks that the ``crdts``, ``gossip`` and ``sync`` packages Python imports are deltamesh's (PyPI
has unrelated distributions with those names; see README.md).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from deltamesh._doctor import PACKAGES, Finding, diagnose

try:
    __version__: str = version("deltamesh")
    """The installed version of the ``deltamesh`` distribution."""
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["PACKAGES", "Finding", "__version__", "diagnose"]
