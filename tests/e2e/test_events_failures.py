"""e2e: event sources that fail — wrong credentials, a broker that goes away, a topic that is
gone — under ``podscaler run`` with the world's consumers running.

What a user sees each time: Ready=False with reason TriggerError and TriggerError Events whose
message says what the source answered (never a credential), the Fallback condition and the
fallback replicas while it lasts, and Ready/Fallback back to normal — and replicas following the
backlog again — once the source is fixed. Fixing wrong credentials is *rotating the Secret*:
the operator runs with a 10-minute refresh period here, so recovering within seconds is the
re-read after an authentication failure (``controllers.triggers.refresh``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiobotocore.session import AioSession

from podscaler.kube.clients import Kube
from podscaler.sim.world.kafka_consumers import KafkaTopic
from podscaler.sim.world.outages import OutageTolerantQueue
from podscaler.sim.world.queues import SqsQueue
from podscaler.sim.world.world import World
from tests.e2e.conftest import OperatorProcess
from tests.e2e.eventworld import (
    Replicas,
    add_queue,
    burst,
    consumer_deployment,
    consumers,
    put_secret,
    trigger_auth,
    world,  # noqa: F401 - the fixture
)
from tests.fixtures.kafka import TansuBroker
from tests.fixtures.moto import REGION
from tests.fixtures.servers import free_port, missing
from tests.integration.controllers.objects import (
    condition,
    create_deployment,
    create_so,
    events,
    get_so,
    scaled_object,
    wait_for,
)

WRONG_SECRET = "wrong-secret-d41d8cd98f"


# --------------------------------------------------------------------------- moto, checking keys


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture
def private_moto() -> Iterator[str]:
    """A moto server of this test's own: checking signatures is process-wide in moto."""
    executable = shutil.which("moto_server")
    if executable is None:
        missing("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    process = subprocess.Popen(
        [executable, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not answer on {url}")
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def strict_moto(private_moto: str) -> tuple[str, dict[str, str]]:
    """*private_moto* checking signatures (moto's ``reset-auth``), and an IAM user allowed to
    use SQS: ``(url, {"id": ..., "secret": ...})``."""
    url = private_moto
    async with AioSession().create_client(
        "iam",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    ) as iam:
        await iam.create_user(UserName="consumer")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
        }
        await iam.put_user_policy(
            UserName="consumer", PolicyName="sqs", PolicyDocument=json.dumps(policy)
        )
        key = (await iam.create_access_key(UserName="consumer"))["AccessKey"]
    # From now on every request must be signed by a known key with the right secret.
    await asyncio.to_thread(_post, f"{url}/moto-api/reset-auth", b"0")
    return url, {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


async def sqs_queue(url: str, name: str, key: dict[str, str]) -> SqsQueue:
    """The world's side of the queue, with the right key (moto checks it here)."""
    stack = contextlib.AsyncExitStack()
    client = await stack.enter_async_context(
        AioSession().create_client(
            "sqs",
            region_name=REGION,
            endpoint_url=url,
            aws_access_key_id=key["id"],
            aws_secret_access_key=key["secret"],
        )
    )
    created = await client.create_queue(QueueName=name)
    return SqsQueue(name, client, str(created["QueueUrl"]), stack)


# --------------------------------------------------------------------------- what users see


def trigger_errors(items: list[dict[str, Any]], name: str) -> list[str]:
    return [
        str(e.get("note") or "")
        for e in items
        if (e.get("regarding") or {}).get("name") == name and e.get("reason") == "TriggerError"
    ]


async def wait_condition(kube: Kube, name: str, kind: str, status: str, seconds: float) -> None:
    async def check() -> bool:
        return condition(await get_so(kube, name), kind).get("status") == status

    await wait_for(check, seconds)


async def test_wrong_credentials_fall_back_and_a_rotated_secret_recovers(
    kube: Kube,
    strict_moto: tuple[str, dict[str, str]],
    world: World,  # noqa: F811
    operator: Callable[..., Awaitable[OperatorProcess]],
) -> None:
    url, key = strict_moto
    queue = await sqs_queue(url, "payments", key)
    add_queue(world, queue)
    consumers(world, "payments", "payments", per_second=4)
    await put_secret(kube, "sqs", {"id": key["id"], "secret": WRONG_SECRET})
    await trigger_auth(
        kube,
        "sqs",
        [
            {"parameter": "awsAccessKeyID", "name": "sqs", "key": "id"},
            {"parameter": "awsSecretAccessKey", "name": "sqs", "key": "secret"},
        ],
    )
    await create_deployment(kube, consumer_deployment("payments"))
    trigger = {
        "type": "aws-sqs-queue",
        "authenticationRef": {"name": "sqs"},
        "metadata": {
            "queueURL": queue.url,
            "queueLength": "10",
            "awsRegion": REGION,
            "awsEndpoint": url,
        },
    }
    await create_so(
        kube,
        scaled_object(
            "payments",
            "payments",
            [trigger],
            pollingInterval=1,
            cooldownPeriod=2,
            maxReplicaCount=4,
            fallback={"failureThreshold": 2, "replicas": 2},
        ),
    )
    process = await operator("--auth-refresh-interval", "600")
    await burst(world, "payments", 40)
    async with Replicas(kube, "payments") as replicas:
        await wait_condition(kube, "payments", "Fallback", "True", 15)

        async def at_fallback() -> bool:
            return replicas.now == 2

        await wait_for(at_fallback, 10)
        so = await get_so(kube, "payments")
        assert so["status"]["health"]["s0-aws-sqs-payments"]["status"] == "Failing"
        notes = trigger_errors(await events(kube), "payments")
        assert notes
        assert any("SignatureDoesNotMatch" in n for n in notes), notes

        await put_secret(kube, "sqs", key)  # the right secret
        await wait_condition(kube, "payments", "Fallback", "False", 10)
        await wait_condition(kube, "payments", "Ready", "True", 5)

        async def drained_and_zero() -> bool:
            return await queue.depth() == 0 and replicas.now == 0

        await wait_for(drained_and_zero, 40)
    assert world.queues.queues["payments"].consumed_total == 40
    reasons = {e["reason"] for e in await events(kube)}
    assert {"FallbackActivated", "FallbackDeactivated", "TriggerError"} <= reasons
    log = process.output()
    assert "rebuilding its triggers" in log
    visible = log + str(await get_so(kube, "payments")) + str(await events(kube))
    assert WRONG_SECRET not in visible
    assert key["secret"] not in visible


async def test_broker_down_then_back_without_the_topic_then_recovered(
    kube: Kube,
    tansu_factory: Callable[[], TansuBroker],
    world: World,  # noqa: F811
    operator: Callable[..., Awaitable[OperatorProcess]],
) -> None:
    broker = tansu_factory()
    suffix = uuid.uuid4().hex[:6]
    names = {"topic": f"events-{suffix}", "group": f"indexer-{suffix}"}
    topic = OutageTolerantQueue(
        await KafkaTopic.open("events", broker.bootstrap, partitions=2, **names)
    )
    add_queue(world, topic)
    consumers(world, "indexer", "events", per_second=6)
    await create_deployment(kube, consumer_deployment("indexer"))
    trigger = {
        "type": "kafka",
        "metadata": {
            "bootstrapServers": broker.bootstrap,
            "consumerGroup": names["group"],
            "topic": names["topic"],
            "lagThreshold": "5",
            "offsetResetPolicy": "earliest",
        },
    }
    await create_so(
        kube,
        scaled_object(
            "indexer",
            "indexer",
            [trigger],
            pollingInterval=1,
            cooldownPeriod=2,
            maxReplicaCount=4,
        ),
    )
    await operator()
    await wait_condition(kube, "indexer", "Ready", "True", 15)
    async with Replicas(kube, "indexer") as replicas:
        broker.stop()  # unreachable; no fallback configured: replicas are left alone
        await wait_condition(kube, "indexer", "Ready", "False", 20)
        ready = condition(await get_so(kube, "indexer"), "Ready")
        assert ready["reason"] == "TriggerError"
        assert replicas.now == 0

        broker.start()  # back, but empty: the topic is gone

        async def topic_missing() -> bool:
            notes = trigger_errors(await events(kube), "indexer")
            return any("UnknownTopicOrPartition" in n for n in notes)

        await wait_for(topic_missing, 20)
        assert condition(await get_so(kube, "indexer"), "Ready")["status"] == "False"

        recreated = await KafkaTopic.open("events", broker.bootstrap, partitions=2, **names)
        await topic.replace(recreated)
        await burst(world, "events", 40)  # 40 / 5 = 8 wanted; 2 partitions
        await wait_condition(kube, "indexer", "Ready", "True", 15)

        async def scaled_out() -> bool:
            return replicas.now == 2

        await wait_for(scaled_out, 15)

        async def drained_and_zero() -> bool:
            return await topic.depth() == 0 and replicas.now == 0

        await wait_for(drained_and_zero, 40)
    assert replicas.peak == 2  # the partition cap, after recovery
    reasons = {e["reason"] for e in await events(kube)}
    assert {"TriggerError", "ScaleTargetActivated", "ScaleTargetDeactivated"} <= reasons
