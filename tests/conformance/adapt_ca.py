"""Cluster Autoscaler vectors, scale-up side → :mod:`podscaler.nodes`.

Each adapter rebuilds the upstream test's objects (``ca_objects``) and calls the same planner
functions the controller uses; expected keys the adapter does not know fail the vector.
"""

from __future__ import annotations

from typing import Any

from podscaler.nodes.binpacking import NodeLimiter, estimate, order_groups
from podscaler.nodes.nodestate import NodeState
from podscaler.nodes.pending import PodGroup, build_pod_groups
from podscaler.nodes.simulation import ClusterSim
from podscaler.nodes.snapshot import ClusterSnapshot
from tests.conformance import ca_objects as objects
from tests.conformance.registry import Vector, adapter

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
    data = vector["input"]
    objects.known(
        data,
        (
            "node_template",
            "existing_nodes",
            "pod_groups",
            "max_nodes",
            "max_duration_s",
            "fastpath",
        ),
        "input",
    )
    expected = vector["expected"]
    objects.unknown_expected(expected, ("node_count", "scheduled_pod_count", "scheduled_groups"))
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
    data = vector["input"]
    objects.known(data, ("node_allocatable", "groups", "order_in"), "input")
    objects.unknown_expected(vector["expected"], ("order_out",))
    template = NodeState.build(objects.node({**data["node_allocatable"], "name": "template"}))
    names = list(data["order_in"])
    groups = [
        PodGroup.of(_requirements(objects.pod({**data["groups"][n], "name": n}))) for n in names
    ]
    ordered = [names[i] for i in order_groups(groups, template)]
    assert ordered == vector["expected"]["order_out"]


def _requirements(pod: dict[str, Any]) -> Any:
    from podscaler.nodes.predicates import PodRequirements

    return PodRequirements.from_pod(pod)
