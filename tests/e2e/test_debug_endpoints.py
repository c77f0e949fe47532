"""e2e: ``/debug/*`` answers only loopback callers by default (issue 17 §9).

``/metrics`` and ``/debug/decisions`` listened on 0.0.0.0 without authentication; the
decisions name every object, its trigger values and error texts. The real ``podscaler run``
listening on every address: ``/metrics`` is served to anyone (Prometheus scrapes it), ``/debug/*``
only to a loopback peer (``kubectl port-forward`` connects to 127.0.0.1 inside the pod) and
is 403 from the machine's own non-loopback address; ``--debug-endpoints=any`` opts out.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from tests.e2e.conftest import OperatorProcess


def _own_address() -> str:
    """This machine's address on its default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            pytest.skip("no IPv4 route: no non-loopback address to call from")
        address = str(probe.getsockname()[0])
    if address.startswith("127."):
        pytest.skip("the only IPv4 address is loopback")
    return address


async def _status(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


async def test_debug_endpoints_answer_loopback_only(
    operator: Callable[..., Awaitable[OperatorProcess]],
) -> None:
    address = _own_address()
    op = await operator("--bind-address", "0.0.0.0")
    port = op.metrics_port
    assert await _status(f"http://{address}:{port}/metrics") == 200
    assert await _status(f"http://{address}:{port}/debug/decisions") == 403
    assert await _status(f"http://{address}:{port}/debug/nodes") == 403
    assert await _status(f"http://127.0.0.1:{port}/debug/decisions") == 200
    await op.stop()

    opened = await operator("--bind-address", "0.0.0.0", "--debug-endpoints", "any")
    assert await _status(f"http://{address}:{opened.metrics_port}/debug/decisions") == 200
