"""The ``deltamesh`` command (also ``python -m deltamesh``).

``deltamesh doctor`` checks the installation and ``deltamesh version`` prints the version; every
other command (``node``, ``status``, ``keygen``) is the Node's command line, ``sync._cli``.
"""

from __future__ import annotations

import argparse
import sys

from deltamesh import __version__
from deltamesh._doctor import diagnose


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] not in (["doctor"], ["version"]):
        from sync._cli import main as node_main

        return node_main(args)
    return _installation(args)


def _installation(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="deltamesh", description="deltamesh " + __version__)
    ap.add_argument("command", choices=["doctor", "version"])
    args = ap.parse_args(argv)
    if args.command == "version":
        print(__version__)
        return 0
    findings = diagnose()
    print(f"deltamesh {__version__} (Python {sys.version.split()[0]})")
    for f in findings:
        print(f"  {'ok ' if f.ok else 'BAD'} {f.package}: {f.detail}")
    bad = [f for f in findings if not f.ok]
    if bad:
        print(f"{len(bad)} problem(s): see README.md, 'Import names'.")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
