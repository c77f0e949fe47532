"""Readiness of a ``--shard`` replica over HTTP (the operator's health and metrics servers).

A replica waiting out its join is ready, and so is one fenced for a few seconds (a busy node:
readiness that followed every short fence would flap and move traffic onto replicas just as
busy). Fenced for longer than a lease duration (its API server unreachable), it answers 503
on ``/readyz``, says why, and ``/debug/status`` shows the membership state in its health;
ready again as soon as a renewal succeeds. Embedded API server, a real ScaledObject
controller, the loop clock.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest

from podscaler.controllers.scaledobject import ScaledObjectController
from podscaler.kube.clients import Kube, connect
from podscaler.manager.endpoints import Servers, http_url
from podscaler.manager.options import RunOptions
from podscaler.observability.metrics import OperatorMetrics
from podscaler.observability.status import render_text
from tests.fixtures.proxy import GatedProxy
from tests.integration.controllers.test_sharding_lease import (
    EPSILON,
    LEASE,
    RENEW,
    RETRY,
    member,
    members,
)
from tests.integration.kube.waiting import eventually

pytestmark = pytest.mark.looptime


async def test_a_shard_member_is_not_ready_only_when_fenced_for_longer_than_a_lease(
    controller: ScaledObjectController, kube: Kube, apiserver_proxy: GatedProxy
) -> None:
    loop = asyncio.get_running_loop()
    servers = Servers(
        RunOptions(metrics_port=0, health_port=0, bind_address="127.0.0.1"), OperatorMetrics()
    )
    servers.controller = controller
    async with (
        await connect(server=apiserver_proxy.url) as cut_off,
        members() as (group, _),
        aiohttp.ClientSession() as session,
    ):
        a = group.start(member(kube, "a"))
        await eventually(lambda: a.owning, timeout_seconds=RETRY * 2)
        b = member(cut_off, "b")
        servers.membership = b
        await servers.start()
        metrics_url, health_url = (http_url(*address) for address in servers.addresses)

        async def readyz() -> tuple[int, str]:
            async with session.get(f"{health_url}/readyz") as resp:
                return resp.status, await resp.text()

        async def health() -> dict[str, Any]:
            async with session.get(f"{metrics_url}/debug/status") as resp:
                assert resp.status == 200
                document: dict[str, Any] = await resp.json()
                return document

        try:
            group.start(b)
            await eventually(lambda: b.state == "joining", timeout_seconds=RETRY * 2)
            assert await readyz() == (200, "ok")  # waiting out its join: it serves reads
            assert (await health())["health"]["shardMember"] == "joining"
            await eventually(lambda: b.owning, timeout_seconds=LEASE + 2 * RETRY)
            assert (await health())["health"]["shardMember"] == "owning"

            apiserver_proxy.gate.clear()  # b's API server is unreachable from now on
            await eventually(lambda: b.state == "fenced", timeout_seconds=RENEW + EPSILON)
            fenced_at = loop.time()
            assert await readyz() == (200, "ok")  # a short fence: still ready
            document = await health()
            assert document["health"]["shardMember"] == "fenced"
            assert document["health"]["ready"] is True
            await asyncio.sleep(LEASE - 1.0)
            assert await readyz() == (200, "ok")

            await asyncio.sleep(2.0)  # fenced for longer than a lease
            status, text = await readyz()
            assert status == 503
            assert re.match(r"shard member fenced for 1[67] s \(its Lease renewals fail", text)
            document = await health()
            assert document["health"]["ready"] is False
            assert any("fenced" in p for p in document["health"]["problems"])
            first_line = render_text(document).splitlines()[0]
            assert first_line.endswith("(active): live, NOT READY, shard member fenced")
            assert b.fenced_seconds() == pytest.approx(loop.time() - fenced_at, abs=0.1)

            apiserver_proxy.gate.set()  # a renewal succeeds: it rejoins, and is ready again
            await eventually(lambda: b.state == "joining", timeout_seconds=RETRY + EPSILON)
            assert await readyz() == (200, "ok")
        finally:
            await servers.stop()


async def test_a_shard_member_that_never_renewed_is_not_ready_after_a_lease(
    controller: ScaledObjectController, apiserver_proxy: GatedProxy
) -> None:
    servers = Servers(
        RunOptions(metrics_port=0, health_port=0, bind_address="127.0.0.1"), OperatorMetrics()
    )
    servers.controller = controller
    apiserver_proxy.gate.clear()
    async with (
        await connect(server=apiserver_proxy.url) as cut_off,
        members() as (group, _),
        aiohttp.ClientSession() as session,
    ):
        b = servers.membership = member(cut_off, "b")
        await servers.start()
        health_url = http_url(*servers.addresses[1])
        try:
            group.start(b)
            await asyncio.sleep(LEASE - 1.0)
            assert b.state == "starting"
            async with session.get(f"{health_url}/readyz") as resp:
                assert resp.status == 200
            await asyncio.sleep(2.0)
            async with session.get(f"{health_url}/readyz") as resp:
                assert resp.status == 503
                assert re.match(r"shard member fenced for 1[67] s", await resp.text())
        finally:
            await servers.stop()
            apiserver_proxy.gate.set()
