"""Mode ``hpa``: KEDA's way — an owned HorizontalPodAutoscaler does 1..N, podscaler does 0↔1.

Some users want ``kubectl get hpa`` to tell the story, or run tools that only understand HPAs.
For them a ScaledObject with ``spec.advanced.mode: hpa`` gets the autoscaling/v2 HPA KEDA would
generate (reference/keda.md §2.4), reading podscaler's external metrics through the aggregation
layer, while podscaler itself still polls the triggers every ``pollingInterval`` for what an HPA
cannot do: activation from 0, deactivation to 0 after the cooldown, idle replicas, pause. The
same ``engine.keda.decide`` runs in both modes; only who writes 1..N differs.

:func:`hpa_manifest` is pure (ScaledObject + its triggers' metric specs → the HPA object), so its
shape is pinned by unit tests against KEDA's: name ``keda-hpa-{name}`` unless
``horizontalPodAutoscalerConfig.name`` is set (the same name, so a KEDA user's dashboards and
alerts keep matching); the ScaledObject as controlling owner (garbage collection deletes the HPA
with it); labels ``app.kubernetes.io/{name,version,part-of,managed-by}`` plus the ScaledObject's
labels, except those listed in ``scaledobject.keda.sh/hpa-excluded-labels``; the ScaledObject's
annotations (but never kubectl's last-applied copy of the ScaledObject); ``minReplicas =
max(minReplicaCount, 1)``; one External metric per trigger metric with the
``scaledobject.keda.sh/name`` selector, Resource/ContainerResource metrics for cpu/memory, or a
single ``composite-metric`` with scalingModifiers; the user's behavior, with ``selectPolicy:
Disabled`` on a direction paused by ``paused-scale-in``/``paused-scale-out``; metrics sorted by
type so that a reordering never counts as a change.

:class:`HpaMode` does the I/O: create, update only when the generated spec, labels or annotations
differ (no write per poll), delete while paused (KEDA deletes its HPA then) and when the object
goes back to direct mode. A workload already scaled by an HPA that is not ours is refused
(Ready=False, ``ScaleTargetAlreadyManaged``), because two autoscalers on one workload fight; the
``scaledobject.keda.sh/transfer-hpa-ownership: "true"`` annotation adopts the HPA named in
``horizontalPodAutoscalerConfig.name`` instead, as in KEDA. The HPA's ``ScalingActive``
condition is mirrored into the ScaledObject's ``HPAActive`` condition.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from podscaler.api.conditions import HPA_ACTIVE
from podscaler.api.meta import SKIP_HPA_OWNERSHIP_VALIDATION
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.scaledobject import COMPOSITE_METRIC_NAME, ScaledObject
from podscaler.engine.keda import read_pause_annotations
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError, NotFound
from podscaler.kube.kinds import HPAS
from podscaler.kube.scaling import ScaleRef
from podscaler.kube.statuses import set_condition
from scalers.contract import ExternalMetricSpec, MetricSpec, MetricTarget

__all__ = [
    "HPAS",
    "HpaMode",
    "HpaModeOutcome",
    "HpaSpecError",
    "finish_status",
    "hpa_active_condition",
    "hpa_manifest",
    "hpa_metrics",
    "installed_version",
    "owned_by",
    "reconcile_mode",
    "targets",
]

log = logging.getLogger(__name__)

SCALED_OBJECT_LABEL: Final = "scaledobject.keda.sh/name"
EXCLUDED_LABELS_ANNOTATION: Final = "scaledobject.keda.sh/hpa-excluded-labels"
TRANSFER_ANNOTATION: Final = "scaledobject.keda.sh/transfer-hpa-ownership"
MANAGED_BY: Final = "podscaler"
_LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"


def installed_version() -> str | None:
    """podscaler's version for the ``app.kubernetes.io/version`` label (from the installed
    distribution: ``controllers`` may not import the package root), ``None`` when unknown."""
    try:
        return importlib.metadata.version("podscaler")
    except importlib.metadata.PackageNotFoundError:
        return None


class HpaSpecError(ValueError):
    """The ScaledObject cannot be expressed as an HPA (e.g. two triggers export one metric)."""


# ---------------------------------------------------------------------------------- pure part


def _labels(so: ScaledObject, hpa_name: str) -> dict[str, str]:
    excluded = {
        s.strip()
        for s in so.metadata.annotations.get(EXCLUDED_LABELS_ANNOTATION, "").split(",")
        if s.strip()
    }
    labels = {k: v for k, v in so.metadata.labels.items() if k not in excluded}
    labels.update(
        {
            "app.kubernetes.io/name": hpa_name,
            "app.kubernetes.io/part-of": so.metadata.name or "",
            "app.kubernetes.io/managed-by": MANAGED_BY,
        }
    )
    version = installed_version()
    if version is not None:
        labels["app.kubernetes.io/version"] = version
    return labels


def _behavior(so: ScaledObject) -> dict[str, Any] | None:
    behavior = so.spec.behavior.to_dict() if so.spec.behavior is not None else None
    pause = read_pause_annotations(so.metadata.annotations)
    for disabled, key in (
        (pause.scale_out_paused, "scaleUp"),
        (pause.scale_in_paused, "scaleDown"),
    ):
        if disabled:
            behavior = dict(behavior or {})
            behavior[key] = {**(behavior.get(key) or {}), "selectPolicy": "Disabled"}
    return behavior


def _composite(so: ScaledObject) -> dict[str, Any] | None:
    """The single External metric that replaces the triggers' with scalingModifiers."""
    modifiers = so.spec.scaling_modifiers
    if modifiers is None or not modifiers.target:
        return None
    try:
        target = float(modifiers.target)
    except ValueError as exc:
        raise HpaSpecError(f"scalingModifiers.target {modifiers.target!r} is not a number") from exc
    if target <= 0:
        raise HpaSpecError("scalingModifiers.target must be above 0")
    kind = (
        MetricTargetType.VALUE
        if modifiers.metric_type == "Value"
        else MetricTargetType.AVERAGE_VALUE
    )
    metric_target = (
        MetricTarget(type=kind, value=target)
        if kind is MetricTargetType.VALUE
        else MetricTarget(type=kind, average_value=target)
    )
    spec = ExternalMetricSpec(metric_name=COMPOSITE_METRIC_NAME, target=metric_target)
    return spec.to_hpa(so.metadata.name or "")


def hpa_metrics(so: ScaledObject, specs: Sequence[MetricSpec]) -> list[dict[str, Any]]:
    """``spec.metrics`` of the generated HPA, sorted by type (stable within a type)."""
    name = so.metadata.name or ""
    metrics: list[dict[str, Any]] = []
    seen: set[str] = set()
    for spec in specs:
        if isinstance(spec, ExternalMetricSpec):
            if spec.metric_name in seen:
                raise HpaSpecError(
                    f"metric name {spec.metric_name} is used by two triggers; the HPA cannot "
                    "tell them apart"
                )
            seen.add(spec.metric_name)
        metrics.append(spec.to_hpa(name))
    composite = _composite(so)
    if composite is not None:
        metrics = [m for m in metrics if m["type"] != "External"] + [composite]
    return sorted(metrics, key=lambda m: str(m["type"]))


def hpa_manifest(
    so: ScaledObject, specs: Sequence[MetricSpec], *, hpa_name: str | None = None
) -> dict[str, Any]:
    """The HPA podscaler owns for *so* in mode hpa, from its triggers' metric *specs*.

    Pure: the same ScaledObject and specs give the same object, which is what lets the
    controller compare it with the stored one and skip the write when nothing changed.
    """
    name = hpa_name or so.hpa_name()
    target = so.spec.scale_target_ref
    resolved = so.spec.resolved()
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": so.metadata.namespace,
        "labels": _labels(so, name),
        "ownerReferences": [
            {
                "apiVersion": so.api_version,
                "kind": "ScaledObject",
                "name": so.metadata.name,
                "uid": so.metadata.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    annotations = {k: v for k, v in so.metadata.annotations.items() if k != _LAST_APPLIED}
    if annotations:
        metadata["annotations"] = annotations
    spec: dict[str, Any] = {
        "scaleTargetRef": {
            "apiVersion": target.effective_api_version,
            "kind": target.effective_kind,
            "name": target.name,
        },
        "minReplicas": resolved.hpa_min_replicas,
        "maxReplicas": resolved.hpa_max_replicas,
        "metrics": hpa_metrics(so, specs),
    }
    behavior = _behavior(so)
    if behavior is not None:
        spec["behavior"] = behavior
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata,
        "spec": spec,
    }


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def targets(hpa: Mapping[str, Any], ref: ScaleRef) -> bool:
    """Whether *hpa* scales the workload *ref* (the version of its group does not matter)."""
    target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    return (
        target.get("name") == ref.name
        and target.get("kind") == ref.kind
        and _group(str(target.get("apiVersion") or "")) == _group(ref.api_version)
    )


def owned_by(hpa: Mapping[str, Any], uid: str | None) -> bool:
    refs = (hpa.get("metadata") or {}).get("ownerReferences") or []
    return uid is not None and any(
        r.get("uid") == uid and r.get("kind") == "ScaledObject" for r in refs
    )


def hpa_active_condition(hpa: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """``HPAActive`` (status, reason, message) from the HPA's ``ScalingActive`` condition.

    True while the HPA computes replicas, and also while it is disabled because podscaler
    scaled the workload to zero (that is the design, not a fault); otherwise the HPA's own
    reason (``FailedGetExternalMetric`` …), or Unknown before the HPA controller has looked.
    """
    conditions = ((hpa or {}).get("status") or {}).get("conditions") or []
    active = next((c for c in conditions if c.get("type") == "ScalingActive"), None)
    if active is None:
        return "Unknown", "HPAMetricsUnavailable", "the HPA has not reported ScalingActive yet"
    reason = str(active.get("reason") or "")
    message = str(active.get("message") or "")
    if active.get("status") == "True":
        return "True", "HPAActive", message or "the HPA is computing replicas"
    if reason == "ScalingDisabled":
        return "True", "ScalingDisabled", message or "scaling is disabled at 0 replicas"
    return str(active.get("status") or "Unknown"), reason or "HPAMetricsUnavailable", message


@dataclass(frozen=True)
class HpaModeOutcome:
    """What one pass did to the HPA, for status (``hpaName``, ``HPAActive``) and the record."""

    hpa_name: str | None
    active: tuple[str, str, str] | None
    summary: str
    error: str | None = None


def finish_status(
    status: dict[str, Any],
    outcome: HpaModeOutcome | None,
    now: datetime,
    generation: int | None,
) -> dict[str, Any]:
    """*status* with ``hpaName`` and the ``HPAActive`` condition set, or both removed (direct
    mode, paused): the status composer knows nothing of modes, so this finishes its work."""
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != HPA_ACTIVE]
    previous = {c.get("type"): c for c in status.get("conditions") or []}
    status = {k: v for k, v in status.items() if k != "hpaName"}
    if outcome is not None and outcome.hpa_name is not None:
        status["hpaName"] = outcome.hpa_name
    if outcome is not None and outcome.active is not None:
        state, reason, message = outcome.active
        kept = [previous[HPA_ACTIVE]] if HPA_ACTIVE in previous else []
        (updated,) = set_condition(
            kept,
            type_=HPA_ACTIVE,
            status=state,
            reason=reason,
            message=message,
            now=now,
            observed_generation=generation,
        )
        conditions.append(updated)
    status["conditions"] = conditions
    return status


def exempt_from_ownership_check(hpa: Mapping[str, Any]) -> bool:
    """An HPA annotated ``validations.keda.sh/hpa-ownership: "false"`` (or podscaler's name of
    it) is left out of the one-autoscaler-per-workload check, as KEDA's admission webhook
    does: its owner says it does not fight over the workload (e.g. an HPA kept for tooling)."""
    annotations = (hpa.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, Mapping):
        return False
    return SKIP_HPA_OWNERSHIP_VALIDATION.lookup(annotations) == "false"


# ---------------------------------------------------------------------------------- I/O part


class HpaMode:
    """Creates, updates and deletes the owned HPA of ScaledObjects in mode hpa."""

    def __init__(self, kube: Kube, *, dry_run: bool = False) -> None:
        self.kube = kube
        self.dry_run = dry_run

    async def conflict(self, so: ScaledObject, ref: ScaleRef) -> str | None:
        """Why *so* must not get an HPA for *ref*: another HPA already scales it."""
        namespace = so.metadata.namespace or ""
        try:
            listing = await self.kube.request("GET", HPAS.path(namespace))
        except KubeError as exc:
            return f"cannot check the HPAs of namespace {namespace}: {exc}"
        wanted = so.hpa_name()
        transfer = so.metadata.annotations.get(TRANSFER_ANNOTATION, "").lower() == "true"
        for hpa in listing.get("items") or []:
            name = str((hpa.get("metadata") or {}).get("name") or "")
            if owned_by(hpa, so.metadata.uid):
                continue
            if exempt_from_ownership_check(hpa):
                continue
            if transfer and name == wanted:
                continue  # adopted on apply
            if targets(hpa, ref):
                return (
                    f"the workload {ref.name} of type {ref.api_version}.{ref.kind} is already "
                    f"managed by the HPA {name}; delete it, or adopt it with the annotation "
                    f'{TRANSFER_ANNOTATION}: "true" and horizontalPodAutoscalerConfig.name: {name}'
                )
            if name == wanted:
                return (
                    f"an HPA named {name} already exists and is not owned by this ScaledObject; "
                    "set horizontalPodAutoscalerConfig.name to another name"
                )
        return None

    async def apply(
        self, so: ScaledObject, specs: Sequence[MetricSpec], *, paused: bool, previous_name: object
    ) -> HpaModeOutcome:
        """Make the owned HPA match *so* (or delete it while paused)."""
        namespace = so.metadata.namespace or ""
        name = so.hpa_name()
        if isinstance(previous_name, str) and previous_name and previous_name != name:
            await self._delete(so, previous_name)
        if paused:
            deleted = await self._delete(so, name)
            return HpaModeOutcome(
                None, None, f"paused: HPA {name} deleted" if deleted else "paused: no HPA"
            )
        try:
            desired = hpa_manifest(so, specs, hpa_name=name)
        except HpaSpecError as exc:
            return HpaModeOutcome(None, None, str(exc), error=str(exc))
        path = HPAS.path(namespace, name)
        try:
            current: dict[str, Any] | None = await self.kube.request("GET", path)
        except NotFound:
            current = None
        except KubeError as exc:
            return HpaModeOutcome(name, None, f"HPA {name} not read: {exc}", error=str(exc))
        summary = f"HPA {name} up to date"
        if self.dry_run:
            summary = f"dry run: HPA {name} not written"
        elif current is None:
            try:
                current = await self.kube.request("POST", HPAS.path(namespace), body=desired)
            except KubeError as exc:
                return HpaModeOutcome(name, None, f"HPA {name} not created: {exc}", error=str(exc))
            summary = f"HPA {name} created"
            log.info("created HPA %s/%s for ScaledObject %s", namespace, name, so.metadata.name)
        elif _differs(current, desired):
            body = _merged(current, desired)
            try:
                current = await self.kube.request("PUT", path, body=body)
            except KubeError as exc:
                return HpaModeOutcome(name, None, f"HPA {name} not updated: {exc}", error=str(exc))
            summary = f"HPA {name} updated"
            log.info("updated HPA %s/%s for ScaledObject %s", namespace, name, so.metadata.name)
        return HpaModeOutcome(name, hpa_active_condition(current), summary)

    async def release(self, so: ScaledObject, previous_name: object) -> bool:
        """Back in direct mode: delete the HPA this object had (only if it is ours)."""
        if not isinstance(previous_name, str) or not previous_name:
            return False
        return await self._delete(so, previous_name)

    async def _delete(self, so: ScaledObject, name: str) -> bool:
        if self.dry_run:
            return False
        path = HPAS.path(so.metadata.namespace or "", name)
        try:
            current = await self.kube.request("GET", path)
            if not owned_by(current, so.metadata.uid):
                return False
            await self.kube.request("DELETE", path)
        except NotFound:
            return False
        except KubeError as exc:
            log.warning("deleting HPA %s of %s failed: %s", name, so.metadata.name, exc)
            return False
        log.info(
            "deleted HPA %s/%s of ScaledObject %s", so.metadata.namespace, name, so.metadata.name
        )
        return True


def _derivative(desired: object, current: object) -> bool:
    """Whether every field *desired* sets has that value in *current* (KEDA's DeepDerivative):
    fields an API server defaults (behavior policies, say) must not count as a change."""
    if isinstance(desired, Mapping):
        return isinstance(current, Mapping) and all(
            _derivative(v, current.get(k)) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(current, list)
            and len(desired) == len(current)
            and all(_derivative(d, c) for d, c in zip(desired, current, strict=True))
        )
    return desired == current


def _differs(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    meta, want = current.get("metadata") or {}, desired["metadata"]
    if "behavior" not in desired["spec"] and "behavior" in (current.get("spec") or {}):
        return True  # the user removed it: derivation alone cannot see a removal
    return not (
        _derivative(desired["spec"], current.get("spec"))
        and _derivative(want["labels"], meta.get("labels") or {})
        and _derivative(want.get("annotations", {}), meta.get("annotations") or {})
        and owned_by(current, want["ownerReferences"][0]["uid"])
    )


def _merged(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """*desired* over *current*: their resourceVersion (optimistic concurrency), our spec,
    labels and annotations added to theirs, and us as the controlling owner."""
    meta = dict(current.get("metadata") or {})
    want = desired["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), **want["labels"]}
    if want.get("annotations"):
        meta["annotations"] = {**(meta.get("annotations") or {}), **want["annotations"]}
    others = [
        r
        for r in meta.get("ownerReferences") or []
        if r.get("uid") != want["ownerReferences"][0]["uid"] and not r.get("controller")
    ]
    meta["ownerReferences"] = [*others, *want["ownerReferences"]]
    return {**dict(current), "metadata": meta, "spec": desired["spec"]}


async def reconcile_mode(
    mode: HpaMode,
    so: ScaledObject,
    specs: Sequence[MetricSpec],
    previous_status: Mapping[str, Any] | None,
) -> HpaModeOutcome | None:
    """One pass's HPA work for *so*: keep its HPA in mode hpa (deleted while paused), remove
    the one it had when it went back to direct mode (no I/O for an object that never had one)."""
    previous_name = (previous_status or {}).get("hpaName")
    if so.spec.mode != "hpa":
        await mode.release(so, previous_name)
        return None
    paused = read_pause_annotations(so.metadata.annotations).paused
    return await mode.apply(so, specs, paused=paused, previous_name=previous_name)
