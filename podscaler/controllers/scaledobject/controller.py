"""The ScaledObject controller: an informer, one timed loop per object, and the evaluator.

Scheduling. Each ScaledObject gets its own task that evaluates it every ``pollingInterval``
on a fixed-rate schedule of the *loop clock* (so an accelerated simulated loop accelerates
it too). An object whose status already answers its spec (``status.observedGeneration`` is
its ``metadata.generation``: an operator evaluated it before this one started) takes its first
evaluation at a random point of its first interval: after a restart, thousands of objects
spread their polls evenly instead of all querying their sources in the same millisecond (and
keep that phase). Any other object — new, or changed while no operator ran — is evaluated at
once: someone is waiting for its first status (a newcomer who applied an example and then
started ``podscaler run`` waited up to a whole interval for it). Which one an object is
comes from its own status, not from comparing its ``creationTimestamp`` with this process's
clock: the two clocks need not agree (another machine, a simulated cluster). The *second*
poll of an object evaluated at once comes at a random point of its first interval
(``start_spread``): objects created together (a Helm release, a GitOps sync, a benchmark)
would otherwise poll in lock-step forever — 1,000 objects due in the same millisecond make the
last one hundreds of milliseconds late on every round. The cost is one poll sooner than
``pollingInterval`` in an object's life. How late each evaluation starts compared
with its schedule is KEDA's ``keda_internal_scale_loop_latency_seconds``; it is also offered
to :attr:`ScaledObjectController.on_lateness` (the benchmark reads it there).

A spec change (``metadata.generation``), an annotation change (the pause annotations) or a
deletion wakes the object's loop at once, and the schedule restarts from there, as KEDA
restarts a scale loop when the generation changes. Status updates do not wake anything.

Status is written in the background (:class:`~.statuswriter.StatusWriter`: coalesced per
object, a few writes in flight, a short timeout), so a slow API server never holds a poll.

Ownership. Two ScaledObjects that target the same workload would fight over its replicas
(KEDA issue #897); the older one (by creation time, then name) keeps the target, the other is
refused with Ready=False (reason ScaleTargetAlreadyManaged) until the first one goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from podscaler.api.scaledobject import scale_target_of
from podscaler.controllers.scaledobject.evaluation import (
    SCALED_OBJECTS,
    Evaluator,
    ObjectContext,
    Settings,
)
from podscaler.controllers.scaledobject.records import DecisionLog
from podscaler.controllers.scaledobject.statuswriter import StatusWriter
from podscaler.controllers.scaledobject.targets import TargetReader
from podscaler.kube.clients import Kube
from podscaler.kube.events import EventRecorder
from podscaler.kube.informers import Informer, compact
from podscaler.kube.resources import Discovery
from podscaler.observability.metrics import OperatorMetrics
from scalers.registry import ScalerRegistry, default_registry

__all__ = ["ScaledObjectController", "target_key"]

log = logging.getLogger(__name__)

TargetKey = tuple[str, str, str, str]


def target_key(obj: dict[str, Any]) -> TargetKey | None:
    """``(namespace, apiVersion, kind, name)`` of the object's target, as written."""
    target = scale_target_of(obj.get("spec"))
    if target is None:
        return None
    return (str((obj.get("metadata") or {}).get("namespace") or ""), *target)


def _seniority(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def _status_is_current(obj: dict[str, Any]) -> bool:
    """Whether the object's status was written for its current spec (by us before a restart,
    or by another replica)."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return isinstance(generation, int) and observed == generation


def _wake_worthy(old: dict[str, Any], new: dict[str, Any]) -> bool:
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        old_meta.get("generation") != new_meta.get("generation")
        or old_meta.get("annotations") != new_meta.get("annotations")
        or bool(new_meta.get("deletionTimestamp")) != bool(old_meta.get("deletionTimestamp"))
    )


class ScaledObjectController:
    """Watches ScaledObjects (one namespace or all) and keeps each one evaluated."""

    def __init__(
        self,
        kube: Kube,
        *,
        namespace: str | None,
        now: Callable[[], datetime],
        settings: Settings | None = None,
        metrics: OperatorMetrics | None = None,
        recorder: EventRecorder | None = None,
        registry: ScalerRegistry | None = None,
        decisions: DecisionLog | None = None,
        cache_targets: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self.kube = kube
        #: Draws the poll phases; seeded by a simulation so that a run replays exactly.
        self._rng = rng or random.Random()
        self.namespace = namespace
        self.settings = settings or Settings()
        self.metrics = metrics or OperatorMetrics()
        self.decisions = decisions or DecisionLog()
        self.discovery = Discovery(kube)
        self.targets = TargetReader(
            kube, self.discovery, namespace=namespace, use_cache=cache_targets
        )
        self.informer = Informer(kube, SCALED_OBJECTS, namespace=namespace, transform=compact)
        self.evaluator = Evaluator(
            kube,
            self.targets,
            settings=self.settings,
            metrics=self.metrics,
            recorder=recorder,
            decisions=self.decisions,
            now=now,
            registry=registry or default_registry(),
            owner_of=self._owner_of,
        )
        self.status_writer = StatusWriter(kube, SCALED_OBJECTS)
        self.evaluator.status_writer = self.status_writer
        self.objects: dict[tuple[str, str], ObjectContext] = {}
        self._by_target: dict[TargetKey, set[tuple[str, str]]] = {}
        self.on_lateness: Callable[[float], None] | None = None
        #: Fraction of the interval over which a new object's second poll is moved (never
        #: later than one pollingInterval after the first).
        self._phase_spread = min(max(self.settings.start_spread, 0.0), 0.9)
        self.evaluations = 0

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.informer.add_handler(
            on_add=self._on_add, on_update=self._on_update, on_delete=self._on_delete
        )
        self.informer.start()

    @property
    def synced(self) -> bool:
        return self.informer.has_synced

    async def wait_synced(self, timeout_seconds: float | None = None) -> None:
        await self.informer.wait_synced(timeout_seconds)

    async def aclose(self) -> None:
        await self.informer.aclose()
        with contextlib.suppress(TimeoutError):  # what is still queued is written on restart
            async with asyncio.timeout(2.0):
                await self.status_writer.flush()
        await self.status_writer.aclose()
        tasks = [c.task for c in self.objects.values() if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ctx in self.objects.values():
            await ctx.close()
        self.objects.clear()
        await self.targets.aclose()

    # ---------------------------------------------------------------- ownership

    def _index(
        self, key: tuple[str, str], obj: dict[str, Any] | None, old: dict[str, Any] | None
    ) -> None:
        before = target_key(old) if old is not None else None
        after = target_key(obj) if obj is not None else None
        if before == after and obj is not None:
            return
        if before is not None:
            holders = self._by_target.get(before)
            if holders is not None:
                holders.discard(key)
                if not holders:
                    del self._by_target[before]
        if after is not None:
            self._by_target.setdefault(after, set()).add(key)

    def _owner_of(self, ctx: ObjectContext) -> str | None:
        """The name of the older object on the same target, or ``None`` when *ctx* owns it."""
        target = target_key(ctx.obj)
        if target is None:
            return None
        holders = self._by_target.get(target, set())
        if len(holders) < 2:
            return None
        contenders = [self.objects[k].obj for k in holders if k in self.objects]
        oldest = min(contenders, key=_seniority)
        name = str((oldest.get("metadata") or {}).get("name") or "")
        return None if name == ctx.name else name

    # ---------------------------------------------------------------- informer handlers

    async def _on_add(self, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        ctx = self.objects.get(key)
        if ctx is not None:  # re-added after a relist
            await self._on_update(ctx.obj, obj)
            return
        ctx = ObjectContext(namespace=key[0], name=key[1], obj=obj)
        self.objects[key] = ctx
        self._index(key, obj, None)
        self.metrics.objects.set(len(self.objects))
        ctx.task = asyncio.get_running_loop().create_task(
            self._run(ctx), name=f"scaledobject-{key[0]}/{key[1]}"
        )

    async def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        meta = new.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        ctx = self.objects.get(key)
        if ctx is None:
            await self._on_add(new)
            return
        previous = ctx.obj
        ctx.obj = new
        if ctx.status is not None and new.get("status") == ctx.status:
            ctx.status = None  # the cache caught up with our write: keep one copy, not two
        self._index(key, new, previous)
        if _wake_worthy(previous, new):
            ctx.wake.set()

    async def _on_delete(self, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        ctx = self.objects.pop(key, None)
        self._index(key, None, ctx.obj if ctx is not None else obj)
        self.metrics.objects.set(len(self.objects))
        if ctx is None:
            return
        if ctx.task is not None:
            ctx.task.cancel()
            await asyncio.gather(ctx.task, return_exceptions=True)
        await ctx.close()
        if self.evaluator.refresher is not None:
            self.evaluator.refresher.forget(("ScaledObject", *key))
        if ctx.target is not None:
            self.targets.forget(ctx.target)
        self.decisions.forget(*key)
        self.metrics.forget(*key)
        self.status_writer.forget(*key)
        # The object that was refused for this target may own it now: let it know at once.
        target = target_key(obj)
        for other in self._by_target.get(target, set()) if target else set():
            if other in self.objects:
                self.objects[other].wake.set()

    # ---------------------------------------------------------------- the loop

    async def _run(self, ctx: ObjectContext) -> None:
        loop = asyncio.get_running_loop()
        spread = 0.0
        if _status_is_current(ctx.obj):  # evaluated before: nobody waits for this poll
            spread = ctx.polling_interval_seconds * self.settings.start_spread
        deadline = loop.time() + self._rng.uniform(0.0, spread)
        first = True
        while True:
            woke = False
            delay = deadline - loop.time()
            if delay > 0 or not ctx.wake.is_set():
                try:
                    async with asyncio.timeout(max(delay, 0.0)):
                        await ctx.wake.wait()
                    woke = True
                except TimeoutError:
                    woke = ctx.wake.is_set()
            else:
                woke = True
            ctx.wake.clear()
            started = loop.time()
            if not woke:
                lateness = started - deadline
                self.metrics.lateness(ctx.namespace, ctx.name, lateness)
                if self.on_lateness is not None:
                    self.on_lateness(lateness)
            try:
                await self.evaluator.evaluate(ctx)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Principle 5: a bug met by one object must not stop the others (or this one).
                log.exception("evaluating ScaledObject %s/%s failed", ctx.namespace, ctx.name)
                self.metrics.object_error(ctx.namespace, ctx.name)
            self.evaluations += 1
            interval = ctx.polling_interval_seconds
            if first and spread == 0.0 and self._phase_spread > 0.0:
                # Created just now: leave the lock-step of the batch it was created with.
                deadline = started + interval * (1.0 - self._rng.uniform(0.0, self._phase_spread))
            elif woke:
                deadline = started + interval
            else:
                deadline += interval
                if deadline < loop.time():
                    deadline = loop.time()
            first = False
