"""Keeping our CA in the APIService's ``caBundle`` whoever rewrites it.

With self-issued certificates the aggregator trusts us only through
``v1beta1.external.metrics.k8s.io``'s ``spec.caBundle``. It used to be written at start and
at renewal only, so re-applying ``manifests/metricsapi/`` (which carries no caBundle) left
every aggregated read failing with x509 errors for weeks (issue 17 §5). :func:`guard_ca_bundle`
runs beside the server: it watches that one APIService (a field-selected watch, then a fresh
GET on every reconnect) and, whenever the bundle lacks our CA, puts it back within seconds.
Where RBAC grants ``get`` but not ``watch``, the failed watch simply turns the loop into a GET
every ``poll_seconds``.

The bundle written is ours plus every *other* still-valid CA certificate already in it
(:func:`merged_bundle`): two replicas that each mint a CA then converge on a bundle that trusts
both, instead of taking turns replacing each other's at watch speed; expired CAs are dropped,
so the bundle does not grow over rotations. Anyone who may patch the APIService could put any
CA there anyway, so keeping the others adds no trust that was not already given.
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
from podscaler.metricsapi.apiservice import APISERVICE_NAME

__all__ = ["bundle_certificates", "guard_ca_bundle", "merged_bundle"]

log = logging.getLogger(__name__)

_LIST: Final = "/apis/apiregistration.k8s.io/v1/apiservices"
_PEM: Final = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----\s*", re.DOTALL
)


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


def _decoded_bundle(obj: dict[str, Any]) -> bytes:
    raw = (obj.get("spec") or {}).get("caBundle") or ""
    try:
        return base64.b64decode(str(raw), validate=False)
    except ValueError:
        return b""


def _routes_to(obj: dict[str, Any], namespace: str, service: str) -> bool:
    ref = (obj.get("spec") or {}).get("service") or {}
    return (ref.get("namespace"), ref.get("name")) == (namespace, service)


async def _restore(
    kube: Kube,
    obj: dict[str, Any],
    ours: bytes,
    *,
    namespace: str,
    service: str,
    name: str,
    now: datetime,
) -> bool:
    """Put our CA back into *obj*'s bundle if it is missing; whether a patch was sent."""
    if not _routes_to(obj, namespace, service):
        return False  # someone else's APIService: apiservice_owner's warning said so at start
    merged = merged_bundle(_decoded_bundle(obj), ours, now)
    if merged is None:
        return False
    await kube.request(
        "PATCH",
        f"{_LIST}/{name}",
        body={"spec": {"caBundle": base64.b64encode(merged).decode("ascii")}},
        content_type=MERGE_PATCH,
    )
    log.warning(
        "metrics API: APIService %s lost our CA from its caBundle (manifests re-applied?); "
        "restored it",
        name,
    )
    return True


async def guard_ca_bundle(
    kube: Kube,
    ours: Callable[[], bytes | None],
    *,
    namespace: str,
    service: str,
    name: str = APISERVICE_NAME,
    watch_seconds: float = 300.0,
    poll_seconds: float = 5.0,
    now: Callable[[], datetime] = clock.now,
) -> None:
    """Keep ``ours()`` (the CA bundle we serve under; ``None`` before the first) in the
    APIService's ``caBundle`` until cancelled. Never raises for the API's failures."""
    backoff = Backoff(initial_seconds=poll_seconds / 4, max_seconds=poll_seconds)
    params = {"fieldSelector": f"metadata.name={name}", "watch": "true"}
    while True:
        try:
            obj = await kube.request("GET", f"{_LIST}/{name}")
            bundle = ours()
            if bundle:
                await _restore(
                    kube, obj, bundle, namespace=namespace, service=service, name=name, now=now()
                )
            version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            watch = {
                **params,
                "resourceVersion": version,
                "timeoutSeconds": str(int(watch_seconds)),
                "allowWatchBookmarks": "true",
            }
            async with kube.stream(
                _LIST, params=watch, read_timeout_seconds=watch_seconds + 30
            ) as events:
                backoff.reset()
                async for event in events:
                    kind = event.get("type")
                    if kind == "ERROR":
                        break
                    changed = event.get("object")
                    bundle = ours()
                    if kind in ("ADDED", "MODIFIED") and isinstance(changed, dict) and bundle:
                        await _restore(
                            kube,
                            changed,
                            bundle,
                            namespace=namespace,
                            service=service,
                            name=name,
                            now=now(),
                        )
        except asyncio.CancelledError:
            raise
        except KubeError as exc:
            # Not installed yet, a restart, or RBAC without watch: look again soon.
            log.debug("metrics API: caBundle guard: %s", type(exc).__name__)
        await asyncio.sleep(backoff.next_delay_seconds())
