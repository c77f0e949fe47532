"""The admission webhook follows a rotation of the replicas' shared CA (issue 17 §10).

The metrics API's keeper steps the CA in Secret ``podscaler-metrics-api-ca``; a webhook given
that keeper must issue its serving certificate from each new CA and publish each trust bundle
into its MutatingWebhookConfiguration, or near the old CA's end it would mint one of its own
that the other replicas' bundle does not trust. Against the embedded API server over TLS,
which calls the webhook with the configuration's caBundle as kube-apiserver does: pods are
patched before, during and after the three steps, and at the end the webhook serves from the
new CA and the bundle trusts the new CA only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from podscaler.kube.clients import Kube, connect
from podscaler.metricsapi.carotation import SharedCaKeeper, decode_shared_ca
from podscaler.metricsapi.sharedca import SHARED_CA_SECRET, shared_authority
from podscaler.pki import Authority
from podscaler.serving.security import CertificateOptions
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.sim.test_vertical_admission import (
    CONFIGURATION,
    NAMESPACE,
    PODS,
    WEBHOOK_SERVICE,
    add_scaler,
    deployment,
    pod,
    prepare,
    webhook_served,
)

PATH = f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{CONFIGURATION}"
OPERATOR_NS = "podscaler"
SECRET = f"/api/v1/namespaces/{OPERATOR_NS}/secrets/{SHARED_CA_SECRET}"


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def kube(apiserver_tls: ApiServer, tmp_path: Path) -> AsyncIterator[Kube]:
    kubeconfig = apiserver_tls.write_kubeconfig(tmp_path / "kubeconfig")
    async with await connect(kubeconfig=kubeconfig) as client:
        await prepare(client)
        yield client


async def _bundle_certificates(kube: Kube) -> list[x509.Certificate]:
    configuration_now: dict[str, Any] = await kube.request("GET", PATH)
    pem = base64.b64decode(configuration_now["webhooks"][0]["clientConfig"]["caBundle"])
    return x509.load_pem_x509_certificates(pem)


async def test_the_webhook_serves_from_each_new_ca(kube: Kube, apiserver_tls: ApiServer) -> None:
    original = await shared_authority(kube, OPERATOR_NS, now=_now(), common_name="ca")
    keeper = SharedCaKeeper(
        kube,
        OPERATOR_NS,
        decode_shared_ca(await kube.request("GET", SECRET)),
        now=_now,
        overlap=timedelta(seconds=1),
        poll_seconds=0.2,
    )
    rotating = asyncio.create_task(keeper.run())
    served = webhook_served(
        apiserver_tls, kube, certificates=CertificateOptions(ca=keeper.signing), shared=keeper
    )
    try:
        async with served as server:
            await _rotate_while_admitting(kube, keeper, original, server.port)
    finally:
        rotating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rotating


async def _rotate_while_admitting(
    kube: Kube, keeper: SharedCaKeeper, original: Authority, port: int
) -> None:
    """Pods created before, during and after the three steps are all patched; at the end the
    webhook serves from the new CA and its configuration trusts the new CA only."""
    await kube.request(
        "POST", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", body=deployment("hamster")
    )
    await add_scaler(kube, "hamster-vs", "hamster", "Recreate")
    unpatched: list[str] = []
    created = 0

    async def create_pod() -> None:
        nonlocal created
        created += 1
        name = f"p-{created}"
        body: dict[str, Any] = await kube.request("POST", PODS, body=pod(name, "hamster"))
        if body["spec"]["containers"][0]["resources"]["requests"]["cpu"] != "587m":
            unpatched.append(name)

    async with asyncio.timeout(10):
        while True:  # until the webhook patches: it serves and the scaler is seen
            await create_pod()
            if not unpatched:
                break
            unpatched.clear()
            await asyncio.sleep(0.1)
    keeper.rotate_now()

    def rotated() -> bool:
        state = keeper.state
        return state.signing.pem != original.pem and state.previous_pem is None

    async with asyncio.timeout(30):
        while not rotated():
            await create_pod()
            await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # the last step's refresh reaches the webhook
    for _ in range(3):
        await create_pod()

    assert unpatched == [], unpatched
    new = keeper.state.signing
    served = await apiserver_tls_handshake(port, new.pem)
    assert served.issuer == new.cert.subject
    assert [c.subject for c in await _bundle_certificates(kube)] == [new.cert.subject]


async def apiserver_tls_handshake(port: int, bundle: bytes) -> x509.Certificate:
    """A fresh TLS handshake trusting *bundle* only, as kube-apiserver calls a webhook."""
    ctx = ssl.create_default_context(cadata=bundle.decode())
    namespace, name = WEBHOOK_SERVICE
    _reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname=f"{name}.{namespace}.svc"
    )
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
