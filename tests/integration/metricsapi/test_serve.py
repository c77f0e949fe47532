"""``serve_metrics_api`` against the embedded API server, as ``podscaler run`` starts it.

The embedded API server holds the ``extension-apiserver-authentication`` ConfigMap and the
APIService, and answers TokenReview and SubjectAccessReview from its auth policy. Checked: the
self-signed CA lands in the APIService caBundle and is what the server presents, a changed
requestheader CA is adopted without a restart, only the user the policy allows reads a metric,
and the owner check and caBundle patch leave other products' APIServices alone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import trustme

from podscaler.kube.clients import Kube, connect
from podscaler.kube.errors import NotFound
from podscaler.metricsapi.apiservice import (
    APISERVICE_NAME,
    ApiServiceOwnedElsewhere,
    apiservice_owner,
    publish_ca_bundle,
)
from podscaler.metricsapi.server import MetricsApiOptions, MetricsApiServer, serve_metrics_api
from podscaler.sim.apiserver.server import ApiServer
from tests.fixtures.pki import FRONT_PROXY_NAME
from tests.integration.metricsapi.conftest import (
    HPA_USER,
    metric_url,
    proxy_headers,
)
from tests.integration.metricsapi.memory import InMemorySource

APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"
CONFIGMAP = "/api/v1/namespaces/kube-system/configmaps"


def _apiservice(namespace: str, service: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": APISERVICE_NAME},
        "spec": {
            "group": "external.metrics.k8s.io",
            "version": "v1beta1",
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
            "service": {"namespace": namespace, "name": service, "port": 443},
        },
    }


def _auth_configmap(front_proxy_ca: trustme.CA) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
        "data": {
            "requestheader-client-ca-file": front_proxy_ca.cert_pem.bytes().decode(),
            "requestheader-allowed-names": json.dumps([FRONT_PROXY_NAME]),
            "requestheader-username-headers": json.dumps(["X-Remote-User"]),
            "requestheader-group-headers": json.dumps(["X-Remote-Group"]),
            "requestheader-extra-headers-prefix": json.dumps(["X-Remote-Extra-"]),
        },
    }


@pytest.fixture
async def cluster(apiserver: ApiServer) -> AsyncIterator[tuple[ApiServer, Kube]]:
    async with await connect(server=apiserver.url) as kube:
        yield apiserver, kube


def _trusting(ca_pem: bytes, front_proxy_ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    front_proxy_ca.issue_cert("fp.example", common_name=FRONT_PROXY_NAME).configure_cert(ctx)
    return ctx


async def _status(url: str, ctx: ssl.SSLContext) -> int:
    """One request on a fresh connection (a fresh handshake with the server's current CAs)."""
    async with (
        aiohttp.ClientSession() as fresh,
        fresh.get(url, ssl=ctx, headers=proxy_headers()) as resp,
    ):
        await resp.read()
        return resp.status


@pytest.mark.looptime
async def test_serve_publishes_its_ca_and_follows_the_authentication_configmap(
    cluster: tuple[ApiServer, Kube], source: InMemorySource
) -> None:
    server, kube = cluster
    # Only the HPA's service account may read metrics (no defaults).
    server.auth_policy.clear()
    server.auth_policy.allow(HPA_USER, "list", "*", group="external.metrics.k8s.io")
    front_proxy_ca = trustme.CA()
    await kube.request(
        "POST", APISERVICES, body=_apiservice("podscaler", "podscaler-metrics-apiserver")
    )
    await kube.request("POST", CONFIGMAP, body=_auth_configmap(front_proxy_ca))

    ready: asyncio.Future[MetricsApiServer] = asyncio.get_running_loop().create_future()
    # The refresh period is the production default (60 s), on the loop clock. looptime cannot
    # fast-forward the serving thread's clock, and it would fire the caBundle guard's watch
    # timeouts at once (test_ca_bundle_guard.py covers it on real time): both off here.
    options = MetricsApiOptions(
        host="127.0.0.1",
        port=0,
        extra_hostnames=("127.0.0.1",),
        serving_thread=False,
        guard_ca_bundle=False,
    )
    assert options.auth_refresh_seconds == 60
    serving = asyncio.create_task(
        serve_metrics_api(source, kube, options, on_ready=ready.set_result)
    )
    try:
        api = await asyncio.wait_for(ready, 10)
        stored = await kube.request("GET", f"{APISERVICES}/{APISERVICE_NAME}")
        ca_bundle = base64.b64decode(stored["spec"]["caBundle"])
        assert b"BEGIN CERTIFICATE" in ca_bundle

        url = metric_url(api, "team-a", "s0-prometheus", "orders")
        async with aiohttp.ClientSession() as session:
            ctx = _trusting(ca_bundle, front_proxy_ca)
            async with session.get(url, ssl=ctx, headers=proxy_headers()) as resp:
                assert resp.status == 200
                assert (await resp.json())["items"][0]["value"] == "250m"
            assert server.auth_policy.access_reviews[-1]["user"] == HPA_USER
            async with session.get(url, ssl=ctx, headers=proxy_headers("mallory")) as resp:
                assert resp.status == 403

            # kube-apiserver rotates its front-proxy CA: the ConfigMap changes, we follow.
            new_front_proxy_ca = trustme.CA()
            await kube.request(
                "PUT",
                f"{CONFIGMAP}/extension-apiserver-authentication",
                body=_auth_configmap(new_front_proxy_ca),
            )
            new_ctx = _trusting(ca_bundle, new_front_proxy_ca)
            # Until the next re-read (every auth_refresh_seconds) the old CA is what is trusted.
            await asyncio.sleep(options.auth_refresh_seconds / 2)
            with pytest.raises((aiohttp.ClientError, ssl.SSLError, OSError)):
                await _status(url, new_ctx)
            assert await _status(url, _trusting(ca_bundle, front_proxy_ca)) == 200
            # After it, the new one, on fresh connections; and the old one no longer.
            await asyncio.sleep(options.auth_refresh_seconds / 2 + 1)
            assert await _status(url, new_ctx) == 200
            async with aiohttp.ClientSession() as fresh:
                with pytest.raises((aiohttp.ClientError, ssl.SSLError, OSError)):
                    async with fresh.get(url, ssl=_trusting(ca_bundle, front_proxy_ca)) as resp:
                        await resp.read()
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


async def test_ca_bundle_is_only_patched_into_our_own_apiservice(
    cluster: tuple[ApiServer, Kube],
) -> None:
    _, kube = cluster
    with pytest.raises(NotFound):
        await publish_ca_bundle(kube, b"pem", namespace="podscaler", service="podscaler-metrics")
    assert await apiservice_owner(kube) is None

    await kube.request(
        "POST", APISERVICES, body=_apiservice("keda", "keda-operator-metrics-apiserver")
    )
    owner = await apiservice_owner(kube)
    assert owner is not None
    assert owner.describe() == "Service keda/keda-operator-metrics-apiserver"
    with pytest.raises(ApiServiceOwnedElsewhere, match="keda/keda-operator-metrics-apiserver"):
        await publish_ca_bundle(kube, b"pem", namespace="podscaler", service="podscaler-metrics")
    stored = await kube.request("GET", f"{APISERVICES}/{APISERVICE_NAME}")
    assert "caBundle" not in stored["spec"]

    await kube.request(
        "PATCH",
        f"{APISERVICES}/{APISERVICE_NAME}",
        body={"spec": {"service": {"namespace": "podscaler", "name": "podscaler-metrics"}}},
        content_type="application/merge-patch+json",
    )
    await publish_ca_bundle(kube, b"pem", namespace="podscaler", service="podscaler-metrics")
    stored = await kube.request("GET", f"{APISERVICES}/{APISERVICE_NAME}")
    assert base64.b64decode(stored["spec"]["caBundle"]) == b"pem"
    assert stored["spec"]["groupPriorityMinimum"] == 100
