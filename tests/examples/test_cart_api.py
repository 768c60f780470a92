"""The cart service's HTTP API against a real 3-process cluster on loopback (examples.cart).

Each node is ``python -m examples.cart node`` with its own SQLite data dir and the cluster key.
Tests wait for convergence with bounded polls (a bound, not a timing claim).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from examples.cart._demo import write_key_file
from examples.cart._procs import NodeProcess, http_json, start_cluster, wait_until

CONVERGE = 30.0  # s: the most a test waits for replication before it fails


def put(node: NodeProcess, user: str, item: str, qty: int) -> dict[str, int]:
    status, doc = http_json("PUT", f"{node.url}/carts/{user}/items/{item}", {"qty": qty})
    assert status == 200, doc
    assert doc["user"] == user
    items: dict[str, int] = doc["items"]
    return items


def delete(node: NodeProcess, user: str, item: str) -> dict[str, int]:
    status, doc = http_json("DELETE", f"{node.url}/carts/{user}/items/{item}")
    assert status == 200, doc
    items: dict[str, int] = doc["items"]
    return items


def converged(nodes: list[NodeProcess], user: str, want: dict[str, int] | None = None) -> bool:
    carts = [n.cart(user) for n in nodes]
    same = all(c == carts[0] for c in carts)
    return same and (want is None or carts[0] == want)


def set_offline(node: NodeProcess, offline: bool) -> None:
    status, doc = http_json("POST", f"{node.url}/admin/{'offline' if offline else 'online'}")
    assert status == 200, doc
    assert doc["offline"] is offline
    assert node.get("/cluster")["offline"] is offline


def test_a_write_on_one_node_reaches_the_others(cluster: list[NodeProcess]) -> None:
    a, b, c = cluster
    assert put(a, "rep", "apple", 2) == {"apple": 2}
    assert put(b, "rep", "pear", 1)["pear"] == 1
    wait_until(lambda: converged(cluster, "rep", {"apple": 2, "pear": 1}), CONVERGE)
    delete(c, "rep", "apple")
    wait_until(lambda: converged(cluster, "rep", {"pear": 1}), CONVERGE)
    # an unknown user has an empty cart
    assert a.get("/carts/nobody-ever") == {"user": "nobody-ever", "items": {}}


def test_cluster_view_and_metrics(cluster: list[NodeProcess]) -> None:
    a, _, _ = cluster
    doc = a.get("/cluster")
    assert doc["name"] == "a"
    assert doc["insecure"] is False  # the cluster key is in use
    assert {m["name"] for m in doc["members"]} == {"a", "b", "c"}
    assert all(set(m) >= {"name", "addr", "state"} for m in doc["members"])
    assert doc["active_view"], "a has sync neighbours"
    assert isinstance(doc["metrics"], dict)
    put(a, "metrics-user", "x", 1)
    with urllib.request.urlopen(a.url + "/metrics", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    assert (
        'cart_http_requests_total{method="PUT",route="/carts/{user}/items/{item}",status="200"}'
        in text
    )
    assert 'deltamesh_members{state="alive"} 3.0' in text
    assert "deltamesh_active_view_size" in text


def test_add_wins_over_a_concurrent_remove_across_an_offline_node(
    cluster: list[NodeProcess],
) -> None:
    a, b, c = cluster
    put(a, "aw", "apple", 1)
    put(a, "aw", "milk", 1)
    wait_until(lambda: converged(cluster, "aw", {"apple": 1, "milk": 1}), CONVERGE)
    set_offline(b, True)
    try:
        delete(a, "aw", "apple")  # removal at A...
        assert put(b, "aw", "apple", 5)["apple"] == 5  # ...and a concurrent re-add at B, offline
        delete(b, "aw", "milk")
        # B really is cut off: A and C agree without it, B keeps its own cart
        wait_until(lambda: a.cart("aw") == c.cart("aw") == {"milk": 1}, CONVERGE)
        assert b.cart("aw") == {"apple": 5}
    finally:
        set_offline(b, False)
    wait_until(lambda: converged(cluster, "aw", {"apple": 5}), CONVERGE, what="add wins")
    wait_until(lambda: all_alive(cluster), CONVERGE, what="b to rejoin")


def all_alive(nodes: list[NodeProcess]) -> bool:
    return all(
        sum(m["state"] == "alive" for m in n.get("/cluster")["members"]) == len(nodes)
        for n in nodes
    )


def test_concurrent_quantity_changes_settle_on_one_value(cluster: list[NodeProcess]) -> None:
    a, b, c = cluster
    put(a, "qty", "pear", 1)
    wait_until(lambda: converged(cluster, "qty", {"pear": 1}), CONVERGE)
    set_offline(b, True)
    try:
        put(a, "qty", "pear", 2)
        put(b, "qty", "pear", 7)
        put(c, "qty", "pear", 3)
    finally:
        set_offline(b, False)
    wait_until(lambda: converged(cluster, "qty"), CONVERGE, what="one quantity everywhere")
    assert a.cart("qty")["pear"] in (2, 3, 7)


def test_kill_9_and_restart_keeps_the_carts_and_converges(cluster: list[NodeProcess]) -> None:
    a, _, c = cluster
    put(a, "k9", "bread", 2)
    wait_until(lambda: converged(cluster, "k9", {"bread": 2}), CONVERGE)
    # a write only C holds (it is cut off), acknowledged, then C dies without a chance to flush
    set_offline(c, True)
    assert put(c, "k9", "jam", 4) == {"bread": 2, "jam": 4}
    c.kill9()
    put(a, "k9", "butter", 1)  # the cluster goes on without C
    c.start()
    c.wait_healthy()
    # jam was only ever on C's disk: if C has it now, it survived the kill there
    assert "jam" in c.cart("k9"), c.log()
    wait_until(lambda: converged(cluster, "k9", {"bread": 2, "jam": 4, "butter": 1}), CONVERGE)
    wait_until(lambda: all_alive(cluster), CONVERGE, what="c to rejoin after restart")


BAD_PUTS: list[tuple[str, bytes, int, str]] = [
    ("apple", b"not json", 400, "invalid_json"),
    ("apple", b"[1, 2]", 400, "invalid_body"),
    ("apple", b'{"qty": 0}', 422, "invalid_qty"),
    ("apple", b'{"qty": -3}', 422, "invalid_qty"),
    ("apple", b'{"qty": 1.5}', 422, "invalid_qty"),
    ("apple", b'{"qty": "2"}', 422, "invalid_qty"),
    ("apple", b'{"qty": true}', 422, "invalid_qty"),
    ("apple", b'{"qty": 10000001}', 422, "invalid_qty"),
    ("apple", b"{}", 422, "invalid_qty"),
    ("apple", b'{"qty": 1, "price": 3}', 422, "invalid_body"),
    ("apple", b'{"qty": 1' + b" " * 2000 + b"}", 413, "body_too_large"),
    ("x" * 65, b'{"qty": 1}', 422, "invalid_item"),
    ("tab%09item", b'{"qty": 1}', 422, "invalid_item"),
]


@pytest.mark.parametrize(("item", "body", "status", "error"), BAD_PUTS)
def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    cluster: list[NodeProcess], item: str, body: bytes, status: int, error: str
) -> None:
    a, _, _ = cluster
    got, doc = http_json("PUT", f"{a.url}/carts/mallory/items/{item}", body)
    assert (got, doc["error"]) == (status, error), doc
    assert doc["detail"]  # a sentence for a person
    assert a.cart("mallory") == {}
    assert "mallory" not in a.get("/carts")["users"]


def test_bad_routes_and_names(cluster: list[NodeProcess]) -> None:
    a, _, _ = cluster
    for method, path, status in [
        ("GET", "/nope", 404),
        ("GET", "/carts/mallory/items", 404),
        ("POST", "/carts/mallory/items/apple", 405),
        ("GET", "/carts/" + "u" * 65, 422),
        ("PUT", "/carts/" + "u" * 65 + "/items/apple", 422),
        ("DELETE", "/carts/mallory/items/" + "i" * 65, 422),
        ("GET", "/admin/offline", 405),
    ]:
        got, doc = http_json(method, a.url + path, b'{"qty": 1}' if method == "PUT" else None)
        assert got == status, (method, path, doc)
        assert isinstance(doc, dict) and doc["error"] and doc["detail"], doc
    assert "u" * 65 not in a.get("/carts")["users"]
    assert a.cart("mallory") == {}


def test_a_node_without_a_key_says_so(tmp_path: Path) -> None:
    (n,) = start_cluster(tmp_path, names=("solo",), key_file=None)
    try:
        assert n.get("/cluster")["insecure"] is True
        assert put(n, "u", "tea", 1) == {"tea": 1}
    finally:
        assert n.stop() == 0  # Ctrl-C is a clean stop
    assert "WARNING: no --key-file" in n.log()


def test_a_node_with_another_key_is_let_in_nowhere(
    cluster: list[NodeProcess], tmp_path: Path
) -> None:
    a, b, _ = cluster
    other_key = tmp_path / "other.key"
    write_key_file(other_key)
    before = a.get("/cluster")["metrics"]["transport"]["dropped"].get("auth", 0)
    (intruder,) = start_cluster(tmp_path, names=("mallory",), key_file=other_key)
    try:
        intruder.seeds = [a.gossip]  # restart it seeded with a member of the cluster
        intruder.stop()
        intruder.start()
        intruder.wait_healthy()
        put(intruder, "intruded", "crowbar", 1)
        # a sees the intruder's packets and drops them as failing authentication...
        wait_until(
            lambda: a.get("/cluster")["metrics"]["transport"]["dropped"].get("auth", 0) > before,
            CONVERGE,
            what="a to drop the intruder's packets",
        )
        # ...while the cluster goes on: a write on a reaches b, and nothing of mallory's does
        put(a, "intruded", "door", 1)
        wait_until(lambda: b.cart("intruded") == {"door": 1}, CONVERGE)
        for n in cluster:
            assert "mallory" not in {m["name"] for m in n.get("/cluster")["members"]}
            assert "crowbar" not in n.cart("intruded")
        assert {m["name"] for m in intruder.get("/cluster")["members"]} == {"mallory"}
    finally:
        intruder.stop()


def test_demo_starts_three_nodes_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    from examples.cart._procs import free_port

    http0 = free_port()
    gossip0 = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "examples.cart",
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--http-port",
            str(http0),
            "--gossip-port",
            str(gossip0),
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so a failed test can stop the demo and its nodes together
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:  # the demo prints its banner once every node answers
            lines.append(line)
            if "Ctrl-C stops the cluster" in line:
                break
        text = "".join(lines)
        assert "The cart cluster is up" in text, text
        for i in range(3):
            assert f"http://127.0.0.1:{http0 + i}/" in text
        key = (tmp_path / "demo" / "cluster.key").read_text()
        assert len(next(ln for ln in key.splitlines() if ln and not ln.startswith("#"))) == 64
        status, doc = http_json("PUT", f"http://127.0.0.1:{http0}/carts/demo/items/tea", {"qty": 1})
        assert status == 200
        wait_until(
            lambda: (
                http_json("GET", f"http://127.0.0.1:{http0 + 2}/carts/demo")[1]["items"]
                == {"tea": 1}
            ),
            CONVERGE,
        )
        status, doc = http_json("GET", f"http://127.0.0.1:{http0 + 1}/cluster")
        assert doc["insecure"] is False
        proc.send_signal(signal.SIGINT)  # as Ctrl-C
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, rest
        assert "stopped." in rest
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
