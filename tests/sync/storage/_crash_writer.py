"""A child process for the kill -9 tests: concurrent writers through a GroupCommitter on an
SQLiteStore; each writer prints ``key version`` once ``wait_durable`` returned (acknowledged).

Run as ``python -m tests.sync.storage._crash_writer DATA_DIR BACKEND WRITERS``; it writes until
killed (each writer bounded to 100,000 writes)."""

from __future__ import annotations

import sys

import anyio

from sync.storage import GroupCommitter, load_objects, open_data_dir


async def main(path: str, writers: int) -> None:
    store, _info = open_data_dir(path, "crash")
    # carry on from what the last (killed) incarnation left on disk
    versions: dict[str, int] = load_objects(store, lambda b: int(b.decode())).objects

    def encode(key: str) -> bytes:
        return str(versions[key]).encode()

    out = sys.stdout
    async with GroupCommitter(store, encode, lambda: {"hlc": b"%d" % sum(versions.values())}) as gc:

        async def writer(w: int) -> None:
            for i in range(100_000):
                key = f"w{w}:{i % 7}"  # overwrites: the stored version must never go back
                versions[key] = versions.get(key, 0) + 1
                v = versions[key]
                gc.mark(key)
                await gc.wait_durable()
                out.write(f"{key} {v}\n")
                out.flush()

        async with anyio.create_task_group() as tg:
            for w in range(writers):
                tg.start_soon(writer, w)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], int(sys.argv[3]), backend=sys.argv[2])
