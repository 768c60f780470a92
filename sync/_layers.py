"""Imported first by ``sync``: check that the ``crdts`` and ``gossip`` packages Python finds are
deltamesh's. PyPI has unrelated distributions with those import names; installed beside
deltamesh, one of them silently replaces our files, and without this check the failure is a
confusing ``ImportError`` deep inside the engine. (``python -m deltamesh doctor`` checks more.)
"""

from __future__ import annotations

import importlib

__all__: list[str] = []


def _require_our_layers() -> None:
    for name in ("crdts", "gossip"):
        module = importlib.import_module(name)
        if getattr(module, "__distribution__", None) != "deltamesh":
            raise ImportError(
                f"the {name!r} package imported from {getattr(module, '__file__', None)} is not "
                "deltamesh's: an unrelated distribution with the same import name is installed. "
                "Run `python -m deltamesh doctor` (README.md, 'Import names')."
            )


_require_our_layers()
