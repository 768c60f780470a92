"""``GET /metrics``: the service's Prometheus metrics (``prometheus_client``).

HTTP requests are counted as they happen; the node's figures (members by state, sync traffic,
pending deltas) are read from :meth:`sync.Node.metrics` and :meth:`sync.Node.members` at scrape
time by a custom collector, so nothing is copied between scrapes. Each app has its own registry, so
several nodes in one process (tests) never share counters.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client import Metric

    from sync import Node

__all__ = ["MEMBER_STATES", "CartMetrics"]

MEMBER_STATES = ("alive", "suspect", "dead", "left")


class _NodeCollector(Collector):
    def __init__(self) -> None:
        self.node: Node | None = None

    def collect(self) -> Iterator[Metric]:
        node = self.node
        if node is None:
            return
        states: Tally[str] = Tally(m.state for m in node.members())
        members = GaugeMetricFamily(
            "deltamesh_members",
            "Cluster members known to this node, by SWIM state",
            labels=["state"],
        )
        for state in MEMBER_STATES:
            members.add_metric([state], states.get(state, 0))
        yield members
        yield GaugeMetricFamily(
            "deltamesh_active_view_size",
            "Sync neighbours (HyParView active view)",
            value=len(node.active_view),
        )
        yield GaugeMetricFamily(
            "deltamesh_offline",
            "1 while this node is cut off by POST /admin/offline",
            value=1 if node.offline else 0,
        )
        # the node's own figures, whatever they are: every number becomes a gauge named after its
        # path in node.metrics() (deltamesh_node_<key>[_<subkey>...]), peers as a label
        for name, samples in _flatten(node.metrics()).items():
            label_names = sorted(samples[0][0])
            g = GaugeMetricFamily(
                "deltamesh_node_" + name, f"sync.Node.metrics(): {name}", labels=label_names
            )
            seen: set[tuple[str, ...]] = set()
            for labels, value in samples:
                key = (
                    tuple(labels[k] for k in label_names) if sorted(labels) == label_names else None
                )
                if key is not None and key not in seen:  # one label set, each sample once
                    seen.add(key)
                    g.add_metric(list(key), value)
            yield g


def _clean(key: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in key).strip("_").lower() or "x"


def _flatten(m: Mapping[str, Any]) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every number in ``m`` by metric name, with its labels; a mapping whose keys are peer
    addresses (they contain ':') gives one sample per peer, labelled ``peer``."""
    grouped: dict[str, list[tuple[dict[str, str], float]]] = {}

    def walk(x: Any, name: str, labels: dict[str, str]) -> None:
        if isinstance(x, bool | int | float):
            grouped.setdefault(name or "value", []).append((labels, float(x)))
        elif isinstance(x, Mapping):
            for k, v in x.items():
                k = str(k)
                if ":" in k:  # a peer address
                    walk(v, name, {**labels, "peer": k})
                else:
                    walk(v, f"{name}_{_clean(k)}" if name else _clean(k), labels)

    walk(m, "", {})
    return grouped


class CartMetrics:
    """The registry of one cart service."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series only double the page
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "cart_http_requests",
            "HTTP requests served, by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cart_http_request_duration_seconds",
            "Time to serve an HTTP request (s), by route",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram | None]] = {}
        self._node = _NodeCollector()
        self.registry.register(self._node)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        # the labelled children are looked up once per (method, route, status), not per request:
        # ``labels()`` validates and locks each time, a visible cost at a few thousand requests/s
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            count = self.requests.labels(method, route, str(status))
            # a page's event stream stays open for minutes: counted, not timed
            timing = None if route == "/events" else self.latency.labels(route)
            child = self._children[key] = (count, timing)
        child[0].inc()
        if child[1] is not None:
            child[1].observe(seconds)

    def render(self, node: Node) -> tuple[bytes, str]:
        self._node.node = node
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
