"""Who may read a metric: every metric and discovery path needs credentials, and each is
authorized with the attributes kube-apiserver derives from it.

How a request is authenticated (front proxy, client certificates, tokens) is the serving
layer's and tested there (``tests/integration/serving``). Every request goes over TLS to a
started server; TokenReview and SubjectAccessReview are answered by a real HTTP server with a
policy (``tests/fixtures/delegation.py``).
"""

from __future__ import annotations

import ssl

import aiohttp

from podscaler.metricsapi.server import MetricsApiServer
from tests.fixtures.delegation import DelegatingApiServer
from tests.fixtures.pki import FRONT_PROXY_NAME, Pki
from tests.integration.metricsapi.conftest import (
    HPA_USER,
    metric_url,
    proxy_headers,
)


async def _get(
    session: aiohttp.ClientSession,
    url: str,
    ctx: ssl.SSLContext,
    headers: list[tuple[str, str]] | None = None,
) -> tuple[int, dict[str, object]]:
    async with session.get(url, ssl=ctx, headers=headers or []) as resp:
        return resp.status, await resp.json()


async def test_front_proxy_with_user_headers_reads_the_metric(
    api: MetricsApiServer,
    pki: Pki,
    session: aiohttp.ClientSession,
    reviews: DelegatingApiServer,
) -> None:
    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    headers = [
        *proxy_headers(),
        ("X-Remote-Extra-Scopes%2Fa", "x"),
        ("X-Remote-Extra-Scopes%2Fa", "y"),
    ]
    status, body = await _get(
        session, metric_url(api, "team-a", "s0-prometheus", "orders"), ctx, headers
    )
    assert status == 200, body
    assert body["kind"] == "ExternalMetricValueList"
    assert body["apiVersion"] == "external.metrics.k8s.io/v1beta1"
    assert body["items"] == [
        {
            "metricName": "s0-prometheus",
            "metricLabels": None,
            "timestamp": "2026-01-02T03:04:05Z",
            "value": "250m",
        }
    ]
    (review,) = reviews.access_reviews
    assert review == {
        "resourceAttributes": {
            "verb": "list",
            "group": "external.metrics.k8s.io",
            "version": "v1beta1",
            "resource": "s0-prometheus",
            "namespace": "team-a",
        },
        "user": HPA_USER,
        "groups": ["system:serviceaccounts"],
        "extra": {"scopes/a": ["x", "y"]},
    }


async def test_unauthenticated_request_gets_401(
    api: MetricsApiServer, pki: Pki, session: aiohttp.ClientSession
) -> None:
    status, body = await _get(
        session, metric_url(api, "team-a", "s0-prometheus", "orders"), pki.client_context()
    )
    assert status == 401
    assert body["kind"] == "Status"
    assert body["reason"] == "Unauthorized"
    # Discovery needs credentials too; health does not.
    status, _ = await _get(session, f"{api.url}/apis", pki.client_context())
    assert status == 401
    async with session.get(f"{api.url}/healthz", ssl=pki.client_context()) as resp:
        assert resp.status == 200


async def test_user_denied_by_subject_access_review_gets_403(
    api: MetricsApiServer,
    pki: Pki,
    session: aiohttp.ClientSession,
    reviews: DelegatingApiServer,
) -> None:
    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    status, body = await _get(
        session,
        metric_url(api, "team-a", "s0-prometheus", "orders"),
        ctx,
        proxy_headers("mallory", ("tenants",)),
    )
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        'User "mallory" cannot list resource "s0-prometheus" in API group '
        '"external.metrics.k8s.io" in the namespace "team-a"'
    )
    # The denial is cached on its own TTL: a second try costs no review.
    await _get(
        session,
        metric_url(api, "team-a", "s0-prometheus", "orders"),
        ctx,
        proxy_headers("mallory", ("tenants",)),
    )
    assert len(reviews.access_reviews) == 1


async def test_allowed_answers_are_cached(
    api: MetricsApiServer,
    pki: Pki,
    session: aiohttp.ClientSession,
    reviews: DelegatingApiServer,
) -> None:
    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    for _ in range(5):
        status, _ = await _get(
            session, metric_url(api, "team-a", "s0-prometheus", "orders"), ctx, proxy_headers()
        )
        assert status == 200
    assert len(reviews.access_reviews) == 1
    # Another metric is another resource: reviewed on its own.
    await _get(session, metric_url(api, "team-a", "s1-cron", "orders"), ctx, proxy_headers())
    assert len(reviews.access_reviews) == 2


async def test_discovery_for_an_authenticated_user(
    api: MetricsApiServer,
    pki: Pki,
    session: aiohttp.ClientSession,
    reviews: DelegatingApiServer,
) -> None:
    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    status, body = await _get(
        session, f"{api.url}/apis/external.metrics.k8s.io/v1beta1", ctx, proxy_headers()
    )
    assert status == 200
    assert body["resources"][0]["name"] == "externalmetrics"  # type: ignore[index]
    assert reviews.access_reviews[0]["nonResourceAttributes"] == {
        "path": "/apis/external.metrics.k8s.io/v1beta1",
        "verb": "get",
    }
    status, body = await _get(session, f"{api.url}/apis", ctx, proxy_headers())
    assert body["groups"][0]["name"] == "external.metrics.k8s.io"  # type: ignore[index]
    status, body = await _get(
        session, f"{api.url}/apis/external.metrics.k8s.io", ctx, proxy_headers()
    )
    assert body["preferredVersion"]["version"] == "v1beta1"  # type: ignore[index]
