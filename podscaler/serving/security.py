"""Everything a server needs before its first request, and the task that keeps it fresh.

:func:`prepare` is what a ``serve_*`` function calls at start: it reads the cluster's
authentication configuration (a failure is logged and leaves only bearer tokens working, so
missing RBAC never takes the operator down), picks the certificate source (files, a mounted
Secret's directory, or our own CA), publishes a self-signed CA bundle, and builds the TLS
context, the authenticator and the authorizer. :meth:`Security.keep_fresh` then runs for the
server's life: certificates are reloaded or renewed, and the authentication ConfigMap is re-read
(kube-apiserver rewrites it when its CAs rotate) and adopted without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError
from podscaler.pki import Authority
from podscaler.serving.authentication import (
    AuthenticationConfig,
    Authenticator,
    TokenReviewer,
    load_authentication_config,
)
from podscaler.serving.authorization import SubjectAccessReviewer
from podscaler.serving.certificates import CertificateFiles, SelfSignedIssuer
from podscaler.serving.tls import CertificateKeeper, PublishCaBundle, ServingTls

__all__ = [
    "DEFAULT_AUTH_REFRESH_SECONDS",
    "CertificateOptions",
    "Security",
    "certificate_source",
    "prepare",
]

log = logging.getLogger(__name__)

#: How often the extension-apiserver-authentication ConfigMap is re-read.
DEFAULT_AUTH_REFRESH_SECONDS: Final = 60.0


@dataclass(frozen=True)
class CertificateOptions:
    """Where the serving certificate comes from; each field maps to a ``podscaler run`` flag."""

    #: A certificate and key served from these files, reloaded when they are replaced
    #: (cert-manager, a mounted Secret). Both or neither.
    cert_file: Path | None = None
    key_file: Path | None = None
    #: A directory holding ``tls.crt`` and ``tls.key`` (and maybe ``ca.crt``), used when both
    #: files exist.
    cert_dir: Path | None = None
    #: The names a self-signed certificate is issued for (without files); the first also names
    #: the CA.
    hostnames: tuple[str, ...] = field(default=())
    #: The CA a self-signed certificate is issued from (shared by replicas); None mints one.
    ca: Authority | None = None


def certificate_source(
    options: CertificateOptions, *, component: str = "server"
) -> CertificateFiles | SelfSignedIssuer:
    """Files when configured (``ValueError`` for a certificate without its key or the reverse),
    otherwise our own CA for ``options.hostnames``."""
    if options.cert_file is not None or options.key_file is not None:
        if options.cert_file is None or options.key_file is None:
            raise ValueError(f"the {component} needs both a certificate file and a key file")
        return CertificateFiles(options.cert_file, options.key_file)
    if options.cert_dir is not None:
        cert, key = options.cert_dir / "tls.crt", options.cert_dir / "tls.key"
        if cert.exists() and key.exists():
            ca = options.cert_dir / "ca.crt"
            return CertificateFiles(cert, key, ca if ca.exists() else None)
    return SelfSignedIssuer(list(options.hostnames), component=component, ca=options.ca)


@dataclass
class Security:
    """A server's TLS, authentication and authorization, and what keeps them current."""

    kube: Kube
    tls: ServingTls
    keeper: CertificateKeeper
    authenticator: Authenticator
    authorizer: SubjectAccessReviewer | None
    component: str = "server"
    authentication_config_file: Path | None = None
    auth_refresh_seconds: float = DEFAULT_AUTH_REFRESH_SECONDS

    async def keep_fresh(self) -> None:
        """Reload or renew certificates and re-read the authentication configuration until
        cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.keeper.run(self.tls))
            tasks.create_task(self._keep_authentication_fresh())

    async def refresh_authentication(self) -> bool:
        """One re-read of the authentication configuration; whether it changed (and was
        adopted). A configuration that cannot be read keeps the one that works."""
        try:
            config = await load_authentication_config(
                self.kube, self.authentication_config_file, component=self.component
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # RBAC, a network blip, a broken file: keep what works
            log.warning("%s: keeping the authentication configuration: %r", self.component, exc)
            return False
        if config == self.authenticator.config:
            return False
        self.authenticator.configure(config)
        try:
            self.tls.update(client_ca_pem=config.trusted_pem)
        except (ssl.SSLError, ValueError) as exc:
            log.warning("%s: new client CAs do not load: %s", self.component, type(exc).__name__)
        log.info("%s: authentication configuration changed; adopted", self.component)
        return True

    async def _keep_authentication_fresh(self) -> None:
        while True:
            await asyncio.sleep(self.auth_refresh_seconds)
            await self.refresh_authentication()


async def prepare(
    kube: Kube,
    certificates: CertificateOptions,
    *,
    component: str = "server",
    publish_ca_bundle: PublishCaBundle | None = None,
    authentication_config_file: Path | None = None,
    authorization: bool = True,
    auth_refresh_seconds: float = DEFAULT_AUTH_REFRESH_SECONDS,
) -> Security:
    """Read the authentication configuration, set up certificates (publishing a self-signed CA
    bundle through ``publish_ca_bundle`` before it is served) and build the server's security.

    ``kube`` is the operator's API connection (TokenReview, SubjectAccessReview, the
    authentication ConfigMap). ``authorization`` False allows every authenticated request (for
    development only).
    """
    try:
        config = await load_authentication_config(
            kube, authentication_config_file, component=component
        )
    except (KubeError, OSError, ValueError) as exc:
        # Missing RBAC must not take the operator down: serve (tokens only) and keep retrying.
        log.error(
            "%s: cannot read the authentication configuration (%r); front-proxy and "
            "client certificates are refused until it can be read",
            component,
            exc,
        )
        config = AuthenticationConfig()
    source = certificate_source(certificates, component=component)
    keeper = CertificateKeeper(
        source,
        publish_ca_bundle=publish_ca_bundle if isinstance(source, SelfSignedIssuer) else None,
        component=component,
    )
    tls = ServingTls(await keeper.initial(), config.trusted_pem)
    return Security(
        kube=kube,
        tls=tls,
        keeper=keeper,
        authenticator=Authenticator(config, TokenReviewer(kube), component=component),
        authorizer=SubjectAccessReviewer(kube) if authorization else None,
        component=component,
        authentication_config_file=authentication_config_file,
        auth_refresh_seconds=auth_refresh_seconds,
    )
