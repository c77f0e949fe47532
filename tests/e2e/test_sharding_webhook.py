"""e2e: the VerticalScaler admission webhook answers on every ``--shard`` replica.

kube-apiserver calls the webhook through one Service, which may route to any replica, and the
MutatingWebhookConfiguration holds one ``caBundle``: every replica issues its certificate from
the shared CA in a Secret (tests/integration/manifests/test_webhook_replicas.py tests that in
process). Under ``--shard`` each replica's webhook answers from its own recommender, which
resolves every scaler (owned here or not) and reads the recommendation from the scaler's
status, whoever wrote it; so a pod created while the Service routes to either replica gets it.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from podscaler.kube.clients import Kube
from podscaler.sim.apiserver.server import ApiServer
from tests.e2e.conftest import OperatorProcess, _free_port
from tests.integration.controllers.objects import wait_for
from tests.integration.sim.test_vertical_admission import (
    CONFIGURATION,
    NAMESPACE,
    PODS,
    WEBHOOK_SERVICE,
    add_scaler,
    configuration,
    deployment,
    pod,
)

Operator = Callable[..., Awaitable[OperatorProcess]]
CONFIGURATIONS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


@pytest.fixture
async def apiserver() -> AsyncIterator[ApiServer]:
    """Over TLS: it calls webhooks over TLS, trusting the configuration's caBundle."""
    async with ApiServer(tls=True, bookmark_interval=0.2) as server:
        yield server


async def test_every_replica_answers_the_admission_webhook(
    apiserver: ApiServer, kube: Kube, operator: Operator
) -> None:
    for ns in (NAMESPACE, "podscaler"):
        await kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    await kube.request("POST", CONFIGURATIONS, body=configuration())
    await kube.request(
        "POST", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", body=deployment("hamster")
    )
    await add_scaler(kube, "hamster-vs", "hamster", "Recreate")
    ports = [_free_port(), _free_port()]
    for port in ports:
        await operator(
            "--shard",
            "--shard-lease-duration=4",
            f"--admission-webhook-port={port}",
            "--admission-webhook-bind-address=127.0.0.1",
        )

    async def one_bundle() -> bool:
        """Published, and the shared CA's (both replicas have started serving by now)."""
        stored = await kube.request("GET", f"{CONFIGURATIONS}/{CONFIGURATION}")
        bundle = stored["webhooks"][0]["clientConfig"].get("caBundle")
        secret = await kube.request(
            "GET", "/api/v1/namespaces/podscaler/secrets/podscaler-metrics-api-ca"
        )
        return bool(bundle) and base64.b64decode(bundle) == base64.b64decode(
            secret["data"]["ca.crt"]
        )

    await wait_for(one_bundle, 30)
    for i, port in enumerate(ports):
        apiserver.register_service_endpoint(*WEBHOOK_SERVICE, "127.0.0.1", port)
        created: dict[str, Any] = await kube.request(
            "POST", PODS, body=pod(f"hamster-{i}", "hamster")
        )
        resources = created["spec"]["containers"][0]["resources"]
        assert resources["requests"] == {"cpu": "587m", "memory": "262144k"}, (port, created)
