"""VerticalScalerCheckpoint objects: the recommender's history, saved so a restart loses
nothing (upstream's VerticalPodAutoscalerCheckpoint, one per scaler and container).

The status is the engine's ``v3`` format (:mod:`podscaler.engine.vpa.checkpoints`); this module
only moves it to and from the API: create-or-patch on save, list on start, delete on garbage
collection. A checkpoint carries an ownerReference to its VerticalScaler so that deleting the
scaler lets the cluster's garbage collector remove its checkpoints too (the recommender also
deletes orphans itself, for API servers without one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Final

from podscaler.api.meta import API_GROUP, API_VERSION
from podscaler.engine.vpa import checkpoint_name
from podscaler.kube.clients import Kube
from podscaler.kube.errors import AlreadyExists, NotFound
from podscaler.kube.resources import Resource
from podscaler.kube.statuses import patch_status

__all__ = ["CHECKPOINTS", "delete_checkpoint", "list_checkpoints", "save_checkpoint"]

CHECKPOINTS: Final = Resource(
    group=API_GROUP,
    version=API_VERSION,
    plural="verticalscalercheckpoints",
    kind="VerticalScalerCheckpoint",
    namespaced=True,
    subresources=frozenset({"status"}),
)

Obj = dict[str, Any]


async def list_checkpoints(kube: Kube, namespace: str | None) -> list[Obj]:
    answer = await kube.request("GET", CHECKPOINTS.path(namespace))
    return list(answer.get("items") or [])


def _body(namespace: str, scaler: Mapping[str, Any], container: str) -> Obj:
    meta = scaler.get("metadata") or {}
    scaler_name = str(meta.get("name") or "")
    body: Obj = {
        "apiVersion": CHECKPOINTS.api_version,
        "kind": CHECKPOINTS.kind,
        "metadata": {"name": checkpoint_name(scaler_name, container), "namespace": namespace},
        "spec": {"vpaObjectName": scaler_name, "containerName": container},
    }
    if meta.get("uid"):
        body["metadata"]["ownerReferences"] = [
            {
                "apiVersion": str(scaler.get("apiVersion") or CHECKPOINTS.api_version),
                "kind": "VerticalScaler",
                "name": scaler_name,
                "uid": meta["uid"],
            }
        ]
    return body


async def save_checkpoint(
    kube: Kube, scaler: Mapping[str, Any], container: str, status: Mapping[str, Any]
) -> None:
    """Write *status* to the scaler's checkpoint for *container*, creating it when missing."""
    meta = scaler.get("metadata") or {}
    namespace, scaler_name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    name = checkpoint_name(scaler_name, container)
    try:
        await patch_status(kube, CHECKPOINTS, namespace, name, status)
        return
    except NotFound:
        pass
    # AlreadyExists: created meanwhile (another replica); the patch below still lands.
    with contextlib.suppress(AlreadyExists):
        await kube.request(
            "POST", CHECKPOINTS.path(namespace), body=_body(namespace, scaler, container)
        )
    await patch_status(kube, CHECKPOINTS, namespace, name, status)


async def delete_checkpoint(kube: Kube, namespace: str, name: str) -> None:
    with contextlib.suppress(NotFound):
        await kube.request("DELETE", CHECKPOINTS.path(namespace, name))
