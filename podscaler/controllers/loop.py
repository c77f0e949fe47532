"""The one per-object poll loop: every object a controller watches is polled on its own schedule.

A controller that polls its objects (ScaledObjects, ScaledJobs; the vertical and node
controllers next) keeps them in a :class:`PollLoop`: the controller's informer handlers
:meth:`~PollLoop.add`, :meth:`~PollLoop.update` and :meth:`~PollLoop.remove` objects, and the
loop runs one task per object that calls the controller's ``poll`` every
``pollingInterval``. What is polled is the controller's business (a context satisfying
:class:`Polled`); *when*, and what happens around it, is this module's.

Schedule. Polls follow a fixed-rate schedule of the *loop clock* (so an accelerated simulated
loop accelerates them too). An object whose status already answers its spec
(``status.observedGeneration`` is its ``metadata.generation``: an operator polled it before this
one started) takes its first poll at a random point of its first interval: after a restart,
thousands of objects spread their polls evenly instead of all querying their sources in the same
millisecond (and keep that phase). Any other object — new, or changed while no operator ran —
is polled at once: someone is waiting for its first status (a newcomer who applied an example
and then started ``podscaler run`` waited up to a whole interval for it). Which one an object is
comes from its own status (:func:`status_is_current`), not from comparing its
``creationTimestamp`` with this process's clock: the two clocks need not agree (another machine,
a simulated cluster). The *second* poll of an object polled at once comes at a random point of
its first interval (``start_spread``): objects created together (a Helm release, a GitOps sync,
a benchmark) would otherwise poll in lock-step forever — 1,000 objects due in the same
millisecond make the last one hundreds of milliseconds late on every round. The cost is one
poll sooner than ``pollingInterval`` in an object's life.

Waking. An update the controller deems worth it (``wakes``: by default a spec change, i.e.
``metadata.generation``; ScaledObjects add their annotations and deletion) wakes the object's
task at once and its schedule restarts from there, as KEDA restarts a scale loop when the
generation changes. Status updates do not wake anything. Setting ``ctx.wake`` (the trigger
refresher does, after a Secret rotation) has the same effect.

Metrics. How late each scheduled poll starts compared with its schedule is KEDA's
``keda_internal_scale_loop_latency_seconds`` (label ``type``: ``scaledobject``, ``scaledjob``)
and the histogram ``podscaler_scale_loop_lateness_seconds`` (same ``type`` label); it is also
offered to :attr:`PollLoop.on_lateness` (the benchmark reads it there). A poll that raises is
logged and counted as an error of its object (``keda_scaled_object_errors_total`` /
``keda_scaled_job_errors_total``), and the object is polled again on schedule: a bug met by one
object must not stop the others, or this one (principle 5).

A stale cache. A controller whose informer may lose track of the server (a failed watch, an
API server restarted with another store) hands the informer to the loop (``cache``): a poll
that falls due while the cache is being repaired waits until it is current again — the object
may be gone, and the list that repairs the cache removes it (cancelling its task) if so.

Ownership. With several active replicas (:mod:`podscaler.controllers.sharding`) a loop polls
only the objects its replica owns (``owns``): it knows every object the informer shows but
runs tasks only for the owned ones. With ``revive`` (the ScaledObject controller) an object
owned elsewhere is only its key (:attr:`PollLoop.dormant`; the object itself stays in the
informer), so a replica of N holds contexts (specs, triggers, HPA history, an Event) for about
1/N of the objects; without it, every object keeps an empty context. When the owner changes,
:meth:`PollLoop.rebalance` cancels the tasks of objects no longer owned at once (fencing: the
old owner stops before the new one may start) and drops their contexts (``fresh`` forgets
what the controller held): what a new owner knows comes from the object, as after a restart,
and an object that comes back later is rebuilt the same way (``revive``). Tasks start for
objects newly owned; an object whose status is current takes its first poll within one
interval, like after a restart. A replica that fences itself (its view of the members is too
old to own anything; :mod:`podscaler.controllers.sharding.membership`) may find its late
renewal kept, and then owns the same objects again at once: with ``held`` (true while fenced)
the fence cancels only the polls running at that moment (those contexts start over, as above)
and the other objects' tasks sleep on, keeping their contexts and skipping their polls while
fenced; a kept renewal resumes them as they were (HPA history, trigger clients, cooldown
clock), a rejoin releases them as any object given away.

Cancellation. :meth:`PollLoop.remove` (the object was deleted) and :meth:`PollLoop.aclose` (the
controller stops) cancel the object's task, wait for it, and close the context (its scalers'
connections).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from podscaler.observability.metrics import OperatorMetrics

__all__ = [
    "CacheState",
    "Key",
    "PollLoop",
    "Polled",
    "Wake",
    "spec_changed",
    "status_is_current",
]

log = logging.getLogger(__name__)

#: ``(namespace, name)`` of a polled object.
Key = tuple[str, str]


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Wake:
    """Ask for a poll now: ``set``, ``is_set`` and ``clear`` as :class:`asyncio.Event`.

    Not an Event because every object holds one: an Event (its waiter deque) and the
    ``asyncio.timeout`` around its ``wait`` cost ~2.5 KiB per sleeping object, 25 MiB at
    10,000; this and the one future and timer of a sleep, ~1.4 KiB.
    """

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        if self._waiter is not None:
            _expire(self._waiter)

    def is_set(self) -> bool:
        return self._set

    def clear(self) -> None:
        self._set = False

    async def sleep_until(self, deadline: float) -> bool:
        """Sleep until the loop clock reaches *deadline* or :meth:`set` is called (or was,
        before); returns whether it was set."""
        if self._set:
            return True
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_at(deadline, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        return self._set


class Polled(Protocol):
    """What the loop needs of the thing it polls: one object's context."""

    namespace: str
    name: str
    #: The object as the informer last saw it.
    obj: dict[str, Any]
    #: Set to poll now (and restart the schedule from now).
    wake: Wake

    @property
    def polling_interval_seconds(self) -> float: ...

    async def close(self) -> None:
        """Release what the context holds (scalers, connections); the object is gone."""


C = TypeVar("C", bound=Polled)


class CacheState(Protocol):
    """Whether the cache the polled objects come from follows the server (an informer)."""

    @property
    def current(self) -> bool: ...

    async def wait_current(self, timeout_seconds: float | None = None) -> None: ...


def status_is_current(obj: Mapping[str, Any]) -> bool:
    """Whether the object's status was written for its current spec (by us before a restart,
    or by another replica)."""
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return isinstance(generation, int) and observed == generation


def spec_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """The default reason to poll at once: ``metadata.generation`` moved."""
    return (old.get("metadata") or {}).get("generation") != (new.get("metadata") or {}).get(
        "generation"
    )


class PollLoop(Generic[C]):
    """One task per object of one *kind*, each calling *poll* on the object's schedule."""

    def __init__(
        self,
        kind: str,
        poll: Callable[[C], Awaitable[object]],
        *,
        metrics: OperatorMetrics,
        start_spread: float = 1.0,
        wakes: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] = spec_changed,
        cache: CacheState | None = None,
        rng: random.Random | None = None,
        owns: Callable[[Key], bool] | None = None,
        fresh: Callable[[C], C] | None = None,
        revive: Callable[[Key], C | None] | None = None,
        held: Callable[[], bool] | None = None,
    ) -> None:
        #: ``ScaledObject``, ``ScaledJob`` …: for logs and task names; lower-cased, KEDA's
        #: ``type`` label of the loop metrics.
        self.kind = kind
        self._type = kind.lower()
        self._poll = poll
        self._metrics = metrics
        #: Fraction of the interval over which a restarted object's first poll is spread.
        self._start_spread = start_spread
        #: Fraction of the interval over which a new object's second poll is moved (never
        #: later than one pollingInterval after the first).
        self._phase_spread = min(max(start_spread, 0.0), 0.9)
        self._wakes = wakes
        self._cache = cache
        #: Draws the poll phases; seeded by a simulation so that a run replays exactly.
        self._rng = rng or random.Random()
        self.objects: dict[Key, C] = {}
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        #: Whether this replica polls an object (None: all of them).
        self.owns = owns
        #: Builds the context a released object starts from again (None: keep the old one).
        self._fresh = fresh
        #: Builds the context of an object this replica comes to own, from the controller's
        #: cache (``None``: the object is gone). With it, objects another replica owns are
        #: held as keys only (:attr:`dormant`), not as contexts: one replica of N holds
        #: contexts for about 1/N of the objects.
        self._revive = revive
        #: Whether ownership is suspended rather than lost (a fenced replica, which may find
        #: its renewal kept): objects not owned keep their contexts and sleeping tasks, and
        #: skip their polls (see "Ownership" in the module docstring).
        self._held = held
        #: Objects whose poll is running now (a fence cancels those, and only those).
        self._polling: set[Key] = set()
        #: Objects known (cached by the controller) but owned elsewhere, without a context.
        self.dormant: set[Key] = set()
        #: Tasks cancelled by a rebalance and not finished yet, by object.
        self._releasing: dict[Key, asyncio.Task[None]] = {}
        #: Objects released to another replica and taken from one, for status and tests.
        self.released = 0
        self.taken = 0
        #: Polls made (all objects), for tests and the benchmark.
        self.evaluations = 0
        #: Called with each scheduled poll's lateness in seconds (the benchmark's hook).
        self.on_lateness: Callable[[float], None] | None = None

    @property
    def size(self) -> int:
        """The objects known to the loop: with a context, and dormant (owned elsewhere)."""
        return len(self.objects) + len(self.dormant)

    def keys(self) -> list[Key]:
        """Every object known to the loop: with a context, and dormant."""
        return [*self.objects, *self.dormant]

    def known(self, key: Key) -> bool:
        """Whether the loop knows the object (owned here or not)."""
        return key in self.objects or key in self.dormant

    @property
    def polled(self) -> list[Key]:
        """The objects with a running task that this replica owns now (all of them unless
        ``owns`` says otherwise; none while fenced)."""
        return [
            key
            for key, task in self._tasks.items()
            if not task.done() and (self.owns is None or self.owns(key))
        ]

    # ---------------------------------------------------------------- the controller's side

    def add(self, key: Key, ctx: C) -> None:
        """Hold *ctx* (a new object) and poll it if this replica owns it (with ``revive``, an
        object owned elsewhere is remembered by its key and *ctx* dropped)."""
        if self.owns is None or self.owns(key):
            self.dormant.discard(key)
            self.objects[key] = ctx
            self._start(key)
        elif self._revive is None:
            self.objects[key] = ctx
        elif key not in self.objects:  # (one being released becomes dormant by itself)
            self.dormant.add(key)

    def _start(self, key: Key) -> None:
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._run(key), name=f"{self._type}-{key[0]}/{key[1]}"
        )

    def rebalance(self) -> tuple[int, int]:
        """Ownership changed: stop the objects no longer owned (at once), start the ones newly
        owned. Returns ``(released, taken)``."""
        if self.owns is None:
            return 0, 0
        released = taken = 0
        held = self._held is not None and self._held()
        for key in list(self.objects):
            owned = self.owns(key)
            task = self._tasks.get(key)
            if (
                held
                and not owned
                and task is not None
                and not task.done()
                and key not in self._polling
            ):
                continue  # fenced: it skips its polls, its context kept for a renewal
            if task is not None and (not owned or task.done()):
                # (A done task stopped itself on seeing the object was no longer owned.)
                del self._tasks[key]
                task.cancel()
                self._releasing[key] = asyncio.get_running_loop().create_task(
                    self._release(key, task), name=f"release-{key[0]}/{key[1]}"
                )
                released += 1
                task = None
            if task is None and owned:
                self._start(key)
                taken += 1
        for key in [k for k in self.dormant if self.owns(k)]:
            self.dormant.discard(key)
            ctx = self._revive(key) if self._revive is not None else None
            if ctx is None:  # gone from the cache meanwhile: its delete is on its way
                continue
            self.objects[key] = ctx
            self._start(key)
            taken += 1
        self.released += released
        self.taken += taken
        return released, taken

    async def _release(self, key: Key, task: asyncio.Task[None]) -> None:
        """Wait for a cancelled task, then start the object over from what the object says."""
        try:
            await asyncio.gather(task, return_exceptions=True)
            ctx = self.objects.get(key)
            if ctx is not None:
                await ctx.close()
                if self._fresh is not None:
                    ctx = self._fresh(ctx)
                if self._revive is not None and key not in self._tasks:
                    # Owned elsewhere (and not taken back meanwhile): keep the key only.
                    del self.objects[key]
                    self.dormant.add(key)
                else:
                    self.objects[key] = ctx
        finally:
            self._releasing.pop(key, None)

    def update(self, ctx: C, new: dict[str, Any]) -> dict[str, Any]:
        """The informer has a new version of *ctx*'s object; returns the previous one. Wakes
        the task when ``wakes`` says the change is worth a poll now."""
        previous, ctx.obj = ctx.obj, new
        if self._wakes(previous, new):
            ctx.wake.set()
        return previous

    async def remove(self, key: Key) -> C | None:
        """Stop polling the object (deleted): cancel its task, close its context."""
        self.dormant.discard(key)
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        releasing = self._releasing.get(key)
        if releasing is not None:
            await asyncio.gather(releasing, return_exceptions=True)
        ctx = self.objects.pop(key, None)
        if ctx is not None:
            await ctx.close()
        return ctx

    async def aclose(self) -> None:
        """Stop every task and close every context."""
        tasks = list(self._tasks.values()) + list(self._releasing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ctx in self.objects.values():
            await ctx.close()
        self._tasks.clear()
        self.objects.clear()
        self.dormant.clear()

    # ---------------------------------------------------------------- the schedule

    async def _run(self, key: Key) -> None:
        releasing = self._releasing.get(key)
        if releasing is not None:  # given away and taken back: start from the fresh context
            await asyncio.shield(releasing)
        ctx = self.objects[key]
        loop = asyncio.get_running_loop()
        spread = 0.0
        if status_is_current(ctx.obj):  # polled before: nobody waits for this poll
            spread = ctx.polling_interval_seconds * self._start_spread
        deadline = loop.time() + self._rng.uniform(0.0, spread)
        first = True
        while True:
            woke = await ctx.wake.sleep_until(deadline)
            ctx.wake.clear()
            if self._cache is not None and not self._cache.current:
                # The cache is being repaired after a failure (the API server may have
                # restarted with another store): this object may be gone, and the list that
                # repairs the cache cancels this task if so. Nothing is decided meanwhile.
                await self._cache.wait_current()
            if self.owns is not None and not self.owns(key):
                if self._held is None or not self._held():
                    return  # a rebalance is on its way to cancel this task: no poll meanwhile
                # Fenced: no poll; the next chance an interval on (a wake is not kept: a
                # spec change that came meanwhile waits for that poll).
                deadline = loop.time() + ctx.polling_interval_seconds
                continue
            started = loop.time()
            if not woke:
                lateness = started - deadline
                self._metrics.lateness(ctx.namespace, ctx.name, lateness, kind=self._type)
                if self.on_lateness is not None:
                    self.on_lateness(lateness)
            self._polling.add(key)
            try:
                await self._poll(ctx)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Principle 5: a bug met by one object must not stop the others (or this one).
                log.exception("evaluating %s %s/%s failed", self.kind, ctx.namespace, ctx.name)
                self._metrics.object_error(ctx.namespace, ctx.name, kind=self._type)
            finally:
                self._polling.discard(key)
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
