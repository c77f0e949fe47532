"""The node-autoscaling parts of the scenario format: ``nodeAutoscaler`` (CA's options in
either spelling), node groups on moto (``cloud: aws``), launch failures, workload changes, and
the assertion forms ``nodes(GROUP)``, ``events(REASON)`` and ``unschedulable()``."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podscaler.sim.scenarios.assertions import BadAssertion, parse_assertion
from podscaler.sim.scenarios.nodegroups import AsgSpec, LaunchWindow
from podscaler.sim.scenarios.scenario import (
    OPERATOR_FEATURES,
    ScenarioError,
    WorkloadChange,
    load_scenario,
    parse_scenario,
)
from podscaler.sim.world.timeline import Timeline


def test_node_autoscaler_block_reads_camel_case_and_flag_spellings() -> None:
    scenario = parse_scenario(
        {
            "features": ["node-autoscaler"],
            "nodeAutoscaler": {
                "expander": "priority,least-waste",
                "scaleDownUnneededTime": "2m",
                "scale-down-delay-after-add": "90s",
                "balanceSimilarNodeGroups": True,
                "max-nodes-total": 12,
            },
        }
    )
    options = scenario.node_autoscaler
    assert options is not None
    assert options.expander == ("priority", "least-waste")
    assert options.scale_down_unneeded_time_seconds == 120.0
    assert options.scale_down_delay_after_add_seconds == 90.0
    assert options.balance_similar_node_groups is True
    assert options.max_nodes_total == 12
    # the operator runs for it, and its namespace exists for the status ConfigMap
    assert "node-autoscaler" in OPERATOR_FEATURES
    assert "podscaler" in scenario.namespaces


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"scaleDownUnneededTme": "2m"}, "did you mean"),
        ({"expander": "cheapest"}, "unknown expander 'cheapest'"),
        ({"scaleDownUnneededTime": "soon"}, "scaleDownUnneededTime: 'soon' is not a duration"),
        ({"expander": "least-waste", "expander-x": 1}, "expander-x: unknown option"),
        ("least-waste", "must be a mapping"),
    ],
)
def test_node_autoscaler_mistakes_name_the_key(block: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=rf"^nodeAutoscaler: .*{re.escape(message)}"):
        parse_scenario({"nodeAutoscaler": block})


def test_aws_node_groups_take_their_shape_from_the_instance_type() -> None:
    scenario = parse_scenario(
        {
            "nodeGroups": [
                {
                    "name": "general",
                    "cloud": "aws",
                    "instanceType": "m5.large",
                    "min": 1,
                    "max": 4,
                    "initial": 2,
                    "labels": {"team": "web"},
                    "taints": [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}],
                    "registers": False,
                    "launchFailures": [{"at": "5m", "until": "10m", "code": "VcpuLimitExceeded"}],
                },
                {"name": "local", "initial": 1},
            ]
        }
    )
    assert [g.name for g in scenario.node_groups] == ["local"]
    [asg] = scenario.asgs
    assert asg == AsgSpec(
        "general",
        "m5.large",
        1,
        4,
        2,
        60.0,
        "eu-west-1a",
        {"team": "web"},
        ({"key": "dedicated", "value": "web", "effect": "NoSchedule"},),
        False,
    )
    assert asg.price_per_hour > 0
    assert scenario.launch_failures == (LaunchWindow("general", 300.0, 600.0, "VcpuLimitExceeded"),)
    assert "aws-asg" in scenario.features
    assert scenario.groups.names == ["local", "general"]


@pytest.mark.parametrize(
    ("group", "field", "message"),
    [
        ({"cloud": "gcp"}, "nodeGroups[0].cloud", "must be sim or aws"),
        ({"cloud": "aws", "capacity": {"cpu": "2"}}, "nodeGroups[0].capacity", "instanceType"),
        ({"cloud": "aws", "instanceType": "m99.huge"}, "nodeGroups[0].instanceType", "known"),
        ({"registers": "no"}, "nodeGroups[0].registers", "true or false"),
        ({"launchFailures": [{"at": "5m", "until": "1m"}]}, "launchFailures[0].until", "after"),
        ({"launchFailures": [{"at": "5m", "code": "no way"}]}, "launchFailures[0].code", "code"),
        ({"launchFailures": [{"when": "5m"}]}, "launchFailures[0]", "unknown field"),
    ],
)
def test_node_group_mistakes_name_their_field(
    group: dict[str, object], field: str, message: str
) -> None:
    document = {"nodeGroups": [{"name": "g", "max": 3, **group}]}
    with pytest.raises(ScenarioError, match=rf"{re.escape(field)}.*{message}"):
        parse_scenario(document)


def test_workload_changes_scale_or_delete_in_time_order() -> None:
    scenario = parse_scenario(
        {
            "workloads": [
                {
                    "name": "web",
                    "priorityClassName": "high",
                    "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
                    "changes": [{"at": "20m", "delete": True}, {"at": "5m", "replicas": 4}],
                }
            ]
        }
    )
    [web] = scenario.workloads
    assert web.changes == (WorkloadChange(300.0, 4), WorkloadChange(1200.0, None))
    template = web.manifest["spec"]["template"]
    assert template["spec"]["priorityClassName"] == "high"
    assert template["metadata"]["annotations"] == {
        "cluster-autoscaler.kubernetes.io/safe-to-evict": "false"
    }


@pytest.mark.parametrize(
    "change",
    [
        {"replicas": 2},
        {"at": "1m"},
        {"at": "1m", "replicas": 2, "delete": True},
        {"at": "1m", "replicas": -1},
    ],
)
def test_workload_change_mistakes(change: dict[str, object]) -> None:
    with pytest.raises(ScenarioError, match=r"workloads\[0\]\.changes\[0\]"):
        parse_scenario({"workloads": [{"name": "web", "changes": [change]}]})


def test_node_assertions_read_their_series() -> None:
    timeline = Timeline()
    for index, seconds in enumerate((0.0, 15.0, 30.0)):
        timeline.record(
            seconds, {}, 3 + index, 3, 0, {}, {"general": 3 + index}, unschedulable=2 - index
        )
    timeline.event_times["TriggeredScaleUp"] = [10.0, 10.0, 20.0]
    end = 30.0
    assert parse_assertion("nodes(general) == 5").check(timeline, end).ok
    assert parse_assertion("nodes(other) == 0 always").check(timeline, end).ok
    assert parse_assertion("unschedulable() == 0 eventually").check(timeline, end).ok
    assert parse_assertion("events(TriggeredScaleUp) == 2 at 15s").check(timeline, end).ok
    assert parse_assertion("events(TriggeredScaleUp) >= 3").check(timeline, end).ok
    failed = parse_assertion("events(ScaleDown) >= 1").check(timeline, end)
    assert not failed.ok
    assert "events(ScaleDown) = 0" in failed.detail


@pytest.mark.parametrize("text", ["events() >= 1", "unschedulable(web) == 0", "pending(x) == 1"])
def test_node_assertion_mistakes(text: str) -> None:
    with pytest.raises(BadAssertion):
        parse_assertion(text)


@given(
    st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=20),
    st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=1, max_size=10),
)
def test_event_series_counts_every_occurrence_up_to_each_sample(
    occurrences: list[float], samples: list[float]
) -> None:
    timeline = Timeline()
    for index, seconds in enumerate(sorted(samples)):
        timeline.times.add(seconds, index)
    timeline.event_times["X"] = occurrences
    series = timeline.event_series("X")
    assert series == [float(sum(1 for o in occurrences if o <= t)) for t in sorted(samples)]


def test_timeline_counts_events_of_every_component_once_per_occurrence() -> None:
    timeline = Timeline()
    event = {
        "metadata": {"namespace": "default", "name": "web.1"},
        "reason": "Preempted",
        "source": {"component": "default-scheduler"},
        "count": 1,
    }
    timeline.observe_event(5.0, event)
    timeline.observe_event(6.0, event)  # the same Event seen twice: one occurrence
    again = {**event, "count": 3}
    timeline.observe_event(9.0, again, event)
    assert timeline.event_times["Preempted"] == [5.0, 9.0, 9.0]
    # world components are counted, but not annotated on the report
    assert not any(a.reason == "Preempted" for a in timeline.annotations)


@pytest.mark.parametrize(
    "name",
    ["nodes-scale-up", "nodes-priority-fallback", "nodes-overprovisioning", "nodes-handover"],
)
def test_node_builtins_parse_and_run_the_node_autoscaler(name: str) -> None:
    scenario = load_scenario(name)
    assert "node-autoscaler" in scenario.features
    assert scenario.node_autoscaler is not None
    assert any("events(" in a.text or "nodes(" in a.text for a in scenario.assertions)
