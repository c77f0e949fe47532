"""Fixtures for the metrics API over TLS: a started API with full authentication and
authorization, and helpers to address a metric as the kube-aggregator does.

The PKI (``pki``) and the TokenReview/SubjectAccessReview server (``reviews``, ``reviews_kube``)
come from ``tests/fixtures``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from podscaler.kube.clients import Kube
from podscaler.metricsapi.server import MetricsApiServer
from podscaler.serving.authentication import Authenticator, TokenReviewer
from podscaler.serving.authorization import SubjectAccessReviewer
from podscaler.serving.tls import ServingTls
from tests.fixtures.delegation import DelegatingApiServer
from tests.fixtures.pki import Pki
from tests.integration.metricsapi.memory import InMemorySource, Trigger

KEDA_LABEL = "scaledobject.keda.sh/name"
HPA_USER = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"


@pytest.fixture
def source() -> InMemorySource:
    src = InMemorySource()
    src.add("team-a", "orders", Trigger("s0-prometheus", cached=0.25), Trigger("s1-cron", cached=3))
    return src


ServerFactory = Callable[..., Awaitable[MetricsApiServer]]


@pytest.fixture
async def make_server(
    pki: Pki, source: InMemorySource, reviews_kube: Kube
) -> AsyncIterator[ServerFactory]:
    """Build-and-start a metrics API over TLS with full authn/authz (override via kwargs)."""
    started: list[MetricsApiServer] = []

    async def build(**overrides: Any) -> MetricsApiServer:
        src = overrides.pop("source", source)
        kwargs: dict[str, Any] = {
            "tls": ServingTls(pki.serving_material(), pki.authentication().trusted_pem),
            "authenticator": Authenticator(pki.authentication(), TokenReviewer(reviews_kube)),
            "authorizer": SubjectAccessReviewer(reviews_kube),
        }
        kwargs.update(overrides)
        server = MetricsApiServer(src, **kwargs)
        await server.start("127.0.0.1", 0)
        started.append(server)
        return server

    yield build
    for server in started:
        await server.stop()


@pytest.fixture
async def api(make_server: ServerFactory, reviews: DelegatingApiServer) -> MetricsApiServer:
    """The default server; the front proxy's user ``hpa`` is allowed by policy."""
    reviews.policy.allowed_users.add(HPA_USER)
    return await make_server()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def metric_url(api: MetricsApiServer, namespace: str, metric: str, so: str | None) -> str:
    url = f"{api.url}/apis/external.metrics.k8s.io/v1beta1/namespaces/{namespace}/{metric}"
    if so is not None:
        url += f"?labelSelector={KEDA_LABEL}%3D{so}"
    return url


def proxy_headers(
    user: str = HPA_USER, groups: tuple[str, ...] = ("system:serviceaccounts",)
) -> list[tuple[str, str]]:
    return [("X-Remote-User", user), *(("X-Remote-Group", g) for g in groups)]
