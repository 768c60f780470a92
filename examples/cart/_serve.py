"""``python -m examples.cart node``: one cart node (a :class:`sync.Node` plus its HTTP service).

The node and the HTTP server share one asyncio event loop: uvicorn serves the Starlette app while
the node gossips and syncs in the background. SIGINT/SIGTERM stop the HTTP server first (a task
watches for them), then the ``async with Node`` block closes the node (its data is durable already).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import uvicorn

if TYPE_CHECKING:
    from sync import NodeConfig

__all__ = ["NodeArgs", "add_node_arguments", "run_node", "split_hostport"]


def split_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _hostport(text: str) -> str:
    split_hostport(text)
    return text


@dataclass(frozen=True, kw_only=True, slots=True)
class NodeArgs:
    name: str
    http: str  # HOST:PORT the HTTP service listens on
    gossip: str  # HOST:PORT the node binds (UDP + TCP)
    seeds: tuple[str, ...]
    data_dir: Path | None  # None: in memory (lost at exit)
    key_file: Path | None


def add_node_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True, help="this node's name, shown in member lists")
    p.add_argument("--http", required=True, type=_hostport, help="HOST:PORT to serve HTTP on")
    p.add_argument("--gossip", required=True, type=_hostport, help="HOST:PORT for cluster traffic")
    p.add_argument(
        "--seed",
        action="append",
        default=[],
        type=_hostport,
        help="HOST:PORT of a node to join through (repeatable; may be down: joins later)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="SQLite data folder (created); without it the carts live in memory only",
    )
    p.add_argument(
        "--key-file",
        type=Path,
        default=None,
        help="the cluster key (64 hex digits); without it traffic is NOT encrypted",
    )


def node_args(ns: argparse.Namespace) -> NodeArgs:
    return NodeArgs(
        name=ns.name,
        http=ns.http,
        gossip=ns.gossip,
        seeds=tuple(ns.seed),
        data_dir=ns.data_dir,
        key_file=ns.key_file,
    )


def run_node(args: NodeArgs) -> int:
    """Run one node until SIGINT/SIGTERM; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format=f"[{args.name}] %(levelname)s %(message)s")
    if args.key_file is not None and not args.key_file.is_file():
        print(f"error: key file {args.key_file} does not exist", file=sys.stderr)
        return 2
    from sync import SyncError

    try:
        # uvloop: the node and the HTTP server share one loop, and uvloop's is the faster one
        return anyio.run(_serve, args, backend="asyncio", backend_options={"use_uvloop": True})
    except BaseException as exc:
        # a bad config, a data dir in use or of a newer format, ...: one line, not a traceback
        err = _find(exc, SyncError)
        if err is None:
            raise
        print(f"[{args.name}] error: {err}", file=sys.stderr, flush=True)
        return 2


def _find(exc: BaseException, kind: type[Exception]) -> BaseException | None:
    """``exc`` or the first exception of type ``kind`` inside it (task groups wrap errors)."""
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            found = _find(sub, kind)
            if found is not None:
                return found
    return None


class _Stopper:
    """Turns SIGINT/SIGTERM into a clean stop, for the whole life of the process: a second
    signal (Ctrl-C reaches the whole process group, and the demo forwards it too) while the node
    is closing must not cancel the close halfway (asyncio's default handler would)."""

    def __init__(self) -> None:
        self.requested = False
        self.server: uvicorn.Server | None = None

    async def watch(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                self.requested = True
                if self.server is not None:
                    self.server.should_exit = True


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: uvicorn re-raises a caught SIGINT or
    SIGTERM once it has stopped, which would end the process before the node closes."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(args: NodeArgs) -> int:
    from sync import NodeConfig

    config = NodeConfig.local(
        name=args.name,
        bind=args.gossip,
        seeds=args.seeds,
        data_dir=None if args.data_dir is None else str(args.data_dir),
        key_file=None if args.key_file is None else str(args.key_file),
    )
    stopper = _Stopper()
    async with anyio.create_task_group() as tg:
        tg.start_soon(stopper.watch)
        await _run(args, config, stopper)
        tg.cancel_scope.cancel()
    print(f"[{args.name}] stopped", flush=True)
    return 0


async def _run(args: NodeArgs, config: NodeConfig, stopper: _Stopper) -> None:
    from examples.cart._app import create_app
    from sync import Node

    async with Node(config) as node:
        if node.insecure:
            print(
                f"[{args.name}] WARNING: no --key-file: cluster traffic is neither encrypted nor "
                "authenticated; anyone who can reach the gossip port can read and write carts",
                file=sys.stderr,
                flush=True,
            )
        host, port = split_hostport(args.http)
        server = _Server(
            uvicorn.Config(
                create_app(node),
                host=host,
                port=port,
                log_level="warning",
                access_log=False,  # a log line per request costs more than serving a GET
                # the node is reached directly, never through a proxy: no X-Forwarded-* rewriting
                # (a middleware per request otherwise), and no Server header to build
                proxy_headers=False,
                server_header=False,
                lifespan="off",
                timeout_graceful_shutdown=1,  # open event streams (pages) are cut after 1 s
            )
        )
        print(
            f"[{args.name}] serving http://{args.http}/ (gossip {node.address}, "
            f"replica {node.replica_id}, data {args.data_dir or 'in memory'})",
            flush=True,
        )
        stopper.server = server
        if not stopper.requested:  # a signal that came while the node was opening
            await server.serve()
