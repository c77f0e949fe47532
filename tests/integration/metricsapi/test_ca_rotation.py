"""Rotating the replicas' shared CA through its Secret while reads go on (issue 17 §10).

Against the embedded API server as kube-aggregator over TLS: two replicas serve from the CA in
Secret ``podscaler-metrics-api-ca``, one leading (it steps the rotation), one following. A
rotation is started and runs its three steps (introduce, switch, retire) with a 1 s overlap,
while a loop reads a metric through the aggregator and, beside it, makes a fresh TLS handshake
with each replica trusting only the APIService's caBundle as published at that moment (the
aggregator may keep a connection alive across the switch; a fresh handshake cannot). Not one
read or handshake fails; both replicas end up serving certificates from the new CA, and the
bundle trusts the new CA only.
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
from podscaler.kube.errors import KubeError
from podscaler.metricsapi.carotation import SharedCaKeeper, decode_shared_ca
from podscaler.metricsapi.server import MetricsApiOptions, MetricsApiServer, serve_metrics_api
from podscaler.metricsapi.sharedca import SHARED_CA_SECRET, shared_authority
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.metricsapi.memory import InMemorySource, Trigger

APISERVICE = "v1beta1.external.metrics.k8s.io"
PATH = f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}"
NS, SERVICE = "podscaler", "podscaler-metrics-apiserver"
METRIC = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/s0-prometheus"
SECRET = f"/api/v1/namespaces/{NS}/secrets/{SHARED_CA_SECRET}"
MANIFEST: dict[str, Any] = {
    "apiVersion": "apiregistration.k8s.io/v1",
    "kind": "APIService",
    "metadata": {"name": APISERVICE},
    "spec": {
        "group": "external.metrics.k8s.io",
        "version": "v1beta1",
        "groupPriorityMinimum": 100,
        "versionPriority": 100,
        "service": {"namespace": NS, "name": SERVICE, "port": 443},
    },
}


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[Kube]:
    async with ApiServer(tls=True, install_crds=False, aggregation=True) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        async with await connect(kubeconfig=kubeconfig) as client:
            yield client


async def _bundle(kube: Kube) -> bytes:
    obj = await kube.request("GET", PATH)
    return base64.b64decode((obj.get("spec") or {}).get("caBundle") or "")


async def _handshake(port: int, bundle: bytes) -> x509.Certificate:
    """A fresh TLS handshake trusting *bundle* only, as the aggregator verifies; the served
    certificate."""
    ctx = ssl.create_default_context(cadata=bundle.decode())
    _reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname=f"{SERVICE}.{NS}.svc"
    )
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def _issuer_key(certificate: x509.Certificate) -> bytes | None:
    """Which CA key signed *certificate* (CA names can repeat within one second)."""
    extension = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    return extension.value.key_identifier


async def test_rotating_the_shared_ca_fails_no_read(kube: Kube) -> None:
    source = InMemorySource()
    source.add("default", "web", Trigger("s0-prometheus", cached=30))
    await kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": NS}})
    await kube.request(
        "POST",
        f"/api/v1/namespaces/{NS}/services",
        body={
            "metadata": {"name": SERVICE},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
        },
    )
    await kube.request("POST", "/apis/apiregistration.k8s.io/v1/apiservices", body=MANIFEST)
    original = await shared_authority(kube, NS, now=_now(), common_name=f"{SERVICE}-ca")
    keepers = [
        SharedCaKeeper(
            kube,
            NS,
            decode_shared_ca(await kube.request("GET", SECRET)),
            now=_now,
            leading=lambda lead=lead: lead,
            overlap=timedelta(seconds=1),
            poll_seconds=0.2,
        )
        for lead in (True, False)
    ]
    options = MetricsApiOptions(
        host="127.0.0.1", port=0, service=SERVICE, namespace=NS, request_timeout_seconds=5
    )
    apis: list[MetricsApiServer] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for keeper in keepers:
            ready: asyncio.Future[MetricsApiServer] = asyncio.get_running_loop().create_future()
            tasks.append(
                asyncio.create_task(
                    serve_metrics_api(
                        source, kube, options, on_ready=ready.set_result, shared=keeper
                    )
                )
            )
            apis.append(await asyncio.wait_for(ready, 10))
        await kube.request(
            "POST",
            f"/api/v1/namespaces/{NS}/endpoints",
            body={
                "metadata": {"name": SERVICE},
                "subsets": [
                    {
                        "addresses": [{"ip": "127.0.0.1"}],
                        "ports": [{"name": "https", "port": apis[0].port}],
                    }
                ],
            },
        )
        params = {"labelSelector": "scaledobject.keda.sh/name=web"}
        async with asyncio.timeout(10):
            while True:
                try:
                    await kube.request("GET", METRIC, params=params)
                    break
                except KubeError:
                    await asyncio.sleep(0.05)

        failures: list[str] = []
        reads = 0
        issuers: set[bytes | None] = set()

        async def read_in_a_loop() -> None:
            nonlocal reads
            while True:
                try:
                    await kube.request("GET", METRIC, params=params)
                    bundle = await _bundle(kube)
                    for api in apis:
                        served = await _handshake(api.port, bundle)
                        issuers.add(_issuer_key(served))
                    reads += 1
                except (KubeError, OSError, ssl.SSLError) as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.02)

        reader = asyncio.create_task(read_in_a_loop())
        async with asyncio.timeout(10):
            while not issuers:  # noqa: ASYNC110 - a read from the old CA first
                await asyncio.sleep(0.02)
        keepers[0].rotate_now()

        def rotated(keeper: SharedCaKeeper) -> bool:
            state = keeper.state
            return state.signing.pem != original.pem and state.previous_pem is None

        async with asyncio.timeout(30):
            while not all(rotated(k) for k in keepers):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # reads after the last step, too
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader

        assert failures == [], failures[:5]
        assert reads >= 3  # each is a read and two handshakes: slow on a loaded machine
        new = keepers[0].state.signing
        assert keepers[1].state.signing.pem == new.pem
        for api in apis:
            served = await _handshake(api.port, new.pem)
            assert served.issuer == new.cert.subject
        assert len(issuers) == 2  # served from the old CA, then from the new one
        final = await _bundle(kube)
        assert new.pem.strip() in final
        assert original.pem.strip() not in final
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
