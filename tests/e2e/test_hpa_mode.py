"""e2e: a ScaledObject in mode hpa — the real ``podscaler run`` serving external metrics over TLS
behind the embedded kube-aggregator, the embedded HPA controller doing 1..N, podscaler 0↔1.

What a user's cluster runs, with every hop on its real protocol: the embedded API server with
aggregation (front-proxy CA in ``extension-apiserver-authentication``, TokenReview and
SubjectAccessReview from its auth policy); ``podscaler run --metrics-api-port=...`` issuing its
own serving certificate and patching its CA into the ``v1beta1.external.metrics.k8s.io``
APIService; a fake Prometheus-API server; the embedded HPA controller reading
``s0-prometheus`` through the aggregator with the front-proxy certificate as
``system:serviceaccount:kube-system:horizontal-pod-autoscaler``. A tiny in-test "workload
controller" keeps the Deployment's status and pods in step with its replicas (there is no
world here).

The story: the workload sits at 0; the metric rises above activation and podscaler (not the
HPA, which is disabled at 0) activates it to 1; the HPA takes it to ceil(35 / 10) = 4; the
metric drops and podscaler takes it back to 0 after the cooldown. Reads through the aggregator
show the cache (``useCachedMetrics``) and the fallback value.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import KubeError, NotFound
from podscaler.sim.apiserver.server import ApiServer
from podscaler.sim.apiserver.store import rfc3339
from podscaler.sim.world.hpa import HPA_USER, HpaController
from tests.e2e.conftest import OperatorProcess, _free_port
from tests.integration.controllers.objects import (
    condition,
    create_deployment,
    create_so,
    deployment,
    get_so,
    prometheus_trigger,
    replicas,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer

APISERVICE = "v1beta1.external.metrics.k8s.io"
SERVICE_NS, SERVICE = "podscaler", "podscaler-metrics-apiserver"
NS = "default"
HPAS = f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers"
EXTERNAL = f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{NS}"


@pytest.fixture
async def apiserver() -> AsyncIterator[ApiServer]:
    """The embedded server as kube-aggregator too, over TLS (overrides the plain one for
    kubeconfig): the test's reads through the aggregator are the kubeconfig administrator's, as
    ``kubectl get --raw`` would be; an anonymous caller's would be refused by the metrics API."""
    async with ApiServer(tls=True, aggregation=True, bookmark_interval=0.2) as server:
        yield server


async def _install_metrics_api_objects(kube: Kube) -> None:
    """What manifests/metricsapi installs: the namespace, the Service and the APIService."""
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


async def _endpoints(kube: Kube, port: int) -> None:
    """The endpoints controller's part: the Service's address is the operator's port."""
    await kube.request(
        "POST",
        f"/api/v1/namespaces/{SERVICE_NS}/endpoints",
        body={
            "metadata": {"name": SERVICE},
            "subsets": [
                {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": port}]}
            ],
        },
    )


async def _available(kube: Kube) -> bool:
    obj = await kube.request("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}")
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)


async def _follow_replicas(server: ApiServer, kube: Kube, name: str) -> None:
    """A minimal Deployment controller: status.replicas and Running pods follow spec.replicas."""
    pods = f"/api/v1/namespaces/{NS}/pods"
    started = rfc3339(server.now() - timedelta(minutes=30))
    while True:
        wanted = await replicas(kube, name)
        listing = await kube.request("GET", pods, params={"labelSelector": f"app={name}"})
        have = sorted(p["metadata"]["name"] for p in listing.get("items") or [])
        for i in range(len(have), wanted):
            pod_name = f"{name}-{i}"
            pod = {
                "metadata": {"name": pod_name, "labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "x"}]},
            }
            with contextlib.suppress(KubeError):
                await kube.request("POST", pods, body=pod)
                await kube.request(
                    "PATCH",
                    f"{pods}/{pod_name}/status",
                    body={"status": {"phase": "Running", "startTime": started}},
                    content_type=MERGE_PATCH,
                )
        for pod_name in have[wanted:]:
            with contextlib.suppress(KubeError):
                await kube.request("DELETE", f"{pods}/{pod_name}")
        await kube.request(
            "PATCH",
            f"/apis/apps/v1/namespaces/{NS}/deployments/{name}/status",
            body={"status": {"replicas": wanted, "readyReplicas": wanted}},
            content_type=MERGE_PATCH,
        )
        await asyncio.sleep(0.1)


async def _metric(kube: Kube, metric: str, so: str) -> dict[str, Any]:
    """An external metric read through the aggregator, as ``kubectl get --raw`` would."""
    return await kube.request(
        "GET", f"{EXTERNAL}/{metric}", params={"labelSelector": f"scaledobject.keda.sh/name={so}"}
    )


async def test_hpa_mode_scales_through_the_aggregated_metrics_api(
    apiserver: ApiServer,
    kube: Kube,
    prom: PromServer,
    operator: Callable[..., Awaitable[OperatorProcess]],
) -> None:
    server = apiserver
    await _install_metrics_api_objects(kube)
    port = _free_port()
    op = await operator(f"--metrics-api-port={port}", "--metrics-api-bind-address=127.0.0.1")
    await _endpoints(kube, port)
    await wait_for(lambda: _available(kube), 20)

    prom.values = {"sum(queue_depth)": 3}  # 3: below activation 5
    await create_deployment(kube, deployment("web", 0))
    await create_deployment(kube, deployment("cached", 1))
    follower = asyncio.create_task(_follow_replicas(server, kube, "web"))
    hpa_controller = await HpaController.connect_to(server, sync_period_seconds=0.5)
    hpa_controller.start()
    try:
        await create_so(
            kube,
            scaled_object(
                "web",
                "web",
                [prometheus_trigger(prom.url, threshold="10", activation="5")],
                pollingInterval=1,
                cooldownPeriod=2,
                maxReplicaCount=8,
                fallback={"failureThreshold": 1, "replicas": 2},
                advanced={
                    "mode": "hpa",
                    "horizontalPodAutoscalerConfig": {
                        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}
                    },
                },
            ),
        )

        async def hpa_created() -> bool:
            try:
                await kube.request("GET", f"{HPAS}/keda-hpa-web")
            except NotFound:
                return False
            return True

        await wait_for(hpa_created, 15)
        await asyncio.sleep(1.5)
        assert await replicas(kube, "web") == 0  # inactive: podscaler keeps it at 0

        prom.values["sum(queue_depth)"] = 35

        async def at(n: int) -> bool:
            return await replicas(kube, "web") == n

        await wait_for(lambda: at(4), 20)
        hpa = await kube.request("GET", f"{HPAS}/keda-hpa-web")
        current = hpa["status"]["currentMetrics"][0]["external"]
        assert current["metric"]["name"] == "s0-prometheus"
        assert current["current"]["averageValue"]
        active = next(c for c in hpa["status"]["conditions"] if c["type"] == "ScalingActive")
        assert (active["status"], active["reason"]) == ("True", "ValidMetricFound")
        # The metrics API authorized the HPA's service account, named by the front proxy.
        reviewed = [r for r in server.auth_policy.access_reviews if "resourceAttributes" in r]
        assert any(
            r["user"] == HPA_USER and r["resourceAttributes"]["resource"] == "s0-prometheus"
            for r in reviewed
        )
        events = await kube.request("GET", f"/apis/events.k8s.io/v1/namespaces/{NS}/events")
        reasons = {e["reason"] for e in events.get("items") or []}
        assert "ScaleTargetActivated" in reasons  # 0 -> 1 was podscaler's

        async def hpa_active() -> bool:
            so = await get_so(kube, "web")
            return condition(so, "HPAActive").get("reason") == "HPAActive"

        await wait_for(hpa_active, 10)
        so = await get_so(kube, "web")
        assert so["status"]["hpaName"] == "keda-hpa-web"

        # Reads through the aggregator: a live value, then the fallback value (2 x target 10)
        # once the source has failed more than failureThreshold times.
        answer = await _metric(kube, "s0-prometheus", "web")
        assert answer["items"][0]["value"] == "35"
        prom.status = 500

        async def falls_back() -> bool:
            with contextlib.suppress(KubeError):
                return bool(
                    (await _metric(kube, "s0-prometheus", "web"))["items"][0]["value"] == "20"
                )
            return False

        await wait_for(falls_back, 10)
        prom.status = 200

        # useCachedMetrics: the last poll's value, whatever the source says meanwhile. A source
        # of its own, so its query count is this object's alone.
        cached_prom = await PromServer(8).start()
        cached = prometheus_trigger(cached_prom.url, query="sum(cached)")
        await create_so(
            kube,
            scaled_object(
                "cached",
                "cached",
                [{**cached, "useCachedMetrics": True}],
                pollingInterval=300,
                minReplicaCount=1,
            ),
        )

        async def cached_served() -> bool:
            with contextlib.suppress(KubeError):
                return bool((await _metric(kube, "s0-prometheus", "cached"))["items"])
            return False

        await wait_for(cached_served, 15)
        queries = cached_prom.queries
        cached_prom.value = 80
        for _ in range(3):
            answer = await _metric(kube, "s0-prometheus", "cached")
            assert answer["items"][0]["value"] == "8"
        assert cached_prom.queries == queries
        await cached_prom.stop()

        prom.values["sum(queue_depth)"] = 0  # inactive: podscaler takes it to 0 after cooldown
        await wait_for(lambda: at(0), 25)

        async def disabled() -> bool:
            so = await get_so(kube, "web")
            return condition(so, "HPAActive").get("reason") == "ScalingDisabled"

        await wait_for(disabled, 15)
        reasons = {
            e["reason"]
            for e in (
                await kube.request("GET", f"/apis/events.k8s.io/v1/namespaces/{NS}/events")
            ).get("items")
            or []
        }
        assert "ScaleTargetDeactivated" in reasons
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        await hpa_controller.aclose()
    assert await op.stop() == 0
    assert "metrics API: serving external.metrics.k8s.io" in op.output()


async def test_metric_names_match_case_insensitively_through_the_aggregator(
    apiserver: ApiServer,
    kube: Kube,
    operator: Callable[..., Awaitable[OperatorProcess]],
) -> None:
    """The real HPA controller (client-go) lower-cases the metric name in the request path; a
    cron trigger with a timezone exports ``s0-cron-Asia-Seoul-…``. KEDA matches names
    case-insensitively, and so must podscaler, or every such trigger fails in mode hpa with
    "no trigger … exports metric" (issue 18; the shipped cron-seoul.yaml example is one)."""
    await _install_metrics_api_objects(kube)
    port = _free_port()
    op = await operator(f"--metrics-api-port={port}", "--metrics-api-bind-address=127.0.0.1")
    await _endpoints(kube, port)
    await wait_for(lambda: _available(kube), 20)
    await create_deployment(kube, deployment("seoul", 1))
    cron = {
        "type": "cron",
        "metadata": {
            "timezone": "Asia/Seoul",
            "start": "0 8 * * *",
            "end": "0 20 * * *",
            "desiredReplicas": "3",
        },
    }
    await create_so(
        kube,
        scaled_object(
            "seoul", "seoul", [cron], pollingInterval=1, minReplicaCount=1, advanced={"mode": "hpa"}
        ),
    )

    async def exported() -> list[str]:
        so = await get_so(kube, "seoul")
        return list((so.get("status") or {}).get("externalMetricNames") or [])

    async def has_names() -> bool:
        return bool(await exported())

    await wait_for(has_names, 15)
    [name] = await exported()
    assert name.startswith("s0-cron-Asia-Seoul-")
    answer = await _metric(kube, name.lower(), "seoul")
    [item] = answer["items"]
    assert item["value"] in ("0", "3")  # outside or inside the window: either way, found
    assert await op.stop() == 0
