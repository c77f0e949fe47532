"""The world's drain honours grace periods: an Eviction's (or a DELETE's) ``gracePeriodSeconds``
becomes the pod's ``deletionGracePeriodSeconds`` and the kubelet stops it within that, else
within the pod's ``terminationGracePeriodSeconds``; so the node autoscaler's cap
(``--max-graceful-termination-sec``) shortens a slow pod's exit and the node goes in time."""

from __future__ import annotations

from typing import Any

from podscaler.nodes import NodeAutoscalerOptions
from podscaler.nodes.plans import NodeRemoval, Utilization
from tests.integration.nodes.harness import Cluster, run_cluster, small_group

#: The pods take 200 s to stop (the world's stop-seconds annotation), and allow 600 s.
SLOW_POD: dict[str, Any] = {
    "annotations": {"sim.podscaler.io/stop-seconds": "200"},
    "terminationGracePeriodSeconds": 600,
}


def _pods(cluster: Cluster, prefix: str) -> list[dict[str, Any]]:
    return [
        p for p in cluster.world.ctx.state.pods.values() if p["metadata"]["name"].startswith(prefix)
    ]


def test_a_drain_caps_the_grace_period_and_the_kubelet_keeps_to_it() -> None:
    async def body(cluster: Cluster) -> None:
        cluster.deploy("slow", 1, cpu="100m", **SLOW_POD)
        await cluster.run(until_seconds=30)
        [pod] = _pods(cluster, "slow-")
        node = pod["spec"]["nodeName"]
        removal = NodeRemoval(
            node,
            "general",
            "underutilized",
            Utilization(0.05, "cpu"),
            (f"default/{pod['metadata']['name']}",),
        )
        actuator = cluster.autoscaler.actuator
        started = cluster.world.seconds()
        assert actuator.start(removal)
        seen_grace: list[int] = []
        while actuator.in_flight and cluster.world.seconds() < started + 120:
            await cluster.run(until_seconds=cluster.world.seconds() + 1)
            entry = cluster.world.ctx.state.pods.get(("default", pod["metadata"]["name"]))
            if entry is not None and entry["metadata"].get("deletionTimestamp"):
                seen_grace.append(entry["metadata"]["deletionGracePeriodSeconds"])
        [outcome] = actuator.take_outcomes()
        assert outcome.deleted, outcome.reason
        assert set(seen_grace) == {15}
        # evicted with 15 s, not the pod's 600 s nor its 200 s stop: the node went in time
        assert cluster.world.seconds() - started < 15 + 10

    options = NodeAutoscalerOptions().with_changes(
        max_graceful_termination_sec=15,
        node_delete_delay_after_taint_seconds=0.0,
        scale_down_enabled=False,  # only the removal started here
    )
    run_cluster(body, groups=[small_group()], options=options)


def test_a_plain_delete_keeps_the_pods_own_grace_period() -> None:
    async def body(cluster: Cluster) -> None:
        cluster.deploy("slow", 1, cpu="100m", **SLOW_POD)
        await cluster.run(until_seconds=30)
        [pod] = _pods(cluster, "slow-")
        name = pod["metadata"]["name"]
        await cluster.kube.request("DELETE", f"/api/v1/namespaces/default/pods/{name}")
        await cluster.run(until_seconds=40)
        current = cluster.world.ctx.state.pods[("default", name)]
        assert current["metadata"]["deletionGracePeriodSeconds"] == 600
        await cluster.run(until_seconds=200)
        assert ("default", name) in cluster.world.ctx.state.pods  # its 200 s stop
        await cluster.run(until_seconds=260)
        assert ("default", name) not in cluster.world.ctx.state.pods
        # an explicit gracePeriodSeconds wins over the pod's
        [second] = _pods(cluster, "slow-")
        other = second["metadata"]["name"]
        await cluster.kube.request(
            "DELETE",
            f"/api/v1/namespaces/default/pods/{other}",
            body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 3},
        )
        await cluster.run(until_seconds=261)
        assert (
            cluster.world.ctx.state.pods[("default", other)]["metadata"][
                "deletionGracePeriodSeconds"
            ]
            == 3
        )
        await cluster.run(until_seconds=270)
        assert ("default", other) not in cluster.world.ctx.state.pods

    run_cluster(body, groups=[small_group()])
