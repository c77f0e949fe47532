"""The simulated clock: asyncio code of any origin runs on simulated time.

Covers both modes of :class:`SimulatedEventLoop` — unlimited (time jumps to the next timer when
nothing else can happen) and paced (``speed`` times real time) — and that real localhost I/O,
including work handed to threads, still completes while time is being compressed.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web

from podscaler.clock import Clock, LoopClock, WallClock, clock_of
from podscaler.clock import now as clock_now
from podscaler.sim.clock import (
    SimulatedClock,
    SimulatedEventLoop,
    SimulatedEventLoopPolicy,
    run_simulated,
)

START = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)

_T = TypeVar("_T")


def run_plain(main: Coroutine[Any, Any, _T]) -> _T:
    """Run on an ordinary loop without touching the global one (pytest-asyncio owns that)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()


DAY_SECONDS = 24 * 3600


def test_a_day_of_sleep_takes_well_under_a_second() -> None:
    async def main(clock: SimulatedClock) -> float:
        await clock.sleep(DAY_SECONDS)
        return clock.monotonic()

    started = time.monotonic()
    assert run_simulated(main, start=START) == pytest.approx(DAY_SECONDS)
    assert time.monotonic() - started < 1.0


def test_a_month_of_short_sleeps_is_cheap_and_exact() -> None:
    async def main(clock: SimulatedClock) -> float:
        for _ in range(30 * 24 * 60):
            await asyncio.sleep(60)
        return clock.monotonic()

    started = time.monotonic()
    assert run_simulated(main) == pytest.approx(30 * DAY_SECONDS)
    assert time.monotonic() - started < 10.0


def test_now_follows_loop_time() -> None:
    async def main(clock: SimulatedClock) -> tuple[datetime, datetime, float]:
        before = clock.now()
        await asyncio.sleep(90)
        return before, clock.now(), asyncio.get_running_loop().time()

    before, after, loop_seconds = run_simulated(main, start=START)
    assert before == START
    assert after == START + timedelta(seconds=90)
    assert loop_seconds == pytest.approx(90)
    assert after.tzinfo is not None


def test_timeouts_fire_in_simulated_time() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(3600), timeout=10)
        first = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.Event().wait()
        return first, loop.time()

    first, second = run_simulated(main())
    assert first == pytest.approx(10)
    assert second == pytest.approx(15)


def test_tasks_interleave_in_simulated_time_order() -> None:
    async def ticker(name: str, period: float, count: int, log: list[tuple[float, str]]) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(count):
            await asyncio.sleep(period)
            log.append((loop.time(), name))

    async def main() -> list[tuple[float, str]]:
        log: list[tuple[float, str]] = []
        await asyncio.gather(ticker("fast", 3, 5, log), ticker("slow", 5, 3, log))
        return log

    log = run_simulated(main())
    rounded = [(round(t), name) for t, name in log]
    # At 15 s both wake; their order is the timer heap's business, not ours.
    assert rounded[:6] == [
        (3, "fast"),
        (5, "slow"),
        (6, "fast"),
        (9, "fast"),
        (10, "slow"),
        (12, "fast"),
    ]
    assert sorted(rounded[6:]) == [(15, "fast"), (15, "slow")]


def test_call_later_and_loop_time_agree() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        fired: asyncio.Future[float] = loop.create_future()
        loop.call_later(42.5, lambda: fired.set_result(loop.time()))
        return await fired

    assert run_simulated(main()) == pytest.approx(42.5)


def test_time_stands_still_while_there_is_work() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        before = loop.time()
        for _ in range(1000):
            await asyncio.sleep(0)
        sum(range(100_000))
        return loop.time() - before

    assert run_simulated(main()) == 0.0


async def _slow_handler(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("delay", "0")))
    return web.json_response({"at": asyncio.get_running_loop().time()})


async def _serve() -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_get("/", _slow_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.base_events.Server)
    port = server.sockets[0].getsockname()[1]
    return runner, int(port)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_aiohttp_on_localhost_works_under_the_simulated_loop(host: str) -> None:
    """Requests complete (``localhost`` also exercises getaddrinfo in a thread); a handler
    that sleeps a simulated minute answers after a simulated minute, and a client timeout
    shorter than that fires in simulated time."""

    async def main() -> tuple[list[float], float, float]:
        loop = asyncio.get_running_loop()
        runner, port = await _serve()
        try:
            timeout = aiohttp.ClientTimeout(total=120)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                answers = []
                for delay in (0, 60, 0):
                    async with session.get(f"http://{host}:{port}/?delay={delay}") as response:
                        answers.append((await response.json())["at"])
                before = loop.time()
                with pytest.raises(asyncio.TimeoutError):
                    async with session.get(
                        f"http://{host}:{port}/?delay=600",
                        timeout=aiohttp.ClientTimeout(total=30),
                    ):
                        pass
                timed_out_after = loop.time() - before
        finally:
            await runner.cleanup()
        return answers, timed_out_after, loop.time()

    started = time.monotonic()
    answers, timed_out_after, _ = run_simulated(main())
    assert answers[0] == pytest.approx(0, abs=1)
    assert answers[1] - answers[0] == pytest.approx(60, abs=1)
    assert answers[2] == pytest.approx(answers[1], abs=1)
    assert timed_out_after == pytest.approx(30, abs=1)
    assert time.monotonic() - started < 5.0


def test_many_requests_interleaved_with_timers() -> None:
    """A poller hitting the server every simulated 10 s for an hour sees every answer."""

    async def main() -> int:
        runner, port = await _serve()
        ok = 0
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                for _ in range(360):
                    async with session.get(f"http://127.0.0.1:{port}/?delay=1") as response:
                        ok += response.status == 200
                    await asyncio.sleep(9)
        finally:
            await runner.cleanup()
        return ok

    assert run_simulated(main()) == 360


class _LaggingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """A kernel that delivers on loopback late: a socket is reported ready only once it has
    been ready for ``lag`` real seconds (as when softirq work is deferred on a busy machine)."""

    def __init__(self, lag: float) -> None:
        super().__init__()
        self.lag = lag
        self._since: dict[int, float] = {}

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        deadline = time.monotonic() + (3600.0 if timeout is None else timeout)
        while True:
            now = time.monotonic()
            shown = []
            for key, events in super().select(0):
                if now - self._since.setdefault(key.fd, now) >= self.lag:
                    del self._since[key.fd]
                    shown.append((key, events))
            if shown or now >= deadline:
                return shown
            time.sleep(min(0.001, deadline - now))


def test_requests_between_two_ends_of_the_loop_take_no_time_however_late_the_kernel() -> None:
    """While a request and its answer are on their way between a client and a server of this
    loop, time stands still — even when the kernel shows them late and a timer is always due
    (a ticker): the loop counts the bytes in flight instead of guessing that the sockets are
    quiet. A run does not depend on the machine's load."""

    async def main() -> tuple[list[float], int, float]:
        loop = asyncio.get_running_loop()
        runner, port = await _serve()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        spent = []
        try:
            timeout = aiohttp.ClientTimeout(total=0.5)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                for _ in range(5):
                    before = loop.time()
                    async with session.get(f"http://127.0.0.1:{port}/") as response:
                        await response.json()
                    spent.append(loop.time() - before)
                    await asyncio.sleep(0.01)
        finally:
            ticking.cancel()
            await runner.cleanup()
        return spent, ticks, loop.time()

    def factory() -> SimulatedEventLoop:
        return SimulatedEventLoop(start=START, selector=_LaggingSelector(0.01))

    with asyncio.Runner(loop_factory=factory) as runner:
        spent, ticks, end = runner.run(main())
    assert spent == [0.0] * 5
    assert ticks >= 49  # a timer was due all along
    assert end == 0.05  # only the five 10 ms sleeps moved time


def test_a_reader_that_stops_reading_does_not_freeze_time() -> None:
    """A client that reads a long stream slowly (its transport pauses reading: flow control)
    leaves bytes unread on purpose; time goes on for its sleeps, and the stream completes."""
    chunk = b"x" * 65536

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(64):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def main() -> tuple[int, float]:
        app = web.Application()
        app.router.add_get("/", stream)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        port = server.sockets[0].getsockname()[1]
        received = 0
        try:
            async with (
                aiohttp.ClientSession(read_bufsize=65536) as session,
                session.get(f"http://127.0.0.1:{port}/") as response,
            ):
                async for data in response.content.iter_chunked(65536):
                    received += len(data)
                    await asyncio.sleep(1)
        finally:
            await runner.cleanup()
        return received, asyncio.get_running_loop().time()

    started = time.monotonic()
    received, end = run_simulated(main())
    assert received == 64 * 65536
    assert end >= 64
    assert time.monotonic() - started < 10


def test_timers_fire_exactly_on_their_deadline_never_before() -> None:
    """Seven sleeps of 30/7 s sum to 29.999999999999996 in floats; a waiter for 30.0 must not
    wake a few ulps early (asyncio fires timers within its clock resolution) and wait again
    forever. Deadlines sit on a microsecond grid and the loop lands exactly on them."""

    async def main() -> tuple[list[tuple[float, float]], float, int]:
        loop = asyncio.get_running_loop()
        seen: list[tuple[float, float]] = []

        async def sleeper() -> None:
            for _ in range(7):
                await asyncio.sleep(30 / 7)

        async def waiter() -> int:
            rounds = 0
            while loop.time() < 30.0:
                rounds += 1
                assert rounds < 10, f"spinning at {loop.time()!r}"
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(30.0 - loop.time()):
                        await asyncio.Event().wait()
            return rounds

        sleeping = asyncio.create_task(sleeper())
        rounds = await waiter()
        end = loop.time()
        await sleeping
        for delay in (0.1, 1e-9, 2.5e-7, 1 / 3, 1e-7 + 1):
            due = loop.time() + delay
            fired: asyncio.Future[float] = loop.create_future()
            loop.call_at(due, lambda f=fired: f.set_result(loop.time()))
            seen.append((due, await fired))
        return seen, end, rounds

    seen, end, rounds = run_simulated(main())
    for due, at in seen:
        assert at >= due
        assert at - due < 1e-6
        assert at * 1_000_000 == round(at * 1_000_000)  # on the grid
    assert end == 30.0
    assert rounds <= 2


def test_threads_get_real_time_to_finish() -> None:
    """Work in a thread is not outrun: a timeout longer than the thread's real work does not
    fire, because time flows at the real pace while the thread runs."""

    def work() -> str:
        time.sleep(0.05)
        return "done"

    async def main() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        result = await asyncio.wait_for(loop.run_in_executor(None, work), timeout=1)
        return result, loop.time()

    result, elapsed = run_simulated(main())
    assert result == "done"
    assert 0.04 <= elapsed < 1


def test_a_thread_wakes_the_loop_without_timers() -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        threading.Timer(0.02, lambda: loop.call_soon_threadsafe(future.set_result, "hi")).start()
        return await future

    assert run_simulated(main()) == "hi"


def test_raw_socket_pair_round_trip_does_not_let_time_jump() -> None:
    async def main() -> tuple[bytes, float]:
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair()
        left.setblocking(False)
        right.setblocking(False)
        try:

            async def echo() -> None:
                data = await loop.sock_recv(right, 100)
                await loop.sock_sendall(right, data.upper())

            task = asyncio.create_task(echo())
            await loop.sock_sendall(left, b"ping")
            reply = await asyncio.wait_for(loop.sock_recv(left, 100), timeout=3600)
            await task
        finally:
            left.close()
            right.close()
        return reply, loop.time()

    assert run_simulated(main()) == (b"PING", 0.0)


def test_paced_mode_runs_at_the_given_speed() -> None:
    async def main(clock: SimulatedClock) -> float:
        await asyncio.sleep(100)
        return clock.monotonic()

    started = time.monotonic()
    simulated = run_simulated(main, speed=1000)
    real = time.monotonic() - started
    assert simulated == pytest.approx(100)  # exactly on the timer, however coarse the wait
    assert 0.09 <= real < 1.0


def test_changing_speed_does_not_jump_time() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SimulatedEventLoop)
        await asyncio.sleep(50)
        before = loop.time()
        loop.set_speed(1000)
        after = loop.time()
        await asyncio.sleep(10)
        loop.set_speed(None)
        await asyncio.sleep(3600)
        return after - before, loop.time()

    step, end = run_simulated(main())
    assert step == pytest.approx(0, abs=0.01)
    assert end == pytest.approx(3660, abs=1)


def test_advance_skips_ahead_for_tests() -> None:
    loop = SimulatedEventLoop(start=START)
    try:
        loop.advance(30)
        assert loop.time() == 30
        assert loop.clock.now() == START + timedelta(seconds=30)
        with pytest.raises(ValueError, match="never goes back"):
            loop.advance(-1)
    finally:
        loop.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"start": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"speed": 0}, "speed must be positive"),
        ({"reply_patience_seconds": 0}, "patience"),
        ({"in_flight_patience_seconds": -1}, "patience"),
    ],
)
def test_bad_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimulatedEventLoop(**options)  # type: ignore[arg-type]


def test_policy_makes_simulated_loops() -> None:
    policy = SimulatedEventLoopPolicy(start=START)
    loop = policy.new_event_loop()
    try:
        assert isinstance(loop, SimulatedEventLoop)
        assert loop.start == START
    finally:
        loop.close()


def test_clock_of_picks_the_matching_clock() -> None:
    async def simulated() -> Clock:
        return clock_of()

    clock = run_simulated(simulated())
    assert isinstance(clock, SimulatedClock)

    async def wall() -> Clock:
        return clock_of()

    loop_clock = run_plain(wall())
    assert isinstance(loop_clock, LoopClock)
    assert isinstance(loop_clock, Clock)
    assert loop_clock.now().tzinfo is UTC
    assert abs(loop_clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_now_is_the_running_loops_time() -> None:
    async def simulated() -> datetime:
        await asyncio.sleep(90)
        return clock_now()

    assert run_simulated(simulated(), start=START) == START + timedelta(seconds=90)
    assert abs(clock_now() - datetime.now(UTC)) < timedelta(seconds=5)  # no loop: the wall


def test_wall_clock_sleeps_for_real() -> None:
    async def main() -> None:
        await WallClock().sleep(0.01)

    started = time.monotonic()
    run_plain(main())
    assert time.monotonic() - started >= 0.009
