"""One evaluation of one ScaledObject: inputs gathered, engines called, result applied.

The order of a pass (direct mode):

1. validate the object (an invalid one gets Ready=False with every problem, and nothing else
   happens to it — the others keep scaling); refuse a second object on the same target;
2. read the target's replicas (a missing target is a condition, retried every poll);
3. build the triggers when the spec changed, then poll them concurrently;
4. ``engine.keda.decide``: pause, fallback, activity, the 0↔1 edge;
5. if it scales to a number (activate, deactivate, paused-replicas), write that; otherwise, when
   the target runs, ``engine.hpa.decide`` computes 1..N, ``/scale`` is written only if the
   count changes, and ``engine.hpa.conclude`` keeps the history;
6. status (only if it changed), Events for transitions, metrics, and the decision record.

Nothing in here raises for a bad object or a failing source: errors become conditions,
Events and records. The time of the pass comes from the injected wall clock (the engines'
clock is Unix seconds, see :mod:`.mapping`); durations from the loop clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from podscaler.api.conditions import Condition, ConditionStatus
from podscaler.api.meta import API_GROUP, API_VERSION
from podscaler.api.reasons import Reason
from podscaler.api.scaledobject import ScaledObject
from podscaler.api.triggers import polling_interval_of
from podscaler.controllers.scaledobject.direct import hpa_spec_and_readings
from podscaler.controllers.scaledobject.hpamode import HpaMode, finish_status, reconcile_mode
from podscaler.controllers.scaledobject.mapping import (
    datetime_of,
    hpa_behavior,
    resumed_state,
    state_from_status,
)
from podscaler.controllers.scaledobject.pods import list_pod_metrics, list_pods
from podscaler.controllers.scaledobject.records import (
    DecisionLog,
    DecisionRecord,
    HpaMetricRecord,
    HpaRecord,
)
from podscaler.controllers.scaledobject.specs import SpecCache
from podscaler.controllers.scaledobject.status import (
    DEFAULT_LAST_ACTIVE_REFRESH_CAP_SECONDS,
    StatusParts,
    compose_status,
    last_active_refresh_seconds,
    last_active_to_write,
    status_patch,
)
from podscaler.controllers.scaledobject.statuswriter import StatusWriter
from podscaler.controllers.scaledobject.targets import TargetReader
from podscaler.controllers.transitions import condition_changes, replica_change
from podscaler.controllers.triggers import (
    AuthRefresher,
    TriggerConfigError,
    TriggerKeeper,
    TriggerPoll,
    TriggerSet,
)
from podscaler.engine import hpa, keda
from podscaler.engine.hpa.objects import pod_facts, resource_reading
from podscaler.engine.keda import conditions as cond
from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import KubeError, NoScaleSubresource, NotFound
from podscaler.kube.events import EventRecorder
from podscaler.kube.resources import Resource
from podscaler.kube.scaling import Scale, ScaleRef
from podscaler.kube.statuses import patch_status
from podscaler.observability.metrics import OperatorMetrics
from scalers.contract import ScalerEnvironment
from scalers.registry import ScalerRegistry

__all__ = ["FINALIZER", "SCALED_OBJECTS", "Evaluator", "ObjectContext", "Settings"]

log = logging.getLogger(__name__)

FINALIZER: Final = "autoscaling.podscaler.io/finalizer"

SCALED_OBJECTS: Final = Resource(
    group=API_GROUP,
    version=API_VERSION,
    plural="scaledobjects",
    kind="ScaledObject",
    namespaced=True,
    subresources=frozenset({"status"}),
)


@dataclass(frozen=True)
class Settings:
    """Controller-wide settings (``podscaler run`` flags)."""

    #: Longest a trigger may take before its poll counts as failed (KEDA's HTTP default is 3 s;
    #: a scaler's own timeout usually fires first).
    trigger_timeout_seconds: float = 5.0
    #: Decide and explain, never write ``/scale``.
    dry_run: bool = False
    #: Where ClusterTriggerAuthentications read their Secrets.
    operator_namespace: str = "podscaler"
    #: Objects whose status is current when the operator starts take their first poll at a
    #: random point of the first ``pollingInterval * start_spread`` seconds, so after a restart
    #: thousands of objects spread evenly over the interval instead of all polling at once.
    #: Objects without a current status are polled at once (a user waits for them).
    start_spread: float = 1.0
    #: Cap of how stale ``status.lastActiveTime`` may get while an object stays active (the
    #: exact value is kept in memory); see :mod:`.status` for why and what it costs.
    last_active_refresh_cap_seconds: float = DEFAULT_LAST_ACTIVE_REFRESH_CAP_SECONDS
    hpa: hpa.HpaSettings = field(default_factory=hpa.HpaSettings)


@dataclass
class ObjectContext:
    """What the controller remembers about one ScaledObject between polls."""

    namespace: str
    name: str
    obj: dict[str, Any]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    triggers: TriggerSet | None = None
    built_generation: int | None = None
    scaling_state: keda.ScalingState | None = None
    hpa_history: hpa.HpaHistory = field(default_factory=hpa.HpaHistory)
    hpa_conditions: tuple[Condition, ...] = ()
    hpa_desired: int | None = None
    #: The status the server holds after our last write (``None``: the informer's copy).
    status: dict[str, Any] | None = None
    #: The latest status handed to the status writer and not yet written.
    wanted_status: dict[str, Any] | None = None
    target: ScaleRef | None = None
    spec_cache: SpecCache = field(default_factory=SpecCache)
    #: The last poll and its time: what the metrics API answers for ``useCachedMetrics``.
    last_poll: TriggerPoll | None = None
    last_poll_at: datetime | None = None

    @property
    def generation(self) -> int | None:
        value = (self.obj.get("metadata") or {}).get("generation")
        return value if isinstance(value, int) else None

    @property
    def known_status(self) -> dict[str, Any] | None:
        """The status the next one is composed over: the one waiting to be written, else the
        last written, else the informer's."""
        if self.wanted_status is not None:
            return self.wanted_status
        if self.status is not None:
            return self.status
        status = self.obj.get("status")
        return status if isinstance(status, dict) else None

    @property
    def polling_interval_seconds(self) -> float:
        return float(polling_interval_of(self.obj.get("spec")))

    async def close(self) -> None:
        if self.triggers is not None:
            await self.triggers.close()
            self.triggers = None


def _log_replica_change(ctx: ObjectContext, record: DecisionRecord) -> None:
    """Info for each write of ``/scale`` (or, under ``--dry-run``, each it would make), a
    warning for a write that failed."""
    current, desired = record.current_replicas, record.desired_replicas
    if current is None or desired is None or current == desired or ctx.target is None:
        return
    if not (record.scaled or record.dry_run or record.error):
        return
    line = replica_change(
        "ScaledObject",
        ctx.namespace,
        ctx.name,
        str(ctx.target),
        current,
        desired,
        rule=record.rule,
        bound_by=record.hpa.bound_by if record.hpa is not None else None,
        summary=record.summary,
        dry_run=record.dry_run,
        error=None if record.scaled or record.dry_run else record.error,
    )
    if record.scaled or record.dry_run:
        log.info("%s", line)
    else:
        log.warning("%s", line)


class Evaluator:
    """Runs evaluations; shared by every object of one controller."""

    def __init__(
        self,
        kube: Kube,
        targets: TargetReader,
        *,
        settings: Settings,
        metrics: OperatorMetrics,
        recorder: EventRecorder | None,
        decisions: DecisionLog,
        now: Callable[[], datetime],
        registry: ScalerRegistry,
        owner_of: Callable[[ObjectContext], str | None],
    ) -> None:
        self.kube = kube
        self.targets = targets
        self.settings = settings
        self.metrics = metrics
        self.recorder = recorder
        self.decisions = decisions
        self.now = now
        self.owner_of = owner_of
        self.keeper = TriggerKeeper(
            kube,
            registry,
            ScalerEnvironment(now=now),
            kind="ScaledObject",
            operator_namespace=settings.operator_namespace,
            timeout_seconds=settings.trigger_timeout_seconds,
        )
        self.hpa_mode = HpaMode(kube, dry_run=settings.dry_run)
        #: Writes statuses in the background when set (the controller sets one); without it
        #: an evaluation writes its status itself before returning.
        self.status_writer: StatusWriter | None = None

    @property
    def refresher(self) -> AuthRefresher | None:
        """Rebuilds triggers when their Secrets/TriggerAuthentications change (set by the
        operator; see :mod:`podscaler.controllers.triggers.refresh`)."""
        return self.keeper.refresher

    @refresher.setter
    def refresher(self, refresher: AuthRefresher | None) -> None:
        self.keeper.refresher = refresher

    # ---------------------------------------------------------------- helpers

    def _event(
        self, ctx: ObjectContext, reason: Reason, note: str, type_: str | None = None
    ) -> None:
        if self.recorder is not None:
            self.recorder.record(ctx.obj, reason, note, type_=type_)

    def _finish(
        self, ctx: ObjectContext, record: DecisionRecord, duration: float
    ) -> DecisionRecord:
        self.decisions.add(ctx.namespace, ctx.name, record)
        _log_replica_change(ctx, record)
        rule = record.rule
        if record.hpa is not None and rule == "hpa":
            rule = f"hpa.{record.hpa.bound_by}"
        self.metrics.evaluated(
            ctx.namespace,
            ctx.name,
            rule=rule,
            current=record.current_replicas,
            desired=record.desired_replicas,
            paused=rule in ("pause", "pausedReplicas"),
            duration_seconds=duration,
        )
        return record

    async def _write_status(self, ctx: ObjectContext, desired: dict[str, Any]) -> None:
        for line in condition_changes(
            "ScaledObject", ctx.namespace, ctx.name, ctx.known_status, desired
        ):
            log.info("%s", line)
        current = ctx.status if ctx.status is not None else ctx.obj.get("status")
        patch = status_patch(current, desired)
        if patch is None:
            ctx.wanted_status = None  # the server has it (or a pending write is outdated)
            return
        if self.status_writer is not None:
            self.status_writer.submit(ctx, desired)
            return
        try:
            written = await patch_status(self.kube, SCALED_OBJECTS, ctx.namespace, ctx.name, patch)
        except NotFound:
            return
        except KubeError as exc:
            log.warning(
                "status of ScaledObject %s/%s not written: %s", ctx.namespace, ctx.name, exc
            )
            return
        ctx.status = dict(written.get("status") or {})

    async def _write_scale(self, ctx: ObjectContext, ref: ScaleRef, replicas: int) -> str | None:
        if self.settings.dry_run:
            return None
        try:
            await self.targets.set_replicas(ref, replicas)
        except KubeError as exc:
            self.metrics.scale_write(ctx.namespace, ctx.name, ok=False)
            return str(exc)
        self.metrics.scale_write(ctx.namespace, ctx.name, ok=True)
        return None

    async def _not_ready(
        self,
        ctx: ObjectContext,
        started: float,
        now: datetime,
        reason: Reason,
        message: str,
        rule: str,
        *,
        current: int | None = None,
    ) -> DecisionRecord:
        """Ready=False for a reason that stops this poll; the object is retried next poll."""
        state = ctx.scaling_state or state_from_status(ctx.obj.get("status"))
        conditions = cond.with_condition(
            cond.complete(state.conditions),
            Condition(cond.READY, ConditionStatus.FALSE, reason.value, message),
        )
        state = keda.ScalingState(
            state.last_active_seconds,
            state.health,
            state.original_replica_count,
            state.paused_replica_count,
            conditions,
        )
        ctx.scaling_state = state
        record = DecisionRecord(
            at=now.isoformat(),
            generation=ctx.generation,
            current_replicas=current,
            desired_replicas=current,
            rule=rule,
            summary=message,
            active=False,
            error=message,
            dry_run=self.settings.dry_run,
        )
        previous = ctx.known_status
        parts = StatusParts(generation=ctx.generation, last_decision=record.short())
        last_active = (
            datetime_of(state.last_active_seconds)
            if state.last_active_seconds is not None
            else None
        )
        await self._write_status(
            ctx, compose_status(previous, state, parts, now, last_active=last_active)
        )
        self._event(ctx, reason, message)
        self.metrics.object_error(ctx.namespace, ctx.name)
        loop = asyncio.get_running_loop()
        return self._finish(ctx, record, loop.time() - started)

    # ---------------------------------------------------------------- finalizer

    async def _set_finalizers(self, ctx: ObjectContext, finalizers: list[str]) -> bool:
        meta = ctx.obj.get("metadata") or {}
        body = {
            "metadata": {"finalizers": finalizers, "resourceVersion": meta.get("resourceVersion")}
        }
        try:
            await self.kube.request(
                "PATCH",
                SCALED_OBJECTS.path(ctx.namespace, ctx.name),
                body=body,
                content_type=MERGE_PATCH,
            )
        except KubeError as exc:
            log.info("finalizers of %s/%s not updated (%s); retrying", ctx.namespace, ctx.name, exc)
            return False
        return True

    async def finalize(self, ctx: ObjectContext) -> None:
        """The object is being deleted: restore the original replicas if asked, then let go."""
        meta = ctx.obj.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            return
        advanced = (ctx.obj.get("spec") or {}).get("advanced") or {}
        status = ctx.known_status or {}
        original = status.get("originalReplicaCount")
        ref = ctx.target
        if advanced.get("restoreToOriginalReplicaCount") and isinstance(original, int) and ref:
            error = await self._write_scale(ctx, ref, original)
            if error is not None and "404" not in error:
                log.warning("restoring %s to %d replicas failed: %s", ref, original, error)
                return  # keep the finalizer; retried on the next poll
            self._event(
                ctx,
                Reason.ScaledObjectDeleted,
                f"ScaledObject deleted; {ref} restored to its original {original} replicas",
            )
            log.info(
                "ScaledObject %s/%s deleted: %s restored to its original %d replicas",
                ctx.namespace,
                ctx.name,
                ref,
                original,
            )
        await self._set_finalizers(ctx, [f for f in finalizers if f != FINALIZER])

    async def _keep_finalizer(self, ctx: ObjectContext, so: ScaledObject) -> None:
        wanted = bool(so.spec.advanced and so.spec.advanced.restore_to_original_replica_count)
        finalizers = list(so.metadata.finalizers)
        if wanted and FINALIZER not in finalizers:
            await self._set_finalizers(ctx, [*finalizers, FINALIZER])
        elif not wanted and FINALIZER in finalizers:
            await self._set_finalizers(ctx, [f for f in finalizers if f != FINALIZER])

    # ---------------------------------------------------------------- the pass

    async def evaluate(self, ctx: ObjectContext) -> DecisionRecord | None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        now = self.now()
        if (ctx.obj.get("metadata") or {}).get("deletionTimestamp"):
            await self.finalize(ctx)
            return None
        parsed = ctx.spec_cache.get(ctx.obj)
        so, problems = parsed.so, parsed.problems
        if problems or so is None:
            message = "; ".join(str(p) for p in problems) or "invalid ScaledObject"
            return await self._not_ready(
                ctx, started, now, Reason.ScaledObjectCheckFailed, message, "invalid"
            )
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
            return await self._not_ready(
                ctx, started, now, Reason.ScaleTargetAlreadyManaged, message, "conflict"
            )
        if so.spec.mode == "hpa":
            foreign = await self.hpa_mode.conflict(so, ref)
            if foreign is not None:
                return await self._not_ready(
                    ctx, started, now, Reason.ScaleTargetAlreadyManaged, foreign, "conflict"
                )
        await self._keep_finalizer(ctx, so)
        try:
            resource = await self.targets.resource(ref)
            scale = await self.targets.get_scale(ref)
        except NoScaleSubresource as exc:
            return await self._not_ready(
                ctx, started, now, Reason.ScaleTargetNotScalable, str(exc), "targetNotScalable"
            )
        except (NotFound, KubeError, TimeoutError) as exc:
            message = f"scale target {ref} not found ({exc}); retrying every pollingInterval"
            return await self._not_ready(
                ctx, started, now, Reason.ScaleTargetNotFound, message, "targetNotFound"
            )
        if self.keeper.stale(ctx):
            try:
                await self.keeper.rebuild(
                    ctx,
                    triggers=so.spec.triggers,
                    workload=await self.targets.workload(ref),
                    env_source_container=target.env_source_container_name,
                )
            except TriggerConfigError as exc:
                return await self._not_ready(
                    ctx, started, now, Reason.ScaledObjectCheckFailed, str(exc), "invalid",
                    current=scale.replicas,
                )  # fmt: skip
        return await self._decide_and_apply(ctx, so, ref, resource, scale, started, now)

    async def _decide_and_apply(
        self,
        ctx: ObjectContext,
        so: ScaledObject,
        ref: ScaleRef,
        resource: Resource,
        scale: Scale,
        started: float,
        now: datetime,
    ) -> DecisionRecord:
        loop = asyncio.get_running_loop()
        triggers = ctx.triggers
        assert triggers is not None
        poll = await self.keeper.poll(ctx, triggers)
        ctx.last_poll, ctx.last_poll_at = poll, now
        for polled in poll.records:
            self.metrics.trigger(
                ctx.namespace,
                ctx.name,
                index=polled.index,
                trigger_name=polled.name,
                trigger_type=polled.type,
                metric=polled.metric,
                value=polled.value,
                active=polled.active,
                error=polled.error is not None,
                latency_seconds=polled.duration_seconds,
                details=polled.details,
            )
            if polled.error is not None:
                self._event(
                    ctx,
                    Reason.TriggerError,
                    f"trigger {polled.index} ({polled.metric}) failed: {polled.error}",
                )
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
        now_seconds = now.timestamp()
        spec = ctx.spec_cache.scaling_of(so)
        refresh = last_active_refresh_seconds(
            spec.polling_interval_seconds,
            spec.cooldown_period_seconds,
            self.settings.last_active_refresh_cap_seconds,
        )
        previous_state = ctx.scaling_state or resumed_state(
            ctx.obj.get("status"), now_seconds, refresh
        )
        decision = keda.decide(
            spec, poll.observations, previous_state, scale.replicas, now_seconds,
            ready_replicas=ready,
        )  # fmt: skip
        target_text = f"{ref.api_version}.{ref.kind} {ref.namespace}/{ref.name}"
        desired = scale.replicas
        hpa_record: HpaRecord | None = None
        scaled = False
        error: str | None = None
        if decision.action == keda.Action.SCALE_TO and decision.replicas is not None:
            desired = decision.replicas
            if decision.replicas != scale.replicas:
                error = await self._write_scale(ctx, ref, decision.replicas)
                scaled = error is None
        elif decision.hpa is not None and so.spec.mode != "hpa":
            hpa_record, error, scaled = await self._hpa_pass(
                ctx, so, ref, scale, decision.hpa, triggers, facts, pods is not None, now_seconds
            )
            desired = hpa_record.desired_replicas
        for event in decision.events:
            if isinstance(event, keda.Event):
                if error is not None:
                    note = f"Failed to scale {target_text}: {error}"
                    self._event(ctx, event.failure_reason, note)
                else:
                    self._event(ctx, event.reason, event.message(target_text))
            else:
                self._event(ctx, event.reason, event.message)
        was_ready = cond.get(cond.complete(previous_state.conditions), cond.READY).status
        now_ready = cond.get(decision.state.conditions, cond.READY).status
        if now_ready == ConditionStatus.TRUE and was_ready != ConditionStatus.TRUE:
            self._event(
                ctx,
                Reason.ScaledObjectReady,
                "ScaledObject is ready for scaling; metrics: "
                + ", ".join(triggers.external_metric_names + triggers.resource_metric_names),
            )
        if error is not None:
            self._event(ctx, Reason.ScaleFailed, f"writing /scale of {target_text} failed: {error}")
            self.metrics.object_error(ctx.namespace, ctx.name)
        previous_status = ctx.known_status
        specs = [s for t in triggers.triggers for s in t.specs]
        hpa_mode = await reconcile_mode(self.hpa_mode, so, specs, previous_status)
        ctx.scaling_state = decision.state
        explanation = decision.explanation
        summary = explanation.summary
        if hpa_record is not None:
            summary = f"{summary}; {hpa_record.summary}"
        if hpa_mode is not None:
            summary = f"{summary}; {hpa_mode.summary}"
        record = DecisionRecord(
            at=now.isoformat(),
            generation=ctx.generation,
            current_replicas=scale.replicas,
            desired_replicas=desired,
            rule=explanation.rule.value,
            summary=summary,
            active=decision.is_active,
            triggers=poll.records,
            hpa=hpa_record,
            scaled=scaled,
            dry_run=self.settings.dry_run,
            error=error,
            facts=dict(explanation.facts),
        )
        parts = StatusParts(
            generation=ctx.generation,
            target_kind=f"{ref.api_version}.{ref.kind}",
            target_gvkr={
                "group": resource.group,
                "version": resource.version,
                "kind": resource.kind,
                "resource": resource.plural,
            },
            external_metric_names=triggers.external_metric_names,
            resource_metric_names=triggers.resource_metric_names,
            composite=spec.uses_modifiers,
            triggers_activity={
                r.metric: r.active for r in poll.records if r.type not in ("cpu", "memory")
            },
            triggers_types=",".join(t.type for t in triggers.triggers),
            authentications_types=",".join(triggers.auth_kinds) or None,
            last_decision=record.short(),
        )
        previous_status = ctx.known_status
        status = compose_status(
            previous_status,
            decision.state,
            parts,
            now,
            last_active=last_active_to_write(
                previous_status, decision.state, refresh_seconds=refresh
            ),
        )
        status = finish_status(status, hpa_mode, now, ctx.generation)
        await self._write_status(ctx, status)
        return self._finish(ctx, record, loop.time() - started)

    async def _hpa_pass(
        self,
        ctx: ObjectContext,
        so: ScaledObject,
        ref: ScaleRef,
        scale: Scale,
        inputs: keda.HpaInputs,
        triggers: TriggerSet,
        facts: tuple[hpa.PodFacts, ...],
        pods_listed: bool,
        now_seconds: float,
    ) -> tuple[HpaRecord, str | None, bool]:
        """The 1..N calculation with ``engine.hpa``: decide, write if it rescales, conclude."""
        behavior = hpa_behavior(
            so.spec.behavior,
            scale_up_disabled=inputs.scale_up_disabled,
            scale_down_disabled=inputs.scale_down_disabled,
        )
        resource_specs = {
            t.resource_metric_name(): s
            for t in triggers.triggers
            if t.is_resource
            for s in t.resource_specs()[:1]
        }
        reading: hpa.MetricReading | None = None
        if resource_specs and scale.selector:
            try:
                reading = resource_reading(
                    await list_pod_metrics(self.kube, ctx.namespace, scale.selector)
                )
            except KubeError as exc:
                reading = hpa.ReadingError(f"unable to get pod metrics: {exc}")
        spec, readings = hpa_spec_and_readings(inputs, resource_specs, behavior, reading)
        problem = None
        if resource_specs and not scale.selector:
            problem = hpa.SelectorProblem(
                "InvalidSelector", "the HPA controller was unable to get the target's selector"
            )
        observed = hpa.Observed(
            spec_replicas=scale.replicas,
            status_replicas=scale.status_replicas,
            pods=facts,
            readings=readings,
            previous_conditions=ctx.hpa_conditions,
            previous_desired_replicas=ctx.hpa_desired,
            selector_problem=problem,
        )
        decision = hpa.decide(spec, observed, ctx.hpa_history, now_seconds, self.settings.hpa)
        error = None
        if decision.rescale:
            error = await self._write_scale(ctx, ref, decision.desired_replicas)
            if error is None:
                self._event(
                    ctx,
                    Reason.ScaledTargetScaled,
                    f"New size: {decision.desired_replicas}; reason: "
                    f"{decision.rescale_reason or decision.explanation.bound_by.value} "
                    f"(bound by {decision.explanation.bound_by.value})",
                )
        outcome = hpa.conclude(decision, update_error=error)
        ctx.hpa_history = outcome.history
        ctx.hpa_conditions = outcome.conditions
        ctx.hpa_desired = outcome.desired_replicas
        explanation = decision.explanation
        metrics = []
        for evaluation in explanation.metrics:
            proposal = evaluation.proposal
            metrics.append(
                HpaMetricRecord(
                    metric=evaluation.description,
                    replicas=proposal.replicas if proposal is not None else None,
                    usage=proposal.usage_milli / 1000 if proposal is not None else None,
                    ratio=round(proposal.usage_ratio, 4) if proposal is not None else None,
                    held=proposal.held.value if proposal is not None and proposal.held else None,
                    error=evaluation.error,
                )
            )
        record = HpaRecord(
            bound_by=explanation.bound_by.value,
            summary=explanation.summary,
            metric_replicas=explanation.metric_replicas,
            stabilized_replicas=explanation.stabilized_replicas,
            desired_replicas=decision.desired_replicas,
            metrics=tuple(metrics),
        )
        return record, error, decision.rescale and error is None
