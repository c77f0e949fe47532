"""The target's pods and their resource usage, as the HPA engine needs them.

Only some metrics need pods: cpu/memory triggers (utilization over requests, readiness rules)
and ``Value`` targets (ready pod count). ``AverageValue`` external metrics — the common case,
and every prometheus/cron trigger by default — use ``/scale``'s ``status.replicas`` alone. So
pods are *listed on demand*, by the scale selector, only for objects that need them, instead of
keeping an informer over every pod of the cluster in memory for all objects.

The conversions from JSON to ``engine.hpa`` records are pure and unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from podscaler.api.quantities import QuantityError, parse_quantity
from podscaler.controllers.scaledobject.mapping import parse_time, seconds_of
from podscaler.engine import hpa
from podscaler.kube.clients import Kube

__all__ = ["list_pod_metrics", "list_pods", "pod_facts", "resource_reading"]

#: Go's zero time, far in the past but finite (see ``engine.hpa.types``).
_ZERO_TIME_SECONDS = -62135596800.0


def _milli(text: object) -> int | None:
    try:
        return parse_quantity(str(text)).milli_value()
    except (QuantityError, ValueError):
        return None


def _requests(container: Mapping[str, Any]) -> dict[str, int]:
    requests = ((container.get("resources") or {}).get("requests")) or {}
    out: dict[str, int] = {}
    for resource, amount in requests.items():
        milli = _milli(amount)
        if milli is not None:
            out[str(resource)] = milli
    return out


def pod_facts(pod: Mapping[str, Any]) -> hpa.PodFacts:
    """One pod as the HPA sees it: phase, readiness, start time, deletion, requests."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    phase_text = str(status.get("phase") or "Pending")
    try:
        phase = hpa.PodPhase(phase_text)
    except ValueError:
        phase = hpa.PodPhase.UNKNOWN
    ready = None
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            moment = parse_time(condition.get("lastTransitionTime"))
            ready = hpa.ReadyCondition(
                str(condition.get("status") or "Unknown"),
                seconds_of(moment) if moment is not None else _ZERO_TIME_SECONDS,
            )
    started = parse_time(status.get("startTime"))
    containers = [
        hpa.ContainerRequests(str(c.get("name") or ""), _requests(c))
        for c in spec.get("containers") or []
    ]
    containers.extend(
        hpa.ContainerRequests(str(c.get("name") or ""), _requests(c))
        for c in spec.get("initContainers") or []
        if c.get("restartPolicy") == "Always"
    )
    return hpa.PodFacts(
        name=str(meta.get("name") or ""),
        phase=phase,
        ready=ready,
        start_time_seconds=seconds_of(started) if started is not None else None,
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


def resource_reading(items: Sequence[Mapping[str, Any]]) -> hpa.ResourceReading:
    """PodMetrics items (metrics.k8s.io) as the engine's reading, usage in milli-units."""
    pods: list[hpa.PodResourceUsage] = []
    for item in items:
        containers: dict[str, dict[str, int]] = {}
        for container in item.get("containers") or []:
            usage: dict[str, int] = {}
            for resource, amount in (container.get("usage") or {}).items():
                milli = _milli(amount)
                if milli is not None:
                    usage[str(resource)] = milli
            containers[str(container.get("name") or "")] = usage
        stamp = parse_time(item.get("timestamp"))
        pods.append(
            hpa.PodResourceUsage(
                pod=str((item.get("metadata") or {}).get("name") or ""),
                containers=containers,
                timestamp_seconds=seconds_of(stamp) if stamp is not None else 0.0,
                window_seconds=_window_seconds(item.get("window")),
            )
        )
    return hpa.ResourceReading(tuple(pods))


async def list_pods(kube: Kube, namespace: str, selector: str) -> list[dict[str, Any]]:
    answer = await kube.request(
        "GET", f"/api/v1/namespaces/{namespace}/pods", params={"labelSelector": selector}
    )
    return [p for p in answer.get("items") or [] if isinstance(p, dict)]


async def list_pod_metrics(kube: Kube, namespace: str, selector: str) -> list[dict[str, Any]]:
    answer = await kube.request(
        "GET",
        f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods",
        params={"labelSelector": selector},
    )
    return [p for p in answer.get("items") or [] if isinstance(p, dict)]
