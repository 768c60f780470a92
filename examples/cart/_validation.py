"""What the cart service accepts from a client, checked before anything is written.

Every check raises :class:`RequestError` with an HTTP status and a message meant for a person; the
app turns it into a JSON 4xx. Nothing here touches the node, so a rejected request has written
nothing by construction.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_NAME_CHARS",
    "MAX_QTY",
    "RequestError",
    "check_name",
    "parse_qty_body",
]

MAX_NAME_CHARS = 64  # user and item names; one cart object per user, one map key per item
MAX_QTY = 1_000_000  # a quantity above this is a typo, not a cart
MAX_BODY_BYTES = 1024  # a PUT body is {"qty": N}: anything longer is not one


class RequestError(Exception):
    """A request the service refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error  # a short machine-readable code, e.g. "invalid_qty"
        self.detail = detail  # the sentence a person reads


def check_name(kind: str, name: str) -> str:
    """``name`` (a user or an item) if it is a usable name, else :class:`RequestError`.

    Names are 1..``MAX_NAME_CHARS`` characters without control characters, and are used as they
    are (no case folding), so ``Apple`` and ``apple`` are two items.
    """
    if not name:
        raise RequestError(422, f"invalid_{kind}", f"the {kind} name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise RequestError(
            422,
            f"invalid_{kind}",
            f"the {kind} name has {len(name)} characters; at most {MAX_NAME_CHARS} are allowed",
        )
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise RequestError(
            422, f"invalid_{kind}", f"the {kind} name contains a control or unassigned character"
        )
    return name


def parse_qty_body(body: bytes) -> int:
    """The quantity of a ``PUT`` body ``{"qty": N}`` (an int, 1 <= N <= ``MAX_QTY``)."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(
            413, "body_too_large", f"the body has {len(body)} bytes; at most {MAX_BODY_BYTES}"
        )
    try:
        doc: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, "invalid_json", 'the body is not JSON; send {"qty": N}') from None
    if not isinstance(doc, dict):
        raise RequestError(400, "invalid_body", 'the body must be a JSON object {"qty": N}')
    extra = sorted(set(doc) - {"qty"})
    if extra:
        raise RequestError(422, "invalid_body", f"unknown field(s) {extra}; send only qty")
    if "qty" not in doc:
        raise RequestError(422, "invalid_qty", 'the body has no "qty"')
    qty = doc["qty"]
    # bool is an int subclass in Python; JSON true is not a quantity
    if not isinstance(qty, int) or isinstance(qty, bool):
        raise RequestError(422, "invalid_qty", f"qty must be an integer, not {json.dumps(qty)}")
    if not 1 <= qty <= MAX_QTY:
        raise RequestError(
            422, "invalid_qty", f"qty must be between 1 and {MAX_QTY} (got {qty}); DELETE removes"
        )
    return qty
