"""KEDA's ScaledJob semantics as pure functions: how many Jobs to create this poll.

A ScaledJob does not scale a workload; each poll it *creates* Jobs for work that no running
Job will pick up (KEDA ``pkg/scaling/executor/scale_jobs.go``, ``pkg/scaling/scaledjob``):

1. per trigger metric, ``queueLength`` (the metric value) and ``maxValue =
   min(queueLength / target, maxReplicaCount)``; the *active* triggers combine through
   ``multipleScalersCalculation`` (max, min, avg, sum); ``minReplicaCount > 0`` keeps the
   ScaledJob active;
2. ``scaleTo = ceil(queueLength)``, ``maxScale = ceil(maxValue)``;
3. the scaling strategy turns those, the running Jobs (beyond ``minReplicaCount``) and the
   pending ones into an effective maximum (:func:`effective_max_scale`), because a queue of
   ten with eight Jobs already running needs two more, not ten — and *how* to count the
   running ones is the user's call (``default`` assumes a running Job already consumed its
   message, ``accurate`` that it still shows in the queue, ``eager`` fills to the maximum);
4. Jobs created = ``min(scaleTo, effectiveMax)`` when active, never negative; below
   ``minReplicaCount`` the missing Jobs are created regardless.

``maxReplicaCount`` here is KEDA's effective one, ``max - min`` (the minimum Jobs do not
count against the headroom). Job bookkeeping — which Jobs are running, pending, finished, and
which finished ones exceed the history limits — is pure too, over the Job and Pod objects as
the API returns them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from podscaler.api.scaledjob import MultipleScalersCalculation, ScalingStrategyName

__all__ = [
    "JobDecision",
    "JobMetric",
    "JobState",
    "StrategySettings",
    "combine_metrics",
    "decide_jobs",
    "effective_max_scale",
    "history_to_delete",
    "job_metric",
    "job_state",
    "parse_running_job_percentage",
]


_GO_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_running_job_percentage(text: str | None) -> float | None:
    """``customScalingRunningJobPercentage`` as Go's ``strconv.ParseFloat`` reads it, or
    ``None`` when it does not parse (KEDA then falls back to the default strategy)."""
    if text is None:
        return None
    value = text.strip()
    if value.lower() in ("inf", "+inf", "infinity", "+infinity"):
        return math.inf
    if value.lower() in ("-inf", "-infinity"):
        return -math.inf
    if value.lower() == "nan":
        return math.nan
    return float(value) if _GO_FLOAT.fullmatch(value) else None


@dataclass(frozen=True)
class StrategySettings:
    """``spec.scalingStrategy`` as the maths needs it. ``custom`` without a parsable
    percentage behaves as ``default`` (:meth:`effective`)."""

    strategy: ScalingStrategyName = ScalingStrategyName.DEFAULT
    queue_length_deduction: int | None = None
    running_job_percentage: str | None = None

    def effective(self) -> tuple[ScalingStrategyName, int, float]:
        """The strategy actually applied, with custom's deduction and percentage."""
        if self.strategy is ScalingStrategyName.CUSTOM:
            percentage = parse_running_job_percentage(self.running_job_percentage)
            if percentage is None:
                return ScalingStrategyName.DEFAULT, 0, 0.0
            return ScalingStrategyName.CUSTOM, self.queue_length_deduction or 0, percentage
        return self.strategy, 0, 0.0


def effective_max_scale(
    settings: StrategySettings,
    max_scale: int,
    running: int,
    pending: int,
    max_replica_count: int,
    scale_to: int,
) -> tuple[int, int]:
    """KEDA's ``GetEffectiveMaxScale``: ``(effectiveMaxScale, scaleTo)``. Pure.

    ``running`` counts Jobs beyond ``minReplicaCount``; ``max_replica_count`` is the
    effective maximum (``max - min``). The result may be negative (the caller clamps).
    """
    strategy, deduction, percentage = settings.effective()
    if strategy is ScalingStrategyName.CUSTOM:
        running_part = running * percentage
        deducted = int(running_part) if math.isfinite(running_part) else 0
        return min(max_scale - deduction - deducted, max_replica_count), scale_to
    if strategy is ScalingStrategyName.ACCURATE:
        if max_scale + running - pending > max_replica_count:
            return max_replica_count - running, scale_to
        return max_scale - pending, scale_to
    if strategy is ScalingStrategyName.EAGER:
        return min(max_replica_count - running - pending, max_scale), max_replica_count
    return max_scale - running, scale_to


# -------------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class JobMetric:
    """One trigger metric's contribution: its queue length, the Jobs it asks for
    (``max_value``, already bounded by ``maxReplicaCount``) and its target."""

    queue_length: float
    max_value: float
    target_average_value: float
    active: bool = True


def job_metric(
    value: float, target_average_value: float, max_replica_count: int, active: bool = True
) -> JobMetric:
    """KEDA's per-metric numbers; a zero target asks for nothing rather than dividing by 0."""
    max_value = 0.0
    if target_average_value > 0:
        max_value = min(value / target_average_value, float(max_replica_count))
    return JobMetric(value, max_value, target_average_value, active)


def combine_metrics(
    metrics: Sequence[JobMetric], calculation: MultipleScalersCalculation
) -> JobMetric | None:
    """The active metrics combined (``None`` when none is active). ``max``/``min`` pick the
    metric with the largest/smallest ``max_value`` whole; ``avg``/``sum`` combine each field."""
    active = [m for m in metrics if m.active]
    if not active:
        return None
    if calculation is MultipleScalersCalculation.MAX:
        return max(active, key=lambda m: m.max_value)
    if calculation is MultipleScalersCalculation.MIN:
        return min(active, key=lambda m: m.max_value)
    queue = sum(m.queue_length for m in active)
    value = sum(m.max_value for m in active)
    target = sum(m.target_average_value for m in active)
    if calculation is MultipleScalersCalculation.AVG:
        n = len(active)
        return JobMetric(queue / n, value / n, target / n)
    return JobMetric(queue, value, target)


@dataclass(frozen=True)
class JobDecision:
    """What one poll decided, with the numbers that decided it (for status and explain)."""

    active: bool
    create: int
    queue_length: float
    scale_to: int
    max_scale: int
    effective_max_scale: int
    running: int
    pending: int
    strategy: ScalingStrategyName
    reason: str


def decide_jobs(
    metrics: Sequence[JobMetric],
    *,
    running: int,
    pending: int,
    min_replica_count: int,
    max_replica_count: int,
    settings: StrategySettings,
    calculation: MultipleScalersCalculation = MultipleScalersCalculation.MAX,
) -> JobDecision:
    """How many Jobs to create now. ``max_replica_count`` is the spec's (not yet ``- min``).
    Pure."""
    effective_max = max(max_replica_count - min_replica_count, 0)
    combined = combine_metrics(metrics, calculation)
    active = combined is not None or min_replica_count > 0
    queue = combined.queue_length if combined is not None else 0.0
    scale_to = math.ceil(queue)
    max_scale = math.ceil(combined.max_value) if combined is not None else 0
    strategy = settings.effective()[0]
    if running < min_replica_count:
        create = min_replica_count - running
        return JobDecision(
            active, create, queue, scale_to, max_scale, create, running, pending, strategy,
            f"{running} running Jobs are below minReplicaCount {min_replica_count}",
        )  # fmt: skip
    limit, scale_to = effective_max_scale(
        settings, max_scale, running - min_replica_count, pending, effective_max, scale_to
    )
    limit = max(limit, 0)
    create = min(scale_to, limit) if active else 0
    create = max(create, 0)
    if not active:
        reason = "no trigger is active"
    elif create == 0:
        reason = (
            f"{strategy.value} strategy: {running} running and {pending} pending Jobs cover "
            f"a queue of {queue:g}"
        )
    else:
        reason = (
            f"{strategy.value} strategy: queue {queue:g} asks for {scale_to}, at most "
            f"{limit} more with {running} running and {pending} pending"
        )
    return JobDecision(
        active, create, queue, scale_to, max_scale, limit, running, pending, strategy, reason
    )


# -------------------------------------------------------------------------------- Jobs


class JobState(StrEnum):
    PENDING = "Pending"  # not finished, and no pod has started (or met pendingPodConditions)
    RUNNING = "Running"  # not finished, some pod started
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


def _condition_true(obj: Mapping[str, Any], kind: str) -> bool:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return True
    return False


def job_state(
    job: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]] = (),
    pending_pod_conditions: Sequence[str] = (),
) -> JobState:
    """Where a Job is, as KEDA counts it. ``pods`` are the Job's pods.

    Without ``pendingPodConditions`` a Job is pending until one of its pods is Running or
    Succeeded; with them, until some pod has every listed condition True.
    """
    if _condition_true(job, "Complete") or _condition_true(job, "SuccessCriteriaMet"):
        return JobState.SUCCEEDED
    if _condition_true(job, "Failed"):
        return JobState.FAILED
    pods = list(pods)
    if pending_pod_conditions:
        started = any(all(_condition_true(pod, c) for c in pending_pod_conditions) for pod in pods)
    else:
        started = any(
            (pod.get("status") or {}).get("phase") in ("Running", "Succeeded") for pod in pods
        )
    return JobState.RUNNING if started else JobState.PENDING


def _finished_at(job: Mapping[str, Any]) -> str:
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("lastTransitionTime"):
            return str(condition["lastTransitionTime"])
    created = (job.get("metadata") or {}).get("creationTimestamp")
    return str(status.get("completionTime") or created or "")


def history_to_delete(
    jobs: Iterable[tuple[Mapping[str, Any], JobState]],
    successful_limit: int,
    failed_limit: int,
) -> list[str]:
    """Names of finished Jobs beyond the history limits, oldest first (KEDA keeps the newest
    ``successfulJobsHistoryLimit`` succeeded and ``failedJobsHistoryLimit`` failed Jobs)."""
    pairs = list(jobs)
    out: list[str] = []
    for state, limit in ((JobState.SUCCEEDED, successful_limit), (JobState.FAILED, failed_limit)):
        finished = sorted(
            (job for job, s in pairs if s is state),
            key=lambda j: (_finished_at(j), str((j.get("metadata") or {}).get("name"))),
        )
        excess = len(finished) - max(limit, 0)
        out.extend(str((j.get("metadata") or {}).get("name")) for j in finished[: max(excess, 0)])
    return out
