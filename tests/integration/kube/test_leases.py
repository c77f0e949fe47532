"""Leader election over HTTP with two electors sharing one Lease.

Covers: only one leads; a leader that dies without releasing is replaced after the lease
expires (not before); a leader that releases is replaced at once; singleton work is cancelled
the moment leadership is lost; the Lease records holder, times and transitions as client-go
does. The durations are client-go's defaults (lease 15 s, renew deadline 10 s, retry 2 s) on the
loop clock (``looptime``): the electors and the embedded API server share the event loop, so a
minute of elections takes milliseconds and the timing assertions are exact up to the
candidates' jitter. The Lease's wall-clock fields come from a clock that follows the loop's.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podscaler.kube.clients import Kube
from podscaler.kube.leases import JITTER_FACTOR, LeaderElector
from tests.integration.kube.waiting import eventually

pytestmark = pytest.mark.looptime

LEASE = "/apis/coordination.k8s.io/v1/namespaces/default/leases/podscaler"
LEASE_SECONDS = 15.0
RENEW_DEADLINE_SECONDS = 10.0
RETRY_SECONDS = 2.0
#: The longest a candidate waits between two attempts (client-go's jitter).
MAX_RETRY_SECONDS = RETRY_SECONDS * (1 + JITTER_FACTOR)
#: Slack for noticing: ``eventually`` looks every 0.02 s of loop time.
EPSILON = 0.05
WALL_START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def wall_clock() -> datetime:
    """The wall clock the electors write into the Lease: follows the loop clock."""
    return WALL_START + timedelta(seconds=asyncio.get_running_loop().time())


def micro_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def elector(kube: Kube, identity: str, *, release_on_cancel: bool = True) -> LeaderElector:
    return LeaderElector(
        kube,
        namespace="default",
        name="podscaler",
        identity=identity,
        lease_duration_seconds=LEASE_SECONDS,
        renew_deadline_seconds=RENEW_DEADLINE_SECONDS,
        retry_period_seconds=RETRY_SECONDS,
        release_on_cancel=release_on_cancel,
        now=wall_clock,
    )


class Singleton:
    """Singleton work that records whether it is running."""

    def __init__(self) -> None:
        self.running = False
        self.starts = 0
        self.cancellations = 0

    async def __call__(self) -> None:
        self.running = True
        self.starts += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancellations += 1
            raise
        finally:
            self.running = False


async def lease_spec(kube: Kube) -> dict[str, Any]:
    spec: dict[str, Any] = (await kube.request("GET", LEASE))["spec"]
    return spec


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_dead_leader_is_replaced_after_expiry(kube: Kube) -> None:
    loop = asyncio.get_running_loop()
    a, b = elector(kube, "a", release_on_cancel=False), elector(kube, "b")
    work_a, work_b = Singleton(), Singleton()
    task_a = loop.create_task(a.run(work_a))
    await eventually(lambda: work_a.running)
    task_b = loop.create_task(b.run(work_b))
    try:
        await asyncio.sleep(LEASE_SECONDS * 1.5)
        assert not work_b.running, "b must not lead while a renews"
        spec = await lease_spec(kube)
        assert spec["holderIdentity"] == "a"
        assert spec["leaseTransitions"] == 0
        assert spec["leaseDurationSeconds"] == 15
        # Renewed every retry period since it was acquired, by the clock it was given.
        held = micro_time(spec["renewTime"]) - micro_time(spec["acquireTime"])
        assert held.total_seconds() == pytest.approx(LEASE_SECONDS * 1.5, abs=RETRY_SECONDS)

        died_at = loop.time()
        await stop(task_a)  # dies without releasing: the Lease still names "a"
        assert work_a.cancellations == 1
        assert (await lease_spec(kube))["holderIdentity"] == "a"
        await eventually(lambda: work_b.running, timeout_seconds=LEASE_SECONDS * 4)
        waited = loop.time() - died_at
        # b counts the lease duration from when it last saw the Lease change (a renewal at
        # most one retry period before a died), then tries at its jittered pace.
        assert (
            LEASE_SECONDS - RETRY_SECONDS
            <= waited
            <= LEASE_SECONDS + 2 * MAX_RETRY_SECONDS + EPSILON
        )
        spec = await lease_spec(kube)
        assert spec["holderIdentity"] == "b"
        assert spec["leaseTransitions"] == 1
    finally:
        await stop(task_b)


async def test_released_lease_is_taken_over_at_once(kube: Kube) -> None:
    loop = asyncio.get_running_loop()
    a, b = elector(kube, "a"), elector(kube, "b")
    work_a, work_b = Singleton(), Singleton()
    task_a = loop.create_task(a.run(work_a))
    await eventually(lambda: work_a.running)
    task_b = loop.create_task(b.run(work_b))
    try:
        await asyncio.sleep(RETRY_SECONDS * 3)
        released_at = loop.time()
        await stop(task_a)
        assert not (await lease_spec(kube)).get("holderIdentity")
        await eventually(lambda: work_b.running, timeout_seconds=LEASE_SECONDS)
        # A retry period (with client-go's jitter), far less than the lease duration.
        assert loop.time() - released_at <= MAX_RETRY_SECONDS + EPSILON
        assert (await lease_spec(kube))["holderIdentity"] == "b"
    finally:
        await stop(task_b)


async def test_singleton_stops_the_moment_the_lease_is_lost(kube: Kube) -> None:
    loop = asyncio.get_running_loop()
    elected: list[str] = []
    a = elector(kube, "a")
    a._on_lost = lambda: elected.append("lost")
    work = Singleton()
    task = loop.create_task(a.run(work))
    try:
        await eventually(lambda: work.running)
        assert a.is_leader
        # Someone else takes the Lease over (as an elector whose clock ran ahead would).
        lease = await kube.request("GET", LEASE)
        lease["spec"]["holderIdentity"] = "intruder"
        await kube.request("PUT", LEASE, body=lease)
        taken_at = loop.time()
        await eventually(lambda: not work.running, timeout_seconds=RENEW_DEADLINE_SECONDS)
        # At the next renewal, not at the renew deadline.
        assert loop.time() - taken_at <= RETRY_SECONDS + EPSILON
        assert work.cancellations == 1
        assert not a.is_leader
        assert elected == ["lost"]
        # The intruder never renews, so "a" wins the Lease back after it expires: a lease
        # duration after "a" saw the change (at its next renewal), at its jittered pace.
        await eventually(lambda: work.running, timeout_seconds=LEASE_SECONDS * 4)
        won_back = loop.time() - taken_at
        assert LEASE_SECONDS <= won_back <= LEASE_SECONDS + RETRY_SECONDS + MAX_RETRY_SECONDS
        assert work.starts == 2
        assert (await lease_spec(kube))["leaseTransitions"] == 1  # intruder -> a
    finally:
        await stop(task)


async def test_renew_deadline_stops_work_when_the_server_is_unreachable(kube: Kube) -> None:
    loop = asyncio.get_running_loop()
    a = elector(kube, "a")
    work = Singleton()
    task = loop.create_task(a.run(work))
    try:
        await eventually(lambda: work.running)
        # Point the elector at a port nobody listens on: every renewal fails.
        a._kube = await_unreachable = await _unreachable()
        lost_after = loop.time()
        await eventually(lambda: not work.running, timeout_seconds=RENEW_DEADLINE_SECONDS * 3)
        elapsed = loop.time() - lost_after
        # The deadline counts from the last successful renewal (at most a retry period ago).
        assert RENEW_DEADLINE_SECONDS - RETRY_SECONDS <= elapsed <= RENEW_DEADLINE_SECONDS + EPSILON
        assert elapsed < LEASE_SECONDS
    finally:
        await stop(task)
        await await_unreachable.close()


async def _unreachable() -> Kube:
    from podscaler.kube.clients import connect

    return await connect(server="http://127.0.0.1:9", request_timeout_seconds=0.5)


async def test_singleton_that_finishes_releases_and_returns(kube: Kube) -> None:
    async def one_shot() -> str:
        return "done"

    assert await elector(kube, "a").run(one_shot) == "done"
    assert not (await lease_spec(kube)).get("holderIdentity")


def test_durations_must_nest() -> None:
    with pytest.raises(ValueError, match="lease_duration_seconds"):
        LeaderElector(
            None,  # type: ignore[arg-type]
            namespace="d",
            name="n",
            identity="i",
            lease_duration_seconds=5,
            renew_deadline_seconds=10,
        )
