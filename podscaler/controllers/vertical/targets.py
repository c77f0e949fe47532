"""From a VerticalScaler's ``targetRef`` to the label selector of its pods, and from a pod's
controller to the replica count its eviction budget is measured against.

Kinds with a ``/scale`` subresource (Deployment, StatefulSet, ReplicaSet, scalable custom
resources) publish their selector there, as upstream's controller fetcher reads it; DaemonSets
and Jobs have none, so their ``spec.selector`` is read instead. Failures come back as a
:class:`TargetProblem` (reason, message) for the ``ConfigUnsupported`` condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from podscaler.api.selectors import LabelSelector, SelectorError, parse_label_selector
from podscaler.api.verticalscaler import target_api_version
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError, NoScaleSubresource, NotFound
from podscaler.kube.resources import Discovery
from podscaler.kube.scaling import ScaleClient, ScaleRef

__all__ = ["TargetProblem", "TargetResolver", "group_replicas"]

#: apiVersion assumed when a targetRef names none, by kind (as ``kubectl`` users expect).


@dataclass(frozen=True, slots=True)
class TargetProblem:
    reason: str
    message: str


class TargetResolver:
    """Selectors of targets, read afresh each pass (a Deployment's selector can change)."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.discovery = Discovery(kube)
        self.scales = ScaleClient(kube, self.discovery)

    def ref(self, namespace: str, target: Mapping[str, Any]) -> ScaleRef:
        kind = str(target.get("kind") or "")
        api_version = target_api_version(kind, str(target.get("apiVersion") or "") or None)
        return ScaleRef(api_version, kind, namespace, str(target.get("name") or ""))

    async def selector(self, ref: ScaleRef) -> LabelSelector | TargetProblem:
        """The pods' selector, or why it cannot be had."""
        try:
            scale = await self.scales.get_scale(ref)
        except NoScaleSubresource:
            return await self._spec_selector(ref)
        except NotFound as exc:
            return TargetProblem("TargetNotFound", f"{ref.kind} {ref.name}: {exc.message}")
        except KubeError as exc:
            return TargetProblem("TargetUnreadable", f"{ref.kind} {ref.name}: {exc}")
        if not scale.selector:
            return TargetProblem(
                "TargetHasNoSelector",
                f"{ref.kind} {ref.name} publishes no pod selector on its /scale",
            )
        try:
            return parse_label_selector(scale.selector)
        except SelectorError as exc:
            return TargetProblem("TargetHasNoSelector", f"{ref.kind} {ref.name}: {exc}")

    async def _spec_selector(self, ref: ScaleRef) -> LabelSelector | TargetProblem:
        try:
            resource = await self.discovery.resolve(ref.api_version, ref.kind)
            obj = await self.kube.request("GET", resource.path(ref.namespace, ref.name))
        except NotFound as exc:
            return TargetProblem("TargetNotFound", f"{ref.kind} {ref.name}: {exc.message}")
        except KubeError as exc:
            return TargetProblem("TargetUnreadable", f"{ref.kind} {ref.name}: {exc}")
        raw = (obj.get("spec") or {}).get("selector")
        if not isinstance(raw, Mapping):
            return TargetProblem(
                "TargetHasNoSelector",
                f"{ref.kind} {ref.name} has no /scale and no spec.selector: its pods cannot "
                "be found",
            )
        try:
            return LabelSelector.from_dict(raw)
        except SelectorError as exc:
            return TargetProblem("TargetHasNoSelector", f"{ref.kind} {ref.name}: {exc}")


#: Where each controller kind keeps the number of pods it wants.
_REPLICA_PATHS: Final = {
    "ReplicaSet": ("/apis/apps/v1", "replicasets", ("spec", "replicas")),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", ("spec", "replicas")),
    "ReplicationController": ("/api/v1", "replicationcontrollers", ("spec", "replicas")),
    "DaemonSet": ("/apis/apps/v1", "daemonsets", ("status", "desiredNumberScheduled")),
    "Job": ("/apis/batch/v1", "jobs", ("spec", "parallelism")),
}


async def group_replicas(kube: Kube, namespace: str, kind: str, name: str) -> int | None:
    """How many pods the pod's controller wants (``None``: unknown kind or unreadable)."""
    found = _REPLICA_PATHS.get(kind)
    if found is None:
        return None
    base, plural, (section, field) = found
    try:
        obj = await kube.request("GET", f"{base}/namespaces/{namespace}/{plural}/{name}")
    except KubeError:
        return None
    value = (obj.get(section) or {}).get(field)
    if value is None and field == "replicas":
        return 1  # the API's default
    return value if isinstance(value, int) else None
