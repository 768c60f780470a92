"""Five OS processes on loopback with the cluster key (issue 10): concurrent writes at every node,
kill -9 of one mid-stream, restart on its data dir; after quiescence every node holds every
acknowledged write and all are equal.

Bounded and load-tolerant: every wait polls with a generous deadline; nothing asserts a time.
"""

from __future__ import annotations

from pathlib import Path

from tests.sync.node._runner import NodeProcess, converged, wait_for, write_key_file

WRITES = 150  # per node and batch
PAUSE = 0.01  # s between one node's writes: the kill lands mid-stream


def test_five_processes_kill9_restart_converge(tmp_path: Path) -> None:
    key = write_key_file(tmp_path / "cluster.key")
    logs = tmp_path / "logs"

    def start(name: str, bind: str, seeds: list[str]) -> NodeProcess:
        p = NodeProcess(
            name,
            bind=bind,
            seeds=seeds,
            data_dir=tmp_path / name,
            key_file=key,
            log_dir=logs,
        )
        procs[name] = p
        started.append(p)
        p.wait_started()
        return p

    procs: dict[str, NodeProcess] = {}  # the current process of each node
    started: list[NodeProcess] = []
    try:
        seed = start("n0", "127.0.0.1:0", []).addr
        for i in range(1, 5):
            start(f"n{i}", "127.0.0.1:0", [seed])
        wait_for(lambda: all(p.members() == 5 for p in procs.values()), 40, "5 members seen by all")

        for name, p in procs.items():
            p.send(f"write {name}-a {WRITES} {PAUSE}")
        victim = procs["n2"]
        wait_for(lambda: len(victim.acks) >= WRITES // 3, 40, "n2 a third into its writes")
        victim.kill9()  # mid-stream: some of its writes acknowledged, the rest never made
        acked_before_kill = set(victim.acks)
        assert 0 < len(acked_before_kill) < WRITES

        # Back on the same address and data dir: same replica, its acknowledged writes kept.
        again = start("n2", victim.addr, [seed])
        assert again.addr == victim.addr
        again.send(f"write n2-b {WRITES // 3} {PAUSE}")

        writers = [(procs[n], f"{n}-a") for n in ("n0", "n1", "n3", "n4")] + [(again, "n2-b")]
        wait_for(lambda: all(tag in p.done for p, tag in writers), 60, "every write batch done")
        acked = acked_before_kill | {k for p in procs.values() for k in p.acks}
        assert len(acked) >= 4 * WRITES + WRITES // 3 + len(acked_before_kill)

        wait_for(lambda: converged(list(procs.values()), acked), 45, "convergence", step=0.5)
        _, keys = again.state()
        assert acked_before_kill <= keys  # what n2 acknowledged survived kill -9
    finally:
        for p in started:
            p.stop()
