"""Keeping our CA in the APIService's ``caBundle`` whoever rewrites it (issue 17 §5).

The loop is :func:`podscaler.serving.cabundle.guard_bundle` (shared with the admission
webhook's configuration); what is specific to the APIService is here: only an APIService that
routes to our Service is fixed (someone else's is reported at start by ``apiservice_owner``),
and its one bundle is ``spec.caBundle``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from podscaler import clock
from podscaler.kube.clients import Kube
from podscaler.metricsapi.apiservice import APISERVICE_NAME
from podscaler.serving.cabundle import (
    bundle_certificates,
    decode_bundle,
    guard_bundle,
    merged_bundle,
)

__all__ = ["apiservice_bundle_patch", "bundle_certificates", "guard_ca_bundle", "merged_bundle"]

_LIST: Final = "/apis/apiregistration.k8s.io/v1/apiservices"


def apiservice_bundle_patch(
    obj: dict[str, Any], ours: bytes, now: datetime, *, namespace: str, service: str
) -> dict[str, Any] | None:
    """The patch putting our CA back into an APIService routing to ``namespace/service``, or
    None when it is there (or the APIService is someone else's)."""
    spec = obj.get("spec") or {}
    ref = spec.get("service") or {}
    if (ref.get("namespace"), ref.get("name")) != (namespace, service):
        return None
    merged = merged_bundle(decode_bundle(spec.get("caBundle")), ours, now)
    if merged is None:
        return None
    version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    return {
        "metadata": {"resourceVersion": version},
        "spec": {"caBundle": base64.b64encode(merged).decode("ascii")},
    }


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

    def patch_for(obj: dict[str, Any], bundle: bytes, at: datetime) -> dict[str, Any] | None:
        return apiservice_bundle_patch(obj, bundle, at, namespace=namespace, service=service)

    await guard_bundle(
        kube,
        ours,
        collection=_LIST,
        name=name,
        patch_for=patch_for,
        component="metrics API",
        watch_seconds=watch_seconds,
        poll_seconds=poll_seconds,
        now=now,
    )
