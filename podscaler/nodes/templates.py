"""Node-group templates: what a node the group does not have yet would look like, so
binpacking can place pending pods on it.

As Cluster Autoscaler (``mixed_nodeinfos_processor.go``), in order of preference:

1. a real node of the group that is ready, schedulable and not being deleted, *sanitized*:
   renamed, its workload pods dropped, its DaemonSet and static pods kept, autoscaler taints
   (``ToBeDeletedByClusterAutoscaler``, ``DeletionCandidateOfClusterAutoscaler``) removed;
2. the provider's template node (on AWS built from the instance type and the ASG's
   node-template tags by :func:`asg_template_node`) — what makes scale-from-zero work;
3. any other node of the group (unready or cordoned), sanitized the same way.

Then the DaemonSets that would run on such a node add their pods (DaemonSet overhead): a
DaemonSet runs where its node selector, node affinity and taints allow (with the tolerations
the DaemonSet controller adds), whatever the resources.

:func:`asg_template_node` follows CA's AWS ``buildNodeFromTemplate``: capacity from the
instance type (``pods`` 110, ``nvidia.com/gpu`` always present), overridden or extended by
``…/node-template/resources/*`` tags, **allocatable equal to capacity** (CA subtracts no
kube-reserved; a caller who knows the reservation passes ``reserved``), generic labels
(arch, os, instance type, region = zone minus its last letter, the first zone only, the EBS
CSI zone, hostname) plus tag labels, and tag taints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from podscaler.api.quantities import Quantity, parse_quantity
from podscaler.nodes.asgtags import labels_from_tags, resources_from_tags, taints_from_tags
from podscaler.nodes.instancetypes import InstanceType
from podscaler.nodes.nodestate import NodeState, PodSpecError, node_name
from podscaler.nodes.predicates import PodRequirements, static_failure
from podscaler.nodes.snapshot import ClusterSnapshot, NodeGroupState, is_ready

__all__ = [
    "TAINT_DELETION_CANDIDATE",
    "TAINT_TO_BE_DELETED",
    "GroupTemplate",
    "asg_instance_type",
    "asg_template_node",
    "daemonset_pods",
    "group_template",
    "renamed",
]

TAINT_TO_BE_DELETED: Final = "ToBeDeletedByClusterAutoscaler"
TAINT_DELETION_CANDIDATE: Final = "DeletionCandidateOfClusterAutoscaler"
LABEL_HOSTNAME: Final = "kubernetes.io/hostname"
GPU_RESOURCE: Final = "nvidia.com/gpu"
MIRROR_ANNOTATION: Final = "kubernetes.io/config.mirror"

#: Tolerations the DaemonSet controller gives every DaemonSet pod.
_DAEMONSET_TOLERATIONS: Final = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
_HOST_NETWORK_TOLERATION: Final = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}


def _quantity_text(quantity: Quantity) -> str:
    return str(quantity)


def asg_template_node(
    instance: InstanceType,
    asg_name: str,
    zones: Sequence[str],
    tags: Mapping[str, str],
    *,
    name: str | None = None,
    reserved: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Node a new instance of ``asg_name`` would register as (CA's
    ``buildNodeFromTemplate``). ``reserved`` (``{"cpu": "100m", "memory": "512Mi"}``) is
    subtracted from allocatable when given; CA subtracts nothing."""
    node_name_ = name or f"{asg_name}-template"
    capacity: dict[str, Quantity] = {
        "pods": parse_quantity(110),
        "cpu": parse_quantity(instance.vcpu),
        GPU_RESOURCE: parse_quantity(instance.gpu),
        "memory": parse_quantity(instance.memory_mib * 1024 * 1024),
    }
    capacity.update(resources_from_tags(tags))
    allocatable = dict(capacity)
    for resource, amount in (reserved or {}).items():
        if resource in allocatable:
            left = allocatable[resource] - parse_quantity(amount)
            allocatable[resource] = left if not left.value < 0 else parse_quantity(0)
    zone = zones[0] if zones else ""
    labels = {
        "kubernetes.io/arch": instance.architecture,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": instance.name,
        "topology.kubernetes.io/region": zone[:-1],
        "topology.kubernetes.io/zone": zone,
        "topology.ebs.csi.aws.com/zone": zone,
        LABEL_HOSTNAME: node_name_,
        **labels_from_tags(tags),
    }
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node_name_, "labels": labels},
        "spec": {},
        "status": {
            "capacity": {k: _quantity_text(v) for k, v in capacity.items()},
            "allocatable": {k: _quantity_text(v) for k, v in allocatable.items()},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    taints = taints_from_tags(tags)
    if taints:
        node["spec"]["taints"] = taints
    return node


def asg_instance_type(
    asg: Mapping[str, Any],
    *,
    launch_template_data: Mapping[str, Any] | None = None,
    launch_configuration: Mapping[str, Any] | None = None,
) -> str | None:
    """The instance type CA assumes for every node of an ASG (``DescribeAutoScalingGroups``
    shape): a MixedInstancesPolicy's **first** override, else the launch template's type
    (``LaunchTemplateData`` from ``DescribeLaunchTemplateVersions``), else the launch
    configuration's. None when it takes an API call to know (attribute-based
    ``InstanceRequirements``) or nothing says."""
    policy = asg.get("MixedInstancesPolicy")
    if isinstance(policy, Mapping):
        spec = policy.get("LaunchTemplate") or {}
        overrides = spec.get("Overrides") if isinstance(spec, Mapping) else None
        if isinstance(overrides, list) and overrides:
            first = overrides[0]
            if isinstance(first, Mapping) and isinstance(first.get("InstanceType"), str):
                return str(first["InstanceType"])
            return None
    if launch_template_data is not None:
        kind = launch_template_data.get("InstanceType")
        return kind if isinstance(kind, str) else None
    if launch_configuration is not None:
        kind = launch_configuration.get("InstanceType")
        return kind if isinstance(kind, str) else None
    return None


def is_daemonset_pod(pod: Mapping[str, Any]) -> bool:
    """Owned by a DaemonSet, or annotated ``cluster-autoscaler.kubernetes.io/daemonset-pod``."""
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    if annotations.get("cluster-autoscaler.kubernetes.io/daemonset-pod") == "true":
        return True
    return any(
        isinstance(ref, Mapping) and ref.get("kind") == "DaemonSet" and ref.get("controller")
        for ref in meta.get("ownerReferences") or ()
    )


def is_mirror_pod(pod: Mapping[str, Any]) -> bool:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return MIRROR_ANNOTATION in annotations


def _daemonset_pod(daemonset: Mapping[str, Any]) -> dict[str, Any] | None:
    meta = daemonset.get("metadata") or {}
    spec = daemonset.get("spec") or {}
    template = spec.get("template") if isinstance(spec, Mapping) else None
    if not isinstance(template, Mapping):
        return None
    pod_meta = template.get("metadata") or {}
    pod_spec = dict(template.get("spec") or {})
    tolerations = [*(pod_spec.get("tolerations") or []), *_DAEMONSET_TOLERATIONS]
    if pod_spec.get("hostNetwork"):
        tolerations.append(_HOST_NETWORK_TOLERATION)
    pod_spec["tolerations"] = tolerations
    name = str(meta.get("name") or "daemonset")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-template",
            "namespace": meta.get("namespace") or "default",
            "labels": dict(pod_meta.get("labels") or {}),
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "controller": True}
            ],
        },
        "spec": pod_spec,
        "status": {"phase": "Running"},
    }


def daemonset_pods(
    state: NodeState, daemonsets: Sequence[Mapping[str, Any]], *, skip: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Pods of the DaemonSets (by name, except ``skip``) that would run on ``state``."""
    found: list[dict[str, Any]] = []
    for daemonset in daemonsets:
        name = str((daemonset.get("metadata") or {}).get("name") or "")
        if name in skip:
            continue
        pod = _daemonset_pod(daemonset)
        if pod is None:
            continue
        try:
            requirements = PodRequirements.from_pod(pod)
        except PodSpecError:
            continue
        if static_failure(requirements, state) is None:
            found.append(pod)
    return found


def renamed(state: NodeState, name: str) -> NodeState:
    """A copy of a template state as a node called ``name`` (hostname label included)."""
    labels = dict(state.labels)
    if LABEL_HOSTNAME in labels or not labels:
        labels[LABEL_HOSTNAME] = name
    return NodeState(
        node=state.node,
        name=name,
        labels=labels,
        unschedulable=state.unschedulable,
        taints=state.taints,
        allocatable=state.allocatable,
        allowed_pods=state.allowed_pods,
        requested=state.requested,
        nonzero_requested=state.nonzero_requested,
        pods=state.pods,
        host_ports=state.host_ports,
    )


@dataclass(frozen=True)
class GroupTemplate:
    """A group's template: the node (sanitized dict), its predicate state with DaemonSet and
    static pods, and where it came from (``node:<name>``, ``provider``)."""

    group: str
    node: Mapping[str, Any]
    state: NodeState
    source: str


def _sanitized(node: Mapping[str, Any], name: str) -> dict[str, Any]:
    meta = dict(node.get("metadata") or {})
    labels = dict(meta.get("labels") or {})
    if LABEL_HOSTNAME in labels:
        labels[LABEL_HOSTNAME] = name
    meta.update({"name": name, "labels": labels})
    for key in ("uid", "resourceVersion", "creationTimestamp", "annotations"):
        meta.pop(key, None)
    spec = dict(node.get("spec") or {})
    taints = [
        t
        for t in spec.get("taints") or ()
        if isinstance(t, Mapping)
        and t.get("key") not in (TAINT_TO_BE_DELETED, TAINT_DELETION_CANDIDATE)
    ]
    spec["taints"] = taints
    spec.pop("unschedulable", None)
    spec.pop("providerID", None)
    status = dict(node.get("status") or {})
    status["conditions"] = [{"type": "Ready", "status": "True"}]
    return {**node, "metadata": meta, "spec": spec, "status": status}


def _usable_example(node: Mapping[str, Any]) -> bool:
    spec = node.get("spec") or {}
    if spec.get("unschedulable"):
        return False
    if any(
        isinstance(t, Mapping) and t.get("key") == TAINT_TO_BE_DELETED
        for t in spec.get("taints") or ()
    ):
        return False
    return is_ready(node)


def group_template(
    group: NodeGroupState,
    snapshot: ClusterSnapshot,
    *,
    nodes_by_name: Mapping[str, Mapping[str, Any]] | None = None,
    pods_by_node: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> GroupTemplate | None:
    """The group's template, or None when there is neither a node nor a provider template."""
    by_name = nodes_by_name or {node_name(n): n for n in snapshot.nodes}
    members = [by_name[n] for n in group.node_names if n in by_name]
    example = next((n for n in members if _usable_example(n)), None)
    source = f"node:{node_name(example)}" if example is not None else "provider"
    base: Mapping[str, Any] | None = example
    if base is None:
        base = group.template
    if base is None and members:
        base = members[0]
        source = f"node:{node_name(base)}"
    if base is None:
        return None
    name = f"template-node-for-{group.id}"
    node = _sanitized(base, name)
    kept: list[Mapping[str, Any]] = []
    if source.startswith("node:") and pods_by_node is not None:
        kept = [
            p
            for p in pods_by_node.get(node_name(base), ())
            if is_daemonset_pod(p) or is_mirror_pod(p)
        ]
    try:
        state = NodeState.build(node, kept)
    except PodSpecError:
        return None
    present = frozenset(
        str(ref.get("name"))
        for p in kept
        for ref in (p.get("metadata") or {}).get("ownerReferences") or ()
        if isinstance(ref, Mapping) and ref.get("kind") == "DaemonSet"
    )
    for pod in daemonset_pods(state, snapshot.daemonsets, skip=present):
        state = state.with_pod(pod)
    return GroupTemplate(group.id, node, state, source)
