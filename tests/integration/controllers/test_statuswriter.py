"""The background status writer against the embedded API server: coalescing per object, bounded
concurrency, failures left to the next poll, and the evaluation's view of a status that is still
on its way.

The writer's client talks to the server through a forwarding proxy (``tests/fixtures/proxy.py``)
that holds requests on a gate, so the tests can see what is in flight; what was written is read
back from the server. Under the loop clock (``looptime``), a write held past the writer's
10-second timeout fails in the client's own HTTP stack in no real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from podscaler.controllers.scaledobject.context import SCALED_OBJECTS, ObjectContext
from podscaler.controllers.scaledobject.statuswriter import StatusWriter
from podscaler.kube.clients import Kube, connect
from tests.fixtures.proxy import GatedProxy
from tests.integration.controllers.objects import SO_PATH, create_so, get_so, scaled_object

CRON = {
    "type": "cron",
    "metadata": {
        "timezone": "UTC",
        "start": "0 8 * * *",
        "end": "0 18 * * *",
        "desiredReplicas": "2",
    },
}


@pytest.fixture
async def proxied(apiserver_proxy: GatedProxy) -> AsyncIterator[Kube]:
    """A client whose every request passes the proxy."""
    async with await connect(server=apiserver_proxy.url) as client:
        yield client


async def _context(kube: Kube, name: str) -> ObjectContext:
    await create_so(kube, scaled_object(name, name, [CRON]))
    return ObjectContext(namespace="default", name=name, obj=await get_so(kube, name))


def _writer(kube: Kube, concurrency: int = 4) -> StatusWriter:
    return StatusWriter(kube, SCALED_OBJECTS, concurrency=concurrency, timeout_seconds=10.0)


def _status_writes(proxy: GatedProxy) -> list[tuple[str, Any, int]]:
    return [
        (f.path.rsplit("/", 2)[-2], f.body, f.status)
        for f in proxy.forwarded
        if f.method == "PATCH" and f.path.endswith("/status")
    ]


async def test_latest_status_wins_and_one_write_per_object_at_a_time(
    kube: Kube, proxied: Kube, apiserver_proxy: GatedProxy
) -> None:
    ctx = await _context(kube, "a")
    writer = _writer(proxied)
    apiserver_proxy.gate.clear()
    writer.submit(ctx, {"observedGeneration": 1})
    await apiserver_proxy.wait_in_flight(1)  # the first write is in flight
    writer.submit(ctx, {"observedGeneration": 2})
    writer.submit(ctx, {"observedGeneration": 3})
    assert ctx.known_status == {"observedGeneration": 3}
    assert ctx.wanted_status == {"observedGeneration": 3}
    apiserver_proxy.gate.set()
    await writer.flush()
    # 2 was replaced while queued; the second write waited for the first's answer.
    assert _status_writes(apiserver_proxy) == [
        ("a", {"status": {"observedGeneration": 1}}, 200),
        ("a", {"status": {"observedGeneration": 3}}, 200),
    ]
    assert apiserver_proxy.most_in_flight == 1
    assert ctx.status == {"observedGeneration": 3}
    assert ctx.wanted_status is None
    assert (await get_so(kube, "a"))["status"] == {"observedGeneration": 3}
    assert (writer.written, writer.failed) == (2, 0)
    await writer.aclose()


async def test_concurrency_is_bounded(
    kube: Kube, proxied: Kube, apiserver_proxy: GatedProxy
) -> None:
    contexts = [await _context(kube, f"o{i}") for i in range(20)]
    writer = _writer(proxied, concurrency=3)
    apiserver_proxy.gate.clear()
    for ctx in contexts:
        writer.submit(ctx, {"observedGeneration": 1})
    await apiserver_proxy.wait_in_flight(3)
    assert writer.pending == 20
    apiserver_proxy.gate.set()
    await writer.flush()
    assert sorted(name for name, _, _ in _status_writes(apiserver_proxy)) == sorted(
        f"o{i}" for i in range(20)
    )
    assert apiserver_proxy.most_in_flight == 3
    assert writer.written == 20
    listed = await kube.request("GET", SO_PATH.format(ns="default"))
    assert all(so["status"] == {"observedGeneration": 1} for so in listed["items"])
    await writer.aclose()


@pytest.mark.looptime
async def test_a_timed_out_write_is_left_to_the_next_poll_and_a_gone_object_dropped(
    kube: Kube, proxied: Kube, apiserver_proxy: GatedProxy
) -> None:
    ctx = await _context(kube, "a")
    results: list[bool] = []
    writer = StatusWriter(proxied, SCALED_OBJECTS, timeout_seconds=10.0, on_result=results.append)
    apiserver_proxy.gate.clear()  # the server never answers in time
    loop = asyncio.get_running_loop()
    submitted_at = loop.time()
    writer.submit(ctx, {"observedGeneration": 1})
    await writer.flush()
    assert loop.time() - submitted_at == pytest.approx(10.0, abs=0.1), "the writer's timeout"
    assert writer.failed == 1
    assert results == [False]
    assert ctx.status is None
    assert ctx.known_status == {"observedGeneration": 1}  # still wanted: composed over
    assert "status" not in await get_so(kube, "a"), "the abandoned write never landed"

    apiserver_proxy.gate.set()
    await kube.request("DELETE", f"{SO_PATH.format(ns='default')}/a")
    writer.submit(ctx, {"observedGeneration": 1})
    await writer.flush()
    assert ctx.wanted_status is None, "a gone object is dropped, not retried"
    assert writer.failed == 1, "and not counted as a failure"
    assert _status_writes(apiserver_proxy)[-1][2] == 404
    await writer.aclose()


async def test_nothing_is_written_when_the_server_already_has_it(
    kube: Kube, proxied: Kube, apiserver_proxy: GatedProxy
) -> None:
    ctx = await _context(kube, "a")
    await kube.request(
        "PATCH",
        SCALED_OBJECTS.path("default", "a", "status"),
        body={"status": {"observedGeneration": 1}},
        content_type="application/merge-patch+json",
    )
    ctx.obj = await get_so(kube, "a")
    writer = _writer(proxied)
    writer.submit(ctx, {"observedGeneration": 1})
    await writer.flush()
    assert _status_writes(apiserver_proxy) == []
    assert ctx.wanted_status is None
    assert writer.written == 0
    await writer.aclose()
