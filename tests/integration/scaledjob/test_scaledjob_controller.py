"""The ScaledJob controller against the embedded API server and an SQS queue on moto.

Each test drives polls by hand (``evaluate``) so it can assert on every step: Jobs created
for a burst as the strategy says, running and pending Jobs counted against the queue, Jobs
finishing and the history limits deleting the oldest, the Active condition returning to
False, and a TriggerAuthentication pointing at a missing Secret key giving Ready=False with the
Secret named and no credential anywhere in status or Events.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import AioSession

from podscaler.controllers.scaledjob import ScaledJobContext, ScaledJobController
from podscaler.kube.clients import MERGE_PATCH, Kube, connect
from podscaler.kube.events import EventRecorder
from tests.fixtures.moto import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

NS = "default"
GROUP = "/apis/autoscaling.podscaler.io/v1alpha1"


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[Kube]:
    async with await connect(kubeconfig=kubeconfig) as client:
        yield client


@pytest.fixture
async def queue(moto: str) -> AsyncIterator[tuple[str, Any]]:
    async with AioSession().create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=moto,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    ) as sqs:
        url = (await sqs.create_queue(QueueName="work"))["QueueUrl"]
        yield url, sqs


@pytest.fixture
async def controller(kube: Kube) -> AsyncIterator[tuple[ScaledJobController, EventRecorder]]:
    recorder = EventRecorder(kube, now=now, reporting_instance="test")
    ctl = ScaledJobController(kube, namespace=NS, now=now, recorder=recorder)
    yield ctl, recorder
    for ctx in list(ctl.objects.values()):
        await ctx.close()
    await ctl.aclose()
    await recorder.aclose()


async def credentials(kube: Kube, *, key: str = "secret") -> None:
    data = {
        "id": base64.b64encode(ACCESS_KEY_ID.encode()).decode(),
        "secret": base64.b64encode(SECRET_ACCESS_KEY.encode()).decode(),
    }
    await kube.request(
        "POST",
        f"/api/v1/namespaces/{NS}/secrets",
        body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws"}, "data": data},
    )
    await kube.request(
        "POST",
        f"{GROUP}/namespaces/{NS}/triggerauthentications",
        body={
            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": {"name": "aws"},
            "spec": {
                "secretTargetRef": [
                    {"parameter": "awsAccessKeyID", "name": "aws", "key": "id"},
                    {"parameter": "awsSecretAccessKey", "name": "aws", "key": key},
                ]
            },
        },
    )


async def scaled_job(kube: Kube, moto: str, url: str, **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledJob",
        "metadata": {"name": "worker"},
        "spec": {
            "jobTargetRef": {
                "template": {
                    "spec": {
                        "containers": [{"name": "w", "image": "worker"}],
                        "restartPolicy": "Never",
                    }
                }
            },
            "triggers": [
                {
                    "type": "aws-sqs-queue",
                    "metadata": {
                        "queueURL": url,
                        "queueLength": "1",
                        "awsRegion": REGION,
                        "awsEndpoint": moto,
                    },
                    "authenticationRef": {"name": "aws"},
                }
            ],
            **spec,
        },
    }
    return await kube.request("POST", f"{GROUP}/namespaces/{NS}/scaledjobs", body=body)


async def jobs(kube: Kube) -> list[dict[str, Any]]:
    answer = await kube.request(
        "GET",
        f"/apis/batch/v1/namespaces/{NS}/jobs",
        params={"labelSelector": "scaledjob.keda.sh/name=worker"},
    )
    return list(answer.get("items") or [])


async def finish(kube: Kube, job: dict[str, Any], outcome: str) -> None:
    name = job["metadata"]["name"]
    status = {
        "conditions": [{"type": outcome, "status": "True", "lastTransitionTime": now().isoformat()}]
    }
    await kube.request(
        "PATCH",
        f"/apis/batch/v1/namespaces/{NS}/jobs/{name}/status",
        body={"status": status},
        content_type=MERGE_PATCH,
    )


async def send(sqs: Any, url: str, count: int) -> None:
    for _ in range(count):
        await sqs.send_message(QueueUrl=url, MessageBody="m")


async def drain(sqs: Any, url: str) -> None:
    await sqs.purge_queue(QueueUrl=url)


async def context(ctl: ScaledJobController, kube: Kube) -> ScaledJobContext:
    obj = await kube.request("GET", f"{GROUP}/namespaces/{NS}/scaledjobs/worker")
    return ScaledJobContext(NS, "worker", obj)


async def status_of(kube: Kube) -> dict[str, Any]:
    obj = await kube.request("GET", f"{GROUP}/namespaces/{NS}/scaledjobs/worker")
    return dict(obj.get("status") or {})


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status.get("conditions") or [] if c["type"] == kind)


async def test_burst_creates_jobs_then_returns_to_zero_within_history_limits(
    kube: Kube, moto: str, queue: tuple[str, Any], controller: Any
) -> None:
    url, sqs = queue
    ctl, _ = controller
    await credentials(kube)
    await scaled_job(
        kube, moto, url, maxReplicaCount=4, successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1
    )
    ctx = await context(ctl, kube)

    decision = await ctl.evaluate(ctx)
    assert decision is not None
    assert (decision.active, decision.create) == (False, 0)
    assert condition(await status_of(kube), "Active")["status"] == "False"

    await send(sqs, url, 6)
    decision = await ctl.evaluate(ctx)
    assert decision is not None
    assert decision.create == 4, "a burst of 6 with maxReplicaCount 4"
    assert len(await jobs(kube)) == 4
    status = await status_of(kube)
    assert condition(status, "Ready")["status"] == "True"
    assert condition(status, "Active")["status"] == "True"
    assert status.get("lastActiveTime")

    decision = await ctl.evaluate(ctx)
    assert decision is not None
    assert (decision.running, decision.create) == (4, 0), "4 running Jobs are the maximum"

    await drain(sqs, url)
    created = await jobs(kube)
    for job in created[:3]:
        await finish(kube, job, "Complete")
    await finish(kube, created[3], "Failed")
    decision = await ctl.evaluate(ctx)
    assert decision is not None
    assert (decision.active, decision.create, decision.running) == (False, 0, 0)
    left = await jobs(kube)
    assert len(left) == 3, "2 successful + 1 failed kept"
    assert condition(await status_of(kube), "Active")["status"] == "False"


async def test_missing_secret_key_is_a_clear_condition_without_secrets(
    kube: Kube, moto: str, queue: tuple[str, Any], controller: Any
) -> None:
    url, sqs = queue
    ctl, recorder = controller
    await credentials(kube, key="nope")
    await scaled_job(kube, moto, url)
    await send(sqs, url, 3)
    ctx = await context(ctl, kube)
    assert await ctl.evaluate(ctx) is None
    ready = condition(await status_of(kube), "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == "ScaledJobCheckFailed"
    assert "nope" in ready["message"]
    assert "aws" in ready["message"]
    assert await jobs(kube) == []
    await recorder.flush()
    events = await kube.request("GET", f"/apis/events.k8s.io/v1/namespaces/{NS}/events")
    assert "ScaledJobCheckFailed" in str(events)
    text = str(await status_of(kube)) + str(events)
    assert SECRET_ACCESS_KEY not in text
    # counted as KEDA counts a ScaledJob's errors (not as a ScaledObject's)
    errors = ctl.metrics.exposition().decode()
    assert f'keda_scaled_job_errors_total{{namespace="{NS}",scaledJob="worker"}} 1.0' in errors
    assert "keda_scaled_object_errors_total{" not in errors
    assert SECRET_ACCESS_KEY not in errors
    # The key appears: the next poll builds the triggers and creates Jobs.
    await kube.request(
        "PATCH",
        f"{GROUP}/namespaces/{NS}/triggerauthentications/aws",
        body={"spec": {"secretTargetRef": [
            {"parameter": "awsAccessKeyID", "name": "aws", "key": "id"},
            {"parameter": "awsSecretAccessKey", "name": "aws", "key": "secret"},
        ]}},
        content_type=MERGE_PATCH,
    )  # fmt: skip
    decision = await ctl.evaluate(ctx)
    assert decision is not None
    assert decision.create == 3
    assert condition(await status_of(kube), "Ready")["status"] == "True"
