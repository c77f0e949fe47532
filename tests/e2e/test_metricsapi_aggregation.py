"""podscaler's metrics API behind the embedded kube-aggregator, read by the embedded HPA.

The whole path of issue 5 §3 as a user's cluster runs it, in one process: the embedded API
server (aggregation on) publishes its front-proxy CA in ``extension-apiserver-authentication``;
``serve_metrics_api`` — started exactly as ``podscaler run`` starts it — reads that ConfigMap,
mints its own serving CA and patches it into the ``v1beta1.external.metrics.k8s.io``
APIService; the aggregator finds the metrics API through a Service and its Endpoints, checks it
(``Available``), and proxies the HPA controller's request over TLS with the front-proxy
certificate and ``X-Remote-User: system:serviceaccount:kube-system:horizontal-pod-autoscaler``;
the metrics API authenticates that, authorizes it with a SubjectAccessReview, and answers; the
HPA scales the Deployment. TokenReview and SubjectAccessReview are answered by the embedded
server itself, from its auth policy.

The source here is the tests' in-memory one; ``test_hpa_mode.py`` runs the same path with the
real ``podscaler run`` and a ScaledObject in ``hpa`` mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from podscaler.kube.clients import MERGE_PATCH, Kube, connect
from podscaler.metricsapi.server import MetricsApiOptions, MetricsApiServer, serve_metrics_api
from podscaler.sim.apiserver.server import ApiServer
from podscaler.sim.apiserver.store import rfc3339
from podscaler.sim.world.hpa import HPA_USER, HpaController
from tests.integration.metricsapi.memory import InMemorySource, Trigger

APISERVICE = "v1beta1.external.metrics.k8s.io"
SERVICE_NS, SERVICE = "podscaler", "podscaler-metrics-apiserver"
NS = "default"
HPAS = f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers"


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[ApiServer, Kube]]:
    async with (
        ApiServer(install_crds=False, aggregation=True) as server,
        await connect(server=server.url) as kube,
    ):
        yield server, kube


async def _apiservice_available(kube: Kube) -> dict[str, Any]:
    condition: dict[str, Any] = {}
    for _ in range(250):
        obj = await kube.request("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}")
        conditions = (obj.get("status") or {}).get("conditions") or []
        condition = next((c for c in conditions if c["type"] == "Available"), {})
        if condition.get("status") == "True":
            return condition
        await asyncio.sleep(0.02)
    raise AssertionError(f"APIService never became available: {condition}")


async def _workload(server: ApiServer, kube: Kube, replicas: int) -> None:
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
        pods = f"/api/v1/namespaces/{NS}/pods"
        pod = {
            "metadata": {"name": f"web-{i}", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "web"}]},
        }
        await kube.request("POST", pods, body=pod)
        await kube.request(
            "PATCH",
            f"{pods}/web-{i}/status",
            body={"status": {"phase": "Running", "startTime": long_ago}},
            content_type=MERGE_PATCH,
        )


async def test_the_hpa_scales_on_a_metric_read_through_the_aggregator_over_tls(
    cluster: tuple[ApiServer, Kube],
) -> None:
    server, kube = cluster
    # Nothing but what this test grants: the HPA's service account reads external metrics, and
    # the aggregator's own availability check calls as system:kube-aggregator/system:masters.
    server.auth_policy.clear()
    server.auth_policy.allow(HPA_USER, "list", "*", group="external.metrics.k8s.io")
    server.auth_policy.allow("system:masters", "get", "/apis/external.metrics.k8s.io*")
    source = InMemorySource()
    source.add(NS, "web", Trigger("s0-prometheus", cached=30))

    # What the manifests install: the namespace, the Service and the APIService.
    await kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": SERVICE_NS}})
    await kube.request(
        "POST",
        f"/api/v1/namespaces/{SERVICE_NS}/services",
        body={
            "metadata": {"name": SERVICE},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
        },
    )
    await kube.request(
        "POST",
        "/apis/apiregistration.k8s.io/v1/apiservices",
        body={
            "metadata": {"name": APISERVICE},
            "spec": {
                "group": "external.metrics.k8s.io",
                "version": "v1beta1",
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
                "service": {"namespace": SERVICE_NS, "name": SERVICE, "port": 443},
            },
        },
    )

    ready: asyncio.Future[MetricsApiServer] = asyncio.get_running_loop().create_future()
    options = MetricsApiOptions(
        host="127.0.0.1", port=0, service=SERVICE, namespace=SERVICE_NS, request_timeout_seconds=5
    )
    serving = asyncio.create_task(
        serve_metrics_api(source, kube, options, on_ready=ready.set_result)
    )
    controller: HpaController | None = None
    try:
        api = await asyncio.wait_for(ready, 10)
        # The endpoints controller's part: the Service's address is the metrics API's.
        await kube.request(
            "POST",
            f"/api/v1/namespaces/{SERVICE_NS}/endpoints",
            body={
                "metadata": {"name": SERVICE},
                "subsets": [
                    {
                        "addresses": [{"ip": "127.0.0.1"}],
                        "ports": [{"name": "https", "port": api.port}],
                    }
                ],
            },
        )
        condition = await _apiservice_available(kube)
        assert condition["reason"] == "Passed"

        await _workload(server, kube, 2)
        await kube.request(
            "POST",
            HPAS,
            body={
                "metadata": {"name": "web"},
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "web",
                    },
                    "minReplicas": 1,
                    "maxReplicas": 10,
                    "metrics": [
                        {
                            "type": "External",
                            "external": {
                                "metric": {
                                    "name": "s0-prometheus",
                                    "selector": {
                                        "matchLabels": {"scaledobject.keda.sh/name": "web"}
                                    },
                                },
                                "target": {"type": "AverageValue", "averageValue": "10"},
                            },
                        }
                    ],
                },
            },
        )
        controller = await HpaController.connect_to(server)
        await controller.sync_once()

        scale = await kube.request("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/web/scale")
        assert scale["spec"]["replicas"] == 3  # ceil(30 / 10)
        hpa = await kube.request("GET", f"{HPAS}/web")
        assert hpa["status"]["currentMetrics"][0]["external"]["current"] == {"averageValue": "15"}
        active = next(c for c in hpa["status"]["conditions"] if c["type"] == "ScalingActive")
        assert (active["status"], active["reason"]) == ("True", "ValidMetricFound")
        # The metrics API authorized the HPA's service account, named by the front proxy.
        reviewed = [r for r in server.auth_policy.access_reviews if "resourceAttributes" in r]
        assert reviewed[-1]["user"] == HPA_USER
        assert reviewed[-1]["resourceAttributes"]["resource"] == "s0-prometheus"

        # The same request straight to the metrics API, without the front-proxy certificate,
        # is refused: only the aggregator's connection may name a user.
        url = (
            f"{api.url}/apis/external.metrics.k8s.io/v1beta1/namespaces/{NS}/s0-prometheus"
            "?labelSelector=scaledobject.keda.sh%2Fname%3Dweb"
        )
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, ssl=insecure, headers={"X-Remote-User": HPA_USER}) as resp,
        ):
            assert resp.status == 401
    finally:
        if controller is not None:
            await controller.aclose()
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
