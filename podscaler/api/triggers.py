"""Triggers (``spec.triggers[]``) and how often they are polled (``spec.pollingInterval``),
shared by ScaledObject and ScaledJob, as KEDA's ScaleTriggers.

Trigger ``metadata`` is a map of strings exactly as KEDA has it: each scaler parses its own
parameters (see ``scalers/``), so the API layer does not know them. Only rules that are about
the trigger list itself live here and in :mod:`podscaler.api.validation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import BeforeValidator, Field

from podscaler.api.meta import SpecModel
from podscaler.api.metrictarget import MetricTargetType

__all__ = [
    "CPU",
    "DEFAULT_AUTHENTICATION_KIND",
    "DEFAULT_POLLING_INTERVAL_SECONDS",
    "MEMORY",
    "RESOURCE_TRIGGER_TYPES",
    "AuthenticationKind",
    "AuthenticationRef",
    "OptionalMetricType",
    "ScaleTrigger",
    "polling_interval_of",
]

#: Trigger types whose metric comes from metrics.k8s.io (pod resource usage), not a scaler.
CPU: Final = "cpu"
MEMORY: Final = "memory"
RESOURCE_TRIGGER_TYPES: Final = frozenset({CPU, MEMORY})

#: KEDA's ``pollingInterval`` default, for ScaledObjects and ScaledJobs alike.
DEFAULT_POLLING_INTERVAL_SECONDS: Final = 30


def polling_interval_of(spec: object) -> int:
    """``spec.pollingInterval`` of an object's JSON *spec*, valid or not: the value when it
    is a whole number of at least one second, else the default.

    The controllers' schedules read it: scheduling must not cost a parse (thousands of objects
    are scheduled at once when the operator starts), and an object that fails validation is
    still polled (to report why, and to pick up a fix). For a valid object it is the number
    the model resolves (:attr:`podscaler.api.scaledobject.ScalingSpec.polling_interval_seconds`,
    ``ScaledJobSpec.resolved()``); a test holds the two together.
    """
    value = spec.get("pollingInterval") if isinstance(spec, Mapping) else None
    if isinstance(value, int) and value >= 1:
        return value
    return DEFAULT_POLLING_INTERVAL_SECONDS


def _empty_as_unset(value: Any) -> Any:
    """Go's ``omitempty`` makes ``""`` and "not set" the same thing; so do we."""
    return None if value == "" else value


#: An optional metric type field; an empty string means unset (the default, AverageValue).
OptionalMetricType = Annotated[MetricTargetType | None, BeforeValidator(_empty_as_unset)]


AuthenticationKind = Literal["TriggerAuthentication", "ClusterTriggerAuthentication"]
#: ``authenticationRef.kind`` when unset.
DEFAULT_AUTHENTICATION_KIND: Final[AuthenticationKind] = "TriggerAuthentication"


class AuthenticationRef(SpecModel):
    """Reference to the (Cluster)TriggerAuthentication that holds the trigger's credentials."""

    name: str = Field(min_length=1, description="Name of the TriggerAuthentication.")
    kind: AuthenticationKind | None = Field(
        default=None,
        description="TriggerAuthentication (default) or ClusterTriggerAuthentication.",
    )

    @property
    def effective_kind(self) -> AuthenticationKind:
        return self.kind or DEFAULT_AUTHENTICATION_KIND


# The one model of a trigger: the custom resources validate it, the controllers build scalers
# from it, and every scaler parses its metadata from it. Unset stays unset (name, metricType):
# each trigger type applies KEDA's defaults for itself. (Its docstring is the CRDs'
# description of a trigger.)
class ScaleTrigger(SpecModel):
    """One event source the object scales on."""

    type: str = Field(
        min_length=1,
        description="Scaler name, e.g. cpu, memory, cron, prometheus, aws-sqs-queue, kafka.",
    )
    name: str | None = Field(
        default=None,
        description=(
            "Name unique within the object; needed to use the trigger in "
            "scalingModifiers.formula, and the scaler label of metrics and Events."
        ),
    )
    use_cached_metrics: bool | None = Field(
        default=None,
        description=(
            "Answer metric requests from the value of the last poll instead of querying the "
            "source again (default false; not for cpu, memory, cron)."
        ),
    )
    metadata: dict[str, str] = Field(
        description="Scaler parameters; all values are strings (quote numbers in YAML)."
    )
    authentication_ref: AuthenticationRef | None = Field(
        default=None, description="Where the scaler's credentials come from."
    )
    metric_type: OptionalMetricType = Field(
        default=None,
        description=(
            "Target type of the metric: AverageValue (default), Value, or Utilization "
            "(cpu and memory only)."
        ),
    )

    @property
    def is_resource_trigger(self) -> bool:
        """True for cpu and memory, whose values the metrics API reads from pods."""
        return self.type in RESOURCE_TRIGGER_TYPES

    @property
    def effective_metric_type(self) -> MetricTargetType:
        """The metric type with KEDA's default applied (AverageValue)."""
        return self.metric_type or MetricTargetType.AVERAGE_VALUE
