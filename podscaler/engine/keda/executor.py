"""The 0↔1 half of scaling: KEDA's ``RequestScale`` as a pure function.

KEDA's executor owns only the edges: activating a workload at 0 (or idle) to ``max(min, 1)``,
and deactivating it to 0 (or ``idleReplicaCount``) once triggers have been inactive for
``cooldownPeriod``. Everything in between is the HPA's (here: ``engine.hpa``). The rules, in
the order KEDA applies them:

**Active** (some trigger active, or ``force-activation``):
  at 0, or below min in idle mode → scale to ``max(min, 1)`` and stamp lastActiveTime (unless
  ``paused-scale-out``); else if some trigger errored → Ready=Unknown/PartialTriggerError and
  lastActiveTime is *not* refreshed; else stamp lastActiveTime.

**Inactive**:
  error with ``fallback.replicas != 0`` → nothing (the HPA applies the fallback; going to 0
  would switch the HPA off); error without fallback → Ready=False/TriggerError, nothing;
  above idle (idle mode) or above 0 with min 0 → scale to idle/min once the cooldown has
  passed (unless ``paused-scale-in``), else Active=False/ScalerCooldown; below min without
  idle mode → scale to min.

The cooldown is measured from ``lastActiveTime`` — the last poll that *saw* activity — and
compared strictly (``lastActive + cooldown < now``); with no lastActiveTime at all (never
active, or scaled outside KEDA) the object's creation plus ``initialCooldownPeriod`` is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from podscaler.api.conditions import Condition
from podscaler.api.reasons import Reason
from podscaler.api.scaledobject import ScalingSpec
from podscaler.engine.keda import conditions as cond
from podscaler.engine.keda.pause import PauseAnnotations

__all__ = ["Action", "Event", "ExecutorOutcome", "Rule", "cooldown_passed", "request_scale"]


class Action(StrEnum):
    NONE = "none"
    SCALE_TO = "scaleTo"


class Rule(StrEnum):
    """The rule that bound a decision; what ``podscaler explain`` names."""

    PAUSED = "pause"
    PAUSED_REPLICAS = "pausedReplicas"
    PAUSED_SCALE_IN = "pausedScaleIn"
    PAUSED_SCALE_OUT = "pausedScaleOut"
    ACTIVATION = "activation"
    FORCE_ACTIVATION = "forceActivation"
    DEACTIVATION = "deactivation"
    IDLE = "idle"
    COOLDOWN = "cooldown"
    INITIAL_COOLDOWN = "initialCooldown"
    MIN_REPLICAS = "minReplicas"
    FALLBACK = "fallback"
    TRIGGER_ERROR = "triggerError"
    PARTIAL_TRIGGER_ERROR = "partialTriggerError"
    HPA = "hpa"
    AT_REST = "atRest"
    INVALID = "invalid"


@dataclass(frozen=True)
class Event:
    """A scale of the target to record as an Event (activation or deactivation, KEDA's
    ``KEDAScaleTarget(De)Activated``); the controller formats it with the target's identity,
    once it knows whether writing ``/scale`` worked."""

    reason: Reason
    from_replicas: int
    to_replicas: int
    triggers: tuple[str, ...] = ()
    forced: bool = False

    @property
    def failure_reason(self) -> Reason:
        """The reason to record instead when writing ``/scale`` failed."""
        if self.reason is Reason.ScaleTargetActivated:
            return Reason.ScaleTargetActivationFailed
        return Reason.ScaleTargetDeactivationFailed

    def message(self, target: str) -> str:
        """KEDA's message text; *target* is ``"<kind> <namespace>/<name>"``."""
        if self.reason is Reason.ScaleTargetActivated:
            cause = (
                "caused by forced activation annotation"
                if self.forced
                else "triggered by " + ";".join(self.triggers)
            )
            return f"Scaled {target} from {self.from_replicas} to {self.to_replicas}, {cause}"
        return f"Deactivated {target} from {self.from_replicas} to {self.to_replicas}"


@dataclass(frozen=True)
class ExecutorOutcome:
    """The 0↔1 verdict: what to write to ``/scale``, status updates, and the binding rule."""

    action: Action
    replicas: int | None
    rule: Rule
    reason: str
    update_last_active_time: bool = False
    ready: Condition | None = None
    active: Condition | None = None
    event: Event | None = None


def cooldown_passed(
    spec: ScalingSpec, last_active_seconds: float | None, now_seconds: float
) -> bool:
    """Whether scale-in to 0/idle may happen now (strictly after the deadline, like Go's Before)."""
    if last_active_seconds is None:
        if spec.created_seconds is None:
            # KEDA stamps a missing creationTimestamp with "now" and compares it with a later
            # "now": only a zero initialCooldownPeriod has passed.
            return spec.initial_cooldown_period_seconds <= 0
        return spec.created_seconds + spec.initial_cooldown_period_seconds < now_seconds
    return last_active_seconds + spec.cooldown_period_seconds < now_seconds


def request_scale(
    spec: ScalingSpec,
    *,
    is_active: bool,
    is_error: bool,
    current_replicas: int,
    last_active_seconds: float | None,
    now_seconds: float,
    pause: PauseAnnotations,
    active_triggers: tuple[str, ...] = (),
) -> ExecutorOutcome:
    """Decide the 0↔1 edge for one poll; pause annotations must already have been handled."""
    min_replicas = spec.min_replica_count
    idle = spec.idle_replica_count
    if is_active or pause.force_activation:
        if (idle is not None and current_replicas < min_replicas) or current_replicas == 0:
            target = spec.hpa_min_replicas
            if pause.scale_out_paused:
                return ExecutorOutcome(
                    Action.NONE,
                    None,
                    Rule.PAUSED_SCALE_OUT,
                    f"active, but paused-scale-out keeps the target at {current_replicas}",
                )
            forced = not is_active
            event = Event(
                Reason.ScaleTargetActivated, current_replicas, target, active_triggers, forced
            )
            rule = Rule.FORCE_ACTIVATION if forced else Rule.ACTIVATION
            why = "activation forced by annotation" if forced else "triggers active"
            from_what = "idle" if current_replicas and idle is not None else str(current_replicas)
            return ExecutorOutcome(
                Action.SCALE_TO,
                target,
                rule,
                f"{why}: activate from {from_what} to max(minReplicaCount, 1) = {target}",
                update_last_active_time=True,
                event=event,
            )
        if is_error:
            return ExecutorOutcome(
                Action.NONE,
                None,
                Rule.PARTIAL_TRIGGER_ERROR,
                "active but some triggers failed; lastActiveTime not refreshed",
                ready=cond.READY_PARTIAL_TRIGGER_ERROR,
            )
        return ExecutorOutcome(
            Action.NONE,
            None,
            Rule.HPA,
            f"active at {current_replicas} replicas; the HPA calculation owns 1..N",
            update_last_active_time=True,
        )

    fallback = spec.fallback
    if is_error and fallback is not None and fallback.replicas != 0:
        return ExecutorOutcome(
            Action.NONE,
            None,
            Rule.FALLBACK,
            "triggers failing; not scaling in, fallback applies after failureThreshold",
        )
    if is_error and fallback is None:
        return ExecutorOutcome(
            Action.NONE,
            None,
            Rule.TRIGGER_ERROR,
            "triggers failing and no fallback: replicas left unchanged",
            ready=cond.READY_TRIGGER_ERROR,
        )
    if (idle is not None and current_replicas > idle) or (
        current_replicas > 0 and min_replicas == 0
    ):
        return _scale_to_zero_or_idle(
            spec, current_replicas, last_active_seconds, now_seconds, pause
        )
    if current_replicas < min_replicas and idle is None:
        return ExecutorOutcome(
            Action.SCALE_TO,
            min_replicas,
            Rule.MIN_REPLICAS,
            f"inactive below minReplicaCount: {current_replicas} → {min_replicas}",
        )
    return ExecutorOutcome(
        Action.NONE, None, Rule.AT_REST, f"inactive and already at {current_replicas}"
    )


def _scale_to_zero_or_idle(
    spec: ScalingSpec,
    current_replicas: int,
    last_active_seconds: float | None,
    now_seconds: float,
    pause: PauseAnnotations,
) -> ExecutorOutcome:
    if pause.scale_in_paused:
        return ExecutorOutcome(
            Action.NONE,
            None,
            Rule.PAUSED_SCALE_IN,
            f"inactive, but paused-scale-in keeps the target at {current_replicas}",
        )
    idle = spec.idle_replica_count
    target = idle if idle is not None else spec.min_replica_count
    if cooldown_passed(spec, last_active_seconds, now_seconds):
        if last_active_seconds is None:
            since = (
                "never active; created + initialCooldownPeriod "
                f"{spec.initial_cooldown_period_seconds}s passed"
            )
        else:
            since = (
                f"inactive for {now_seconds - last_active_seconds:g}s > cooldownPeriod "
                f"{spec.cooldown_period_seconds}s"
            )
        return ExecutorOutcome(
            Action.SCALE_TO,
            target,
            Rule.IDLE if idle is not None else Rule.DEACTIVATION,
            f"{since}: scale to {'idleReplicaCount' if idle is not None else 'minReplicaCount'} "
            f"{target}",
            active=cond.ACTIVE_FALSE,
            event=Event(Reason.ScaleTargetDeactivated, current_replicas, target),
        )
    if last_active_seconds is None:
        created = spec.created_seconds if spec.created_seconds is not None else now_seconds
        remaining = created + spec.initial_cooldown_period_seconds - now_seconds
        rule = Rule.INITIAL_COOLDOWN
    else:
        remaining = last_active_seconds + spec.cooldown_period_seconds - now_seconds
        rule = Rule.COOLDOWN
    return ExecutorOutcome(
        Action.NONE,
        None,
        rule,
        f"inactive, cooling down: {max(remaining, 0):g}s until scale-in to {target}",
        active=cond.ACTIVE_COOLDOWN,
    )
