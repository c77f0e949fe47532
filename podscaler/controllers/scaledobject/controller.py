"""The ScaledObject controller: an informer, one poll loop, and the evaluator.

Scheduling is :mod:`podscaler.controllers.loop`'s (the per-object poll loop every controller
shares): each ScaledObject is evaluated every ``pollingInterval`` on the loop clock, a restart
spreads the first polls over one interval, a new object is evaluated at once. A spec change
(``metadata.generation``), an annotation change (the pause annotations) or a deletion wakes
the object's loop at once, and the schedule restarts from there. How late each evaluation
starts is KEDA's ``keda_internal_scale_loop_latency_seconds``, also offered to
:attr:`ScaledObjectController.on_lateness` (the benchmark reads it there).

Status is written in the background (:class:`~.statuswriter.StatusWriter`: coalesced per
object, a few writes in flight, a short timeout), so a slow API server never holds a poll.

Ownership. Two ScaledObjects that target the same workload would fight over its replicas
(KEDA issue #897); the older one (by creation time, then name) keeps the target, the other is
refused with Ready=False (reason ScaleTargetAlreadyManaged) until the first one goes away.

Sharding. With ``owns`` (``namespace/name`` → whether this replica works on it; see
:mod:`podscaler.controllers.sharding`) the controller's informer still caches every object (the
target ownership above needs them all) but only the owned ones get a context and a poll task;
:meth:`rebalance` applies an ownership change. An object given away is forgotten as a deleted
one is (scalers closed, decision records, metrics, its context), and starts over from its
status when it comes back. With ``held`` (the membership's ``fenced``) a fenced replica's
objects are paused rather than given away (:class:`~podscaler.controllers.loop.PollLoop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from podscaler.api.scaledobject import scale_target_of
from podscaler.controllers.informed import InformedController
from podscaler.controllers.loop import PollLoop
from podscaler.controllers.scaledobject.context import SCALED_OBJECTS, ObjectContext, Settings
from podscaler.controllers.scaledobject.evaluation import Evaluator
from podscaler.controllers.scaledobject.records import DecisionLog
from podscaler.controllers.scaledobject.slim import is_slim, slim_scaled_object
from podscaler.controllers.scaledobject.statuswriter import StatusWriter
from podscaler.controllers.scaledobject.targets import TargetReader
from podscaler.controllers.triggers.headroom import HeadroomBoard, HeadroomOffer
from podscaler.controllers.triggers.published import published_offers
from podscaler.kube.clients import Kube
from podscaler.kube.errors import NotFound
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


def _wake_worthy(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """A spec change, the pause annotations or a deletion: evaluate now."""
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        old_meta.get("generation") != new_meta.get("generation")
        or old_meta.get("annotations") != new_meta.get("annotations")
        or bool(new_meta.get("deletionTimestamp")) != bool(old_meta.get("deletionTimestamp"))
    )


class ScaledObjectController(InformedController):
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
        owns: Callable[[str], bool] | None = None,
        label_selector: str | None = None,
        headroom_board: HeadroomBoard | None = None,
        held: Callable[[], bool] | None = None,
    ) -> None:
        self.kube = kube
        #: where offers of node headroom go (default: this event loop's board, read by the
        #: node autoscaler of this process); a test gives each simulated replica its own
        self._board = headroom_board
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
        self._owns = owns
        self.informer = Informer(
            kube,
            SCALED_OBJECTS,
            namespace=namespace,
            transform=self._cached_copy,
            label_selector=label_selector,
        )
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
        #: under --shard the owner publishes forecast headroom in the status (triggers/published)
        self.evaluator.applier.publish_headroom = owns is not None
        self.evaluator.applier.board = headroom_board
        self._now = now
        self.status_writer = StatusWriter(kube, SCALED_OBJECTS)
        self.evaluator.status_writer = self.status_writer
        self.loop: PollLoop[ObjectContext] = PollLoop(
            "ScaledObject",
            self._evaluate,
            metrics=self.metrics,
            start_spread=self.settings.start_spread,
            wakes=_wake_worthy,
            cache=self.informer,
            rng=self._rng,
            owns=(lambda key: owns(f"{key[0]}/{key[1]}")) if owns is not None else None,
            fresh=self._given_away,
            revive=self._revive,
            held=held,
        )
        self.objects = self.loop.objects
        self._by_target: dict[TargetKey, set[tuple[str, str]]] = {}

    @property
    def evaluations(self) -> int:
        """Evaluations made (all objects)."""
        return self.loop.evaluations

    @property
    def on_lateness(self) -> Callable[[float], None] | None:
        """Called with each scheduled evaluation's lateness in seconds (the benchmark's hook)."""
        return self.loop.on_lateness

    @on_lateness.setter
    def on_lateness(self, hook: Callable[[float], None] | None) -> None:
        self.loop.on_lateness = hook

    def _cached_copy(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The informer's copy: compacted; slim when another replica owns the object."""
        if self._owns is not None:
            meta = obj.get("metadata") or {}
            if not self._owns(f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"):
                obj = slim_scaled_object(obj)
        return compact(obj)

    async def _evaluate(self, ctx: ObjectContext) -> object:
        """One poll; an object taken over with a slim cached copy is read in full first."""
        if is_slim(ctx.obj):
            try:
                full = await self.kube.request("GET", SCALED_OBJECTS.path(ctx.namespace, ctx.name))
            except NotFound:
                return None  # deleted: the informer's delete is on its way
            ctx.obj = compact(full)
        return await self.evaluator.evaluate(ctx)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._owns is not None:
            # Under --shard, offers of objects polled on other replicas reach this process's
            # node autoscaler (if it runs here) through their statuses (triggers/published).
            if self._board is None:
                self._board = HeadroomBoard.for_running_loop()
            self._board.add_source(self._published_offers)
        await super().start()

    def _published_offers(self, loop_now: float) -> list[HeadroomOffer]:
        return published_offers(self.informer.items(), self._now(), loop_now)

    async def aclose(self) -> None:
        if self._board is not None:
            self._board.remove_source(self._published_offers)
        await self.informer.aclose()
        with contextlib.suppress(TimeoutError):  # what is still queued is written on restart
            async with asyncio.timeout(2.0):
                await self.status_writer.flush()
        await self.status_writer.aclose()
        await self.loop.aclose()
        await self.targets.aclose()

    def rebalance(self) -> tuple[int, int]:
        """Ownership among replicas changed: returns ``(released, taken)``."""
        released, taken = self.loop.rebalance()
        if released or taken:
            log.info("rebalanced: %d objects given away, %d taken", released, taken)
        return released, taken

    def _given_away(self, ctx: ObjectContext) -> ObjectContext:
        """Another replica owns *ctx*'s object now: forget what this one held (as for a
        deleted object) and keep a fresh context in case it comes back."""
        self.evaluator.keeper.forget(ctx)
        if ctx.target is not None:
            self.targets.forget(ctx.target)
        self.decisions.forget(ctx.namespace, ctx.name)
        self.metrics.forget(ctx.namespace, ctx.name)
        # A status already queued is still written: it was decided while this replica owned
        # the object, it carries what the next owner reads back (lastActiveTime), and the
        # next owner takes over only after the old one's view changed (a lease duration on a
        # join) or it is gone.
        return ObjectContext(namespace=ctx.namespace, name=ctx.name, obj=ctx.obj)

    def _revive(self, key: tuple[str, str]) -> ObjectContext | None:
        """A context for an object this replica comes to own, from the informer's copy."""
        obj = self.informer.get(key[0], key[1])
        return None if obj is None else ObjectContext(namespace=key[0], name=key[1], obj=obj)

    def known(self, namespace: str, name: str) -> bool:
        """Whether the object exists as far as this replica's cache knows (owned or not)."""
        return self.loop.known((namespace, name))

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
        found = (self.informer.get(*k) for k in holders)
        # (An object owned elsewhere that changed its target in a relist may linger in the
        # old target's set: its current target decides.)
        contenders = [obj for obj in found if obj is not None and target_key(obj) == target]
        if not contenders:
            return None
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
        if self.loop.known(key):  # owned elsewhere (dormant): nothing to hold but the key
            self._index(key, obj, None)
            return
        self.loop.add(key, ObjectContext(namespace=key[0], name=key[1], obj=obj))
        self._index(key, obj, None)
        self.metrics.objects.set(self.loop.size)

    async def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        meta = new.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        ctx = self.objects.get(key)
        if ctx is None:
            if key in self.loop.dormant:  # owned elsewhere: only the target index follows
                self._index(key, new, old)
            else:
                await self._on_add(new)
            return
        previous = self.loop.update(ctx, new)
        if ctx.status is not None and new.get("status") == ctx.status:
            ctx.status = None  # the cache caught up with our write: keep one copy, not two
        self._index(key, new, previous)

    async def _on_delete(self, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        known = self.objects.get(key)
        self._index(key, None, known.obj if known is not None else obj)
        ctx = await self.loop.remove(key)
        self.metrics.objects.set(self.loop.size)
        if ctx is None:
            return
        self.evaluator.keeper.forget(ctx)
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
