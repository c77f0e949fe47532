"""e2e: ``podscaler run --shard`` replicas share ScaledObjects over member Leases.

Three real operator processes against the embedded API server, 60 ScaledObjects whose metric
moves every 1.5 s (so targets are written all the time): each replica polls about a third;
SIGKILL one and the survivors poll its objects within the lease duration plus one polling
interval; a fourth joins and takes about a quarter. The API server's audit log (User-Agent =
replica identity) shows no target written by two replicas in the same second, while targets
did change hands with writes on both sides. A second test kills the owner of an object in
the middle of its cooldown: the new owner scales in at the deadline the old one would have
used, as after a restart. (60 objects, not the issue's 300: three operators and the test's
own servers share 2 cores with other work; bench/sharding.py measures the large numbers.)
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp

from podscaler.kube.clients import Kube
from podscaler.sim.apiserver.audit import AuditLog
from podscaler.sim.apiserver.server import ApiServer
from tests.e2e.conftest import OperatorProcess
from tests.integration.controllers.objects import (
    create_deployment,
    create_so,
    deployment,
    get_so,
    prometheus_trigger,
    replicas,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer

OBJECTS = 60
LEASE_SECONDS = 6.0
POLL_SECONDS = 1
#: Slack for three processes, the API server and the test on two busy cores.
SLACK_SECONDS = 3.0
FAST_BEHAVIOR = {
    "horizontalPodAutoscalerConfig": {
        "behavior": {
            "scaleDown": {
                "stabilizationWindowSeconds": 0,
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 1}],
            },
            "scaleUp": {
                "stabilizationWindowSeconds": 0,
                "policies": [{"type": "Percent", "value": 1000, "periodSeconds": 1}],
            },
        }
    }
}
Operator = Callable[..., Awaitable[OperatorProcess]]


async def operator_namespace(kube: Kube) -> None:
    """The member Leases live in the operator namespace (``podscaler``)."""
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "podscaler"}}
    await kube.request("POST", "/api/v1/namespaces", body=body)


async def shard_view(session: aiohttp.ClientSession, op: OperatorProcess) -> dict[str, Any]:
    async with session.get(f"{op.endpoint}/debug/shard") as response:
        view: dict[str, Any] = await response.json()
        return view


async def views(session: aiohttp.ClientSession, ops: list[OperatorProcess]) -> list[dict[str, Any]]:
    return [await shard_view(session, op) for op in ops]


def split_evenly(found: list[dict[str, Any]], members: int) -> bool:
    """Every replica owns, none twice, all objects covered, all agree on the members."""
    owned = [set(v["owned"]) for v in found]
    union = set().union(*owned)
    return (
        all(v["owning"] and len(v["members"]) == members for v in found)
        and sum(len(o) for o in owned) == len(union) == OBJECTS
    )


async def wait_split(
    session: aiohttp.ClientSession, ops: list[OperatorProcess], timeout_seconds: float
) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout_seconds):
        while True:
            found = await views(session, ops)
            if split_evenly(found, len(ops)):
                return found
            await asyncio.sleep(0.2)


async def test_replicas_share_hand_over_and_admit_a_newcomer(
    apiserver: ApiServer, kube: Kube, prom: PromServer, operator: Operator
) -> None:
    audit = apiserver.audit = AuditLog()
    await operator_namespace(kube)
    loop = asyncio.get_running_loop()
    for i in range(OBJECTS):
        await create_deployment(kube, deployment(f"app-{i}", 1))
        await create_so(
            kube,
            scaled_object(
                f"so-{i}",
                f"app-{i}",
                [prometheus_trigger(prom.url, threshold="10", activation="0")],
                pollingInterval=POLL_SECONDS,
                minReplicaCount=1,
                maxReplicaCount=20,
                advanced=FAST_BEHAVIOR,
            ),
        )

    async def moving_metric() -> None:
        for step in itertools.count():
            prom.value = 10.0 * (1 + step % 4)
            await asyncio.sleep(1.5)

    moving = loop.create_task(moving_metric())
    flags = ("--shard", "--shard-lease-duration", str(LEASE_SECONDS))
    try:
        ops = [await operator(*flags) for _ in range(3)]  # one at a time: 2 shared cores
        async with aiohttp.ClientSession() as session:
            found = await wait_split(session, ops, LEASE_SECONDS * 3 + 20)
            for view in found:
                assert 6 <= len(view["owned"]) <= 38, "each owns about a third"
            await asyncio.sleep(4)

            victim, survivors = ops[2], ops[:2]
            theirs = set(found[2]["owned"])
            victim.process.kill()  # SIGKILL: no goodbye, its Lease stays until it expires
            await victim.process.wait()
            killed_at = loop.time()
            await wait_split(session, survivors, LEASE_SECONDS * 3)
            taken_after = loop.time() - killed_at
            assert taken_after <= LEASE_SECONDS + POLL_SECONDS + SLACK_SECONDS
            assert taken_after >= LEASE_SECONDS * 2 / 3 - 0.5, "taken before the Lease expired"
            victim_agent = f"podscaler/{found[2]['identity']}"
            killed_wall = datetime.now().timestamp() - (loop.time() - killed_at)
            newcomer = await operator(*flags)
            joined = [*survivors, newcomer]
            found = await wait_split(session, joined, LEASE_SECONDS * 3 + 10)
            assert 4 <= len(found[2]["owned"]) <= 30, "the newcomer takes about a quarter"
            await asyncio.sleep(3)
    finally:
        moving.cancel()
        await asyncio.gather(moving, return_exceptions=True)

    writers: dict[tuple[str, int], set[str]] = defaultdict(set)
    owners: dict[str, set[str]] = defaultdict(set)
    scale_writes = [r for r in audit.records if r.path.endswith("/scale") and r.status < 400]
    for record in scale_writes:
        target = record.path.split("/")[-2]
        writers[(target, int(record.at.timestamp()))].add(record.user_agent)
        owners[target].add(record.user_agent)
    assert len(scale_writes) > OBJECTS * 3, "targets were written all along"
    assert len({r.user_agent for r in scale_writes}) == 4
    assert sum(1 for agents in owners.values() if len(agents) > 1) >= OBJECTS // 8, (
        "targets changed hands with writes on both sides"
    )
    # Every object of the killed replica was reconciled by the others after the kill.
    rescued = {
        r.path.split("/")[-2]
        for r in scale_writes
        if r.user_agent != victim_agent and r.at.timestamp() > killed_wall
    }
    assert {key.split("/")[1].replace("so-", "app-") for key in theirs} <= rescued
    double = {key: agents for key, agents in writers.items() if len(agents) > 1}
    assert not double, f"targets written by two replicas in the same second: {double}"


COOLDOWN_SECONDS = 14


async def test_a_handover_keeps_the_cooldown_as_a_restart_does(
    kube: Kube, prom: PromServer, operator: Operator
) -> None:
    await operator_namespace(kube)
    flags = ("--shard", "--shard-lease-duration", "4")
    ops = [await operator(*flags) for _ in range(2)]
    async with aiohttp.ClientSession() as session:

        async def settled() -> bool:  # no join handover in the middle of the story
            return all(v["owning"] and len(v["members"]) == 2 for v in await views(session, ops))

        await wait_for(settled, 30)
    prom.value = 15
    await create_deployment(kube, deployment("batch", 0))
    await create_so(
        kube,
        scaled_object(
            "batch",
            "batch",
            [prometheus_trigger(prom.url)],
            pollingInterval=1,
            cooldownPeriod=COOLDOWN_SECONDS,
        ),
    )

    async def at(n: int) -> bool:
        return await replicas(kube, "batch") == n

    await wait_for(lambda: at(2), 20)
    async with aiohttp.ClientSession() as session:
        owners: list[OperatorProcess] = []

        async def one_owner() -> bool:
            found = await views(session, ops)
            owners[:] = [
                op for op, v in zip(ops, found, strict=True) if "default/batch" in v["owned"]
            ]
            return len(owners) == 1

        await wait_for(one_owner, 20)
        (owner,) = owners
        (heir,) = [op for op in ops if op is not owner]
        prom.value = 0  # inactive from now on: the cooldown runs from the last active poll
        await asyncio.sleep(2.5)
        before = (await get_so(kube, "batch"))["status"]["lastActiveTime"]
        owner.process.kill()
        await owner.process.wait()
        deadline = (
            datetime.fromisoformat(before.replace("Z", "+00:00")).timestamp() + COOLDOWN_SECONDS
        )
        seen: list[int] = []
        async with asyncio.timeout(COOLDOWN_SECONDS + 15):
            while True:
                count = await replicas(kube, "batch")
                now = datetime.now().timestamp()
                seen.append(count)
                if count == 0:
                    break
                assert now < deadline + 2.5, "scale-in came later than the remembered cooldown"
                await asyncio.sleep(0.2)
        assert now >= deadline - 1.0, "scale-in came before the cooldown had passed"
        assert "default/batch" in (await shard_view(session, heir))["owned"]
    assert (await get_so(kube, "batch"))["status"]["lastActiveTime"] == before
    assert seen == sorted(seen, reverse=True), f"replicas flapped: {seen}"
