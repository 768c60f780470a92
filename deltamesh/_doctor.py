"""Is the ``crdts`` (``gossip``, ``sync``) that Python imports really deltamesh's?

The import names ``crdts``, ``gossip`` and ``sync`` are also used by unrelated distributions on
PyPI. Installing one of them next to deltamesh puts two packages in one directory: the second
install silently overwrites files of the first, and what fails later is a confusing
``ImportError`` deep inside. Each of our packages carries ``__distribution__ = "deltamesh"``;
:func:`diagnose` checks that marker and asks the installed metadata which distributions claim each
name. ``sync`` (which imports the other two) runs the marker check at import and raises a clear
``ImportError``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["DISTRIBUTION", "PACKAGES", "Finding", "diagnose", "foreign_package_message"]

DISTRIBUTION = "deltamesh"
PACKAGES = ("crdts", "gossip", "sync")
"""The import names deltamesh installs."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    package: str
    ok: bool
    detail: str


def foreign_package_message(name: str, location: object) -> str:
    """The explanation given when the package ``name`` found at ``location`` is not ours."""
    return (
        f"the {name!r} package imported from {location} is not deltamesh's: an unrelated "
        f"distribution with the same import name is installed (PyPI has unrelated 'crdts', "
        f"'gossip' and 'sync' projects). Run `python -m deltamesh doctor`, uninstall the other "
        f"distribution, then `pip install --force-reinstall deltamesh`."
    )


def diagnose(
    *,
    packages: Sequence[str] = PACKAGES,
    distributions: Callable[
        [], Mapping[str, list[str]]
    ] = importlib.metadata.packages_distributions,
) -> list[Finding]:
    """One finding per package: importable, carrying deltamesh's marker, and claimed by no other
    installed distribution."""
    claims = distributions()
    out: list[Finding] = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None:
            out.append(Finding(package=name, ok=False, detail="not installed"))
            continue
        where = spec.origin or list(spec.submodule_search_locations or [])
        others = sorted({d for d in claims.get(name, []) if d.lower() != DISTRIBUTION})
        if others:
            out.append(
                Finding(
                    package=name,
                    ok=False,
                    detail=f"also installed by {', '.join(others)}: "
                    + foreign_package_message(name, where),
                )
            )
            continue
        try:
            module = importlib.import_module(name)
        except Exception as e:  # a half-overwritten package fails in many ways
            out.append(
                Finding(package=name, ok=False, detail=f"fails to import from {where}: {e!r}")
            )
            continue
        if getattr(module, "__distribution__", None) != DISTRIBUTION:
            out.append(Finding(package=name, ok=False, detail=foreign_package_message(name, where)))
            continue
        out.append(Finding(package=name, ok=True, detail=f"deltamesh's, from {where}"))
    return out
