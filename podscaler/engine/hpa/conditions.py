"""HPA status conditions: upstream's reasons and messages, and how a list of them is updated.

Users and tools (``kubectl describe hpa``, dashboards, alerts) match on these strings, so they
are upstream's, word for word. A condition list keeps insertion order; setting a type that is
already present updates it in place, and its transition time moves only when the status flips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from podscaler.api.conditions import Condition, ConditionStatus
from podscaler.engine.hpa.types import ConditionType

TRUE = ConditionStatus.TRUE
FALSE = ConditionStatus.FALSE

# AbleToScale
SUCCEEDED_GET_SCALE = "SucceededGetScale"
FAILED_GET_SCALE = "FailedGetScale"
READY_FOR_NEW_SCALE = "ReadyForNewScale"
SCALE_UP_STABILIZED = "ScaleUpStabilized"
SCALE_DOWN_STABILIZED = "ScaleDownStabilized"
SUCCEEDED_RESCALE = "SucceededRescale"
FAILED_UPDATE_SCALE = "FailedUpdateScale"

# ScalingActive
VALID_METRIC_FOUND = "ValidMetricFound"
SCALING_DISABLED = "ScalingDisabled"
INVALID_SELECTOR = "InvalidSelector"
AMBIGUOUS_SELECTOR = "AmbiguousSelector"
INVALID_METRIC_SOURCE_TYPE = "InvalidMetricSourceType"
FAILED_GET_RESOURCE_METRIC = "FailedGetResourceMetric"
FAILED_GET_CONTAINER_RESOURCE_METRIC = "FailedGetContainerResourceMetric"
FAILED_GET_PODS_METRIC = "FailedGetPodsMetric"
FAILED_GET_OBJECT_METRIC = "FailedGetObjectMetric"
FAILED_GET_EXTERNAL_METRIC = "FailedGetExternalMetric"

# ScalingLimited
DESIRED_WITHIN_RANGE = "DesiredWithinRange"
TOO_MANY_REPLICAS = "TooManyReplicas"
TOO_FEW_REPLICAS = "TooFewReplicas"
SCALE_UP_LIMIT = "ScaleUpLimit"
SCALE_DOWN_LIMIT = "ScaleDownLimit"

MESSAGES: dict[str, str] = {
    SUCCEEDED_GET_SCALE: "the HPA controller was able to get the target's current scale",
    READY_FOR_NEW_SCALE: "recommended size matches current size",
    SCALE_UP_STABILIZED: (
        "recent recommendations were lower than current one, "
        "applying the lowest recent recommendation"
    ),
    SCALE_DOWN_STABILIZED: (
        "recent recommendations were higher than current one, "
        "applying the highest recent recommendation"
    ),
    SCALING_DISABLED: "scaling is disabled since the replica count of the target is zero",
    DESIRED_WITHIN_RANGE: "the desired count is within the acceptable range",
    TOO_MANY_REPLICAS: "the desired replica count is more than the maximum replica count",
    TOO_FEW_REPLICAS: "the desired replica count is less than the minimum replica count",
    SCALE_UP_LIMIT: "the desired replica count is increasing faster than the maximum scale rate",
    SCALE_DOWN_LIMIT: "the desired replica count is decreasing faster than the maximum scale rate",
}


def succeeded_rescale_message(replicas: int) -> str:
    return f"the HPA controller was able to update the target scale to {replicas}"


def failed_update_scale_message(error: str) -> str:
    return f"the HPA controller was unable to update the target scale: {error}"


def failed_get_scale_message(error: str) -> str:
    return f"the HPA controller was unable to get the target's current scale: {error}"


def valid_metric_message(metric_description: str) -> str:
    return f"the HPA was able to successfully calculate a replica count from {metric_description}"


def unable_to_compute_message(error: str) -> str:
    return f"the HPA was unable to compute the replica count: {error}"


def set_condition(
    conditions: Sequence[Condition],
    type_: ConditionType,
    status: ConditionStatus,
    reason: str,
    message: str,
    now_seconds: float,
) -> tuple[Condition, ...]:
    """Set one condition, keeping the list's order and unflipped transition times."""
    updated = list(conditions)
    for index, existing in enumerate(updated):
        if existing.type == type_:
            transition = (
                existing.last_transition_seconds if existing.status == status else now_seconds
            )
            updated[index] = replace(
                existing,
                status=status,
                reason=reason,
                message=message,
                last_transition_seconds=transition,
            )
            return tuple(updated)
    updated.append(Condition(type_, status, reason, message, now_seconds))
    return tuple(updated)
