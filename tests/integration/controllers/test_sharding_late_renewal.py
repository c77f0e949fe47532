"""Late Lease renewals of a shard member, on the embedded API server and the loop clock.

A proxy in front of the API server holds one member's Lease renewals (PUTs) for a while, as a
busy node or a slow API server would; nothing in the client is replaced. Covers:

* a renewal answered after the member fenced itself but inside the keep window: it owns its
  objects again at once (a poll loop on its answers polls them again within one interval),
  the other member never owned them meanwhile;
* renewals held past the keep window while the other member took the objects over: the late
  renewal rejoins and waits a lease duration, the other gives the objects back at once;
* a fenced member whose renewals take longer than a retry period still rejoins;
* a member whose own cycles fail while its view is still fresh does not believe a live member
  expired from a list that may have missed its renewal (two owners otherwise);
* three members whose requests and answers are delayed at random (seeded) for ten minutes.

The watcher of ``test_sharding_lease`` checks the members' answers at every change any of them
publishes: no object ever has two owners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections import defaultdict
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web

from podscaler.controllers.loop import PollLoop, Wake
from podscaler.controllers.sharding import Membership
from podscaler.kube.clients import Kube, connect
from podscaler.observability.metrics import OperatorMetrics
from podscaler.sim.apiserver.server import ApiServer
from tests.fixtures.proxy import GatedProxy
from tests.integration.controllers.test_sharding_lease import (
    EPSILON,
    KEYS,
    LEASE,
    RENEW,
    RETRY,
    all_owned_once,
    member,
    members,
    owned,
)
from tests.integration.kube.waiting import eventually
from tests.unit.controllers.test_loop import Thing

pytestmark = pytest.mark.looptime

#: The objects' polling interval in the poll loop driven by a member's answers.
POLL = 5.0
#: Seeds of the random delays (3 gave two owners before LISTED_SHARE); FENCING_SEEDS=N runs
#: seeds 1..N instead.
SEEDS = list(range(1, int(os.environ.get("FENCING_SEEDS", "0")) + 1)) or [1, 3]


def split(key: str) -> tuple[str, str]:
    namespace, name = key.split("/")
    return namespace, name


class LeaseHolding(GatedProxy):
    """Forwards everything; a Lease PUT that arrives before :attr:`hold_until` (loop time)
    is held until then (or until its client gives up), any other for :attr:`delay`."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.hold_until = 0.0
        self.delay = 0.0
        #: Loop times Lease PUTs arrived at.
        self.puts: list[float] = []
        self._arrived = asyncio.Event()

    async def next_put(self) -> float:
        """The arrival time of the next Lease PUT."""
        self._arrived.clear()
        await self._arrived.wait()
        return self.puts[-1]

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PUT" and "/leases/" in request.path:
            now = asyncio.get_running_loop().time()
            self.puts.append(now)
            self._arrived.set()
            await asyncio.sleep(max(self.hold_until - now, self.delay))
        return await super()._forward(request)


class Polls:
    """A poll loop over :data:`KEYS` that polls what *m* owns (rebalanced at each change)."""

    def __init__(self, m: Membership, *, held: bool = True, slow: str = "") -> None:
        self.at: dict[str, list[float]] = defaultdict(list)
        #: An object whose polls take a minute (always running: a fence cancels it).
        self.slow = slow
        self.loop: PollLoop[Thing] = PollLoop(
            "ScaledObject",
            self._poll,
            metrics=OperatorMetrics(),
            owns=lambda key: m.owns(f"{key[0]}/{key[1]}"),
            fresh=lambda ctx: replace(ctx, wake=Wake(), closed=False),
            held=m.fenced if held else None,
        )
        for key in KEYS:
            namespace, name = key.split("/")
            obj: dict[str, Any] = {
                "metadata": {"namespace": namespace, "name": name, "generation": 1},
                "spec": {"pollingInterval": POLL},
            }
            self.loop.add((namespace, name), Thing(namespace, name, obj))
        m.on_change.append(self.loop.rebalance)

    async def _poll(self, ctx: Thing) -> None:
        key = f"{ctx.namespace}/{ctx.name}"
        self.at[key].append(asyncio.get_running_loop().time())
        if key == self.slow:
            await asyncio.sleep(60.0)

    def between(self, key: str, start: float, end: float) -> list[float]:
        return [t for t in self.at[key] if start <= t <= end]


@pytest.mark.parametrize("held", [True, False], ids=["paused-at-the-fence", "released"])
async def test_a_renewal_answered_late_inside_the_keep_window_takes_the_objects_back_at_once(
    kube: Kube, apiserver: ApiServer, caplog: pytest.LogCaptureFixture, held: bool
) -> None:
    """With ``held`` (what the ScaledObject controller does) the objects sleeping at the fence
    keep their contexts and resume as they were; only a poll running at the fence is
    cancelled and its object started over. Without it every object is released and taken."""
    caplog.set_level(logging.INFO, "podscaler.controllers.sharding.membership")
    loop = asyncio.get_running_loop()
    async with (
        LeaseHolding(apiserver.url) as proxy,
        await connect(server=proxy.url) as slow,
        members() as (group, watcher),
    ):
        a = group.start(member(slow, "a"))
        await eventually(lambda: a.owning, timeout_seconds=RETRY * 2)
        b = group.start(member(kube, "b"))
        await eventually(lambda: b.owning, timeout_seconds=LEASE + 2 * RETRY)
        mine, theirs = owned(a), owned(b)
        assert mine
        assert theirs
        b_owned: list[set[str]] = []
        b.on_change.append(lambda: b_owned.append(owned(b)))
        busy = sorted(mine)[0]
        polls = Polls(a, held=held, slow=busy)
        owning_since: list[float] = []
        a.on_change.append(lambda: owning_since.append(loop.time()) if a.owning else None)

        await eventually(lambda: all(polls.at[key] for key in mine), timeout_seconds=POLL * 2)
        contexts = {key: polls.loop.objects[split(key)] for key in mine}
        previous = await proxy.next_put()
        # The next renewal (sent a retry period later) is answered 9 s after it was sent:
        # after a's renew deadline (previous + 10), before its keep window closes (+ 12).
        proxy.hold_until = previous + RETRY + 9.0
        await asyncio.sleep(previous + RENEW + 0.5 - loop.time())
        assert a.state == "fenced"
        assert not owned(a)
        assert polls.loop.polled == []
        fenced_at = previous + RENEW

        await eventually(lambda: a.owning, timeout_seconds=LEASE)
        (back_at,) = owning_since
        assert back_at <= proxy.hold_until + EPSILON  # at once: no lease duration waited
        assert back_at - fenced_at < RETRY
        assert (a.kept, a.joins) == (1, 1)
        assert "a: renewal answered 11.0 s after the previous one was sent" in caplog.text
        assert a.state == "owning"
        assert owned(a) == mine
        assert owned(b) == theirs
        assert all(seen == theirs for seen in b_owned)  # b never took a's objects

        await asyncio.sleep(POLL + EPSILON)
        for key in mine:  # idle only while fenced, polled again within one interval
            assert not polls.between(key, fenced_at + 1e-3, back_at - 1e-3), key
            assert polls.between(key, back_at, back_at + POLL + EPSILON), key
        if held:  # only the running poll was cancelled; the others kept their contexts
            assert polls.loop.released == polls.loop.taken == 1
            for key in mine - {busy}:
                assert polls.loop.objects[split(key)] is contexts[key], key
        else:
            assert polls.loop.released == polls.loop.taken == len(mine)
        assert watcher.checks > 0
        await polls.loop.aclose()


async def test_renewals_held_past_the_keep_window_rejoin_and_wait_a_lease(
    kube: Kube, apiserver: ApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "podscaler.controllers.sharding.membership")
    loop = asyncio.get_running_loop()
    async with (
        LeaseHolding(apiserver.url) as proxy,
        await connect(server=proxy.url) as slow,
        members() as (group, _),
    ):
        a = group.start(member(slow, "a"))
        await eventually(lambda: a.owning, timeout_seconds=RETRY * 2)
        b = group.start(member(kube, "b"))
        await eventually(lambda: b.owning, timeout_seconds=LEASE + 2 * RETRY)
        mine = owned(a)
        polls = Polls(a)

        previous = await proxy.next_put()
        # Every renewal sent in the next 30 s waits until then: the first cycles give up
        # (a's Lease expires for b, which takes everything), the last is answered at once.
        proxy.hold_until = previous + 30.0
        await eventually(lambda: owned(b) == set(KEYS), timeout_seconds=LEASE + 2 * RETRY)
        assert loop.time() >= previous + LEASE
        assert not owned(a)

        await eventually(lambda: a.state == "joining", timeout_seconds=LEASE * 2)
        renewed_at = loop.time()
        assert renewed_at >= proxy.hold_until
        assert renewed_at - previous > a.settings.keep_window_seconds
        await eventually(lambda: not owned(b) & mine, timeout_seconds=RETRY + EPSILON)
        await eventually(lambda: a.owning, timeout_seconds=LEASE * 2)
        # The safety case: b may have worked on a's objects, so a waits until b saw it.
        assert loop.time() - renewed_at >= LEASE - EPSILON
        assert (a.kept, a.joins) == (0, 2)
        assert "a: rejoined (renewal answered 30.0 s after the previous one" in caplog.text
        assert all_owned_once([a, b])
        for key in mine:
            assert not polls.between(key, previous + RENEW + 1e-3, renewed_at + LEASE - 1)
        await polls.loop.aclose()


async def test_a_fenced_member_whose_renewals_take_longer_than_a_retry_period_rejoins(
    kube: Kube, apiserver: ApiServer
) -> None:
    """Once fenced, a cycle may take up to a renew deadline (its view is fresh that long): a
    member on a busy node whose renewals take 3 s rejoins (cut after a retry period, 2 s, it
    stayed fenced for as long as they did)."""
    loop = asyncio.get_running_loop()
    async with (
        LeaseHolding(apiserver.url) as proxy,
        await connect(server=proxy.url) as slow,
        members() as (group, _),
    ):
        a = group.start(member(slow, "a"))
        await eventually(lambda: a.owning, timeout_seconds=RETRY * 2)
        b = group.start(member(kube, "b"))
        await eventually(lambda: b.owning, timeout_seconds=LEASE + 2 * RETRY)
        previous = await proxy.next_put()
        proxy.hold_until = previous + 2 * LEASE  # a's Lease expires: b takes everything
        await eventually(lambda: owned(b) == set(KEYS), timeout_seconds=LEASE + 2 * RETRY)
        proxy.delay = 3.0
        await asyncio.sleep(proxy.hold_until - loop.time())
        await eventually(lambda: a.state == "joining", timeout_seconds=RENEW + RETRY)
        await eventually(lambda: all_owned_once([a, b]), timeout_seconds=LEASE + 2 * RETRY)
        assert a.joins == 2
        await asyncio.sleep(LEASE)  # 3 s renewals keep it working
        assert a.owning
        assert all_owned_once([a, b])


async def test_a_member_with_failing_cycles_does_not_believe_a_renewing_member_expired(
    kube: Kube, apiserver: ApiServer, apiserver_proxy: GatedProxy
) -> None:
    """b's last list before its API server becomes unreachable misses a renewal of a's that
    lands just after it (held 7.9 s, answered before a's renew deadline). b's view stays fresh
    10 s longer; before LISTED_SHARE, b believed a expired 15 s after it last saw a's Lease
    change, and both owned a's objects for about two seconds."""
    loop = asyncio.get_running_loop()
    async with (
        LeaseHolding(apiserver.url) as proxy,
        await connect(server=proxy.url) as slow,
        await connect(server=apiserver_proxy.url) as cut_off,
        members() as (group, watcher),
    ):
        a = group.start(member(slow, "a"))
        await eventually(lambda: a.owning, timeout_seconds=RETRY * 2)
        b = group.start(member(cut_off, "b"))
        await eventually(lambda: b.owning, timeout_seconds=LEASE + 2 * RETRY)
        mine = owned(a)
        b_took: list[float] = []
        b.on_change.append(lambda: b_took.append(loop.time()) if owned(b) & mine else None)

        previous = await proxy.next_put()
        proxy.hold_until = previous + RETRY + 7.9
        await asyncio.sleep(previous + RENEW - 0.15 - loop.time())
        # b's last list (started more than 5 s after it saw a's renewal) ends before a's
        # next renewal lands.
        apiserver_proxy.gate.clear()
        await eventually(lambda: b.state == "fenced", timeout_seconds=RENEW + RETRY)
        assert a.owning
        assert owned(a) == mine
        assert not b_took
        assert not watcher.double

        # Its held renewal is answered inside b's keep window: b works on at once.
        apiserver_proxy.gate.set()
        await eventually(lambda: all_owned_once([a, b]), timeout_seconds=RETRY)
        assert (b.kept, b.joins) == (1, 1)
        assert owned(a) == mine
        assert not b_took


class RandomDelays(GatedProxy):
    """Delays each request before it is forwarded and its answer after (the request landed,
    the client may give up before it hears so), by amounts drawn from a seeded generator:
    mostly nothing, sometimes a few seconds, now and then longer than a renew deadline."""

    def __init__(self, upstream: str, rng: random.Random) -> None:
        super().__init__(upstream)
        self.rng = rng

    def _draw(self) -> float:
        roll = self.rng.random()
        if roll < 0.85:
            return 0.0
        if roll < 0.97:
            return self.rng.uniform(0.5, 6.0)
        return self.rng.uniform(6.0, 16.0)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        before, after = self._draw(), self._draw()
        await asyncio.sleep(before)
        answer = await super()._forward(request)
        await asyncio.sleep(after)
        return answer


@pytest.mark.parametrize("seed", SEEDS)
async def test_random_delays_never_give_an_object_two_owners(
    apiserver: ApiServer, seed: int
) -> None:
    """Three members, each behind its own proxy that delays its renewals and lists at random,
    for ten minutes of loop time: the watcher checks every change any of them publishes.
    Late renewals are kept and members rejoin along the way (checked, so that the test cannot
    pass by exercising neither). Before LISTED_SHARE, 11 of the seeds 1..24 gave objects two
    owners (seed 3: 105 checks at 435 s); none does since (about 20 kept and 40 rejoins each).
    """
    rng = random.Random(seed)
    proxies = [RandomDelays(apiserver.url, random.Random(rng.random())) for _ in range(3)]
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for proxy in proxies:
            await stack.enter_async_context(proxy)
            clients.append(await stack.enter_async_context(await connect(server=proxy.url)))
        group, watcher = await stack.enter_async_context(members())
        started = [
            group.start(member(client, identity))
            for client, identity in zip(clients, "abc", strict=True)
        ]
        await asyncio.sleep(600.0)
        assert watcher.checks > 100
        assert not watcher.double
        kept = sum(m.kept for m in started)
        rejoins = sum(m.joins for m in started) - len(started)
        assert kept > 0
        assert rejoins > 0
