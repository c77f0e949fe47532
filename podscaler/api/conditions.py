"""Status conditions: the shape (metav1.Condition-like, as KEDA's) and the types and reasons.

Types and reasons are KEDA's (``apis/keda/v1alpha1/condition_types.go``) so dashboards, alerts
and ``kubectl wait --for=condition=Ready`` written for KEDA keep working. Reasons podscaler adds
of its own are marked as such.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import Field

from podscaler.api.meta import ApiModel

__all__ = [
    "ACTIVE",
    "FALLBACK",
    "HPA_ACTIVE",
    "PAUSED",
    "READY",
    "Condition",
    "ConditionStatus",
    "find_condition",
    "initial_conditions",
]

ConditionStatus = Literal["True", "False", "Unknown"]

#: The object is defined correctly and its triggers answer.
READY: Final = "Ready"
#: At least one trigger is active (the target runs above zero / idle).
ACTIVE: Final = "Active"
#: At least one trigger is failing past its threshold and fallback replicas apply.
FALLBACK: Final = "Fallback"
#: Scaling is paused by annotation.
PAUSED: Final = "Paused"
#: Mode ``hpa`` only: the generated HPA's ScalingActive condition, mirrored.
HPA_ACTIVE: Final = "HPAActive"


class Condition(ApiModel):
    """One observation of the object's state."""

    type: str = Field(
        description="Type of condition: Ready, Active, Fallback, Paused or HPAActive."
    )
    status: ConditionStatus = Field(description="Status of the condition: True, False or Unknown.")
    reason: str | None = Field(
        default=None, description="Machine-readable UpperCamelCase reason for the last transition."
    )
    message: str | None = Field(
        default=None, description="Human-readable message about the last transition."
    )
    last_transition_time: datetime | None = Field(
        default=None, description="Last time the condition changed status (podscaler addition)."
    )
    observed_generation: int | None = Field(
        default=None,
        description="metadata.generation the condition was computed from (podscaler addition).",
    )


def initial_conditions() -> list[Condition]:
    """Conditions of an object seen for the first time, as KEDA initializes them."""
    return [
        Condition(type=READY, status="Unknown"),
        Condition(type=ACTIVE, status="Unknown"),
        Condition(type=FALLBACK, status="Unknown"),
        Condition(type=PAUSED, status="False"),
    ]


def find_condition(conditions: list[Condition], condition_type: str) -> Condition | None:
    """The condition of *condition_type*, or ``None``."""
    for condition in conditions:
        if condition.type == condition_type:
            return condition
    return None
