"""The report answers *why*: for each built-in scenario, a run is played into a timeline the
way the world records one (the workload's ``spec.replicas`` writes, the operator's Events in
its own wording, per-tick samples), and the rendered page is read back for its content:

* a section per scaled workload with its three panels (why / what / capacity);
* the why panel's target line at the threshold the scenario's ScaledObject states, and the
  replica bounds as lines;
* each change once, with the decision that made it (never again among the other Events);
* scale-downs counted in the summary as the timeline counts them;
* self-contained, and the same bytes for the same run, whatever the machine's timings.

The drivers (what each trigger's metric was) and the pairing of writes with decisions are
tested on their own below. A real run of each scenario is checked the same way by
``tests/e2e/test_scenarios.py``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from podscaler.sim.scenarios.changes import pair_changes
from podscaler.sim.scenarios.drivers import autoscalers, drivers, supply
from podscaler.sim.scenarios.report import render_report, summarize
from podscaler.sim.scenarios.runs import RunResult
from podscaler.sim.scenarios.scenario import (
    Scenario,
    builtin_scenarios,
    load_scenario,
    parse_scenario,
)
from podscaler.sim.world.timeline import Timeline
from tests.unit.sim.report_checks import (
    assert_report_answers_why,
    expected_targets,
    read_report,
)

TICK = 15.0


def _deployment(name: str, namespace: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas},
    }


def _event(
    name: str,
    namespace: str,
    about: str,
    reason: str,
    note: str,
    count: int = 1,
    kind: str = "ScaledObject",
) -> dict[str, Any]:
    """An events.k8s.io/v1 Event as the operator's recorder writes it."""
    event: dict[str, Any] = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "reportingController": "podscaler",
        "regarding": {"kind": kind, "name": about, "namespace": namespace},
        "reason": reason,
        "note": note,
    }
    if count > 1:
        event["series"] = {"count": count}
    return event


def _decision(target: str, before: int, after: int, kind: str = "ScaledObject") -> tuple[str, str]:
    """The operator's Event for a change, in its wording (controllers/scaledobject and
    controllers/proportional)."""
    if kind == "ProportionalScaler":
        return "ProportionalTargetScaled", (
            f"{target}: {before} -> {after} replicas (ladder: {after} from the nodes)"
        )
    if before == 0:
        return "ScaleTargetActivated", (
            f"Scaled {target} from 0 to {after}, triggered by s0-metric"
        )
    if after == 0:
        return "ScaleTargetDeactivated", f"Deactivated {target} from {before} to 0"
    return "ScaledTargetScaled", (
        f"New size: {after}; reason: metric above target (bound by Metrics)"
        if after > before
        else f"New size: {after}; reason: All metrics below target (bound by Metrics)"
    )


def play(scenario: Scenario) -> tuple[Timeline, float]:
    """Up, up, down, down within each ScaledObject's bounds, as the world would record it."""
    timeline = Timeline()
    end = 3000.0
    plans: dict[str, list[tuple[float, int]]] = {}
    for scaler in autoscalers(scenario):
        workload = next(w for w in scenario.workloads if w.name == scaler.target_name)
        start = int(workload.manifest["spec"].get("replicas", 1))
        low, high = scaler.min_replicas, scaler.max_replicas
        steps = [max(low, 1), min(high, max(low, 1) + 2), max(low, 1), low]
        plan = [(600.0 + 600 * i, n) for i, n in enumerate(steps)]
        plans[scaler.target_name] = plan
        timeline.observe_replicas(
            0.0, "Deployment", workload.name, None, _deployment(workload.name, "x", start)
        )
        timeline.observe_event(
            0.0,
            _event(
                f"{scaler.name}.ready",
                scaler.namespace,
                scaler.name,
                "ScaledObjectReady",
                "ok",
                kind=scaler.kind,
            ),
        )
        current = start
        ref = f"apps/v1.Deployment {scaler.namespace}/{workload.name}"
        seen: dict[tuple[str, str], tuple[str, int]] = {}
        for seconds, after in plan:
            if after == current:
                continue
            timeline.observe_replicas(
                seconds,
                "Deployment",
                workload.name,
                _deployment(workload.name, scaler.namespace, current),
                _deployment(workload.name, scaler.namespace, after),
            )
            reason, note = _decision(ref, current, after, scaler.kind)
            # The recorder folds a repeat of the same Event into its series count.
            name, count = seen.get((reason, note), (f"{scaler.name}.{seconds:.0f}", 0))
            about = (scaler.namespace, scaler.name, reason, note)
            event = _event(name, *about, count + 1, scaler.kind)
            old = _event(name, *about, count, scaler.kind) if count else None
            timeline.observe_event(seconds + 0.2, event, old)
            seen[(reason, note)] = (name, count + 1)
            current = after
    ticks = int(end // TICK) + 1
    for i in range(ticks):
        seconds = i * TICK
        workloads: dict[str, tuple[float, int, int]] = {}
        usage: dict[str, tuple[float, float]] = {}
        for name, plan in plans.items():
            desired = next(
                (n for t, n in reversed(plan) if t <= seconds),
                int(
                    next(w for w in scenario.workloads if w.name == name)
                    .manifest["spec"]
                    .get("replicas", 1)
                ),
            )
            ready = next((n for t, n in reversed(plan) if t + 30 <= seconds), desired)
            workloads[name] = (40.0 * desired, desired, ready)
            usage[name] = (110.0 * ready, 64.0 * 2**20 * ready)
        queues = {q.name: (i * 7) % 300 for q in scenario.queues}
        timeline.record(seconds, workloads, 2, 2, 0, queues, None, usage)
    return timeline, end


def result_of(scenario: Scenario, timeline: Timeline, end: float, wall: float = 1.0) -> RunResult:
    return RunResult(
        scenario=scenario,
        timeline=timeline,
        results=[],
        operator_ran=True,
        wall_seconds=wall,
        end_seconds=end,
        writes=0,
    )


@pytest.mark.parametrize(
    "path",
    # the nodes-* scenarios scale nodes only: no workload's why to show
    [p for p in builtin_scenarios() if expected_targets(p)],
    ids=lambda p: p.stem,
)
def test_each_scenario_report_shows_why(path: Path) -> None:
    scenario = load_scenario(path)
    timeline, end = play(scenario)
    page = render_report(result_of(scenario, timeline, end))
    shape = assert_report_answers_why(page, path)
    # ... and agrees with the timeline: one row per write, scale-downs as it counts them.
    writes = sorted(timeline.scale_changes(), key=lambda w: (w.seconds, w.workload))
    assert shape.changes == [(w.workload, w.before, w.after) for w in writes]
    assert shape.cards["scale-downs"] == str(timeline.scale_downs())
    # Each decision once: in its change's row, not again among the other Events.
    others = page.split("<h2>Other Events of the autoscalers</h2>")[1]
    assert "ScaledObjectReady" in others
    assert "New size" not in others
    assert "ScaleTarget" not in others
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_the_same_run_gives_the_same_bytes_whatever_it_took() -> None:
    scenario = load_scenario("web-diurnal")
    timeline, end = play(scenario)
    first = render_report(result_of(scenario, timeline, end, wall=3.2))
    second = render_report(result_of(scenario, timeline, end, wall=97.5))
    assert first == second
    assert "97.5" not in second


def test_changes_at_one_instant_read_the_same_whichever_arrived_first() -> None:
    """Two controllers scaling two workloads at the same simulated instant write in an order
    that varies from run to run; the page must not."""
    scenario = load_scenario("cpa-ladder")
    pages = []
    for order in (("nginx", "coredns"), ("coredns", "nginx")):
        timeline = Timeline()
        timeline.record(0.0, {"nginx": (10.0, 3, 3), "coredns": (10.0, 2, 2)}, 4, 4, 0, {})
        for name in order:
            namespace = "web" if name == "nginx" else "kube-system"
            before, after = (3, 5) if name == "nginx" else (2, 3)
            timeline.observe_replicas(
                300.0,
                "Deployment",
                name,
                _deployment(name, namespace, before),
                _deployment(name, namespace, after),
            )
            reason, note = _decision(
                f"Deployment {namespace}/{name}", before, after, "ProportionalScaler"
            )
            timeline.observe_event(
                300.0, _event(name, namespace, name, reason, note, kind="ProportionalScaler")
            )
        timeline.record(300.0, {"nginx": (10.0, 5, 3), "coredns": (10.0, 3, 2)}, 5, 5, 0, {})
        pages.append(render_report(result_of(scenario, timeline, 300.0)))
    assert pages[0] == pages[1]
    assert read_report(pages[0]).changes == [("coredns", 2, 3), ("nginx", 3, 5)]


def test_each_change_is_one_row_with_its_decision() -> None:
    scenario = load_scenario("queue-burst")
    timeline, _end = play(scenario)
    changes, others = pair_changes(timeline.annotations, autoscalers(scenario))
    assert [(c.before, c.after) for c in changes] == [(0, 1), (1, 3), (3, 1), (1, 0)]
    assert [c.decision.split(":")[0] for c in changes] == [
        "ScaleTargetActivated",
        "ScaledTargetScaled",
        "ScaledTargetScaled",
        "ScaleTargetDeactivated",
    ]
    assert all(c.decided_by == "ScaledObject orders/consumer" for c in changes)
    assert [o.text for o in others] == ["ScaledObjectReady: ok"]


def test_a_repeated_decision_folded_into_a_series_still_pairs() -> None:
    """0→1, 1→0, 0→1: the second activation has the first's wording, so the recorder bumps the
    first Event's series count instead of writing a new one; the timeline notes it again."""
    scenario = load_scenario("queue-burst")
    timeline = Timeline()
    ref = "apps/v1.Deployment orders/consumer"
    for n, (seconds, before, after) in enumerate([(60.0, 0, 1), (300.0, 1, 0), (600.0, 0, 1)]):
        timeline.observe_replicas(
            seconds,
            "Deployment",
            "consumer",
            _deployment("consumer", "orders", before),
            _deployment("consumer", "orders", after),
        )
        reason, note = _decision(ref, before, after)
        count = 2 if n == 2 else 1
        name = "activated" if after else "deactivated"
        event = _event(name, "orders", "consumer", reason, note, count)
        old = _event(name, "orders", "consumer", reason, note, 1) if count == 2 else None
        timeline.observe_event(seconds, event, old)
        timeline.observe_event(seconds, event, old)  # the same Event under the other API
    changes, others = pair_changes(timeline.annotations, autoscalers(scenario))
    assert [c.decision.split(":")[0] for c in changes] == [
        "ScaleTargetActivated",
        "ScaleTargetDeactivated",
        "ScaleTargetActivated",
    ]
    assert others == []


def test_a_write_nobody_explained_stays_a_row_of_its_own() -> None:
    scenario = load_scenario("web-diurnal")
    timeline = Timeline()
    timeline.observe_replicas(
        100.0, "Deployment", "web", _deployment("web", "shop", 2), _deployment("web", "shop", 5)
    )
    timeline.observe_event(
        400.0,
        _event("late", "shop", "web", "ScaledTargetScaled", "New size: 5; reason: x"),
    )
    changes, others = pair_changes(timeline.annotations, autoscalers(scenario))
    assert [(c.after, c.decision) for c in changes] == [(5, "")]
    assert [o.text for o in others] == ["ScaledTargetScaled: New size: 5; reason: x"]


def test_drivers_read_the_metric_each_trigger_compared() -> None:
    web = load_scenario("web-diurnal")
    timeline = Timeline()
    # 4 Ready pods of 200m request using 110m each: 55 % utilization.
    timeline.record(0.0, {"web": (100.0, 4, 4)}, 2, 2, 0, {}, None, {"web": (440.0, 0.0)})
    (cpu,) = drivers(autoscalers(web)[0], timeline, web)
    assert cpu.values == [pytest.approx(55.0)]
    assert cpu.target == 50.0
    assert cpu.asks == [math.ceil(4 * 55 / 50)]

    kafka = load_scenario("kafka-lag")
    timeline = Timeline()
    timeline.record(0.0, {"consumer": (3.0, 2, 2)}, 2, 2, 0, {"orders": 400})
    (lag,) = drivers(autoscalers(kafka)[0], timeline, kafka)
    assert lag.values == [200.0]  # lag per replica
    assert lag.target == 5.0
    assert lag.trigger.activation == 3.0
    assert lag.asks == [3.0]  # 400 / 5 = 80, but a group uses at most its 3 partitions

    sqs = load_scenario("queue-burst")
    timeline = Timeline()
    timeline.record(0.0, {"consumer": (0.0, 0, 0)}, 2, 2, 0, {"orders": 35})
    (depth,) = drivers(autoscalers(sqs)[0], timeline, sqs)
    assert depth.values == [35.0]  # at zero replicas the whole queue
    assert depth.asks == [4.0]


def test_the_cron_driver_follows_the_schedule() -> None:
    scenario = load_scenario("cron-batch")
    timeline = Timeline()
    for minute in range(0, 31):
        timeline.record(minute * 60.0, {"batch": (40.0, 0, 0)}, 1, 1, 0, {})
    (cron,) = drivers(autoscalers(scenario)[0], timeline, scenario)
    inside = [m for m, v in enumerate(cron.values) if v == 1.0]
    # Windows open at minutes 00, 15 and 30 (Asia/Seoul is a whole-hour offset) for 5 min.
    assert inside == [0, 1, 2, 3, 4, 15, 16, 17, 18, 19, 30]


def test_capacity_against_demand_and_overload() -> None:
    scenario = load_scenario("web-diurnal")
    timeline = Timeline()
    # 2 Ready pods serve 2 x (500m - 10m) / 2m = 490 req/s; 600 req/s is overload.
    for i, demand in enumerate([100.0, 600.0, 600.0, 100.0]):
        timeline.record(i * 15.0, {"web": (demand, 2, 2)}, 2, 2, 0, {})
    found = supply("web", timeline, scenario, 50.0)
    assert found is not None
    assert found.capacity == [490.0] * 4
    assert found.per_pod_at_target == 45.0  # (50 % of 200m - 10m) / 2m
    assert found.overloaded() == [False, True, True, False]
    summary = summarize(result_of(scenario, timeline, 60.0))
    assert summary.overloaded_minutes == 0.5


def test_a_scenario_without_autoscalers_still_reports() -> None:
    scenario = parse_scenario({"workloads": [{"name": "web"}]})
    timeline = Timeline()
    for i in range(5):
        timeline.record(i * 15.0, {"web": (1.0, 1, 1)}, 1, 1, 0, {})
    shape = read_report(render_report(result_of(scenario, timeline, 60.0)))
    assert shape.sections == {}
    assert shape.panels == ["workload", "cluster"]
    assert shape.cards["scale-downs"] == "0"


def test_a_plain_hpa_is_read_like_a_scaled_object() -> None:
    scenario = parse_scenario(
        {
            "workloads": [{"name": "api", "requests": {"cpu": "100m"}}],
            "objects": [
                {
                    "apiVersion": "autoscaling/v2",
                    "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": "api", "namespace": "default"},
                    "spec": {
                        "scaleTargetRef": {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": "api",
                        },
                        "minReplicas": 2,
                        "maxReplicas": 5,
                        "metrics": [
                            {
                                "type": "Resource",
                                "resource": {
                                    "name": "cpu",
                                    "target": {"type": "Utilization", "averageUtilization": 60},
                                },
                            }
                        ],
                        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
                    },
                }
            ],
        }
    )
    (hpa,) = autoscalers(scenario)
    assert (hpa.label, hpa.target_name, hpa.min_replicas, hpa.max_replicas) == (
        "HorizontalPodAutoscaler default/api",
        "api",
        2,
        5,
    )
    assert hpa.scale_down_window_seconds == 60
    assert [(t.source, t.metric_type, t.target) for t in hpa.triggers] == [
        ("cpu", "Utilization", 60.0)
    ]
    timeline = Timeline()
    timeline.record(0.0, {"api": (0.0, 2, 2)}, 1, 1, 0, {}, None, {"api": (150.0, 0.0)})
    timeline.observe_replicas(
        10.0,
        "Deployment",
        "api",
        _deployment("api", "default", 2),
        _deployment("api", "default", 3),
    )
    timeline.observe_event(
        10.0,
        {
            "metadata": {"name": "e", "namespace": "default"},
            "source": {"component": "horizontal-pod-autoscaler"},
            "involvedObject": {"kind": "HorizontalPodAutoscaler", "name": "api"},
            "reason": "SuccessfulRescale",
            "message": "New size: 3; reason: cpu resource utilization above target",
        },
    )
    timeline.record(15.0, {"api": (0.0, 3, 2)}, 1, 1, 0, {}, None, {"api": (150.0, 0.0)})
    page = render_report(result_of(scenario, timeline, 15.0))
    shape = read_report(page)
    assert shape.sections["api"].lines[("why", "target")] == [60.0]
    assert shape.sections["api"].lines[("what", "min")] == [2.0]
    assert shape.changes == [("api", 2, 3)]
    assert shape.undecided == []
    assert "75% (target 60%)" in page  # 150m used by 2 pods of 100m
