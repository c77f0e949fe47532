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
  server through the change. The caller publishes the bundle (the APIService ``caBundle``)
  *before* serving a certificate signed by a new CA.

Validity is wall-clock time by nature (certificates carry UTC instants), so the issuer takes a
``now`` callable instead of the loop clock; tests pass a fake one.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

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
#: The CA lives a year; renewing it means republishing the APIService caBundle.
DEFAULT_CA_VALIDITY: Final = dt.timedelta(days=365)
#: Certificates are backdated by this much, so a node whose clock lags a little accepts them.
_BACKDATE: Final = dt.timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class ServingMaterial:
    """A serving certificate chain and key (PEM), and the CA bundle clients should trust."""

    cert_pem: bytes
    key_pem: bytes
    ca_bundle_pem: bytes

    def __repr__(self) -> str:  # the key must never reach a log line or a traceback
        return f"ServingMaterial(cert={len(self.cert_pem)}B, key=<redacted>)"


def not_after(cert_pem: bytes) -> dt.datetime:
    """When the first certificate of a PEM chain expires (UTC)."""
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc


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


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True, slots=True)
class _Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


class SelfSignedIssuer:
    """Our own CA and a serving certificate for ``hostnames``, renewed before expiry.

    :meth:`material` returns the current material, renewing what is due first;
    :meth:`renewal_due` says when to call it again.
    """

    def __init__(
        self,
        hostnames: Sequence[str],
        *,
        serving_validity: dt.timedelta = DEFAULT_SERVING_VALIDITY,
        ca_validity: dt.timedelta = DEFAULT_CA_VALIDITY,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if not hostnames:
            raise ValueError("a serving certificate needs at least one host name")
        if ca_validity < serving_validity * 2:
            raise ValueError("the CA must live at least twice as long as a serving certificate")
        self.hostnames = list(hostnames)
        self.serving_validity = serving_validity
        self.ca_validity = ca_validity
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._ca: _Authority | None = None
        self._previous_ca: _Authority | None = None
        self._material: ServingMaterial | None = None
        self._serving_renew_at = dt.datetime.min.replace(tzinfo=dt.UTC)

    def _renew_at(self, cert: x509.Certificate) -> dt.datetime:
        start, end = cert.not_valid_before_utc + _BACKDATE, cert.not_valid_after_utc
        return start + (end - start) * 2 / 3

    def renewal_due(self) -> dt.datetime:
        """When the current serving certificate (or the CA) should be renewed."""
        return self._serving_renew_at

    def _new_ca(self, now: dt.datetime) -> _Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(f"podscaler-metrics-apiserver-ca@{int(now.timestamp())}")
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + self.ca_validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return _Authority(key, cert)

    def _serving(self, ca: _Authority, now: dt.datetime) -> tuple[bytes, bytes, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        alt: list[x509.GeneralName] = []
        for host in self.hostnames:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                alt.append(x509.DNSName(host))
        until = min(now + self.serving_validity, ca.cert.not_valid_after_utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(self.hostnames[0]))
            .issuer_name(ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
            )
            .sign(ca.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key), cert

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
                "metrics API: minted a new serving CA (valid until %s)",
                ca.cert.not_valid_after_utc.isoformat(),
            )
        elif self._previous_ca is not None and self._previous_ca.cert.not_valid_after_utc < now:
            self._previous_ca = None
        cert_pem, key_pem, cert = self._serving(ca, now)
        bundle = ca.pem + (self._previous_ca.pem if self._previous_ca is not None else b"")
        self._material = ServingMaterial(cert_pem, key_pem, bundle)
        self._serving_renew_at = self._renew_at(cert)
        log.info(
            "metrics API: issued a serving certificate for %s (renewal at %s)",
            ", ".join(self.hostnames),
            self._serving_renew_at.isoformat(),
        )
        return self._material
