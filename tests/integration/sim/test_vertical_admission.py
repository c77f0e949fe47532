"""podscaler's admission webhook behind the embedded API server, end to end over TLS.

The API server (HTTPS) calls the webhook (HTTPS, its own CA, published by the webhook into the
MutatingWebhookConfiguration's ``caBundle``) through a Service name, as kube-apiserver does; a
pod created over HTTP comes back with the VerticalScaler's recommendation in its requests, the
limits scaled in proportion, and the annotation saying what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from podscaler.controllers.vertical.admission import serve_admission_webhook
from podscaler.controllers.vertical.podresources import (
    OBSERVED_CONTAINERS_ANNOTATION,
    UPDATES_ANNOTATION,
)
from podscaler.kube.clients import Kube, connect
from podscaler.serving.security import CertificateOptions
from podscaler.serving.server import SecureServer
from podscaler.sim.apiserver.server import ApiServer

NAMESPACE = "shop"
WEBHOOK_SERVICE = ("podscaler", "podscaler-webhook")
CONFIGURATION = "podscaler-vertical"
VS_PATH = f"/apis/autoscaling.podscaler.io/v1alpha1/namespaces/{NAMESPACE}/verticalscalers"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"
MANIFEST = (
    Path(__file__).resolve().parents[3]
    / "manifests/components/vertical-webhook/mutatingwebhookconfiguration.yaml"
)


def configuration() -> dict[str, Any]:
    """The MutatingWebhookConfiguration podscaler ships (manifests/components/vertical-webhook)."""
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return loaded


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": "registry.k8s.io/ubuntu-slim"}]},
            },
        },
    }


def pod(name: str, app: str, *, limits: bool = True) -> dict[str, Any]:
    resources: dict[str, Any] = {"requests": {"cpu": "100m", "memory": "50Mi"}}
    if limits:
        resources["limits"] = {"cpu": "200m", "memory": "100Mi"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": app}},
        "spec": {
            "containers": [
                {"name": "hamster", "image": "registry.k8s.io/ubuntu-slim", "resources": resources}
            ]
        },
    }


async def add_scaler(kube: Kube, name: str, target: str, mode: str, **policy: Any) -> None:
    spec: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "updatePolicy": {"updateMode": mode},
    }
    if policy:
        spec["resourcePolicy"] = {"containerPolicies": [{"containerName": "hamster", **policy}]}
    created = await kube.request(
        "POST",
        VS_PATH,
        body={
            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
            "kind": "VerticalScaler",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": spec,
        },
    )
    created["status"] = {
        "recommendation": {
            "containerRecommendations": [
                {
                    "containerName": "hamster",
                    "target": {"cpu": "587m", "memory": "262144k"},
                    "lowerBound": {"cpu": "550m", "memory": "262144k"},
                    "upperBound": {"cpu": "1", "memory": "500Mi"},
                }
            ]
        }
    }
    await kube.request("PUT", f"{VS_PATH}/{name}/status", body=created)


async def prepare(kube: Kube) -> None:
    """The namespaces and the shipped MutatingWebhookConfiguration (no caBundle yet)."""
    for ns in (NAMESPACE, "podscaler"):
        await kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    await kube.request(
        "POST",
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
        body=configuration(),
    )


@contextlib.asynccontextmanager
async def webhook_served(
    apiserver: ApiServer, kube: Kube, **options: Any
) -> AsyncIterator[SecureServer]:
    """The webhook served over TLS with self-issued certificates (``options``: more of
    :func:`serve_admission_webhook`'s), its Service routed to it; stopped on exit."""
    options.setdefault("certificates", CertificateOptions())
    ready: asyncio.Future[SecureServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve_admission_webhook(
            kube,
            host="127.0.0.1",
            port=0,
            configuration=CONFIGURATION,
            service=WEBHOOK_SERVICE,
            on_ready=ready.set_result,
            **options,
        )
    )
    try:
        server = await asyncio.wait_for(ready, 30)
        apiserver.register_service_endpoint(*WEBHOOK_SERVICE, "127.0.0.1", server.port)
        yield server
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def cluster(
    apiserver_tls: ApiServer, tmp_path: Path
) -> AsyncIterator[tuple[ApiServer, Kube]]:
    kubeconfig = apiserver_tls.write_kubeconfig(tmp_path / "kubeconfig")
    async with await connect(kubeconfig=kubeconfig) as kube:
        await prepare(kube)
        async with webhook_served(apiserver_tls, kube):
            yield apiserver_tls, kube


async def test_a_new_pod_gets_the_recommendation_over_tls(
    cluster: tuple[ApiServer, Kube],
) -> None:
    _server, kube = cluster
    stored = await kube.request(
        "GET",
        f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{CONFIGURATION}",
    )
    assert stored["webhooks"][0]["clientConfig"]["caBundle"]  # published by the webhook
    await kube.request(
        "POST", "/apis/apps/v1/namespaces/shop/deployments", body=deployment("hamster")
    )
    await add_scaler(kube, "hamster-vs", "hamster", "Recreate")

    created = await kube.request("POST", PODS, body=pod("hamster-1", "hamster"))
    resources = created["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "587m", "memory": "262144k"}
    # limits keep the ratio: 200m/100m → 1174m; 100Mi/50Mi → twice 262144k
    assert resources["limits"] == {"cpu": "1174m", "memory": "524288k"}
    annotations = created["metadata"]["annotations"]
    assert annotations[UPDATES_ANNOTATION] == (
        "Pod resources updated by hamster-vs: container 0: "
        "cpu request, cpu limit, memory request, memory limit"
    )
    assert annotations[OBSERVED_CONTAINERS_ANNOTATION] == "hamster"

    # A pod of another workload is left alone.
    other = await kube.request("POST", PODS, body=pod("other-1", "other"))
    assert other["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "100m",
        "memory": "50Mi",
    }
    assert UPDATES_ANNOTATION not in (other["metadata"].get("annotations") or {})


async def test_modes_and_policies(cluster: tuple[ApiServer, Kube]) -> None:
    _server, kube = cluster
    for name in ("off", "only", "capped", "inplace"):
        await kube.request(
            "POST", "/apis/apps/v1/namespaces/shop/deployments", body=deployment(name)
        )
    await add_scaler(kube, "off-vs", "off", "Off")
    await add_scaler(kube, "only-vs", "only", "Initial", controlledValues="RequestsOnly")
    await add_scaler(
        kube,
        "capped-vs",
        "capped",
        "InPlaceOrRecreate",
        maxAllowed={"cpu": "300m"},
        controlledResources=["cpu"],
    )
    # InPlace sets requests at admission too (AEP-8818: "like all other modes").
    await add_scaler(kube, "inplace-vs", "inplace", "InPlace", maxAllowed={"cpu": "250m"})

    off = await kube.request("POST", PODS, body=pod("off-1", "off"))
    assert off["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "100m"

    # RequestsOnly: limits stay, and the request is capped at the existing limit.
    only = await kube.request("POST", PODS, body=pod("only-1", "only"))
    resources = only["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "200m", "memory": "100Mi"}
    assert resources["limits"] == {"cpu": "200m", "memory": "100Mi"}

    # maxAllowed caps again; memory is not controlled.
    capped = await kube.request("POST", PODS, body=pod("capped-1", "capped", limits=False))
    resources = capped["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "300m", "memory": "50Mi"}
    assert "limits" not in resources

    in_place = await kube.request("POST", PODS, body=pod("inplace-1", "inplace", limits=False))
    assert in_place["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "250m"


async def test_pods_are_created_when_the_webhook_is_down(cluster: tuple[ApiServer, Kube]) -> None:
    server, kube = cluster
    await kube.request(
        "POST", "/apis/apps/v1/namespaces/shop/deployments", body=deployment("hamster")
    )
    await add_scaler(kube, "hamster-vs", "hamster", "Auto")
    # Nothing listens at the Service's address any more: failurePolicy Ignore lets pods through.
    server.register_service_endpoint(*WEBHOOK_SERVICE, "127.0.0.1", 1)
    created = await kube.request("POST", PODS, body=pod("hamster-2", "hamster"))
    assert created["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "100m"
