"""podscaler.pki: one certificate authority mechanism for every TLS speaker.

The checks are the ones TLS peers make: a server certificate verifies against its CA for the
names it was issued for and no others; a client certificate carries user and groups where
Kubernetes reads them; nothing outlives its CA.
"""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from podscaler.pki import BACKDATE, Authority, not_after

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def test_server_certificates_name_their_hosts_and_verify_against_the_ca(tmp_path: Path) -> None:
    ca = Authority.create("test-ca", now=NOW, validity=30 * DAY)
    leaf = ca.issue(
        "api", usage="server", now=NOW, validity=DAY, hostnames=["localhost", "127.0.0.1"]
    )
    names = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usage = leaf.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    # The chain loads into Python's TLS stack, as the servers use it.
    (tmp_path / "tls.crt").write_bytes(leaf.cert_pem)
    (tmp_path / "tls.key").write_bytes(leaf.key_pem)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    client = ssl.create_default_context(cadata=ca.pem.decode())
    assert client.get_ca_certs()[0]["subject"] == ((("commonName", "test-ca"),),)


def test_client_certificates_carry_user_and_groups() -> None:
    ca = Authority.create("front-proxy-ca", now=NOW, validity=30 * DAY)
    leaf = ca.issue(
        "front-proxy-client",
        usage="client",
        now=NOW,
        validity=DAY,
        organizations=["system:masters", "ops"],
    )
    subject = leaf.cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "front-proxy-client"
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:masters",
        "ops",
    ]
    usage = leaf.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert leaf.cert.issuer == ca.cert.subject


def test_a_leaf_never_outlives_its_ca_and_is_backdated() -> None:
    ca = Authority.create("short-ca", now=NOW, validity=2 * DAY)
    leaf = ca.issue("api", usage="server", now=NOW, validity=30 * DAY, hostnames=["api"])
    assert not_after(leaf.cert_pem) == ca.cert.not_valid_after_utc
    assert leaf.cert.not_valid_before_utc == NOW - BACKDATE


def test_a_server_certificate_without_names_is_refused() -> None:
    ca = Authority.create("ca", now=NOW, validity=DAY)
    with pytest.raises(ValueError, match="host name"):
        ca.issue("api", usage="server", now=NOW, validity=DAY)
