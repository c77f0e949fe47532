"""What the recommender and the updater read from a Pod object and a PodMetrics object.

Only reading: requests (``ContainerRequests`` in milli-units, as the updater compares them),
``lastState.terminated`` entries (OOM kills and quick OOMs), the owning controller (the replica
group the eviction budget counts), ``status.startTime``, and per-container usage from
``metrics.k8s.io``. A quantity that does not parse is treated as absent rather than failing
the pass: one odd pod must not stop every other pod's sampling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from podscaler.api.quantities import Quantity, QuantityError
from podscaler.api.timestamps import parse_seconds
from podscaler.engine.vpa import ContainerRequests, ContainerTermination

__all__ = [
    "OBSERVED_CONTAINERS_ANNOTATION",
    "ContainerUsage",
    "container_requests",
    "container_terminations",
    "is_live",
    "memory_request_bytes",
    "observed_containers",
    "owner_key",
    "pod_key",
    "pod_phase",
    "pod_start_seconds",
    "running_requests",
    "usage_of",
]

Obj = dict[str, Any]

#: Upstream's annotation listing the containers the admission controller saw (kept for ports).
OBSERVED_CONTAINERS_ANNOTATION: Final = "vpaObservedContainers"


def pod_key(pod: Mapping[str, Any]) -> tuple[str, str]:
    meta = pod.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def pod_phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def is_live(pod: Mapping[str, Any]) -> bool:
    """Running or Pending and not being deleted (upstream counts only those)."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return pod_phase(pod) in ("Running", "Pending")


def pod_start_seconds(pod: Mapping[str, Any]) -> float | None:
    return parse_seconds((pod.get("status") or {}).get("startTime"))


def owner_key(pod: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(kind, name, uid)`` of the pod's controller (its ReplicaSet, StatefulSet, …)."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("kind")), str(ref.get("name")), str(ref.get("uid") or "")
    return None


def _quantity(value: Any) -> Quantity | None:
    if value is None:
        return None
    try:
        return Quantity(str(value))
    except (QuantityError, ValueError, ArithmeticError):
        return None


def container_requests(pod: Mapping[str, Any]) -> list[ContainerRequests]:
    """Each regular container's CPU (millicores) and memory (milli-bytes) requests."""
    found = []
    for container in (pod.get("spec") or {}).get("containers") or ():
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu, memory = _quantity(requests.get("cpu")), _quantity(requests.get("memory"))
        found.append(
            ContainerRequests(
                name=str(container.get("name") or ""),
                cpu_request_millicores=cpu.milli_value() if cpu is not None else None,
                memory_request_millibytes=memory.milli_value() if memory is not None else None,
            )
        )
    return found


def running_requests(pod: Mapping[str, Any]) -> list[ContainerRequests]:
    """Each container's requests as the pod *runs* with them: the kubelet's
    ``containerStatuses[].resources`` (Kubernetes ≥ 1.33) where it reports them, else the
    spec's. They differ while an in-place resize is pending: the spec already holds the new
    requests, the container still the old, and the updater must see the old ones (to fall
    back to eviction once the resize has been Deferred too long)."""
    running: dict[str, Mapping[str, Any]] = {}
    status = pod.get("status")
    entries = status.get("containerStatuses") if isinstance(status, Mapping) else None
    for entry in entries if isinstance(entries, list) else ():
        resources = entry.get("resources") if isinstance(entry, Mapping) else None
        requests = resources.get("requests") if isinstance(resources, Mapping) else None
        if isinstance(requests, Mapping) and requests:
            running[str(entry.get("name") or "")] = requests
    found = container_requests(pod)
    if not running:
        return found
    result = []
    for spec in found:
        requests = running.get(spec.name)
        if requests is None:
            result.append(spec)
            continue
        cpu, memory = _quantity(requests.get("cpu")), _quantity(requests.get("memory"))
        result.append(
            ContainerRequests(
                name=spec.name,
                cpu_request_millicores=(
                    cpu.milli_value() if cpu is not None else spec.cpu_request_millicores
                ),
                memory_request_millibytes=(
                    memory.milli_value() if memory is not None else spec.memory_request_millibytes
                ),
            )
        )
    return result


def memory_request_bytes(pod: Mapping[str, Any], container_name: str) -> int:
    for container in (pod.get("spec") or {}).get("containers") or ():
        if container.get("name") == container_name:
            requests = (container.get("resources") or {}).get("requests") or {}
            memory = _quantity(requests.get("memory"))
            return memory.int_value() if memory is not None else 0
    return 0


def container_terminations(pod: Mapping[str, Any]) -> list[ContainerTermination]:
    """Every container's ``lastState.terminated`` with both instants known."""
    found = []
    for entry in (pod.get("status") or {}).get("containerStatuses") or ():
        terminated = (entry.get("lastState") or {}).get("terminated") or {}
        started = parse_seconds(terminated.get("startedAt"))
        finished = parse_seconds(terminated.get("finishedAt"))
        if started is None or finished is None:
            continue
        found.append(
            ContainerTermination(
                container_name=str(entry.get("name") or ""),
                reason=str(terminated.get("reason") or ""),
                started_seconds=started,
                finished_seconds=finished,
            )
        )
    return found


def observed_containers(pod: Mapping[str, Any]) -> frozenset[str] | None:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(OBSERVED_CONTAINERS_ANNOTATION)
    if text is None:
        return None
    return frozenset(name.strip() for name in str(text).split(",") if name.strip())


@dataclass(frozen=True, slots=True)
class ContainerUsage:
    """One container's usage in one PodMetrics sample."""

    container_name: str
    cpu_millicores: int | None
    memory_bytes: int | None


def usage_of(pod_metrics: Mapping[str, Any]) -> tuple[float | None, list[ContainerUsage]]:
    """``(timestamp seconds, containers)`` of a PodMetrics object."""
    at = parse_seconds(pod_metrics.get("timestamp"))
    containers: list[ContainerUsage] = []
    entries = pod_metrics.get("containers")
    for entry in entries if isinstance(entries, list) else ():
        usage = entry.get("usage") if isinstance(entry, Mapping) else None
        if not isinstance(usage, Mapping):
            continue
        cpu, memory = _quantity(usage.get("cpu")), _quantity(usage.get("memory"))
        containers.append(
            ContainerUsage(
                container_name=str(entry.get("name") or ""),
                cpu_millicores=cpu.milli_value() if cpu is not None else None,
                memory_bytes=memory.int_value() if memory is not None else None,
            )
        )
    return at, containers
