"""The ProportionalScaler controller in-process against the embedded API server.

Nodes, Deployments, ConfigMaps and ProportionalScalers are written over HTTP as kubectl (or a
kubelet) would; the controller watches them through its informers. What is asserted is what a
user sees: the Deployment's replicas, the scaler's status and conditions, and Events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from podscaler.cli import main
from podscaler.controllers.proportional import (
    CpaFlags,
    ProportionalController,
    ProportionalSettings,
)
from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.events import EventRecorder
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.controllers.objects import (
    condition,
    create,
    create_deployment,
    deployment,
    events,
    has_replicas,
    replicas,
    wait_for,
)
from tests.integration.controllers.proportional_objects import (
    CM_PATH,
    PS_PATH,
    add_node,
    create_ps,
    get_ps,
    nodes_and_target,
    patch_node,
)


def wall_now() -> datetime:
    return datetime.now(UTC)


async def reasons(kube: Kube) -> set[str]:
    return {e["reason"] for e in await events(kube)}


@pytest.fixture
async def kube_events(kube: Kube) -> AsyncIterator[EventRecorder]:
    recorder = EventRecorder(kube, now=wall_now, reporting_instance="test")
    yield recorder
    await recorder.aclose()


async def _controller(
    kube: Kube, recorder: EventRecorder, **settings: Any
) -> ProportionalController:
    ctl = ProportionalController(
        kube,
        namespace=None,
        now=wall_now,
        settings=ProportionalSettings(retry_seconds=0.2, **settings),
        recorder=recorder,
    )
    await ctl.start()
    await ctl.wait_synced(10)
    return ctl


@pytest.fixture
async def controller(
    kube: Kube, kube_events: EventRecorder
) -> AsyncIterator[ProportionalController]:
    ctl = await _controller(kube, kube_events)
    yield ctl
    await ctl.aclose()


async def test_a_node_added_is_followed_within_a_second(
    kube: Kube, apiserver: ApiServer, controller: ProportionalController
) -> None:
    await nodes_and_target(kube, 3, "dns")
    await create_ps(
        kube, "dns", "dns", linear={"nodesPerReplica": 1, "coresPerReplica": 4, "min": 1}
    )
    await wait_for(lambda: has_replicas(kube, "dns", 3))

    started = time.perf_counter()
    await add_node(kube, "n3")
    await wait_for(lambda: has_replicas(kube, "dns", 4), timeout_seconds=1.0, every=0.005)
    followed = time.perf_counter() - started
    assert followed < 1.0

    async def status_caught_up() -> bool:
        return ((await get_ps(kube, "dns")).get("status") or {}).get("schedulableNodes") == 4

    await wait_for(status_caught_up)
    status = (await get_ps(kube, "dns"))["status"]
    assert status["totalCores"] == 8
    assert status["replicas"] == 4
    assert status["mode"] == "linear"
    assert status["parametersSource"] == "spec"
    assert status["lastDecision"]["rule"] == "nodesPerReplica"
    assert status["lastDecision"]["formula"][1] == "from nodes: ceil(4 nodes / 1) = 4"
    assert condition(await get_ps(kube, "dns"), "Ready")["status"] == "True"
    assert condition(await get_ps(kube, "dns"), "ParametersValid")["status"] == "True"
    assert {"ProportionalScalerReady", "ProportionalTargetScaled"} <= await reasons(kube)

    # What a user types (asyncio.run inside, so off this test's loop).
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["explain", "proportionalscaler/default/dns", "--server", apiserver.url],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "ProportionalScaler default/dns -> Deployment dns"
    assert "nodes: 4 schedulable of 4; cores: 8 schedulable of 8" in lines
    assert "decided: 4 replicas by nodesPerReplica" in lines


async def test_only_schedulable_selected_nodes_count(
    kube: Kube, controller: ProportionalController
) -> None:
    await add_node(kube, "a0", pool="a", cpu="3500m")
    await add_node(kube, "a1", pool="a", cpu="3500m")
    await add_node(kube, "a2", pool="a", cpu="3500m")
    await add_node(kube, "b0", pool="b", cpu="16")
    await add_node(kube, "a-not-ready", pool="a", ready=False)
    await create_deployment(kube, deployment("agent", 1))
    await create_ps(
        kube,
        "agent",
        "agent",
        ladder={"coresToReplicas": [[1, 1], [11, 4], [12, 9]]},
        nodeSelector={"matchLabels": {"pool": "a"}},
    )
    # 3 x 3500m = 10.5 cores, rounded once: 11 -> step [11 4]; pool b is not counted.
    await wait_for(lambda: has_replicas(kube, "agent", 4))
    await patch_node(kube, "a2", {"spec": {"unschedulable": True}})
    await wait_for(lambda: has_replicas(kube, "agent", 1))  # 7 cores: step [1 1]
    await patch_node(
        kube,
        "a-not-ready",
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        status=True,
    )

    async def nine_cores() -> bool:
        return ((await get_ps(kube, "agent")).get("status") or {}).get("schedulableCores") == 9

    await wait_for(nine_cores)  # 7 + 2 cores: still step [1 1]
    assert await replicas(kube, "agent") == 1
    await patch_node(kube, "a2", {"spec": {"unschedulable": None}})
    await wait_for(lambda: has_replicas(kube, "agent", 9))  # 12.5 cores -> 13: step [12 9]
    status = (await get_ps(kube, "agent"))["status"]
    assert (status["totalNodes"], status["schedulableNodes"]) == (4, 4)
    assert status["lastDecision"]["rule"] == "coresToReplicas step [12 9]"


async def test_a_bad_configmap_keeps_the_last_good_parameters(
    kube: Kube, controller: ProportionalController
) -> None:
    await nodes_and_target(kube, 2, "dns")
    await create(
        kube,
        CM_PATH,
        {
            "metadata": {"name": "dns-autoscaler"},
            "data": {"ladder": '{"nodesToReplicas": [[1, 1], [2, 2], [3, 3], [4, 3], [5, 5]]}'},
        },
    )
    await create_ps(kube, "dns", "dns", configMapRef={"name": "dns-autoscaler"})
    await wait_for(lambda: has_replicas(kube, "dns", 2))
    ps = await get_ps(kube, "dns")
    assert ps["status"]["parametersSource"].startswith("ConfigMap default/dns-autoscaler")

    await kube.request(
        "PATCH",
        f"{CM_PATH}/dns-autoscaler",
        body={"data": {"ladder": '{"nodesToReplicas": [[1, 1],]}'}},
        content_type=MERGE_PATCH,
    )

    async def refused() -> bool:
        return condition(await get_ps(kube, "dns"), "ParametersValid").get("status") == "False"

    await wait_for(refused)
    valid = condition(await get_ps(kube, "dns"), "ParametersValid")
    assert valid["reason"] == "ProportionalParametersInvalid"
    assert "error parsing ladder params: could not parse parameters" in valid["message"]
    assert "the last good parameters (ConfigMap default/dns-autoscaler" in valid["message"]
    assert condition(await get_ps(kube, "dns"), "Ready")["status"] == "True"
    assert "ProportionalParametersInvalid" in await reasons(kube)

    # The cluster grows: the last good ladder still applies.
    await add_node(kube, "n2")
    await wait_for(lambda: has_replicas(kube, "dns", 3))

    await kube.request(
        "PATCH",
        f"{CM_PATH}/dns-autoscaler",
        body={"data": {"ladder": None, "linear": '{"nodesPerReplica": 1, "min": 5}'}},
        content_type=MERGE_PATCH,
    )
    await wait_for(lambda: has_replicas(kube, "dns", 5))
    ps = await get_ps(kube, "dns")
    assert condition(ps, "ParametersValid")["status"] == "True"
    assert ps["status"]["mode"] == "linear"
    assert ps["status"]["lastDecision"]["rule"] == "min"


async def test_an_invalid_spec_is_not_ready_and_says_why(
    kube: Kube, controller: ProportionalController
) -> None:
    await add_node(kube, "n0")
    await create_deployment(kube, deployment("web", 2))
    await create_ps(kube, "web", "web", linear={"nodesPerReplica": 1}, ladder={})

    async def not_ready() -> bool:
        return condition(await get_ps(kube, "web"), "Ready").get("reason") == "NoParameters"

    await wait_for(not_ready)
    valid = condition(await get_ps(kube, "web"), "ParametersValid")
    assert valid["status"] == "False"
    assert "needs exactly one of linear, ladder or configMapRef" in valid["message"]
    assert await replicas(kube, "web") == 2  # untouched

    await kube.request(
        "PATCH", f"{PS_PATH}/web", body={"spec": {"ladder": None}}, content_type=MERGE_PATCH
    )
    await wait_for(lambda: has_replicas(kube, "web", 1))


async def test_a_missing_target_is_reported_and_found_later(
    kube: Kube, controller: ProportionalController
) -> None:
    await add_node(kube, "n0")
    await add_node(kube, "n1")
    await create_ps(kube, "late", "late", linear={"nodesPerReplica": 1})

    async def not_found() -> bool:
        return condition(await get_ps(kube, "late"), "Ready").get("reason") == "ScaleTargetNotFound"

    await wait_for(not_found)
    await create_deployment(kube, deployment("late", 0))
    await wait_for(lambda: has_replicas(kube, "late", 2))


async def test_cpa_flags_create_the_configmap_and_scale_the_targets(
    kube: Kube, kube_events: EventRecorder
) -> None:
    await nodes_and_target(kube, 4, "coredns")
    flags = CpaFlags.parse(
        configmap="dns-autoscaler",
        target="Deployment/coredns",
        namespace="default",
        default_params='{"linear": {"nodesPerReplica": 2, "preventSinglePointFailure": true}}',
    )
    ctl = await _controller(kube, kube_events, watch_scalers=False, flags=flags, resync_seconds=0.3)
    try:
        await wait_for(lambda: has_replicas(kube, "coredns", 2))
        cm = await kube.request("GET", f"{CM_PATH}/dns-autoscaler")
        assert set(cm["data"]) == {"linear"}
        found = await reasons(kube)
        assert {"ProportionalConfigMapCreated", "ProportionalTargetScaled"} <= found
        # Someone scales the add-on by hand: the resync puts it back, as CPA's poll does.
        await kube.request(
            "PATCH",
            "/apis/apps/v1/namespaces/default/deployments/coredns/scale",
            body={"spec": {"replicas": 7}},
            content_type=MERGE_PATCH,
        )
        await wait_for(lambda: has_replicas(kube, "coredns", 2), timeout_seconds=5)
    finally:
        await ctl.aclose()
