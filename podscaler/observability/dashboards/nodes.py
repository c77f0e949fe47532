"""The nodes dashboard (uid ``podscaler-nodes``): the node autoscaler under Cluster
Autoscaler's metric names (``cluster_autoscaler_*``), so the panels CA users know read the same
— cluster health, node states, unschedulable pods, node groups against their bounds, scale-ups,
scale-downs, backoff, unneeded and unremovable nodes, loop timings.

The node autoscaler's series carry no object namespace, so no namespace variable; node-group
panels need ``--emit-per-nodegroup-metrics`` (backoff is reported without it). Cluster-level
gauges are read with ``max``, not ``sum``: one replica (the Lease holder) reports them, and a
target scraped twice (two jobs, a ServiceMonitor beside a PodMonitor) must not count twice."""

from __future__ import annotations

from typing import Final

from podscaler.observability.dashboards.model import (
    Board,
    Column,
    QueryVariable,
    Row,
    Target,
    stat,
    table,
)
from podscaler.observability.dashboards.model import timeseries as series

_CA: Final = "cluster_autoscaler_"
_GROUP: Final = 'node_group=~"$nodeGroup"'
_RATE: Final = "[$__rate_interval]"

NODES = Board(
    uid="podscaler-nodes",
    title="podscaler / nodes",
    description=(
        "podscaler's node autoscaler, under Cluster Autoscaler's metric names: health, nodes, "
        "pending pods, node groups against min/max, scale-up/down, backoff, unneeded nodes."
    ),
    tags=("podscaler", "autoscaling", "cluster-autoscaler"),
    variables=(
        QueryVariable(
            "nodeGroup", "Node group", f"label_values({_CA}node_group_target_count, node_group)"
        ),
    ),
    rows=(
        Row(
            "Health",
            (
                stat(
                    "Errors",
                    f"sum(increase({_CA}errors_total{_RATE})) or vector(0)",
                    "Node autoscaler loops that ended in an error in the last rate interval.",
                    thresholds=(("green", None), ("red", 1)),
                ),
                stat(
                    "Safe to autoscale",
                    f"min({_CA}cluster_safe_to_autoscale)",
                    "0 when too many nodes are unready: the node autoscaler then does nothing.",
                    thresholds=(("red", None), ("green", 1)),
                ),
                stat(
                    "Node groups in backoff",
                    f"count(max by (node_group) ({_CA}node_group_backoff_status) == 1)"
                    " or vector(0)",
                    "Node groups skipped for scale-up after a failed one, until the backoff "
                    "expires.",
                    thresholds=(("green", None), ("orange", 1)),
                ),
                stat(
                    "Unschedulable pods",
                    f'max({_CA}unschedulable_pods_count{{type="unschedulable"}})',
                    "Pods the scheduler could not place, which the node autoscaler considers.",
                    thresholds=(("green", None), ("orange", 1)),
                ),
                stat(
                    "Since last loop",
                    f'time() - max({_CA}last_activity{{activity="main"}})',
                    "Time since the node autoscaler's loop last ran (scan interval, 10 s by "
                    "default): a growing value is a stuck loop.",
                    unit="s",
                    decimals=None,
                    thresholds=(("green", None), ("orange", 60), ("red", 300)),
                ),
                stat(
                    "Scale-down in cooldown",
                    f"max({_CA}scale_down_in_cooldown)",
                    "1 while scale-down waits after a scale-up or a failure.",
                ),
            ),
        ),
        Row(
            "Nodes and pods",
            (
                series(
                    "Nodes by state",
                    "Nodes of the managed node groups by state (ready, unready, notStarted, "
                    "longUnregistered, unregistered).",
                    Target(f"max by (state) ({_CA}nodes_count)", "{{state}}"),
                    unit="none",
                    decimals=0,
                    steps=True,
                    stacked=True,
                ),
                series(
                    "Unschedulable pods by type",
                    "Pods the scheduler could not place, by CA's type.",
                    Target(f"max by (type) ({_CA}unschedulable_pods_count)", "{{type}}"),
                    unit="none",
                    decimals=0,
                    steps=True,
                ),
                series(
                    "Unneeded and unremovable nodes",
                    "Unneeded: candidates for scale-down (removed after scale-down-unneeded-"
                    "time). Unremovable: why the others stay.",
                    Target(f"max({_CA}unneeded_nodes_count)", "unneeded"),
                    Target(
                        f"max by (reason) ({_CA}unremovable_nodes_count)", "unremovable: {{reason}}"
                    ),
                    unit="none",
                    decimals=0,
                    steps=True,
                ),
                series(
                    "Cluster resources vs limits",
                    "Cores in the cluster against --cores-total's bounds.",
                    Target(f"max({_CA}cluster_cpu_current_cores)", "cores"),
                    Target(f"max by (direction) ({_CA}cpu_limits_cores)", "cores {{direction}}"),
                    unit="none",
                ),
            ),
        ),
        Row(
            "Node groups",
            (
                series(
                    "Node group size vs min/max",
                    "Target size of each node group between its minimum and maximum "
                    "(--emit-per-nodegroup-metrics).",
                    Target(
                        f"max by (node_group) ({_CA}node_group_target_count{{{_GROUP}}})",
                        "{{node_group}} target",
                    ),
                    Target(
                        f"max by (node_group) ({_CA}node_group_min_count{{{_GROUP}}})",
                        "{{node_group}} min",
                    ),
                    Target(
                        f"max by (node_group) ({_CA}node_group_max_count{{{_GROUP}}})",
                        "{{node_group}} max",
                    ),
                    unit="none",
                    decimals=0,
                    steps=True,
                ),
                table(
                    "Node groups now",
                    "One row per node group: bounds, target, health and backoff.",
                    Column("min", f"max by (node_group) ({_CA}node_group_min_count{{{_GROUP}}})"),
                    Column(
                        "target", f"max by (node_group) ({_CA}node_group_target_count{{{_GROUP}}})"
                    ),
                    Column("max", f"max by (node_group) ({_CA}node_group_max_count{{{_GROUP}}})"),
                    Column(
                        "healthy", f"max by (node_group) ({_CA}node_group_healthiness{{{_GROUP}}})"
                    ),
                    Column(
                        "backoff",
                        f"max by (node_group) ({_CA}node_group_backoff_status{{{_GROUP}}})",
                    ),
                ),
                series(
                    "Backoff",
                    "1 while a node group is backed off after a failed scale-up, by the "
                    "cloud's error code.",
                    Target(
                        f"max by (node_group, reason) ({_CA}node_group_backoff_status)",
                        "{{node_group}} {{reason}}",
                    ),
                    unit="none",
                    maximum=1,
                    steps=True,
                    yes_no=True,
                ),
            ),
        ),
        Row(
            "Scaling activity",
            (
                series(
                    "Scale-ups and scale-downs",
                    "Nodes added and removed per second; failed scale-ups by reason.",
                    Target(f"sum(rate({_CA}scaled_up_nodes_total{_RATE}))", "scaled up"),
                    Target(
                        f"sum by (reason) (rate({_CA}scaled_down_nodes_total{_RATE}))",
                        "scaled down: {{reason}}",
                    ),
                    Target(
                        f"sum by (reason) (rate({_CA}failed_scale_ups_total{_RATE}))",
                        "failed scale-up: {{reason}}",
                    ),
                    unit="ops",
                ),
                series(
                    "Evictions and errors",
                    "Pods evicted during scale-down by result, and loop errors by type.",
                    Target(
                        f"sum by (eviction_result) (rate({_CA}evicted_pods_total{_RATE}))",
                        "evicted: {{eviction_result}}",
                    ),
                    Target(f"sum by (type) (rate({_CA}errors_total{_RATE}))", "error: {{type}}"),
                    unit="ops",
                ),
                series(
                    "Loop duration p99",
                    "99th percentile of each part of the node autoscaler's loop.",
                    Target(
                        "histogram_quantile(0.99, sum by (function, le) "
                        f"(rate({_CA}function_duration_seconds_bucket{_RATE})))",
                        "{{function}}",
                    ),
                    unit="s",
                ),
                series(
                    "Skipped scale events",
                    "Scale-ups or scale-downs skipped because a resource limit was reached.",
                    Target(
                        f"sum by (direction, reason) (rate({_CA}skipped_scale_events_count_total"
                        f"{_RATE}))",
                        "{{direction}} {{reason}}",
                    ),
                    unit="ops",
                ),
            ),
        ),
    ),
)
