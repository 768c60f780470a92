"""``python -m examples.cart node ...`` runs one cart node; ``python -m examples.cart demo``
runs three on localhost."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from examples.cart._demo import add_demo_arguments, run_demo
    from examples.cart._serve import add_node_arguments, node_args, run_node

    parser = argparse.ArgumentParser(
        prog="python -m examples.cart", description="the deltamesh shopping-cart service"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_node_arguments(sub.add_parser("node", help="run one node (HTTP service + sync.Node)"))
    add_demo_arguments(sub.add_parser("demo", help="run a 3-node cluster on localhost"))
    ns = parser.parse_args(argv)
    if ns.command == "node":
        return run_node(node_args(ns))
    return run_demo(ns)


if __name__ == "__main__":
    raise SystemExit(main())
