"""e2e: what ``podscaler run`` tells its reader at info level, and how soon a new ScaledObject
gets its first status.

The operator process runs against the embedded API server with ``--log-level info`` (what a
Deployment runs). Each scaling action is one line (object, target, from → to, the rule and what
bound it) and each condition change is one line (type, old → new status, reason). A new
ScaledObject's first status comes from its first poll, at once, whether it was created while the
operator ran or before it started: never a whole ``pollingInterval`` later (600 s here, so
waiting for it would time the test out).
"""

from __future__ import annotations

import asyncio
import re
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

#: Far longer than the test may wait: a first poll scheduled "within the interval" would miss.
POLLING_INTERVAL = 600
#: The first status must be there this soon (a loaded CI machine included).
FIRST_STATUS_SECONDS = 10.0

CPU = [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "30"}}]
BOUNDS = {"minReplicaCount": 1, "maxReplicaCount": 10}


async def _busy_deployment(kube: Kube, apiserver: ApiServer, name: str) -> None:
    """Two Ready pods at 90 % of their request: a 30 % target wants ceil(2 * 3) = 6."""
    await create_deployment(kube, deployment(name, 2, cpu_request="500m"))
    for pod in (f"{name}-a", f"{name}-b"):
        await ready_pod(kube, pod, name, cpu_request="500m")
        apiserver.set_pod_metrics("default", pod, {"app": {"cpu": "450m"}})


async def _has_status(kube: Kube, name: str) -> bool:
    return bool((await get_so(kube, name)).get("status", {}).get("conditions"))


async def _logged(process: OperatorProcess, pattern: str, seconds: float = 10.0) -> str:
    """The first line of the operator's output matching *pattern* (waits for it)."""
    compiled = re.compile(pattern)
    async with asyncio.timeout(seconds):
        while True:
            for line in process.output().splitlines():
                if compiled.search(line):
                    return line
            await asyncio.sleep(0.1)


async def test_scaling_and_condition_changes_are_logged_and_status_comes_at_once(
    kube: Kube, apiserver: ApiServer, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    process = await operator("--log-level", "info")
    await _busy_deployment(kube, apiserver, "web")
    loop = asyncio.get_running_loop()
    created = loop.time()
    await create_so(
        kube,
        scaled_object("web", "web", CPU, pollingInterval=POLLING_INTERVAL, **BOUNDS),
    )
    await wait_for(lambda: _has_status(kube, "web"), FIRST_STATUS_SECONDS)
    assert loop.time() - created < FIRST_STATUS_SECONDS

    # The HPA algorithm wants 6; without a behavior a scale-up is at most max(2 x 2, 4) = 4.
    assert await replicas(kube, "web") == 4
    scaled = await _logged(process, r"ScaledObject default/web: scaled ")
    assert " INFO " in scaled
    assert "apps/v1.Deployment default/web 2 -> 4 replicas" in scaled
    assert "(rule hpa, bound by ScaleUpLimit)" in scaled

    ready = await _logged(process, r"ScaledObject default/web: condition Ready ")
    assert " INFO " in ready
    assert "condition Ready Unknown -> True (ScaledObjectReady" in ready
    active = await _logged(process, r"ScaledObject default/web: condition Active ")
    assert "condition Active Unknown -> True (ScalerActive" in active

    # A condition that changes later is logged with its old status: pausing the object.
    await kube.request(
        "PATCH",
        "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default/scaledobjects/web",
        body={"metadata": {"annotations": {"autoscaling.keda.sh/paused": "true"}}},
        content_type="application/merge-patch+json",
    )
    paused = await _logged(process, r"ScaledObject default/web: condition Paused False -> True")
    assert " INFO " in paused
    output = process.output()
    assert output.count("condition Ready Unknown -> True") == 1, output
    assert "Traceback" not in output


async def test_an_object_created_before_the_operator_started_gets_its_status_at_once(
    kube: Kube, apiserver: ApiServer, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    """Apply, then start ``podscaler run``: the object has never been evaluated, so its first
    poll is not spread over its interval as after a restart."""
    await _busy_deployment(kube, apiserver, "early")
    await create_so(
        kube,
        scaled_object("early", "early", CPU, pollingInterval=POLLING_INTERVAL, **BOUNDS),
    )
    await operator("--log-level", "info")
    loop = asyncio.get_running_loop()
    ready = loop.time()
    await wait_for(lambda: _has_status(kube, "early"), FIRST_STATUS_SECONDS)
    assert loop.time() - ready < FIRST_STATUS_SECONDS
    so = await get_so(kube, "early")
    assert so["status"]["observedGeneration"] == so["metadata"]["generation"]
