"""Cluster Autoscaler vectors, scale-down side → :mod:`podscaler.nodes` (utilization, drain
rules, eligibility, ``RemovableAt``)."""

from __future__ import annotations

import math
from typing import Any

from podscaler.nodes.drain import PdbTracker, pods_to_move
from podscaler.nodes.limits import Usage
from podscaler.nodes.options import GroupOptions, NodeAutoscalerOptions
from podscaler.nodes.plans import Utilization
from podscaler.nodes.scaledown import RemovalCandidate, check_eligibility, removable_at
from podscaler.nodes.snapshot import ClusterSnapshot, NodeGroupState
from podscaler.nodes.utilization import GPU_LABEL, UtilizationError, node_utilization
from tests.conformance import ca_objects as objects
from tests.conformance.registry import REL_TOL, Vector, adapter


def _close(actual: float, expected: float) -> bool:
    """Vectors give 6 decimals where the upstream value is a repeating fraction."""
    text = repr(expected)
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    tolerance = 0.5 * 10**-decimals if decimals >= 6 else 0.0
    return math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=max(tolerance, 1e-12))


@adapter("ca", "node_utilization")
def node_utilization_vector(vector: Vector) -> None:
    data, expected = objects.read(
        vector,
        ("node_allocatable", "pods", "skip_daemonset_pods", "skip_mirror_pods", "now"),
        ("utilization", "error", "cpu_util", "mem_util", "resource"),
    )
    now = objects.unix(data["now"])
    allocatable = dict(data["node_allocatable"])
    node = objects.node({"name": "node", **allocatable})
    if allocatable.get("gpu_label"):
        node["metadata"]["labels"][GPU_LABEL] = "nvidia-tesla-t4"
    node["status"]["capacity"] = dict(node["status"]["allocatable"])
    pods = [
        objects.pod({**p, "node": "node"}, now=now, index=i) for i, p in enumerate(data["pods"])
    ]
    try:
        info = node_utilization(
            node,
            pods,
            now,
            skip_daemonsets=data["skip_daemonset_pods"],
            skip_mirror=data["skip_mirror_pods"],
        )
    except UtilizationError:
        assert expected.get("error") is True
        return
    assert not expected.get("error"), info
    _assert_utilization(info, expected)


def _assert_utilization(info: Utilization, expected: dict[str, Any]) -> None:
    if "utilization" in expected:
        assert _close(info.value, expected["utilization"]), info
    if "cpu_util" in expected:
        assert _close(info.cpu, expected["cpu_util"]), info
    if "mem_util" in expected:
        assert _close(info.memory, expected["mem_util"]), info
    if "resource" in expected:
        assert info.resource == expected["resource"], info


_DRAIN_OPTIONS: dict[str, str | None] = {
    "skip_nodes_with_system_pods": "skip_nodes_with_system_pods",
    "skip_nodes_with_local_storage": "skip_nodes_with_local_storage",
    "skip_nodes_with_custom_controller_pods": "skip_nodes_with_custom_controller_pods",
    "blocking_system_pod_disruption_timeout_s": "blocking_system_pod_disruption_timeout_seconds",
    "min_replica_count": "min_replica_count",
}


@adapter("ca", "drainability")
def drainability(vector: Vector) -> None:
    data, expected = objects.read(
        vector,
        ("options", "now", "pods", "pdbs", "controllers"),
        (
            "blocked",
            "pods_to_move",
            "daemonset_pods",
            "on_completion_pods",
            "blocking_pod",
            "reason",
        ),
    )
    options = objects.options(data["options"], _DRAIN_OPTIONS)
    now = objects.unix(data["now"])
    pods = [
        objects.pod({"node": "node", **p}, now=now, index=i) for i, p in enumerate(data["pods"])
    ]
    pdbs = PdbTracker.of(objects.pdb(p) for p in data.get("pdbs") or ())
    controllers = None
    if data.get("controllers") is not None:
        table = {
            (c.get("namespace", "default"), c["kind"], c["name"]): c.get("replicas")
            for c in data["controllers"]
        }

        def controllers(namespace: str, kind: str, name: str) -> int | None:
            return table[(namespace, kind, name)]

    result = pods_to_move(pods, now, options, pdbs, controllers=controllers)
    names = lambda items: sorted(p["metadata"]["name"] for p in items)  # noqa: E731
    assert (result.blocking is not None) == expected["blocked"], result.blocking
    if result.blocking is not None:
        if "blocking_pod" in expected:
            assert result.blocking.pod.split("/", 1)[1] == expected["blocking_pod"]
        if "reason" in expected:
            assert result.blocking.reason.value == expected["reason"]
    if "pods_to_move" in expected:
        assert names(result.pods) == sorted(expected["pods_to_move"])
    if "daemonset_pods" in expected:
        assert names(result.daemonset_pods) == sorted(expected["daemonset_pods"])
    if "on_completion_pods" in expected:
        assert names(result.on_completion_pods) == sorted(expected["on_completion_pods"])


_ELIGIBILITY_OPTIONS: dict[str, str | None] = {
    "scale_down_utilization_threshold": "scale_down_utilization_threshold",
    "scale_down_gpu_utilization_threshold": "scale_down_gpu_utilization_threshold",
    "scale_down_unready_enabled": "scale_down_unready_enabled",
    "ignore_daemonsets_utilization": "ignore_daemonsets_utilization",
    "ignore_mirror_pods_utilization": "ignore_mirror_pods_utilization",
}


@adapter("ca", "scale_down_eligibility")
def scale_down_eligibility(vector: Vector) -> None:
    data, expected = objects.read(
        vector, ("options", "nodes", "pods", "node_group"), ("unneeded", "unremovable")
    )
    options = objects.options(data["options"], _ELIGIBILITY_OPTIONS)
    now = objects.unix(objects.NOW_ISO)
    nodes = []
    for raw in data["nodes"]:
        taints = [
            {**t, "value": str(int(now) - 30)} if t.get("value") == "<now-30s unix>" else t
            for t in raw.get("taints") or ()
        ]
        nodes.append(objects.node({**raw, "taints": taints}))
    pods = [objects.pod(p, now=now, index=i) for i, p in enumerate(data["pods"])]
    bounds = data["node_group"]
    group = NodeGroupState(
        "ng1",
        bounds["min"],
        bounds["max"],
        bounds["target"],
        tuple(n["name"] for n in data["nodes"]),
    )
    eligible, unremovable = check_eligibility(
        ClusterSnapshot.build(nodes, pods), [group], options, now
    )
    assert eligible == expected["unneeded"]
    found = sorted((u.node, u.reason.value) for u in unremovable.values())
    assert found == sorted((u["node"], u["reason"]) for u in expected["unremovable"])


def _candidate(
    name: str, group: NodeGroupState, *, drain: bool, ready: bool = True, disabled: bool = False
) -> RemovalCandidate:
    pods = ({"metadata": {"name": f"{name}-pod", "namespace": "default"}},) if drain else ()
    return RemovalCandidate(
        name, group, Utilization(0.0, "cpu"), ready, pods=pods, disabled=disabled
    )


@adapter("ca", "removable_at_min_size")
def removable_at_min_size(vector: Vector) -> None:
    data, expected = objects.read(
        vector,
        (
            "empty_candidates",
            "drain_candidates",
            "min_size",
            "target_size",
            "ongoing_deletions",
            "unneeded_for_s",
            "scale_down_unneeded_time_s",
        ),
        ("empty_to_remove", "drain_to_remove"),
    )
    now = 10_000.0
    group = NodeGroupState(
        "ng1", data["min_size"], 1000, data["target_size"], deleting=data["ongoing_deletions"]
    )
    candidates = [_candidate(f"e{i}", group, drain=False) for i in range(data["empty_candidates"])]
    candidates += [_candidate(f"d{i}", group, drain=True) for i in range(data["drain_candidates"])]
    since = {c.name: now - data["unneeded_for_s"] for c in candidates}
    options = NodeAutoscalerOptions().with_changes(
        scale_down_unneeded_time_seconds=data["scale_down_unneeded_time_s"]
    )
    usage = Usage(data["target_size"], 0, 0)
    empty, drain, _ = removable_at(candidates, since, [group], usage, options, now)
    assert len(empty) == expected["empty_to_remove"]
    assert len(drain) == expected["drain_to_remove"]


@adapter("ca", "unremovable_reason")
def unremovable_reason(vector: Vector) -> None:
    data, expected = objects.read(
        vector,
        (
            "ready",
            "unneeded_since_s_ago",
            "scale_down_disabled_annotation",
            "unneeded_time_s",
            "unready_time_s",
            "min_size",
            "target_size",
            "in_node_group",
            "threshold_lookup_error",
            "quotas",
            "ongoing_deletions",
        ),
        ("reason",),
    )
    now = 10_000.0
    options = NodeAutoscalerOptions().with_changes(
        scale_down_unneeded_time_seconds=data["unneeded_time_s"],
        scale_down_unready_time_seconds=data["unready_time_s"],
    )
    min_nodes = 0
    for quota in data.get("quotas") or ():
        objects.known(quota, ("name", "min_limits", "max_limits"), "quota")
        limits = quota.get("min_limits") or {}
        objects.known(limits, ("nodes", "cpu", "memory"), "min_limits")
        min_nodes = max(min_nodes, limits.get("nodes", 0))
        if "cpu" in limits or "memory" in limits:
            options = options.with_changes(
                cores_total=(limits.get("cpu", 0), options.cores_total[1]),
                memory_total_bytes=(limits.get("memory", 0), options.memory_total_bytes[1]),
            )
    error = "could not read the group's options" if data["threshold_lookup_error"] else None
    group = NodeGroupState(
        "ng1",
        data["min_size"],
        1000,
        data["target_size"],
        deleting=data.get("ongoing_deletions", 0),
        options=GroupOptions(error=error),
    )
    groups = [group] if data["in_node_group"] else []
    candidate = _candidate(
        "n1",
        group,
        drain=False,
        ready=data["ready"],
        disabled=data["scale_down_disabled_annotation"],
    )
    since = {"n1": now - data["unneeded_since_s_ago"]}
    usage = Usage(max(1, data["target_size"]), 1, 1)
    candidate.usage = Usage(1, 1, 1)
    _empty, _drain, refused = removable_at(
        [candidate], since, groups, usage, options, now, min_nodes=min_nodes
    )
    reason = refused["n1"].reason.value if "n1" in refused else "NoReason"
    assert reason == (expected["reason"] or "NoReason"), refused
