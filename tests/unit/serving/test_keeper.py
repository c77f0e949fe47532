"""The certificate keeper's own loop, under the loop clock (``looptime``): files are checked
every interval, and a self-signed certificate is renewed when the issuer's clock says so.

Nothing listens; the keeper swaps the contexts of a :class:`ServingTls` and the tests watch its
generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import trustme
from cryptography import x509

from podscaler.serving.certificates import CertificateFiles, SelfSignedIssuer
from podscaler.serving.tls import CertificateKeeper, ServingTls

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@contextlib.asynccontextmanager
async def running(keeper: CertificateKeeper, tls: ServingTls) -> AsyncIterator[None]:
    task = asyncio.create_task(keeper.run(tls))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def loop_clock() -> Callable[[], dt.datetime]:
    """A wall clock that is START plus the event loop's time (so looptime moves it too)."""
    loop = asyncio.get_running_loop()
    origin = loop.time()
    return lambda: START + dt.timedelta(seconds=loop.time() - origin)


@pytest.mark.looptime
async def test_files_are_checked_every_interval(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    first = ca.issue_cert("127.0.0.1")
    first.cert_chain_pems[0].write_to_path(str(cert_file))
    first.private_key_pem.write_to_path(str(key_file))
    keeper = CertificateKeeper(
        CertificateFiles(cert_file, key_file), file_check_interval_seconds=5.0
    )
    assert keeper.sleep_seconds() == 5.0
    tls = ServingTls(await keeper.initial())
    async with running(keeper, tls):
        await asyncio.sleep(12.0)  # checks at 5 and 10: nothing changed
        assert tls.generation == 0
        second = ca.issue_cert("127.0.0.1")
        second.private_key_pem.write_to_path(str(key_file))
        second.cert_chain_pems[0].write_to_path(str(cert_file))
        # Picked up at the next check (t=15), not before and not later.
        await asyncio.sleep(2.5)
        assert tls.generation == 0
        await asyncio.sleep(1.0)
        assert tls.generation == 1
        assert tls.material.cert_pem == second.cert_chain_pems[0].bytes()


@pytest.mark.looptime
async def test_self_signed_renewal_follows_the_issuers_clock() -> None:
    issuer = SelfSignedIssuer(
        ["podscaler-metrics-apiserver"],
        serving_validity=dt.timedelta(days=30),
        ca_validity=dt.timedelta(days=365),
        now=loop_clock(),
    )
    keeper = CertificateKeeper(issuer)
    tls = ServingTls(await keeper.initial())
    first = x509.load_pem_x509_certificate(tls.material.cert_pem)
    # Renewal is due two thirds into the validity: 20 days. The keeper sleeps at most an hour
    # at a time (a suspended VM may jump past the due time), then exactly up to the due time.
    assert keeper.sleep_seconds() == 3600.0
    due = dt.timedelta(days=20).total_seconds()
    async with running(keeper, tls):
        await asyncio.sleep(due - 60)
        assert tls.generation == 0
        await asyncio.sleep(120)
        assert tls.generation == 1
    second = x509.load_pem_x509_certificate(tls.material.cert_pem)
    assert second.serial_number != first.serial_number
    assert second.not_valid_before_utc > first.not_valid_before_utc
    # The next renewal is 20 days after this one, and the keeper knows it by the same clock.
    assert issuer.seconds_until_renewal() == pytest.approx(
        dt.timedelta(days=20).total_seconds(), abs=600
    )


def test_sleep_is_bounded_by_the_issuers_clock() -> None:
    now = [START]
    issuer = SelfSignedIssuer(["svc"], now=lambda: now[0])
    keeper = CertificateKeeper(issuer)
    issuer.material()
    due = issuer.renewal_due()
    now[0] = due - dt.timedelta(seconds=42)
    assert keeper.sleep_seconds() == pytest.approx(42.0)
    now[0] = due + dt.timedelta(days=3)  # overdue (a suspended machine): check again soon
    assert keeper.sleep_seconds() == 1.0


def test_the_ca_is_named_after_the_first_host_name() -> None:
    issuer = SelfSignedIssuer(["podscaler-metrics-apiserver", "x.svc"], now=lambda: START)
    ca = x509.load_pem_x509_certificate(issuer.material().ca_bundle_pem)
    assert ca.subject.rfc4514_string() == (
        f"CN=podscaler-metrics-apiserver-ca@{int(START.timestamp())}"
    )
    named = SelfSignedIssuer(["svc"], now=lambda: START, ca_name="webhook-ca")
    ca = x509.load_pem_x509_certificate(named.material().ca_bundle_pem)
    assert ca.subject.rfc4514_string().startswith("CN=webhook-ca@")
