"""The cart service's HTTP face: a Starlette app over one :class:`sync.Node`.

A cart is one ``AWLWWMap`` object per user, named ``cart:<user>``, from item to quantity: a
concurrent add and remove of one item resolve to the add, and the last write wins for a quantity.
Every route validates first (:mod:`examples.cart._validation`) and only then touches the node, so
bad input never writes. Everything the service knows about replication it asks the node; the app
itself keeps only what a web service must (HTTP metrics).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from importlib import resources
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from crdts import AWLWWMap
from examples.cart._metrics import CartMetrics
from examples.cart._validation import MAX_BODY_BYTES, RequestError, check_name, parse_qty_body

if TYPE_CHECKING:
    from sync import MapHandle, Node

__all__ = ["CART_PREFIX", "SSE_CLUSTER_INTERVAL", "cart_key", "create_app"]

CART_PREFIX = "cart:"
SSE_CLUSTER_INTERVAL = 1.0  # s between member snapshots pushed to an open page
MAX_LISTED_USERS = 1000  # GET /carts lists the first users (in name order) and the total
MAX_CACHED_HANDLES = 10_000  # cart handles kept between requests (see _Service._handle)


def cart_key(user: str) -> str:
    return CART_PREFIX + user


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _error(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail, "status": status}, status_code=status)


class _Service:
    """The routes, bound to one node."""

    def __init__(self, node: Node, metrics: CartMetrics) -> None:
        self.node = node
        self.metrics = metrics
        self._handles: dict[str, MapHandle] = {}  # user -> the handle of their cart
        self.page = (resources.files("examples.cart") / "static" / "index.html").read_text("utf-8")

    # -- carts -----------------------------------------------------------------------------------

    def _handle(self, user: str) -> MapHandle:
        """The cart's handle, made once per user: ``node.get`` checks the name and the type on
        every call, a visible share of a request's cost. A handle holds no state (it reads the
        live object each time, and checks its type again), so keeping it changes nothing."""
        handle = self._handles.get(user)
        if handle is None:
            if len(self._handles) >= MAX_CACHED_HANDLES:
                self._handles.clear()  # many users: start over rather than grow without bound
            handle = self._handles[user] = self.node.get(cart_key(user), AWLWWMap)
        return handle

    def _cart(self, user: str) -> dict[str, Any]:
        return {"user": user, "items": dict(sorted(self._handle(user).value.items()))}

    async def get_cart(self, request: Request) -> Response:
        user = check_name("user", request.path_params["user"])
        return JSONResponse(self._cart(user))

    async def put_item(self, request: Request) -> Response:
        user = check_name("user", request.path_params["user"])
        item = check_name("item", request.path_params["item"])
        qty = parse_qty_body(await _read_body(request))
        await self._handle(user).put(item, qty)
        return JSONResponse(self._cart(user))

    async def delete_item(self, request: Request) -> Response:
        user = check_name("user", request.path_params["user"])
        item = check_name("item", request.path_params["item"])
        # removing an item that is not there is not an error: the cart ends without it either way
        # (and a remove that crosses a concurrent add on another node loses to it)
        await self._handle(user).remove(item)
        return JSONResponse(self._cart(user))

    async def list_carts(self, request: Request) -> Response:
        keys = self.node.keys(prefix=CART_PREFIX)
        users = [k[len(CART_PREFIX) :] for k in keys[:MAX_LISTED_USERS]]
        return JSONResponse({"users": users, "total": len(keys)})

    # -- cluster ---------------------------------------------------------------------------------

    def cluster(self) -> dict[str, Any]:
        node = self.node
        members = sorted(node.members(), key=lambda m: (m.name, m.addr))
        return {
            "name": node.name,
            "replica_id": node.replica_id,
            "address": node.address,
            "insecure": node.insecure,
            "offline": node.offline,
            "members": [
                {"name": m.name, "addr": m.addr, "state": m.state, "incarnation": m.incarnation}
                for m in members
            ],
            "active_view": sorted(node.active_view),
            "passive_view": sorted(node.passive_view),
            "metrics": _jsonable(node.metrics()),
        }

    async def get_cluster(self, request: Request) -> Response:
        return JSONResponse(self.cluster())

    async def go_offline(self, request: Request) -> Response:
        await self.node.go_offline()
        return JSONResponse({"name": self.node.name, "offline": self.node.offline})

    async def go_online(self, request: Request) -> Response:
        await self.node.go_online()
        return JSONResponse({"name": self.node.name, "offline": self.node.offline})

    async def get_metrics(self, request: Request) -> Response:
        body, content_type = self.metrics.render(self.node)
        return Response(body, media_type=content_type)

    async def get_health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "name": self.node.name})

    # -- the page and its live feed --------------------------------------------------------------

    async def get_page(self, request: Request) -> Response:
        return HTMLResponse(self.page)

    async def events(self, request: Request) -> Response:
        """Server-sent events for the page: ``cart`` (the whole cart of ``?user=``, at once and on
        every change from any node) and ``cluster`` (a member snapshot every second)."""
        user = check_name("user", request.query_params.get("user", ""))
        return StreamingResponse(
            self._event_stream(user),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _event_stream(self, user: str) -> AsyncIterator[str]:
        handle = self._handle(user)
        changed = anyio.Event()

        def on_change(_change: object) -> None:
            changed.set()

        sub = handle.subscribe(on_change)
        try:
            yield _sse("cart", self._cart(user))
            yield _sse("cluster", self.cluster())
            next_cluster = time.monotonic() + SSE_CLUSTER_INTERVAL
            while True:
                with anyio.move_on_after(max(0.0, next_cluster - time.monotonic())):
                    await changed.wait()
                if changed.is_set():
                    # several changes in a burst become one event carrying the latest cart
                    changed = anyio.Event()
                    yield _sse("cart", self._cart(user))
                if time.monotonic() >= next_cluster:
                    yield _sse("cluster", self.cluster())
                    next_cluster = time.monotonic() + SSE_CLUSTER_INTERVAL
        finally:
            sub.cancel()


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _jsonable(x: Any) -> Any:
    """``node.metrics()`` as JSON: mappings and sequences kept, anything else as a string."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple | set | frozenset):
        return [_jsonable(v) for v in x]
    if x is None or isinstance(x, bool | int | float | str):
        return x
    return str(x)


async def _read_body(request: Request) -> bytes:
    """The body, refused as soon as it grows past the cap (a huge body is never buffered)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return _error(exc.status, exc.error, exc.detail)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error(404, "not_found", f"no route {request.method} {request.url.path}")
    if exc.status_code == 405:
        return _error(405, "method_not_allowed", f"{request.method} is not allowed here")
    return _error(exc.status_code, "http_error", str(exc.detail))


class _RequestMetrics:
    """Counts every request by method, route template and status (an ASGI middleware, so it
    also sees the 404s that never reach a route)."""

    def __init__(self, app: ASGIApp, metrics: CartMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.observe_request(scope["method"], path, status, time.perf_counter() - start)


def create_app(node: Node) -> Starlette:
    """The cart service for ``node`` (which the caller opened and will close)."""
    metrics = CartMetrics()
    svc = _Service(node, metrics)
    routes = [
        Route("/", svc.get_page, methods=["GET"]),
        Route("/health", svc.get_health, methods=["GET"]),
        Route("/carts", svc.list_carts, methods=["GET"]),
        Route("/carts/{user}", svc.get_cart, methods=["GET"]),
        Route("/carts/{user}/items/{item}", svc.put_item, methods=["PUT"]),
        Route("/carts/{user}/items/{item}", svc.delete_item, methods=["DELETE"]),
        Route("/cluster", svc.get_cluster, methods=["GET"]),
        Route("/admin/offline", svc.go_offline, methods=["POST"]),
        Route("/admin/online", svc.go_online, methods=["POST"]),
        Route("/metrics", svc.get_metrics, methods=["GET"]),
        Route("/events", svc.events, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={RequestError: _bad_request, HTTPException: _http_error},
    )
    app.state.service = svc
    app.add_middleware(_RequestMetrics, metrics=metrics)
    return app
