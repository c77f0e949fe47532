"""Builders and a settable clock for the vertical controllers' integration tests.

Everything reaches the embedded API server over HTTP, as kubectl and a kubelet would; the
clock is shared by the server (PodMetrics timestamps, Event times) and the controller, so a
test can play a day of one-minute samples in a second.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from podscaler.kube.clients import Kube

VS_PATH = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default/verticalscalers"
CP_PATH = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default/verticalscalercheckpoints"
PODS_PATH = "/api/v1/namespaces/default/pods"


class SettableClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime(2026, 3, 2, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def workload(
    name: str, replicas: int, *, cpu: str = "100m", memory: str = "50Mi"
) -> dict[str, Any]:
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
                            "name": name,
                            "image": "registry.k8s.io/ubuntu-slim:0.14",
                            "resources": {"requests": {"cpu": cpu, "memory": memory}},
                        }
                    ]
                },
            },
        },
    }


def vertical_scaler(name: str, target: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "VerticalScaler",
        "metadata": {"name": name},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            **spec,
        },
    }


async def running_pod(
    kube: Kube,
    name: str,
    app: str,
    started: datetime,
    *,
    cpu: str = "100m",
    memory: str = "50Mi",
    owner: tuple[str, str] | None = None,
    oom_at: tuple[datetime, datetime] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Running pod of *app* (there are no workload controllers in the bare server)."""
    meta: dict[str, Any] = {"name": name, "labels": {"app": app}}
    if annotations:
        meta["annotations"] = annotations
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner[0],
                "uid": owner[1],
                "controller": True,
            }
        ]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [
                {
                    "name": app,
                    "image": "x",
                    "resources": {"requests": {"cpu": cpu, "memory": memory}},
                }
            ]
        },
    }
    created = await kube.request("POST", PODS_PATH, body=pod)
    status: dict[str, Any] = {
        "phase": "Running",
        "startTime": stamp(started),
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": stamp(started)}],
    }
    if oom_at is not None:
        status["containerStatuses"] = [
            {
                "name": app,
                "ready": True,
                "restartCount": 1,
                "image": "x",
                "imageID": "",
                "state": {"running": {"startedAt": stamp(oom_at[1])}},
                "lastState": {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "OOMKilled",
                        "startedAt": stamp(oom_at[0]),
                        "finishedAt": stamp(oom_at[1]),
                    }
                },
            }
        ]
    created["status"] = status
    return await kube.request("PUT", f"{PODS_PATH}/{name}/status", body=created)


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return dict(c)
    return {}
