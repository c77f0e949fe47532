"""Pods and PodMetrics as the Kubernetes API serves them, turned into the engine's records.

Two callers read the same JSON for the same algorithm: the ScaledObject controller (direct mode)
and the embedded cluster's HPA controller. The translation is pure, so it lives here once.
Times become Unix seconds, the clock both callers give ``decide`` as ``now_seconds``; a missing
Ready transition time is Go's zero time, as upstream's pod lister hands it over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any, Final

from podscaler.api.conditions import Condition, ConditionStatus, condition_from_json
from podscaler.api.quantities import QuantityError, parse_quantity
from podscaler.api.timestamps import parse_seconds
from podscaler.engine.hpa.types import (
    ZERO_TIME_SECONDS,
    ContainerRequests,
    PodFacts,
    PodPhase,
    PodResourceUsage,
    ResourceReading,
)

__all__ = ["ZERO_TIME_SECONDS", "milli_of", "pod_facts", "resource_reading"]

#: The type of a pod's readiness condition.
POD_READY: Final = "Ready"


def milli_of(value: object) -> int | None:
    """A quantity in milli-units (millicores, milli-bytes); None when absent or malformed."""
    if value is None:
        return None
    return _milli_of_text(value if isinstance(value, str) else str(value))


@lru_cache(maxsize=4096)
def _milli_of_text(text: str) -> int | None:
    """Parsed once per distinct text: every poll reads each pod's requests again (the same few
    strings, pod after pod) and its usage, and parsing was most of turning a pod list into
    records. Bounded, and pure (an int per string), so the cache only saves time."""
    try:
        return parse_quantity(text).milli_value()
    except (QuantityError, ValueError):
        return None


def _requests(container: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for resource, amount in ((container.get("resources") or {}).get("requests") or {}).items():
        milli = milli_of(amount)
        if milli is not None:
            out[str(resource)] = milli
    return out


def pod_facts(pod: Mapping[str, Any]) -> PodFacts:
    """One pod as the HPA sees it: phase, readiness, start time, deletion, requests.

    Requests count the app containers and the sidecars (init containers with
    ``restartPolicy: Always``), as upstream's resource calculation does.
    """
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    try:
        phase = PodPhase(str(status.get("phase") or "Pending"))
    except ValueError:
        phase = PodPhase.UNKNOWN
    ready = None
    for condition in status.get("conditions") or []:
        if condition.get("type") == POD_READY:
            # A status that is none of True/False/Unknown counts as Unknown (it is neither).
            ready = condition_from_json(condition) or Condition(
                POD_READY,
                ConditionStatus.UNKNOWN,
                last_transition_seconds=parse_seconds(condition.get("lastTransitionTime")),
            )
            if ready.last_transition_seconds is None:
                ready = replace(ready, last_transition_seconds=ZERO_TIME_SECONDS)
    containers = [
        ContainerRequests(str(c.get("name") or ""), _requests(c))
        for c in spec.get("containers") or []
    ]
    containers.extend(
        ContainerRequests(str(c.get("name") or ""), _requests(c))
        for c in spec.get("initContainers") or []
        if c.get("restartPolicy") == "Always"
    )
    return PodFacts(
        name=str(meta.get("name") or ""),
        phase=phase,
        ready=ready,
        start_time_seconds=parse_seconds(status.get("startTime")),
        deleting=bool(meta.get("deletionTimestamp")),
        containers=tuple(containers),
    )


def _window_seconds(text: object) -> float:
    if isinstance(text, str) and text.endswith("s"):
        try:
            return float(text[:-1])
        except ValueError:
            return 0.0
    return 0.0


def resource_reading(items: Sequence[Mapping[str, Any]]) -> ResourceReading:
    """PodMetrics items (metrics.k8s.io) as the engine's reading, usage in milli-units."""
    pods: list[PodResourceUsage] = []
    for item in items:
        containers: dict[str, dict[str, int]] = {}
        for container in item.get("containers") or []:
            usage: dict[str, int] = {}
            for resource, amount in (container.get("usage") or {}).items():
                milli = milli_of(amount)
                if milli is not None:
                    usage[str(resource)] = milli
            containers[str(container.get("name") or "")] = usage
        stamp = parse_seconds(item.get("timestamp"))
        pods.append(
            PodResourceUsage(
                pod=str((item.get("metadata") or {}).get("name") or ""),
                containers=containers,
                timestamp_seconds=0.0 if stamp is None else stamp,
                window_seconds=_window_seconds(item.get("window")),
            )
        )
    return ResourceReading(tuple(pods))
