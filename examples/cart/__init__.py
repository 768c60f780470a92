"""The shopping-cart service: one process per node, a :class:`sync.Node` behind an HTTP API and a
web page. ``python -m examples.cart demo`` starts three on localhost; see ``docs/cart.md``."""

from __future__ import annotations

from examples.cart._validation import RequestError, check_name, parse_qty_body

__all__ = ["RequestError", "check_name", "create_app", "parse_qty_body"]


def __getattr__(name: str) -> object:
    # create_app pulls in starlette and the node runtime; importing the package does not
    if name == "create_app":
        from examples.cart._app import create_app

        return create_app
    raise AttributeError(name)
