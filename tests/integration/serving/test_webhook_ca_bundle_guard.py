"""The admission webhook's caBundle comes back within seconds after its configuration is
re-applied without it (issue 17 §5, the webhook half).

Against the embedded API server over TLS, which calls the webhook through its Service with the
configuration's ``caBundle`` as kube-apiserver does: the webhook publishes its CA and patches a
pod; the configuration is replaced as shipped (no caBundle), a pod created then is admitted
unpatched (``failurePolicy: Ignore``: the call failed), and within seconds the bundle is back
and pods are patched again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from podscaler.kube.clients import Kube, connect
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.sim.test_vertical_admission import (
    CONFIGURATION,
    NAMESPACE,
    PODS,
    add_scaler,
    configuration,
    deployment,
    pod,
    prepare,
    webhook_served,
)

PATH = f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{CONFIGURATION}"


@pytest.fixture
async def kube(apiserver_tls: ApiServer, tmp_path: Path) -> AsyncIterator[Kube]:
    kubeconfig = apiserver_tls.write_kubeconfig(tmp_path / "kubeconfig")
    async with await connect(kubeconfig=kubeconfig) as client:
        await prepare(client)
        async with webhook_served(apiserver_tls, client):
            yield client


async def _patched(kube: Kube, name: str) -> bool:
    created: dict[str, Any] = await kube.request("POST", PODS, body=pod(name, "hamster"))
    return bool(created["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "587m")


async def test_a_re_applied_configuration_gets_our_ca_back_within_seconds(kube: Kube) -> None:
    await kube.request("POST", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments",
                       body=deployment("hamster"))  # fmt: skip
    await add_scaler(kube, "hamster-vs", "hamster", "Recreate")
    assert await _patched(kube, "before")
    ours = (await kube.request("GET", PATH))["webhooks"][0]["clientConfig"]["caBundle"]

    # kubectl replace -f manifests/components/vertical-webhook/: the bundle is gone.
    current = await kube.request("GET", PATH)
    shipped = configuration()
    shipped["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    loop = asyncio.get_running_loop()
    replaced_at = loop.time()
    await kube.request("PUT", PATH, body=shipped)

    attempt = 0
    async with asyncio.timeout(10):
        while True:
            attempt += 1
            if await _patched(kube, f"after-{attempt}"):
                break
            await asyncio.sleep(0.1)
    assert loop.time() - replaced_at < 5.0
    restored = (await kube.request("GET", PATH))["webhooks"][0]["clientConfig"]["caBundle"]
    assert restored == ours
