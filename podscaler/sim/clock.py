"""The one clock: wall time in production, simulated time in the embedded cluster.

DESIGN.md's second principle is that every loop takes its time from the event loop
(``loop.time()``, ``asyncio.sleep``, ``asyncio.timeout``) or from an injected :class:`Clock`,
never from ``time.time()``. That is what lets ``podscaler simulate`` run a day in seconds: if
the *event loop itself* keeps simulated time, then the operator's loops, aiohttp's timeouts,
``asyncio.wait_for`` and every ``call_later`` in code we did not write all run on it unchanged.

So the simulated clock is an event loop, :class:`SimulatedEventLoop`, whose ``time()`` returns
simulated seconds. In both of its modes time moves only while the loop has nothing to run — a
callback never sees the clock move under it, and CPU work costs no simulated time:

* **paced** (``speed=60`` = a simulated minute per real second): the loop waits, in real
  time, until ``speed`` times the real time elapsed reaches its next timer, then sets simulated
  time to exactly that timer's deadline. Timers therefore fire exactly on (simulated) time
  however coarse the OS's waits are, and the simulation keeps pace with the wall on average;
  I/O arriving during a wait moves the clock to the wall's time. Anything outside the
  process (kubectl, a browser, an operator in another process) sees a consistent, merely
  faster, world. This is the mode for ``podscaler demo``.
* **unlimited** (``speed=None``): the classic discrete-event simulation. Time stands still
  while there is work; when the loop would block waiting for its next timer and no I/O is
  ready, time *jumps* to that timer (the loop's timer heap is the sleepers' heap). A sleep of
  24 hours costs one iteration.

Unlimited mode and real sockets. The embedded API server and the clients talking to it run in
the same loop over localhost TCP; a jump while a request is in flight would fire that request's
timeout at once. Before jumping the loop therefore makes sure the sockets are quiet:

1. it polls the selector with a zero timeout first; ready I/O is always handled before any
   jump (on Linux a localhost ``send`` has reached the peer's buffer when it returns, so a
   request written in this loop is visible to this poll);
2. it jumps only after ``settle_polls`` consecutive empty polls, each a full loop iteration;
3. if there was any I/O since the last jump, it additionally sleeps ``io_settle_seconds`` of
   real time and polls once more, for packets the kernel is still delivering;
4. while work handed to threads (``run_in_executor``, which is also how ``getaddrinfo`` runs)
   is pending, it does not jump at all: it waits for real and lets simulated time flow at the
   real pace, since a thread's progress cannot be fast-forwarded.

5. while a connection to a server in *another process* has sent something and not yet been
   answered, it does not jump either: such a peer (moto for SQS, a Kafka broker) answers in
   real time, and a jump would fire the request's timeout before the answer arrives. The loop
   sees the writes through its own socket transports (client connections to addresses it does
   not serve itself: a server in this loop answers on simulated time, and a server writing to
   its clients expects no answer) and the answers through the selector; a request unanswered
   for ``reply_patience_seconds`` of real time stops holding the clock, so a long-poll or a
   lost peer cannot freeze a simulation.

:class:`SimulatedClock` is the :class:`Clock` view of such a loop (``now()`` as an aware UTC
datetime, anchored at the loop's ``start``); :class:`WallClock` is the production clock.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from asyncio import selector_events
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, TypeVarTuple, Unpack, runtime_checkable

__all__ = [
    "Clock",
    "SimulatedClock",
    "SimulatedEventLoop",
    "SimulatedEventLoopPolicy",
    "WallClock",
    "clock_of",
    "run_simulated",
]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

#: Longest real wait in one step while threads work in unlimited mode; short so that a timer
#: due during the wait is not fired much later (in simulated time) than it should.
_EXECUTOR_STEP_SECONDS = 0.005


@runtime_checkable
class Clock(Protocol):
    """Where time comes from. Inject it; never call ``time.time()`` or ``datetime.now()``."""

    def now(self) -> datetime:
        """The current time as a timezone-aware UTC datetime (timestamps, Events, status)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for intervals and deadlines; the same
        clock as the running event loop's ``time()``."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""
        ...


class WallClock:
    """Real time, for production. ``monotonic()`` is what the default event loop uses."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _WarpSelector(selectors.BaseSelector):
    """Wraps the real selector; decides in ``select`` whether to wait, poll or jump."""

    def __init__(self, inner: selectors.BaseSelector, loop: SimulatedEventLoop) -> None:
        self._inner = inner
        self._loop = loop
        self._empty_polls = 0
        self._io_since_jump = False

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop
        ready = self._inner.select(0)
        if ready:
            loop._answers_arrived(ready)
        if ready or timeout == 0:
            # Work to do: time never moves while the loop is busy.
            self._empty_polls = 0
            self._io_since_jump = self._io_since_jump or bool(ready)
            return ready

        if loop.speed is not None:
            if timeout is None:
                ready = self._inner.select(None)
                loop._catch_up(None)
                return ready
            deadline = loop.time() + timeout
            wait_real_seconds = loop._real_seconds_until(deadline)
            if wait_real_seconds > 0:
                ready = self._inner.select(wait_real_seconds)
                if ready:
                    loop._catch_up(deadline)
                    self._empty_polls = 0
                    self._io_since_jump = True
                    return ready
            # The wall has reached the timer (or we are behind): jump like unlimited mode.

        elif loop.executor_busy() or loop.awaiting_replies():
            # Something outside the loop is making progress in real time: let simulated time
            # flow at the real pace until it is done.
            self._empty_polls = 0
            step = min(timeout if timeout is not None else 1.0, _EXECUTOR_STEP_SECONDS)
            started = time.monotonic()
            ready = self._inner.select(step)
            elapsed = time.monotonic() - started
            loop._jump(elapsed if timeout is None else min(elapsed, timeout))
            if ready:
                loop._answers_arrived(ready)
            self._io_since_jump = self._io_since_jump or bool(ready)
            return ready

        elif timeout is None:
            # No timer to jump to: only I/O or another thread can wake the loop.
            return self._inner.select(None)

        self._empty_polls += 1
        if self._empty_polls < loop.settle_polls:
            return []
        if self._io_since_jump and loop.io_settle_seconds > 0:
            self._io_since_jump = False
            time.sleep(loop.io_settle_seconds)
            ready = self._inner.select(0)
            if ready:
                self._empty_polls = 0
                self._io_since_jump = True
                return ready
        self._empty_polls = 0
        self._io_since_jump = False
        loop._jump(timeout)
        return []


#: asyncio's socket transport; private, but the simulated loop must see a client's writes (a
#: request sent) and the standard library offers no hook for that.
_SocketTransport: Any = getattr(selector_events, "_SelectorSocketTransport")  # noqa: B009


class _ClientTransport(_SocketTransport):  # type: ignore[misc]
    """A client connection's transport that tells the loop when a request goes out."""

    __slots__ = ()

    def write(self, data: Any) -> None:
        if data:
            self._loop._request_sent(self._sock_fd)
        super().write(data)

    def writelines(self, list_of_data: Any) -> None:
        self._loop._request_sent(self._sock_fd)
        super().writelines(list_of_data)


class SimulatedEventLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on simulated time (see the module docstring for the modes).

    ``time()`` starts at 0.0 and corresponds to the aware datetime ``start`` (default: the
    real time at construction, so timestamps in a demo look current).
    """

    def __init__(
        self,
        *,
        start: datetime | None = None,
        speed: float | None = None,
        settle_polls: int = 3,
        io_settle_seconds: float = 0.0002,
        reply_patience_seconds: float = 2.0,
        selector: selectors.BaseSelector | None = None,
    ) -> None:
        self._start = datetime.now(UTC)
        self._now_seconds = 0.0
        self._anchor_seconds = 0.0
        self._anchor_real_seconds = time.monotonic()
        self._speed: float | None = None
        self.settle_polls = settle_polls
        self.io_settle_seconds = io_settle_seconds
        self.reply_patience_seconds = reply_patience_seconds
        #: Client sockets that sent something not yet answered: fd -> real time of the send.
        self._awaiting_reply: dict[int, float] = {}
        #: (host, port) of the servers this loop serves; connections to them are not "outside".
        self._listening: set[tuple[Any, ...]] = set()
        self._executor_futures: set[asyncio.Future[Any]] = set()
        self._clock: SimulatedClock | None = None
        super().__init__(_WarpSelector(selector or selectors.DefaultSelector(), self))
        try:
            if start is not None:
                if start.tzinfo is None:
                    raise ValueError("start must be a timezone-aware datetime")
                self._start = start.astimezone(UTC)
            if settle_polls < 1:
                raise ValueError("settle_polls must be at least 1")
            if io_settle_seconds < 0:
                raise ValueError("io_settle_seconds must not be negative")
            self.set_speed(speed)
        except BaseException:
            self.close()  # a half-made loop must not leak its selector and self-pipe
            raise

    @property
    def start(self) -> datetime:
        """The UTC datetime at which ``time()`` was 0."""
        return self._start

    @property
    def speed(self) -> float | None:
        """Simulated seconds per real second, or None for as fast as possible."""
        return self._speed

    @property
    def clock(self) -> SimulatedClock:
        if self._clock is None:
            self._clock = SimulatedClock(self)
        return self._clock

    def set_speed(self, speed: float | None) -> None:
        """Change pace without a jump in simulated time (a demo can speed up or slow down)."""
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive or None (unlimited), not {speed!r}")
        self._speed = speed
        self._anchor_seconds = self._now_seconds
        self._anchor_real_seconds = time.monotonic()

    def time(self) -> float:
        return self._now_seconds

    def advance(self, seconds: float) -> None:
        """Skip ``seconds`` ahead (for tests and "fast-forward" buttons); timers that become
        due run on the next iteration. In paced mode the pace continues from the new time."""
        if seconds < 0:
            raise ValueError("simulated time never goes back")
        self._now_seconds += seconds
        self._anchor_seconds += seconds

    def _jump(self, seconds: float) -> None:
        self._now_seconds += seconds

    def _paced_target(self) -> float:
        """Where the wall says simulated time should be (paced mode)."""
        speed = self._speed or 1.0
        return self._anchor_seconds + (time.monotonic() - self._anchor_real_seconds) * speed

    def _real_seconds_until(self, deadline: float) -> float:
        return (deadline - self._paced_target()) / (self._speed or 1.0)

    def _catch_up(self, deadline: float | None) -> None:
        """After a paced wait that I/O cut short: move to the wall's time, never past the
        next timer (``deadline``) so that timers still fire exactly on time."""
        target = self._paced_target()
        if deadline is not None:
            target = min(target, deadline)
        self._now_seconds = max(self._now_seconds, target)

    def executor_busy(self) -> bool:
        """Whether work handed to threads is still running (then time is not jumped)."""
        return any(not future.done() for future in self._executor_futures)

    def awaiting_replies(self) -> bool:
        """Whether a connection this process opened waits for an answer (see the module
        docstring); requests older than ``reply_patience_seconds`` of real time are given up."""
        if not self._awaiting_reply:
            return False
        oldest_allowed = time.monotonic() - self.reply_patience_seconds
        for fd, sent in list(self._awaiting_reply.items()):
            if sent < oldest_allowed:
                del self._awaiting_reply[fd]
        return bool(self._awaiting_reply)

    def _request_sent(self, fd: int) -> None:
        self._awaiting_reply.setdefault(fd, time.monotonic())

    def _answers_arrived(self, ready: list[tuple[selectors.SelectorKey, int]]) -> None:
        if self._awaiting_reply:
            for key, events in ready:
                if events & selectors.EVENT_READ:
                    self._awaiting_reply.pop(key.fd, None)

    def _make_socket_transport(
        self,
        sock: Any,
        protocol: Any,
        waiter: Any = None,
        *,
        extra: Any = None,
        server: Any = None,
    ) -> Any:
        if server is not None or self._served_here(sock):
            # Accepted connections (a server's writes are answers, not requests), and client
            # connections to a server in this loop, which answers on simulated time.
            return super()._make_socket_transport(  # type: ignore[misc]
                sock, protocol, waiter, extra=extra, server=server
            )
        return _ClientTransport(self, sock, protocol, waiter, extra, server)

    def _served_here(self, sock: Any) -> bool:
        try:
            peer = sock.getpeername()
        except (OSError, AttributeError):
            return False
        return isinstance(peer, tuple) and tuple(peer[:2]) in self._listening

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        """As asyncio's, remembering the addresses, so connections to them are in-process."""
        server = await super().create_server(*args, **kwargs)
        for listening in server.sockets:
            address = listening.getsockname()
            if isinstance(address, tuple):
                self._listening.add(tuple(address[:2]))
        return server

    def run_in_executor(
        self,
        executor: Executor | None,
        func: Callable[[Unpack[_Ts]], _T],
        *args: *_Ts,
    ) -> asyncio.Future[_T]:
        future = super().run_in_executor(executor, func, *args)
        self._executor_futures.add(future)
        future.add_done_callback(self._executor_futures.discard)
        return future


class SimulatedClock:
    """The :class:`Clock` of a :class:`SimulatedEventLoop`: ``monotonic()`` is the loop's
    ``time()`` and ``now()`` is ``start`` plus that many seconds. ``sleep`` must be awaited
    in that loop."""

    def __init__(self, loop: SimulatedEventLoop) -> None:
        self._loop = loop

    @property
    def loop(self) -> SimulatedEventLoop:
        return self._loop

    def now(self) -> datetime:
        return self._loop.start + timedelta(seconds=self._loop.time())

    def monotonic(self) -> float:
        return self._loop.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def clock_of(loop: asyncio.AbstractEventLoop | None = None) -> Clock:
    """The clock matching ``loop`` (default: the running loop): its :class:`SimulatedClock`
    if it is simulated, else a :class:`WallClock`."""
    if loop is None:
        loop = asyncio.get_running_loop()
    if isinstance(loop, SimulatedEventLoop):
        return loop.clock
    return WallClock()


class SimulatedEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """A policy whose new loops are simulated; for frameworks that take a policy (pytest-asyncio's
    ``event_loop_policy`` fixture)."""

    def __init__(self, **loop_options: Any) -> None:
        super().__init__()
        self._loop_options = loop_options

    def new_event_loop(self) -> SimulatedEventLoop:
        return SimulatedEventLoop(**self._loop_options)


def run_simulated(
    main: Callable[[SimulatedClock], Awaitable[_T]] | Coroutine[Any, Any, _T],
    *,
    start: datetime | None = None,
    speed: float | None = None,
    settle_polls: int = 3,
    io_settle_seconds: float = 0.0002,
) -> _T:
    """Run ``main`` to completion on a fresh simulated loop, like ``asyncio.run``.

    ``main`` is a coroutine, or a function of the loop's clock returning an awaitable.
    """

    def factory() -> SimulatedEventLoop:
        return SimulatedEventLoop(
            start=start, speed=speed, settle_polls=settle_polls, io_settle_seconds=io_settle_seconds
        )

    with asyncio.Runner(loop_factory=factory) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, SimulatedEventLoop)
        if asyncio.iscoroutine(main):
            return runner.run(main)
        assert callable(main)

        async def call() -> _T:
            return await main(loop.clock)

        return runner.run(call())
