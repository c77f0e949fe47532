"""Certificates change under load: no request fails, new connections see the new certificate.

Files are replaced the ways they are in clusters (an atomic rename as the kubelet does for
Secrets, and two plain writes with a window where key and certificate do not match), and the
self-signed issuer renews and publishes its CA before serving what the new CA signed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import ssl
from pathlib import Path

import aiohttp
import trustme
from cryptography import x509

from podscaler.metricsapi.certificates import CertificateFiles, SelfSignedIssuer
from podscaler.metricsapi.tls import CertificateKeeper, ServingTls
from tests.integration.metricsapi.conftest import (
    FRONT_PROXY_NAME,
    HPA_USER,
    Pki,
    ServerFactory,
    metric_url,
    proxy_headers,
)
from tests.integration.metricsapi.delegation import DelegatingApiServer
from tests.integration.metricsapi.memory import InMemorySource, Trigger


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _leaf(ca: trustme.CA) -> tuple[bytes, bytes]:
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    return b"".join(p.bytes() for p in leaf.cert_chain_pems), leaf.private_key_pem.bytes()


async def _served_certificate(port: int, ctx: ssl.SSLContext) -> x509.Certificate:
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1"
    )
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await writer.wait_closed()
    return x509.load_der_x509_certificate(der)


async def test_file_rotation_under_load_fails_no_request(
    make_server: ServerFactory,
    pki: Pki,
    source: InMemorySource,
    reviews: DelegatingApiServer,
    tmp_path: Path,
) -> None:
    reviews.policy.allowed_users.add(HPA_USER)

    async def slow() -> float:
        await asyncio.sleep(0.3)
        return 5.0

    source.add("team-a", "slow", Trigger("s0-prometheus", live=slow))
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert, key = _leaf(pki.serving_ca)
    cert_file.write_bytes(cert)
    key_file.write_bytes(key)
    keeper = CertificateKeeper(
        CertificateFiles(cert_file, key_file), file_check_interval_seconds=0.02
    )
    tls = ServingTls(await keeper.initial(), pki.authentication().trusted_pem)
    api = await make_server(tls=tls)
    reloading = asyncio.create_task(keeper.run(tls))

    # The clients trust the old and the next CA, as the aggregator does while a caBundle holds
    # both during a CA change.
    next_ca = trustme.CA()
    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    next_ca.configure_trust(ctx)
    statuses: list[int] = []
    failures: list[BaseException] = []
    stop = asyncio.Event()

    async def worker(metric: str, so: str, fresh_connections: bool) -> None:
        connector = aiohttp.TCPConnector(force_close=fresh_connections)
        async with aiohttp.ClientSession(connector=connector) as session:
            while not stop.is_set():
                try:
                    async with session.get(
                        metric_url(api, "team-a", metric, so), ssl=ctx, headers=proxy_headers()
                    ) as resp:
                        await resp.read()
                        statuses.append(resp.status)
                except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
                    failures.append(exc)

    workers = [
        asyncio.create_task(worker("s1-cron", "orders", fresh_connections=True)),
        asyncio.create_task(worker("s1-cron", "orders", fresh_connections=True)),
        asyncio.create_task(worker("s1-cron", "orders", fresh_connections=False)),
        asyncio.create_task(worker("s0-prometheus", "slow", fresh_connections=False)),
        asyncio.create_task(worker("s0-prometheus", "slow", fresh_connections=True)),
    ]
    try:
        await asyncio.sleep(0.2)
        generation = tls.generation
        # 1. A renewal from the same CA, written atomically.
        cert, key = _leaf(pki.serving_ca)
        _write_atomically(key_file, key)
        _write_atomically(cert_file, cert)
        for _ in range(100):
            if tls.generation > generation:
                break
            await asyncio.sleep(0.02)
        assert tls.generation > generation
        served = await _served_certificate(api.port, ctx)
        assert served == x509.load_pem_x509_certificate(cert)
        await asyncio.sleep(0.2)

        # 2. A new CA, the two files written one after the other with a mismatching window.
        generation = tls.generation
        cert, key = _leaf(next_ca)
        key_file.write_bytes(key)
        await asyncio.sleep(0.1)  # the keeper sees a key that does not match: keeps the old
        cert_file.write_bytes(cert)
        for _ in range(100):
            if (await _served_certificate(api.port, ctx)) == x509.load_pem_x509_certificate(cert):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the new certificate was never served")
        await asyncio.sleep(0.4)
    finally:
        stop.set()
        await asyncio.gather(*workers)
        reloading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reloading
    assert not failures, failures[:3]
    assert statuses
    assert set(statuses) == {200}
    assert statuses.count(200) > 20


async def test_self_signed_renewal_publishes_the_ca_before_serving_it(
    make_server: ServerFactory, pki: Pki, reviews: DelegatingApiServer
) -> None:
    reviews.policy.allowed_users.add(HPA_USER)
    # The story starts 61 days ago so that its last certificate is valid for the TLS clients.
    now = [dt.datetime.now(dt.UTC) - dt.timedelta(days=61)]
    issuer = SelfSignedIssuer(
        ["127.0.0.1", "podscaler-metrics-apiserver.podscaler.svc"],
        serving_validity=dt.timedelta(days=30),
        ca_validity=dt.timedelta(days=90),
        now=lambda: now[0],
    )
    published: list[bytes] = []
    served_when_published: list[int] = []
    tls_box: list[ServingTls] = []

    async def publish(bundle: bytes) -> None:
        published.append(bundle)
        if tls_box:
            served_when_published.append(tls_box[0].generation)

    keeper = CertificateKeeper(issuer, publish_ca_bundle=publish)
    tls = ServingTls(await keeper.initial(), pki.authentication().trusted_pem)
    tls_box.append(tls)
    api = await make_server(tls=tls)
    assert len(published) == 1

    def trusting(bundle: bytes) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=bundle.decode())
        pki.front_proxy_ca.issue_cert("fp.example", common_name=FRONT_PROXY_NAME).configure_cert(
            ctx
        )
        return ctx

    async with aiohttp.ClientSession() as session:
        url = metric_url(api, "team-a", "s1-cron", "orders")
        # Before two thirds of the validity nothing happens.
        now[0] += dt.timedelta(days=10)
        assert not await keeper.refresh(tls)
        # Then the serving certificate is renewed under the same CA: nothing to publish.
        now[0] += dt.timedelta(days=11)
        assert await keeper.refresh(tls)
        assert len(published) == 1
        # Later the CA itself is near its end: the new bundle (new + old CA) is published while
        # the old certificate is still served, and only then is the new one served.
        now[0] += dt.timedelta(days=40)
        generation = tls.generation
        assert await keeper.refresh(tls)
        assert len(published) == 2
        assert served_when_published[-1] == generation
        assert len(x509.load_pem_x509_certificates(published[-1])) == 2
        async with session.get(url, ssl=trusting(published[-1]), headers=proxy_headers()) as r:
            assert r.status == 200
