"""Small clusters for the planner's tests: nodes of named groups, running and pending pods."""

from __future__ import annotations

from typing import Any

from podscaler.nodes import ClusterSnapshot, NodeGroupState
from podscaler.nodes.instancetypes import INSTANCE_TYPES
from podscaler.nodes.templates import asg_template_node

NOW = 1_700_000_000.0
LONG_AGO = "2023-11-01T00:00:00Z"  # before NOW


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "16Gi",
    zone: str = "z1",
    ready: bool = True,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    resources = {"cpu": cpu, "memory": memory, "pods": "110"}
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/zone": zone,
                **(labels or {}),
            },
            "annotations": dict(annotations or {}),
        },
        "spec": {"taints": list(taints)} if taints else {},
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }
    return obj


def pod(
    name: str,
    *,
    cpu: str = "500m",
    memory: str = "512Mi",
    node_name: str | None = None,
    app: str = "web",
    namespace: str = "default",
    owner: str | None = "ReplicaSet",
    created: str = LONG_AGO,
    annotations: dict[str, str] | None = None,
    priority: int | None = None,
    **spec: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{namespace}-{name}",
        "resourceVersion": "1",
        "creationTimestamp": created,
        "labels": {"app": app},
        "annotations": dict(annotations or {}),
    }
    if owner:
        meta["ownerReferences"] = [
            {"kind": owner, "name": f"{app}-owner", "uid": f"owner-{app}", "controller": True}
        ]
    full_spec: dict[str, Any] = {
        "containers": [
            {"name": "c", "image": "i", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
        ],
        **spec,
    }
    if priority is not None:
        full_spec["priority"] = priority
    if node_name:
        full_spec["nodeName"] = node_name
        status: dict[str, Any] = {"phase": "Running"}
    else:
        status = {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": full_spec,
        "status": status,
    }


def group(
    name: str,
    nodes: list[dict[str, Any]],
    *,
    min_size: int = 0,
    max_size: int = 10,
    target: int | None = None,
    template: dict[str, Any] | None = None,
    **extra: Any,
) -> NodeGroupState:
    names = tuple(n["metadata"]["name"] for n in nodes)
    return NodeGroupState(
        id=name,
        min_size=min_size,
        max_size=max_size,
        target_size=len(names) if target is None else target,
        node_names=names,
        template=template,
        **extra,
    )


def aws_template(instance: str, group_name: str, zone: str = "z1", **tags: str) -> dict[str, Any]:
    return asg_template_node(INSTANCE_TYPES[instance], group_name, [zone], dict(tags))


def snapshot(nodes: list[dict[str, Any]], pods: list[dict[str, Any]], **kw: Any) -> ClusterSnapshot:
    return ClusterSnapshot.build(nodes, pods, **kw)
