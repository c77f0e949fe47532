"""``metrics.k8s.io/v1beta1``: PodMetrics and NodeMetrics fed by the simulation.

In a real cluster metrics-server serves this group behind an APIService, from kubelet
summaries. The embedded cluster's kubelet model calls :meth:`MetricsBoard.set_pod` /
:meth:`MetricsBoard.set_node` instead, and the API server serves the latest values read-only
(GET and LIST, ``labelSelector`` against the pod's or node's current labels; no watch, as
metrics-server).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from podscaler.sim.apiserver.store import Obj, rfc3339

Usage = Mapping[str, str]


class MetricsBoard:
    """The latest usage sample per pod and node."""

    def __init__(self, now: Callable[[], datetime], window_seconds: int = 30) -> None:
        self._now = now
        self.window_seconds = window_seconds
        self.pods: dict[tuple[str, str], tuple[str, list[dict[str, Any]]]] = {}
        self.nodes: dict[str, tuple[str, dict[str, str]]] = {}

    def set_pod(self, namespace: str, name: str, containers: Mapping[str, Usage]) -> None:
        stamp = rfc3339(self._now())
        self.pods[(namespace, name)] = (
            stamp,
            [{"name": c, "usage": dict(usage)} for c, usage in containers.items()],
        )

    def clear_pod(self, namespace: str, name: str) -> None:
        self.pods.pop((namespace, name), None)

    def set_node(self, name: str, usage: Usage) -> None:
        self.nodes[name] = (rfc3339(self._now()), dict(usage))

    def clear_node(self, name: str) -> None:
        self.nodes.pop(name, None)

    def pod_metrics(
        self, namespace: str, name: str, labels: Mapping[str, str] | None
    ) -> Obj | None:
        found = self.pods.get((namespace, name))
        if found is None:
            return None
        stamp, containers = found
        meta: dict[str, Any] = {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": rfc3339(self._now()),
        }
        if labels:
            meta["labels"] = dict(labels)
        return {
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": meta,
            "timestamp": stamp,
            "window": f"{self.window_seconds}s",
            "containers": containers,
        }

    def node_metrics(self, name: str, labels: Mapping[str, str] | None) -> Obj | None:
        found = self.nodes.get(name)
        if found is None:
            return None
        stamp, usage = found
        meta: dict[str, Any] = {"name": name, "creationTimestamp": rfc3339(self._now())}
        if labels:
            meta["labels"] = dict(labels)
        return {
            "kind": "NodeMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": meta,
            "timestamp": stamp,
            "window": f"{self.window_seconds}s",
            "usage": usage,
        }
