"""The poll loop under sharding: it polls only owned objects, a rebalance stops a given-away
object at once and starts it over from a fresh context, and one taken back is rebuilt the same
way. Simulated time, no server."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from podscaler.controllers.loop import PollLoop
from podscaler.observability.metrics import OperatorMetrics
from podscaler.sim.clock import run_simulated
from tests.unit.controllers.test_loop import INTERVAL, Thing, thing


async def _record(ctx: Thing) -> None:
    ctx.polled_at.append(asyncio.get_running_loop().time())


def fresh(ctx: Thing) -> Thing:
    return replace(ctx, wake=asyncio.Event(), polled_at=[], closed=False)


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
