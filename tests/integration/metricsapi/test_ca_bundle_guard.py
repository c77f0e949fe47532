"""The APIService's caBundle comes back within seconds after the manifests are re-applied
(issue 17 §5).

``manifests/metricsapi/`` carries no caBundle; re-applying it (``kubectl replace``, or an apply
that owns the field) used to leave every aggregated read failing with x509 errors until the
next renewal, weeks later. Against the embedded API server as kube-aggregator, with
``serve_metrics_api`` started as ``podscaler run`` starts it: the APIService is replaced without
its bundle, the aggregated read fails, and within seconds our CA is back and reads succeed.
A second CA someone else put in the bundle is kept beside ours (two replicas converge rather
than take turns), an expired one is dropped.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from podscaler.kube.clients import Kube, connect
from podscaler.kube.errors import KubeError
from podscaler.metricsapi.cabundle import bundle_certificates, merged_bundle
from podscaler.metricsapi.server import MetricsApiOptions, MetricsApiServer, serve_metrics_api
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.metricsapi.memory import InMemorySource, Trigger

APISERVICE = "v1beta1.external.metrics.k8s.io"
PATH = f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}"
SERVICE_NS, SERVICE = "podscaler", "podscaler-metrics-apiserver"
METRIC = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/s0-prometheus"
#: The manifest as shipped: no caBundle.
MANIFEST: dict[str, Any] = {
    "apiVersion": "apiregistration.k8s.io/v1",
    "kind": "APIService",
    "metadata": {"name": APISERVICE},
    "spec": {
        "group": "external.metrics.k8s.io",
        "version": "v1beta1",
        "groupPriorityMinimum": 100,
        "versionPriority": 100,
        "service": {"namespace": SERVICE_NS, "name": SERVICE, "port": 443},
    },
}


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[ApiServer, Kube]]:
    """The aggregator over TLS: reads are the kubeconfig administrator's, as ``kubectl get
    --raw`` would be (plain HTTP would forward them as anonymous, which the metrics API
    refuses)."""
    async with ApiServer(tls=True, install_crds=False, aggregation=True) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        async with await connect(kubeconfig=kubeconfig) as kube:
            yield server, kube


async def _read(kube: Kube) -> bool:
    try:
        await kube.request("GET", METRIC, params={"labelSelector": "scaledobject.keda.sh/name=web"})
    except KubeError:
        return False
    return True


async def _until(check: Any, seconds: float) -> float:
    """Seconds until ``await check()`` is true (fails after *seconds*)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 - polling the server is the point
            await asyncio.sleep(0.05)
    return loop.time() - started


async def _bundle(kube: Kube) -> bytes:
    obj = await kube.request("GET", PATH)
    return base64.b64decode((obj.get("spec") or {}).get("caBundle") or "")


async def test_a_re_applied_apiservice_gets_our_ca_back_within_seconds(
    cluster: tuple[ApiServer, Kube],
) -> None:
    _server, kube = cluster
    source = InMemorySource()
    source.add("default", "web", Trigger("s0-prometheus", cached=30))
    await kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": SERVICE_NS}})
    await kube.request(
        "POST",
        f"/api/v1/namespaces/{SERVICE_NS}/services",
        body={
            "metadata": {"name": SERVICE},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
        },
    )
    await kube.request("POST", "/apis/apiregistration.k8s.io/v1/apiservices", body=MANIFEST)
    ready: asyncio.Future[MetricsApiServer] = asyncio.get_running_loop().create_future()
    options = MetricsApiOptions(
        host="127.0.0.1", port=0, service=SERVICE, namespace=SERVICE_NS, request_timeout_seconds=5
    )
    serving = asyncio.create_task(
        serve_metrics_api(source, kube, options, on_ready=ready.set_result)
    )
    try:
        api = await asyncio.wait_for(ready, 10)
        await kube.request(
            "POST",
            f"/api/v1/namespaces/{SERVICE_NS}/endpoints",
            body={
                "metadata": {"name": SERVICE},
                "subsets": [
                    {
                        "addresses": [{"ip": "127.0.0.1"}],
                        "ports": [{"name": "https", "port": api.port}],
                    }
                ],
            },
        )
        await _until(lambda: _read(kube), 10)
        ours = await _bundle(kube)
        assert bundle_certificates(ours)

        # kubectl replace -f manifests/metricsapi/apiservice.yaml: the bundle is gone.
        current = await kube.request("GET", PATH)
        replaced = {
            **MANIFEST,
            "metadata": {
                **MANIFEST["metadata"],
                "resourceVersion": current["metadata"]["resourceVersion"],
            },
        }
        await kube.request("PUT", PATH, body=replaced)
        took = await _until(lambda: _read(kube), 10)
        assert took < 5.0
        assert bundle_certificates(ours)[0] in await _bundle(kube)

        # Another replica's CA (valid) stays beside ours; an expired one goes.
        other = trustme.CA().cert_pem.bytes()
        stale = _expired_ca()
        patch = {"spec": {"caBundle": base64.b64encode(other + stale).decode()}}
        await kube.request("PATCH", PATH, body=patch, content_type="application/merge-patch+json")

        async def converged() -> bool:
            have = bundle_certificates(await _bundle(kube))
            return bundle_certificates(ours)[0] in have and other.strip() + b"\n" in have

        await _until(converged, 10)
        assert stale.strip() + b"\n" not in await _bundle(kube)
        assert await _read(kube)
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)


def _expired_ca() -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_merging_keeps_ours_first_and_only_valid_others() -> None:
    now = datetime.now(UTC)
    ours = trustme.CA().cert_pem.bytes()
    other = trustme.CA().cert_pem.bytes()
    stale = _expired_ca()
    assert merged_bundle(ours + other, ours, now) is None
    merged = merged_bundle(other + stale, ours, now)
    assert merged is not None
    assert bundle_certificates(merged) == bundle_certificates(ours + other)
    assert merged_bundle(b"", ours, now) == bundle_certificates(ours)[0]
