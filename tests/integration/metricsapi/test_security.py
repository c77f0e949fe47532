"""Who may read a metric: the front proxy with its headers, client certificates, tokens — and
nobody else.

Every request goes over TLS to a started server; TokenReview and SubjectAccessReview are
answered by a real HTTP server with a policy (``delegation.py``).
"""

from __future__ import annotations

import ssl

import aiohttp
import pytest

from podscaler.metricsapi.server import MetricsApiServer
from tests.integration.metricsapi.conftest import (
    FRONT_PROXY_NAME,
    HPA_USER,
    Pki,
    ServerFactory,
    metric_url,
    proxy_headers,
)
from tests.integration.metricsapi.delegation import DelegatingApiServer


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


async def test_user_headers_without_front_proxy_certificate_are_ignored(
    api: MetricsApiServer, pki: Pki, session: aiohttp.ClientSession
) -> None:
    status, body = await _get(
        session,
        metric_url(api, "team-a", "s0-prometheus", "orders"),
        pki.client_context(),
        proxy_headers(),
    )
    assert status == 401, body


async def test_certificate_from_another_ca_cannot_read(
    api: MetricsApiServer, pki: Pki, session: aiohttp.ClientSession
) -> None:
    ctx = pki.client_context(pki.stranger_ca, FRONT_PROXY_NAME)
    with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
        await _get(
            session, metric_url(api, "team-a", "s0-prometheus", "orders"), ctx, proxy_headers()
        )
    # The listener is unharmed: the aggregator still gets through.
    ok = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    status, _ = await _get(
        session, metric_url(api, "team-a", "s0-prometheus", "orders"), ok, proxy_headers()
    )
    assert status == 200


async def test_front_proxy_certificate_with_a_name_not_allowed_gets_401(
    api: MetricsApiServer, pki: Pki, session: aiohttp.ClientSession
) -> None:
    ctx = pki.client_context(pki.front_proxy_ca, "intruder")
    status, body = await _get(
        session, metric_url(api, "team-a", "s0-prometheus", "orders"), ctx, proxy_headers()
    )
    assert status == 401
    assert "not allowed" in str(body["message"])


async def test_front_proxy_without_user_header_gets_401(
    api: MetricsApiServer, pki: Pki, session: aiohttp.ClientSession
) -> None:
    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    status, _ = await _get(session, metric_url(api, "team-a", "s0-prometheus", "orders"), ctx)
    assert status == 401


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


async def test_bearer_token_checked_by_token_review(
    api: MetricsApiServer,
    pki: Pki,
    session: aiohttp.ClientSession,
    reviews: DelegatingApiServer,
) -> None:
    reviews.policy.tokens["good-token"] = {
        "username": "alice",
        "uid": "u-1",
        "groups": ["readers"],
    }
    reviews.policy.allowed_groups.add("readers")
    url = metric_url(api, "team-a", "s1-cron", "orders")
    ctx = pki.client_context()
    for _ in range(3):
        status, body = await _get(session, url, ctx, [("Authorization", "Bearer good-token")])
        assert status == 200, body
        assert body["items"][0]["value"] == "3"  # type: ignore[index]
    assert len(reviews.token_reviews) == 1, "token reviews are cached"
    assert reviews.access_reviews[0]["user"] == "alice"
    assert reviews.access_reviews[0]["uid"] == "u-1"

    status, body = await _get(session, url, ctx, [("Authorization", "Bearer bad-token")])
    assert status == 401
    assert "bad-token" not in str(body), "a token is never echoed"
    # Spoofed front-proxy headers next to a token are not believed: alice stays alice.
    status, _ = await _get(
        session,
        url,
        ctx,
        [("Authorization", "Bearer good-token"), ("X-Remote-User", "system:admin")],
    )
    assert status == 200
    assert {r["user"] for r in reviews.access_reviews} == {"alice"}


async def test_ordinary_client_certificate_is_its_common_name(
    api: MetricsApiServer,
    pki: Pki,
    session: aiohttp.ClientSession,
    reviews: DelegatingApiServer,
) -> None:
    ctx = pki.client_context(pki.client_ca, "jane")
    status, _ = await _get(session, metric_url(api, "team-a", "s1-cron", "orders"), ctx)
    assert status == 403
    assert reviews.access_reviews[0]["user"] == "jane"


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


async def test_authorization_failure_is_a_500_not_an_allow(
    make_server: ServerFactory,
    pki: Pki,
    session: aiohttp.ClientSession,
) -> None:
    from podscaler.kube.clients import connect
    from podscaler.metricsapi.authorization import SubjectAccessReviewer

    async with await connect(server="http://127.0.0.1:9", request_timeout_seconds=1) as dead:
        api = await make_server(authorizer=SubjectAccessReviewer(dead))
        ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
        status, body = await _get(
            session, metric_url(api, "team-a", "s1-cron", "orders"), ctx, proxy_headers()
        )
    assert status == 500
    assert body["message"] == "authorization could not be checked"
