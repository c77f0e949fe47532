"""Cluster Autoscaler vectors, scale-up side → :mod:`podscaler.nodes`.

Each adapter rebuilds the upstream test's objects (``ca_objects``) and calls the same planner
functions the controller uses; expected keys the adapter does not know fail the vector.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from podscaler.api.quantities import parse_quantity
from podscaler.nodes.asgtags import (
    labels_from_tags,
    parse_auto_discovery_spec,
    resources_from_tags,
    taints_from_tags,
)
from podscaler.nodes.backoff import Backoff, BackoffParams
from podscaler.nodes.balancing import AWS_IGNORED_LABELS, GroupSize, balance_scale_up, similar
from podscaler.nodes.binpacking import NodeLimiter, estimate, order_groups
from podscaler.nodes.expanders import (
    ExpansionOption,
    Filter,
    least_nodes,
    least_waste,
    least_waste_score,
    most_pods,
    priority_filter,
    run_chain,
)
from podscaler.nodes.flags import parse_flags
from podscaler.nodes.instancetypes import InstanceType
from podscaler.nodes.nodestate import NodeState
from podscaler.nodes.options import (
    CONSTANTS,
    OPTIONS,
    NodeAutoscalerOptions,
    OptionsError,
)
from podscaler.nodes.pending import PodGroup, build_pod_groups, is_expendable, young_pod_filter
from podscaler.nodes.plans import ClusterEvent
from podscaler.nodes.predicates import PodRequirements
from podscaler.nodes.priority import CONFIGMAP_KEY, CONFIGMAP_NAME, parse_priorities
from podscaler.nodes.scaleup import plan_scale_up
from podscaler.nodes.simulation import ClusterSim
from podscaler.nodes.snapshot import ClusterSnapshot, NodeGroupState
from podscaler.nodes.templates import asg_template_node
from tests.conformance import ca_objects as objects
from tests.conformance.registry import REL_TOL, Vector, adapter

GROUP_FIELDS = ("name", "count")


def _template_state(raw: dict[str, Any]) -> NodeState:
    objects.known(
        raw, ("cpu_m", "mem_bytes", "mem", "pods", "labels", "daemonset_pods", "taints"), "template"
    )
    spec = {k: v for k, v in raw.items() if k != "daemonset_pods"}
    node = objects.node({**spec, "name": "template"})
    daemon_pods = [
        objects.pod({**p, "owner_kind": "DaemonSet", "node": "template"}, index=i)
        for i, p in enumerate(raw.get("daemonset_pods") or ())
    ]
    return NodeState.build(node, daemon_pods)


@adapter("ca", "binpacking_estimate")
def binpacking_estimate(vector: Vector) -> None:
    data, expected = objects.read(
        vector,
        (
            "node_template",
            "existing_nodes",
            "pod_groups",
            "max_nodes",
            "max_duration_s",
            "fastpath",
        ),
        ("node_count", "scheduled_pod_count", "scheduled_groups"),
    )
    template = _template_state(data["node_template"])
    existing = []
    for raw in data.get("existing_nodes") or ():
        running = [
            objects.pod({**p, "node": raw["name"]}, index=i)
            for i, p in enumerate(raw.get("pods_running") or ())
        ]
        node_raw = {k: v for k, v in raw.items() if k != "pods_running"}
        existing.append(NodeState.build(objects.node(node_raw), running))
    pods: list[dict[str, Any]] = []
    group_of: dict[str, str] = {}
    for raw in data["pod_groups"]:
        shape = {k: v for k, v in raw.items() if k not in GROUP_FIELDS}
        first = objects.pod(
            {
                **shape,
                "name": f"{raw['name']}-0",
                "owner_kind": "ReplicaSet",
                "owner_name": raw["name"],
            }
        )
        for i in range(raw["count"]):
            # replicas share the spec object, as a workload controller's pods share a template
            meta = {**first["metadata"], "name": f"{raw['name']}-{i}", "uid": f"{raw['name']}-{i}"}
            pods.append({**first, "metadata": meta})
            group_of[f"{meta['namespace']}/{meta['name']}"] = raw["name"]
    snapshot = ClusterSnapshot.build([s.node for s in existing], pods)
    groups, errors = build_pod_groups(pods, snapshot)
    assert not errors
    sim = ClusterSim(existing)
    limit = data.get("max_nodes") or None
    result = estimate(groups, template, sim, NodeLimiter.of(limit))
    assert result.node_count == expected["node_count"], result
    assert result.pod_count == expected["scheduled_pod_count"]
    if "scheduled_groups" in expected:
        scheduled = result.scheduled_pods(groups)
        names = {
            group_of[f"{p['metadata']['namespace']}/{p['metadata']['name']}"] for p in scheduled
        }
        assert sorted(names) == sorted(expected["scheduled_groups"])


@adapter("ca", "pod_group_order")
def pod_group_order(vector: Vector) -> None:
    data, expected = objects.read(
        vector, ("node_allocatable", "groups", "order_in"), ("order_out",)
    )
    template = NodeState.build(objects.node({**data["node_allocatable"], "name": "template"}))
    names = list(data["order_in"])
    groups = [
        PodGroup.of(_requirements(objects.pod({**data["groups"][n], "name": n}))) for n in names
    ]
    ordered = [names[i] for i in order_groups(groups, template)]
    assert ordered == expected["order_out"]


def _requirements(pod: dict[str, Any]) -> PodRequirements:
    return PodRequirements.from_pod(pod)


# --- expanders ------------------------------------------------------------------------------


def _option(group: str, **fields: Any) -> ExpansionOption:
    return ExpansionOption(
        group=group, node_count=fields.get("node_count", 1), pod_count=fields.get("pod_count", 1)
    )


@adapter("ca", "expander_least_waste")
def expander_least_waste(vector: Vector) -> None:
    data, expected = objects.read(vector, ("node_capacity", "options"), ("best", "scores"))
    options = []
    for raw in data["options"]:
        objects.known(raw, ("node_group", "node_count", "pods"), "option")
        capacity = data["node_capacity"][raw["node_group"]]
        options.append(
            ExpansionOption(
                group=raw["node_group"],
                node_count=raw["node_count"],
                pod_count=len(raw["pods"]),
                requested_cpu_millicores=sum(p.get("cpu_m", 0) for p in raw["pods"]),
                requested_memory_bytes=sum(p.get("mem_bytes", 0) for p in raw["pods"]),
                capacity_cpu_millicores=capacity["cpu_m"],
                capacity_memory_bytes=capacity["mem_bytes"],
            )
        )
    assert [o.group for o in least_waste(options)] == expected["best"]
    for option in options:
        if option.group in expected.get("scores", {}):
            assert math.isclose(
                least_waste_score(option),
                expected["scores"][option.group],
                rel_tol=REL_TOL,
                abs_tol=1e-12,
            )


@adapter("ca", "expander_most_pods", "expander_least_nodes")
def expander_counting(vector: Vector) -> None:
    data, expected = objects.read(vector, ("options",), ("best",))
    options = [
        ExpansionOption(
            group=o["id"], node_count=o.get("node_count", 0), pod_count=o.get("pod_count", 0)
        )
        for o in data["options"]
    ]
    chosen = most_pods(options) if vector["kind"] == "expander_most_pods" else least_nodes(options)
    best = [o.group for o in chosen] or None
    assert best == expected["best"]


def _priority_yaml(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    lines = []
    for priority, patterns in raw.items():
        lines.append(f"{int(priority)}:")
        lines.extend(f"  - {json.dumps(p)}" for p in patterns)
    return "\n".join(lines) + "\n"


@adapter("ca", "expander_priority")
def expander_priority(vector: Vector) -> None:
    data, expected = objects.read(vector, ("configmap", "options"), ("best", "events"))
    configmap = data["configmap"]
    objects.known(configmap, ("name", "key", "priorities"), "configmap")
    assert configmap["name"] == CONFIGMAP_NAME
    assert configmap["key"] == CONFIGMAP_KEY
    config = parse_priorities(_priority_yaml(configmap["priorities"]))
    events: list[ClusterEvent] = []
    options = [_option(name) for name in data["options"]]
    best = [o.group for o in priority_filter(options, config, events)]
    assert best == expected["best"]
    _assert_events(events, expected["events"])


def _assert_events(events: list[ClusterEvent], expected: list[str]) -> None:
    """``"Type Reason message"`` in full, or ``"Reason xN"`` / ``"Reason"`` counted."""
    counts: dict[str, int] = {}
    for event in events:
        counts[event.reason] = counts.get(event.reason, 0) + 1
    wanted: dict[str, int] = {}
    for item in expected:
        words = item.split(" ")
        if words[0] in ("Warning", "Normal"):
            assert any(f"{e.type} {e.reason} {e.message}" == item for e in events), (item, events)
            wanted[words[1]] = wanted.get(words[1], 0) + 1
        elif len(words) == 2 and words[1].startswith("x"):
            wanted[words[0]] = wanted.get(words[0], 0) + int(words[1][1:])
        else:
            assert len(words) == 1, item
            wanted[words[0]] = wanted.get(words[0], 0) + 1
    assert counts == wanted, (counts, wanted)


@adapter("ca", "expander_chain")
def expander_chain(vector: Vector) -> None:
    data, expected = objects.read(
        vector, ("filters_substring", "fallback_substring", "options"), ("best",)
    )
    options = [_option(name) for name in data["options"]]

    def substring_filter(text: str) -> Filter:
        return lambda opts: [o for o in opts if text in o.group]

    fallback = data["fallback_substring"]
    best = run_chain(
        options,
        [substring_filter(s) for s in data["filters_substring"]],
        lambda opts: next((o for o in opts if fallback in o.group), None),
    )
    assert (best.group if best else None) == expected["best"]


# --- balancing ------------------------------------------------------------------------------


@adapter("ca", "balance_scale_up")
def balance(vector: Vector) -> None:
    data, expected = objects.read(
        vector, ("groups", "new_nodes"), ("new_sizes", "constraint", "example_new_sizes")
    )
    groups = [GroupSize(g["id"], g["current"], g["max"]) for g in data["groups"]]
    result = {s.group: s.new_size for s in balance_scale_up(groups, data["new_nodes"])}
    if "new_sizes" in expected:
        assert result == expected["new_sizes"]
    if "constraint" in expected:
        # Ties among equal-size groups have no defined order upstream, so the vector states a
        # constraint in words; it is checked here as the water-filling invariants, which any
        # allowed assignment (and its example) satisfies.
        _assert_water_filled(groups, data["new_nodes"], result, expected["constraint"])
        if "example_new_sizes" in expected:
            _assert_water_filled(
                groups, data["new_nodes"], expected["example_new_sizes"], expected["constraint"]
            )
            mine = sorted((g.current, result.get(g.group, g.current)) for g in groups)
            theirs = sorted(
                (g.current, expected["example_new_sizes"].get(g.group, g.current)) for g in groups
            )
            assert mine == theirs, (mine, theirs)


def _assert_water_filled(
    groups: list[GroupSize], new_nodes: int, sizes: dict[str, int], constraint: str
) -> None:
    room = sum(max(0, g.max_size - g.current) for g in groups if g.current != g.max_size)
    final = {g.group: sizes.get(g.group, g.current) for g in groups}
    assert sum(final[g.group] - g.current for g in groups) == min(new_nodes, room), constraint
    for g in groups:
        assert final[g.group] >= g.current, constraint
        if final[g.group] > g.current:
            assert final[g.group] <= g.max_size, constraint
            # a group that grew is never more than one above any group that could still grow
            for other in groups:
                if other.current < other.max_size and final[other.group] < other.max_size:
                    assert final[g.group] - 1 <= final[other.group], constraint
    for name in re.findall(r"\b(ng\w+)\b", constraint):
        assert name in final, f"constraint names unknown group {name}"


def _template_for_similarity(raw: dict[str, Any], name: str) -> NodeState:
    objects.known(raw, ("capacity", "allocatable", "labels", "pods_requests"), "node")
    node = objects.node(
        {
            "name": name,
            "capacity": raw["capacity"],
            "allocatable": raw["allocatable"],
            "labels": raw.get("labels") or {},
        }
    )
    node["metadata"]["labels"] = dict(raw.get("labels") or {})
    pods = [
        objects.pod({**p, "node": name}, index=i)
        for i, p in enumerate(raw.get("pods_requests") or ())
    ]
    return NodeState.build(node, pods)


@adapter("ca", "node_group_similarity")
def node_group_similarity(vector: Vector) -> None:
    data, expected = objects.read(
        vector,
        ("comparator", "ratios", "extra_ignored_labels", "node1", "node2", "balancing_labels"),
        ("similar",),
    )
    ratios = data["ratios"]
    objects.known(
        ratios,
        (
            "max_capacity_memory_difference_ratio",
            "max_allocatable_difference_ratio",
            "max_free_difference_ratio",
        ),
        "ratios",
    )
    options = NodeAutoscalerOptions().with_changes(
        memory_difference_ratio=ratios["max_capacity_memory_difference_ratio"],
        max_allocatable_difference_ratio=ratios["max_allocatable_difference_ratio"],
        max_free_difference_ratio=ratios["max_free_difference_ratio"],
        balancing_ignore_label=tuple(data.get("extra_ignored_labels") or ()),
        balancing_label=tuple(data.get("balancing_labels") or ()),
    )
    assert data["comparator"] in ("generic", "aws")
    extra = AWS_IGNORED_LABELS if data["comparator"] == "aws" else frozenset()
    a = _template_for_similarity(data["node1"], "node1")
    b = _template_for_similarity(data["node2"], "node2")
    assert similar(a, b, options, extra_ignored=extra) == expected["similar"]
    assert similar(b, a, options, extra_ignored=extra) == expected["similar"]


# --- which pods count ------------------------------------------------------------------------


@adapter("ca", "expendable_pod")
def expendable_pod(vector: Vector) -> None:
    data, expected = objects.read(
        vector, ("priority", "preemption_policy", "cutoff"), ("expendable",)
    )
    pod = objects.pod(
        {"name": "p", "priority": data["priority"], "preemption_policy": data["preemption_policy"]}
    )
    assert is_expendable(pod, data["cutoff"]) == expected["expendable"]


@adapter("ca", "expendable_pod_filter")
def expendable_pod_filter(vector: Vector) -> None:
    data, expected = objects.read(vector, ("cutoff", "pods"), ("kept",))
    pods = [objects.pod(p, index=i) for i, p in enumerate(data["pods"])]
    kept = [p["metadata"]["name"] for p in pods if not is_expendable(p, data["cutoff"])]
    assert kept == expected["kept"]


@adapter("ca", "young_pod_filter")
def young_pod_filter_vector(vector: Vector) -> None:
    data, expected = objects.read(
        vector, ("new_pod_scale_up_delay_s", "run_offset_s", "pods"), ("kept", "log_contains")
    )
    # pods were created age_s before "now"; the filter runs run_offset_s after "now"
    now = objects.unix(objects.NOW_ISO)
    pods = [
        objects.pod({**raw, "name": name}, now=now, index=i)
        for i, (name, raw) in enumerate(data["pods"].items())
    ]
    kept, _, warnings = young_pod_filter(
        pods, now + data["run_offset_s"], data["new_pod_scale_up_delay_s"]
    )
    assert [p["metadata"]["name"] for p in kept] == expected["kept"]
    if expected.get("log_contains"):
        assert any(expected["log_contains"] in w for w in warnings), warnings
    else:
        assert not warnings, warnings


# --- the scale-up decision -----------------------------------------------------------------------


_ORCHESTRATOR_OPTIONS: dict[str, str | None] = {
    "max_nodes_total": "max_nodes_total",
    "max_cores_total": "cores_total",
    "max_memory_total": "memory_total_bytes",
    "max_memory_total_bytes": "memory_total_bytes",
    "balance_similar_node_groups": "balance_similar_node_groups",
    "parallel_scale_up": None,  # how the executor calls the cloud: no planning effect
}


@adapter("ca", "scale_up_orchestrator")
def scale_up_orchestrator(vector: Vector) -> None:
    data, expected = objects.read(
        vector,
        (
            "node_groups_default",
            "node_groups",
            "nodes",
            "scheduled_pods",
            "pending_pods",
            "expander_choice",
            "options",
        ),
        (
            "final_option",
            "pods_triggered_scale_up",
            "pods_remain_unschedulable",
            "pods_await_evaluation",
            "group_target_sizes",
        ),
    )
    options = objects.options(data.get("options"), _ORCHESTRATOR_OPTIONS)
    nodes = [objects.node({k: v for k, v in n.items() if k != "group"}) for n in data["nodes"]]
    members: dict[str, list[str]] = {}
    for raw in data["nodes"]:
        if raw.get("group"):
            members.setdefault(raw["group"], []).append(raw["name"])
    bounds = data["node_groups_default"]
    per_group = data.get("node_groups") or {}
    groups = [
        NodeGroupState(
            id=name,
            min_size=per_group.get(name, {}).get("min", bounds["min"]),
            max_size=per_group.get(name, {}).get("max", bounds["max"]),
            target_size=len(names),
            node_names=tuple(names),
        )
        for name, names in members.items()
    ]
    pods = [objects.pod(p, index=i) for i, p in enumerate(data["scheduled_pods"])]
    pods += [objects.pod(p, index=100 + i) for i, p in enumerate(data["pending_pods"])]
    choice = data.get("expander_choice")

    def mock_expander(options_list: Any) -> Any:
        # CA's test expander: the option for the named group, whose estimate must be the delta
        best = next(o for o in options_list if o.group == choice["group"])
        assert best.node_count == choice["delta"], (best, choice)
        return best

    plan = plan_scale_up(
        ClusterSnapshot.build(nodes, pods),
        groups,
        options,
        objects.unix(objects.NOW_ISO),
        expander=mock_expander if choice else None,
        assume_unschedulable=True,
        unbounded_estimates=True,
    )
    names = lambda keys: sorted(k.split("/", 1)[1] for k in keys)  # noqa: E731
    if "final_option" in expected:
        final = expected["final_option"]
        mine = {s.group: s.delta for s in plan.scale_ups}
        assert mine.get(final["group"]) == final["delta"], plan.scale_ups
    if "pods_triggered_scale_up" in expected:
        assert names(plan.triggered) == sorted(expected["pods_triggered_scale_up"])
    if "pods_remain_unschedulable" in expected:
        assert names(o.pod for o in plan.remaining) == sorted(expected["pods_remain_unschedulable"])
    if "pods_await_evaluation" in expected:
        assert names(plan.awaiting) == sorted(expected["pods_await_evaluation"])
    if "group_target_sizes" in expected:
        sizes = {g.id: g.target_size for g in groups}
        sizes.update({s.group: s.new_size for s in plan.scale_ups})
        assert sizes == expected["group_target_sizes"]


# --- AWS node templates and discovery -------------------------------------------------------


def _tags(data: dict[str, Any]) -> dict[str, str]:
    objects.known(data, ("tags",), "input")
    return dict(data["tags"])


@adapter("ca", "aws_asg_tags_labels")
def aws_labels(vector: Vector) -> None:
    objects.unknown_expected(vector["expected"], ("labels",))
    assert labels_from_tags(_tags(vector["input"])) == vector["expected"]["labels"]


@adapter("ca", "aws_asg_tags_taints")
def aws_taints(vector: Vector) -> None:
    objects.unknown_expected(vector["expected"], ("taints",))
    found = taints_from_tags(_tags(vector["input"]))
    # CA ranges over a Go map: the order of taints is not defined
    key = lambda t: (t["key"], t["value"], t["effect"])  # noqa: E731
    assert sorted(found, key=key) == sorted(vector["expected"]["taints"], key=key)


@adapter("ca", "aws_asg_tags_resources")
def aws_resources(vector: Vector) -> None:
    objects.unknown_expected(vector["expected"], ("resources",))
    found = resources_from_tags(_tags(vector["input"]))
    expected = {k: parse_quantity(v) for k, v in vector["expected"]["resources"].items()}
    assert found == expected


@adapter("ca", "aws_autodiscovery_spec")
def aws_autodiscovery(vector: Vector) -> None:
    data, expected = objects.read(vector, ("specs",), ("tag_filters",))
    wanted = expected["tag_filters"]
    if wanted == "error":
        for spec in data["specs"]:
            with pytest.raises(OptionsError):
                parse_auto_discovery_spec(spec)
        return
    found = [dict(parse_auto_discovery_spec(spec).tags) for spec in data["specs"]]
    assert found == wanted


@adapter("ca", "aws_template_node")
def aws_template_node(vector: Vector) -> None:
    data, expected = objects.read(
        vector,
        ("instance_type", "asg_name", "zone", "zones", "tags"),
        ("capacity", "allocatable_equals_capacity", "labels_include", "taints", "no_capacity_for"),
    )
    raw = data["instance_type"]
    instance = InstanceType(
        raw["name"], raw["vcpu"], raw["memory_mib"], raw.get("gpu", 0), raw.get("arch", "amd64")
    )
    zones = data.get("zones") or [data["zone"]]
    node = asg_template_node(instance, data["asg_name"], zones, data.get("tags") or {})
    capacity = {k: parse_quantity(v) for k, v in node["status"]["capacity"].items()}
    for name, value in expected.get("capacity", {}).items():
        resource = "memory" if name == "memory_bytes" else name
        assert capacity[resource] == parse_quantity(value), (name, capacity.get(resource))
    if expected.get("allocatable_equals_capacity"):
        assert node["status"]["allocatable"] == node["status"]["capacity"]
    for name, value in expected.get("labels_include", {}).items():
        assert node["metadata"]["labels"].get(name) == value, name
    if "taints" in expected:
        assert node["spec"].get("taints", []) == expected["taints"]
    for name in expected.get("no_capacity_for", ()):
        assert name not in node["status"]["capacity"]


# --- defaults and backoff -----------------------------------------------------------------------

#: ca.json's defaults keys that are options, by field (durations in seconds).
_DEFAULT_FIELDS = {
    "scan_interval_s": "scan_interval_seconds",
    "estimator": "estimator",
    "max_nodes_total": "max_nodes_total",
    "new_pod_scale_up_delay_s": "new_pod_scale_up_delay_seconds",
    "expendable_pods_priority_cutoff": "expendable_pods_priority_cutoff",
    "max_node_provision_time_s": "max_node_provision_time_seconds",
    "max_node_startup_time_s": "max_node_startup_time_seconds",
    "initial_node_group_backoff_duration_s": "initial_node_group_backoff_duration_seconds",
    "max_node_group_backoff_duration_s": "max_node_group_backoff_duration_seconds",
    "node_group_backoff_reset_timeout_s": "node_group_backoff_reset_timeout_seconds",
    "max_nodes_per_scaleup": "max_nodes_per_scaleup",
    "max_nodegroup_binpacking_duration_s": "max_nodegroup_binpacking_duration_seconds",
    "max_binpacking_time_s": "max_binpacking_time_seconds",
    "balance_similar_node_groups": "balance_similar_node_groups",
    "memory_difference_ratio": "memory_difference_ratio",
    "max_allocatable_difference_ratio": "max_allocatable_difference_ratio",
    "max_free_difference_ratio": "max_free_difference_ratio",
    "scale_down_enabled": "scale_down_enabled",
    "scale_down_utilization_threshold": "scale_down_utilization_threshold",
    "scale_down_gpu_utilization_threshold": "scale_down_gpu_utilization_threshold",
    "scale_down_unneeded_time_s": "scale_down_unneeded_time_seconds",
    "scale_down_unready_time_s": "scale_down_unready_time_seconds",
    "scale_down_delay_after_add_s": "scale_down_delay_after_add_seconds",
    "scale_down_delay_after_delete_s": "scale_down_delay_after_delete_seconds",
    "scale_down_delay_after_failure_s": "scale_down_delay_after_failure_seconds",
    "scale_down_non_empty_candidates_count": "scale_down_non_empty_candidates_count",
    "scale_down_candidates_pool_ratio": "scale_down_candidates_pool_ratio",
    "scale_down_candidates_pool_min_count": "scale_down_candidates_pool_min_count",
    "max_scale_down_parallelism": "max_scale_down_parallelism",
    "max_drain_parallelism": "max_drain_parallelism",
    "max_graceful_termination_sec": "max_graceful_termination_sec",
    "max_pod_eviction_time_s": "max_pod_eviction_time_seconds",
    "node_delete_delay_after_taint_s": "node_delete_delay_after_taint_seconds",
    "unremovable_node_recheck_timeout_s": "unremovable_node_recheck_timeout_seconds",
    "scale_down_simulation_timeout_s": "scale_down_simulation_timeout_seconds",
    "skip_nodes_with_system_pods": "skip_nodes_with_system_pods",
    "skip_nodes_with_local_storage": "skip_nodes_with_local_storage",
    "skip_nodes_with_custom_controller_pods": "skip_nodes_with_custom_controller_pods",
    "blocking_system_pod_disruption_timeout_s": "blocking_system_pod_disruption_timeout_seconds",
    "min_replica_count": "min_replica_count",
    "max_total_unready_percentage": "max_total_unready_percentage",
    "ok_total_unready_count": "ok_total_unready_count",
    "max_bulk_soft_taint_count": "max_bulk_soft_taint_count",
    "max_bulk_soft_taint_time_s": "max_bulk_soft_taint_time_seconds",
    "write_status_configmap": "write_status_configmap",
    "status_config_map_name": "status_config_map_name",
    "max_inactivity_s": "max_inactivity_seconds",
    "max_failing_time_s": "max_failing_time_seconds",
    "cordon_node_before_terminating": "cordon_node_before_terminating",
    "daemonset_eviction_for_empty_nodes": "daemonset_eviction_for_empty_nodes",
    "daemonset_eviction_for_occupied_nodes": "daemonset_eviction_for_occupied_nodes",
    "aws_use_static_instance_list": "aws_use_static_instance_list",
}
#: Keys that are CA constants rather than flags.
_DEFAULT_CONSTANTS = {
    "unschedulable_pod_time_buffer_s": "unschedulable_pod_time_buffer_seconds",
    "eviction_retry_s": "eviction_retry_seconds",
    "pod_eviction_headroom_s": "pod_eviction_headroom_seconds",
    "aws_asg_refresh_interval_s": "aws_asg_refresh_interval_seconds",
    "aws_instance_type_cache_ttl_s": "aws_instance_type_cache_ttl_seconds",
    "aws_template_pods_capacity": "aws_template_pods_capacity",
}


@adapter("ca", "defaults")
def defaults(vector: Vector) -> None:
    expected = vector["expected"]
    options = NodeAutoscalerOptions()
    handled = {*_DEFAULT_FIELDS, *_DEFAULT_CONSTANTS}
    handled |= {"expander", "cores_total", "memory_total_gib", "max_empty_bulk_delete"}
    handled |= {"metrics_address"}
    objects.unknown_expected(expected, handled)
    for key, field in _DEFAULT_FIELDS.items():
        if key in expected:
            assert getattr(options, field) == expected[key], key
    for key, name in _DEFAULT_CONSTANTS.items():
        if key in expected:
            assert CONSTANTS[name] == expected[key], key
    assert ",".join(options.expander) == expected["expander"]
    assert "{}:{}".format(*options.cores_total) == expected["cores_total"]
    gib = tuple(v // 1024**3 for v in options.memory_total_bytes)
    assert "{}:{}".format(*gib) == expected["memory_total_gib"]
    # removed upstream; accepted here only when set
    assert options.max_empty_bulk_delete is None
    assert str(expected["max_empty_bulk_delete"]).startswith("removed")
    # CA's own metrics port: podscaler serves metrics on the operator's port instead
    assert expected["metrics_address"] == ":8085"
    # and every default survives a round trip through the flag spellings
    flags = [
        f"--{spec.flag}={_flag_value(getattr(options, spec.field), spec.field)}"
        for spec in OPTIONS
        if getattr(options, spec.field) not in ((), None)
    ]
    assert parse_flags(flags) == options


def _flag_value(value: Any, field: str) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if field == "memory_total_bytes":
        return f"{value[0] // 1024**3}:{value[1] // 1024**3}"
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}:{value[1]}"
    if isinstance(value, tuple):
        return ",".join(value)
    if field.endswith("_seconds"):
        return f"{value:g}s"
    if isinstance(value, float):
        return repr(value)
    return str(value)


@adapter("ca", "node_group_backoff")
def node_group_backoff(vector: Vector) -> None:
    data, _ = objects.read(vector, ("params", "steps"), ("see_steps",))
    params = data["params"]
    objects.known(params, ("initial_s", "max_s", "reset_s"), "params")
    backoff = Backoff(BackoffParams(params["initial_s"], params["max_s"], params["reset_s"]))
    for step in data["steps"]:
        objects.known(
            step,
            (
                "t_s",
                "check",
                "backed_off",
                "error",
                "backoff",
                "note",
                "remove_stale",
                "remove_backoff",
            ),
            "step",
        )
        now = step["t_s"]
        if "backoff" in step:
            backoff = backoff.backoff(step["backoff"], now, step.get("error", ""))
        elif "check" in step:
            status = backoff.status(step["check"], now)
            assert status.backed_off == step["backed_off"], step
            if "error" in step:
                assert status.error_code == step["error"], step
        elif step.get("remove_stale"):
            backoff = backoff.remove_stale(now)
        elif "remove_backoff" in step:
            backoff = backoff.remove_backoff(step["remove_backoff"])
        else:
            raise AssertionError(f"adapter does not know step {step}")
