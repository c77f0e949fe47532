"""``--balance-similar-node-groups``: which groups are interchangeable, and how a scale-up is
spread over them (CA's ``processors/nodegroupset``).

Two groups are **similar** when their templates have (CA's ``IsCloudProviderNodeInfoSimilar``):

* the same capacity resources, memory within ``--memory-difference-ratio`` (1.5 %) of the
  larger value and every other capacity exactly equal;
* every allocatable resource within ``--max-allocatable-difference-ratio`` (5 %), and every
  free resource (allocatable - requests of the template's pods, e.g. DaemonSets) within
  ``--max-free-difference-ratio`` (5 %);
* equal labels, except the ignored ones: hostname, zone and region (both spellings),
  ``beta.kubernetes.io/fluentd-ds-ready``, ``kops.k8s.io/instancegroup``, AWS's own (eksctl,
  EKS node group, ENI config, ``lifecycle``, EBS CSI zone, zone id) and every
  ``--balancing-ignore-label``. With ``--balancing-label`` only the listed labels are
  compared, and nothing else.

A scale-up of N nodes is then **water-filled**: groups already at their maximum drop out, N is
capped at the free capacity of the set, and nodes go one at a time to the smallest group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from podscaler.nodes.nodestate import NodeState, node_capacity
from podscaler.nodes.options import NodeAutoscalerOptions
from podscaler.nodes.plans import GroupScaleUp

__all__ = [
    "AWS_IGNORED_LABELS",
    "BASIC_IGNORED_LABELS",
    "GroupSize",
    "balance_scale_up",
    "similar",
]

BASIC_IGNORED_LABELS: Final = frozenset(
    {
        "kubernetes.io/hostname",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "beta.kubernetes.io/fluentd-ds-ready",
        "kops.k8s.io/instancegroup",
    }
)
AWS_IGNORED_LABELS: Final = frozenset(
    {
        "alpha.eksctl.io/instance-id",
        "alpha.eksctl.io/nodegroup-name",
        "eks.amazonaws.com/nodegroup",
        "k8s.amazonaws.com/eniConfig",
        "lifecycle",
        "topology.ebs.csi.aws.com/zone",
        "topology.k8s.aws/zone-id",
    }
)


def _capacity(state: NodeState) -> dict[str, int]:
    return node_capacity(state.node)


def _allocatable(state: NodeState) -> dict[str, int]:
    status = state.node.get("status") or {}
    raw = status.get("allocatable")
    if raw is None:
        raw = status.get("capacity") or {}
    found = {k: v for k, v in state.allocatable.amounts().items() if k in raw}
    if "pods" in raw:
        found["pods"] = state.allowed_pods
    return found


def _within(a: int, b: int, ratio: float) -> bool:
    larger, smaller = max(a, b), min(a, b)
    return larger - smaller <= larger * ratio


def similar(
    a: NodeState,
    b: NodeState,
    options: NodeAutoscalerOptions,
    *,
    extra_ignored: Iterable[str] = AWS_IGNORED_LABELS,
) -> bool:
    """Whether two group templates are similar enough to balance between."""
    if options.balancing_label:
        return all(
            key in a.labels and key in b.labels and a.labels[key] == b.labels[key]
            for key in options.balancing_label
        )
    cap_a, cap_b = _capacity(a), _capacity(b)
    if set(cap_a) != set(cap_b):
        return False
    for name, amount in cap_a.items():
        if name == "memory":
            if not _within(amount, cap_b[name], options.memory_difference_ratio):
                return False
        elif amount != cap_b[name]:
            return False
    alloc_a, alloc_b = _allocatable(a), _allocatable(b)
    if set(alloc_a) != set(alloc_b) or not all(
        _within(v, alloc_b[k], options.max_allocatable_difference_ratio) for k, v in alloc_a.items()
    ):
        return False
    free_a = _free(a, alloc_a)
    free_b = _free(b, alloc_b)
    if set(free_a) != set(free_b) or not all(
        _within(v, free_b[k], options.max_free_difference_ratio) for k, v in free_a.items()
    ):
        return False
    ignored = BASIC_IGNORED_LABELS | frozenset(extra_ignored) | set(options.balancing_ignore_label)
    labels_a = {k: v for k, v in a.labels.items() if k not in ignored}
    labels_b = {k: v for k, v in b.labels.items() if k not in ignored}
    return labels_a == labels_b


def _free(state: NodeState, allocatable: Mapping[str, int]) -> dict[str, int]:
    """Allocatable minus requested, over what the scheduler's requested list holds: cpu,
    memory, pods and ephemeral-storage always (pods requested count as 0, as there), plus
    the extended resources pods request. A resource the node does not list counts as 0."""
    requested = state.requested.amounts()
    names = {"cpu", "memory", "pods", "ephemeral-storage"} | {k for k, v in requested.items() if v}
    return {k: allocatable.get(k, 0) - requested.get(k, 0) for k in names}


@dataclass(frozen=True)
class GroupSize:
    group: str
    current: int
    max_size: int


def balance_scale_up(groups: Sequence[GroupSize], new_nodes: int) -> list[GroupScaleUp]:
    """Spread ``new_nodes`` over ``groups`` (CA's ``BalanceScaleUpBetweenGroups``); only the
    groups whose size changes are returned."""
    infos: list[list[int | str]] = []
    capacity = 0
    for group in groups:
        if group.current == group.max_size:
            continue
        if group.max_size > group.current:
            capacity += group.max_size - group.current
        infos.append([group.group, group.current, group.current, group.max_size])
    new_nodes = min(new_nodes, capacity)
    infos.sort(key=lambda info: info[1])
    start = current = 0
    while new_nodes > 0:
        info = infos[current]
        if int(info[2]) < int(info[3]):
            info[2] = int(info[2]) + 1
            new_nodes -= 1
        else:
            infos[start], infos[current] = infos[current], infos[start]
            start += 1
            info = infos[current]
        if current < len(infos) - 1 and int(info[2]) > int(infos[current + 1][2]):
            current += 1
        else:
            current = start
    return [
        GroupScaleUp(str(name), int(cur), int(new), int(top))
        for name, cur, new, top in infos
        if new != cur
    ]
