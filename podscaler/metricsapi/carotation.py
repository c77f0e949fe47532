"""Rotating the replicas' shared serving CA through its Secret, with overlap (issue 17 §10).

The CA in Secret ``podscaler-metrics-api-ca`` (:mod:`.sharedca`) signs every replica's serving
certificate, and the APIService's ``caBundle`` is how the kube-aggregator trusts them. Changing
it in one step would break reads: a replica serving from the new CA before the aggregator
trusts it, or one still serving from the old CA after the bundle dropped it, is refused
("x509: certificate signed by unknown authority"). So a rotation takes three steps, each one
write of the Secret, at least ``overlap`` apart:

1. **introduce**: a new CA is minted into ``next.crt``/``next.key`` once the signing CA has
   lived two thirds of its life. Every replica now publishes a bundle trusting both; serving
   certificates still come from the old CA.
2. **switch**: the new CA becomes ``ca.crt``/``ca.key``, the old one ``previous.crt``. Every
   replica issues its serving certificate from the new CA (already trusted everywhere since
   step 1) and keeps publishing both.
3. **retire**: ``previous.crt`` is dropped; the bundle trusts the new CA only (the caBundle
   guard keeps an old CA beside it until it expires, see :mod:`podscaler.serving.cabundle`).

Only the leader (``leading()``: the replica holding the Lease, or the only replica) writes the
Secret, and each write carries the resourceVersion it was computed from, so two writers can
never both step. Every replica (:class:`SharedCaKeeper`) reads the Secret every
``poll_seconds`` and, when it changed, hands the issuer the signing CA and the trust bundle; the
certificate keeper then publishes the bundle *before* serving a certificate from the new CA.
:func:`rotation_step` is the pure decision; the rest is I/O.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final

from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError
from podscaler.metricsapi.sharedca import SHARED_CA_SECRET, SharedCaError, decode_authority
from podscaler.pki import Authority
from podscaler.serving.certificates import SelfSignedIssuer

__all__ = [
    "DEFAULT_OVERLAP",
    "SharedCa",
    "SharedCaKeeper",
    "decode_shared_ca",
    "encode_shared_ca",
    "rotation_step",
]

log = logging.getLogger(__name__)

#: How long each step waits for the previous one to reach every replica and the aggregator
#: (replicas poll every few seconds, the aggregator watches APIServices): generous.
DEFAULT_OVERLAP: Final = dt.timedelta(hours=1)
_SINCE: Final = "podscaler.io/ca-step-at"


@dataclass(frozen=True)
class SharedCa:
    """What the Secret holds: the signing CA, maybe the next and the previous one, and when
    the last step was taken."""

    signing: Authority
    next: Authority | None = None
    previous_pem: bytes | None = None
    step_at: dt.datetime | None = None

    def trust_bundle(self) -> bytes:
        """The CAs a client must trust now: signing first, then next, then previous."""
        parts = [self.signing.pem]
        if self.next is not None:
            parts.append(self.next.pem)
        if self.previous_pem:
            parts.append(self.previous_pem)
        return b"".join(p if p.endswith(b"\n") else p + b"\n" for p in parts)


def _b64(data: dict[str, Any], key: str) -> bytes | None:
    raw = data.get(key)
    return base64.b64decode(str(raw)) if raw else None


def decode_shared_ca(secret: dict[str, Any]) -> SharedCa:
    """The Secret's CAs; :class:`SharedCaError` when the signing CA is missing or unusable (a
    broken ``next``/``previous`` is ignored: the next step rewrites them)."""
    signing = decode_authority(secret)
    data = secret.get("data") or {}
    following: Authority | None = None
    cert, key = _b64(data, "next.crt"), _b64(data, "next.key")
    if cert and key:
        try:
            following = Authority.from_pem(cert, key)
        except ValueError:
            following = None
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    step_at: dt.datetime | None = None
    try:
        step_at = dt.datetime.fromisoformat(str(annotations[_SINCE]))
    except (KeyError, ValueError):
        step_at = None
    return SharedCa(signing, following, _b64(data, "previous.crt"), step_at)


def encode_shared_ca(state: SharedCa) -> tuple[dict[str, str], dict[str, str]]:
    """The Secret's ``data`` and annotations for *state*."""

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    data = {"ca.crt": b64(state.signing.pem), "ca.key": b64(state.signing.key_pem)}
    if state.next is not None:
        data["next.crt"] = b64(state.next.pem)
        data["next.key"] = b64(state.next.key_pem)
    if state.previous_pem:
        data["previous.crt"] = b64(state.previous_pem)
    annotations = {_SINCE: state.step_at.isoformat()} if state.step_at is not None else {}
    return data, annotations


def _rotation_due(ca: Authority, now: dt.datetime) -> bool:
    start, end = ca.cert.not_valid_before_utc, ca.cert.not_valid_after_utc
    return now >= start + (end - start) * 2 / 3


def rotation_step(
    state: SharedCa,
    now: dt.datetime,
    *,
    overlap: dt.timedelta,
    mint: Callable[[], Authority],
    force: bool = False,
) -> SharedCa | None:
    """The Secret's next state, or None when no step is due (``force`` starts a rotation now,
    not waiting for two thirds of the CA's life; the steps after it still wait ``overlap``)."""
    waited = state.step_at is None or now - state.step_at >= overlap
    if state.previous_pem is not None:
        return replace(state, previous_pem=None, step_at=now) if waited else None
    if state.next is not None:
        if not waited:
            return None
        return SharedCa(state.next, None, state.signing.pem, now)
    if force or _rotation_due(state.signing, now):
        return replace(state, next=mint(), step_at=now)
    return None


class SharedCaKeeper:
    """One replica's view of the shared CA: re-read from the Secret, stepped when leading.

    ``issuer`` is the replica's certificate issuer: on a change it is given the signing CA and
    the trust bundle (:meth:`SelfSignedIssuer.adopt`); the certificate keeper's next refresh
    publishes the bundle and serves a certificate from that CA. ``on_change`` is called after
    (the certificate keeper's refresh, at once rather than at its next wake-up).
    """

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        state: SharedCa,
        *,
        now: Callable[[], dt.datetime],
        leading: Callable[[], bool] = lambda: True,
        overlap: dt.timedelta = DEFAULT_OVERLAP,
        poll_seconds: float = 10.0,
        common_name: str = "podscaler-metrics-apiserver-ca",
        validity: dt.timedelta | None = None,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.state = state
        self.now = now
        self.leading = leading
        self.overlap = overlap
        self.poll_seconds = poll_seconds
        self.common_name = common_name
        self.validity = validity
        self.issuers: list[SelfSignedIssuer] = []
        self.on_change: list[Callable[[], Any]] = []
        self._force = False

    @property
    def _path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/secrets/{SHARED_CA_SECRET}"

    def _mint(self) -> Authority:
        now = self.now()
        start, end = (
            self.state.signing.cert.not_valid_before_utc,
            self.state.signing.cert.not_valid_after_utc,
        )
        validity = self.validity or (end - start)
        return Authority.create(
            f"{self.common_name}@{int(now.timestamp())}", now=now, validity=validity
        )

    @property
    def signing(self) -> Authority:
        """The CA to issue from now."""
        return self.state.signing

    def trust_bundle(self) -> bytes:
        return self.state.trust_bundle()

    def rotate_now(self) -> None:
        """Start a rotation at the next check, whatever the CA's age (operators, tests)."""
        self._force = True

    async def check(self) -> bool:
        """One read (and, when leading and due, one step) of the Secret; whether the state
        this replica serves from changed. API failures are logged and retried next time."""
        try:
            secret = await self.kube.request("GET", self._path)
            state = decode_shared_ca(secret)
            if self.leading():
                stepped = rotation_step(
                    state, self.now(), overlap=self.overlap, mint=self._mint, force=self._force
                )
                if stepped is not None:
                    data, annotations = encode_shared_ca(stepped)
                    metadata = dict(secret.get("metadata") or {})
                    metadata["annotations"] = {
                        **(metadata.get("annotations") or {}),
                        **annotations,
                    }
                    await self.kube.request(
                        "PUT", self._path, body={**secret, "metadata": metadata, "data": data}
                    )
                    self._force = False
                    log.info("metrics API: shared CA rotation: %s", _describe(state, stepped))
                    state = stepped
        except (KubeError, SharedCaError) as exc:
            log.warning("metrics API: shared CA not checked: %s", exc)
            return False
        if _same(state, self.state):
            return False
        self.state = state
        for issuer in self.issuers:
            issuer.adopt(state.signing, state.trust_bundle())
        for callback in self.on_change:
            result = callback()
            if asyncio.iscoroutine(result):
                await result
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            await self.check()


def _same(a: SharedCa, b: SharedCa) -> bool:
    return a.trust_bundle() == b.trust_bundle() and a.signing.pem == b.signing.pem


def _describe(before: SharedCa, after: SharedCa) -> str:
    if after.next is not None and before.next is None:
        return "introduced the next CA (trusted from now, signing later)"
    if after.previous_pem is not None and before.previous_pem is None:
        return "switched to the next CA (the previous one is still trusted)"
    return "retired the previous CA"
