"""e2e: a ScaledJob under ``podscaler run`` creates Jobs for an SQS burst; the world's job pods
drain the queue and complete; the ScaledJob returns to zero running Jobs and inactive, and
``successfulJobsHistoryLimit`` keeps only the newest finished Jobs.

What a user sees: Jobs labelled ``scaledjob.keda.sh/name=worker`` appear (never more at once
than ``maxReplicaCount``), their pods run and succeed, the queue is empty, older finished Jobs
are deleted down to the limit, the ScaledJob's Active condition goes back to False, and Events
say JobsCreated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from podscaler.kube.clients import Kube
from podscaler.sim.world.queues import SqsQueue
from podscaler.sim.world.world import World
from tests.e2e.conftest import OperatorProcess
from tests.e2e.eventworld import (
    GROUP,
    NS,
    add_queue,
    burst,
    consumers,
    event_reasons,
    put_secret,
    trigger_auth,
    world,  # noqa: F401 - the fixture
)
from tests.fixtures.moto import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from tests.integration.controllers.objects import events, wait_for


async def jobs(kube: Kube) -> list[dict[str, Any]]:
    answer = await kube.request(
        "GET",
        f"/apis/batch/v1/namespaces/{NS}/jobs",
        params={"labelSelector": "scaledjob.keda.sh/name=worker"},
    )
    return list(answer.get("items") or [])


def finished(job: dict[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or ()
    )


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == kind:
            return dict(c)
    return {}


async def test_scaled_job_runs_jobs_for_a_burst_and_returns_to_zero(
    kube: Kube,
    moto: str,
    world: World,  # noqa: F811
    operator: Callable[..., Awaitable[OperatorProcess]],
) -> None:
    queue = await SqsQueue.open("renders", moto, REGION)
    add_queue(world, queue)
    # Each job pod takes a message a second and completes once the queue is empty.
    consumers(world, "worker", "renders", per_second=2, job=True)
    await put_secret(kube, "sqs", {"id": ACCESS_KEY_ID, "secret": SECRET_ACCESS_KEY})
    await trigger_auth(
        kube,
        "sqs",
        [
            {"parameter": "awsAccessKeyID", "name": "sqs", "key": "id"},
            {"parameter": "awsSecretAccessKey", "name": "sqs", "key": "secret"},
        ],
    )
    body = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledJob",
        "metadata": {"name": "worker"},
        "spec": {
            "jobTargetRef": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "render",
                                "image": "example/render:1",
                                "resources": {"requests": {"cpu": "100m"}},
                            }
                        ],
                        "restartPolicy": "Never",
                    }
                }
            },
            "pollingInterval": 1,
            "maxReplicaCount": 4,
            "successfulJobsHistoryLimit": 2,
            "failedJobsHistoryLimit": 1,
            "triggers": [
                {
                    "type": "aws-sqs-queue",
                    "metadata": {
                        "queueURL": queue.url,
                        "queueLength": "5",
                        "awsRegion": REGION,
                        "awsEndpoint": moto,
                    },
                    "authenticationRef": {"name": "sqs"},
                }
            ],
        },
    }
    await kube.request("POST", f"{GROUP}/namespaces/{NS}/scaledjobs", body=body)
    await operator()

    async def get_sj() -> dict[str, Any]:
        return await kube.request("GET", f"{GROUP}/namespaces/{NS}/scaledjobs/worker")

    async def ready() -> bool:
        return condition(await get_sj(), "Ready").get("status") == "True"

    await wait_for(ready, 15)
    assert await jobs(kube) == []
    await burst(world, "renders", 30)  # 30 / 5 = 6 Jobs wanted, 4 at most at once
    peak_running = 0
    seen: set[str] = set()

    async def some_succeeded() -> bool:
        nonlocal peak_running
        current = await jobs(kube)
        seen.update(j["metadata"]["name"] for j in current)
        peak_running = max(peak_running, sum(1 for j in current if not finished(j)))
        return any(finished(j) for j in current)

    await wait_for(some_succeeded, 20)

    async def drained_and_idle() -> bool:
        current = await jobs(kube)
        seen.update(j["metadata"]["name"] for j in current)
        return (
            await queue.depth() == 0
            and all(finished(j) for j in current)
            and condition(await get_sj(), "Active").get("status") == "False"
        )

    await wait_for(drained_and_idle, 45)
    assert 1 <= peak_running <= 4
    assert world.queues.queues["renders"].consumed_total == 30

    async def history_trimmed() -> bool:
        return len(await jobs(kube)) <= 2

    await wait_for(history_trimmed, 10)
    remaining = await jobs(kube)
    assert len(seen) > len(remaining)  # older finished Jobs were deleted
    assert all(finished(j) for j in remaining)
    reasons = event_reasons(await events(kube), "worker")
    assert "JobsCreated" in reasons
