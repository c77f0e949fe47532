"""The node autoscaler's Prometheus metrics, under Cluster Autoscaler's names.

Dashboards and alerts written for Cluster Autoscaler query ``cluster_autoscaler_*`` series
(``proposals/metrics.md``, ``metrics/metrics.go``; reference/cluster-autoscaler.md §5.3), so
the node autoscaler reports the same names, types and labels, on the operator's registry
(served at ``/metrics`` on the metrics port):

* cluster state: ``cluster_safe_to_autoscale``, ``nodes_count{state}``,
  ``node_groups_count{node_group_type}``, ``unschedulable_pods_count{type}``,
  ``max_nodes_count``, ``cluster_cpu_current_cores``, ``cluster_memory_current_bytes``,
  ``cpu_limits_cores{direction}``, ``memory_limits_bytes{direction}``;
* per node group, with ``--emit-per-nodegroup-metrics``: ``node_group_min_count``,
  ``node_group_max_count``, ``node_group_target_count``, ``node_group_healthiness``; always:
  ``node_group_backoff_status{node_group,reason}``;
* activity: ``last_activity{activity}`` (Unix seconds), ``function_duration_seconds{function}``;
* results: ``scaled_up_nodes_total``, ``failed_scale_ups_total{reason}``,
  ``scaled_down_nodes_total{reason}``, ``evicted_pods_total{eviction_result}``,
  ``errors_total{type}``, ``unneeded_nodes_count``, ``unremovable_nodes_count{reason}``,
  ``scale_down_in_cooldown``, ``pending_node_deletions``,
  ``skipped_scale_events_count{direction,reason}``.

One deliberate difference: ``function_duration_seconds`` has 30 buckets from 1 ms to 30 min
instead of CA's 150 from 0.1 s — a podscaler loop takes milliseconds, where CA's first
bucket would hold every observation. ``histogram_quantile`` reads either layout. CA's
``function_duration_quantile_seconds`` summary is not exported (prometheus_client summaries
carry no quantiles).

Labels are bounded: function names, node states and reasons are fixed sets; node group
labels appear only with ``--emit-per-nodegroup-metrics`` or for a group in backoff.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["FUNCTIONS", "NODE_STATES", "NodeAutoscalerMetrics"]

PREFIX: Final = "cluster_autoscaler_"

#: CA's ``function`` label values that this loop measures.
FUNCTIONS: Final = (
    "main",
    "mainSuccessful",
    "updateClusterState",
    "cloudProviderRefresh",
    "scaleUp",
    "findUnneeded",
    "scaleDown",
    "scaleDown:nodeDeletion",
    "autoscaling",
)

#: CA's ``nodes_count`` states.
NODE_STATES: Final = (
    "ready",
    "unready",
    "notStarted",
    "longUnregistered",
    "unregistered",
)

#: 1 ms to 30 min, factor ~1.8 per bucket.
_DURATION_BUCKETS: Final = tuple(round(0.001 * 1.78**i, 6) for i in range(30))

_GPU_LABELS: Final = ("gpu_resource_name", "gpu_name")


class NodeAutoscalerMetrics:
    """Every ``cluster_autoscaler_*`` metric, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        p = PREFIX
        self.cluster_safe_to_autoscale = Gauge(
            p + "cluster_safe_to_autoscale",
            "Whether the cluster is healthy enough for autoscaling (1) or not (0).",
            registry=r,
        )
        self.nodes_count = Gauge(
            p + "nodes_count", "Number of nodes in the cluster, by state.", ("state",), registry=r
        )
        self.node_groups_count = Gauge(
            p + "node_groups_count",
            "Number of node groups managed by the node autoscaler.",
            ("node_group_type",),
            registry=r,
        )
        self.unschedulable_pods_count = Gauge(
            p + "unschedulable_pods_count",
            "Number of unschedulable pods in the cluster.",
            ("type",),
            registry=r,
        )
        self.max_nodes_count = Gauge(
            p + "max_nodes_count", "Maximum number of nodes in all node groups.", registry=r
        )
        self.cluster_cpu_current_cores = Gauge(
            p + "cluster_cpu_current_cores", "Current number of cores in the cluster.", registry=r
        )
        self.cluster_memory_current_bytes = Gauge(
            p + "cluster_memory_current_bytes",
            "Current number of bytes of memory in the cluster.",
            registry=r,
        )
        self.cpu_limits_cores = Gauge(
            p + "cpu_limits_cores",
            "Minimum and maximum number of cores in the cluster.",
            ("direction",),
            registry=r,
        )
        self.memory_limits_bytes = Gauge(
            p + "memory_limits_bytes",
            "Minimum and maximum number of bytes of memory in the cluster.",
            ("direction",),
            registry=r,
        )
        self.node_group_min_count = Gauge(
            p + "node_group_min_count",
            "Minimum number of nodes in the node group.",
            ("node_group",),
            registry=r,
        )
        self.node_group_max_count = Gauge(
            p + "node_group_max_count",
            "Maximum number of nodes in the node group.",
            ("node_group",),
            registry=r,
        )
        self.node_group_target_count = Gauge(
            p + "node_group_target_count",
            "Target number of nodes in the node group.",
            ("node_group",),
            registry=r,
        )
        self.node_group_healthiness = Gauge(
            p + "node_group_healthiness",
            "Whether the node group is healthy enough for autoscaling (1) or not (0).",
            ("node_group",),
            registry=r,
        )
        self.node_group_backoff_status = Gauge(
            p + "node_group_backoff_status",
            "Whether the node group is backed off after a failed scale-up (1) or not (0).",
            ("node_group", "reason"),
            registry=r,
        )
        self.last_activity = Gauge(
            p + "last_activity",
            "Last time certain part of the node autoscaler logic executed (Unix seconds).",
            ("activity",),
            registry=r,
        )
        self.function_duration_seconds = Histogram(
            p + "function_duration_seconds",
            "Time taken by various parts of the node autoscaler's main loop.",
            ("function",),
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.pending_node_deletions = Gauge(
            p + "pending_node_deletions",
            "Number of nodes whose deletion is in progress.",
            registry=r,
        )
        self.errors_total = Counter(
            p + "errors_total",
            "The number of node autoscaler loops that ended in an error, by type.",
            ("type",),
            registry=r,
        )
        self.scaled_up_nodes_total = Counter(
            p + "scaled_up_nodes_total",
            "Number of nodes added by the node autoscaler.",
            _GPU_LABELS,
            registry=r,
        )
        self.failed_scale_ups_total = Counter(
            p + "failed_scale_ups_total",
            "Number of times scale-up operation has failed.",
            ("reason", *_GPU_LABELS),
            registry=r,
        )
        self.scaled_down_nodes_total = Counter(
            p + "scaled_down_nodes_total",
            "Number of nodes removed by the node autoscaler.",
            ("reason", *_GPU_LABELS),
            registry=r,
        )
        self.evicted_pods_total = Counter(
            p + "evicted_pods_total",
            "Number of pods evicted by the node autoscaler during scale-down.",
            ("eviction_result",),
            registry=r,
        )
        self.unneeded_nodes_count = Gauge(
            p + "unneeded_nodes_count",
            "Number of nodes currently considered unneeded by the node autoscaler.",
            registry=r,
        )
        self.unremovable_nodes_count = Gauge(
            p + "unremovable_nodes_count",
            "Number of nodes currently considered unremovable, by reason.",
            ("reason",),
            registry=r,
        )
        self.scale_down_in_cooldown = Gauge(
            p + "scale_down_in_cooldown",
            "Whether the node autoscaler's scale-down is in cooldown (1) or not (0).",
            registry=r,
        )
        self.skipped_scale_events_count = Counter(
            p + "skipped_scale_events_count",
            "Count of scaling events the node autoscaler skipped because of resource limits.",
            ("direction", "reason"),
            registry=r,
        )
        self.max_nodes_count.set(0)
        self.scale_down_in_cooldown.set(0)
        self.pending_node_deletions.set(0)
        self._backoff_groups: set[tuple[str, str]] = set()
        self._group_series: set[str] = set()
        self._unremovable_reasons: set[str] = set()

    def observe(self, function: str, seconds: float) -> None:
        self.function_duration_seconds.labels(function=function).observe(seconds)

    def set_nodes(self, counts: dict[str, int]) -> None:
        for state in NODE_STATES:
            self.nodes_count.labels(state=state).set(counts.get(state, 0))

    def set_backoffs(self, backed_off: dict[str, str]) -> None:
        """``backed_off`` maps node groups in backoff to their error code; others go to 0."""
        current = set(backed_off.items())
        for group, reason in self._backoff_groups - current:
            self.node_group_backoff_status.labels(node_group=group, reason=reason).set(0)
        for group, reason in current:
            self.node_group_backoff_status.labels(node_group=group, reason=reason).set(1)
        self._backoff_groups |= current

    def set_groups(self, groups: dict[str, tuple[int, int, int, bool]]) -> None:
        """Per-group (min, max, target, healthy) series (``--emit-per-nodegroup-metrics``);
        series of groups that are gone are removed."""
        for gone in self._group_series - set(groups):
            for gauge in (
                self.node_group_min_count,
                self.node_group_max_count,
                self.node_group_target_count,
                self.node_group_healthiness,
            ):
                gauge.remove(gone)
        for name, (low, high, target, healthy) in groups.items():
            self.node_group_min_count.labels(node_group=name).set(low)
            self.node_group_max_count.labels(node_group=name).set(high)
            self.node_group_target_count.labels(node_group=name).set(target)
            self.node_group_healthiness.labels(node_group=name).set(1 if healthy else 0)
        self._group_series = set(groups)

    def set_unremovable(self, counts: dict[str, int]) -> None:
        for reason in self._unremovable_reasons - set(counts):
            self.unremovable_nodes_count.labels(reason=reason).set(0)
        for reason, count in counts.items():
            self.unremovable_nodes_count.labels(reason=reason).set(count)
        self._unremovable_reasons |= set(counts)

    def scaled_up(self, nodes: int, gpu: str = "") -> None:
        self.scaled_up_nodes_total.labels(gpu_resource_name=gpu, gpu_name="").inc(nodes)

    def failed_scale_up(self, reason: str, gpu: str = "") -> None:
        self.failed_scale_ups_total.labels(reason=reason, gpu_resource_name=gpu, gpu_name="").inc()

    def scaled_down(self, reason: str, gpu: str = "") -> None:
        self.scaled_down_nodes_total.labels(reason=reason, gpu_resource_name=gpu, gpu_name="").inc()
