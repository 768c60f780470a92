"""One HyParView node in its own OS process, for the multi-process loopback test.

``python -m tests.gossip.hyparview._proc_node --backend asyncio|trio [--seed HOST:PORT]``

The node binds 127.0.0.1 on a port the OS picks, runs HyParView over the encrypted TCP transport
(:class:`~gossip.transport.NetTransport`) under the anyio :class:`~gossip.runtime.Host`, joins
through ``--seed`` if given, and reports on stdout, one JSON object a line:

- ``{"kind": "ready", "addr": ..., "pid": ..., "backend": ...}`` once it listens;
- ``{"kind": "view", "addr": ..., "seq": n, "version": v, "active": [...], "passive": [...],
  "failures": ..., "rejoins": ...}`` whenever the active or passive view changes, and at least
  every ``--heartbeat`` seconds. ``version`` counts changes of the active view.

It exits by itself when its stdin reaches end of file (the test process is gone: no orphans) or
after ``--lifetime`` seconds, whichever comes first; the test normally kills it first.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from typing import Any

import anyio

from gossip.hyparview import HyParView, HyParViewConfig
from gossip.runtime import Host
from gossip.transport import Keyring, NetTransport, TransportConfig

KEY = bytes(range(32))
CLUSTER = "hv-proc-test"
CONFIG = HyParViewConfig.local().with_(active_size=4, passive_size=12)


def emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _exit_on_stdin_eof() -> None:
    """The parent holds our stdin open: end of file means it is gone, so we go too."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


async def run(seed: str | None, backend: str, heartbeat: float, lifetime: float) -> None:
    epoch = time.time_ns() // 1_000_000
    async with NetTransport(
        TransportConfig.local(), keyring=Keyring([KEY], cluster=CLUSTER), epoch=epoch
    ) as transport:
        addr = transport.local_addr
        hv = HyParView(addr, rng=random.Random(), config=CONFIG, epoch=epoch)
        async with Host(transport, [hv]) as host:
            emit({"kind": "ready", "addr": addr, "pid": os.getpid(), "backend": backend})
            if seed is not None:
                await host.call(hv, lambda now: hv.join([seed], now))
            last: tuple[frozenset[str], frozenset[str]] | None = None
            version = 0
            seq = 0
            sent_at = 0.0
            with anyio.move_on_after(lifetime):
                while True:
                    views = (hv.active_view, hv.passive_view)
                    now = anyio.current_time()
                    if last is None or views[0] != last[0]:
                        version += 1
                    if views != last or now - sent_at >= heartbeat:
                        seq += 1
                        sent_at = now
                        last = views
                        emit(
                            {
                                "kind": "view",
                                "addr": addr,
                                "seq": seq,
                                "version": version,
                                "active": sorted(views[0]),
                                "passive": sorted(views[1]),
                                "failures": hv.stats.failures,
                                "rejoins": hv.stats.rejoins,
                            }
                        )
                    await anyio.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", default=None, help="HOST:PORT of a member to join through")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--heartbeat", type=float, default=0.5, help="seconds between reports")
    parser.add_argument("--lifetime", type=float, default=120.0, help="seconds before exiting")
    args = parser.parse_args()
    threading.Thread(target=_exit_on_stdin_eof, daemon=True).start()
    anyio.run(run, args.seed, args.backend, args.heartbeat, args.lifetime, backend=args.backend)


if __name__ == "__main__":
    main()
