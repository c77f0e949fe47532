"""Connection limits on the serving listener (issue 17 §6, the rest of it).

Over real sockets against :class:`~podscaler.serving.server.SecureServer` as the metrics API
runs it (TLS, its serving thread, authentication and authorization): 2,000 connections from one
address are cut to the per-client limit at accept (the rest are reset before any handshake),
an authenticated read from another address is answered meanwhile and the deciding loop keeps
ticking; the admitted connections that never handshake are closed by the handshake timeout.
The total limit holds across addresses; a slowloris request head is cut off by the idle
timeout; requests over the in-flight limit are answered 429.

Linux routes all of 127.0.0.0/8 to the loopback interface, so clients bind 127.0.0.x source
addresses to stand for different peers. Nothing here measures speed: the bounds are what a
loaded CI machine meets with a wide margin (lateness is measured in ``bench/serving_flood.py``).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import aiohttp
import pytest

from podscaler.serving.connections import ConnectionLimits
from tests.fixtures.delegation import DelegatingApiServer
from tests.fixtures.pki import FRONT_PROXY_NAME, Pki
from tests.integration.serving.conftest import PROXY_USER, SiteFactory, proxy_headers

FLOOD = 2000
PER_CLIENT = 100


@pytest.fixture(autouse=True)
def allowed(reviews: DelegatingApiServer) -> None:
    reviews.policy.allowed_users.add(PROXY_USER)


def _open(port: int, sources: list[str], into: list[socket.socket]) -> int:
    """Connect once from each of *sources* (repeats allowed), keeping the sockets in *into*;
    the number of connects the server reset before they returned (they count as refused)."""
    reset = 0
    for source in sources:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(10)
        try:
            sock.bind((source, 0))
            sock.connect(("127.0.0.1", port))
        except ConnectionResetError:
            sock.close()
            reset += 1
            continue
        except BaseException:
            sock.close()
            raise
        into.append(sock)
    return reset


def _reset_or_closed(sock: socket.socket, wait: float) -> bool:
    """Whether the server ended *sock* (a reset or an EOF) within *wait* seconds."""
    sock.settimeout(wait)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    held: list[socket.socket] = []
    yield held
    for sock in held:
        sock.close()


class Ticker:
    """A stand-in for the scale loops: a 20 ms timer on the deciding loop, its longest gap."""

    def __init__(self) -> None:
        self.ticks = 0
        self.longest = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.02)
            now = loop.time()
            self.longest = max(self.longest, now - last)
            last = now
            self.ticks += 1


@pytest.fixture
async def ticker() -> AsyncIterator[Ticker]:
    ticking = Ticker()
    task = asyncio.create_task(ticking.run())
    yield ticking
    task.cancel()


async def _read_from(url: str, ctx: ssl.SSLContext, source: str) -> int:
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(url, ssl=ctx, headers=proxy_headers()) as response,
    ):
        return response.status


async def _until(check: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - the server's counters are plain ints
            await asyncio.sleep(0.05)


async def test_a_flood_from_one_address_is_cut_at_accept_and_reads_go_on(
    make_site: SiteFactory, pki: Pki, sockets: list[socket.socket], ticker: Ticker
) -> None:
    site = await make_site(
        serving_thread=True,
        handshake_timeout_seconds=3.0,
        limits=ConnectionLimits(max_connections=1000, max_per_client=PER_CLIENT),
    )
    port = site.server.port
    started = time.monotonic()
    reset = await asyncio.to_thread(_open, port, ["127.0.0.1"] * FLOOD, sockets)
    await _until(lambda: site.server.refused_connections >= FLOOD - PER_CLIENT - reset, 20)
    assert site.server.open_connections == PER_CLIENT

    # An authenticated read from another address is answered during the flood.
    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    read_started = time.monotonic()
    assert await _read_from(f"{site.url}/whoami", ctx, "127.0.0.2") == 200
    assert time.monotonic() - read_started < 10

    # Refused connections were reset without a handshake: every one ends at once.
    ended = await asyncio.to_thread(lambda: sum(_reset_or_closed(s, 0.01) for s in sockets))
    assert ended + reset >= FLOOD - PER_CLIENT
    # The admitted ones never handshake; the handshake timeout frees their slots.
    await _until(lambda: site.server.open_connections == 0, 15)
    assert time.monotonic() - started < 40
    ended = await asyncio.to_thread(lambda: sum(_reset_or_closed(s, 1.0) for s in sockets))
    assert ended + reset == FLOOD

    # The deciding loop ran all along (a 20 ms timer; the bound is for a loaded machine).
    assert ticker.ticks > 20
    assert ticker.longest < 5.0, ticker.longest


async def test_the_total_limit_holds_across_addresses(
    make_site: SiteFactory, pki: Pki, sockets: list[socket.socket]
) -> None:
    site = await make_site(
        serving_thread=True, limits=ConnectionLimits(max_connections=50, max_per_client=20)
    )
    port = site.server.port
    sources = [f"127.0.0.{n}" for n in range(3, 8)]  # 5 addresses x 20 = 100 attempts
    reset = await asyncio.to_thread(_open, port, sources * 20, sockets)
    await _until(lambda: site.server.refused_connections + reset >= 50, 10)
    assert site.server.open_connections == 50
    # Freed slots are reusable: close the admitted ones and a new client gets in.
    for sock in sockets:
        sock.close()
    await _until(lambda: site.server.open_connections == 0, 10)
    assert await _read_from(f"{site.url}/healthz", pki.client_context(), "127.0.0.9") == 200


def _slowloris(port: int, ctx: ssl.SSLContext, result: dict[str, float]) -> None:
    """Dribble a request head one byte per 100 ms; record when the server hung up."""
    started = time.monotonic()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        head = b"GET /whoami HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        try:
            for byte in head:
                tls.sendall(bytes([byte]))
                time.sleep(0.1)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            result["closed_after"] = time.monotonic() - started
            return
    result["closed_after"] = float("inf")


async def test_a_slowloris_head_is_cut_off_by_the_idle_timeout(
    make_site: SiteFactory, pki: Pki
) -> None:
    site = await make_site(serving_thread=True, idle_timeout_seconds=1.0)
    result: dict[str, float] = {}
    ctx = pki.client_context()
    thread = threading.Thread(target=_slowloris, args=(site.server.port, ctx, result))
    thread.start()
    await asyncio.to_thread(thread.join, 30)
    # 200 bytes at 100 ms would take 20 s; the idle timeout ends it after about 1 s.
    assert result["closed_after"] < 10, result
    await _until(lambda: site.server.open_connections == 0, 5)


async def test_requests_over_the_in_flight_limit_get_429(make_site: SiteFactory, pki: Pki) -> None:
    site = await make_site(serving_thread=True, limits=ConnectionLimits(max_in_flight=2))
    site.gate.opened.clear()
    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    async with aiohttp.ClientSession() as session:

        async def get(path: str) -> tuple[int, str]:
            async with session.get(f"{site.url}{path}", ssl=ctx, headers=proxy_headers()) as r:
                return r.status, r.headers.get("Retry-After", "")

        held = [asyncio.create_task(get("/held")) for _ in range(2)]
        await _until(lambda: site.gate.waiting == 2, 10)
        assert await get("/whoami") == (429, "1")
        site.gate.opened.set()
        assert [(await task)[0] for task in held] == [200, 200]
        assert (await get("/whoami"))[0] == 200
