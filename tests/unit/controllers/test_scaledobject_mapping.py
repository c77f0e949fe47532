"""The ScaledObject controller's pure translations: API shapes to engine records and back
(the resolved spec, behavior with pause annotations, status state across restarts), the HPA
bridge, the status patch that skips unchanged writes, pod facts, and decision records."""

from __future__ import annotations

from datetime import UTC, datetime

from podscaler.api.conditions import Condition, ConditionStatus
from podscaler.api.hpabehavior import SelectPolicy
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.validation import validate_scaled_object
from podscaler.controllers.scaledobject.direct import hpa_spec_and_readings
from podscaler.controllers.scaledobject.mapping import (
    hpa_behavior,
    state_from_status,
)
from podscaler.controllers.scaledobject.records import (
    DecisionLog,
    DecisionRecord,
    TriggerRecord,
    render_records,
)
from podscaler.controllers.scaledobject.status import (
    StatusParts,
    compose_status,
    status_patch,
)
from podscaler.engine import hpa, keda
from podscaler.engine.hpa.objects import pod_facts, resource_reading
from scalers.contract import MetricTarget, ResourceMetricSpec

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _so(**spec: object) -> dict[str, object]:
    return {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "scaleTargetRef": {"name": "web"},
            "triggers": [{"type": "cron", "metadata": {}}],
            **spec,
        },
    }


def test_the_engine_reads_the_resolved_spec_with_creation_on_the_unix_clock() -> None:
    spec = validate_scaled_object(_so(cooldownPeriod=7)).resolved()
    assert spec.min_replica_count == 0
    assert spec.cooldown_period_seconds == 7
    assert spec.trigger_types == ("cron",)
    assert spec.created_seconds == datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def test_pause_annotations_disable_their_direction_of_behavior() -> None:
    assert hpa_behavior(None) is None
    behavior = hpa_behavior(None, scale_down_disabled=True)
    assert behavior is not None
    assert behavior.scale_down is not None
    assert behavior.scale_down.select_policy is SelectPolicy.DISABLED
    assert behavior.scale_up is None


def test_state_survives_a_restart_through_status() -> None:
    state = state_from_status(
        {
            "lastActiveTime": "2026-01-02T03:04:05Z",
            "originalReplicaCount": 3,
            "health": {"s0-prometheus": {"numberOfFailures": 4, "status": "Failing"}},
            "conditions": [{"type": "Active", "status": "False", "reason": "ScalerCooldown"}],
        }
    )
    assert state.last_active_seconds == NOW.timestamp()
    assert state.original_replica_count == 3
    assert state.health["s0-prometheus"].number_of_failures == 4
    assert state.condition("Active") is not None


def test_external_and_resource_metrics_reach_the_hpa_in_milli_units() -> None:
    inputs = keda.HpaInputs(
        metrics=(
            keda.HpaMetric(
                "s0-prometheus", "prometheus", 35.0, 10.0, MetricTargetType.AVERAGE_VALUE
            ),
            keda.HpaMetric("s1-cpu", "cpu", None, None, MetricTargetType.UTILIZATION),
            keda.HpaMetric("s2-x", "x", None, 5.0, MetricTargetType.VALUE, error="down"),
        ),
        min_replicas=1,
        max_replicas=10,
    )
    cpu = ResourceMetricSpec(
        resource="cpu",
        target=MetricTarget(type=MetricTargetType.UTILIZATION, average_utilization=50),
    )
    spec, readings = hpa_spec_and_readings(inputs, {"s1-cpu": cpu}, None, None)
    assert spec.metrics[0] == hpa.ExternalMetric(
        "s0-prometheus", hpa.MetricTarget(MetricTargetType.AVERAGE_VALUE, average_value_milli=10000)
    )
    assert readings[0] == hpa.ExternalReading((35000,))
    assert isinstance(spec.metrics[1], hpa.ResourceMetric)
    assert isinstance(readings[1], hpa.ReadingError)
    assert isinstance(readings[2], hpa.ReadingError)
    assert "down" in readings[2].message
    # Named as the generated HPA would name it, not "s0-prometheus(<nil>)" (issue 18).
    named, _ = hpa_spec_and_readings(inputs, {"s1-cpu": cpu}, None, None, scaled_object="web")
    assert named.metrics[0] == hpa.ExternalMetric(
        "s0-prometheus",
        hpa.MetricTarget(MetricTargetType.AVERAGE_VALUE, average_value_milli=10000),
        "&LabelSelector{MatchLabels:map[string]string{scaledobject.keda.sh/name: web,},"
        "MatchExpressions:[]LabelSelectorRequirement{},}",
    )


def test_status_is_written_only_when_it_changes_and_stale_keys_are_nulled() -> None:
    state = keda.ScalingState(
        last_active_seconds=None,
        original_replica_count=2,
        paused_replica_count=None,
        conditions=(Condition("Ready", ConditionStatus.TRUE, "ScaledObjectReady", "ok"),),
    )
    parts = StatusParts(generation=1, last_decision={"rule": "hpa", "summary": "s"})
    first = compose_status(None, state, parts, NOW, last_active=None)
    assert status_patch(first, first) is None
    later = compose_status(first, state, parts, NOW.replace(hour=9), last_active=None)
    assert later["conditions"][0]["lastTransitionTime"] == "2026-01-02T03:04:05Z"
    assert status_patch(first, later) is None
    patch = status_patch({**first, "pausedReplicaCount": 3}, first)
    assert patch == {"pausedReplicaCount": None}


def test_a_nested_key_that_goes_away_is_sent_as_null() -> None:
    """A merge patch merges objects: ``boundBy`` of an earlier hpa decision must be nulled
    when the next decision (scale to zero) was bound by nothing, or it stays (issue 18)."""
    before = {
        "lastDecision": {"rule": "hpa", "summary": "s", "replicas": 4, "boundBy": "ScaleUpPolicy"},
        "health": {"s0-a": {"numberOfFailures": 0}, "s1-b": {"numberOfFailures": 2}},
    }
    after = {
        "lastDecision": {"rule": "deactivation", "summary": "t", "replicas": 0},
        "health": {"s0-a": {"numberOfFailures": 0}},
    }
    assert status_patch(before, after) == {
        "lastDecision": {"rule": "deactivation", "summary": "t", "replicas": 0, "boundBy": None},
        "health": {"s1-b": None},
    }


def test_pod_facts_and_pod_metrics() -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "500m"}}}]},
        "status": {
            "phase": "Running",
            "startTime": "2026-01-01T00:00:00Z",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:10Z"}
            ],
        },
    }
    facts = pod_facts(pod)
    assert facts.is_ready
    assert facts.containers[0].requests_milli == {"cpu": 500}
    reading = resource_reading(
        [
            {
                "metadata": {"name": "p"},
                "timestamp": "2026-01-01T00:01:00Z",
                "window": "30s",
                "containers": [{"name": "app", "usage": {"cpu": "250m", "memory": "1Ki"}}],
            }
        ]
    )
    assert reading.pods[0].containers["app"] == {"cpu": 250, "memory": 1024000}
    assert reading.pods[0].window_seconds == 30.0


def test_records_are_bounded_and_render_for_people() -> None:
    log = DecisionLog(per_object=2)
    for n in range(3):
        log.add(
            "ns",
            "x",
            DecisionRecord(
                at=f"t{n}",
                generation=1,
                current_replicas=n,
                desired_replicas=n + 1,
                rule="hpa",
                summary="why",
                active=True,
                triggers=(TriggerRecord(0, "prometheus", "", "s0-prometheus", 4.0, True),),
            ),
        )
    kept = log.recent("ns", "x")
    assert [r.at for r in kept] == ["t1", "t2"]
    assert kept[-1].short() == {"rule": "hpa", "summary": "why", "replicas": 3}
    text = render_records(log.to_json()["objects"][0]["decisions"])
    assert "replicas 2 -> 3" in text
    assert "s0-prometheus" in text


def test_consecutive_records_share_their_equal_values() -> None:
    """Objects x 20 records is most of the operator's memory at 10,000 objects: a steady
    object's records point at one summary, facts and HPA record instead of 20 copies."""

    def record(at: str, value: float) -> DecisionRecord:
        return DecisionRecord(
            at=at,
            generation=1,
            current_replicas=1,
            desired_replicas=1,
            rule="hpa",
            summary="".join(["active: ", "s0-prometheus above activation"]),
            active=True,
            triggers=(TriggerRecord(0, "prometheus", "", "".join(["s0-", "prom"]), value, True),),
            facts={"minReplicaCount": 1},
        )

    log = DecisionLog(per_object=3)
    first, second = record("t1", 5.0), record("t2", 6.0)
    log.add("default", "a", first)
    log.add("default", "a", second)
    assert second.summary is first.summary
    assert second.facts is first.facts
    assert second.triggers[0].metric is first.triggers[0].metric
    assert second.triggers[0].value == 6.0
    assert log.latest("default", "a") is second
    assert log.to_json()["objects"][0]["decisions"][1]["summary"] == first.summary
