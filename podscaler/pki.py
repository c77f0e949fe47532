"""Certificate authorities and the certificates they issue, for the TLS podscaler speaks.

Three parts of podscaler mint X.509 material: the embedded API server (its serving certificate
for ``--tls``), the embedded kube-aggregator (a front-proxy CA, its client certificate, and a
client CA), and the external metrics API (a self-signed serving CA, rotated before expiry).
They differ in policy (lifetimes, names, rotation) but not in mechanics, so the mechanics live
here once: an :class:`Authority` that issues server or client certificates.

Choices that apply everywhere: ECDSA P-256 keys (small, fast handshakes, accepted by Go and
OpenSSL clients), SHA-256 signatures, certificates backdated by :data:`BACKDATE` so a peer whose
clock lags slightly still accepts them, and keys handed out as unencrypted PKCS#8 PEM *in
memory* (callers decide whether anything touches disk). This module is a bottom layer: it
imports nothing else of podscaler and does no I/O; time comes in as an argument.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["BACKDATE", "Authority", "Issued", "key_pem", "not_after"]

#: Certificates start this long before "now", so a peer whose clock lags a little accepts them.
BACKDATE: Final = dt.timedelta(minutes=5)

_CA_USAGE: Final = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
_EXTENDED_USAGE: Final = {
    "server": ExtendedKeyUsageOID.SERVER_AUTH,
    "client": ExtendedKeyUsageOID.CLIENT_AUTH,
}


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def not_after(cert_pem: bytes) -> dt.datetime:
    """When the first certificate in *cert_pem* expires (UTC)."""
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    attributes.extend(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations)
    return x509.Name(attributes)


def _subject_alt_names(hostnames: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate and its key, as PEM, with the parsed certificate for its dates."""

    cert_pem: bytes
    key_pem: bytes
    cert: x509.Certificate


@dataclass(frozen=True, slots=True)
class Authority:
    """A self-signed CA that can issue server and client certificates."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, common_name: str, *, now: dt.datetime, validity: dt.timedelta) -> Authority:
        """A new CA valid from ``now - BACKDATE`` for *validity*; it signs leaves only."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(common_name)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_CA_USAGE, critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def from_pem(cls, cert_pem: bytes, private_key_pem: bytes) -> Authority:
        """A CA kept elsewhere (a Secret shared by replicas); ``ValueError`` when the two do
        not load, are not a CA, or do not belong together."""
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the CA key is not an EC private key")
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
            raise ValueError("the CA key does not belong to the CA certificate")
        try:
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound as exc:
            raise ValueError("the certificate is not a CA") from exc
        if not constraints.value.ca:
            raise ValueError("the certificate is not a CA")
        return cls(key, cert)

    @property
    def key_pem(self) -> bytes:
        """The CA key as PEM (for the Secret that shares it; never for a log)."""
        return key_pem(self.key)

    @property
    def pem(self) -> bytes:
        """The CA certificate as PEM (what goes into a CA bundle or a kubeconfig)."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        common_name: str,
        *,
        usage: Literal["server", "client"],
        now: dt.datetime,
        validity: dt.timedelta,
        hostnames: Sequence[str] = (),
        organizations: Sequence[str] = (),
    ) -> Issued:
        """A leaf certificate signed by this CA, never outliving it.

        A server certificate names *hostnames* (IP addresses or DNS names) as subject
        alternative names, which is what TLS clients verify; a client certificate carries the
        user as CN and groups as O, which is how Kubernetes reads a client identity.
        """
        if usage == "server" and not hostnames:
            raise ValueError("a server certificate needs at least one host name")
        key = ec.generate_private_key(ec.SECP256R1())
        until = min(now + validity, self.cert.not_valid_after_utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, organizations))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([_EXTENDED_USAGE[usage]]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if hostnames:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(_subject_alt_names(hostnames)), critical=False
            )
        cert = builder.sign(self.key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem(key), cert)
