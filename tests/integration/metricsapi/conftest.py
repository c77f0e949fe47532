"""Fixtures for the metrics API over TLS: a PKI (trustme), a reviews server, a started API.

The PKI has the CAs a real cluster has: one that signs our serving certificate, the
requestheader (front-proxy) CA that signs the kube-aggregator's client certificate, the
``client-ca-file`` CA for ordinary client certificates, and a stranger's CA.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import trustme

from podscaler.kube.clients import Kube, connect
from podscaler.metricsapi.authentication import (
    AuthenticationConfig,
    Authenticator,
    RequestHeaderConfig,
    TokenReviewer,
)
from podscaler.metricsapi.authorization import SubjectAccessReviewer
from podscaler.metricsapi.certificates import ServingMaterial
from podscaler.metricsapi.server import MetricsApiServer
from podscaler.metricsapi.tls import ServingTls
from tests.integration.metricsapi.delegation import DelegatingApiServer
from tests.integration.metricsapi.memory import InMemorySource, Trigger

FRONT_PROXY_NAME = "front-proxy-client"
KEDA_LABEL = "scaledobject.keda.sh/name"
HPA_USER = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"


@dataclass
class Pki:
    serving_ca: trustme.CA
    front_proxy_ca: trustme.CA
    client_ca: trustme.CA
    stranger_ca: trustme.CA

    def serving_material(self, ca: trustme.CA | None = None) -> ServingMaterial:
        ca = ca or self.serving_ca
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        return ServingMaterial(
            cert_pem=b"".join(p.bytes() for p in leaf.cert_chain_pems),
            key_pem=leaf.private_key_pem.bytes(),
            ca_bundle_pem=ca.cert_pem.bytes(),
        )

    def authentication(self) -> AuthenticationConfig:
        return AuthenticationConfig(
            requestheader=RequestHeaderConfig(
                client_ca_pem=self.front_proxy_ca.cert_pem.bytes(),
                allowed_names=frozenset({FRONT_PROXY_NAME}),
                username_headers=("X-Remote-User",),
                group_headers=("X-Remote-Group",),
                extra_headers_prefixes=("X-Remote-Extra-",),
            ),
            client_ca_pem=self.client_ca.cert_pem.bytes(),
        )

    def client_context(
        self, cert_ca: trustme.CA | None = None, common_name: str = ""
    ) -> ssl.SSLContext:
        """A client context trusting our serving CA, optionally presenting a certificate."""
        ctx = ssl.create_default_context()
        self.serving_ca.configure_trust(ctx)
        if cert_ca is not None:
            cert_ca.issue_cert(
                f"{common_name or 'client'}.example", common_name=common_name or None
            ).configure_cert(ctx)
        return ctx


@pytest.fixture(scope="session")
def pki() -> Pki:
    return Pki(trustme.CA(), trustme.CA(), trustme.CA(), trustme.CA())


@pytest.fixture
async def reviews() -> AsyncIterator[DelegatingApiServer]:
    async with DelegatingApiServer() as server:
        yield server


@pytest.fixture
async def reviews_kube(reviews: DelegatingApiServer) -> AsyncIterator[Kube]:
    async with await connect(server=reviews.url) as kube:
        yield kube


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
