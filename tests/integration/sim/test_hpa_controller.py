"""The embedded HPA controller, over HTTP against the embedded API server.

Pods are written by the test (no world runs), with requests and Ready since long ago, so the
numbers are the engine's alone; usage comes from ``ApiServer.set_pod_metrics``. Covered: a cpu
Utilization metric scales a Deployment as upstream would (replicas, status, conditions, the
``SuccessfulRescale`` Event, no second Event when nothing changes); an External metric read
through the aggregation layer — a TLS backend behind an APIService, reached with the
front-proxy certificate and the HPA's service account in ``X-Remote-User`` — drives replicas,
and its failure turns into ``FailedGetExternalMetric``; a Pods metric without a custom metrics
API fails as ``FailedGetPodsMetric``; the periodic loop runs on its own.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import trustme
from aiohttp import web

from podscaler.kube.clients import MERGE_PATCH, Kube, connect
from podscaler.sim.apiserver.server import ApiServer
from podscaler.sim.apiserver.store import rfc3339
from podscaler.sim.world.hpa import HPA_USER, HpaController

NS = "default"
HPAS = f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers"
SELECTOR = {"scaledobject.keda.sh/name": "web"}


@pytest.fixture
async def server() -> AsyncIterator[ApiServer]:
    async with ApiServer(install_crds=False, aggregation=True) as api:
        yield api


@pytest.fixture
async def kube(server: ApiServer) -> AsyncIterator[Kube]:
    async with await connect(server=server.url) as client:
        yield client


@pytest.fixture
async def controller(server: ApiServer) -> AsyncIterator[HpaController]:
    hpas = await HpaController.connect_to(server)
    yield hpas
    await hpas.aclose()


async def _deployment(server: ApiServer, kube: Kube, replicas: int) -> None:
    """A Deployment with ``replicas`` Running, long-Ready pods requesting 500m cpu each."""
    await kube.request(
        "POST",
        f"/apis/apps/v1/namespaces/{NS}/deployments",
        body={
            "metadata": {"name": "web"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "web"}]},
                },
            },
        },
    )
    await kube.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{NS}/deployments/web/status",
        body={"status": {"replicas": replicas}},
        content_type=MERGE_PATCH,
    )
    long_ago = rfc3339(server.now() - timedelta(minutes=30))
    for i in range(replicas):
        await kube.request(
            "POST",
            f"/api/v1/namespaces/{NS}/pods",
            body={
                "metadata": {"name": f"web-{i}", "labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "web", "resources": {"requests": {"cpu": "500m"}}}
                    ]
                },
            },
        )
        # A created pod starts Pending, as upstream; the kubelet's part is played here.
        await kube.request(
            "PATCH",
            f"/api/v1/namespaces/{NS}/pods/web-{i}/status",
            body={
                "status": {
                    "phase": "Running",
                    "startTime": long_ago,
                    "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": long_ago}
                    ],
                }
            },
            content_type=MERGE_PATCH,
        )


def _hpa(metrics: list[dict[str, Any]], *, max_replicas: int = 10) -> dict[str, Any]:
    return {
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": max_replicas,
            "metrics": metrics,
        },
    }


async def _replicas(kube: Kube) -> int:
    scale = await kube.request("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/web/scale")
    return int(scale["spec"].get("replicas", 0))  # omitted when 0, as upstream


async def _events(kube: Kube) -> list[tuple[str, str, str, int]]:
    listed = await kube.request("GET", f"/api/v1/namespaces/{NS}/events")
    return [
        (e["type"], e["reason"], e["message"], e["count"])
        for e in listed["items"]
        if e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"
    ]


def _conditions(hpa: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in hpa["status"]["conditions"]}


CPU_50 = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
}


async def test_cpu_utilization_scales_the_deployment_and_writes_status(
    server: ApiServer, kube: Kube, controller: HpaController
) -> None:
    await _deployment(server, kube, 2)
    for i in range(2):
        server.set_pod_metrics(NS, f"web-{i}", {"app": {"cpu": "500m"}})
    await kube.request("POST", HPAS, body=_hpa([CPU_50]))

    await controller.sync_once()

    # 100 % of requests against a 50 % target: 2 ready pods x 2 = 4 (= max(2 x 2, 4)).
    assert await _replicas(kube) == 4
    hpa = await kube.request("GET", f"{HPAS}/web")
    status = hpa["status"]
    assert (status["currentReplicas"], status["desiredReplicas"]) == (2, 4)
    assert status["currentMetrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "current": {"averageUtilization": 100, "averageValue": "500m"},
            },
        }
    ]
    assert status["lastScaleTime"]
    assert _conditions(hpa) == {
        "AbleToScale": ("True", "SucceededRescale"),
        "ScalingActive": ("True", "ValidMetricFound"),
        "ScalingLimited": ("False", "DesiredWithinRange"),
    }
    assert [c["type"] for c in status["conditions"]] == [
        "AbleToScale",
        "ScalingActive",
        "ScalingLimited",
    ]
    reason = "cpu resource utilization (percentage of request) above target"
    assert await _events(kube) == [
        ("Normal", "SuccessfulRescale", f"New size: 4; reason: {reason}", 1)
    ]

    # The same usage on the next pass: 4 is what the metrics ask for, nothing moves.
    await controller.sync_once()
    assert await _replicas(kube) == 4
    hpa = await kube.request("GET", f"{HPAS}/web")
    assert _conditions(hpa)["AbleToScale"] == ("True", "ReadyForNewScale")
    assert hpa["status"]["lastScaleTime"] == status["lastScaleTime"]
    assert len(await _events(kube)) == 1


async def test_a_pods_metric_without_a_custom_metrics_api_fails_clearly(
    server: ApiServer, kube: Kube, controller: HpaController
) -> None:
    await _deployment(server, kube, 2)
    pods_metric = {
        "type": "Pods",
        "pods": {
            "metric": {"name": "requests_per_second"},
            "target": {"type": "AverageValue", "averageValue": "10"},
        },
    }
    await kube.request("POST", HPAS, body=_hpa([pods_metric]))
    await controller.sync_once()
    hpa = await kube.request("GET", f"{HPAS}/web")
    assert _conditions(hpa)["ScalingActive"] == ("False", "FailedGetPodsMetric")
    assert hpa["status"]["currentMetrics"] == [{"type": ""}]
    assert hpa["status"]["desiredReplicas"] == 2
    assert await _replicas(kube) == 2
    reasons = {r for _, r, _, _ in await _events(kube)}
    assert reasons == {"FailedGetPodsMetric", "FailedComputeMetricsReplicas"}


class ExternalMetrics:
    """A TLS external.metrics.k8s.io backend that requires the front-proxy certificate."""

    def __init__(self, ca: trustme.CA) -> None:
        self.ca = ca
        self.value = "30"
        self.status = 200
        self.seen: list[tuple[str, list[str], str]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self, front_proxy_ca_pem: str) -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("metrics.podscaler.svc").configure_cert(ctx)
        ctx.load_verify_locations(cadata=front_proxy_ca_pem)
        ctx.verify_mode = ssl.CERT_REQUIRED
        app = web.Application()
        app.router.add_get("/apis/external.metrics.k8s.io/v1beta1", self._discovery)
        app.router.add_get(
            "/apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}", self._metric
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        assert site._server is not None
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response({"kind": "APIResourceList", "resources": []})

    async def _metric(self, request: web.Request) -> web.Response:
        self.seen.append(
            (
                request.headers.get("X-Remote-User", ""),
                request.headers.getall("X-Remote-Group", []),
                request.query.get("labelSelector", ""),
            )
        )
        if self.status != 200:
            return web.json_response(
                {"kind": "Status", "status": "Failure", "code": self.status, "message": "down"},
                status=self.status,
            )
        return web.json_response(
            {
                "kind": "ExternalMetricValueList",
                "apiVersion": "external.metrics.k8s.io/v1beta1",
                "metadata": {},
                "items": [
                    {
                        "metricName": request.match_info["metric"],
                        "metricLabels": None,
                        "timestamp": "2026-01-01T00:00:00Z",
                        "value": self.value,
                    }
                ],
            }
        )


@pytest.fixture
async def external(server: ApiServer, kube: Kube) -> AsyncIterator[ExternalMetrics]:
    configmap = await kube.request(
        "GET", "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"
    )
    ca = trustme.CA()
    backend = ExternalMetrics(ca)
    await backend.start(configmap["data"]["requestheader-client-ca-file"])
    await kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "podscaler"}})
    await kube.request(
        "POST",
        "/apis/apiregistration.k8s.io/v1/apiservices",
        body={
            "metadata": {"name": "v1beta1.external.metrics.k8s.io"},
            "spec": {
                "group": "external.metrics.k8s.io",
                "version": "v1beta1",
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
                "service": {"namespace": "podscaler", "name": "metrics", "port": 443},
                "caBundle": base64.b64encode(ca.cert_pem.bytes()).decode(),
            },
        },
    )
    server.register_service_endpoint("podscaler", "metrics", "127.0.0.1", backend.port)
    yield backend
    await backend.stop()


EXTERNAL = {
    "type": "External",
    "external": {
        "metric": {"name": "s0-queue", "selector": {"matchLabels": SELECTOR}},
        "target": {"type": "AverageValue", "averageValue": "10"},
    },
}


async def test_an_external_metric_through_the_aggregation_layer_drives_replicas(
    server: ApiServer, kube: Kube, controller: HpaController, external: ExternalMetrics
) -> None:
    await _deployment(server, kube, 2)
    await kube.request("POST", HPAS, body=_hpa([EXTERNAL]))

    await controller.sync_once()

    # AverageValue: ceil(30 / 10) = 3.
    assert await _replicas(kube) == 3
    user, groups, selector = external.seen[-1]
    assert user == HPA_USER
    assert "system:serviceaccounts" in groups
    assert selector == "scaledobject.keda.sh/name=web"
    hpa = await kube.request("GET", f"{HPAS}/web")
    assert hpa["status"]["currentMetrics"] == [
        {
            "type": "External",
            "external": {
                "metric": {"name": "s0-queue", "selector": {"matchLabels": SELECTOR}},
                "current": {"averageValue": "15"},
            },
        }
    ]
    described = (
        "external metric s0-queue(&LabelSelector{MatchLabels:map[string]string{"
        "scaledobject.keda.sh/name: web,},MatchExpressions:[]LabelSelectorRequirement{},})"
    )
    assert _conditions(hpa)["ScalingActive"] == ("True", "ValidMetricFound")
    assert await _events(kube) == [
        ("Normal", "SuccessfulRescale", f"New size: 3; reason: {described} above target", 1)
    ]

    # The metrics API fails: no scaling, the failure named as upstream names it.
    external.status = 503
    await controller.sync_once()
    hpa = await kube.request("GET", f"{HPAS}/web")
    assert _conditions(hpa)["ScalingActive"] == ("False", "FailedGetExternalMetric")
    message = next(
        c["message"] for c in hpa["status"]["conditions"] if c["type"] == "ScalingActive"
    )
    assert message.startswith(
        "the HPA was unable to compute the replica count: unable to get external metric s0-queue"
    )
    assert hpa["status"]["currentMetrics"] == [{"type": ""}]
    assert hpa["status"]["desiredReplicas"] == 3
    assert await _replicas(kube) == 3
    assert "FailedGetExternalMetric" in {r for _, r, _, _ in await _events(kube)}


async def test_the_loop_reconciles_every_sync_period(server: ApiServer, kube: Kube) -> None:
    await _deployment(server, kube, 1)
    server.set_pod_metrics(NS, "web-0", {"app": {"cpu": "1"}})
    await kube.request("POST", HPAS, body=_hpa([CPU_50], max_replicas=3))
    controller = await HpaController.connect_to(server, sync_period_seconds=0.05)
    controller.start()
    try:
        for _ in range(200):
            if await _replicas(kube) == 3:
                break
            await asyncio.sleep(0.02)
        hpa = await kube.request("GET", f"{HPAS}/web")
    finally:
        await controller.aclose()
    # 200 % of requests wants 4; maxReplicas caps it at 3.
    assert await _replicas(kube) == 3
    assert _conditions(hpa)["ScalingLimited"] == ("True", "TooManyReplicas")
