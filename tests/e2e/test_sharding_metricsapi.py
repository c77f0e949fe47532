"""e2e: the metrics API of ``--shard`` replicas answers for every object on every replica.

Two real ``podscaler run --shard`` processes serve external.metrics.k8s.io over TLS behind the
embedded kube-aggregator (issue 17 item 10). Both issue their certificates from the one CA in
the Secret ``podscaler-metrics-api-ca`` (the APIService's caBundle is that CA, so the aggregator
trusts either replica); a read of an object the other replica owns is forwarded to it. Every
object's metric, with its own value, is read from each replica directly and through the
aggregator, then again after the replica behind the Service is SIGKILLed and the Service's
endpoints move to the survivor (what the endpoints controller does).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from podscaler.kube.clients import Kube
from podscaler.kube.errors import NotFound
from podscaler.sim.apiserver.server import ApiServer
from tests.e2e.conftest import OperatorProcess, _free_port
from tests.e2e.test_hpa_mode import (
    APISERVICE,
    EXTERNAL,
    SERVICE,
    SERVICE_NS,
    _available,
    _install_metrics_api_objects,
)
from tests.integration.controllers.objects import (
    create_deployment,
    create_so,
    deployment,
    prometheus_trigger,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer

OBJECTS = 12
METRIC = "s0-prometheus"
Operator = Callable[..., Awaitable[OperatorProcess]]


@pytest.fixture
async def apiserver() -> AsyncIterator[ApiServer]:
    async with ApiServer(tls=True, aggregation=True, bookmark_interval=0.2) as server:
        yield server


async def _point_service_at(kube: Kube, port: int) -> None:
    body: dict[str, Any] = {
        "metadata": {"name": SERVICE},
        "subsets": [
            {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": port}]}
        ],
    }
    path = f"/api/v1/namespaces/{SERVICE_NS}/endpoints"
    try:
        current = await kube.request("GET", f"{path}/{SERVICE}")
    except NotFound:
        await kube.request("POST", path, body=body)
        return
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    await kube.request("PUT", f"{path}/{SERVICE}", body=body)


async def _read_direct(
    session: aiohttp.ClientSession, port: int, tls: ssl.SSLContext, token: str, so: str
) -> tuple[int, Any]:
    url = f"https://127.0.0.1:{port}{EXTERNAL}/{METRIC}"
    async with session.get(
        url,
        params={"labelSelector": f"scaledobject.keda.sh/name={so}"},
        headers={"Authorization": f"Bearer {token}"},
        ssl=tls,
        server_hostname=f"{SERVICE}.{SERVICE_NS}.svc",
    ) as response:
        return response.status, await response.json(content_type=None)


def _value(answer: dict[str, Any]) -> str:
    return str(answer["items"][0]["value"])


async def test_every_replica_answers_for_every_object(
    apiserver: ApiServer, kube: Kube, prom: PromServer, operator: Operator
) -> None:
    await _install_metrics_api_objects(kube)
    prom.values = {f"q{i}": float(i + 1) for i in range(OBJECTS)}
    for i in range(OBJECTS):
        await create_deployment(kube, deployment(f"app-{i}", 1))
        await create_so(
            kube,
            scaled_object(
                f"so-{i}",
                f"app-{i}",
                [prometheus_trigger(prom.url, query=f"q{i}", activation="0")],
                pollingInterval=1,
            ),
        )
    ports = [_free_port(), _free_port()]
    ops = [
        await operator(
            "--shard",
            "--shard-lease-duration=4",
            f"--metrics-api-port={port}",
            "--metrics-api-bind-address=127.0.0.1",
        )
        for port in ports
    ]
    await _point_service_at(kube, ports[0])
    await wait_for(lambda: _available(kube), 30)

    secret = await kube.request(
        "GET", f"/api/v1/namespaces/{SERVICE_NS}/secrets/podscaler-metrics-api-ca"
    )
    ca_pem = base64.b64decode(secret["data"]["ca.crt"])
    apiservice = await kube.request(
        "GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}"
    )
    assert base64.b64decode(apiservice["spec"]["caBundle"]) == ca_pem
    tls = ssl.create_default_context(cadata=ca_pem.decode())
    token = apiserver.token
    assert token is not None

    async with aiohttp.ClientSession() as session:

        async def shards() -> list[dict[str, Any]]:
            found = []
            for op in ops:
                async with session.get(f"{op.endpoint}/debug/shard") as response:
                    found.append(await response.json())
            return found

        async def both_own() -> bool:
            views = await shards()
            return (
                all(v["owning"] and v["owned"] for v in views)
                and sum(len(v["owned"]) for v in views) == OBJECTS
            )

        await wait_for(both_own, 30)
        await asyncio.sleep(1.5)  # one poll of every object by its owner

        # Every object from every replica: owned ones answered there, the others forwarded.
        for port in ports:
            for i in range(OBJECTS):
                status, answer = await _read_direct(session, port, tls, token, f"so-{i}")
                assert status == 200, answer
                assert _value(answer) == str(i + 1)
        views = await shards()
        assert all(0 < len(v["owned"]) < OBJECTS for v in views)
        assert [v["forwarded"] for v in views] == [OBJECTS - len(v["owned"]) for v in views]
        # Through the aggregator (to the replica behind the Service), as the HPA reads.
        for i in range(OBJECTS):
            answer = await kube.request(
                "GET",
                f"{EXTERNAL}/{METRIC}",
                params={"labelSelector": f"scaledobject.keda.sh/name=so-{i}"},
            )
            assert _value(answer) == str(i + 1)

        # Failover: the replica behind the Service dies; the endpoints move to the survivor,
        # which owns every object once the dead one's Lease expired.
        ops[0].process.kill()
        await ops[0].process.wait()
        await _point_service_at(kube, ports[1])

        await wait_for(lambda: _survivor(session, ops[1]), 20)
        await asyncio.sleep(1.5)
        for i in range(OBJECTS):
            answer = await kube.request(
                "GET",
                f"{EXTERNAL}/{METRIC}",
                params={"labelSelector": f"scaledobject.keda.sh/name=so-{i}"},
            )
            assert _value(answer) == str(i + 1)


async def _survivor(session: aiohttp.ClientSession, op: OperatorProcess) -> bool:
    async with session.get(f"{op.endpoint}/debug/shard") as response:
        return len((await response.json())["owned"]) == OBJECTS
