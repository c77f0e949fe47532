"""Serving does not run on the deciding loop (issue 17 §6).

2,000 concurrent TLS connections to the metrics API made scale loops run more than 10 s late:
handshakes and request parsing ran on the operator's event loop. The metrics API now accepts,
handshakes and parses on a thread of its own. The proof here does not time anything (timing
depends on the machine's load; ``bench/serving_flood.py`` measures lateness): the test *blocks*
the loop that started the server and, meanwhile, a client thread completes TLS handshakes and
health checks against it. Were serving on that loop, nothing could answer until it is released,
and the wait would end at its 30 s cap instead. Afterwards an authenticated metric read — which
runs on the starting loop — still works.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time

import aiohttp

from podscaler.metricsapi.server import MetricsApiServer
from tests.fixtures.pki import FRONT_PROXY_NAME, Pki
from tests.integration.metricsapi.conftest import metric_url, proxy_headers

CONNECTIONS = 20


def _handshake_and_healthz(port: int, answers: list[bytes]) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        context.wrap_socket(raw) as tls,
    ):
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answers.append(tls.recv(64))


async def test_tls_is_served_while_the_deciding_loop_is_blocked(
    api: MetricsApiServer, pki: Pki
) -> None:
    answers: list[bytes] = []
    done = threading.Event()

    def client() -> None:
        try:
            for _ in range(CONNECTIONS):
                _handshake_and_healthz(api.port, answers)
        finally:
            done.set()

    threading.Thread(target=client, daemon=True).start()
    started = time.monotonic()
    finished = done.wait(30)  # blocks this loop: nothing on it runs until the client is done
    blocked_for = time.monotonic() - started
    assert finished, f"served {len(answers)} of {CONNECTIONS} while the loop was blocked"
    assert len(answers) == CONNECTIONS
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers), answers[:3]
    assert blocked_for < 30

    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    url = metric_url(api, "team-a", "s0-prometheus", "orders")
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, ssl=ctx, headers=proxy_headers()) as response,
    ):
        assert response.status == 200, await response.text()
