"""The soft taint: an unneeded node gets ``DeletionCandidateOfClusterAutoscaler:PreferNoSchedule``
so new pods go elsewhere while its unneeded time runs, and loses it once it is needed again.

Asserted through the embedded API server (the nodes' ``spec.taints``) and the world's
scheduler, which scores the soft taint as kube-scheduler's TaintToleration does.
"""

from __future__ import annotations

from typing import Any

from podscaler.nodes import NodeAutoscalerOptions
from podscaler.nodes.templates import TAINT_DELETION_CANDIDATE
from tests.integration.nodes.harness import Cluster, run_cluster, small_group

#: Unneeded nodes stay (long unneeded time) so the taint can be watched.
SLOW = NodeAutoscalerOptions().with_changes(scale_down_unneeded_time_seconds=1800.0)


def _soft_tainted(cluster: Cluster) -> set[str]:
    return {
        n["metadata"]["name"]
        for n in cluster.nodes()
        if any(t["key"] == TAINT_DELETION_CANDIDATE for t in n["spec"].get("taints") or ())
    }


def _node_of(cluster: Cluster, prefix: str) -> str:
    pods: list[dict[str, Any]] = [
        p for p in cluster.world.ctx.state.pods.values() if p["metadata"]["name"].startswith(prefix)
    ]
    assert len(pods) == 1
    return str(pods[0]["spec"].get("nodeName") or "")


def test_unneeded_nodes_are_soft_tainted_avoided_and_untainted_when_needed() -> None:
    async def body(cluster: Cluster) -> None:
        # two busy nodes (1100m of 2 cores each) and an empty one
        cluster.deploy("web", 2, cpu="1100m")
        await cluster.run(until_seconds=60)
        [empty] = [n for n in cluster.nodes() if not any(
            p["spec"].get("nodeName") == n["metadata"]["name"]
            for p in cluster.world.ctx.state.pods.values()
        )]  # fmt: skip
        empty_name = empty["metadata"]["name"]
        assert _soft_tainted(cluster) == {empty_name}
        [taint] = [
            t
            for t in cluster.server.store.get(cluster.world.ctx.kinds.nodes, "", empty_name).obj[
                "spec"
            ]["taints"]
            if t["key"] == TAINT_DELETION_CANDIDATE
        ]
        assert taint["effect"] == "PreferNoSchedule"
        assert int(taint["value"]) > 0
        # a small pod would go to the emptiest node; the soft taint sends it to a busy one
        cluster.deploy("small", 1, cpu="100m")
        await cluster.run(until_seconds=90)
        assert _node_of(cluster, "small-") not in ("", empty_name)
        assert _soft_tainted(cluster) == {empty_name}
        # a pod that fits only on the tainted node lands there (a preference, not a rule),
        # and the node, needed again, loses the taint at the next pass
        cluster.deploy("big", 1, cpu="1100m")
        await cluster.run(until_seconds=130)
        assert _node_of(cluster, "big-") == empty_name
        assert _soft_tainted(cluster) == set()
        assert len(cluster.nodes()) == 3

    run_cluster(body, groups=[small_group(initial_size=3)], options=SLOW)


def test_the_bulk_count_bounds_taints_per_pass_and_zero_turns_them_off() -> None:
    async def body(cluster: Cluster) -> None:
        # every node is empty and unneeded; one taint per pass
        await cluster.run(until_seconds=5)
        assert cluster.autoscaler.passes == 1
        assert len(_soft_tainted(cluster)) == 1
        await cluster.run(until_seconds=15)
        assert len(_soft_tainted(cluster)) == 2
        await cluster.run(until_seconds=60)
        assert len(_soft_tainted(cluster)) == 4

    options = SLOW.with_changes(max_bulk_soft_taint_count=1)
    run_cluster(body, groups=[small_group(initial_size=4)], options=options)

    async def off(cluster: Cluster) -> None:
        await cluster.run(until_seconds=60)
        assert cluster.autoscaler.passes >= 3
        assert _soft_tainted(cluster) == set()

    run_cluster(
        off,
        groups=[small_group(initial_size=2)],
        options=SLOW.with_changes(max_bulk_soft_taint_count=0),
    )
