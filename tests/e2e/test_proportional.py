"""``podscaler run`` as a process: ProportionalScalers are picked up because their CRD is
installed, and CPA's own flags (``--configmap/--target/--namespace/--default-params``) work for
a user replacing a cluster-proportional-autoscaler Deployment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from podscaler.kube.clients import Kube
from tests.e2e.conftest import OperatorProcess
from tests.integration.controllers.objects import (
    create,
    create_deployment,
    deployment,
    events,
    replicas,
    wait_for,
)
from tests.integration.controllers.test_proportional import (
    PS_PATH,
    add_node,
    get_ps,
    proportional_scaler,
)

Start = Callable[..., Awaitable[OperatorProcess]]


async def _at(kube: Kube, name: str, count: int) -> bool:
    return await replicas(kube, name) == count


async def test_run_scales_a_proportional_scaler_when_its_crd_is_installed(
    kube: Kube, operator: Start
) -> None:
    for index in range(3):
        await add_node(kube, f"n{index}")
    await create_deployment(kube, deployment("nginx", 1))
    await create(
        kube,
        PS_PATH,
        proportional_scaler(
            "nginx", "nginx", ladder={"nodesToReplicas": [[1, 1], [2, 2], [3, 3], [4, 3], [5, 5]]}
        ),
    )
    process = await operator()
    await wait_for(lambda: _at(kube, "nginx", 3), 15)
    await add_node(kube, "n3")
    await add_node(kube, "n4")
    await wait_for(lambda: _at(kube, "nginx", 5), 5)
    status = (await get_ps(kube, "nginx"))["status"]
    assert status["lastDecision"]["rule"] == "nodesToReplicas step [5 5]"
    assert await process.stop() == 0


async def test_run_with_cpa_flags(kube: Kube, operator: Start) -> None:
    for index in range(4):
        await add_node(kube, f"n{index}")
    await create_deployment(kube, deployment("coredns", 1))
    process = await operator(
        "--configmap",
        "dns-autoscaler",
        "--target",
        "deployment/coredns",
        "--namespace",
        "default",
        "--default-params",
        '{"linear": {"nodesPerReplica": 2, "min": 1}}',
    )
    await wait_for(lambda: _at(kube, "coredns", 2), 15)
    config_map = await kube.request("GET", "/api/v1/namespaces/default/configmaps/dns-autoscaler")
    assert config_map["data"] == {"linear": '{"min":1,"nodesPerReplica":2}'}
    await add_node(kube, "n4")
    await wait_for(lambda: _at(kube, "coredns", 3), 5)
    reasons = {e["reason"] for e in await events(kube)}
    assert {"ProportionalConfigMapCreated", "ProportionalTargetScaled"} <= reasons
    assert await process.stop() == 0
