"""Applying: a pass's verdict reaches ``/scale``, status, Events, metrics and the decision log.

:meth:`Applier.apply`, in this order (the order Events appear in):

1. each trigger's poll into the metrics (both families), a TriggerError Event per failure;
2. ``/scale`` written when the verdict says so (never under ``--dry-run``); the HPA history
   concluded with the write's outcome (a ScaledTargetScaled Event when it rescaled);
3. the KEDA decision's Events (activation, pause, fallback — or the failed activation), Ready
   when the object just became ready, ScaleFailed when the write failed;
4. in hpa mode, the HPA kept (:mod:`.hpamode`); in direct mode, one left from hpa mode removed;
5. the engines' memory kept on the context, the decision record, the status (only written when
   it changed, in the background when a :class:`~.statuswriter.StatusWriter` is set), the
   info line of a replica change, and the per-object metrics.

:meth:`Applier.refuse` is the short path of a pass that stopped (:class:`~.gathering.Refusal`):
Ready=False with the reason, an Event, an error count, a record. Nothing here raises for a bad
object or a failed write: errors become conditions, Events and records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from podscaler.api.conditions import ConditionStatus
from podscaler.api.reasons import Reason
from podscaler.controllers.scaledobject.context import SCALED_OBJECTS, ObjectContext, Settings
from podscaler.controllers.scaledobject.deciding import Verdict, refused_state
from podscaler.controllers.scaledobject.gathering import Inputs, Refusal
from podscaler.controllers.scaledobject.hpamode import HpaMode, finish_status, reconcile_mode
from podscaler.controllers.scaledobject.mapping import datetime_of
from podscaler.controllers.scaledobject.records import (
    DecisionLog,
    DecisionRecord,
    decision_record,
    hpa_record,
)
from podscaler.controllers.scaledobject.status import (
    StatusParts,
    compose_status,
    last_active_to_write,
)
from podscaler.controllers.scaledobject.statuswriter import StatusWriter, write_status
from podscaler.controllers.scaledobject.targets import TargetReader
from podscaler.controllers.transitions import replica_change
from podscaler.controllers.triggers import TriggerPoll
from podscaler.controllers.triggers.headroom import (
    OFFER_POLLS,
    HeadroomBoard,
    HeadroomOffer,
    extra_replicas,
)
from podscaler.controllers.triggers.published import STATUS_KEY as HEADROOM_STATUS_KEY
from podscaler.controllers.triggers.published import headroom_status
from podscaler.engine import hpa, keda
from podscaler.engine.keda import conditions as cond
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError
from podscaler.kube.events import EventRecorder
from podscaler.kube.scaling import ScaleRef
from podscaler.observability.metrics import OperatorMetrics

__all__ = ["Applier", "parts_of"]

log = logging.getLogger(__name__)


def parts_of(inputs: Inputs, last_decision: Mapping[str, Any]) -> StatusParts:
    """The parts of a status a pass that decided knows (target, metric names, triggers …)."""
    ref, resource, triggers = inputs.ref, inputs.resource, inputs.triggers
    return StatusParts(
        generation=inputs.generation,
        target_kind=f"{ref.api_version}.{ref.kind}",
        target_gvkr={
            "group": resource.group,
            "version": resource.version,
            "kind": resource.kind,
            "resource": resource.plural,
        },
        external_metric_names=triggers.external_metric_names,
        resource_metric_names=triggers.resource_metric_names,
        composite=inputs.spec.uses_modifiers,
        triggers_activity={
            r.metric: r.active for r in inputs.poll.records if r.type not in ("cpu", "memory")
        },
        triggers_types=",".join(t.type for t in triggers.triggers),
        authentications_types=",".join(triggers.auth_kinds) or None,
        last_decision=last_decision,
        mode=inputs.so.spec.mode,
        forecasts={
            r.metric: r.details["forecastStatus"]
            for r in inputs.poll.records
            if r.details and isinstance(r.details.get("forecastStatus"), Mapping)
        },
    )


def _offer_node_headroom(
    ctx: ObjectContext, inputs: Inputs, desired: int | None, board: HeadroomBoard | None
) -> int:
    """Hands the replicas just decided, and a predictive trigger's replicas over
    ``nodeHorizon``, to the node autoscaler of this process
    (:mod:`podscaler.controllers.triggers.headroom`); a no-op without one. ``desired`` is
    None when the decision was not written. Returns the forecast's extra replicas offered."""
    current = max(inputs.scale.replicas, desired or 0)
    most = inputs.spec.hpa_max_replicas
    extra = max((extra_replicas(r.details, current, most) for r in inputs.poll.records), default=0)
    board = board or HeadroomBoard.for_running_loop()
    until = asyncio.get_running_loop().time() + OFFER_POLLS * inputs.spec.polling_interval_seconds
    offer = HeadroomOffer(
        ctx.namespace, ctx.name, inputs.scale.selector, extra, until, decided=desired or 0
    )
    board.offer(offer)
    return extra


class Applier:
    """Writes what evaluations decided; shared by every object of one controller."""

    def __init__(
        self,
        kube: Kube,
        targets: TargetReader,
        hpa_mode: HpaMode,
        *,
        settings: Settings,
        metrics: OperatorMetrics,
        recorder: EventRecorder | None,
        decisions: DecisionLog,
    ) -> None:
        self.kube = kube
        self.targets = targets
        self.hpa_mode = hpa_mode
        self.settings = settings
        self.metrics = metrics
        self.recorder = recorder
        self.decisions = decisions
        #: Writes statuses in the background when set (the controller sets one); without it
        #: a pass writes its status itself before returning.
        self.status_writer: StatusWriter | None = None
        #: Under ``--shard``: also publish the forecast headroom in the status, for the node
        #: autoscaler on whichever replica runs it (:mod:`.triggers.published`).
        self.publish_headroom = False
        #: the board offers go to (None: this event loop's)
        self.board: HeadroomBoard | None = None

    # ---------------------------------------------------------------- a pass that decided

    async def apply(
        self, ctx: ObjectContext, inputs: Inputs, verdict: Verdict, started: float
    ) -> DecisionRecord:
        ctx.last_poll, ctx.last_poll_at = inputs.poll, inputs.now
        self._report_triggers(ctx, inputs.poll)
        error = None
        if verdict.write is not None:
            error = await self.write_scale(ctx, inputs.ref, verdict.write)
        scaled = verdict.write is not None and error is None
        concluded = None
        if verdict.hpa is not None:
            self._conclude_hpa(ctx, verdict.hpa, error)
            concluded = hpa_record(verdict.hpa)
        self._decision_events(ctx, inputs, verdict.keda, error)
        if error is not None:
            target = _target_text(inputs.ref)
            self.event(ctx, Reason.ScaleFailed, f"writing /scale of {target} failed: {error}")
            self.metrics.object_error(ctx.namespace, ctx.name)
        triggers = inputs.triggers
        specs = [s for t in triggers.triggers for s in t.specs]
        hpa_mode = await reconcile_mode(self.hpa_mode, inputs.so, specs, ctx.known_status)
        state = verdict.keda.state
        ctx.scaling_state = state
        record = decision_record(
            inputs, verdict, concluded, hpa_mode, scaled=scaled, error=error,
            dry_run=self.settings.dry_run,
        )  # fmt: skip
        parts = parts_of(inputs, record.short())
        extra = _offer_node_headroom(
            ctx, inputs, record.desired_replicas if error is None else None, self.board
        )
        previous = ctx.known_status
        last_active = last_active_to_write(previous, state, refresh_seconds=inputs.refresh_seconds)
        status = compose_status(previous, state, parts, inputs.now, last_active=last_active)
        if self.publish_headroom:
            published = headroom_status(
                (previous or {}).get(HEADROOM_STATUS_KEY),
                replicas=extra,
                selector=inputs.scale.selector,
                now=inputs.now,
                window_seconds=OFFER_POLLS * inputs.spec.polling_interval_seconds,
            )
            if published is not None:
                status[HEADROOM_STATUS_KEY] = published
        status = finish_status(status, hpa_mode, inputs.now, inputs.generation)
        await self.write_status(ctx, status)
        return self.finish(ctx, record, asyncio.get_running_loop().time() - started)

    def _report_triggers(self, ctx: ObjectContext, poll: TriggerPoll) -> None:
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
                self.event(
                    ctx,
                    Reason.TriggerError,
                    f"trigger {polled.index} ({polled.metric}) failed: {polled.error}",
                )

    def _conclude_hpa(self, ctx: ObjectContext, decision: hpa.Decision, error: str | None) -> None:
        """The HPA calculation's outcome into its history (kept on the context)."""
        if decision.rescale and error is None:
            self.event(
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

    def _decision_events(
        self, ctx: ObjectContext, inputs: Inputs, decision: keda.ScalingDecision, error: str | None
    ) -> None:
        target_text = _target_text(inputs.ref)
        for event in decision.events:
            if isinstance(event, keda.Event):
                if error is not None:
                    note = f"Failed to scale {target_text}: {error}"
                    self.event(ctx, event.failure_reason, note)
                else:
                    self.event(ctx, event.reason, event.message(target_text))
            else:
                self.event(ctx, event.reason, event.message)
        was_ready = cond.get(cond.complete(inputs.previous_state.conditions), cond.READY).status
        now_ready = cond.get(decision.state.conditions, cond.READY).status
        if now_ready == ConditionStatus.TRUE and was_ready != ConditionStatus.TRUE:
            triggers = inputs.triggers
            self.event(
                ctx,
                Reason.ScaledObjectReady,
                "ScaledObject is ready for scaling; metrics: "
                + ", ".join(triggers.external_metric_names + triggers.resource_metric_names),
            )

    # ---------------------------------------------------------------- a pass that stopped

    async def refuse(
        self, ctx: ObjectContext, refusal: Refusal, now: datetime, started: float
    ) -> DecisionRecord:
        """Ready=False for a reason that stops this pass; the object is retried next poll."""
        state = refused_state(ctx.scaling_state, ctx.obj.get("status"), refusal)
        ctx.scaling_state = state
        record = DecisionRecord(
            at=now.isoformat(),
            generation=ctx.generation,
            current_replicas=refusal.current,
            desired_replicas=refusal.current,
            rule=refusal.rule,
            summary=refusal.message,
            active=False,
            error=refusal.message,
            dry_run=self.settings.dry_run,
        )
        previous = ctx.known_status
        parts = StatusParts(generation=ctx.generation, last_decision=record.short())
        last_active = (
            datetime_of(state.last_active_seconds)
            if state.last_active_seconds is not None
            else None
        )
        await self.write_status(
            ctx, compose_status(previous, state, parts, now, last_active=last_active)
        )
        self.event(ctx, refusal.reason, refusal.message)
        self.metrics.object_error(ctx.namespace, ctx.name)
        return self.finish(ctx, record, asyncio.get_running_loop().time() - started)

    # ---------------------------------------------------------------- the writes

    def event(
        self, ctx: ObjectContext, reason: Reason, note: str, type_: str | None = None
    ) -> None:
        if self.recorder is not None:
            self.recorder.record(ctx.obj, reason, note, type_=type_)

    async def write_scale(self, ctx: ObjectContext, ref: ScaleRef, replicas: int) -> str | None:
        """``/scale`` of *ref* set to *replicas* (not under ``--dry-run``); the error, if any."""
        if self.settings.dry_run:
            return None
        try:
            await self.targets.set_replicas(ref, replicas)
        except KubeError as exc:
            self.metrics.scale_write(ctx.namespace, ctx.name, ok=False)
            return str(exc)
        self.metrics.scale_write(ctx.namespace, ctx.name, ok=True)
        return None

    async def write_status(self, ctx: ObjectContext, desired: dict[str, Any]) -> None:
        await write_status(self.kube, self.status_writer, SCALED_OBJECTS, ctx, desired)

    def finish(self, ctx: ObjectContext, record: DecisionRecord, duration: float) -> DecisionRecord:
        """The record kept and logged, the per-object metrics set."""
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


def _target_text(ref: ScaleRef) -> str:
    return f"{ref.api_version}.{ref.kind} {ref.namespace}/{ref.name}"


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
