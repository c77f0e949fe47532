"""Status conditions: the one :class:`Condition`, its JSON, and the ScaledObject's types.

A condition is one concept everywhere: the KEDA engine decides ScaledObject conditions, the
HPA engine decides an HPA's, the embedded cluster's HPA controller reads and writes them, and
``status.conditions`` carries them. They all use :class:`Condition`, a frozen record on the
engines' clock (``last_transition_seconds``, ``None`` where the writer stamps it). The JSON
(``metav1.Condition``-like, as KEDA's) is read once (:func:`condition_from_json`); its schema
in the CRDs is :class:`StatusCondition`.

Types and reasons are KEDA's (``apis/keda/v1alpha1/condition_types.go``) so dashboards, alerts
and ``kubectl wait --for=condition=Ready`` written for KEDA keep working. Reasons podscaler adds
of its own are marked as such.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import Field

from podscaler.api.meta import ApiModel
from podscaler.api.timestamps import parse_seconds

__all__ = [
    "ACTIVE",
    "FALLBACK",
    "HPA_ACTIVE",
    "PAUSED",
    "READY",
    "Condition",
    "ConditionStatus",
    "StatusCondition",
    "condition_from_json",
    "find_condition",
]


class ConditionStatus(StrEnum):
    """A condition's status; each member equals its wire spelling."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


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


@dataclass(frozen=True)
class Condition:
    """One observation of an object's state.

    ``last_transition_seconds`` is when ``status`` last changed, on the clock of whoever keeps
    the conditions (``None``: not tracked here; the status writer keeps the time already
    written, or stamps the write's time when the status flipped).
    """

    type: str
    status: ConditionStatus
    reason: str = ""
    message: str = ""
    last_transition_seconds: float | None = None


def find_condition(conditions: Iterable[Condition], condition_type: str) -> Condition | None:
    """The condition of *condition_type*, or ``None``."""
    for condition in conditions:
        if condition.type == condition_type:
            return condition
    return None


def condition_from_json(raw: Mapping[str, Any]) -> Condition | None:
    """One ``status.conditions[]`` entry, ``None`` when it has no type or no valid status."""
    kind = raw.get("type")
    status = raw.get("status")
    if not isinstance(kind, str) or status not in ("True", "False", "Unknown"):
        return None
    return Condition(
        kind,
        ConditionStatus(status),
        str(raw.get("reason") or ""),
        str(raw.get("message") or ""),
        parse_seconds(raw.get("lastTransitionTime")),
    )


# The JSON shape of a Condition in status.conditions[]: the CRDs' schema (its docstring is the
# schema's description, which kubectl explain shows).
class StatusCondition(ApiModel):
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
