"""The scale-up decision end to end: which pods count, what is already on its way, which
groups are skipped and why (CA's words), the expander's choice, limits, balancing, and the
Event wording for pods that did and did not trigger it."""

from __future__ import annotations

from podscaler.nodes import (
    AutoscalerState,
    NodeAutoscalerOptions,
    ScaleUpResult,
    plan_scale_up,
)
from podscaler.nodes.priority import parse_priorities
from tests.unit.nodes.scenario import NOW, aws_template, group, node, pod, snapshot

OPTIONS = NodeAutoscalerOptions()


def full_node(name: str, **kw: object) -> tuple[dict, list[dict]]:
    n = node(name, **kw)  # type: ignore[arg-type]
    return n, [pod(f"{name}-busy", cpu="3800m", node_name=name, app="busy")]


def test_pending_pods_that_fit_free_room_trigger_nothing() -> None:
    nodes = [node("n1")]
    pods = [pod("p1", cpu="1", node_name="n1"), pod("pending", cpu="1")]
    plan = plan_scale_up(snapshot(nodes, pods), [group("g", nodes)], OPTIONS, NOW)
    assert plan.result is ScaleUpResult.NOT_NEEDED
    assert plan.filtered == {"fits on existing free room": ("default/pending",)}


def test_a_scale_up_names_the_group_and_the_pods() -> None:
    n1, running = full_node("n1")
    pending = [pod(f"web-{i}", cpu="1500m") for i in range(5)]
    plan = plan_scale_up(snapshot([n1], running + pending), [group("g", [n1])], OPTIONS, NOW)
    assert plan.result is ScaleUpResult.SUCCESSFUL
    assert [str(s) for s in plan.scale_ups] == ["{g 1->4 (max: 10)}"]
    assert len(plan.triggered) == 5
    assert plan.triggered_message() == "pod triggered scale-up: [{g 1->4 (max: 10)}]"


def test_nodes_on_their_way_absorb_pods_only_while_their_request_is_live() -> None:
    n1, running = full_node("n1")
    pending = [pod("web-0", cpu="1500m")]
    state = AutoscalerState.initial(OPTIONS).scaled_up("g", 1, NOW - 60, OPTIONS)
    booting = group("g", [n1], target=2)
    plan = plan_scale_up(snapshot([n1], running + pending), [booting], OPTIONS, NOW, state=state)
    assert plan.result is ScaleUpResult.NOT_NEEDED
    assert plan.filtered == {"fits on nodes on their way": ("default/web-0",)}
    # the same group backed off: its phantom node no longer absorbs the pod
    failed = state.scale_up_failed("g", "InsufficientInstanceCapacity", "no capacity", NOW - 30)
    plan = plan_scale_up(snapshot([n1], running + pending), [booting], OPTIONS, NOW, state=failed)
    assert plan.result is ScaleUpResult.NO_OPTIONS
    assert plan.not_triggered_message(plan.remaining[0]) == (
        "pod didn't trigger scale-up: 1 in backoff after failed scale-up"
    )


def test_not_triggered_reasons_are_counted_over_groups() -> None:
    n1, running = full_node("n1")
    n2, running2 = full_node("n2")
    pending = [pod("big", cpu="6")]
    groups = [group("a", [n1]), group("b", [n2], max_size=1)]
    plan = plan_scale_up(snapshot([n1, n2], running + running2 + pending), groups, OPTIONS, NOW)
    assert plan.result is ScaleUpResult.NO_OPTIONS
    message = plan.not_triggered_message(plan.remaining[0])
    assert (
        message == "pod didn't trigger scale-up: 1 Insufficient cpu, 1 max node group size reached"
    )
    assert plan.emits_not_triggered


def test_expendable_daemonset_and_young_pods_do_not_count() -> None:
    n1, running = full_node("n1")
    young_stamp = "2023-11-14T22:13:19Z"  # NOW - 1 s
    pods = [
        *running,
        pod("low", cpu="1", priority=-100),
        pod("ds", cpu="1", owner="DaemonSet"),
        pod("young", cpu="1", created=young_stamp),
    ]
    options = OPTIONS.with_changes(new_pod_scale_up_delay_seconds=30)
    plan = plan_scale_up(snapshot([n1], pods), [group("g", [n1])], options, NOW)
    assert plan.result is ScaleUpResult.NOT_NEEDED
    assert plan.filtered == {
        "expendable": ("default/low",),
        "daemonset": ("default/ds",),
        "younger than new-pod-scale-up-delay": ("default/young",),
    }


def test_a_brand_new_pod_waits_a_loop_and_holds_scale_down() -> None:
    n1, running = full_node("n1")
    fresh = "2023-11-14T22:13:19Z"  # one second before NOW
    plan = plan_scale_up(
        snapshot([n1], [*running, pod("p", cpu="1", created=fresh)]),
        [group("g", [n1])],
        OPTIONS,
        NOW,
    )
    assert plan.result is ScaleUpResult.NOT_TRIED
    assert plan.scale_down_blocked


def test_scale_from_zero_uses_the_provider_template_with_daemonset_overhead() -> None:
    template = aws_template("m5.large", "gpu-less", zone="z1")
    daemonset = {
        "metadata": {"name": "agent", "namespace": "kube-system"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "containers": [
                        {"name": "a", "resources": {"requests": {"cpu": "600m", "memory": "1Gi"}}}
                    ]
                },
            }
        },
    }
    pending = [pod(f"p{i}", cpu="700m") for i in range(4)]
    groups = [group("zero", [], target=0, template=template)]
    plan = plan_scale_up(snapshot([], pending, daemonsets=[daemonset]), groups, OPTIONS, NOW)
    # 2000m - 600m of DaemonSet leaves room for two 700m pods per node
    assert [str(s) for s in plan.scale_ups] == ["{zero 0->2 (max: 10)}"]


def test_a_template_without_the_label_a_pod_selects_explains_itself() -> None:
    template = aws_template("m5.large", "plain")
    pending = [pod("p", cpu="100m", nodeSelector={"workload": "batch"})]
    groups = [group("plain", [], target=0, template=template)]
    plan = plan_scale_up(snapshot([], pending), groups, OPTIONS, NOW)
    assert plan.not_triggered_message(plan.remaining[0]) == (
        "pod didn't trigger scale-up: 1 node(s) didn't match Pod's node affinity/selector"
    )
    tagged = aws_template(
        "m5.large", "batch", **{"k8s.io/cluster-autoscaler/node-template/label/workload": "batch"}
    )
    plan = plan_scale_up(
        snapshot([], pending),
        [*groups, group("batch", [], target=0, template=tagged)],
        OPTIONS,
        NOW,
    )
    assert [s.group for s in plan.scale_ups] == ["batch"]


def test_cores_total_skips_groups_and_trims_the_choice() -> None:
    n1, running = full_node("n1")
    pending = [pod(f"p{i}", cpu="3") for i in range(5)]
    options = OPTIONS.with_changes(cores_total=(0, 12))
    plan = plan_scale_up(snapshot([n1], running + pending), [group("g", [n1])], options, NOW)
    assert [str(s) for s in plan.scale_ups] == ["{g 1->3 (max: 10)}"]
    tight = OPTIONS.with_changes(cores_total=(0, 6))
    plan = plan_scale_up(snapshot([n1], running + pending), [group("g", [n1])], tight, NOW)
    assert plan.groups[0].skipped == 'exceeded quota: "cluster-wide", resources: cpu'


def test_max_nodes_total_caps_and_says_so() -> None:
    n1, running = full_node("n1")
    pending = [pod(f"p{i}", cpu="3") for i in range(5)]
    options = OPTIONS.with_changes(max_nodes_total=3)
    plan = plan_scale_up(snapshot([n1], running + pending), [group("g", [n1])], options, NOW)
    assert [str(s) for s in plan.scale_ups] == ["{g 1->3 (max: 10)}"]
    at_max = OPTIONS.with_changes(max_nodes_total=1)
    plan = plan_scale_up(snapshot([n1], running + pending), [group("g", [n1])], at_max, NOW)
    assert plan.result is ScaleUpResult.LIMITED_BY_MAX_NODES_TOTAL
    assert plan.not_triggered_message(plan.remaining[0]) == (
        "pod didn't trigger scale-up: max total nodes in cluster reached"
    )
    assert [e.reason for e in plan.events] == ["MaxNodesTotalReached"]


def test_balancing_spreads_over_similar_zonal_groups() -> None:
    nodes, running = [], []
    groups = []
    for zone in ("a", "b", "c"):
        n, busy = full_node(f"n-{zone}", zone=zone)
        nodes.append(n)
        running += busy
        groups.append(group(f"ng-{zone}", [n]))
    pending = [pod(f"p{i}", cpu="3") for i in range(6)]
    options = OPTIONS.with_changes(balance_similar_node_groups=True)
    plan = plan_scale_up(snapshot(nodes, running + pending), groups, options, NOW)
    assert sorted(str(s) for s in plan.scale_ups) == [
        "{ng-a 1->3 (max: 10)}",
        "{ng-b 1->3 (max: 10)}",
        "{ng-c 1->3 (max: 10)}",
    ]


def test_priority_expander_prefers_spot_and_explains_who_dropped_whom() -> None:
    n1, r1 = full_node("spot-1")
    n2, r2 = full_node("od-1")
    pending = [pod("p", cpu="1")]
    groups = [group("asg-on-demand", [n2]), group("asg-spot", [n1])]
    options = OPTIONS.with_changes(expander=("priority", "least-waste"))
    config = parse_priorities('50: [".*spot.*"]\n10: [".*on-demand.*"]\n')
    plan = plan_scale_up(
        snapshot([n1, n2], r1 + r2 + pending), groups, options, NOW, priorities=config
    )
    assert [s.group for s in plan.scale_ups] == ["asg-spot"]
    dropped = {g.group: g.dropped_by for g in plan.groups}
    assert dropped == {"asg-on-demand": "priority", "asg-spot": None}


def test_hostname_anti_affinity_needs_a_node_per_replica() -> None:
    n1, running = full_node("n1")
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app": "web"}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    pending = [pod(f"web-{i}", cpu="100m", affinity=anti) for i in range(3)]
    plan = plan_scale_up(snapshot([n1], running + pending), [group("g", [n1])], OPTIONS, NOW)
    # n1 takes one (it runs no web pod and has 200m free); the other two need a node each
    assert [str(s) for s in plan.scale_ups] == ["{g 1->3 (max: 10)}"]


def test_the_baseline_decides_the_same() -> None:
    n1, running = full_node("n1")
    pending = [pod(f"p{i}", cpu=c) for i, c in enumerate(["1", "2", "500m", "3", "1"])]
    snap = snapshot([n1], running + pending)
    fast = plan_scale_up(snap, [group("g", [n1])], OPTIONS, NOW)
    plain = plan_scale_up(snap, [group("g", [n1])], OPTIONS, NOW, indexed=False)
    assert fast.scale_ups == plain.scale_ups
    assert fast.triggered == plain.triggered


def test_price_expander_picks_the_cheaper_way_to_run_the_pods() -> None:
    small = aws_template("m5.large", "small")
    large = aws_template("m5.4xlarge", "large")
    pending = [pod(f"p{i}", cpu="1500m", memory="2Gi") for i in range(2)]
    groups = [
        group("small", [], target=0, template=small),
        group("large", [], target=0, template=large),
    ]
    options = OPTIONS.with_changes(expander=("price",))
    plan = plan_scale_up(snapshot([], pending), groups, options, NOW)
    assert [str(s) for s in plan.scale_ups] == ["{small 0->2 (max: 10)}"]
