"""``/scale`` over HTTP: Deployments, StatefulSets and a custom resource whose CRD declares a
scale subresource; and the clear errors for kinds that cannot scale or do not exist."""

from __future__ import annotations

from typing import Any

import pytest

from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import NoScaleSubresource, NotFound
from podscaler.kube.resources import Discovery
from podscaler.kube.scaling import ScaleClient, ScaleRef

Obj = dict[str, Any]


def workload(kind: str, name: str, replicas: int) -> Obj:
    labels = {"app": name}
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


WIDGET_CRD: Obj = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "listKind": "WidgetList",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.selector",
                    },
                },
            }
        ],
    },
}


@pytest.mark.parametrize(
    ("kind", "plural"), [("Deployment", "deployments"), ("StatefulSet", "statefulsets")]
)
async def test_scale_builtin_workloads(
    kube: Kube, discovery: Discovery, kind: str, plural: str
) -> None:
    path = f"/apis/apps/v1/namespaces/default/{plural}"
    await kube.request("POST", path, body=workload(kind, "web", 2))
    scales = ScaleClient(kube, discovery)
    ref = ScaleRef("apps/v1", kind, "default", "web")

    scale = await scales.get_scale(ref)
    assert scale.replicas == 2
    assert scale.selector == "app=web"

    written = await scales.set_replicas(ref, 5)
    assert written.replicas == 5
    assert (await kube.request("GET", f"{path}/web"))["spec"]["replicas"] == 5
    assert (await scales.get_scale(ref)).replicas == 5

    await kube.request(
        "PATCH", f"{path}/web/status", body={"status": {"replicas": 4}}, content_type=MERGE_PATCH
    )
    assert (await scales.get_scale(ref)).status_replicas == 4


async def test_scale_a_custom_resource_with_a_scale_subresource(
    kube: Kube, discovery: Discovery
) -> None:
    await kube.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=WIDGET_CRD
    )
    path = "/apis/example.com/v1/namespaces/default/widgets"

    async def served() -> bool:
        try:
            await kube.request("GET", path)
        except NotFound:
            return False
        return True

    for _ in range(100):
        if await served():
            break
    await kube.request(
        "POST",
        path,
        body={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"replicas": 1},
        },
    )
    await kube.request(
        "PATCH",
        f"{path}/w/status",
        body={"status": {"replicas": 1, "selector": "app=w"}},
        content_type=MERGE_PATCH,
    )
    scales = ScaleClient(kube, discovery)
    ref = ScaleRef("example.com/v1", "Widget", "default", "w")
    scale = await scales.get_scale(ref)
    assert (scale.replicas, scale.status_replicas, scale.selector) == (1, 1, "app=w")
    await scales.set_replicas(ref, 0)
    widget = await kube.request("GET", f"{path}/w")
    assert widget["spec"]["replicas"] == 0
    await scales.set_replicas(ref, 3)
    assert (await scales.get_scale(ref)).replicas == 3


async def test_kind_without_scale_is_a_clear_error(kube: Kube, discovery: Discovery) -> None:
    scales = ScaleClient(kube, discovery)
    with pytest.raises(NoScaleSubresource, match="ConfigMap in v1 has no /scale"):
        await scales.get_scale(ScaleRef("v1", "ConfigMap", "default", "x"))
    with pytest.raises(NotFound):
        await scales.set_replicas(ScaleRef("apps/v1", "Nonsense", "default", "x"), 1)


async def test_missing_object_is_not_found(kube: Kube, discovery: Discovery) -> None:
    scales = ScaleClient(kube, discovery)
    with pytest.raises(NotFound):
        await scales.get_scale(ScaleRef("apps/v1", "Deployment", "default", "absent"))


async def test_discovery_finds_a_crd_installed_after_the_first_lookup(
    kube: Kube, discovery: Discovery
) -> None:
    with pytest.raises(NotFound):
        await discovery.resolve("example.com/v1", "Widget")
    await kube.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=WIDGET_CRD
    )

    async def resolves() -> bool:
        try:
            await discovery.resolve("example.com/v1", "Widget")
        except NotFound:
            return False
        return True

    resolved = False
    for _ in range(100):
        if resolved := await resolves():
            break
    assert resolved
    widget = await discovery.resolve("example.com/v1", "Widget")
    assert widget.has_scale
    assert widget.plural == "widgets"
