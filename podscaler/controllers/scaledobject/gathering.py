"""Gathering: what one evaluation decides from, read once and handed on as a frozen snapshot.

In two steps, because a pass may stop between them:

1. :meth:`Gatherer.check` — the spec parses (an invalid object gets every problem in one
   Ready=False, and nothing else happens to it — the others keep scaling), and this object may
   scale its target: no older ScaledObject holds it, and in hpa mode no foreign HPA does.
2. :meth:`Gatherer.gather` — the target's ``/scale`` and API resource (a missing target is a
   condition, retried every poll), the triggers (rebuilt when the spec changed, see
   :mod:`podscaler.controllers.triggers`) and one concurrent poll of them, the target's pods
   when a trigger needs them, and what the engines remember: the previous KEDA state (after a
   restart, resumed from status) and the HPA history.

Each step answers its snapshot or a :class:`Refusal`: the reason this pass stops, which the
applying step turns into Ready=False, an Event and an error count. And one read on demand,
:meth:`Gatherer.pod_metrics`: the pods' usage from ``metrics.k8s.io``, read only when the KEDA
decision hands over to the HPA calculation and a cpu/memory trigger needs it.

Nothing here writes to the cluster. On the object's context it leaves only what outlives the
pass: the target's reference (the finalizer and the controller need it) and the built triggers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podscaler.api.conditions import Condition
from podscaler.api.reasons import Reason
from podscaler.api.scaledobject import ScaledObject, ScalingSpec
from podscaler.controllers.scaledobject.context import ObjectContext, Settings
from podscaler.controllers.scaledobject.hpamode import HpaMode
from podscaler.controllers.scaledobject.mapping import resumed_state
from podscaler.controllers.scaledobject.pods import list_pod_metrics, list_pods
from podscaler.controllers.scaledobject.status import last_active_refresh_seconds
from podscaler.controllers.scaledobject.targets import TargetReader
from podscaler.controllers.triggers import (
    TriggerConfigError,
    TriggerKeeper,
    TriggerPoll,
    TriggerSet,
)
from podscaler.engine import hpa, keda
from podscaler.engine.hpa.objects import pod_facts, resource_reading
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError, NoScaleSubresource, NotFound
from podscaler.kube.resources import Resource
from podscaler.kube.scaling import Scale, ScaleRef

__all__ = ["Checked", "Gatherer", "Inputs", "Refusal"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why this pass stops before deciding; the object is retried on its next poll."""

    reason: Reason
    message: str
    #: The decision record's rule (``invalid``, ``conflict``, ``targetNotFound`` …).
    rule: str
    #: The target's replicas, when they were read before the pass stopped.
    current: int | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    """An object that may be evaluated: its parsed spec and its target."""

    so: ScaledObject
    ref: ScaleRef


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything one decision is made from (and nothing it is not)."""

    so: ScaledObject
    ref: ScaleRef
    #: The target's API resource (for status' ``scaleTargetGVKR``).
    resource: Resource
    scale: Scale
    #: The built triggers (for metric names, types and the HPA's resource specs).
    triggers: TriggerSet
    poll: TriggerPoll
    #: The target's pods; ``pods_listed`` is false when they were not needed or not readable.
    pods: tuple[hpa.PodFacts, ...]
    pods_listed: bool
    #: Running and Ready pods, ``None`` unless listed.
    ready_replicas: int | None
    spec: ScalingSpec
    #: How stale ``status.lastActiveTime`` may get (see :mod:`.status`).
    refresh_seconds: float
    previous_state: keda.ScalingState
    hpa_history: hpa.HpaHistory
    hpa_conditions: tuple[Condition, ...]
    hpa_desired: int | None
    generation: int | None
    #: The pass's time (the injected wall clock); the engines take it as Unix seconds.
    now: datetime

    @property
    def now_seconds(self) -> float:
        return self.now.timestamp()


class Gatherer:
    """Reads what evaluations decide from; shared by every object of one controller."""

    def __init__(
        self,
        kube: Kube,
        targets: TargetReader,
        keeper: TriggerKeeper,
        hpa_mode: HpaMode,
        *,
        settings: Settings,
        owner_of: Callable[[ObjectContext], str | None],
    ) -> None:
        self.kube = kube
        self.targets = targets
        self.keeper = keeper
        self.hpa_mode = hpa_mode
        self.settings = settings
        self.owner_of = owner_of

    async def check(self, ctx: ObjectContext) -> Checked | Refusal:
        """The spec parses and the target is this object's to scale."""
        parsed = ctx.spec_cache.get(ctx.obj)
        so, problems = parsed.so, parsed.problems
        if problems or so is None:
            message = "; ".join(str(p) for p in problems) or "invalid ScaledObject"
            return Refusal(Reason.ScaledObjectCheckFailed, message, "invalid")
        target = so.spec.scale_target_ref
        ref = ScaleRef(
            target.effective_api_version, target.effective_kind, ctx.namespace, target.name
        )
        ctx.target = ref
        owner = self.owner_of(ctx)
        if owner is not None:
            message = (
                f"the scale target {ref} is already managed by ScaledObject {owner}; "
                "only one ScaledObject may scale a workload"
            )
            return Refusal(Reason.ScaleTargetAlreadyManaged, message, "conflict")
        if so.spec.mode == "hpa":
            foreign = await self.hpa_mode.conflict(so, ref)
            if foreign is not None:
                return Refusal(Reason.ScaleTargetAlreadyManaged, foreign, "conflict")
        return Checked(so, ref)

    async def gather(self, ctx: ObjectContext, checked: Checked, now: datetime) -> Inputs | Refusal:
        """The target, one poll of the triggers, the pods they need, the engines' memory."""
        so, ref = checked.so, checked.ref
        try:
            resource = await self.targets.resource(ref)
            scale = await self.targets.get_scale(ref)
        except NoScaleSubresource as exc:
            return Refusal(Reason.ScaleTargetNotScalable, str(exc), "targetNotScalable")
        except (NotFound, KubeError, TimeoutError) as exc:
            message = f"scale target {ref} not found ({exc}); retrying every pollingInterval"
            return Refusal(Reason.ScaleTargetNotFound, message, "targetNotFound")
        if self.keeper.stale(ctx):
            try:
                await self.keeper.rebuild(
                    ctx,
                    triggers=so.spec.triggers,
                    workload=await self.targets.workload(ref),
                    env_source_container=so.spec.scale_target_ref.env_source_container_name,
                )
            except TriggerConfigError as exc:
                return Refusal(
                    Reason.ScaledObjectCheckFailed, str(exc), "invalid", current=scale.replicas
                )
        triggers = ctx.triggers
        assert triggers is not None
        poll = await self.keeper.poll(ctx, triggers)
        pods: list[dict[str, Any]] | None = None
        if triggers.needs_pods and scale.selector:
            try:
                pods = await list_pods(self.kube, ctx.namespace, scale.selector)
            except KubeError as exc:
                log.warning("listing pods of %s failed: %s", ref, exc)
        facts = tuple(pod_facts(p) for p in pods or ())
        ready = (
            sum(1 for f in facts if f.phase == hpa.PodPhase.RUNNING and f.is_ready)
            if pods is not None
            else None
        )
        spec = ctx.spec_cache.scaling_of(so)
        refresh = last_active_refresh_seconds(
            spec.polling_interval_seconds,
            spec.cooldown_period_seconds,
            self.settings.last_active_refresh_cap_seconds,
        )
        previous_state = ctx.scaling_state or resumed_state(
            ctx.obj.get("status"), now.timestamp(), refresh
        )
        return Inputs(
            so=so,
            ref=ref,
            resource=resource,
            scale=scale,
            triggers=triggers,
            poll=poll,
            pods=facts,
            pods_listed=pods is not None,
            ready_replicas=ready,
            spec=spec,
            refresh_seconds=refresh,
            previous_state=previous_state,
            hpa_history=ctx.hpa_history,
            hpa_conditions=ctx.hpa_conditions,
            hpa_desired=ctx.hpa_desired,
            generation=ctx.generation,
            now=now,
        )

    async def pod_metrics(self, inputs: Inputs) -> hpa.MetricReading:
        """The target's pods' cpu/memory usage (``metrics.k8s.io``), or why it is unknown."""
        assert inputs.scale.selector
        try:
            return resource_reading(
                await list_pod_metrics(self.kube, inputs.ref.namespace, inputs.scale.selector)
            )
        except KubeError as exc:
            return hpa.ReadingError(f"unable to get pod metrics: {exc}")
