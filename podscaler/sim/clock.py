"""The simulated event loop: the embedded cluster's time.

DESIGN.md's second principle is that every loop takes its time from the event loop
(``loop.time()``, ``asyncio.sleep``, ``asyncio.timeout``) or from an injected clock
(:mod:`podscaler.clock`), never from the wall. That is what lets ``podscaler simulate`` run a
day in seconds: if the *event loop itself* keeps simulated time, then the operator's loops,
aiohttp's timeouts, ``asyncio.wait_for`` and every ``call_later`` in code we did not write all
run on it unchanged.

So the simulated clock is an event loop, :class:`SimulatedEventLoop`, whose ``time()`` returns
simulated seconds. In both of its modes time moves only while the loop has nothing to run — a
callback never sees the clock move under it, and CPU work costs no simulated time.

**Exact time.** The loop counts time in whole microseconds (an integer), and every timer's
deadline is rounded up onto that grid when it is scheduled. When the loop moves time to a timer
it lands *exactly* on the timer's deadline, the timer fires there and nothing fires early, so
``loop.time() >= deadline`` holds in the callback. (With float seconds summed from sleeps, seven
sleeps of 30/7 s end at 29.999999999999996; asyncio fires timers up to its clock resolution
early, so a waiter for 30.0 woke a few ulps before its deadline, saw it not yet due and waited
again, forever.) A float holds every microsecond exactly for 68 years of simulated time.

**The modes.**

* **unlimited** (``speed=None``): the classic discrete-event simulation. Time stands still
  while there is work; when the loop would block waiting for its next timer and nothing else
  can happen, time *jumps* to that timer. A sleep of 24 hours costs one iteration.
* **paced** (``speed=60`` = a simulated minute per real second): the loop waits, in real time,
  until ``speed`` times the real time elapsed reaches its next timer, then sets simulated time
  to exactly that timer's deadline; I/O arriving during a wait moves the clock to the wall's
  time. Anyone outside the process (kubectl, a browser) sees a consistent, merely faster,
  world. This is the mode for ``--serve``.

**Sockets between two ends of this loop.** The embedded API server and the clients talking to
it (the operator, the world's HTTP users) run in this loop over localhost TCP. Whether a request
written a moment ago is already readable on the other end is up to the kernel — on a loaded
machine the loopback's delivery can be deferred — and a jump taken while it is on its way would
fire that request's timeout, or simply let the server see it later in simulated time: a run
would depend on the machine's load. So the loop *accounts* for those bytes instead of guessing:
every connection whose two ends are transports of this loop counts the bytes (and the
end-of-stream) each end has written and the other has not yet read, and pending connects to a
server of this loop count too. While anything is in flight, time does not move: the loop waits
for the kernel, in real time, as long as it takes. The result is a pure function of what the
code does, not of when the kernel delivers.

**Work outside the loop** cannot be fast-forwarded, and is the one place where real time leaks
in: while work handed to threads (``run_in_executor``, also how ``getaddrinfo`` runs) is
pending, or a connection to a server in *another process* (moto for SQS, a Kafka broker) has
sent something not yet answered, simulated time flows at the real pace. A request unanswered
for ``reply_patience_seconds`` of real time stops holding the clock, so a long-poll or a lost
peer cannot freeze a simulation. A scenario whose parts all live in this process is
therefore deterministic for its seed; one that talks to other servers is as deterministic as
their answers.

:class:`SimulatedClock` is the :class:`~podscaler.clock.Clock` of such a loop (``now()`` as an
aware UTC datetime, anchored at the loop's ``start``); the loop carries it as its ``clock``, so
:func:`podscaler.clock.clock_of` finds it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import selectors
import socket
import ssl
from asyncio import constants, selector_events, sslproto
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, TypeVarTuple, Unpack

from podscaler.clock import WallClock

__all__ = [
    "SimulatedClock",
    "SimulatedEventLoop",
    "SimulatedEventLoopPolicy",
    "run_simulated",
]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

log = logging.getLogger(__name__)

#: The real clock, for the loop's own pacing and patience (never seen by simulated code).
_WALL = WallClock()

#: Ticks of simulated time per second: the loop counts whole microseconds.
_TICKS = 1_000_000

#: Longest real wait in one step while threads work in unlimited mode; short so that a timer
#: due during the wait is not fired much later (in simulated time) than it should.
_EXECUTOR_STEP_SECONDS = 0.005

#: Longest real wait in one step for bytes in flight between two ends of this loop.
_IN_FLIGHT_STEP_SECONDS = 0.05

_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def _ticks(seconds: float) -> int:
    """``seconds`` as the first tick at or after it (so a timer never fires before it is due,
    as a float comparison sees it)."""
    ticks = round(seconds * _TICKS)
    if ticks / _TICKS < seconds:
        ticks += 1
    return ticks


def _ticks_until(timeout: float) -> int:
    """The ticks to the next timer, from asyncio's ``timeout`` (its deadline minus ``time()``,
    both on the grid, so the float is a whole number of ticks give or take rounding)."""
    return max(1, round(timeout * _TICKS))


class _Link:
    """One TCP connection whose ends are both transports of this loop: what each end has
    written that the other has not read yet (bytes, and 1 for its end-of-stream).

    Ends are indexed 0 (client) and 1 (server). An end that paused reading (flow control: its
    consumer is behind) holds up nothing: what waits for it waits for the program, not for the
    kernel.
    """

    __slots__ = ("attached", "key", "open", "reading", "unread")

    def __init__(self, key: tuple[Any, Any]) -> None:
        #: (client address, server address)
        self.key = key
        #: whether that end's transport has been made (a server's client may be elsewhere)
        self.attached = [False, False]
        self.open = [True, True]
        self.reading = [True, True]
        #: unread[i]: written by end i, not yet read by the other end
        self.unread = [0, 0]


class _WarpSelector(selectors.BaseSelector):
    """Wraps the real selector; decides in ``select`` whether to wait, poll or move time."""

    def __init__(self, inner: selectors.BaseSelector, loop: SimulatedEventLoop) -> None:
        self._inner = inner
        self._loop = loop

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
        inner = self._inner
        ready = inner.select(0)
        if ready:
            if loop._awaiting_reply:
                loop._answers_arrived(ready)
            return ready
        if timeout == 0:
            return ready  # work to do: time never moves while the loop is busy

        if loop._in_flight():
            # Bytes between two ends of this loop are still in the kernel: wait for them, in
            # real time, with the simulated clock standing still.
            # (The next timer's distance is no bound here: time cannot reach it meanwhile.)
            ready = inner.select(_IN_FLIGHT_STEP_SECONDS)
            if not ready:
                loop._check_in_flight_patience()
            elif loop._awaiting_reply:
                loop._answers_arrived(ready)
            return ready
        loop._in_flight_since = None

        if loop._speed is not None:
            if timeout is None:
                ready = inner.select(None)
                loop._catch_up(None)
                return ready
            deadline = loop._now_ticks + _ticks_until(timeout)
            wait_real_seconds = loop._real_seconds_until(deadline)
            if wait_real_seconds > 0:
                ready = inner.select(wait_real_seconds)
                if ready:
                    loop._catch_up(deadline)
                    return ready
            # The wall has reached the timer (or we are behind): move onto it.
            loop._set_ticks(deadline)
            return []

        if loop.executor_busy() or loop.awaiting_replies():
            # Something outside the loop is making progress in real time: let simulated time
            # flow at the real pace until it is done (never past the next timer).
            step = min(timeout if timeout is not None else 1.0, _EXECUTOR_STEP_SECONDS)
            started = _WALL.monotonic()
            ready = inner.select(step)
            elapsed = int((_WALL.monotonic() - started) * _TICKS)
            if timeout is not None:
                elapsed = min(elapsed, _ticks_until(timeout))
            loop._set_ticks(loop._now_ticks + elapsed)
            if ready:
                loop._answers_arrived(ready)
            return ready

        if timeout is None:
            # No timer to jump to: only I/O or another thread can wake the loop.
            return inner.select(None)

        # Nothing can happen before the next timer: jump onto its deadline.
        loop._set_ticks(loop._now_ticks + _ticks_until(timeout))
        return []


#: asyncio's socket transport; private, but the simulated loop must see what goes through a
#: connection (requests out to other processes, bytes between its own ends) and the standard
#: library offers no hook for that.
_SocketTransport: Any = getattr(selector_events, "_SelectorSocketTransport")  # noqa: B009


class _ReadCounter:
    """A transport's socket, counting what it reads for the connection's :class:`_Link`."""

    __slots__ = ("_sock", "_transport")

    def __init__(self, sock: socket.socket, transport: _LinkedTransport) -> None:
        self._sock = sock
        self._transport = transport

    def recv(self, size: int) -> bytes:
        data = self._sock.recv(size)
        self._transport._read(len(data))
        return data

    def recv_into(self, buffer: Any, size: int = 0) -> int:
        count = self._sock.recv_into(buffer, size)
        self._transport._read(count)
        return count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _LinkedTransport(_SocketTransport):  # type: ignore[misc]
    """A transport of a connection between two ends of this loop (see the module docstring):
    it counts what it writes and reads, so the loop knows when the connection is quiet."""

    def __init__(
        self,
        loop: SimulatedEventLoop,
        sock: socket.socket,
        protocol: Any,
        waiter: Any = None,
        extra: Any = None,
        server: Any = None,
        *,
        link: _Link,
        side: int,
    ) -> None:
        self._link = link
        self._side = side
        super().__init__(loop, sock, protocol, waiter, extra, server)
        self._sock = _ReadCounter(sock, self)

    def _counts(self) -> bool:
        link = self._link
        return link.attached[0] and link.open[1 - self._side]

    def _wrote(self, size: int) -> None:
        link = self._link
        link.unread[self._side] += size
        if link.reading[1 - self._side]:
            self._loop._unread += size

    def write(self, data: Any) -> None:
        if data and not (self._conn_lost or self._eof) and self._counts():
            self._wrote(memoryview(data).nbytes)
        super().write(data)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def write_eof(self) -> None:
        if not (self._closing or self._eof) and self._counts():
            self._wrote(1)
        super().write_eof()

    def close(self) -> None:
        if not (self._closing or self._eof) and self._counts():
            self._wrote(1)
        super().close()

    def _read(self, count: int) -> None:
        link = self._link
        other = 1 - self._side
        # Zero bytes is the other end's end-of-stream, counted as one.
        taken = min(count or 1, link.unread[other])
        if taken:
            link.unread[other] -= taken
            if link.reading[self._side]:
                self._loop._unread -= taken

    def pause_reading(self) -> None:
        link = self._link
        if link.reading[self._side]:
            link.reading[self._side] = False
            self._loop._unread -= link.unread[1 - self._side]
        super().pause_reading()

    def resume_reading(self) -> None:
        super().resume_reading()
        link = self._link
        if self.is_reading() and not link.reading[self._side]:
            link.reading[self._side] = True
            self._loop._unread += link.unread[1 - self._side]

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        self._loop._detach(self._link, self._side)
        super()._call_connection_lost(exc)


class _ClientTransport(_SocketTransport):  # type: ignore[misc]
    """A client connection's transport to another process: tells the loop when a request
    goes out, so the loop waits for the answer before it jumps."""

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
        reply_patience_seconds: float = 2.0,
        in_flight_patience_seconds: float = 30.0,
        selector: selectors.BaseSelector | None = None,
    ) -> None:
        self._start = _WALL.now()
        self._now_ticks = 0
        self._now_seconds = 0.0
        self._anchor_seconds = 0.0
        self._anchor_real_seconds = _WALL.monotonic()
        self._speed: float | None = None
        self.reply_patience_seconds = reply_patience_seconds
        self.in_flight_patience_seconds = in_flight_patience_seconds
        #: Client sockets that sent something not yet answered: fd -> real time of the send.
        self._awaiting_reply: dict[int, float] = {}
        #: (host, port) of the servers this loop serves; connections to them are its own.
        self._listening: set[tuple[Any, ...]] = set()
        #: Connections between two ends of this loop, by (client address, server address).
        self._links: dict[tuple[Any, Any], _Link] = {}
        #: Bytes (and ends-of-stream) written on those and not yet read; connects under way.
        self._unread = 0
        self._connecting = 0
        self._in_flight_since: float | None = None
        self._executor_futures: set[asyncio.Future[Any]] = set()
        self._clock: SimulatedClock | None = None
        super().__init__(_WarpSelector(selector or selectors.DefaultSelector(), self))
        # Timers sit on the tick grid: one fires when time reaches its tick, never before.
        self._clock_resolution = 0.5 / _TICKS
        try:
            if start is not None:
                if start.tzinfo is None:
                    raise ValueError("start must be a timezone-aware datetime")
                self._start = start.astimezone(UTC)
            if reply_patience_seconds <= 0 or in_flight_patience_seconds <= 0:
                raise ValueError("patience must be positive")
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
        self._anchor_real_seconds = _WALL.monotonic()

    def time(self) -> float:
        return self._now_seconds

    def call_at(
        self,
        when: float,
        callback: Callable[[Unpack[_Ts]], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        # Onto the tick grid, rounding up: see "Exact time" in the module docstring.
        if math.isfinite(when):
            when = _ticks(when) / _TICKS
        return super().call_at(when, callback, *args, context=context)

    def advance(self, seconds: float) -> None:
        """Skip ``seconds`` ahead (for tests and "fast-forward" buttons); timers that become
        due run on the next iteration. In paced mode the pace continues from the new time."""
        if seconds < 0:
            raise ValueError("simulated time never goes back")
        before = self._now_seconds
        self._set_ticks(self._now_ticks + _ticks(seconds))
        self._anchor_seconds += self._now_seconds - before

    def _set_ticks(self, ticks: int) -> None:
        if ticks > self._now_ticks:
            self._now_ticks = ticks
            self._now_seconds = ticks / _TICKS

    def _paced_target(self) -> float:
        """Where the wall says simulated time should be (paced mode)."""
        speed = self._speed or 1.0
        return self._anchor_seconds + (_WALL.monotonic() - self._anchor_real_seconds) * speed

    def _real_seconds_until(self, deadline_ticks: int) -> float:
        return (deadline_ticks / _TICKS - self._paced_target()) / (self._speed or 1.0)

    def _catch_up(self, deadline_ticks: int | None) -> None:
        """After a paced wait that I/O cut short: move to the wall's time, never past the
        next timer (``deadline_ticks``) so that timers still fire exactly on time."""
        target = int(self._paced_target() * _TICKS)
        if deadline_ticks is not None:
            target = min(target, deadline_ticks)
        self._set_ticks(target)

    # ------------------------------------------------------------------ work outside the loop

    def executor_busy(self) -> bool:
        """Whether work handed to threads is still running (then time is not jumped)."""
        return any(not future.done() for future in self._executor_futures)

    def awaiting_replies(self) -> bool:
        """Whether a connection to another process waits for an answer (see the module
        docstring); requests older than ``reply_patience_seconds`` of real time are given up."""
        if not self._awaiting_reply:
            return False
        oldest_allowed = _WALL.monotonic() - self.reply_patience_seconds
        for fd, sent in list(self._awaiting_reply.items()):
            if sent < oldest_allowed:
                del self._awaiting_reply[fd]
        return bool(self._awaiting_reply)

    def _request_sent(self, fd: int) -> None:
        self._awaiting_reply.setdefault(fd, _WALL.monotonic())

    def _answers_arrived(self, ready: list[tuple[selectors.SelectorKey, int]]) -> None:
        if self._awaiting_reply:
            for key, events in ready:
                if events & selectors.EVENT_READ:
                    self._awaiting_reply.pop(key.fd, None)

    # ------------------------------------------------------------------ this loop's own sockets

    def _in_flight(self) -> bool:
        """Whether bytes or connects between two ends of this loop are under way."""
        return self._unread > 0 or self._connecting > 0

    def _check_in_flight_patience(self) -> None:
        """Bytes in flight that never arrive are a bug (an end that stopped reading without
        closing): after ``in_flight_patience_seconds`` of real time say so and let time go on,
        rather than freeze the simulation."""
        now = _WALL.monotonic()
        if self._in_flight_since is None:
            self._in_flight_since = now
            return
        if now - self._in_flight_since < self.in_flight_patience_seconds:
            return
        log.warning(
            "simulated loop: %d bytes between its own sockets unread for %.0f s of real time; "
            "no longer waiting for them",
            self._unread,
            now - self._in_flight_since,
        )
        for link in self._links.values():
            link.unread[0] = link.unread[1] = 0
        self._unread = 0
        self._connecting = 0
        self._in_flight_since = None

    def _is_served_here(self, address: Any) -> bool:
        if not isinstance(address, tuple) or len(address) < 2:
            return False
        host, port = address[0], address[1]
        if (host, port) in self._listening:
            return True
        return any(
            listening_port == port and listening_host in _WILDCARDS
            for listening_host, listening_port in self._listening
        )

    def _link_of(self, sock: socket.socket, side: int) -> _Link | None:
        """The :class:`_Link` of a new connection's ``side`` end (0 client, 1 server), or None
        when the connection leaves this loop."""
        try:
            local = sock.getsockname()
            peer = sock.getpeername()
        except (OSError, AttributeError):
            return None
        if not isinstance(local, tuple) or not isinstance(peer, tuple):
            return None
        if side == 0:
            if not self._is_served_here(peer):
                return None
            key = (tuple(local[:2]), tuple(peer[:2]))
        else:
            key = (tuple(peer[:2]), tuple(local[:2]))
        link = self._links.get(key)
        if link is None:
            link = self._links[key] = _Link(key)
        link.attached[side] = True
        return link

    def _detach(self, link: _Link, side: int) -> None:
        """``side``'s transport is gone: what was on its way to it will never be read."""
        if not link.open[side]:
            return
        link.open[side] = False
        if link.reading[side]:
            link.reading[side] = False
            self._unread -= link.unread[1 - side]
        link.unread[1 - side] = 0
        if (not (link.open[0] or link.open[1]) or not link.attached[0]) and self._links.get(
            link.key
        ) is link:
            del self._links[link.key]

    def _make_socket_transport(
        self,
        sock: Any,
        protocol: Any,
        waiter: Any = None,
        *,
        extra: Any = None,
        server: Any = None,
    ) -> Any:
        return self._transport_for(sock, protocol, waiter, extra, server)

    def _transport_for(self, sock: Any, protocol: Any, waiter: Any, extra: Any, server: Any) -> Any:
        link = self._link_of(sock, 1 if server is not None else 0)
        if link is not None:
            return _LinkedTransport(
                self,
                sock,
                protocol,
                waiter,
                extra,
                server,
                link=link,
                side=0 if server is None else 1,
            )
        if server is not None:
            # Accepted from another process: its writes are answers, not requests.
            return _SocketTransport(self, sock, protocol, waiter, extra, server)
        return _ClientTransport(self, sock, protocol, waiter, extra, server)

    def _make_ssl_transport(
        self,
        rawsock: Any,
        protocol: Any,
        sslcontext: ssl.SSLContext,
        waiter: Any = None,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        extra: Any = None,
        server: Any = None,
        ssl_handshake_timeout: Any = constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout: Any = constants.SSL_SHUTDOWN_TIMEOUT,
    ) -> Any:
        # As asyncio's, with this loop's transports under the TLS layer.
        ssl_protocol = sslproto.SSLProtocol(
            self,
            protocol,
            sslcontext,
            waiter,
            server_side,
            server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        self._transport_for(rawsock, ssl_protocol, None, extra, server)
        return ssl_protocol._app_transport

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        if not self._is_served_here(address):
            return await super().sock_connect(sock, address)
        # The handshake with a server of this loop is in flight until it completes.
        self._connecting += 1
        try:
            return await super().sock_connect(sock, address)
        finally:
            self._connecting = max(0, self._connecting - 1)

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
    """The :class:`~podscaler.clock.Clock` of a :class:`SimulatedEventLoop`: ``monotonic()``
    is the loop's ``time()`` and ``now()`` is ``start`` plus that many seconds. ``sleep`` must
    be awaited in that loop."""

    __slots__ = ("_loop",)

    def __init__(self, loop: SimulatedEventLoop) -> None:
        self._loop = loop

    @property
    def loop(self) -> SimulatedEventLoop:
        return self._loop

    def now(self) -> datetime:
        loop = self._loop
        return loop._start + timedelta(microseconds=loop._now_ticks)

    def monotonic(self) -> float:
        return self._loop._now_seconds

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


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
) -> _T:
    """Run ``main`` to completion on a fresh simulated loop, like ``asyncio.run``.

    ``main`` is a coroutine, or a function of the loop's clock returning an awaitable.
    """

    def factory() -> SimulatedEventLoop:
        return SimulatedEventLoop(start=start, speed=speed)

    with asyncio.Runner(loop_factory=factory) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, SimulatedEventLoop)
        if asyncio.iscoroutine(main):
            return runner.run(main)
        assert callable(main)

        async def call() -> _T:
            return await main(loop.clock)

        return runner.run(call())
