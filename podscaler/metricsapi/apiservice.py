"""The APIService that routes external.metrics.k8s.io to us: who owns it, and its caBundle.

A cluster has exactly one ``v1beta1.external.metrics.k8s.io`` APIService, so only one product
can serve external metrics (KEDA issue #470). If KEDA or prometheus-adapter already holds it,
silently taking it over would break their users' HPAs, and silently not serving would leave
ours at ``<unknown>``; :func:`apiservice_owner` lets ``podscaler run`` say which it is at start.

When podscaler mints its own certificates, the aggregator can only verify them through the
APIService's ``caBundle``; :func:`publish_ca_bundle` patches it (merge patch, only that field),
and refuses to touch an APIService that points at someone else's Service.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Final

from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import KubeError, NotFound

__all__ = [
    "APISERVICE_NAME",
    "ApiServiceOwnedElsewhere",
    "ApiServiceOwner",
    "apiservice_owner",
    "publish_ca_bundle",
]

APISERVICE_NAME: Final = "v1beta1.external.metrics.k8s.io"
_PATH: Final = "/apis/apiregistration.k8s.io/v1/apiservices/"


class ApiServiceOwnedElsewhere(KubeError):
    """The APIService routes to another product's Service; we leave it alone."""


@dataclass(frozen=True, slots=True)
class ApiServiceOwner:
    """Where the APIService points (``service`` None: served by kube-apiserver itself)."""

    namespace: str | None
    service: str | None

    def is_ours(self, namespace: str, service: str) -> bool:
        return (self.namespace, self.service) == (namespace, service)

    def describe(self) -> str:
        if self.service is None:
            return "kube-apiserver itself (no backing Service)"
        return f"Service {self.namespace}/{self.service}"


def _owner(obj: dict[str, Any]) -> ApiServiceOwner:
    ref = (obj.get("spec") or {}).get("service") or {}
    if not ref:
        return ApiServiceOwner(None, None)
    return ApiServiceOwner(str(ref.get("namespace") or ""), str(ref.get("name") or ""))


async def apiservice_owner(kube: Kube, name: str = APISERVICE_NAME) -> ApiServiceOwner | None:
    """Where ``name`` routes today, or None when no such APIService exists."""
    try:
        obj = await kube.request("GET", _PATH + name)
    except NotFound:
        return None
    return _owner(obj)


async def publish_ca_bundle(
    kube: Kube,
    ca_bundle_pem: bytes,
    *,
    namespace: str,
    service: str,
    name: str = APISERVICE_NAME,
) -> None:
    """Set ``spec.caBundle`` of our APIService to ``ca_bundle_pem``.

    Raises :class:`ApiServiceOwnedElsewhere` when the APIService routes to a different Service,
    and ``NotFound`` when it does not exist (it is installed from the manifests, not created
    here, so that RBAC can stay ``patch`` on one named object).
    """
    owner = await apiservice_owner(kube, name)
    if owner is None:
        raise NotFound(404, "NotFound", f'apiservices.apiregistration.k8s.io "{name}" not found')
    if not owner.is_ours(namespace, service):
        raise ApiServiceOwnedElsewhere(
            f"APIService {name} routes to {owner.describe()}, not to Service "
            f"{namespace}/{service}; another metrics adapter (KEDA, prometheus-adapter?) owns it"
        )
    await kube.request(
        "PATCH",
        _PATH + name,
        body={"spec": {"caBundle": base64.b64encode(ca_bundle_pem).decode("ascii")}},
        content_type=MERGE_PATCH,
    )
