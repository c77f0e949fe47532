"""The node autoscaler against the embedded API server, as a user sees it.

The autoscaler reads Nodes, Pods, PodDisruptionBudgets and ConfigMaps through informers over
HTTP and acts on simulated node groups; the world schedules, boots nodes and runs pods.
Asserted: pod Events (``TriggeredScaleUp`` naming the group and its size change,
``NotTriggerScaleUp`` with the reasons per group), node Events through scale-down (tainted,
drained through the Eviction API, deleted), ``ScaleDownBlocked`` naming the pod that keeps a
node, the ``cluster-autoscaler-status`` ConfigMap in CA's format plus the why per node and
pod, CA's metric names, failed launches (backoff, capacity given back), timed-out scale-ups
(reverted), a malformed priority ConfigMap (last good one kept, an Event), and a dry run that
touches nothing.
"""

from __future__ import annotations

from typing import Any

import yaml

from podscaler.nodes import NodeAutoscalerOptions
from podscaler.nodes.plans import NodeRemoval, Utilization
from podscaler.nodes.templates import TAINT_TO_BE_DELETED
from tests.integration.nodes.harness import Cluster, run_cluster, small_group

FAST = NodeAutoscalerOptions().with_changes(
    scale_down_unneeded_time_seconds=120.0,
    scale_down_delay_after_add_seconds=120.0,
)


def test_pending_pods_trigger_a_scale_up_named_on_each_pod() -> None:
    async def body(cluster: Cluster) -> None:
        cluster.deploy("web", 10, cpu="700m")  # 2 per node: 4 placed on 2 nodes, 6 pending
        cluster.deploy("gpu", 1, cpu="100m", nodeSelector={"accelerator": "a100"})
        await cluster.run(until_seconds=15)
        assert len(cluster.groups["general"].live_instances()) == 5  # 2 -> 5
        triggered = cluster.events("TriggeredScaleUp")
        assert len(triggered) == 6
        assert {e["message"] for e in triggered} == {
            "pod triggered scale-up: [{general 2->5 (max: 6)}]"
        }
        await cluster.run(until_seconds=120)
        assert len(cluster.nodes("general")) == 5
        web = [
            p for p in cluster.world.ctx.state.pods.values() if p["metadata"]["name"][:4] == "web-"
        ]
        assert all(p["spec"].get("nodeName") for p in web)
        # the pod no group can take hears why, in CA's words, once the scale-up is done
        [gpu] = cluster.events("NotTriggerScaleUp")
        assert gpu["message"] == (
            "pod didn't trigger scale-up: 1 node(s) didn't match Pod's node affinity/selector"
        )
        assert cluster.metric("cluster_autoscaler_scaled_up_nodes_total",
                              gpu_resource_name="", gpu_name="") == 3  # fmt: skip
        assert (
            cluster.metric("cluster_autoscaler_unschedulable_pods_count", type="unschedulable") == 1
        )
        assert cluster.metric("cluster_autoscaler_nodes_count", state="ready") == 5
        # the status ConfigMap: CA's document, and why per pod
        data = cluster.configmap("cluster-autoscaler-status")["data"]
        status = yaml.safe_load(data["status"])
        assert status["autoscalerStatus"] == "Running"
        assert status["clusterWide"]["health"]["status"] == "Healthy"
        [group] = status["nodeGroups"]
        assert group["name"] == "general"
        assert group["health"]["cloudProviderTarget"] == 5
        assert (group["health"]["minSize"], group["health"]["maxSize"]) == (1, 6)
        assert group["health"]["nodeCounts"]["registered"]["ready"] == 5
        pods = yaml.safe_load(data["pods"])
        [(_key, entry)] = [(k, v) for k, v in pods.items() if k.startswith("default/gpu-")]
        assert entry["outcome"] == "NotTriggerScaleUp"
        assert entry["groups"] == {"general": ["node(s) didn't match Pod's node affinity/selector"]}

    run_cluster(body, groups=[small_group(max_size=6)], options=FAST)


def test_unneeded_nodes_are_drained_and_deleted_and_blocked_ones_say_why() -> None:
    async def body(cluster: Cluster) -> None:
        cluster.deploy(
            "pinned",
            1,
            cpu="100m",
            annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
        )
        cluster.deploy("web", 6, cpu="700m")
        await cluster.run(until_seconds=200)
        assert len(cluster.nodes()) == 3  # 2 + 1 for the two web pods that did not fit
        cluster.scale("web", 1)
        await cluster.run(until_seconds=400)
        tainted = [
            n
            for n in cluster.nodes()
            if any(t["key"] == TAINT_TO_BE_DELETED for t in n["spec"].get("taints") or ())
        ]
        removed = cluster.events("ScaleDown")
        notes = {e["message"] for e in removed}
        assert "marked the node as toBeDeleted/unschedulable" in notes
        await cluster.run(until_seconds=700)
        assert "node removed by cluster autoscaler" in {
            e["message"] for e in cluster.events("ScaleDown")
        }
        # down to the node with the pinned pod (the last web pod was drained onto it): the
        # pinned pod's node is named as blocked
        remaining = cluster.nodes()
        assert len(remaining) == 1, (tainted, [n["metadata"]["name"] for n in remaining])
        blocked = [e["message"] for e in cluster.events("ScaleDownBlocked")]
        assert any("NotSafeToEvictAnnotation" in m and "default/pinned-" in m for m in blocked)
        assert cluster.metric("cluster_autoscaler_scaled_down_nodes_total", reason="empty",
                              gpu_resource_name="", gpu_name="") >= 1  # fmt: skip
        nodes = yaml.safe_load(cluster.configmap("cluster-autoscaler-status")["data"]["nodes"])
        pinned_node = next(
            p["spec"]["nodeName"]
            for p in cluster.world.ctx.state.pods.values()
            if p["metadata"]["name"].startswith("pinned-")
        )
        assert nodes[pinned_node]["blockingRule"] == "NotSafeToEvictAnnotation"
        assert nodes[pinned_node]["blockingPod"].startswith("default/pinned-")

    run_cluster(body, groups=[small_group()], options=FAST)


async def _stale_drain(cluster: Cluster, pdbs: list[dict[str, Any]]) -> tuple[str, Any]:
    cluster.deploy("db", 2, cpu="100m")
    await cluster.run(until_seconds=30)
    db = sorted(
        (p for p in cluster.world.ctx.state.pods.values() if p["metadata"]["name"][:3] == "db-"),
        key=lambda p: p["metadata"]["name"],
    )[0]
    node = db["spec"]["nodeName"]
    for pdb in pdbs:
        cluster.create(("policy", "v1", "poddisruptionbudgets"), pdb, "default")
    await cluster.run(until_seconds=40)
    actuator = cluster.autoscaler.actuator
    removal = NodeRemoval(
        node,
        "general",
        "underutilized",
        Utilization(0.05, "cpu"),
        (f"default/{db['metadata']['name']}",),
    )
    assert actuator.start(removal)
    await actuator.drain()
    [outcome] = actuator.take_outcomes()
    await cluster.run(until_seconds=cluster.world.seconds() + 5)  # its Events are written
    return node, outcome


def _budget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {**spec, "selector": {"matchLabels": {"app": "db"}}},
    }


def _assert_untainted(cluster: Cluster, node: str) -> None:
    current = cluster.server.store.get(cluster.world.ctx.kinds.nodes, "", node).obj
    assert not any(t["key"] == TAINT_TO_BE_DELETED for t in current["spec"].get("taints") or ())
    assert not current["spec"].get("unschedulable")
    failed = cluster.events("ScaleDownFailed")
    assert any(e["involvedObject"]["name"] == node for e in failed), [
        (e["involvedObject"], e["message"]) for e in failed
    ]
    assert len(cluster.groups["general"].live_instances()) == 2


def test_a_node_that_must_stay_after_all_is_untainted() -> None:
    """The re-check after tainting runs the drain rules again: a budget that appeared since
    the plan keeps the node."""

    async def body(cluster: Cluster) -> None:
        node, outcome = await _stale_drain(cluster, [_budget("db", minAvailable=2)])
        assert not outcome.deleted
        assert "NotEnoughPdb" in outcome.reason
        _assert_untainted(cluster, node)
        assert (
            cluster.metric("cluster_autoscaler_evicted_pods_total", eviction_result="failed") == 0
        )

    run_cluster(body, groups=[small_group()], options=FAST)


def test_an_eviction_the_api_refuses_stops_the_removal_and_untaints_the_node() -> None:
    """Two budgets over one pod: the drain rules let it go, the Eviction API refuses (as
    upstream does); evictions are retried until --max-pod-eviction-time, then the node stays."""

    async def body(cluster: Cluster) -> None:
        budgets = [_budget("db-a", maxUnavailable=1), _budget("db-b", maxUnavailable=1)]
        node, outcome = await _stale_drain(cluster, budgets)
        assert not outcome.deleted
        assert "failed to evict pods" in outcome.reason
        _assert_untainted(cluster, node)
        failed = cluster.events("ScaleDownFailed")
        assert any("failed to delete pod for ScaleDown" in e["message"] for e in failed)
        assert (
            cluster.metric("cluster_autoscaler_evicted_pods_total", eviction_result="failed") == 1
        )

    options = FAST.with_changes(max_pod_eviction_time_seconds=25.0)
    run_cluster(body, groups=[small_group()], options=options)


def test_failed_launches_back_the_group_off_and_the_next_group_wins() -> None:
    async def body(cluster: Cluster) -> None:
        cluster.world.cloud.fail_launches("preferred")
        cluster.deploy("web", 3, cpu="1500m")
        await cluster.run(until_seconds=15)
        assert cluster.groups["preferred"]._target == 3  # asked for, nothing launched
        await cluster.run(until_seconds=25)
        assert cluster.groups["preferred"]._target == 0  # the next pass gave it back
        [failed] = cluster.events("ScaleUpFailed")
        assert "InsufficientInstanceCapacity" in failed["message"]
        assert cluster.metric("cluster_autoscaler_failed_scale_ups_total",
                              reason="InsufficientInstanceCapacity", gpu_resource_name="",
                              gpu_name="") == 1  # fmt: skip
        await cluster.run(until_seconds=120)
        assert len(cluster.nodes("fallback")) == 3
        assert cluster.nodes("preferred") == []
        status = yaml.safe_load(cluster.configmap("cluster-autoscaler-status")["data"]["status"])
        preferred = next(g for g in status["nodeGroups"] if g["name"] == "preferred")
        assert preferred["scaleUp"]["status"] == "Backoff"
        assert preferred["scaleUp"]["backoffInfo"]["errorCode"] == "InsufficientInstanceCapacity"
        backoff = cluster.metric(
            "cluster_autoscaler_node_group_backoff_status",
            node_group="preferred",
            reason="InsufficientInstanceCapacity",
        )
        assert backoff == 1

    # priority expander: "preferred" first
    groups = [
        small_group("base", initial_size=1, max_size=1, capacity={"cpu": "1", "memory": "4Gi"}),
        small_group("preferred", min_size=0, initial_size=0),
        small_group("fallback", min_size=0, initial_size=0),
    ]

    async def with_priorities(cluster: Cluster) -> None:
        cluster.create(
            ("", "v1", "configmaps"),
            {
                "metadata": {"name": "cluster-autoscaler-priority-expander"},
                "data": {"priorities": "10:\n  - fallback\n50:\n  - preferred\n"},
            },
            "podscaler",
        )
        await body(cluster)

    options = FAST.with_changes(expander=("priority", "least-waste"))
    run_cluster(with_priorities, groups=groups, options=options)


def test_nodes_that_never_register_are_given_up_after_the_provision_time() -> None:
    async def body(cluster: Cluster) -> None:
        cluster.deploy("web", 4, cpu="1500m")
        await cluster.run(until_seconds=30)
        assert cluster.groups["broken"]._target == 3  # one web pod fits on base
        await cluster.run(until_seconds=200)
        [timed_out] = cluster.events("ScaleUpTimedOut")
        assert "failed to register within 120s" in timed_out["message"]
        assert cluster.groups["broken"]._target == 0  # reverted
        assert cluster.groups["broken"].live_instances() == []
        assert cluster.metric("cluster_autoscaler_failed_scale_ups_total", reason="timeout",
                              gpu_resource_name="", gpu_name="") == 1  # fmt: skip

    groups = [
        small_group("base", initial_size=1, max_size=1),
        small_group("broken", min_size=0, initial_size=0, registers=False),
    ]
    options = FAST.with_changes(max_node_provision_time_seconds=120.0)
    run_cluster(body, groups=groups, options=options)


def test_a_malformed_priority_configmap_keeps_the_last_good_one() -> None:
    async def body(cluster: Cluster) -> None:
        configmaps = ("", "v1", "configmaps")
        cluster.create(
            configmaps,
            {
                "metadata": {"name": "cluster-autoscaler-priority-expander"},
                "data": {"priorities": "10:\n  - a\n50:\n  - b\n"},
            },
            "podscaler",
        )
        await cluster.run(until_seconds=15)
        good = cluster.autoscaler.priority.config
        assert good is not None
        assert good.priority_of("b") == 50
        rt = cluster.server.table.get(*configmaps)
        assert rt is not None
        current = cluster.server.store.get(rt, "podscaler", "cluster-autoscaler-priority-expander")
        broken = current.copy()
        broken["data"] = {"priorities": "fifty:\n  - b\n"}
        cluster.world.ctx.writer.replace(rt, broken)
        await cluster.run(until_seconds=40)
        [event] = cluster.events("PriorityConfigMapInvalid")
        assert "not an integer" in event["message"]
        assert event["involvedObject"]["name"] == "cluster-autoscaler-priority-expander"
        assert cluster.autoscaler.priority.config is good
        cluster.deploy("web", 2, cpu="1500m")
        await cluster.run(until_seconds=60)
        assert cluster.groups["b"]._target == 2  # still the last good priorities' choice

    groups = [
        small_group("a", min_size=0, initial_size=0),
        small_group("b", min_size=0, initial_size=0),
        small_group("base", initial_size=1, max_size=1, capacity={"cpu": "1", "memory": "4Gi"}),
    ]
    run_cluster(body, groups=groups, options=FAST.with_changes(expander=("priority",)))


def test_a_dry_run_decides_and_touches_nothing() -> None:
    async def body(cluster: Cluster) -> None:
        cluster.deploy("web", 8, cpu="700m")
        await cluster.run(until_seconds=60)
        assert len(cluster.groups["general"].live_instances()) == 2
        assert cluster.events("ScaledUpGroup") == []
        last = cluster.autoscaler.last
        assert last is not None
        assert last.scale_up is not None
        assert [s.new_size for s in last.scale_up.scale_ups] == [4]

    run_cluster(body, groups=[small_group()], options=FAST, dry_run=True)
