"""Builders and small API helpers for ProportionalScaler tests (integration and e2e).

As :mod:`tests.integration.controllers.objects`, everything goes through the embedded API
server's REST API, as kubectl (or a kubelet registering its Node) would.
"""

from __future__ import annotations

from typing import Any

from podscaler.kube.clients import MERGE_PATCH, Kube
from tests.integration.controllers.objects import create, create_deployment, deployment

PS_PATH = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default/proportionalscalers"
CM_PATH = "/api/v1/namespaces/default/configmaps"


def node(name: str, *, cpu: str = "2", ready: bool = True, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "spec": {},
        "status": {
            "capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


async def add_node(kube: Kube, name: str, **kwargs: Any) -> None:
    await create(kube, "/api/v1/nodes", node(name, **kwargs))


async def patch_node(kube: Kube, name: str, patch: dict[str, Any], *, status: bool = False) -> None:
    path = f"/api/v1/nodes/{name}" + ("/status" if status else "")
    await kube.request("PATCH", path, body=patch, content_type=MERGE_PATCH)


async def nodes_and_target(kube: Kube, nodes: int, target: str) -> None:
    """The cluster most tests start from: *nodes* Ready Nodes ``n0``, ``n1`` … (2 cores each)
    and a Deployment *target* at 1 replica, not yet scaled by anyone."""
    for index in range(nodes):
        await add_node(kube, f"n{index}")
    await create_deployment(kube, deployment(target, 1))


def proportional_scaler(name: str, target: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ProportionalScaler",
        "metadata": {"name": name},
        "spec": {"scaleTargetRef": {"name": target}, **spec},
    }


async def create_ps(kube: Kube, name: str, target: str, **spec: Any) -> None:
    await create(kube, PS_PATH, proportional_scaler(name, target, **spec))


async def get_ps(kube: Kube, name: str) -> dict[str, Any]:
    return await kube.request("GET", f"{PS_PATH}/{name}")
