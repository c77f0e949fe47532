"""One HPA reconcile pass as two pure steps: :func:`decide`, then :func:`conclude`.

Upstream's ``reconcileAutoscaler`` reads the scale, computes, writes the scale and then the
status, all in one function. Writing the scale is I/O, and whether it succeeded changes the
status (``SucceededRescale`` vs ``FailedUpdateScale``, the kept ``desiredReplicas``) and the
history (a scale event is stored only after a successful write). So the pass is split where the
I/O happens::

    decision = decide(spec, observed, history, now_seconds, settings)
    if decision.rescale:
        error = await write_scale(decision.desired_replicas)       # the controller's I/O
    outcome = conclude(decision, update_error=error)               # status + history to keep

Every decision carries an :class:`Explanation`: the rule that bound the result and the numbers
that led to it, because podscaler explains every decision it makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from podscaler.api.conditions import Condition
from podscaler.api.hpabehavior import ResolvedBehavior, resolve_behavior
from podscaler.engine.hpa import conditions as reasons
from podscaler.engine.hpa.behavior import (
    convert_with_behavior_rate,
    convert_with_rules,
    stabilize_with_behavior,
    stabilize_without_behavior,
    tolerances_for,
)
from podscaler.engine.hpa.conditions import set_condition
from podscaler.engine.hpa.history import record_rescale, seed_recommendations
from podscaler.engine.hpa.metrics import (
    CombinedMetrics,
    MetricEvaluation,
    MetricStatus,
    PassContext,
    combine_metrics,
)
from podscaler.engine.hpa.replicas import Hold
from podscaler.engine.hpa.types import (
    DEFAULT_METRICS,
    ConditionType,
    HpaHistory,
    HpaSettings,
    HpaSpec,
    Observed,
    Tolerances,
)

ABLE = ConditionType.ABLE_TO_SCALE
ACTIVE = ConditionType.SCALING_ACTIVE
LIMITED = ConditionType.SCALING_LIMITED


class BoundBy(StrEnum):
    """The rule that decided the replica count of a pass."""

    #: The metrics' proposal was applied as it was.
    METRICS = "Metrics"
    #: Every metric was within tolerance of its target, so nothing moved.
    TOLERANCE = "Tolerance"
    #: Counting missing or unready pods would have reversed the direction, so nothing moved.
    DIRECTION_GUARD = "DirectionGuard"
    #: A recent recommendation inside a stabilization window held the count.
    STABILIZATION_WINDOW = "StabilizationWindow"
    #: ``max(2 x current, 4)`` (no behavior set).
    SCALE_UP_LIMIT = "ScaleUpLimit"
    #: A ``behavior.scaleUp`` policy.
    SCALE_UP_POLICY = "ScaleUpPolicy"
    #: A ``behavior.scaleDown`` policy.
    SCALE_DOWN_POLICY = "ScaleDownPolicy"
    MIN_REPLICAS = "MinReplicas"
    MAX_REPLICAS = "MaxReplicas"
    #: The target was scaled to zero by hand while ``minReplicas`` is not zero.
    SCALING_DISABLED = "ScalingDisabled"
    #: No usable metric, or a failing metric blocked a scale-down.
    METRICS_UNAVAILABLE = "MetricsUnavailable"
    #: The scale selector is missing, invalid or shared with another autoscaler.
    INVALID_SELECTOR = "InvalidSelector"


@dataclass(frozen=True)
class Explanation:
    """Why a pass decided what it did.

    ``metric_replicas`` is the metrics' combined proposal (``None`` when they were not used or
    failed), ``stabilized_replicas`` the count after the stabilization window; ``metrics`` holds
    each metric's own proposal or error.
    """

    bound_by: BoundBy
    current_replicas: int
    desired_replicas: int
    metric_replicas: int | None
    stabilized_replicas: int | None
    driving_metric: str
    metrics: tuple[MetricEvaluation, ...]
    tolerances: Tolerances
    summary: str


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide`, before the scale is written.

    ``desired_replicas`` is what to write to ``/scale`` when ``rescale`` is true (otherwise it
    equals the current count). ``rescale_reason`` is upstream's text for the ``SuccessfulRescale``
    event ("New size: N; reason: R").
    """

    current_replicas: int
    desired_replicas: int
    rescale: bool
    rescale_reason: str
    conditions: tuple[Condition, ...]
    history: HpaHistory
    history_after_rescale: HpaHistory
    metric_statuses: tuple[MetricStatus | None, ...]
    explanation: Explanation
    status_desired_replicas: int
    previous_desired_replicas: int
    now_seconds: float


@dataclass(frozen=True)
class Outcome:
    """What to keep after a pass: the status fields and the history for the next pass."""

    scaled: bool
    desired_replicas: int
    conditions: tuple[Condition, ...]
    history: HpaHistory
    #: ``now_seconds`` when the scale was written (``status.lastScaleTime``), else ``None``.
    last_scale_seconds: float | None


def _summary(bound_by: BoundBy, current: int, desired: int, metric_replicas: int | None) -> str:
    proposal = "" if metric_replicas is None else f"metrics proposed {metric_replicas}; "
    why = {
        BoundBy.METRICS: "applied the metrics' proposal",
        BoundBy.TOLERANCE: "every metric is within tolerance of its target",
        BoundBy.DIRECTION_GUARD: "counting missing or unready pods would reverse the direction",
        BoundBy.STABILIZATION_WINDOW: "held by a recent recommendation in the stabilization window",
        BoundBy.SCALE_UP_LIMIT: "capped by the scale-up limit max(2 x current, 4)",
        BoundBy.SCALE_UP_POLICY: "capped by the scale-up policies",
        BoundBy.SCALE_DOWN_POLICY: "held by the scale-down policies",
        BoundBy.MIN_REPLICAS: "raised to minReplicas",
        BoundBy.MAX_REPLICAS: "lowered to maxReplicas",
        BoundBy.SCALING_DISABLED: "scaling is disabled since the target was scaled to zero",
        BoundBy.METRICS_UNAVAILABLE: "no usable metrics, or a failing metric blocks scale-down",
        BoundBy.INVALID_SELECTOR: "the target's selector is unusable",
    }[bound_by]
    return f"{current} -> {desired}: {proposal}{why}"


def _limit_bound(reason: str, with_behavior: bool) -> BoundBy:
    if reason == reasons.TOO_MANY_REPLICAS:
        return BoundBy.MAX_REPLICAS
    if reason == reasons.TOO_FEW_REPLICAS:
        return BoundBy.MIN_REPLICAS
    if reason == reasons.SCALE_DOWN_LIMIT:
        return BoundBy.SCALE_DOWN_POLICY
    return BoundBy.SCALE_UP_POLICY if with_behavior else BoundBy.SCALE_UP_LIMIT


def _unlimited_bound(combined: CombinedMetrics, current: int, final: int) -> BoundBy:
    if final != current:
        return BoundBy.METRICS
    driving = next(
        (
            e.proposal
            for e in combined.evaluations
            if e.proposal is not None and e.description == combined.description
        ),
        None,
    )
    if driving is not None and driving.held == Hold.DIRECTION:
        return BoundBy.DIRECTION_GUARD
    if driving is not None and driving.held == Hold.TOLERANCE:
        return BoundBy.TOLERANCE
    return BoundBy.METRICS


def decide(
    spec: HpaSpec,
    observed: Observed,
    history: HpaHistory,
    now_seconds: float,
    settings: HpaSettings | None = None,
) -> Decision:
    """Decide one pass for one HPA: the replica count, conditions, history and explanation.

    ``now_seconds`` is on the same clock as every ``*_seconds`` instant in ``observed`` and
    ``history`` (see :mod:`podscaler.engine.hpa.types`). An empty ``spec.metrics`` means
    upstream's default (cpu at 80 %), and ``observed.readings`` must then hold its reading.
    """
    settings = settings or HpaSettings()
    current = observed.spec_replicas
    previous_desired = (
        current
        if observed.previous_desired_replicas is None
        else observed.previous_desired_replicas
    )
    behavior = (
        None
        if spec.behavior is None
        else resolve_behavior(spec.behavior, settings.downscale_stabilization_seconds)
    )
    tolerances = tolerances_for(spec.behavior, settings)
    history = seed_recommendations(history, current, now_seconds)
    conditions = set_condition(
        observed.previous_conditions,
        ABLE,
        reasons.TRUE,
        reasons.SUCCEEDED_GET_SCALE,
        reasons.MESSAGES[reasons.SUCCEEDED_GET_SCALE],
        now_seconds,
    )

    def finish(
        desired: int,
        reason: str,
        bound_by: BoundBy,
        *,
        rescale: bool,
        combined: CombinedMetrics | None = None,
        stabilized: int | None = None,
        failed: bool = False,
    ) -> Decision:
        evaluations = () if combined is None else combined.evaluations
        metric_replicas = None if combined is None else combined.replicas
        shown = desired if rescale else current
        return Decision(
            current_replicas=current,
            desired_replicas=shown,
            rescale=rescale,
            rescale_reason=reason,
            conditions=conditions,
            history=history,
            history_after_rescale=record_rescale(history, behavior, current, desired, now_seconds),
            metric_statuses=tuple(e.status for e in evaluations),
            explanation=Explanation(
                bound_by=bound_by,
                current_replicas=current,
                desired_replicas=shown,
                metric_replicas=metric_replicas,
                stabilized_replicas=stabilized,
                driving_metric="" if combined is None else combined.description,
                metrics=evaluations,
                tolerances=tolerances,
                summary=_summary(bound_by, current, shown, metric_replicas),
            ),
            status_desired_replicas=previous_desired if failed else shown,
            previous_desired_replicas=previous_desired,
            now_seconds=now_seconds,
        )

    if current == 0 and spec.min_replicas != 0:
        conditions = set_condition(
            conditions,
            ACTIVE,
            reasons.FALSE,
            reasons.SCALING_DISABLED,
            reasons.MESSAGES[reasons.SCALING_DISABLED],
            now_seconds,
        )
        return finish(0, "", BoundBy.SCALING_DISABLED, rescale=False)
    if current > spec.max_replicas:
        reason = "Current number of replicas above Spec.MaxReplicas"
        return finish(spec.max_replicas, reason, BoundBy.MAX_REPLICAS, rescale=True)
    if current < spec.min_replicas:
        reason = "Current number of replicas below Spec.MinReplicas"
        return finish(spec.min_replicas, reason, BoundBy.MIN_REPLICAS, rescale=True)

    if observed.selector_problem is not None:
        problem = observed.selector_problem
        conditions = set_condition(
            conditions, ACTIVE, reasons.FALSE, problem.reason, problem.message, now_seconds
        )
        return finish(current, "", BoundBy.INVALID_SELECTOR, rescale=False, failed=True)

    combined = combine_metrics(
        spec.metrics or DEFAULT_METRICS,
        observed.readings,
        PassContext(
            spec_replicas=current,
            status_replicas=observed.status_replicas,
            pods=observed.pods,
            tolerances=tolerances,
            settings=settings,
            now_seconds=now_seconds,
        ),
    )
    if combined.replicas is None:
        conditions = set_condition(
            conditions,
            ACTIVE,
            reasons.FALSE,
            combined.failure_reason or reasons.INVALID_METRIC_SOURCE_TYPE,
            combined.failure_message or "",
            now_seconds,
        )
        return finish(
            current,
            "",
            BoundBy.METRICS_UNAVAILABLE,
            rescale=False,
            combined=combined,
            failed=True,
        )
    conditions = set_condition(
        conditions,
        ACTIVE,
        reasons.TRUE,
        reasons.VALID_METRIC_FOUND,
        reasons.valid_metric_message(combined.description),
        now_seconds,
    )

    proposal = combined.replicas
    reason = ""
    if proposal > current:
        reason = f"{combined.description} above target"
    elif proposal < current:
        reason = "All metrics below target"

    recommendations = history.recommendations or ()
    if behavior is None:
        stabilized = stabilize_without_behavior(
            recommendations, proposal, settings.downscale_stabilization_seconds, now_seconds
        )
        limited = convert_with_rules(
            current,
            stabilized.replicas,
            spec.min_replicas,
            spec.max_replicas,
            scale_up_limit_factor=settings.scale_up_limit_factor,
            scale_up_limit_minimum=settings.scale_up_limit_minimum,
        )
    else:
        stabilized = stabilize_with_behavior(
            recommendations,
            current,
            proposal,
            behavior.scale_up.stabilization_window_seconds,
            behavior.scale_down.stabilization_window_seconds,
            now_seconds,
        )
        limited = convert_with_behavior_rate(
            current,
            stabilized.replicas,
            spec.min_replicas,
            spec.max_replicas,
            behavior,
            history.scale_up_events,
            history.scale_down_events,
            now_seconds,
        )
    history = HpaHistory(
        stabilized.recommendations, history.scale_up_events, history.scale_down_events
    )
    conditions = set_condition(
        conditions,
        ABLE,
        reasons.TRUE,
        stabilized.reason,
        reasons.MESSAGES[stabilized.reason],
        now_seconds,
    )
    is_limited = limited.replicas != stabilized.replicas
    conditions = set_condition(
        conditions,
        LIMITED,
        reasons.TRUE if is_limited else reasons.FALSE,
        limited.reason,
        limited.message,
        now_seconds,
    )

    final = limited.replicas
    if is_limited:
        bound_by = _limit_bound(limited.reason, behavior is not None)
    elif stabilized.replicas != proposal:
        bound_by = BoundBy.STABILIZATION_WINDOW
    else:
        bound_by = _unlimited_bound(combined, current, final)
    return finish(
        final,
        reason,
        bound_by,
        rescale=final != current,
        combined=combined,
        stabilized=stabilized.replicas,
    )


def conclude(decision: Decision, *, update_error: str | None = None) -> Outcome:
    """The status and history to keep once the controller has (or has not) written the scale.

    ``update_error`` is the scale write's error, or ``None`` when it succeeded or no write was
    needed. A failed write keeps the old ``desiredReplicas`` and stores no scale event.
    """
    if not decision.rescale:
        return Outcome(
            False,
            decision.status_desired_replicas,
            decision.conditions,
            decision.history,
            None,
        )
    if update_error is not None:
        conditions = set_condition(
            decision.conditions,
            ABLE,
            reasons.FALSE,
            reasons.FAILED_UPDATE_SCALE,
            reasons.failed_update_scale_message(update_error),
            decision.now_seconds,
        )
        return Outcome(
            False, decision.previous_desired_replicas, conditions, decision.history, None
        )
    conditions = set_condition(
        decision.conditions,
        ABLE,
        reasons.TRUE,
        reasons.SUCCEEDED_RESCALE,
        reasons.succeeded_rescale_message(decision.desired_replicas),
        decision.now_seconds,
    )
    return Outcome(
        True,
        decision.desired_replicas,
        conditions,
        decision.history_after_rescale,
        decision.now_seconds,
    )


def scale_unreadable(
    previous_conditions: tuple[Condition, ...], error: str, now_seconds: float
) -> tuple[Condition, ...]:
    """The conditions to write when the target's ``/scale`` could not be read (nothing else is
    decided in that pass, and the history is left as it was)."""
    return set_condition(
        previous_conditions,
        ABLE,
        reasons.FALSE,
        reasons.FAILED_GET_SCALE,
        reasons.failed_get_scale_message(error),
        now_seconds,
    )


def resolved_behavior_of(
    spec: HpaSpec, settings: HpaSettings | None = None
) -> ResolvedBehavior | None:
    """``spec.behavior`` with upstream's defaults filled in (``None`` when unset)."""
    settings = settings or HpaSettings()
    if spec.behavior is None:
        return None
    return resolve_behavior(spec.behavior, settings.downscale_stabilization_seconds)
