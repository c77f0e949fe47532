"""Cluster Autoscaler's options, declared once: flag name, type, default and meaning.

Users bring CA's flags (``--scale-down-unneeded-time=10m``) and scenario files bring the same
options in camelCase (``scaleDownUnneededTime: 10m``); both spellings, plus snake_case, are
read by :func:`parse_options` into one typed, frozen :class:`NodeAutoscalerOptions`. The
declaration (:data:`OPTIONS`) is the single list the CLI turns into flags, so a new option is
one line here, never three edits.

Defaults are CA's at the reference commit (``config/flags/flags.go``, ``config/const.go``), not
its documentation where the two differ: the default expander is ``least-waste``,
``--scale-down-delay-after-delete`` is 0s, and ``--max-empty-bulk-delete`` no longer exists
upstream (replaced by ``--max-scale-down-parallelism``); it is accepted here for old command
lines and caps the empty-node batch only when set.

Durations are Go durations (``10m``, ``1h30m``) or plain numbers of seconds; ``cores-total``
and ``memory-total`` are ``min:max`` (memory in GiB, as CA's flag); list options repeat on the
command line or take a YAML list.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final

__all__ = [
    "CONSTANTS",
    "EXPANDERS",
    "OPTIONS",
    "GroupOptions",
    "NodeAutoscalerOptions",
    "NodeGroupBounds",
    "OptionKind",
    "OptionSpec",
    "OptionsError",
]


class OptionsError(ValueError):
    """An option that cannot be read; the message names the option as the user spelled it."""


class OptionKind(enum.Enum):
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    DURATION = "duration"
    STRING = "string"
    STRINGS = "strings"  # repeatable
    RANGE = "range"  # "min:max"


@dataclass(frozen=True)
class OptionSpec:
    """One option as CA spells it (``flag``), the field it fills, its kind and meaning."""

    flag: str
    field: str
    kind: OptionKind
    help: str

    @property
    def camel(self) -> str:
        head, *rest = self.flag.split("-")
        return head + "".join(part[:1].upper() + part[1:] for part in rest)


#: The expanders ``--expander`` accepts. ``grpc`` is CA's remote plugin: not offered.
EXPANDERS: Final = ("random", "most-pods", "least-waste", "least-nodes", "price", "priority")


@dataclass(frozen=True)
class NodeGroupBounds:
    """One ``--nodes=min:max:name``."""

    min_size: int
    max_size: int
    name: str


@dataclass(frozen=True)
class NodeAutoscalerOptions:
    """Every option with CA's default. Units are in the field names."""

    # --- loop and scale-up
    scan_interval_seconds: float = 10.0
    #: podscaler's default; CA's is false (see the option's help)
    frequent_loops_enabled: bool = True
    scale_up_from_decisions: bool = True
    expander: tuple[str, ...] = ("least-waste",)
    estimator: str = "binpacking"
    max_nodes_total: int = 0
    cores_total: tuple[int, int] = (0, 320000)
    #: ``--memory-total`` is given in GiB, as CA's flag; kept in bytes, as CA's option
    memory_total_bytes: tuple[int, int] = (0, 6400000 * 1024**3)
    new_pod_scale_up_delay_seconds: float = 0.0
    expendable_pods_priority_cutoff: int = -10
    max_node_provision_time_seconds: float = 900.0
    max_node_startup_time_seconds: float = 900.0
    initial_node_group_backoff_duration_seconds: float = 300.0
    max_node_group_backoff_duration_seconds: float = 1800.0
    node_group_backoff_reset_timeout_seconds: float = 10800.0
    max_nodes_per_scaleup: int = 1000
    max_nodegroup_binpacking_duration_seconds: float = 10.0
    max_binpacking_time_seconds: float = 300.0
    scale_up_from_zero: bool = True
    # --- balancing
    balance_similar_node_groups: bool = False
    balancing_ignore_label: tuple[str, ...] = ()
    balancing_label: tuple[str, ...] = ()
    memory_difference_ratio: float = 0.015
    max_allocatable_difference_ratio: float = 0.05
    max_free_difference_ratio: float = 0.05
    # --- scale-down
    scale_down_enabled: bool = True
    scale_down_utilization_threshold: float = 0.5
    scale_down_gpu_utilization_threshold: float = 0.5
    scale_down_unneeded_time_seconds: float = 600.0
    scale_down_unready_time_seconds: float = 1200.0
    scale_down_unready_enabled: bool = True
    scale_down_delay_after_add_seconds: float = 600.0
    scale_down_delay_after_delete_seconds: float = 0.0
    scale_down_delay_after_failure_seconds: float = 180.0
    scale_down_non_empty_candidates_count: int = 30
    scale_down_candidates_pool_ratio: float = 0.1
    scale_down_candidates_pool_min_count: int = 50
    scale_down_simulation_timeout_seconds: float = 30.0
    max_scale_down_parallelism: int = 10
    max_drain_parallelism: int = 1
    max_empty_bulk_delete: int | None = None
    unremovable_node_recheck_timeout_seconds: float = 300.0
    ignore_daemonsets_utilization: bool = False
    ignore_mirror_pods_utilization: bool = False
    # --- drain rules
    skip_nodes_with_system_pods: bool = True
    skip_nodes_with_local_storage: bool = True
    skip_nodes_with_custom_controller_pods: bool = True
    blocking_system_pod_disruption_timeout_seconds: float = 3600.0
    min_replica_count: int = 0
    # --- actuation (read by the controller, carried here so all of CA's knobs are in one place)
    max_graceful_termination_sec: int = 600
    max_pod_eviction_time_seconds: float = 120.0
    node_delete_delay_after_taint_seconds: float = 5.0
    cordon_node_before_terminating: bool = True
    daemonset_eviction_for_empty_nodes: bool = False
    daemonset_eviction_for_occupied_nodes: bool = True
    max_bulk_soft_taint_count: int = 10
    max_bulk_soft_taint_time_seconds: float = 3.0
    # --- cluster health, status, liveness
    max_total_unready_percentage: float = 45.0
    ok_total_unready_count: int = 3
    write_status_configmap: bool = True
    status_config_map_name: str = "cluster-autoscaler-status"
    max_inactivity_seconds: float = 600.0
    max_failing_time_seconds: float = 900.0
    emit_per_nodegroup_metrics: bool = False
    record_duplicated_events: bool = False
    # --- node groups (AWS)
    nodes: tuple[NodeGroupBounds, ...] = ()
    node_group_auto_discovery: tuple[str, ...] = ()
    aws_use_static_instance_list: bool = False

    @property
    def max_cores_total(self) -> int:
        return self.cores_total[1]

    @property
    def max_memory_total_bytes(self) -> int:
        return self.memory_total_bytes[1]

    def with_changes(self, **changes: Any) -> NodeAutoscalerOptions:
        """A copy with ``changes`` applied (field names), validated like parsed options."""
        return _validated(replace(self, **changes))


def _spec(flag: str, field_name: str, kind: OptionKind, help_text: str) -> OptionSpec:
    return OptionSpec(flag, field_name, kind, help_text)


_B, _I, _F, _D = OptionKind.BOOL, OptionKind.INT, OptionKind.FLOAT, OptionKind.DURATION
_S, _L, _R = OptionKind.STRING, OptionKind.STRINGS, OptionKind.RANGE

#: Every option, in CA's spelling. The CLI builds its flags from this list.
OPTIONS: Final[tuple[OptionSpec, ...]] = (
    _spec("scan-interval", "scan_interval_seconds", _D, "How often the cluster is re-evaluated"),
    _spec(
        "frequent-loops-enabled",
        "frequent_loops_enabled",
        _B,
        "Run a pass as soon as pods turn unschedulable instead of waiting for the scan "
        "interval (podscaler's default is true; CA's is false)",
    ),
    _spec(
        "scale-up-from-decisions",
        "scale_up_from_decisions",
        _B,
        "Plan nodes for a ScaledObject's scale-up as soon as it is decided, before its pods "
        "exist (podscaler only; needs the ScaledObjects in the same process)",
    ),
    _spec("expander", "expander", _S, "Expander chain, e.g. priority,least-waste"),
    _spec("estimator", "estimator", _S, "Node count estimator (only binpacking)"),
    _spec("max-nodes-total", "max_nodes_total", _I, "Maximum nodes in the cluster (0: none)"),
    _spec("cores-total", "cores_total", _R, "min:max cores in the cluster"),
    _spec("memory-total", "memory_total_bytes", _R, "min:max GiB of memory in the cluster"),
    _spec(
        "new-pod-scale-up-delay",
        "new_pod_scale_up_delay_seconds",
        _D,
        "Pods younger than this do not trigger a scale-up",
    ),
    _spec(
        "expendable-pods-priority-cutoff",
        "expendable_pods_priority_cutoff",
        _I,
        "Pods with priority below this never trigger a scale-up nor block a scale-down",
    ),
    _spec(
        "max-node-provision-time",
        "max_node_provision_time_seconds",
        _D,
        "How long a requested node may take to register before the scale-up is reverted",
    ),
    _spec(
        "max-node-startup-time",
        "max_node_startup_time_seconds",
        _D,
        "How long a registered node may take to become ready",
    ),
    _spec(
        "initial-node-group-backoff-duration",
        "initial_node_group_backoff_duration_seconds",
        _D,
        "First backoff of a node group after a failed scale-up",
    ),
    _spec(
        "max-node-group-backoff-duration",
        "max_node_group_backoff_duration_seconds",
        _D,
        "Longest backoff (doubling from the initial one)",
    ),
    _spec(
        "node-group-backoff-reset-timeout",
        "node_group_backoff_reset_timeout_seconds",
        _D,
        "A backoff is forgotten this long after the last failure",
    ),
    _spec("max-nodes-per-scaleup", "max_nodes_per_scaleup", _I, "Node cap of one estimate"),
    _spec(
        "max-nodegroup-binpacking-duration",
        "max_nodegroup_binpacking_duration_seconds",
        _D,
        "Time budget of one node group's estimate",
    ),
    _spec("max-binpacking-time", "max_binpacking_time_seconds", _D, "Time budget of a scale-up"),
    _spec("scale-up-from-zero", "scale_up_from_zero", _B, "Scale node groups up from zero"),
    _spec(
        "balance-similar-node-groups",
        "balance_similar_node_groups",
        _B,
        "Spread scale-ups over similar node groups (e.g. one ASG per zone)",
    ),
    _spec(
        "balancing-ignore-label",
        "balancing_ignore_label",
        _L,
        "Label ignored when comparing node groups for similarity (repeatable)",
    ),
    _spec(
        "balancing-label",
        "balancing_label",
        _L,
        "Compare node groups on these labels only (repeatable)",
    ),
    _spec(
        "memory-difference-ratio",
        "memory_difference_ratio",
        _F,
        "Largest relative memory capacity difference of similar node groups",
    ),
    _spec(
        "max-allocatable-difference-ratio",
        "max_allocatable_difference_ratio",
        _F,
        "Largest relative allocatable difference of similar node groups",
    ),
    _spec(
        "max-free-difference-ratio",
        "max_free_difference_ratio",
        _F,
        "Largest relative free-resource difference of similar node groups",
    ),
    _spec("scale-down-enabled", "scale_down_enabled", _B, "Remove unneeded nodes"),
    _spec(
        "scale-down-utilization-threshold",
        "scale_down_utilization_threshold",
        _F,
        "A node whose requests/allocatable (cpu or memory) is at most this may be removed",
    ),
    _spec(
        "scale-down-gpu-utilization-threshold",
        "scale_down_gpu_utilization_threshold",
        _F,
        "The same threshold for GPU nodes (GPU requests only)",
    ),
    _spec(
        "scale-down-unneeded-time",
        "scale_down_unneeded_time_seconds",
        _D,
        "How long a node must be unneeded before it is removed",
    ),
    _spec(
        "scale-down-unready-time",
        "scale_down_unready_time_seconds",
        _D,
        "How long an unready node must be unneeded before it is removed",
    ),
    _spec(
        "scale-down-unready-enabled",
        "scale_down_unready_enabled",
        _B,
        "Remove unready nodes too",
    ),
    _spec(
        "scale-down-delay-after-add",
        "scale_down_delay_after_add_seconds",
        _D,
        "No scale-down for this long after a scale-up",
    ),
    _spec(
        "scale-down-delay-after-delete",
        "scale_down_delay_after_delete_seconds",
        _D,
        "No scale-down for this long after a node deletion",
    ),
    _spec(
        "scale-down-delay-after-failure",
        "scale_down_delay_after_failure_seconds",
        _D,
        "No scale-down for this long after a failed scale-down",
    ),
    _spec(
        "scale-down-non-empty-candidates-count",
        "scale_down_non_empty_candidates_count",
        _I,
        "Kept for old command lines: CA no longer reads it",
    ),
    _spec(
        "scale-down-candidates-pool-ratio",
        "scale_down_candidates_pool_ratio",
        _F,
        "Kept for old command lines: CA no longer reads it",
    ),
    _spec(
        "scale-down-candidates-pool-min-count",
        "scale_down_candidates_pool_min_count",
        _I,
        "Kept for old command lines: CA no longer reads it",
    ),
    _spec(
        "scale-down-simulation-timeout",
        "scale_down_simulation_timeout_seconds",
        _D,
        "Time budget of the removal simulation",
    ),
    _spec(
        "max-scale-down-parallelism",
        "max_scale_down_parallelism",
        _I,
        "Most nodes deleted at once (empty and drained together)",
    ),
    _spec("max-drain-parallelism", "max_drain_parallelism", _I, "Most nodes drained at once"),
    _spec(
        "max-empty-bulk-delete",
        "max_empty_bulk_delete",
        _I,
        "Removed in CA 1.33; when set, caps the empty-node batch below the parallelism",
    ),
    _spec(
        "unremovable-node-recheck-timeout",
        "unremovable_node_recheck_timeout_seconds",
        _D,
        "A node found unremovable is not re-checked for this long",
    ),
    _spec(
        "ignore-daemonsets-utilization",
        "ignore_daemonsets_utilization",
        _B,
        "Leave DaemonSet pods out of node utilization",
    ),
    _spec(
        "ignore-mirror-pods-utilization",
        "ignore_mirror_pods_utilization",
        _B,
        "Leave static (mirror) pods out of node utilization",
    ),
    _spec(
        "skip-nodes-with-system-pods",
        "skip_nodes_with_system_pods",
        _B,
        "Keep nodes running kube-system pods that no PodDisruptionBudget covers",
    ),
    _spec(
        "skip-nodes-with-local-storage",
        "skip_nodes_with_local_storage",
        _B,
        "Keep nodes running pods with hostPath or emptyDir volumes",
    ),
    _spec(
        "skip-nodes-with-custom-controller-pods",
        "skip_nodes_with_custom_controller_pods",
        _B,
        "Treat pods owned by other controllers than RC, RS, Job, StatefulSet as not replicated",
    ),
    _spec(
        "blocking-system-pod-distruption-timeout",  # sic: CA's spelling
        "blocking_system_pod_disruption_timeout_seconds",
        _D,
        "A kube-system pod older than this no longer blocks its node",
    ),
    _spec("min-replica-count", "min_replica_count", _I, "Controllers below this keep their node"),
    _spec(
        "max-graceful-termination-sec",
        "max_graceful_termination_sec",
        _I,
        "Cap on the grace period of evicted pods, seconds",
    ),
    _spec(
        "max-pod-eviction-time",
        "max_pod_eviction_time_seconds",
        _D,
        "How long evictions are retried before the node's deletion is abandoned",
    ),
    _spec(
        "node-delete-delay-after-taint",
        "node_delete_delay_after_taint_seconds",
        _D,
        "Wait between tainting a node and re-checking it",
    ),
    _spec(
        "cordon-node-before-terminating",
        "cordon_node_before_terminating",
        _B,
        "Mark a node unschedulable before deleting it",
    ),
    _spec(
        "daemonset-eviction-for-empty-nodes",
        "daemonset_eviction_for_empty_nodes",
        _B,
        "Evict DaemonSet pods from empty nodes before deleting them",
    ),
    _spec(
        "daemonset-eviction-for-occupied-nodes",
        "daemonset_eviction_for_occupied_nodes",
        _B,
        "Evict DaemonSet pods from drained nodes",
    ),
    _spec(
        "max-bulk-soft-taint-count",
        "max_bulk_soft_taint_count",
        _I,
        "Unneeded nodes soft-tainted per loop",
    ),
    _spec(
        "max-bulk-soft-taint-time",
        "max_bulk_soft_taint_time_seconds",
        _D,
        "Time budget of soft-tainting per loop",
    ),
    _spec(
        "max-total-unready-percentage",
        "max_total_unready_percentage",
        _F,
        "Stop autoscaling above this share of unready nodes (and ok-total-unready-count)",
    ),
    _spec(
        "ok-total-unready-count",
        "ok_total_unready_count",
        _I,
        "Unready nodes tolerated whatever their share",
    ),
    _spec(
        "write-status-configmap",
        "write_status_configmap",
        _B,
        "Write the status ConfigMap every loop",
    ),
    _spec(
        "status-config-map-name",
        "status_config_map_name",
        _S,
        "Name of the status ConfigMap",
    ),
    _spec("max-inactivity", "max_inactivity_seconds", _D, "Unhealthy after this without a loop"),
    _spec(
        "max-failing-time",
        "max_failing_time_seconds",
        _D,
        "Unhealthy after this without a successful loop",
    ),
    _spec(
        "emit-per-nodegroup-metrics",
        "emit_per_nodegroup_metrics",
        _B,
        "Export min/max/target per node group",
    ),
    _spec(
        "record-duplicated-events",
        "record_duplicated_events",
        _B,
        "Do not de-duplicate Events within 5 minutes",
    ),
    _spec("nodes", "nodes", _L, "A node group as min:max:name (repeatable)"),
    _spec(
        "node-group-auto-discovery",
        "node_group_auto_discovery",
        _L,
        "asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/<cluster>",
    ),
    _spec(
        "aws-use-static-instance-list",
        "aws_use_static_instance_list",
        _B,
        "Use the built-in instance type table only (no DescribeInstanceTypes)",
    ),
)

#: CA's fixed values that are not flags (``core/static_autoscaler.go``, ``actuation/drain.go``,
#: ``cloudprovider/aws``), for the controller and the AWS provider. Seconds unless named.
CONSTANTS: Final[Mapping[str, float | int]] = {
    # the oldest pending pod must be this old before a scale-up (30 s when a pod wants a GPU)
    "unschedulable_pod_time_buffer_seconds": 2,
    "unschedulable_pod_with_gpu_time_buffer_seconds": 30,
    "eviction_retry_seconds": 10,
    "pod_eviction_headroom_seconds": 30,
    # a ToBeDeletedByClusterAutoscaler taint younger than this marks a node being deleted
    "deletion_taint_fresh_seconds": 300,
    "aws_asg_refresh_interval_seconds": 60,
    "aws_instance_type_cache_ttl_seconds": 1200,
    "aws_template_pods_capacity": 110,
}


def _validated(options: NodeAutoscalerOptions) -> NodeAutoscalerOptions:
    """Cross-field and range rules CA enforces at startup."""
    problems: list[str] = []
    for name in (
        "scale_down_utilization_threshold",
        "scale_down_gpu_utilization_threshold",
    ):
        value = getattr(options, name)
        if not 0.0 <= value <= 1.0:
            problems.append(f"{name.replace('_', '-')} must be within [0, 1], not {value}")
    for name in (
        "max_nodes_total",
        "max_nodes_per_scaleup",
        "max_scale_down_parallelism",
        "max_drain_parallelism",
        "ok_total_unready_count",
        "max_graceful_termination_sec",
        "min_replica_count",
    ):
        if getattr(options, name) < 0:
            problems.append(f"{name.replace('_', '-')} must not be negative")
    if options.max_empty_bulk_delete is not None and options.max_empty_bulk_delete < 0:
        problems.append("max-empty-bulk-delete must not be negative")
    if options.estimator != "binpacking":
        problems.append(f"estimator: only binpacking is supported, not {options.estimator!r}")
    if options.nodes and options.node_group_auto_discovery:
        problems.append("nodes and node-group-auto-discovery cannot be combined (as in CA)")
    if options.initial_node_group_backoff_duration_seconds <= 0:
        problems.append("initial-node-group-backoff-duration must be positive")
    if (
        options.max_node_group_backoff_duration_seconds
        < options.initial_node_group_backoff_duration_seconds
    ):
        problems.append("max-node-group-backoff-duration must be >= the initial backoff")
    if problems:
        raise OptionsError("; ".join(problems))
    return options


@dataclass(frozen=True)
class GroupOptions:
    """Per-node-group overrides of CA's node-group defaults: on AWS the ASG tags
    ``k8s.io/cluster-autoscaler/node-template/autoscaling-options/<name>``. None keeps the
    global option."""

    scale_down_utilization_threshold: float | None = None
    scale_down_gpu_utilization_threshold: float | None = None
    scale_down_unneeded_time_seconds: float | None = None
    scale_down_unready_time_seconds: float | None = None
    ignore_daemonsets_utilization: bool | None = None
    max_node_provision_time_seconds: float | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    #: set when the provider could not read the overrides: the group's nodes are not
    #: removed until it can (CA's ``UnexpectedError``), rather than under the wrong options
    error: str | None = None

    def resolve(self, options: NodeAutoscalerOptions) -> NodeAutoscalerOptions:
        """``options`` with this group's overrides applied."""
        changes = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("extra", "error") and getattr(self, f.name) is not None
        }
        return replace(options, **changes) if changes else options

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) is not None for f in fields(self) if f.name != "extra")
