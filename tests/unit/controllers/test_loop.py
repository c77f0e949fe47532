"""The per-object poll loop (``podscaler.controllers.loop``) alone, on simulated time.

A context that records when it was polled stands for a ScaledObject or a ScaledJob; the loop's
schedule, waking, error handling, metrics and cancellation are checked without a server. Time
is the simulated event loop's, so a schedule of minutes runs in milliseconds and the figures are
exact.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from podscaler.controllers.loop import PollLoop, Wake, spec_changed, status_is_current
from podscaler.observability.metrics import SCALED_JOB, SCALED_OBJECT, OperatorMetrics
from podscaler.sim.clock import run_simulated

INTERVAL = 30.0


@dataclass
class Thing:
    """A polled object's context: what the loop needs, and a log of its polls."""

    namespace: str
    name: str
    obj: dict[str, Any]
    wake: Wake = field(default_factory=Wake)
    polled_at: list[float] = field(default_factory=list)
    closed: bool = False

    @property
    def polling_interval_seconds(self) -> float:
        return float((self.obj.get("spec") or {}).get("pollingInterval") or INTERVAL)

    async def close(self) -> None:
        self.closed = True


def thing(name: str, *, generation: int = 1, observed: int | None = None) -> Thing:
    obj: dict[str, Any] = {"metadata": {"name": name, "namespace": "ns", "generation": generation}}
    if observed is not None:
        obj["status"] = {"observedGeneration": observed}
    return Thing("ns", name, obj)


def sample(metrics: OperatorMetrics, name: str, labels: dict[str, str]) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_status_is_current_compares_observed_with_the_spec_generation() -> None:
    assert status_is_current(thing("a", generation=3, observed=3).obj)
    assert not status_is_current(thing("a", generation=3, observed=2).obj)
    assert not status_is_current(thing("a", generation=3).obj)
    assert not status_is_current({"metadata": {}, "status": {"observedGeneration": None}})


def test_spec_changed_is_a_generation_change_only() -> None:
    old = thing("a", generation=1).obj
    assert spec_changed(old, thing("a", generation=2).obj)
    annotated = {**old, "metadata": {**old["metadata"], "annotations": {"x": "y"}}}
    assert not spec_changed(old, annotated)


def test_a_new_object_is_polled_at_once_then_leaves_its_batch_then_keeps_its_rate() -> None:
    async def main() -> list[list[float]]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        polls = PollLoop("ScaledObject", _record, metrics=OperatorMetrics())
        things = [thing(f"o{i}") for i in range(20)]
        for t in things:
            polls.add(("ns", t.name), t)
        await asyncio.sleep(4 * INTERVAL + 1)
        await polls.aclose()
        return [[at - start for at in t.polled_at] for t in things]

    runs = run_simulated(main())
    seconds = set()
    for at in runs:
        assert at[0] == pytest.approx(0.0)  # nobody waits a whole interval for a new object
        # the second poll comes within the first interval, no sooner than 10 % into it
        assert 0.1 * INTERVAL - 1e-6 <= at[1] <= INTERVAL + 1e-6
        # then every interval on the dot (fixed rate: the next deadline is the last + interval)
        assert [b - a for a, b in itertools.pairwise(at[1:])] == pytest.approx(
            [INTERVAL] * (len(at) - 2)
        )
        seconds.add(round(at[1], 3))
    assert len(seconds) > 10  # the batch created together does not poll in lock-step


def test_objects_with_a_current_status_spread_their_first_poll_over_one_interval() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        polls = PollLoop("ScaledJob", _record, metrics=OperatorMetrics())
        things = [thing(f"o{i}", generation=2, observed=2) for i in range(50)]
        for t in things:
            polls.add(("ns", t.name), t)
        await asyncio.sleep(INTERVAL + 1)
        await polls.aclose()
        return [t.polled_at[0] - start for t in things]

    firsts = run_simulated(main())
    assert all(0.0 <= f < INTERVAL for f in firsts)
    # spread, not bunched: every third of the interval got some of the 50
    assert {int(f // (INTERVAL / 3)) for f in firsts} == {0, 1, 2}


def test_start_spread_zero_polls_everything_at_once_and_then_on_the_interval() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        polls = PollLoop("ScaledObject", _record, metrics=OperatorMetrics(), start_spread=0.0)
        t = thing("a", generation=2, observed=2)
        polls.add(("ns", "a"), t)
        await asyncio.sleep(2 * INTERVAL + 1)
        await polls.aclose()
        return [at - start for at in t.polled_at]

    assert run_simulated(main()) == pytest.approx([0.0, INTERVAL, 2 * INTERVAL])


def test_a_spec_change_polls_at_once_and_restarts_the_schedule_from_there() -> None:
    async def main() -> tuple[list[float], int]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        polls = PollLoop("ScaledJob", _record, metrics=OperatorMetrics(), start_spread=0.0)
        t = thing("a")
        polls.add(("ns", "a"), t)
        await asyncio.sleep(10)
        annotated = {**t.obj, "metadata": {**t.obj["metadata"], "annotations": {"a": "b"}}}
        previous = polls.update(t, annotated)  # no spec change: no poll
        assert previous["metadata"].get("annotations") is None
        assert t.obj is annotated
        await asyncio.sleep(1)
        polls.update(t, {**annotated, "metadata": {**annotated["metadata"], "generation": 2}})
        await asyncio.sleep(INTERVAL + 1)
        await polls.aclose()
        return [at - start for at in t.polled_at], polls.evaluations

    at, evaluations = run_simulated(main())
    assert at == pytest.approx([0.0, 11.0, 11.0 + INTERVAL])
    assert evaluations == 3


def test_the_controller_decides_what_wakes() -> None:
    def annotations_too(old: Any, new: Any) -> bool:
        return bool(old["metadata"].get("annotations") != new["metadata"].get("annotations"))

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        polls = PollLoop(
            "ScaledObject", _record, metrics=OperatorMetrics(), start_spread=0.0,
            wakes=annotations_too,
        )  # fmt: skip
        t = thing("a")
        polls.add(("ns", "a"), t)
        await asyncio.sleep(5)
        polls.update(t, {**t.obj, "metadata": {**t.obj["metadata"], "annotations": {"p": "1"}}})
        await asyncio.sleep(1)
        await polls.aclose()
        return [at - start for at in t.polled_at]

    assert run_simulated(main()) == pytest.approx([0.0, 5.0])


def test_a_poll_that_overruns_its_interval_is_followed_at_once_without_a_burst() -> None:
    async def main() -> tuple[list[float], list[float]]:
        late: list[float] = []
        job = thing("j")

        async def slow_second(ctx: Thing) -> None:
            ctx.polled_at.append(asyncio.get_running_loop().time())
            if len(ctx.polled_at) == 2:
                await asyncio.sleep(INTERVAL + 10)  # ends 10 s after the third was due

        start = asyncio.get_running_loop().time()
        jobs = PollLoop("ScaledJob", slow_second, metrics=OperatorMetrics(), start_spread=0.0)
        jobs.on_lateness = late.append
        jobs.add(("ns", "j"), job)
        await asyncio.sleep(120)
        await jobs.aclose()
        return late, [at - start for at in job.polled_at]

    late, polls = run_simulated(main())
    # the missed deadline (60 s) is not caught up; the schedule goes on from the overrun's end
    assert polls == pytest.approx([0.0, INTERVAL, 2 * INTERVAL + 10, 3 * INTERVAL + 10])
    assert late == pytest.approx([0.0] * 4)  # the task itself was on time every round


def test_lateness_is_reported_per_type_and_to_the_hook() -> None:
    """Lateness is the event loop being busy when a poll falls due, which costs no simulated
    time; so this one runs on a real loop, where one object's poll blocks the loop for 0.3 s
    while another object's poll is due."""

    async def main() -> tuple[OperatorMetrics, list[float]]:
        metrics = OperatorMetrics()
        late: list[float] = []

        async def blocking(ctx: Thing) -> None:
            ctx.polled_at.append(asyncio.get_running_loop().time())
            time.sleep(0.3)  # noqa: ASYNC251 - the point: the loop is held

        objects = PollLoop("ScaledObject", blocking, metrics=metrics, start_spread=0.0)
        jobs = PollLoop("ScaledJob", _record, metrics=metrics, start_spread=0.0)
        jobs.on_lateness = late.append
        objects.add(("ns", "o"), thing("o"))  # created first: polls first, holds the loop
        jobs.add(("ns", "j"), thing("j"))
        await asyncio.sleep(0.5)
        await jobs.aclose()
        await objects.aclose()
        return metrics, late

    metrics, late = asyncio.run(main())
    assert len(late) == 1
    assert late[0] >= 0.25
    job = {"namespace": "ns", "type": SCALED_JOB, "resource": "ns/j"}
    assert sample(metrics, "keda_internal_scale_loop_latency_seconds", job) == late[0]
    for kind in (SCALED_JOB, SCALED_OBJECT):
        count = sample(metrics, "podscaler_scale_loop_lateness_seconds_count", {"type": kind})
        assert count == 1.0
    job_sum = sample(metrics, "podscaler_scale_loop_lateness_seconds_sum", {"type": SCALED_JOB})
    assert job_sum == late[0]


class Cache:
    """An informer's ``current`` and ``wait_current``: lost, then repaired at a given time."""

    def __init__(self) -> None:
        self._current = asyncio.Event()
        self._current.set()

    @property
    def current(self) -> bool:
        return self._current.is_set()

    async def wait_current(self, timeout_seconds: float | None = None) -> None:
        await self._current.wait()

    def lose(self) -> None:
        self._current.clear()

    def repair(self) -> None:
        self._current.set()


def test_polls_wait_while_the_cache_is_being_repaired() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        cache = Cache()
        polls = PollLoop(
            "ScaledObject", _record, metrics=OperatorMetrics(), start_spread=0.0, cache=cache
        )
        t = thing("a")
        polls.add(("ns", "a"), t)
        await asyncio.sleep(INTERVAL - 5)
        cache.lose()  # the watch failed just before the second poll was due
        await asyncio.sleep(15)
        cache.repair()  # the relist that repairs the cache, 10 s after the poll was due
        await asyncio.sleep(INTERVAL)
        await polls.aclose()
        return [at - start for at in t.polled_at]

    # held from 30 s to 40 s; the schedule then goes on from the missed deadline's rhythm
    assert run_simulated(main()) == pytest.approx([0.0, INTERVAL + 10, 2 * INTERVAL])


def test_a_failing_poll_is_counted_for_its_kind_and_the_object_keeps_its_schedule() -> None:
    async def main() -> tuple[OperatorMetrics, Thing]:
        metrics = OperatorMetrics()

        async def broken(ctx: Thing) -> None:
            ctx.polled_at.append(asyncio.get_running_loop().time())
            raise RuntimeError("a bug met by one object")

        polls = PollLoop("ScaledJob", broken, metrics=metrics, start_spread=0.0)
        t = thing("j")
        polls.add(("ns", "j"), t)
        await asyncio.sleep(2 * INTERVAL + 1)
        await polls.aclose()
        return metrics, t

    metrics, t = run_simulated(main())
    assert len(t.polled_at) == 3
    labels = {"namespace": "ns", "scaledJob": "j"}
    assert sample(metrics, "keda_scaled_job_errors_total", labels) == 3.0
    other = {"namespace": "ns", "scaledObject": "j"}
    assert sample(metrics, "keda_scaled_object_errors_total", other) is None


def test_remove_cancels_the_task_and_closes_the_context() -> None:
    async def main() -> tuple[Thing, Thing | None, int, bool]:
        metrics = OperatorMetrics()
        polls = PollLoop("ScaledJob", _record, metrics=metrics, start_spread=0.0)
        t = thing("j")
        polls.add(("ns", "j"), t)
        await asyncio.sleep(1)
        removed = await polls.remove(("ns", "j"))
        await asyncio.sleep(3 * INTERVAL)
        metrics.forget("ns", "j", kind=SCALED_JOB)
        gone = await polls.remove(("ns", "j"))
        tasks = [x for x in asyncio.all_tasks() if x.get_name().startswith("scaledjob-")]
        return t, removed if gone is None else None, len(tasks), not polls.objects

    t, removed, tasks, empty = run_simulated(main())
    assert removed is t
    assert t.closed
    assert len(t.polled_at) == 1  # nothing after the removal
    assert tasks == 0
    assert empty


async def _record(ctx: Thing) -> None:
    ctx.polled_at.append(asyncio.get_running_loop().time())


def test_wake_sleeps_until_its_deadline_or_until_set() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        wake = Wake()
        start = loop.time()
        assert await wake.sleep_until(start + 0.05) is False
        assert loop.time() - start >= 0.04
        loop.call_later(0.01, wake.set)
        start = loop.time()
        assert await wake.sleep_until(start + 30.0) is True
        assert loop.time() - start < 5.0
        assert wake.is_set()  # set before: the next sleep returns at once, until cleared
        assert await wake.sleep_until(loop.time() + 30.0) is True
        wake.clear()
        sleeper = loop.create_task(wake.sleep_until(loop.time() + 30.0))
        await asyncio.sleep(0.01)
        sleeper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeper
        wake.set()  # no sleeper left: only the flag
        assert wake.is_set()

    asyncio.run(scenario())
