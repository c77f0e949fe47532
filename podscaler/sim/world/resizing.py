"""In-place pod resize as the kubelet does it (Kubernetes ≥ 1.33, ``InPlacePodVerticalScaling``).

A resize is a write of new container ``resources`` through the ``pods/resize`` subresource. The
kubelet then compares what the spec asks for with what it has allocated to the pod and reports
through two pod conditions (1.33 replaced the deprecated ``status.resize`` field with them):

* ``PodResizePending`` with reason ``Infeasible`` when the pod's requests cannot fit the node
  even empty (more than its allocatable), or ``Deferred`` when they do not fit beside the other
  pods now — a deferred resize is retried as room appears;
* ``PodResizeInProgress`` while an accepted resize is being actuated; when it is done the
  condition goes away and ``containerStatuses[].resources`` (and ``allocatedResources``) show
  the new amounts.

The decision is :func:`decide`, pure: the node, the other pods on it and the pod as it is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from podscaler.nodes.nodestate import is_terminal, node_allocatable, pod_requests

__all__ = [
    "RESIZE_CONDITIONS",
    "RESIZE_IN_PROGRESS",
    "RESIZE_PENDING",
    "ResizeDecision",
    "decide",
    "spec_resources",
]

RESIZE_PENDING: Final = "PodResizePending"
RESIZE_IN_PROGRESS: Final = "PodResizeInProgress"
RESIZE_CONDITIONS: Final = frozenset({RESIZE_PENDING, RESIZE_IN_PROGRESS})


@dataclass(frozen=True, slots=True)
class ResizeDecision:
    """``Accepted``, or pending with reason ``Deferred`` / ``Infeasible`` and a message."""

    outcome: Literal["Accepted", "Deferred", "Infeasible"]
    message: str = ""


def spec_resources(pod: Mapping[str, Any]) -> dict[str, Any]:
    """Container name → its ``resources`` as the spec asks (``{}`` for none)."""
    found: dict[str, Any] = {}
    for container in (pod.get("spec") or {}).get("containers") or ():
        if isinstance(container, Mapping):
            found[str(container.get("name"))] = container.get("resources") or {}
    return found


def decide(
    pod: Mapping[str, Any], node: Mapping[str, Any], others: Iterable[Mapping[str, Any]]
) -> ResizeDecision:
    """Whether the node can give ``pod`` its new requests beside ``others`` (its other pods)."""
    wanted = pod_requests(pod)
    allocatable, _pods = node_allocatable(node)
    for name, want, have in (
        ("cpu", wanted.cpu_millicores, allocatable.cpu_millicores),
        ("memory", wanted.memory_bytes, allocatable.memory_bytes),
    ):
        if want > have:
            return ResizeDecision(
                "Infeasible",
                f"Node didn't have enough capacity: {name}, requested: {want}, capacity: {have}",
            )
    used_cpu = used_memory = 0
    for other in others:
        if is_terminal(other):
            continue
        requests = pod_requests(other)
        used_cpu += requests.cpu_millicores
        used_memory += requests.memory_bytes
    for name, want, used, have in (
        ("cpu", wanted.cpu_millicores, used_cpu, allocatable.cpu_millicores),
        ("memory", wanted.memory_bytes, used_memory, allocatable.memory_bytes),
    ):
        if want + used > have:
            return ResizeDecision(
                "Deferred",
                f"Node didn't have enough resource: {name}, requested: {want}, used: {used}, "
                f"capacity: {have}",
            )
    return ResizeDecision("Accepted")
