"""The target's pods and their resource usage, as the HPA engine needs them.

Only some metrics need pods: cpu/memory triggers (utilization over requests, readiness rules)
and ``Value`` targets (ready pod count). ``AverageValue`` external metrics — the common case,
and every prometheus/cron trigger by default — use ``/scale``'s ``status.replicas`` alone. So
pods are *listed on demand*, by the scale selector, only for objects that need them, instead of
keeping an informer over every pod of the cluster in memory for all objects.

The conversions from JSON to ``engine.hpa`` records are pure and live in
:mod:`podscaler.engine.hpa.objects` (the embedded HPA controller uses them too).
"""

from __future__ import annotations

from typing import Any

from podscaler.kube.clients import Kube

__all__ = ["list_pod_metrics", "list_pods"]


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
