"""A throwaway certificate authority and serving certificate for ``--tls``.

The embedded API server is a localhost development server, so it mints its own CA at start
(with the ``cryptography`` package, a runtime dependency through kubernetes-asyncio) and puts
the CA into the kubeconfig it writes. Nothing is persisted: every start is a new CA.
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass

from podscaler.clock import WallClock
from podscaler.pki import Authority
from podscaler.serving.certificates import ServingMaterial
from podscaler.serving.tls import build_context


@dataclass(frozen=True, repr=False)
class ServingCertificate:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def server_context(self, client_ca_pem: bytes | None = None) -> ssl.SSLContext:
        """An SSL context for the listener, built as every podscaler server builds one
        (:func:`podscaler.serving.tls.build_context`: TLS 1.2 or later, the key loaded
        without touching a disk).

        With ``client_ca_pem``, clients may present a certificate signed by that CA (it is
        verified during the handshake; the API server reads the user from it); without one,
        none is asked for.
        """
        material = ServingMaterial(
            cert_pem=self.cert_pem + self.ca_pem, key_pem=self.key_pem, ca_bundle_pem=self.ca_pem
        )
        ctx = build_context(material, client_ca_pem or b"")
        if client_ca_pem is None:
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def __repr__(self) -> str:  # the key must never reach a log line or a traceback
        return f"ServingCertificate(cert={len(self.cert_pem)}B, key=<redacted>)"


def mint(host: str = "127.0.0.1", *, valid_days: int = 365) -> ServingCertificate:
    """A fresh CA and a certificate for localhost, 127.0.0.1, ::1 and ``host``."""
    now = WallClock().now()  # peers check certificates against the real time
    validity = dt.timedelta(days=valid_days)
    ca = Authority.create("podscaler-embedded-ca", now=now, validity=validity)
    hostnames = ["localhost", "127.0.0.1", "::1"]
    if host not in hostnames:
        hostnames.append(host)
    serving = ca.issue(
        "podscaler-apiserver", usage="server", now=now, validity=validity, hostnames=hostnames
    )
    return ServingCertificate(ca_pem=ca.pem, cert_pem=serving.cert_pem, key_pem=serving.key_pem)
