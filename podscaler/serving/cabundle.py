"""Keeping our CA in a ``caBundle`` whoever rewrites the object that carries it.

With self-issued certificates, kube-apiserver trusts us only through a ``caBundle``: the
APIService's ``spec.caBundle`` for the metrics API, each webhook's ``clientConfig.caBundle``
in a MutatingWebhookConfiguration for the admission webhook. Written at start and renewal
only, it was lost whenever the manifests (which carry none) were re-applied, and calls failed
with x509 errors for weeks (issue 17 §5). :func:`guard_bundle` runs beside a server: it watches
that one object (a field-selected watch, then a fresh GET on every reconnect) and, whenever a
bundle lacks our CA, puts it back within seconds. Where RBAC grants ``get`` but not ``watch``,
the failed watch simply turns the loop into a GET every ``poll_seconds``.

The bundle written is ours plus every *other* still-valid CA certificate already in it
(:func:`merged_bundle`): two replicas that each hold a CA (or one replica across a CA
rotation) then converge on a bundle that trusts both, instead of taking turns replacing each
other's at watch speed; expired CAs are dropped, so the bundle does not grow over rotations.
Anyone who may patch the object could put any CA there anyway, so keeping the others adds no
trust that was not already given. Patches carry the resourceVersion they were computed from:
a concurrent writer makes ours fail with a conflict, and the next event recomputes it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from cryptography import x509

from podscaler import clock
from podscaler.kube.backoff import Backoff
from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import KubeError

__all__ = [
    "BundlePatch",
    "bundle_certificates",
    "decode_bundle",
    "guard_bundle",
    "merged_bundle",
    "webhook_bundle_patch",
]

log = logging.getLogger(__name__)

_PEM: Final = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----\s*", re.DOTALL
)

#: Given the object as read, our bundle and the time: the merge patch that puts our CA back,
#: or None when nothing is missing (or the object is not ours to fix).
BundlePatch = Callable[[dict[str, Any], bytes, datetime], dict[str, Any] | None]


def bundle_certificates(bundle: bytes) -> list[bytes]:
    """The PEM certificate blocks of *bundle*, each normalised to end in one newline."""
    return [block.strip() + b"\n" for block in _PEM.findall(bundle)]


def _valid(pem: bytes, now: datetime) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return False
    return certificate.not_valid_after_utc > now


def merged_bundle(current: bytes, ours: bytes, now: datetime) -> bytes | None:
    """The bundle to write, or ``None`` when *current* already holds every certificate of
    *ours*: ours first, then the other certificates of *current* that are still valid."""
    have = bundle_certificates(current)
    mine = bundle_certificates(ours)
    if all(pem in have for pem in mine):
        return None
    others = [pem for pem in have if pem not in mine and _valid(pem, now)]
    return b"".join([*mine, *others])


def decode_bundle(raw: object) -> bytes:
    """A ``caBundle`` field's bytes (base64 in JSON); empty when absent or undecodable."""
    try:
        return base64.b64decode(str(raw or ""), validate=False)
    except ValueError:
        return b""


def _version(obj: dict[str, Any]) -> dict[str, Any]:
    return {"resourceVersion": str((obj.get("metadata") or {}).get("resourceVersion") or "")}


def webhook_bundle_patch(obj: dict[str, Any], ours: bytes, now: datetime) -> dict[str, Any] | None:
    """The patch restoring our CA in every webhook of a (Mutating|Validating)
    WebhookConfiguration, or None when each already trusts it. A merge patch replaces the
    ``webhooks`` list whole, so it carries every webhook as read, bundles merged."""
    webhooks = obj.get("webhooks") or []
    changed = False
    written: list[dict[str, Any]] = []
    for webhook in webhooks:
        client = dict(webhook.get("clientConfig") or {})
        merged = merged_bundle(decode_bundle(client.get("caBundle")), ours, now)
        if merged is not None:
            changed = True
            client["caBundle"] = base64.b64encode(merged).decode("ascii")
        written.append({**webhook, "clientConfig": client})
    if not changed:
        return None
    return {"metadata": _version(obj), "webhooks": written}


async def guard_bundle(
    kube: Kube,
    ours: Callable[[], bytes | None],
    *,
    collection: str,
    name: str,
    patch_for: BundlePatch,
    component: str,
    watch_seconds: float = 300.0,
    poll_seconds: float = 5.0,
    now: Callable[[], datetime] = clock.now,
) -> None:
    """Keep ``ours()`` (the CA bundle we serve under; ``None`` before the first) in object
    *name* of *collection* (its list path) until cancelled, by the patches ``patch_for``
    computes. Never raises for the API's failures."""
    backoff = Backoff(initial_seconds=poll_seconds / 4, max_seconds=poll_seconds)
    params = {"fieldSelector": f"metadata.name={name}", "watch": "true"}

    async def restore(obj: dict[str, Any]) -> None:
        bundle = ours()
        patch = patch_for(obj, bundle, now()) if bundle else None
        if patch is None:
            return
        await kube.request("PATCH", f"{collection}/{name}", body=patch, content_type=MERGE_PATCH)
        log.warning(
            "%s: %s lost our CA from its caBundle (manifests re-applied?); restored it",
            component,
            name,
        )

    while True:
        try:
            obj = await kube.request("GET", f"{collection}/{name}")
            await restore(obj)
            version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            watch = {
                **params,
                "resourceVersion": version,
                "timeoutSeconds": str(int(watch_seconds)),
                "allowWatchBookmarks": "true",
            }
            async with kube.stream(
                collection, params=watch, read_timeout_seconds=watch_seconds + 30
            ) as events:
                backoff.reset()
                async for event in events:
                    kind = event.get("type")
                    if kind == "ERROR":
                        break
                    changed = event.get("object")
                    if kind in ("ADDED", "MODIFIED") and isinstance(changed, dict):
                        await restore(changed)
        except asyncio.CancelledError:
            raise
        except KubeError as exc:
            # Not installed yet, a restart, a conflict, or RBAC without watch: look again soon.
            log.debug("%s: caBundle guard: %s", component, type(exc).__name__)
        await asyncio.sleep(backoff.next_delay_seconds())
