"""An offline-first terminal to-do list on deltamesh, in one file: the library quick start.

Run two copies; each works alone, and they sync whenever both are up::

    python -m examples.notes --name laptop --bind 127.0.0.1:7101 --data-dir notes-laptop \\
        --seed 127.0.0.1:7102
    python -m examples.notes --name phone --bind 127.0.0.1:7102 --data-dir notes-phone \\
        --seed 127.0.0.1:7101

The notes are one ``AWLWWMap`` (note id -> text) held by a :class:`sync.Node`: the node keeps it
in SQLite under ``--data-dir``, ships changes to the other copy, and merges what comes back. A note
edited on both sides keeps the later edit; a note deleted on one side and edited on the other
stays (adding wins over a concurrent removal).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import uuid
from pathlib import Path

import anyio

from crdts import AWLWWMap
from sync import Change, Node, NodeConfig

HELP = """commands:
  add TEXT     add a note              done ID    tick it off (ID: its first letters)
  rm ID        delete a note           ls         list the notes
  offline      stop syncing            online     sync again
  peers        who is in the cluster   quit       (or Ctrl-D)"""


def listing(notes: dict[str, str]) -> list[str]:
    rows = sorted(notes.items(), key=lambda kv: (kv[1].startswith("[x]"), kv[1][4:], kv[0]))
    return [f"  {nid}  {text}" for nid, text in rows] + [f"({len(notes)} notes)"]


def find(notes: dict[str, str], prefix: str) -> str | None:
    hits = [nid for nid in notes if prefix and nid.startswith(prefix)]
    return hits[0] if len(hits) == 1 else None


async def repl(node: Node) -> None:
    notes = node.get("notes", AWLWWMap)

    def on_change(change: Change) -> None:
        if change.origin is not None:  # a change that came from another copy
            print(f"~ synced: {len(change.value)} notes", flush=True)

    sub = notes.subscribe(on_change)
    say = print
    say(f"notes on {node.name} ({len(notes.value)} notes); type 'help'", flush=True)
    try:
        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
            if not line:  # end of input
                break
            cmd, _, arg = line.strip().partition(" ")
            arg = arg.strip()
            current: dict[str, str] = notes.value
            if cmd == "add" and arg:
                nid = uuid.uuid4().hex[:6]
                await notes.put(nid, f"[ ] {arg}")
                say(f"added {nid}", flush=True)
            elif cmd in ("done", "rm"):
                hit = find(current, arg)
                if hit is None:
                    say(f"no single note starts with {arg!r}", flush=True)
                elif cmd == "done":
                    await notes.put(hit, "[x]" + current[hit][3:])
                    say(f"done {hit}", flush=True)
                else:
                    await notes.remove(hit)
                    say(f"removed {hit}", flush=True)
            elif cmd == "ls":
                say("\n".join(listing(current)), flush=True)
            elif cmd == "offline":
                await node.go_offline()
                say("offline: notes stay editable here and sync when you go online", flush=True)
            elif cmd == "online":
                await node.go_online()
                say("online", flush=True)
            elif cmd == "peers":
                for m in node.members():
                    say(f"  {m.name:10} {m.addr:22} {m.state}", flush=True)
            elif cmd in ("quit", "exit"):
                break
            elif cmd:
                say(HELP, flush=True)
    finally:
        sub.cancel()


async def main(args: argparse.Namespace) -> None:
    config = NodeConfig.local(
        name=args.name,
        bind=args.bind,
        seeds=tuple(args.seed),
        data_dir=str(args.data_dir),
        key_file=args.key_file,
    )
    async with Node(config) as node:
        await repl(node)


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m examples.notes", description=__doc__.split("\n")[0])
    p.add_argument("--name", required=True, help="this copy's name")
    p.add_argument("--bind", default="127.0.0.1:7101", help="HOST:PORT for sync traffic")
    p.add_argument("--seed", action="append", default=[], help="HOST:PORT of another copy")
    p.add_argument("--data-dir", type=Path, required=True, help="where the notes are kept")
    p.add_argument("--key-file", default=None, help="shared cluster key (else: unencrypted)")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the data is on disk already
        anyio.run(main, p.parse_args())
