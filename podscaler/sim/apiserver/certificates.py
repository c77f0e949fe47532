"""A throwaway certificate authority and serving certificate for ``--tls``.

The embedded API server is a localhost development server, so it mints its own CA at start
(with the ``cryptography`` package, a runtime dependency through kubernetes-asyncio) and puts
the CA into the kubeconfig it writes. Nothing is persisted: every start is a new CA.
"""

from __future__ import annotations

import datetime as dt
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from podscaler.clock import WallClock
from podscaler.pki import Authority


@dataclass(frozen=True)
class ServingCertificate:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def server_context(self, client_ca_pem: bytes | None = None) -> ssl.SSLContext:
        """An SSL context for the listener (files only live while the context loads them).

        With ``client_ca_pem``, clients may present a certificate signed by that CA (it is
        verified during the handshake; the API server reads the user from it); without one,
        none is asked for.
        """
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if client_ca_pem is not None:
            ctx.load_verify_locations(cadata=client_ca_pem.decode())
            ctx.verify_mode = ssl.CERT_OPTIONAL
        with tempfile.TemporaryDirectory(prefix="podscaler-tls-") as tmp:
            cert = Path(tmp) / "tls.crt"
            key = Path(tmp) / "tls.key"
            cert.write_bytes(self.cert_pem + self.ca_pem)
            key.write_bytes(self.key_pem)
            key.chmod(0o600)
            ctx.load_cert_chain(cert, key)
        return ctx


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
