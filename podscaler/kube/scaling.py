"""Reading and setting replicas through the ``/scale`` subresource of any scalable kind.

``/scale`` is the one interface that Deployments, StatefulSets, ReplicaSets and every custom
resource declaring a scale subresource (Argo Rollouts, KEDA's own test CRDs, ours) share, and
it is what the HPA and ``kubectl scale`` use. Whether a kind has it is a discovery fact (an
``{plural}/scale`` entry in the group-version's resource list), so a target without it fails
with :class:`NoScaleSubresource` instead of a puzzling 404 on every reconcile.

Writes are a JSON merge patch of ``{"spec": {"replicas": n}}``, as ``kubectl scale`` sends:
no resourceVersion precondition, because the replica count is ours to set and a conflict
retry would only re-apply the same number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import NoScaleSubresource
from podscaler.kube.resources import Discovery, Resource

__all__ = ["Scale", "ScaleClient", "ScaleRef"]


class ScaleRef(NamedTuple):
    """What a scale target is known by (a ScaledObject's ``scaleTargetRef`` plus namespace)."""

    api_version: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.api_version}.{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Scale:
    """The ``autoscaling/v1`` Scale of a target.

    ``selector`` is the label selector (string form) of the target's pods, empty when the
    kind does not publish one (a CRD without ``labelSelectorPath``).
    """

    replicas: int
    status_replicas: int
    selector: str
    resource_version: str = ""
    #: The target's uid (a Scale carries its parent's), telling one object from another that
    #: has the same name since.
    uid: str = ""

    @classmethod
    def from_dict(cls, scale: dict[str, Any]) -> Scale:
        spec = scale.get("spec") or {}
        status = scale.get("status") or {}
        meta = scale.get("metadata") or {}
        return cls(
            replicas=int(spec.get("replicas") or 0),
            status_replicas=int(status.get("replicas") or 0),
            selector=str(status.get("selector") or ""),
            resource_version=str(meta.get("resourceVersion") or ""),
            uid=str(meta.get("uid") or ""),
        )


class ScaleClient:
    """``get_scale`` / ``set_replicas`` for any target, resolving kinds through discovery."""

    def __init__(self, kube: Kube, discovery: Discovery) -> None:
        self._kube = kube
        self._discovery = discovery

    async def resource(self, ref: ScaleRef) -> Resource:
        """The target's resource; raises :class:`NoScaleSubresource` when it cannot scale and
        :class:`~podscaler.kube.errors.NotFound` when the kind is not served at all."""
        resource = await self._discovery.resolve(ref.api_version, ref.kind)
        if not resource.has_scale:
            raise NoScaleSubresource(
                f"{ref.kind} in {ref.api_version} has no /scale subresource, so {ref} cannot be "
                "scaled (a custom resource needs subresources.scale in its CRD)"
            )
        return resource

    async def get_scale(self, ref: ScaleRef) -> Scale:
        resource = await self.resource(ref)
        answer = await self._kube.request("GET", resource.path(ref.namespace, ref.name, "scale"))
        return Scale.from_dict(answer)

    async def set_replicas(self, ref: ScaleRef, replicas: int) -> Scale:
        """Set ``spec.replicas`` and return the Scale the server answered with."""
        if replicas < 0:
            raise ValueError(f"replicas must be >= 0, got {replicas}")
        resource = await self.resource(ref)
        answer = await self._kube.request(
            "PATCH",
            resource.path(ref.namespace, ref.name, "scale"),
            body={"spec": {"replicas": replicas}},
            content_type=MERGE_PATCH,
        )
        return Scale.from_dict(answer)
