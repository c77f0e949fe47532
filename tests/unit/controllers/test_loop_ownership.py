"""The poll loop under sharding: it polls only owned objects, a rebalance stops a given-away
object at once and starts it over from a fresh context, and one taken back is rebuilt the same
way. Simulated time, no server."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from podscaler.controllers.loop import PollLoop, Wake
from podscaler.observability.metrics import OperatorMetrics
from podscaler.sim.clock import run_simulated
from tests.unit.controllers.test_loop import INTERVAL, Thing, thing


async def _record(ctx: Thing) -> None:
    ctx.polled_at.append(asyncio.get_running_loop().time())


def fresh(ctx: Thing) -> Thing:
    return replace(ctx, wake=Wake(), polled_at=[], closed=False)


def test_only_owned_objects_are_polled_and_a_handover_starts_from_a_fresh_context() -> None:
    async def main() -> None:
        owned = {("ns", "a")}
        polls: PollLoop[Thing] = PollLoop(
            "ScaledObject", _record, metrics=OperatorMetrics(), owns=owned.__contains__, fresh=fresh
        )
        a, b = thing("a"), thing("b")
        polls.add(("ns", "a"), a)
        polls.add(("ns", "b"), b)
        await asyncio.sleep(2 * INTERVAL + 1)
        assert len(a.polled_at) >= 2
        assert b.polled_at == []
        assert polls.polled == [("ns", "a")]

        owned.clear()  # a moved to another replica
        assert polls.rebalance() == (1, 0)
        polled = len(a.polled_at)
        await asyncio.sleep(0)  # the cancellation lands on the next step, before any poll
        await asyncio.sleep(2 * INTERVAL)
        assert len(a.polled_at) == polled
        assert a.closed
        assert polls.objects[("ns", "a")] is not a  # forgotten: a fresh context waits
        assert polls.polled == []

        owned.update({("ns", "a"), ("ns", "b")})  # both come (back) here
        assert polls.rebalance() == (0, 2)
        await asyncio.sleep(INTERVAL + 1)
        back = polls.objects[("ns", "a")]
        assert back.polled_at  # polled again, from the fresh context
        assert b.polled_at
        assert polls.released == 1
        assert polls.taken == 2
        await polls.aclose()

    run_simulated(main())


def test_a_given_away_object_that_is_deleted_is_closed_once() -> None:
    async def main() -> None:
        owned = {("ns", "a")}
        polls: PollLoop[Thing] = PollLoop(
            "ScaledObject", _record, metrics=OperatorMetrics(), owns=owned.__contains__, fresh=fresh
        )
        polls.add(("ns", "a"), thing("a"))
        await asyncio.sleep(1)
        owned.clear()
        polls.rebalance()
        removed = await polls.remove(("ns", "a"))  # deleted while being released
        assert removed is not None
        assert removed.closed
        assert polls.objects == {}
        await polls.aclose()

    run_simulated(main())


def test_with_revive_objects_owned_elsewhere_hold_no_context() -> None:
    """One replica of N holds contexts for its own objects only: the others are keys, and a
    context is built (from the controller's cache) when one comes to this replica."""

    async def main() -> None:
        owned = {("ns", "a")}
        cache = {("ns", n): thing(n) for n in ("a", "b", "c")}
        revived: list[str] = []

        def revive(key: tuple[str, str]) -> Thing | None:
            revived.append(key[1])
            found = cache.get(key)
            return None if found is None else fresh(found)

        polls: PollLoop[Thing] = PollLoop(
            "ScaledObject",
            _record,
            metrics=OperatorMetrics(),
            owns=owned.__contains__,
            fresh=fresh,
            revive=revive,
        )
        for key, ctx in cache.items():
            polls.add(key, ctx)
        assert set(polls.objects) == {("ns", "a")}
        assert polls.dormant == {("ns", "b"), ("ns", "c")}
        assert polls.size == 3
        assert polls.known(("ns", "b"))

        del cache[("ns", "c")]  # gone from the cache: its delete is on its way
        owned.update({("ns", "b"), ("ns", "c")})
        owned.discard(("ns", "a"))
        assert polls.rebalance() == (1, 1)
        assert sorted(revived) == ["b", "c"]
        await asyncio.sleep(INTERVAL + 1)
        assert polls.objects[("ns", "b")].polled_at  # polled from the revived context
        assert ("ns", "a") not in polls.objects  # released: back to a key
        assert polls.dormant == {("ns", "a")}
        assert cache[("ns", "a")].closed

        owned.add(("ns", "a"))  # taken back while nothing is pending: revived again
        assert polls.rebalance() == (0, 1)
        assert set(polls.objects) == {("ns", "a"), ("ns", "b")}
        assert await polls.remove(("ns", "c")) is None
        assert polls.size == 2
        await polls.aclose()
        assert polls.size == 0

    run_simulated(main())


def test_with_revive_an_object_taken_back_during_its_release_keeps_a_context() -> None:
    async def main() -> None:
        owned = {("ns", "a")}
        polls: PollLoop[Thing] = PollLoop(
            "ScaledObject",
            _record,
            metrics=OperatorMetrics(),
            owns=owned.__contains__,
            fresh=fresh,
            revive=lambda key: thing(key[1]),
        )
        polls.add(("ns", "a"), thing("a"))
        await asyncio.sleep(1)
        owned.clear()
        assert polls.rebalance() == (1, 0)
        owned.add(("ns", "a"))  # back before the release finished
        assert polls.rebalance() == (0, 1)
        await asyncio.sleep(INTERVAL + 1)
        assert polls.dormant == set()
        assert polls.objects[("ns", "a")].polled_at
        assert polls.polled == [("ns", "a")]
        await polls.aclose()

    run_simulated(main())
