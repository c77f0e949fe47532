"""Where the serving certificate comes from: files that may be replaced, or our own CA.

Two sources, one shape (:class:`ServingMaterial`: certificate chain, key, CA bundle):

* :class:`CertificateFiles` reads ``tls.crt``/``tls.key`` written by cert-manager, a mounted
  Secret or an operator of the cluster. Those get replaced in place (the kubelet swaps a
  symlink; cert-manager renews before expiry), so the files are stat()ed and re-read when their
  identity changes; a pair that does not load (caught between the two writes, or a key that
  does not match the certificate) keeps the previous material and is retried later, so a
  renewal never takes the listener down.
* :class:`SelfSignedIssuer` mints a CA and a serving certificate with ``cryptography`` when no
  files are given, and renews the serving certificate well before it expires. The CA lives
  longer than the certificates it signs; when the CA itself is renewed, the published bundle
  carries the old and the new CA for one serving period, so the kube-aggregator trusts the
  server through the change. The caller publishes the bundle (the metrics API's APIService
  ``caBundle``, a webhook configuration's ``clientConfig.caBundle``) *before* serving a
  certificate signed by a new CA.

Validity is wall-clock time by nature (certificates carry UTC instants), so the issuer takes a
``now`` callable instead of the loop clock, and says how long to wait for the next renewal by
that same callable (:meth:`SelfSignedIssuer.seconds_until_renewal`); tests pass a fake one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509

from podscaler.clock import WallClock
from podscaler.pki import BACKDATE, Authority, not_after

__all__ = [
    "DEFAULT_CA_VALIDITY",
    "DEFAULT_SERVING_VALIDITY",
    "CertificateFiles",
    "SelfSignedIssuer",
    "ServingMaterial",
    "not_after",
    "service_hostnames",
]

log = logging.getLogger(__name__)

#: The serving certificate lives 30 days and is renewed once two thirds of it have passed, so a
#: stuck renewal has ten days to be noticed (the same proportion cert-manager uses by default).
DEFAULT_SERVING_VALIDITY: Final = dt.timedelta(days=30)
#: The CA lives a year; renewing it means republishing the caBundle clients trust.
DEFAULT_CA_VALIDITY: Final = dt.timedelta(days=365)


@dataclass(frozen=True, slots=True)
class ServingMaterial:
    """A serving certificate chain and key (PEM), and the CA bundle clients should trust."""

    cert_pem: bytes
    key_pem: bytes
    ca_bundle_pem: bytes

    def __repr__(self) -> str:  # the key must never reach a log line or a traceback
        return f"ServingMaterial(cert={len(self.cert_pem)}B, key=<redacted>)"


def service_hostnames(service: str, namespace: str) -> list[str]:
    """The names the kube-aggregator may use to reach a Service: it dials
    ``<service>.<namespace>.svc`` and verifies the certificate against that name."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


class CertificateFiles:
    """A certificate and key from files, re-read when either file is replaced."""

    def __init__(self, cert_file: Path, key_file: Path, ca_file: Path | None = None) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.ca_file = ca_file
        self._stamp: tuple[tuple[int, int, int], ...] | None = None

    def _identity(self) -> tuple[tuple[int, int, int], ...]:
        paths = [self.cert_file, self.key_file]
        if self.ca_file is not None:
            paths.append(self.ca_file)
        stamps = []
        for path in paths:
            st = os.stat(path)
            stamps.append((st.st_ino, st.st_mtime_ns, st.st_size))
        return tuple(stamps)

    def changed(self) -> bool:
        """Whether the files differ from the last :meth:`read` (a missing file counts as not
        changed: the writer is between two steps)."""
        try:
            return self._identity() != self._stamp
        except OSError:
            return False

    def read(self) -> ServingMaterial:
        """Read the files now. ``OSError`` if one is missing; the caller keeps old material."""
        stamp = self._identity()
        cert = self.cert_file.read_bytes()
        key = self.key_file.read_bytes()
        bundle = self.ca_file.read_bytes() if self.ca_file is not None else b""
        if stamp != self._identity():
            raise OSError("the certificate files changed while being read")
        self._stamp = stamp
        return ServingMaterial(cert, key, bundle)


class SelfSignedIssuer:
    """Our own CA and a serving certificate for ``hostnames``, renewed before expiry.

    :meth:`material` returns the current material, renewing what is due first;
    :meth:`renewal_due` says when to call it again. The CA is named ``ca_name`` (default:
    the first host name with ``-ca``, e.g. ``podscaler-metrics-apiserver-ca``) followed by
    ``@`` and its creation time, as kube-apiserver names its self-signed CAs; ``component``
    prefixes the log lines.
    """

    def __init__(
        self,
        hostnames: Sequence[str],
        *,
        serving_validity: dt.timedelta = DEFAULT_SERVING_VALIDITY,
        ca_validity: dt.timedelta = DEFAULT_CA_VALIDITY,
        now: Callable[[], dt.datetime] | None = None,
        ca_name: str | None = None,
        component: str = "server",
        ca: Authority | None = None,
    ) -> None:
        if not hostnames:
            raise ValueError("a serving certificate needs at least one host name")
        if ca_validity < serving_validity * 2:
            raise ValueError("the CA must live at least twice as long as a serving certificate")
        self.hostnames = list(hostnames)
        self.serving_validity = serving_validity
        self.ca_validity = ca_validity
        # Peers check certificates against the real time, whatever clock the loop keeps.
        self._now = now or WallClock().now
        self.ca_name = ca_name or f"{self.hostnames[0]}-ca"
        self.component = component
        #: A CA given (shared by the replicas through a Secret) or minted here.
        self._ca: Authority | None = ca
        self._previous_ca: Authority | None = None
        self._material: ServingMaterial | None = None
        self._serving_renew_at = dt.datetime.min.replace(tzinfo=dt.UTC)
        #: The bundle clients trust, when someone else decides it (a CA rotation in progress).
        self._trust: bytes | None = None

    def adopt(self, ca: Authority, trust_bundle: bytes) -> None:
        """Issue from *ca* from now on and publish *trust_bundle*: the next :meth:`material`
        issues a new serving certificate (a shared CA rotated through its Secret)."""
        self._ca = ca
        self._previous_ca = None
        self._trust = trust_bundle
        self._serving_renew_at = dt.datetime.min.replace(tzinfo=dt.UTC)

    def _renew_at(self, cert: x509.Certificate) -> dt.datetime:
        start, end = cert.not_valid_before_utc + BACKDATE, cert.not_valid_after_utc
        return start + (end - start) * 2 / 3

    def renewal_due(self) -> dt.datetime:
        """When the current serving certificate (or the CA) should be renewed."""
        return self._serving_renew_at

    def seconds_until_renewal(self) -> float:
        """Seconds from now (by this issuer's clock) until :meth:`renewal_due`; may be negative."""
        return (self._serving_renew_at - self._now()).total_seconds()

    def _new_ca(self, now: dt.datetime) -> Authority:
        name = f"{self.ca_name}@{int(now.timestamp())}"
        return Authority.create(name, now=now, validity=self.ca_validity)

    def material(self) -> ServingMaterial:
        """The current material, renewing the serving certificate (and the CA) when due."""
        now = self._now()
        if self._material is not None and now < self._serving_renew_at:
            return self._material
        ca = self._ca
        # A CA that would not outlive one more serving certificate is replaced; the old one
        # stays in the bundle until the next renewal, while clients may still hold it.
        if ca is None or ca.cert.not_valid_after_utc - now < self.serving_validity * 2:
            self._previous_ca = ca
            ca = self._ca = self._new_ca(now)
            log.info(
                "%s: minted a new serving CA (valid until %s)",
                self.component,
                ca.cert.not_valid_after_utc.isoformat(),
            )
        elif self._previous_ca is not None and self._previous_ca.cert.not_valid_after_utc < now:
            self._previous_ca = None
        serving = ca.issue(
            self.hostnames[0],
            usage="server",
            now=now,
            validity=self.serving_validity,
            hostnames=self.hostnames,
        )
        if self._trust is not None and ca.pem in self._trust:
            bundle = self._trust
        else:
            bundle = ca.pem + (self._previous_ca.pem if self._previous_ca is not None else b"")
        self._material = ServingMaterial(serving.cert_pem, serving.key_pem, bundle)
        self._serving_renew_at = self._renew_at(serving.cert)
        log.info(
            "%s: issued a serving certificate for %s (renewal at %s)",
            self.component,
            ", ".join(self.hostnames),
            self._serving_renew_at.isoformat(),
        )
        return self._material
