"""e2e: cpu utilization from metrics.k8s.io drives replicas, with behavior policies limiting
the rate of scale-up (there are no workload controllers: the test creates the pods)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from podscaler.kube.clients import Kube
from podscaler.sim.apiserver.server import ApiServer
from tests.e2e.conftest import OperatorProcess
from tests.integration.controllers.objects import (
    create_deployment,
    create_so,
    deployment,
    get_so,
    ready_pod,
    replicas,
    scaled_object,
    wait_for,
)


async def test_cpu_utilization_with_a_scale_up_policy(
    kube: Kube, apiserver: ApiServer, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    await operator()
    await create_deployment(kube, deployment("cpu", 2, cpu_request="500m"))
    for pod in ("cpu-a", "cpu-b"):
        await ready_pod(kube, pod, "cpu", cpu_request="500m")
        apiserver.set_pod_metrics("default", pod, {"app": {"cpu": "450m"}})
    # 90 % of requests against a 30 % target: the HPA wants ceil(2 * 90 / 30) = 6, but the
    # policy allows one more pod per 60 s.
    await create_so(
        kube,
        scaled_object(
            "cpu",
            "cpu",
            [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "30"}}],
            pollingInterval=1,
            minReplicaCount=1,
            maxReplicaCount=10,
            advanced={
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}
                    }
                }
            },
        ),
    )

    async def at(n: int) -> bool:
        return await replicas(kube, "cpu") == n

    await wait_for(lambda: at(3), 15)
    await asyncio.sleep(3)
    assert await replicas(kube, "cpu") == 3  # held by the policy, not 6
    decision = (await get_so(kube, "cpu"))["status"]["lastDecision"]
    assert decision["boundBy"] == "ScaleUpPolicy"
    assert (await get_so(kube, "cpu"))["status"]["resourceMetricNames"] == ["cpu"]
