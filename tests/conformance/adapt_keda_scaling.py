"""Adapters for keda.json's ScaledObject scaling vectors, onto ``podscaler.engine.keda``.

Categories: ``fallback.metric`` (one metric reading through fallback and health counting),
``executor.scale_decision`` (one poll's 0↔1 decision, driven through :func:`decide`),
``scaledobject.pause`` (the pause annotations) and ``scaledobject.modifiers`` (whether
scalingModifiers are in use). Every expected key a vector states is checked; a key this adapter
does not know fails the vector rather than passing it silently.
"""

from __future__ import annotations

import math
from typing import Any

from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.reasons import Reason
from podscaler.api.scaledobject import (
    FallbackBehavior,
    FallbackSpec,
    HealthStatusType,
    ScalingModifiersSpec,
    ScalingSpec,
)
from podscaler.engine.keda import (
    Action,
    Event,
    MetricHealth,
    PausedReplicasError,
    ScalingState,
    TriggerObservation,
    apply_fallback,
    decide,
    has_paused_annotation,
    need_to_be_paused,
    paused_replica_count,
    read_pause_annotations,
)
from podscaler.engine.keda import conditions as cond
from tests.conformance.registry import REL_TOL, Vector, adapter

NOW_SECONDS = 1_000_000.0

#: KEDA's Event names in the vectors → podscaler's reasons (the same Events, named without
#: KEDA's prefix).
KEDA_EVENTS = {
    "KEDAScaleTargetActivated": Reason.ScaleTargetActivated,
    "KEDAScaleTargetDeactivated": Reason.ScaleTargetDeactivated,
}


def _close(actual: float | None, expected: float | None) -> bool:
    if actual is None or expected is None:
        return actual is expected
    return math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=1e-12)


def _unknown(expected: dict[str, Any], known: set[str]) -> None:
    extra = set(expected) - known
    assert not extra, f"adapter does not know expected keys {sorted(extra)}"


def _fallback(raw: dict[str, Any] | None) -> FallbackSpec | None:
    if raw is None:
        return None
    return FallbackSpec(
        failure_threshold=int(raw.get("failureThreshold", 0)),
        replicas=int(raw.get("replicas", 0)),
        behavior=FallbackBehavior(raw.get("behavior") or "static"),
    )


def _modifiers(advanced: dict[str, Any] | None) -> ScalingModifiersSpec | None:
    if not advanced or not advanced.get("scalingModifiers"):
        return None
    raw = advanced["scalingModifiers"]
    metric_type = raw.get("metricType")
    return ScalingModifiersSpec(
        formula=raw.get("formula") or "",
        target=str(raw.get("target") or ""),
        activation_target=str(raw.get("activationTarget") or ""),
        metric_type=MetricTargetType(metric_type) if metric_type else None,
    )


# ---------------------------------------------------------------------------------------------


@adapter("keda", "fallback.metric")
def fallback_metric(vector: Vector) -> None:
    given = vector["input"]
    expected = vector["expected"]
    _unknown(
        expected, {"fallbackActive", "metricValue", "numberOfFailures", "healthStatus", "error"}
    )
    metric_type = MetricTargetType(given.get("metricTargetType") or "AverageValue")
    target = given.get("targetAverageValue", given.get("targetValue", given.get("target")))
    error = "some error" if given.get("scalerError") else None
    modifiers = _modifiers(given.get("advanced") or given.get("spec", {}).get("advanced"))
    spec = ScalingSpec(fallback=_fallback(given.get("fallback")), scaling_modifiers=modifiers)
    starting = given.get("startingNumberOfFailures")
    previous = None
    if starting is not None:
        status = HealthStatusType(given.get("startingHealthStatus") or "Happy")
        previous = MetricHealth(int(starting), status)
    observation = TriggerObservation(
        metric_name="some_metric_name",
        trigger_type="cron",
        value=given.get("scalerValue"),
        error=error,
        metric_type=metric_type,
        target=None if target is None else float(target),
    )
    outcome = apply_fallback(
        spec,
        observation,
        previous,
        current_replicas=int(given.get("currentReplicas") or 0),
        ready_replicas=given.get("readyReplicas"),
    )
    if "fallbackActive" in expected:
        assert outcome.fallback_active == expected["fallbackActive"]
    if "metricValue" in expected:
        assert _close(outcome.value, expected["metricValue"]), (outcome.value, expected)
    if "error" in expected:
        assert (outcome.error is not None) == expected["error"], outcome
    health = outcome.health if outcome.health is not None else previous
    if "numberOfFailures" in expected:
        assert health is not None
        assert health.number_of_failures == expected["numberOfFailures"]
    if "healthStatus" in expected:
        assert health is not None
        assert health.status == expected["healthStatus"]


# ---------------------------------------------------------------------------------------------


def _condition_status(want: bool | str) -> str:
    """A condition status as the vectors give it: ``true``/``false`` or KEDA's strings."""
    if isinstance(want, bool):
        return "True" if want else "False"
    return want


def _ago(given: dict[str, Any], key: str) -> float | None:
    value = given.get(key)
    return None if value is None else NOW_SECONDS - float(value)


@adapter("keda", "executor.scale_decision")
def executor_scale_decision(vector: Vector) -> None:
    given = vector["input"]
    expected = vector["expected"]
    known = {
        "action",
        "replicas",
        "event",
        "updateLastActiveTime",
        "readyCondition",
        "readyReason",
        "activeCondition",
        "activeReason",
        "activeConditionReason",
        "hpaScaleDownSelectPolicy",
        "pausedCondition",
        "effectiveIsActive",
    }
    _unknown(expected, known)
    trigger_types = tuple(given.get("triggers") or ("prometheus",))
    spec_annotations = given.get("annotations") or {}
    spec = ScalingSpec.resolve(
        min_replica_count=given.get("minReplicaCount"),
        max_replica_count=given.get("maxReplicaCount"),
        idle_replica_count=given.get("idleReplicaCount"),
        cooldown_period=given.get("cooldownPeriod"),
        initial_cooldown_period=given.get("initialCooldownPeriod"),
        fallback=_fallback(given.get("fallback")),
        trigger_types=trigger_types,
        annotations=given.get("annotations") or {},
        created_seconds=_ago(given, "createdSecondsAgo"),
    )
    # One healthy observation carries the poll's activity and, when the poll saw an error, a
    # second one fails: KEDA's isActive/isError are an OR over triggers.
    observations = []
    for index, trigger_type in enumerate(trigger_types):
        if trigger_type in ("cpu", "memory"):
            observations.append(TriggerObservation(trigger_type, trigger_type=trigger_type))
        else:
            observations.append(
                TriggerObservation(
                    f"s{index}-{trigger_type}",
                    trigger_type=trigger_type,
                    value=1.0,
                    is_active=bool(given.get("isActive")),
                    target=1.0,
                )
            )
    if given.get("isError"):
        index = len(trigger_types)
        observations.append(
            TriggerObservation(
                f"s{index}-prometheus",
                trigger_type="prometheus",
                error="scaler error",
                target=1.0,
            )
        )
    last_active = _ago(given, "lastActiveSecondsAgo")
    state = ScalingState(last_active_seconds=last_active)
    current = int(given.get("currentReplicas", 0))
    decision = decide(spec, observations, state, current, NOW_SECONDS)

    if "action" in expected:
        assert decision.action == Action(expected["action"]), decision.explanation
    if "replicas" in expected:
        assert decision.replicas == expected["replicas"], decision.explanation
    if "event" in expected:
        reasons = [e.reason for e in decision.events if isinstance(e, Event)]
        if expected["event"] is None:
            assert reasons == []
        else:
            assert KEDA_EVENTS[expected["event"]] in reasons, reasons
    if "updateLastActiveTime" in expected:
        updated = decision.state.last_active_seconds == NOW_SECONDS
        assert updated == expected["updateLastActiveTime"]
    conditions = decision.conditions
    if "readyCondition" in expected:
        assert cond.get(conditions, cond.READY).status == expected["readyCondition"]
    if "readyReason" in expected:
        assert cond.get(conditions, cond.READY).reason == expected["readyReason"]
    if "activeCondition" in expected:
        status = cond.get(conditions, cond.ACTIVE).status
        assert status == _condition_status(expected["activeCondition"]), decision.explanation
    for key in ("activeReason", "activeConditionReason"):
        if key in expected:
            assert cond.get(conditions, cond.ACTIVE).reason == expected[key], decision.explanation
    if "hpaScaleDownSelectPolicy" in expected:
        # The HPA podscaler generates (or, in direct mode, the engine it runs) after this
        # decision; with no HPA this poll (scaled to zero), what the annotations make of it.
        if decision.hpa is not None:
            disabled = decision.hpa.scale_down_disabled
        else:
            disabled = read_pause_annotations(spec_annotations).scale_in_paused
        # No behavior at all and an explicit Max select the same (the HPA's default).
        policy = "Disabled" if disabled else "Max"
        assert policy == (expected["hpaScaleDownSelectPolicy"] or "Max"), decision.explanation
    if "pausedCondition" in expected:
        paused = cond.get(conditions, cond.PAUSED).status == "True"
        assert paused == expected["pausedCondition"]
    if "effectiveIsActive" in expected:
        assert decision.is_active == expected["effectiveIsActive"]
    assert decision.action != Action.SCALE_TO or decision.replicas is not None


# ---------------------------------------------------------------------------------------------


@adapter("keda", "scaledobject.pause")
def scaledobject_pause(vector: Vector) -> None:
    annotations = vector["input"].get("annotations")
    expected = vector["expected"]
    known = {
        "hasPausedAnnotation",
        "hasPausedReplicaAnnotation",
        "needToBePaused",
        "pausedReplicaCount",
        "error",
        "needToPauseScaleIn",
        "needToPauseScaleOut",
        "needToForceActivation",
    }
    _unknown(expected, known)
    if "hasPausedAnnotation" in expected:
        assert has_paused_annotation(annotations) == expected["hasPausedAnnotation"]
    if "hasPausedReplicaAnnotation" in expected:
        present = paused_annotation_present(annotations)
        assert present == expected["hasPausedReplicaAnnotation"]
    if "needToBePaused" in expected:
        applied = _paused_replicas_applied(vector["input"])
        got = need_to_be_paused(annotations, paused_replicas_applied=applied)
        assert got == expected["needToBePaused"]
    if "pausedReplicaCount" in expected or "error" in expected:
        try:
            count: int | None = paused_replica_count(annotations)
            failed = False
        except PausedReplicasError:
            count, failed = None, True
        if "error" in expected:
            assert failed == expected["error"]
        if "pausedReplicaCount" in expected and not failed:
            assert count == expected["pausedReplicaCount"]
    pause = read_pause_annotations(annotations)
    if "needToPauseScaleIn" in expected:
        assert pause.scale_in_paused == expected["needToPauseScaleIn"]
    if "needToPauseScaleOut" in expected:
        assert pause.scale_out_paused == expected["needToPauseScaleOut"]
    if "needToForceActivation" in expected:
        assert pause.force_activation == expected["needToForceActivation"]


def _paused_replicas_applied(given: dict[str, Any]) -> bool:
    """Whether the vector's ScaledObject has ``status.pausedReplicaCount`` set (KEDA pauses on
    ``paused-replicas`` only once it is). A vector that does not mention the status is taken
    as having it set, as in upstream's cases that state no status."""
    status = given.get("status")
    if isinstance(status, dict) and "pausedReplicaCount" in status:
        return status["pausedReplicaCount"] is not None
    for key in ("statusPausedReplicaCount", "pausedReplicaCount"):
        if key in given:
            return given[key] is not None
    return True


def paused_annotation_present(annotations: dict[str, str] | None) -> bool:
    try:
        return paused_replica_count(annotations) is not None
    except PausedReplicasError:
        return True


# ---------------------------------------------------------------------------------------------


@adapter("keda", "scaledobject.modifiers")
def scaledobject_modifiers(vector: Vector) -> None:
    spec_raw = vector["input"].get("spec") or {}
    expected = vector["expected"]
    _unknown(expected, {"isUsingModifiers"})
    modifiers = _modifiers(spec_raw.get("advanced"))
    spec = ScalingSpec(scaling_modifiers=modifiers)
    assert spec.uses_modifiers == expected["isUsingModifiers"]
