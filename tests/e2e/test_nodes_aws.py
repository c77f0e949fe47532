"""e2e: ``podscaler run`` with Cluster Autoscaler's flags scales an Auto Scaling group on moto.

Everything crosses a real socket: the operator is a subprocess that reads the embedded API
server over HTTP (its kubeconfig) and drives EC2 Auto Scaling on a moto server
(``--aws-endpoint-url``); the world runs in the test's event loop on real time and plays the
cloud's other half — each instance of the group becomes a Node a moment after it launches,
a terminated instance's Node goes — and the scheduler and kubelets.

The story (STORIES.md, story 6, at a small scale): pods that do not fit → the operator raises
the group's desired capacity (SetDesiredCapacity, read back from moto) → instances → Nodes →
the pods Running; the Deployment scaled down → after ``--scale-down-unneeded-time`` the
operator taints, drains and terminates the spare instances, never below the group's minimum.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from podscaler.kube.clients import Kube
from podscaler.nodes.providers.aws import AwsCloud, AwsSettings
from podscaler.nodes.providers.aws_world import InstanceNodes
from podscaler.nodes.templates import TAINT_TO_BE_DELETED
from podscaler.sim.apiserver.server import ApiServer
from podscaler.sim.world.asgs import AsgSpec, AsgSync, cluster_tag, create_asgs
from podscaler.sim.world.world import World
from tests.e2e.conftest import OperatorProcess
from tests.fixtures.moto import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from tests.integration.controllers.objects import create_deployment, deployment, wait_for

CLUSTER = "e2e"
GROUP = "workers"


def _settings(moto: str) -> AwsSettings:
    return AwsSettings(
        region=REGION,
        endpoint_url=moto,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SecretStr(SECRET_ACCESS_KEY),
    )


@pytest.fixture
async def asg_world(apiserver: ApiServer, moto: str) -> AsyncIterator[World]:
    """One ASG of m5.large (2 vCPU) on moto, min 1, max 4, one instance up; the world turns
    its instances into Nodes two seconds after they appear."""
    spec = AsgSpec(
        name=GROUP,
        instance_type="m5.large",
        min_size=1,
        max_size=4,
        initial_size=1,
        boot_seconds=2.0,
        zone=f"{REGION}a",
    )
    await create_asgs(_settings(moto), [spec], CLUSTER)
    world = World(apiserver, tick_seconds=0.5, node_ready_seconds=0.5)
    cloud = AwsCloud(_settings(moto), clock=time.time)
    await cloud.start()
    world.asgs = AsgSync(
        world.ctx,
        cloud,
        InstanceNodes(region=REGION, boot_seconds=2.0),
        wake=world.wake,
        poll_seconds=0.5,
    )
    world.group_names.add(GROUP)
    world.start()
    await world.asgs.seed()
    world.asgs.start()
    task = asyncio.get_running_loop().create_task(world.run(), name="world")
    try:
        yield world
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await world.stop()


async def _desired(moto: str) -> int:
    from aiobotocore.session import AioSession

    async with AioSession().create_client(
        "autoscaling",
        region_name=REGION,
        endpoint_url=moto,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    ) as client:
        found = await client.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
    return int(found["AutoScalingGroups"][0]["DesiredCapacity"])


async def _nodes(kube: Kube) -> list[dict[str, Any]]:
    return list((await kube.request("GET", "/api/v1/nodes")).get("items") or [])


async def _pods(kube: Kube) -> list[dict[str, Any]]:
    found = await kube.request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")
    return [p for p in found.get("items") or [] if not p["metadata"].get("deletionTimestamp")]


async def _events(kube: Kube, reason: str) -> list[dict[str, Any]]:
    found = await kube.request("GET", f"/api/v1/events?fieldSelector=reason%3D{reason}")
    return list(found.get("items") or [])


async def test_run_scales_an_asg_up_for_pending_pods_and_down_after_the_unneeded_time(
    kube: Kube,
    moto: str,
    asg_world: World,
    operator: Callable[..., Awaitable[OperatorProcess]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The operator gets its credentials as in a cluster: botocore's chain, the environment.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    assert len(await _nodes(kube)) == 1
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "podscaler"}}
    await kube.request("POST", "/api/v1/namespaces", body=namespace)
    process = await operator(
        "--cloud-provider=aws",
        f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
        f"{cluster_tag(CLUSTER)}",
        f"--aws-region={REGION}",
        f"--aws-endpoint-url={moto}",
        "--scan-interval=1s",
        "--scale-down-unneeded-time=6s",
        "--scale-down-delay-after-add=0s",
        "--scale-down-delay-after-delete=0s",
        "--node-delete-delay-after-taint=0s",
        "--max-graceful-termination-sec=1",
    )
    # 6 pods of 700m: two fit an m5.large (under 2 cores allocatable), so three nodes are needed.
    web = deployment("web", 6, cpu_request="700m")
    web["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 1
    await create_deployment(kube, web)

    async def all_running() -> bool:
        pods = await _pods(kube)
        return len(pods) == 6 and all(p["status"].get("phase") == "Running" for p in pods)

    try:
        await wait_for(all_running, 60)
    except BaseException:
        print(process.output()[-4000:])
        raise
    assert await _desired(moto) == 3
    nodes = await _nodes(kube)
    assert len(nodes) == 3
    assert all(n["spec"]["providerID"].startswith(f"aws:///{REGION}a/i-") for n in nodes)
    triggered = await _events(kube, "TriggeredScaleUp")
    assert triggered
    assert GROUP in triggered[0]["message"]

    # Nothing needs the new nodes any more: after the unneeded time they are drained and
    # their instances terminated; the group keeps its minimum, the one left holds the pod.
    body = {"spec": {"replicas": 1}}
    await kube.request(
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web",
        body=body,
        content_type="application/merge-patch+json",
    )

    async def one_node() -> bool:
        return len(await _nodes(kube)) == 1 and await _desired(moto) == 1

    try:
        await wait_for(one_node, 60, every=0.5)
    except BaseException:
        print(process.output()[-4000:])
        raise
    left = await _nodes(kube)
    taints = [t["key"] for t in left[0]["spec"].get("taints") or []]
    assert TAINT_TO_BE_DELETED not in taints
    assert await _events(kube, "ScaleDown") or await _events(kube, "ScaleDownEmpty")
    pods = await _pods(kube)
    assert len(pods) == 1
    assert pods[0]["spec"]["nodeName"] == left[0]["metadata"]["name"]
    status = await kube.request(
        "GET", "/api/v1/namespaces/podscaler/configmaps/cluster-autoscaler-status"
    )
    assert "workers" in status["data"]["status"]
    assert "Traceback" not in process.output()
    assert SECRET_ACCESS_KEY not in process.output()
