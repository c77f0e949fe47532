"""``decide``: one ScaledObject poll, from observations to a complete, explainable decision.

The controller calls :func:`decide` once per ``pollingInterval`` with what the scalers returned.
It gets back the 0↔1 verdict (scale to zero/idle/min, activate, or nothing), the inputs and
bounds for the HPA calculation that owns 1..N, the new status (lastActiveTime, health,
conditions, pausedReplicaCount), the Events to record, and an explanation naming the rule that
bound the result. The order of evaluation is KEDA's:

1. pause annotations (``paused``/``paused-replicas`` stop everything else);
2. each external metric through fallback (health counting, masking of failures);
3. activity: OR over triggers, or the composite metric with scalingModifiers; all-cpu/memory
   objects are always active (they can never scale to zero);
4. the executor's 0↔1 rules (:mod:`.executor`), then conditions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from podscaler.api.conditions import Condition, ConditionStatus
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.reasons import Reason
from podscaler.api.scaledobject import COMPOSITE_METRIC_NAME, FallbackBehavior, ScalingSpec
from podscaler.engine.keda import conditions as cond
from podscaler.engine.keda.executor import Action, Event, Rule, request_scale
from podscaler.engine.keda.fallback import (
    apply_fallback,
    fallback_exceeded,
    fallback_replicas,
    has_valid_fallback,
)
from podscaler.engine.keda.modifiers import CompositeOutcome, compose
from podscaler.engine.keda.pause import PauseAnnotations, read_pause_annotations
from podscaler.engine.keda.types import (
    MetricHealth,
    ScalingState,
    TriggerObservation,
)

__all__ = [
    "Explanation",
    "HpaInputs",
    "HpaMetric",
    "ScalingDecision",
    "decide",
]


@dataclass(frozen=True)
class HpaMetric:
    """One metric for the HPA calculation.

    ``value`` is ``None`` for cpu/memory (the HPA part reads metrics.k8s.io) and for a metric
    that failed without fallback (the HPA then reports it as unavailable).
    """

    metric_name: str
    trigger_type: str
    value: float | None
    target: float | None
    metric_type: MetricTargetType
    fallback: bool = False
    error: str | None = None


@dataclass(frozen=True)
class HpaInputs:
    """What the HPA calculation (``engine.hpa``) must use for 1..N on this poll."""

    metrics: tuple[HpaMetric, ...]
    min_replicas: int
    max_replicas: int
    scale_up_disabled: bool = False
    scale_down_disabled: bool = False


@dataclass(frozen=True)
class Explanation:
    """Why: the binding rule, a sentence for people, and the facts that led there."""

    rule: Rule
    summary: str
    facts: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ScalingDecision:
    """Everything one poll decided.

    ``action``/``replicas``: what to write to ``/scale`` now (``SCALE_TO``) or nothing.
    ``hpa``: when not ``None``, run the HPA calculation with these inputs (in direct mode) —
    it is ``None`` while paused or while the target sits at 0, where the HPA is disabled.
    ``state``: the new status to persist; ``events``: Events to record.
    """

    action: Action
    replicas: int | None
    is_active: bool
    is_error: bool
    hpa: HpaInputs | None
    state: ScalingState
    events: tuple[Event | StatusEvent, ...]
    explanation: Explanation
    active_triggers: tuple[str, ...] = ()

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.state.conditions


@dataclass(frozen=True)
class StatusEvent:
    """An Event about the object itself (pause, fallback) rather than its target's replicas."""

    reason: Reason
    message: str


def decide(
    spec: ScalingSpec,
    observations: Sequence[TriggerObservation],
    state: ScalingState,
    current_replicas: int,
    now_seconds: float,
    *,
    ready_replicas: int | None = None,
) -> ScalingDecision:
    """Decide one poll. Pure: same inputs, same decision; nothing is read from outside.

    *current_replicas* is the target's ``/scale`` ``spec.replicas``; *ready_replicas* its ready
    pods (only needed for fallback on ``Value`` targets).
    """
    pause = read_pause_annotations(spec.annotations)
    conditions = cond.complete(state.conditions)
    was_paused = cond.get(conditions, cond.PAUSED).status == ConditionStatus.TRUE
    if pause.paused:
        return _paused(spec, state, conditions, current_replicas, pause, was_paused)

    events: list[Event | StatusEvent] = []
    if was_paused:
        conditions = cond.with_condition(conditions, cond.PAUSED_FALSE)
        events.append(StatusEvent(Reason.Unpaused, cond.PAUSED_FALSE.message))

    # 2. fallback and health, per external metric.
    health = dict(state.health)
    metrics: list[HpaMetric] = []
    variables: dict[str, float | None] = {}
    active_triggers: list[str] = []
    is_active = False
    is_error = False
    first_fallback: float | None = None
    for obs in observations:
        if obs.is_resource:
            metrics.append(
                HpaMetric(obs.metric_name, obs.trigger_type, None, obs.target, obs.metric_type)
            )
            continue
        outcome = apply_fallback(
            spec,
            obs,
            state.health.get(obs.metric_name),
            current_replicas=current_replicas,
            ready_replicas=ready_replicas,
        )
        if outcome.health is not None:
            health[obs.metric_name] = outcome.health
        if outcome.error is not None:
            is_error = True
        trigger_active = outcome.error is None and (obs.active or outcome.fallback_active)
        label = obs.name or obs.metric_name
        if trigger_active and not outcome.formula_nil:
            is_active = True
            active_triggers.append(label)
        if outcome.fallback_active and first_fallback is None:
            first_fallback = outcome.value
        if obs.name:
            variables[obs.name] = outcome.value
        metrics.append(
            HpaMetric(
                outcome.metric_name,
                obs.trigger_type,
                outcome.value,
                obs.target,
                obs.metric_type,
                fallback=outcome.fallback_active,
                error=outcome.error,
            )
        )

    # 3. activity.
    facts: dict[str, object] = {"currentReplicas": current_replicas}
    formula_failure: str | None = None
    if spec.uses_modifiers:
        assert spec.scaling_modifiers is not None
        is_active = False
        active_triggers = []
        modifiers = spec.scaling_modifiers
        composite_value: float | None = None
        health.pop(COMPOSITE_METRIC_NAME, None)  # counted anew below while it stays unusable
        if not is_error:
            composite = _composite(
                spec,
                compose(spec, variables, fallback_value=first_fallback),
                state.health.get(COMPOSITE_METRIC_NAME),
                current_replicas,
            )
            if composite.health is not None:
                health[COMPOSITE_METRIC_NAME] = composite.health
            if composite.unusable and composite.error is not None:
                formula_failure = composite.error
                events.append(StatusEvent(Reason.TriggerError, composite.error))
            if composite.error is not None:
                is_error = True
                facts["compositeError"] = composite.error
            else:
                composite_value = composite.value
                is_active = composite.is_active
                if is_active:
                    active_triggers = ["ModifiersTrigger"]
                if composite.fallback:
                    first_fallback = composite.value
        facts["compositeMetric"] = composite_value
        try:
            composite_target: float | None = float(modifiers.target)
        except ValueError:
            composite_target = None
        metrics = [m for m in metrics if m.value is None and m.error is None] + [
            HpaMetric(
                COMPOSITE_METRIC_NAME,
                "",
                composite_value,
                composite_target,
                modifiers.effective_metric_type,
                fallback=first_fallback is not None,
            )
        ]
    if spec.only_resource_triggers and not is_error:
        is_active = True
        facts["onlyResourceTriggers"] = True

    # 4. the 0↔1 edge.
    outcome_ = request_scale(
        spec,
        is_active=is_active,
        is_error=is_error,
        current_replicas=current_replicas,
        last_active_seconds=state.last_active_seconds,
        now_seconds=now_seconds,
        pause=pause,
        active_triggers=tuple(active_triggers),
    )
    if not is_error and cond.get(conditions, cond.READY).status != ConditionStatus.TRUE:
        conditions = cond.with_condition(conditions, cond.READY_TRUE)
    if outcome_.ready is not None:
        conditions = cond.with_condition(conditions, outcome_.ready)
    if formula_failure is not None:
        ready = Condition(
            cond.READY, ConditionStatus.FALSE, cond.READY_TRIGGER_ERROR.reason, formula_failure
        )
        conditions = cond.with_condition(conditions, ready)
    if outcome_.active is not None:
        conditions = cond.with_condition(conditions, outcome_.active)
    effective_active = is_active or pause.force_activation
    active_now = cond.get(conditions, cond.ACTIVE)
    if active_now.status == ConditionStatus.UNKNOWN or (
        (active_now.status == ConditionStatus.TRUE) != effective_active
    ):
        if is_active:
            conditions = cond.with_condition(conditions, cond.ACTIVE_TRUE)
        elif pause.force_activation:
            conditions = cond.with_condition(conditions, cond.ACTIVE_FORCED)
        else:
            conditions = cond.with_condition(conditions, cond.ACTIVE_FALSE)
    conditions, fallback_events = _fallback_condition(spec, conditions, health)
    events.extend(fallback_events)
    if outcome_.event is not None:
        events.append(outcome_.event)

    last_active = now_seconds if outcome_.update_last_active_time else state.last_active_seconds
    new_state = ScalingState(
        last_active_seconds=last_active,
        health=MappingProxyType(health),
        original_replica_count=(
            state.original_replica_count
            if state.original_replica_count is not None
            else current_replicas
        ),
        paused_replica_count=None,
        conditions=conditions,
    )
    hpa = None
    if current_replicas > 0 or (
        outcome_.action == Action.SCALE_TO and (outcome_.replicas or 0) > 0
    ):
        hpa = HpaInputs(
            tuple(metrics),
            spec.hpa_min_replicas,
            spec.hpa_max_replicas,
            scale_up_disabled=pause.scale_out_paused,
            scale_down_disabled=pause.scale_in_paused,
        )
    if outcome_.action == Action.SCALE_TO and outcome_.replicas == 0:
        hpa = None
    rule = outcome_.rule
    if rule == Rule.HPA and any(m.fallback for m in metrics):
        rule = Rule.FALLBACK
    facts.update(
        isActive=is_active,
        isError=is_error,
        activeTriggers=tuple(active_triggers),
        lastActiveSeconds=state.last_active_seconds,
        cooldownPeriodSeconds=spec.cooldown_period_seconds,
        hpaMinReplicas=spec.hpa_min_replicas,
        hpaMaxReplicas=spec.hpa_max_replicas,
    )
    return ScalingDecision(
        action=outcome_.action,
        replicas=outcome_.replicas,
        is_active=effective_active,
        is_error=is_error,
        hpa=hpa,
        state=new_state,
        events=tuple(events),
        explanation=Explanation(rule, outcome_.reason, MappingProxyType(facts)),
        active_triggers=tuple(active_triggers),
    )


def _fallback_condition(
    spec: ScalingSpec, conditions: tuple[Condition, ...], health: Mapping[str, MetricHealth]
) -> tuple[tuple[Condition, ...], list[StatusEvent]]:
    """Set Fallback from the health map. Without a (valid) fallback it is False with reason
    NoFallbackFound, as KEDA's reconcile writes it, rather than the initial Unknown."""
    if not has_valid_fallback(spec):
        return cond.with_condition(conditions, cond.FALLBACK_FALSE), []
    assert spec.fallback is not None
    before = cond.get(conditions, cond.FALLBACK).status
    exceeded = fallback_exceeded(health, spec.fallback.failure_threshold)
    if spec.fallback.behavior == FallbackBehavior.SCALING_MODIFIERS and not spec.uses_modifiers:
        exceeded = False  # nothing to route around without a formula
    condition = cond.FALLBACK_TRUE if exceeded else cond.FALLBACK_FALSE
    events: list[StatusEvent] = []
    if exceeded and before != ConditionStatus.TRUE:
        events.append(StatusEvent(Reason.FallbackActivated, condition.message))
    elif not exceeded and before == ConditionStatus.TRUE:
        events.append(StatusEvent(Reason.FallbackDeactivated, condition.message))
    return cond.with_condition(conditions, condition), events


def _paused(
    spec: ScalingSpec,
    state: ScalingState,
    conditions: tuple[Condition, ...],
    current_replicas: int,
    pause: PauseAnnotations,
    was_paused: bool,
) -> ScalingDecision:
    events: list[Event | StatusEvent] = []
    if pause.paused_replicas_error is not None:
        conditions = cond.with_condition(
            conditions, cond.ready_invalid(pause.paused_replicas_error)
        )
        explanation = Explanation(Rule.INVALID, pause.paused_replicas_error)
        new_state = ScalingState(
            state.last_active_seconds,
            state.health,
            state.original_replica_count,
            state.paused_replica_count,
            conditions,
        )
        return ScalingDecision(Action.NONE, None, False, True, None, new_state, (), explanation)
    conditions = cond.with_condition(conditions, cond.PAUSED_TRUE)
    if not was_paused:
        events.append(StatusEvent(Reason.Paused, cond.PAUSED_TRUE.message))
    action, replicas = Action.NONE, None
    if pause.paused_replicas is not None:
        rule = Rule.PAUSED_REPLICAS
        if pause.paused_replicas != current_replicas:
            action, replicas = Action.SCALE_TO, pause.paused_replicas
            summary = f"paused-replicas pins the target: {current_replicas} → {replicas}"
        else:
            summary = f"paused at paused-replicas {current_replicas}"
    else:
        rule = Rule.PAUSED
        summary = f"paused at the current {current_replicas} replicas"
    new_state = ScalingState(
        last_active_seconds=state.last_active_seconds,
        health=state.health,
        original_replica_count=(
            state.original_replica_count
            if state.original_replica_count is not None
            else current_replicas
        ),
        paused_replica_count=pause.paused_replicas,
        conditions=conditions,
    )
    facts = {"currentReplicas": current_replicas, "pausedReplicas": pause.paused_replicas}
    return ScalingDecision(
        action=action,
        replicas=replicas,
        is_active=False,
        is_error=False,
        hpa=None,
        state=new_state,
        events=tuple(events),
        explanation=Explanation(rule, summary, MappingProxyType(facts)),
    )


@dataclass(frozen=True)
class _Composite:
    """The composite metric of one poll, after fallback for an unusable formula result."""

    value: float | None
    is_active: bool
    error: str | None
    health: MetricHealth | None = None
    unusable: bool = False
    fallback: bool = False


def _composite(
    spec: ScalingSpec,
    composite: CompositeOutcome,
    previous: MetricHealth | None,
    current_replicas: int,
) -> _Composite:
    """*composite* as the decision uses it. A formula that gave no usable number (see
    :mod:`.modifiers`) is a failing metric: the composite's health counts the failures and,
    past a valid fallback's threshold, the fallback value stands in for it (for ``behavior:
    scalingModifiers`` too: the formula itself failed, there is nothing to route around).
    Without fallback it stays an error."""
    if not composite.unusable:
        return _Composite(composite.value, composite.is_active, composite.error)
    assert spec.scaling_modifiers is not None
    observation = TriggerObservation(
        metric_name=COMPOSITE_METRIC_NAME,
        error=composite.error,
        metric_type=spec.scaling_modifiers.effective_metric_type,
        target=float(spec.scaling_modifiers.target),
    )
    outcome = apply_fallback(spec, observation, previous, current_replicas=current_replicas)
    if outcome.formula_nil and spec.fallback is not None:
        replicas = fallback_replicas(spec.fallback, current_replicas)
        value = replicas * float(spec.scaling_modifiers.target)
        return _Composite(value, True, None, outcome.health, unusable=True, fallback=True)
    if outcome.fallback_active and outcome.value is not None:
        return _Composite(outcome.value, True, None, outcome.health, unusable=True, fallback=True)
    return _Composite(None, False, composite.error, outcome.health, unusable=True)
