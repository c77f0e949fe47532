"""Builders and small API helpers for ScaledObject tests (integration and e2e).

Everything goes through the Kubernetes REST API of the embedded server, as a user's kubectl
would; nothing reaches into the server's store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from podscaler.kube.clients import MERGE_PATCH, Kube

SO_PATH = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/{ns}/scaledobjects"


def deployment(name: str, replicas: int, *, cpu_request: str = "500m") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "example/app:1",
                            "env": [{"name": "PROM_QUERY", "value": "sum(queue_depth)"}],
                            "resources": {"requests": {"cpu": cpu_request}},
                        }
                    ]
                },
            },
        },
    }


def prometheus_trigger(
    url: str, *, threshold: str = "10", activation: str = "5", query: str = "sum(queue_depth)"
) -> dict[str, Any]:
    return {
        "type": "prometheus",
        "metadata": {
            "serverAddress": url,
            "query": query,
            "threshold": threshold,
            "activationThreshold": activation,
        },
    }


def scaled_object(
    name: str, target: str, triggers: list[dict[str, Any]], **spec: Any
) -> dict[str, Any]:
    annotations = spec.pop("annotations", None)
    body: dict[str, Any] = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name},
        "spec": {"scaleTargetRef": {"name": target}, "triggers": triggers, **spec},
    }
    if annotations:
        body["metadata"]["annotations"] = annotations
    return body


async def create(kube: Kube, path: str, body: dict[str, Any]) -> dict[str, Any]:
    return await kube.request("POST", path, body=body)


async def create_deployment(kube: Kube, body: dict[str, Any], ns: str = "default") -> None:
    await create(kube, f"/apis/apps/v1/namespaces/{ns}/deployments", body)


async def create_so(kube: Kube, body: dict[str, Any], ns: str = "default") -> None:
    await create(kube, SO_PATH.format(ns=ns), body)


async def get_so(kube: Kube, name: str, ns: str = "default") -> dict[str, Any]:
    return await kube.request("GET", SO_PATH.format(ns=ns) + f"/{name}")


async def patch_so(kube: Kube, name: str, patch: dict[str, Any], ns: str = "default") -> None:
    await kube.request(
        "PATCH", SO_PATH.format(ns=ns) + f"/{name}", body=patch, content_type=MERGE_PATCH
    )


async def replicas(kube: Kube, name: str, ns: str = "default") -> int:
    scale = await kube.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale")
    return int((scale.get("spec") or {}).get("replicas") or 0)


async def has_replicas(kube: Kube, name: str, count: int, ns: str = "default") -> bool:
    """Whether Deployment *name* is at *count* replicas (a :func:`wait_for` condition)."""
    return await replicas(kube, name, ns) == count


def condition(so: dict[str, Any], kind: str) -> dict[str, Any]:
    for c in (so.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return dict(c)
    return {}


async def events(kube: Kube, ns: str = "default") -> list[dict[str, Any]]:
    answer = await kube.request("GET", f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
    return list(answer.get("items") or [])


async def ready_pod(
    kube: Kube, name: str, app: str, *, cpu_request: str = "500m", ns: str = "default"
) -> None:
    """A Running, Ready pod of the Deployment *app* (there are no workload controllers)."""
    started = datetime(2020, 1, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "containers": [
                {"name": "app", "image": "x", "resources": {"requests": {"cpu": cpu_request}}}
            ]
        },
    }
    created = await create(kube, f"/api/v1/namespaces/{ns}/pods", pod)
    created["status"] = {
        "phase": "Running",
        "startTime": started,
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": started}],
    }
    await kube.request("PUT", f"/api/v1/namespaces/{ns}/pods/{name}/status", body=created)


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout_seconds: float = 10.0, every: float = 0.1
) -> None:
    """Poll an async check until it is true; TimeoutError after *timeout_seconds*."""
    async with asyncio.timeout(timeout_seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(every)
