"""Node utilization as scale-down sees it (CA's ``simulator/utilization``): requests, not
usage, over allocatable.

For cpu and memory: ``Σ requests of counted pods / (allocatable - Σ requests of skipped
pods)``, where DaemonSet pods (``--ignore-daemonsets-utilization``) and static pods
(``--ignore-mirror-pods-utilization``) are *skipped* — out of the numerator and out of the
room — and pods terminating past their grace period are ignored. The node's utilization is
the larger of the two (memory on a tie) and may exceed 1.

A GPU node (``nvidia.com/gpu`` allocatable, or the ``k8s.amazonaws.com/accelerator`` label)
is judged by its GPU requests alone; one whose GPU is not allocatable yet counts as 0, so a
node whose driver never came up can still be removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from podscaler.nodes.drain import is_long_terminating
from podscaler.nodes.nodestate import Resources, node_allocatable
from podscaler.nodes.plans import Utilization
from podscaler.nodes.templates import GPU_RESOURCE, is_daemonset_pod, is_mirror_pod

__all__ = ["GPU_LABEL", "UtilizationError", "is_gpu_node", "node_utilization"]

GPU_LABEL: Final = "k8s.amazonaws.com/accelerator"


class UtilizationError(ValueError):
    """The node lacks allocatable cpu or memory (or has zero): CA's ``UnexpectedError``."""


def is_gpu_node(node: Mapping[str, Any]) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    if GPU_LABEL in labels:
        return True
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    amount = allocatable.get(GPU_RESOURCE)
    return amount not in (None, "0", 0)


def _share(
    resource: str,
    allocatable: Mapping[str, int],
    pods: Iterable[tuple[Mapping[str, Any], Resources]],
    now: float,
    skip_daemonsets: bool,
    skip_mirror: bool,
) -> float:
    total = allocatable.get(resource)
    if not total:
        raise UtilizationError(f"{resource} is not allocatable on the node")
    counted = skipped = 0
    for pod, requests in pods:
        amount = requests.amounts().get(resource, 0)
        if (skip_daemonsets and is_daemonset_pod(pod)) or (skip_mirror and is_mirror_pod(pod)):
            skipped += amount
            continue
        if is_long_terminating(pod, now):
            continue
        counted += amount
    return counted / (total - skipped) if total - skipped else float("inf")


def node_utilization(
    node: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    now: float,
    *,
    skip_daemonsets: bool = False,
    skip_mirror: bool = False,
    requests_of: Callable[[Mapping[str, Any]], Resources] | None = None,
) -> Utilization:
    """The node's utilization; :class:`UtilizationError` when it cannot be computed.
    ``requests_of`` returns a pod's effective requests (the snapshot's cached parse)."""
    from podscaler.nodes.nodestate import pod_requests

    read = requests_of or pod_requests
    allocatable_resources, _ = node_allocatable(node)
    status = node.get("status") or {}
    listed = status.get("allocatable")
    if listed is None:
        listed = status.get("capacity") or {}
    allocatable = {k: v for k, v in allocatable_resources.amounts().items() if k in listed}
    items = [(pod, read(pod)) for pod in pods]
    if is_gpu_node(node):
        try:
            gpu = _share(GPU_RESOURCE, allocatable, items, now, skip_daemonsets, skip_mirror)
        except UtilizationError:
            return Utilization(0.0, GPU_RESOURCE, gpu=0.0)
        return Utilization(gpu, GPU_RESOURCE, gpu=gpu)
    cpu = _share("cpu", allocatable, items, now, skip_daemonsets, skip_mirror)
    memory = _share("memory", allocatable, items, now, skip_daemonsets, skip_mirror)
    if cpu > memory:
        return Utilization(cpu, "cpu", cpu=cpu, memory=memory)
    return Utilization(memory, "memory", cpu=cpu, memory=memory)
