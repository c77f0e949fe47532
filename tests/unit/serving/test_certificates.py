"""Serving material: our own CA's renewal schedule, files caught mid-write, contexts that load.

Time is a fake ``now``; nothing listens.
"""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
import trustme
from cryptography import x509

from podscaler.serving.certificates import (
    CertificateFiles,
    SelfSignedIssuer,
    ServingMaterial,
    service_hostnames,
)
from podscaler.serving.tls import ServingTls, build_context

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_self_signed_certificate_names_and_renewal_schedule() -> None:
    now = [START]
    issuer = SelfSignedIssuer(
        [*service_hostnames("podscaler-metrics-apiserver", "podscaler"), "127.0.0.1"],
        now=lambda: now[0],
    )
    first = issuer.material()
    cert = x509.load_pem_x509_certificate(first.cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "podscaler-metrics-apiserver.podscaler.svc" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    (ca,) = x509.load_pem_x509_certificates(first.ca_bundle_pem)
    cert.verify_directly_issued_by(ca)
    assert cert.not_valid_after_utc - START == dt.timedelta(days=30)
    # Renewal at two thirds of the (backdated) validity: 20 days in.
    assert issuer.renewal_due() - START == dt.timedelta(days=20)
    now[0] = START + dt.timedelta(days=19)
    assert issuer.material() is first
    now[0] = START + dt.timedelta(days=20, seconds=1)
    second = issuer.material()
    assert second.cert_pem != first.cert_pem
    assert second.ca_bundle_pem == first.ca_bundle_pem, "same CA: nothing to republish"


def test_ca_renewal_keeps_the_old_ca_in_the_bundle_for_a_while() -> None:
    now = [START]
    issuer = SelfSignedIssuer(
        ["svc"],
        serving_validity=dt.timedelta(days=30),
        ca_validity=dt.timedelta(days=365),
        now=lambda: now[0],
    )
    first_ca = issuer.material().ca_bundle_pem
    now[0] = START + dt.timedelta(days=306)  # 59 days of CA left < two serving periods
    bundle = issuer.material().ca_bundle_pem
    assert bundle.endswith(first_ca)
    assert len(x509.load_pem_x509_certificates(bundle)) == 2
    now[0] = START + dt.timedelta(days=366)  # the old CA has expired: dropped
    assert len(x509.load_pem_x509_certificates(issuer.material().ca_bundle_pem)) == 1


def test_issuer_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="host name"):
        SelfSignedIssuer([])
    with pytest.raises(ValueError, match="twice"):
        SelfSignedIssuer(
            ["x"], serving_validity=dt.timedelta(days=30), ca_validity=dt.timedelta(days=40)
        )


def test_files_are_reread_only_when_replaced(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    files = CertificateFiles(cert, key)
    assert files.changed()
    material = files.read()
    assert not files.changed()
    other = ca.issue_cert("127.0.0.1")
    other.private_key_pem.write_to_path(str(key))
    assert files.changed()
    key.unlink()
    assert not files.changed(), "a missing file means the writer is mid-way"
    assert "PRIVATE" not in repr(material)


def test_mismatched_pair_keeps_the_old_context() -> None:
    ca = trustme.CA()
    a, b = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    good = ServingMaterial(a.cert_chain_pems[0].bytes(), a.private_key_pem.bytes(), b"")
    tls = ServingTls(good)
    mixed = ServingMaterial(a.cert_chain_pems[0].bytes(), b.private_key_pem.bytes(), b"")
    with pytest.raises(ssl.SSLError):
        tls.update(material=mixed)
    assert tls.material is good
    assert tls.generation == 0
    assert not tls.update(material=good)
    assert build_context(good, ca.cert_pem.bytes()).verify_mode == ssl.CERT_OPTIONAL
