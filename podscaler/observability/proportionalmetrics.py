"""The ProportionalScaler controller's Prometheus metrics (``podscaler_proportionalscaler_*``).

Cluster-proportional-autoscaler exports no metrics of its own; these say what a platform team
asks of it: what each scaler decided and from which cluster size, whether the target follows,
and whether its parameters are in force. On the operator's registry (``/metrics``).

Labels are bounded: per scaler (namespace, name — for CPA's ``--target`` flags the name is
``--target KIND/NAME``), and a fixed set of outcomes and problem kinds.
"""

from __future__ import annotations

import contextlib
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["PROBLEMS", "ProportionalMetrics"]

#: What can keep a scaler from its decision: its parameters, or its target.
PROBLEMS: Final = ("parameters", "target")


class ProportionalMetrics:
    """Every ``podscaler_proportionalscaler_*`` metric, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        obj = ("namespace", "proportionalscaler")
        self.desired_replicas = Gauge(
            "podscaler_proportionalscaler_desired_replicas",
            "Replicas the scaler decided at its last decision.",
            obj,
            registry=r,
        )
        self.cluster_nodes = Gauge(
            "podscaler_proportionalscaler_cluster_nodes",
            "Nodes the scaler's last decision counted (its node selector, schedulable unless "
            "includeUnschedulableNodes).",
            obj,
            registry=r,
        )
        self.cluster_cores = Gauge(
            "podscaler_proportionalscaler_cluster_cores",
            "CPU cores the scaler's last decision counted.",
            obj,
            registry=r,
        )
        self.problem = Gauge(
            "podscaler_proportionalscaler_problem",
            "Whether the scaler has a problem of this kind (1) or not (0): refused parameters "
            "(the last good ones stay in force) or a target it cannot scale.",
            (*obj, "kind"),
            registry=r,
        )
        self.scale_updates = Counter(
            "podscaler_proportionalscaler_scale_updates",
            "Checks of the target's /scale against the decision (read, and written when it "
            "differs), by outcome (success, error).",
            (*obj, "outcome"),
            registry=r,
        )
        self.decisions = Counter(
            "podscaler_proportionalscaler_decisions",
            "Decisions made (one per node-count change, parameter change or resync).",
            obj,
            registry=r,
        )

    def decided(self, namespace: str, name: str, *, replicas: int, nodes: int, cores: int) -> None:
        self.decisions.labels(namespace, name).inc()
        self.desired_replicas.labels(namespace, name).set(replicas)
        self.cluster_nodes.labels(namespace, name).set(nodes)
        self.cluster_cores.labels(namespace, name).set(cores)

    def problems(self, namespace: str, name: str, *, parameters: bool, target: bool) -> None:
        self.problem.labels(namespace, name, "parameters").set(1 if parameters else 0)
        self.problem.labels(namespace, name, "target").set(1 if target else 0)

    def scale_update(self, namespace: str, name: str, *, ok: bool) -> None:
        self.scale_updates.labels(namespace, name, "success" if ok else "error").inc()

    def forget(self, namespace: str, name: str) -> None:
        """Remove a deleted scaler's series."""
        for gauge in (self.desired_replicas, self.cluster_nodes, self.cluster_cores):
            with contextlib.suppress(KeyError):
                gauge.remove(namespace, name)
        with contextlib.suppress(KeyError):
            self.decisions.remove(namespace, name)
        for kind in PROBLEMS:
            with contextlib.suppress(KeyError):
                self.problem.remove(namespace, name, kind)
        for outcome in ("success", "error"):
            with contextlib.suppress(KeyError):
                self.scale_updates.remove(namespace, name, outcome)
