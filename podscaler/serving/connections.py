"""Bounded connections: a listener that refuses what it cannot afford before any handshake.

asyncio's own ``create_server`` accepts every connection the kernel queued and starts a TLS
handshake on each: 2,000 concurrent connections meant 2,000 handshakes and 2,000 parsers,
however few of them ever authenticated (issue 17 §6). :class:`BoundedListener` accepts
connections itself and, *before* a byte of TLS is spoken, refuses one that would exceed

* ``max_connections`` open (or handshaking) connections in all, or
* ``max_per_client`` from one client address (so one noisy peer cannot take every slot),

by closing it with a TCP reset: the client learns at once, the server spends one ``accept``
and one ``close``. Admitted connections are bounded in time: the TLS handshake by its own
timeout, the wait for a complete request head (idle keep-alive and slowloris alike) by
aiohttp's keep-alive timer, which since aiohttp 3.10 runs from the connection's start and is
not reset by a partial request. Refusals are logged as one line per
:data:`REFUSAL_LOG_SECONDS` with their count, never one per connection.

Behind kube-apiserver every legitimate request comes from the API servers' addresses, over a
few pooled keep-alive connections, so the per-client default (:data:`DEFAULT_MAX_PER_CLIENT`)
leaves room for several aggregator replicas and their pools while a flood from one address is
cut to that many.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MAX_PER_CLIENT",
    "BoundedListener",
    "ConnectionCounts",
    "ConnectionLimits",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS: Final = 1000
DEFAULT_MAX_PER_CLIENT: Final = 200
#: Requests handed to the deciding loop at once; more are answered 429 on the serving side.
DEFAULT_MAX_IN_FLIGHT: Final = 200
#: Refusals are summed up in one log line at most this often.
REFUSAL_LOG_SECONDS: Final = 10.0
#: SO_LINGER on, zero seconds: close() sends a reset instead of a FIN (no TIME_WAIT either).
_RESET: Final = struct.pack("ii", 1, 0)


@dataclass(frozen=True)
class ConnectionLimits:
    """How many connections a listener keeps, and how many requests it lets through at once."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_per_client: int = DEFAULT_MAX_PER_CLIENT
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT

    def __post_init__(self) -> None:
        if min(self.max_connections, self.max_per_client, self.max_in_flight) < 1:
            raise ValueError("connection limits must be at least 1")


#: The limits a server keeps unless told otherwise.
DEFAULT_LIMITS: Final = ConnectionLimits()


class ConnectionCounts:
    """Open connections, in all and per client address; the admission decision (no I/O)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.total = 0
        self.by_client: dict[str, int] = {}
        #: Refused since the start, by reason (``total``, ``client``).
        self.refused: dict[str, int] = {"total": 0, "client": 0}

    def admit(self, client: str) -> bool:
        """Count a new connection from *client*, or refuse it (and count the refusal)."""
        if self.total >= self.limits.max_connections:
            self.refused["total"] += 1
            return False
        held = self.by_client.get(client, 0)
        if held >= self.limits.max_per_client:
            self.refused["client"] += 1
            return False
        self.total += 1
        self.by_client[client] = held + 1
        return True

    def release(self, client: str) -> None:
        self.total -= 1
        left = self.by_client[client] - 1
        if left:
            self.by_client[client] = left
        else:
            del self.by_client[client]


class _Tracked(asyncio.Protocol):
    """The application's protocol, with a callback when its connection ends."""

    def __init__(self, inner: asyncio.Protocol, on_lost: Callable[[], None]) -> None:
        self.inner = inner
        self.on_lost = on_lost
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self.inner.connection_lost(exc)
        finally:
            self.on_lost()

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class BoundedListener:
    """Accepts connections for ``factory`` within ``limits`` (see the module's docstring)."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        *,
        tls: ssl.SSLContext | None,
        handshake_timeout_seconds: float,
        limits: ConnectionLimits,
        component: str = "server",
    ) -> None:
        self.factory = factory
        self.tls = tls
        self.handshake_timeout_seconds = handshake_timeout_seconds
        self.counts = ConnectionCounts(limits)
        self.component = component
        self.sockets: list[socket.socket] = []
        self._accepting: list[asyncio.Task[None]] = []
        self._handshaking: set[asyncio.Task[None]] = set()
        self._open: set[_Tracked] = set()
        self._logged_at = float("-inf")
        self._logged_refusals = 0

    async def start(self, host: str, port: int, backlog: int = 1024) -> None:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.sockets = [sock]
        self._accepting = [asyncio.create_task(self._accept(sock))]

    async def close(self) -> None:
        """Stop accepting and end every connection still handshaking (the application closes
        the ones it serves; :meth:`abort_open` ends what is left after that)."""
        for task in (*self._accepting, *self._handshaking):
            task.cancel()
        await asyncio.gather(*self._accepting, *self._handshaking, return_exceptions=True)
        self._accepting = []
        for sock in self.sockets:
            sock.close()
        self.sockets = []

    def abort_open(self) -> None:
        for tracked in list(self._open):
            if tracked.transport is not None:
                tracked.transport.abort()  # type: ignore[attr-defined]

    @property
    def open_connections(self) -> int:
        return self.counts.total

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(sock)
            except asyncio.CancelledError:
                raise
            except OSError as exc:  # EMFILE and friends: the backlog waits for us
                log.warning("%s: accept failed: %s", self.component, type(exc).__name__)
                await asyncio.sleep(0.1)
                continue
            client = str(peer[0]) if isinstance(peer, tuple) else str(peer)
            if not self.counts.admit(client):
                self._refuse(conn, loop.time())
                continue
            task = asyncio.create_task(self._connect(conn, client))
            self._handshaking.add(task)
            task.add_done_callback(self._handshaking.discard)

    def _refuse(self, conn: socket.socket, now: float) -> None:
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        conn.close()
        refused = sum(self.counts.refused.values())
        if now - self._logged_at >= REFUSAL_LOG_SECONDS:
            limits = self.counts.limits
            log.warning(
                "%s: refused %d connection(s) over the limits (%d open of %d; %d per client)",
                self.component,
                refused - self._logged_refusals,
                self.counts.total,
                limits.max_connections,
                limits.max_per_client,
            )
            self._logged_at, self._logged_refusals = now, refused

    async def _connect(self, conn: socket.socket, client: str) -> None:
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.counts.release(client)
                self._open.discard(tracked)

        tracked = _Tracked(self.factory(), release)
        self._open.add(tracked)
        loop = asyncio.get_running_loop()
        try:
            conn.setblocking(False)
            await loop.connect_accepted_socket(
                lambda: tracked,
                conn,
                ssl=self.tls,
                ssl_handshake_timeout=self.handshake_timeout_seconds if self.tls else None,
            )
        except asyncio.CancelledError:
            conn.close()
            release()
            raise
        except Exception as exc:
            # A failed or timed-out handshake, a reset: the slot is free again.
            conn.close()
            release()
            if not isinstance(exc, (OSError, ssl.SSLError, TimeoutError)):
                log.debug("%s: connection setup failed: %s", self.component, type(exc).__name__)
