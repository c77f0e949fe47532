"""The scale-down decision end to end: timers across loops, the drain rules naming the pod
that keeps a node, re-placement of every pod, group and cluster minimums, cooldowns,
parallelism."""

from __future__ import annotations

from typing import Any

from podscaler.nodes import (
    AutoscalerState,
    BlockingReason,
    NodeAutoscalerOptions,
    ScaleDownPlan,
    UnremovableReason,
    plan_scale_down,
)
from podscaler.nodes.plans import ScaleUpPlan, ScaleUpResult
from tests.unit.nodes.scenario import NOW, group, node, pod, snapshot

OPTIONS = NodeAutoscalerOptions()
R = UnremovableReason


def reasons(plan: ScaleDownPlan) -> dict[str, str]:
    return {u.node: u.reason.value for u in plan.unremovable}


def run(
    nodes: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    *,
    state: AutoscalerState | None = None,
    now: float = NOW,
    options: NodeAutoscalerOptions = OPTIONS,
    **group_kw: Any,
) -> ScaleDownPlan:
    g = group("g", nodes, max_size=100, **group_kw)
    return plan_scale_down(
        snapshot(nodes, pods, **group_kw.pop("snapshot_kw", {})),
        [g],
        state or AutoscalerState.initial(options),
        options,
        now,
    )


def busy(name: str) -> list[dict[str, Any]]:
    return [pod(f"{name}-big", cpu="3500m", node_name=name, app="big")]


def test_an_empty_node_goes_after_the_unneeded_time() -> None:
    nodes = [node("n1"), node("n2"), node("idle")]
    pods = busy("n1") + busy("n2")
    first = run(nodes, pods)
    assert [u.node for u in first.unneeded] == ["idle"]
    assert reasons(first)["idle"] == "NotUnneededLongEnough"
    assert first.removals == ()
    later = run(nodes, pods, state=first.state, now=NOW + 601)
    assert [(r.node, r.reason) for r in later.removals] == [("idle", "empty")]
    assert later.unneeded[0].since == NOW  # the timer kept its start


def test_a_node_that_becomes_needed_loses_its_timer() -> None:
    nodes = [node("n1"), node("idle")]
    first = run(nodes, busy("n1"))
    assert first.state.unneeded_since == {"idle": NOW}
    second = run(nodes, busy("n1") + busy("idle"), state=first.state, now=NOW + 60)
    assert second.state.unneeded_since == {}


def test_safe_to_evict_false_keeps_the_node_and_is_named() -> None:
    nodes = [node("n1"), node("n2")]
    pinned = pod(
        "pinned",
        cpu="100m",
        node_name="n2",
        annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
    )
    plan = run(nodes, [pinned])
    blocked = next(u for u in plan.unremovable if u.node == "n2")
    assert blocked.reason is R.BLOCKED_BY_POD
    assert blocked.blocking_pod == "default/pinned"
    assert blocked.blocking_rule is BlockingReason.NOT_SAFE_TO_EVICT_ANNOTATION
    # not re-examined for five minutes, and says why
    again = run(nodes, [pinned], state=plan.state, now=NOW + 60)
    recent = next(u for u in again.unremovable if u.node == "n2")
    assert recent.reason is R.RECENTLY_UNREMOVABLE
    assert "BlockedByPod" in recent.detail


def test_a_pdb_without_budget_blocks_and_one_budget_is_shared_between_nodes() -> None:
    nodes = [node("n1"), node("n2"), node("n3")]
    pods = [
        pod("a", cpu="100m", node_name="n1", app="api"),
        pod("b", cpu="100m", node_name="n2", app="api"),
    ]
    pdb = {
        "metadata": {"name": "api", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "api"}}},
        "status": {"disruptionsAllowed": 1},
    }
    g = group("g", nodes, max_size=100)
    plan = plan_scale_down(snapshot(nodes, pods, pdbs=[pdb]), [g], AutoscalerState(), OPTIONS, NOW)
    found = {u.node: u for u in plan.unremovable}
    # n1's pod uses the one disruption; n2's pod then finds none left
    assert found["n2"].blocking_rule is BlockingReason.NOT_ENOUGH_PDB
    assert {u.node for u in plan.unneeded} == {"n1", "n3"}


def test_pods_that_fit_nowhere_else_keep_their_node_and_are_named() -> None:
    nodes = [node("n1"), node("n2")]
    pods = [*busy("n1"), pod("wide", cpu="1500m", node_name="n2")]
    plan = run(nodes, pods)
    found = {u.node: u for u in plan.unremovable}
    assert found["n2"].reason is R.NO_PLACE_TO_MOVE_PODS
    assert found["n2"].blocking_pod == "default/wide"


def test_two_half_empty_nodes_cannot_both_leave_into_each_other() -> None:
    nodes = [node("n1"), node("n2")]
    pods = [pod("a", cpu="1500m", node_name="n1"), pod("b", cpu="1500m", node_name="n2")]
    plan = run(nodes, pods)
    assert [u.node for u in plan.unneeded] == ["n1"]
    assert reasons(plan)["n2"] == "NoPlaceToMovePods"


def test_group_minimum_counts_deletions_in_flight() -> None:
    nodes = [node("n1"), node("idle1"), node("idle2")]
    first = run(nodes, busy("n1"), min_size=1)
    later = run(nodes, busy("n1"), state=first.state, now=NOW + 601, min_size=1, deleting=1)
    assert [r.node for r in later.removals] == ["idle1"]
    assert reasons(later)["idle2"] == "NodeGroupMinSizeReached"


def test_disabled_annotation_and_unautoscaled_nodes() -> None:
    nodes = [
        node("n1", annotations={"cluster-autoscaler.kubernetes.io/scale-down-disabled": "true"}),
        node("stray"),
    ]
    g = group("g", nodes[:1], max_size=10)
    plan = plan_scale_down(snapshot(nodes, []), [g], AutoscalerState(), OPTIONS, NOW)
    assert reasons(plan) == {"n1": "ScaleDownDisabledAnnotation", "stray": "NotAutoscaled"}


def test_cooldown_holds_removals_but_timers_keep_counting() -> None:
    nodes = [node("n1"), node("idle")]
    state = AutoscalerState.initial(OPTIONS).scaled_up("g", 1, NOW - 60, OPTIONS)
    plan = run(nodes, busy("n1"), state=state, now=NOW)
    assert plan.cooldown is not None
    assert "after the last scale-up" in plan.cooldown
    assert plan.state.unneeded_since == {"idle": NOW}
    acted = ScaleUpPlan(ScaleUpResult.SUCCESSFUL)
    g = group("g", nodes, max_size=100)
    held = plan_scale_down(
        snapshot(nodes, busy("n1")), [g], AutoscalerState(), OPTIONS, NOW, scale_up=acted
    )
    assert held.cooldown == "a scale-up was planned in this loop"


def test_empty_nodes_go_in_bulk_within_the_parallelism_and_drains_one_at_a_time() -> None:
    nodes = [node("n0")] + [node(f"idle{i:02d}") for i in range(12)] + [node("d1"), node("d2")]
    pods = [pod("x", cpu="100m", node_name="d1"), pod("y", cpu="100m", node_name="d2")]
    first = run(nodes, pods)
    later = run(nodes, pods, state=first.state, now=NOW + 601)
    empty = [r for r in later.removals if r.empty]
    assert len(empty) == 10
    assert not [r for r in later.removals if not r.empty]  # the budget went to empty nodes
    capped = OPTIONS.with_changes(max_empty_bulk_delete=3)
    later = run(nodes, pods, state=first.state, now=NOW + 601, options=capped)
    assert len([r for r in later.removals if r.empty]) == 3
    drains = [r for r in later.removals if not r.empty]
    assert len(drains) == 1
    assert drains[0].pods_to_move in (("default/x",), ("default/y",))


def test_the_baseline_decides_the_same() -> None:
    nodes = [node(f"n{i}") for i in range(6)]
    pods = [pod(f"p{i}", cpu=f"{300 * (i % 4) + 100}m", node_name=f"n{i % 6}") for i in range(14)]
    g = group("g", nodes, max_size=100)
    fast = plan_scale_down(snapshot(nodes, pods), [g], AutoscalerState(), OPTIONS, NOW)
    plain = plan_scale_down(
        snapshot(nodes, pods), [g], AutoscalerState(), OPTIONS, NOW, indexed=False
    )
    assert fast.unneeded == plain.unneeded
    assert fast.unremovable == plain.unremovable
