"""The ``deltamesh`` command (also ``python -m sync``): run a node, ask one for its status, write a
key file.

    deltamesh keygen cluster.key
    deltamesh node --name a --bind 127.0.0.1:7001 --data-dir data/a --key-file cluster.key
    deltamesh node --name b --bind 127.0.0.1:7002 --seed 127.0.0.1:7001 --data-dir data/b \\
        --key-file cluster.key
    deltamesh status 127.0.0.1:7001 --key-file cluster.key
    deltamesh status --data-dir data/a            (offline: reads the data dir, never writes)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deltamesh",
        description="deltamesh cluster node",
        epilog="also: deltamesh doctor (check the installation), deltamesh version",
    )
    sub = p.add_subparsers(dest="command", required=True)
    n = sub.add_parser("node", help="run a node until Ctrl-C (then leave the cluster cleanly)")
    n.add_argument("--name", required=True)
    n.add_argument("--bind", required=True, help="host:port (UDP and TCP)")
    n.add_argument("--advertise", help="host:port peers dial (default: the bound address)")
    n.add_argument("--seed", action="append", default=[], help="host:port of a member (repeat)")
    n.add_argument("--data-dir", help="the node's data dir (default: in memory)")
    n.add_argument("--key-file", help="cluster key file (deltamesh keygen); none: plaintext")
    n.add_argument("--preset", choices=("lan", "wan", "local"), default="lan")
    s = sub.add_parser("status", help="members, views, objects and lag of a node")
    s.add_argument("addr", nargs="?", help="host:port of a running node")
    s.add_argument("--key-file", help="the cluster key (needed to talk to a keyed node)")
    s.add_argument("--data-dir", help="read a data dir instead (offline)")
    s.add_argument("--timeout", type=float, default=5.0)
    s.add_argument("--json", action="store_true", help="print JSON")
    k = sub.add_parser("keygen", help="write a new cluster key file (mode 0600)")
    k.add_argument("file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import anyio

    from gossip import GossipError
    from sync._errors import SyncError

    try:
        if args.command == "keygen":
            from sync._keyfile import write_key_file

            write_key_file(args.file)
            print(f"wrote {args.file} (keep it secret: every holder can join the cluster)")
            return 0
        if args.command == "node":
            return anyio.run(_run_node, args)
        if args.data_dir:
            status = _status_of_dir(args.data_dir)
        elif args.addr:
            status = anyio.run(_status_of_node, args.addr, args.key_file, args.timeout)
        else:
            print("status needs HOST:PORT or --data-dir", file=sys.stderr)
            return 2
        print(json.dumps(status, indent=2, default=str) if args.json else _format(status))
        return 0
    except (SyncError, GossipError) as exc:
        print(f"deltamesh: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print("deltamesh: no answer (wrong key, or nothing listens there?)", file=sys.stderr)
        return 1


async def _run_node(args: argparse.Namespace) -> int:
    import logging
    import signal

    import anyio

    from sync._node import Node
    from sync._node_config import NodeConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    preset = {"lan": NodeConfig.lan, "wan": NodeConfig.wan, "local": NodeConfig.local}
    config = preset[args.preset](
        name=args.name,
        bind=args.bind,
        advertise=args.advertise,
        seeds=tuple(args.seed),
        data_dir=args.data_dir,
        key_file=args.key_file,
    )
    async with Node(config) as node:
        print(f"node {node.name} at {node.address}, replica {node.replica_id}", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                print("leaving the cluster", flush=True)
                break
    return 0


async def _status_of_node(addr: str, key_file: str | None, timeout: float) -> dict[str, Any]:
    """Ask a running node over its own encrypted transport (a throwaway endpoint on loopback or
    an ephemeral port: the node answers on the connection we open)."""
    import anyio

    from gossip.runtime import Host
    from gossip.transport import Keyring, NetTransport, TransportConfig
    from sync._direct import DirectCore, StatusReplied
    from sync._keyfile import read_key_file

    ring = Keyring([read_key_file(key_file)]) if key_file else Keyring.plaintext()
    core = DirectCore()
    got: dict[str, Any] = {}
    done = anyio.Event()

    def on_event(ev: object) -> None:
        if isinstance(ev, StatusReplied):
            got.update(ev.status)
            done.set()

    host_ip = addr.rpartition(":")[0].strip("[]")
    bind = "127.0.0.1" if host_ip.startswith("127.") or host_ip == "localhost" else "0.0.0.0"
    cfg = TransportConfig(host=bind, port=0)
    if bind == "0.0.0.0":
        cfg = TransportConfig(host=bind, port=0)  # advertises the default route's address
    with anyio.fail_after(timeout):
        async with (
            NetTransport(cfg, keyring=ring) as net,
            Host(net, [core], on_event=on_event) as host,
        ):
            await host.call(core, lambda _now: core.status(addr, 1))
            await done.wait()
    return got


def _status_of_dir(path: str) -> dict[str, Any]:
    import crdts
    from sync.storage import META_NAME, META_REPLICA_ID, SQLiteStore

    store = SQLiteStore(path, readonly=True)
    try:
        meta = store.load_meta()
        objects: dict[str, str] = {}
        for n, (key, raw) in enumerate(store.scan()):
            if n >= 50:
                break
            try:
                objects[key] = type(crdts.decode(raw)).__name__
            except Exception as exc:
                objects[key] = f"corrupt: {exc}"
        return {
            "data_dir": path,
            "name": meta.get(META_NAME, b"").decode(errors="replace"),
            "replica_id": meta.get(META_REPLICA_ID, b"").decode(errors="replace"),
            "objects": store.count(),
            "first_objects": objects,
            "corrupt_rows": [str(e) for e in store.corrupt],
        }
    finally:
        store.close()


def _format(status: dict[str, Any]) -> str:
    lines = []
    for key, value in status.items():
        if key == "members":
            lines.append("members:")
            for name, addr, state, inc in value:
                lines.append(f"  {name or '?':<16} {addr:<24} {state:<8} incarnation {inc}")
        elif isinstance(value, dict) and value:
            lines.append(f"{key}:")
            lines.extend(f"  {k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            lines.append(f"{key}: {', '.join(map(str, value)) or '-'}")
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
