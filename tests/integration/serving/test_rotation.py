"""Certificates change under load: no request fails, new connections see the new certificate.

Files are replaced the ways they are in clusters (an atomic rename as the kubelet does for
Secrets, and two plain writes with a window where key and certificate do not match), and the
self-signed issuer renews and publishes its CA before serving what the new CA signed.

Nothing here waits a fixed time: the test drives the keeper's checks itself
(:meth:`CertificateKeeper.refresh`, what its loop calls; the loop's timing is a unit test under
the loop clock), waits for the load to make progress, and holds requests in flight across each
swap on a gate it opens afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import ssl
from pathlib import Path

import aiohttp
import pytest
import trustme
from cryptography import x509

from podscaler.serving.certificates import CertificateFiles, SelfSignedIssuer
from podscaler.serving.tls import CertificateKeeper, ServingTls
from tests.fixtures.delegation import DelegatingApiServer
from tests.fixtures.pki import FRONT_PROXY_NAME, Pki
from tests.integration.serving.conftest import PROXY_USER, Site, SiteFactory, proxy_headers

#: Upper bound for anything awaited here; the expected case takes milliseconds.
PATIENCE_SECONDS = 20.0


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


class Load:
    """Clients hammering the server: some on fresh connections (a handshake each), some on one
    kept-alive connection, some held in flight on the gate."""

    def __init__(self, site: Site, ctx: ssl.SSLContext) -> None:
        self.site = site
        self.ctx = ctx
        self.statuses: list[int] = []
        self.failures: list[BaseException] = []
        self._stop = asyncio.Event()
        #: Set on every answer or failure (the waiters below clear it).
        self._news = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for path, fresh in [
            ("/whoami", True),
            ("/whoami", True),
            ("/whoami", False),
            ("/held", False),
            ("/held", True),
        ]:
            self._tasks.append(asyncio.create_task(self._worker(path, fresh)))

    async def _worker(self, path: str, fresh_connections: bool) -> None:
        connector = aiohttp.TCPConnector(force_close=fresh_connections)
        async with aiohttp.ClientSession(connector=connector) as session:
            while not self._stop.is_set():
                try:
                    async with session.get(
                        f"{self.site.url}{path}", ssl=self.ctx, headers=proxy_headers()
                    ) as resp:
                        await resp.read()
                        self.statuses.append(resp.status)
                except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
                    self.failures.append(exc)
                self._news.set()

    async def progress(self, answers: int) -> None:
        """Wait until ``answers`` more requests have been answered."""
        target = len(self.statuses) + answers
        async with asyncio.timeout(PATIENCE_SECONDS):
            while len(self.statuses) < target and not self.failures:
                self._news.clear()
                await self._news.wait()

    async def held_in_flight(self, count: int) -> None:
        """Wait until ``count`` requests wait on the (closed) gate."""
        async with asyncio.timeout(PATIENCE_SECONDS):
            while self.site.gate.waiting < count:
                self.site.gate.changed.clear()
                await self.site.gate.changed.wait()

    async def stop(self) -> None:
        self._stop.set()
        self.site.gate.opened.set()
        await asyncio.gather(*self._tasks)


async def test_file_rotation_under_load_fails_no_request(
    make_site: SiteFactory, pki: Pki, reviews: DelegatingApiServer, tmp_path: Path
) -> None:
    reviews.policy.allowed_users.add(PROXY_USER)
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert, key = _leaf(pki.serving_ca)
    cert_file.write_bytes(cert)
    key_file.write_bytes(key)
    keeper = CertificateKeeper(CertificateFiles(cert_file, key_file))
    tls = ServingTls(await keeper.initial(), pki.authentication().trusted_pem)
    site = await make_site(tls=tls)
    assert not await keeper.refresh(tls), "nothing changed yet"

    # The clients trust the old and the next CA, as the aggregator does while a caBundle holds
    # both during a CA change.
    next_ca = trustme.CA()
    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    next_ca.configure_trust(ctx)
    load = Load(site, ctx)
    load.start()
    try:
        await load.progress(10)

        # 1. A renewal from the same CA, written atomically, with two requests in flight.
        site.gate.opened.clear()
        await load.held_in_flight(2)
        cert, key = _leaf(pki.serving_ca)
        _write_atomically(key_file, key)
        _write_atomically(cert_file, cert)
        assert await keeper.refresh(tls)
        assert tls.generation == 1
        assert await _served_certificate(site.server.port, ctx) == (
            x509.load_pem_x509_certificate(cert)
        )
        await load.progress(10)  # new handshakes and the kept-alive connection carry on
        site.gate.opened.set()  # ... and the held requests, handshaken before, finish
        await load.progress(10)

        # 2. A new CA, the two files written one after the other with a mismatching window.
        site.gate.opened.clear()
        await load.held_in_flight(2)
        cert, key = _leaf(next_ca)
        key_file.write_bytes(key)
        assert not await keeper.refresh(tls), "a key without its certificate is not served"
        assert tls.generation == 1
        await load.progress(10)
        cert_file.write_bytes(cert)
        assert await keeper.refresh(tls)
        assert tls.generation == 2
        assert await _served_certificate(site.server.port, ctx) == (
            x509.load_pem_x509_certificate(cert)
        )
        site.gate.opened.set()
        await load.progress(20)
    finally:
        await load.stop()
    assert not load.failures, load.failures[:3]
    assert set(load.statuses) == {200}
    assert len(load.statuses) > 60


async def test_self_signed_renewal_publishes_the_ca_before_serving_it(
    make_site: SiteFactory, pki: Pki, reviews: DelegatingApiServer
) -> None:
    reviews.policy.allowed_users.add(PROXY_USER)
    # The story starts 61 days ago so that its last certificate is valid for the TLS clients
    # (they check validity against the real date).
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
    site = await make_site(tls=tls)
    assert len(published) == 1

    def trusting(bundle: bytes) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=bundle.decode())
        pki.front_proxy_ca.issue_cert("fp.example", common_name=FRONT_PROXY_NAME).configure_cert(
            ctx
        )
        return ctx

    async with aiohttp.ClientSession() as session:
        url = f"{site.url}/whoami"
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
        # A client that only knows the first CA no longer trusts what is served.
        with_old_ca_only = trusting(published[0])
        with pytest.raises((aiohttp.ClientError, ssl.SSLError)):
            async with session.get(url, ssl=with_old_ca_only, headers=proxy_headers()) as r:
                await r.read()
