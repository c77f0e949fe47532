"""The listener's TLS: certificates swapped without a restart, client certificates requested.

An aiohttp site binds one ``ssl.SSLContext`` for its life. To change the certificate without
restarting the listener, that context only carries an SNI callback, which OpenSSL calls for
every ClientHello (also when the client sends no server name, as Go and Python clients do when
dialing an IP address); the callback moves the new connection onto the *current* context. A
connection keeps the context it was handshaken with, so requests in flight are never disturbed
and every new connection gets the newest certificate and the newest client CAs.

Client certificates are requested but optional (``CERT_OPTIONAL``): the kube-aggregator presents
its front-proxy certificate, kube-apiserver calling a webhook may present its client
certificate, other clients come with a bearer token. OpenSSL verifies a
presented certificate against the union of the requestheader CA and the client CA; one that
verifies against neither fails the handshake (Python's ``ssl`` has no verify callback that could
turn it into a 401 instead). Which of the two CAs signed it is decided afterwards, in
:mod:`podscaler.serving.authentication`.

:class:`CertificateKeeper` is the task that keeps a :class:`ServingTls` fresh: it stat()s
certificate files every few seconds, or sleeps until the self-signed issuer's renewal is due
(measured by the issuer's own clock, so a test's fake ``now`` drives it too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, Protocol

from podscaler.pki import Authority
from podscaler.serving.certificates import CertificateFiles, SelfSignedIssuer, ServingMaterial

__all__ = [
    "FILE_CHECK_INTERVAL_SECONDS",
    "CertificateKeeper",
    "PublishCaBundle",
    "ServingTls",
    "build_context",
]

log = logging.getLogger(__name__)

#: How often certificate files are stat()ed for replacement.
FILE_CHECK_INTERVAL_SECONDS: Final = 5.0

#: A CA bundle publisher: called with the PEM bundle before a certificate signed by a new CA is
#: served (the metrics API patches its APIService's caBundle, a webhook its configuration's).
PublishCaBundle = Callable[[bytes], Awaitable[None]]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _load_chain(ctx: ssl.SSLContext, material: ServingMaterial) -> None:
    """Load certificate and key, which Python's ``ssl`` only takes from files.

    On Linux the files are anonymous memory (``memfd_create``) read through ``/proc/self/fd``:
    the key never touches a disk, and it works with ``readOnlyRootFilesystem``. Elsewhere a
    private temporary directory is used and removed at once.
    """
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fds = [
            os.memfd_create("tls.crt", os.MFD_CLOEXEC),
            os.memfd_create("tls.key", os.MFD_CLOEXEC),
        ]
        try:
            _write_all(fds[0], material.cert_pem)
            _write_all(fds[1], material.key_pem)
            ctx.load_cert_chain(f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}")
        finally:
            for fd in fds:
                os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="podscaler-serving-") as tmp:
        cert_path = Path(tmp) / "tls.crt"
        key_path = Path(tmp) / "tls.key"
        key_path.touch(mode=0o600)
        key_path.write_bytes(material.key_pem)
        cert_path.write_bytes(material.cert_pem)
        ctx.load_cert_chain(cert_path, key_path)


def build_context(material: ServingMaterial, client_ca_pem: bytes) -> ssl.SSLContext:
    """A server context for ``material`` that requests (optional) client certificates.

    Raises ``ssl.SSLError`` (or ``ValueError``) when the certificate and key do not load, e.g. a
    key that does not match the certificate.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    _load_chain(ctx, material)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    if client_ca_pem.strip():
        ctx.load_verify_locations(cadata=client_ca_pem.decode("ascii"))
    return ctx


class ServingTls:
    """The listener context and the current per-connection context behind it."""

    def __init__(self, material: ServingMaterial, client_ca_pem: bytes = b"") -> None:
        self._material = material
        self._client_ca_pem = client_ca_pem
        self._current = build_context(material, client_ca_pem)
        self._listener = build_context(material, client_ca_pem)
        self._listener.sni_callback = self._select
        #: Incremented on every swap (tests and logs use it to see a reload happened).
        self.generation = 0

    def _select(
        self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        conn.context = self._current

    @property
    def listener(self) -> ssl.SSLContext:
        """The context to give the listening site, once."""
        return self._listener

    @property
    def material(self) -> ServingMaterial:
        return self._material

    @property
    def client_ca_pem(self) -> bytes:
        return self._client_ca_pem

    def update(
        self, material: ServingMaterial | None = None, client_ca_pem: bytes | None = None
    ) -> bool:
        """Serve new material and/or trust new client CAs on new connections.

        Returns whether anything changed. Raises (keeping the old context) when the new
        material does not load.
        """
        material = material or self._material
        client_ca_pem = self._client_ca_pem if client_ca_pem is None else client_ca_pem
        if material == self._material and client_ca_pem == self._client_ca_pem:
            return False
        ctx = build_context(material, client_ca_pem)
        self._current = ctx
        self._material = material
        self._client_ca_pem = client_ca_pem
        self.generation += 1
        return True


class CertificateKeeper:
    """Keeps :class:`ServingTls` fresh from files or from the self-signed issuer (a task)."""

    def __init__(
        self,
        source: CertificateFiles | SelfSignedIssuer,
        *,
        publish_ca_bundle: PublishCaBundle | None = None,
        file_check_interval_seconds: float = FILE_CHECK_INTERVAL_SECONDS,
        component: str = "server",
    ) -> None:
        self.source = source
        self.publish_ca_bundle = publish_ca_bundle
        self.file_check_interval_seconds = file_check_interval_seconds
        #: Prefixes the log lines (``metrics API``, ``admission webhook``).
        self.component = component
        self._published: bytes | None = None

    @property
    def published(self) -> bytes | None:
        """The CA bundle last published (``None`` before the first, or when not publishing)."""
        return self._published

    async def initial(self) -> ServingMaterial:
        """The first material (published when self-signed)."""
        material = self._read()
        await self._publish(material)
        return material

    def _read(self) -> ServingMaterial:
        if isinstance(self.source, CertificateFiles):
            return self.source.read()
        return self.source.material()

    async def _publish(self, material: ServingMaterial) -> None:
        if self.publish_ca_bundle is None or not material.ca_bundle_pem:
            return
        if material.ca_bundle_pem == self._published:
            return
        await self.publish_ca_bundle(material.ca_bundle_pem)
        self._published = material.ca_bundle_pem

    async def refresh(self, tls: ServingTls) -> bool:
        """One check: reload or renew when due. Failures are logged; the old certificate stays."""
        if isinstance(self.source, CertificateFiles) and not self.source.changed():
            return False
        try:
            material = self._read()
            # Trust first, then serve: the aggregator must know a new CA before it meets it.
            await self._publish(material)
            changed = tls.update(material=material)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a half-written pair, a failing publish: retry next time
            log.warning(
                "%s: keeping the current certificate: %s", self.component, type(exc).__name__
            )
            return False
        if changed:
            log.info(
                "%s: serving a new certificate (generation %d)", self.component, tls.generation
            )
        return changed

    def sleep_seconds(self) -> float:
        """How long :meth:`run` waits before its next check."""
        if isinstance(self.source, CertificateFiles):
            return self.file_check_interval_seconds
        # Wake at least hourly: a suspended laptop or VM jumps past the due time.
        return max(1.0, min(self.source.seconds_until_renewal(), 3600.0))

    async def run(self, tls: ServingTls) -> None:
        """Check forever (cancel to stop)."""
        while True:
            await asyncio.sleep(self.sleep_seconds())
            with contextlib.suppress(Exception):
                await self.refresh(tls)


class RotatingAuthority(Protocol):
    """A CA this replica's servers issue from while something else rotates it (the metrics
    API's keeper of the replicas' shared CA, :mod:`podscaler.metricsapi.carotation`): the CA to
    sign with now, the bundle clients must trust now, and the hooks it calls on a change."""

    issuers: list[SelfSignedIssuer]
    on_change: list[Callable[[], Any]]

    @property
    def signing(self) -> Authority: ...

    def trust_bundle(self) -> bytes: ...


async def follow_rotation(
    shared: RotatingAuthority, keeper: CertificateKeeper, tls: ServingTls
) -> None:
    """Make a self-issuing server follow *shared*: issue from its signing CA and publish its
    bundle now (mid-rotation it trusts more than the signing CA), then again on every step.
    Every server of a replica (metrics API, admission webhook) follows the one rotation, so
    none of them mints a CA of its own when the first one nears its end."""
    issuer = keeper.source
    if not isinstance(issuer, SelfSignedIssuer):
        return
    issuer.adopt(shared.signing, shared.trust_bundle())
    await keeper.refresh(tls)
    shared.issuers.append(issuer)
    shared.on_change.append(lambda: keeper.refresh(tls))
