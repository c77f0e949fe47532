"""``podscaler run`` as a process: ProportionalScalers are picked up because their CRD is
installed, and CPA's own flags (``--configmap/--target/--namespace/--default-params``) work for
a user replacing a cluster-proportional-autoscaler Deployment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from podscaler.kube.clients import Kube
from tests.e2e.conftest import OperatorProcess
from tests.integration.controllers.objects import events, has_replicas, wait_for
from tests.integration.controllers.proportional_objects import (
    add_node,
    create_ps,
    get_ps,
    nodes_and_target,
)

Start = Callable[..., Awaitable[OperatorProcess]]


async def test_run_scales_a_proportional_scaler_when_its_crd_is_installed(
    kube: Kube, operator: Start
) -> None:
    await nodes_and_target(kube, 3, "nginx")
    await create_ps(
        kube, "nginx", "nginx", ladder={"nodesToReplicas": [[1, 1], [2, 2], [3, 3], [4, 3], [5, 5]]}
    )
    process = await operator()
    await wait_for(lambda: has_replicas(kube, "nginx", 3), 15)
    await add_node(kube, "n3")
    await add_node(kube, "n4")
    await wait_for(lambda: has_replicas(kube, "nginx", 5), 5)
    status = (await get_ps(kube, "nginx"))["status"]
    assert status["lastDecision"]["rule"] == "nodesToReplicas step [5 5]"
    assert await process.stop() == 0


async def test_run_with_cpa_flags(kube: Kube, operator: Start) -> None:
    await nodes_and_target(kube, 4, "coredns")
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
    await wait_for(lambda: has_replicas(kube, "coredns", 2), 15)
    config_map = await kube.request("GET", "/api/v1/namespaces/default/configmaps/dns-autoscaler")
    assert config_map["data"] == {"linear": '{"min":1,"nodesPerReplica":2}'}
    await add_node(kube, "n4")
    await wait_for(lambda: has_replicas(kube, "coredns", 3), 5)
    reasons = {e["reason"] for e in await events(kube)}
    assert {"ProportionalConfigMapCreated", "ProportionalTargetScaled"} <= reasons
    assert await process.stop() == 0
