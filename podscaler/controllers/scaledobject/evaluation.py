"""One evaluation of one ScaledObject: gather → decide → apply.

The pass, step by step (each step is its own module, testable alone):

1. a deleted object is finalized instead (:mod:`.finalizer`);
2. **gather** (:mod:`.gathering`): the spec parses and the target is this object's to scale;
   the finalizer kept as the spec asks; the target's ``/scale``, one poll of the triggers
   (built when the spec changed), the pods they need, the engines' memory — a frozen
   :class:`~.gathering.Inputs`, or a :class:`~.gathering.Refusal` that ends the pass with
   Ready=False (:meth:`~.applying.Applier.refuse`);
3. **decide** (:mod:`.deciding`, pure): ``engine.keda.decide`` (pause, fallback, activity, the
   0↔1 edge); when it hands over to the 1..N calculation in direct mode, the pods' usage is
   read if a cpu/memory trigger needs it and ``engine.hpa.decide`` runs;
4. **apply** (:mod:`.applying`): ``/scale`` written if the count changes, the HPA history
   concluded, Events, the HPA of hpa mode, status (only if it changed), metrics, the decision
   record.

Nothing in here raises for a bad object or a failing source: errors become conditions,
Events and records. The time of the pass comes from the injected wall clock (the engines'
clock is Unix seconds, see :mod:`.mapping`); durations from the loop clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from podscaler.api.reasons import Reason
from podscaler.controllers.scaledobject import deciding
from podscaler.controllers.scaledobject.applying import Applier
from podscaler.controllers.scaledobject.context import ObjectContext, Settings
from podscaler.controllers.scaledobject.finalizer import Finalizer
from podscaler.controllers.scaledobject.gathering import Gatherer, Inputs, Refusal
from podscaler.controllers.scaledobject.hpamode import HpaMode
from podscaler.controllers.scaledobject.records import DecisionLog, DecisionRecord
from podscaler.controllers.scaledobject.statuswriter import StatusWriter
from podscaler.controllers.scaledobject.targets import TargetReader
from podscaler.controllers.triggers import AuthRefresher, TriggerKeeper
from podscaler.kube.clients import Kube
from podscaler.kube.events import EventRecorder
from podscaler.observability.metrics import OperatorMetrics
from scalers.contract import ScalerEnvironment
from scalers.registry import ScalerRegistry

__all__ = ["Evaluator"]


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
        self.settings = settings
        self.now = now
        self.keeper = TriggerKeeper(
            kube,
            registry,
            ScalerEnvironment(now=now),
            kind="ScaledObject",
            operator_namespace=settings.operator_namespace,
            timeout_seconds=settings.trigger_timeout_seconds,
        )
        hpa_mode = HpaMode(kube, dry_run=settings.dry_run)
        self.gatherer = Gatherer(
            kube, targets, self.keeper, hpa_mode, settings=settings, owner_of=owner_of
        )
        self.applier = Applier(
            kube,
            targets,
            hpa_mode,
            settings=settings,
            metrics=metrics,
            recorder=recorder,
            decisions=decisions,
        )
        self.finalizer = Finalizer(kube, self.applier)

    @property
    def refresher(self) -> AuthRefresher | None:
        """Rebuilds triggers when their Secrets/TriggerAuthentications change (set by the
        operator; see :mod:`podscaler.controllers.triggers.refresh`)."""
        return self.keeper.refresher

    @refresher.setter
    def refresher(self, refresher: AuthRefresher | None) -> None:
        self.keeper.refresher = refresher

    @property
    def status_writer(self) -> StatusWriter | None:
        """Writes statuses in the background when set (the controller sets one); without it
        an evaluation writes its status itself before returning."""
        return self.applier.status_writer

    @status_writer.setter
    def status_writer(self, writer: StatusWriter | None) -> None:
        self.applier.status_writer = writer

    async def evaluate(self, ctx: ObjectContext) -> DecisionRecord | None:
        """One pass over *ctx*; its record (``None`` for a deleted object)."""
        started = asyncio.get_running_loop().time()
        now = self.now()
        if (ctx.obj.get("metadata") or {}).get("deletionTimestamp"):
            await self.finalizer.finalize(ctx)
            return None
        checked = await self.gatherer.check(ctx)
        if isinstance(checked, Refusal):
            return await self.applier.refuse(ctx, checked, now, started)
        await self.finalizer.keep(ctx, checked.so)
        inputs = await self.gatherer.gather(ctx, checked, now)
        if isinstance(inputs, Refusal):
            return await self.applier.refuse(ctx, inputs, now, started)
        self._report_ignored_metadata(ctx, inputs)
        decision = deciding.decide_keda(inputs)
        calculation = None
        handover = deciding.hpa_handover(inputs, decision)
        if handover is not None:
            usage = None
            if deciding.needs_pod_metrics(inputs):
                usage = await self.gatherer.pod_metrics(inputs)
            calculation = deciding.decide_hpa(inputs, handover, usage, self.settings.hpa)
        verdict = deciding.verdict(inputs, decision, calculation)
        return await self.applier.apply(ctx, inputs, verdict, started)

    def _report_ignored_metadata(self, ctx: ObjectContext, inputs: Inputs) -> None:
        """One Warning Event per generation naming trigger metadata keys nothing reads, as
        ``podscaler validate`` warns offline (rebuilds for a rotated Secret do not repeat it)."""
        if ctx.ignored_metadata_reported == (inputs.generation,):
            return
        ctx.ignored_metadata_reported = (inputs.generation,)
        note = inputs.triggers.ignored_metadata_note()
        if note is not None:
            self.applier.event(ctx, Reason.TriggerMetadataIgnored, note)
