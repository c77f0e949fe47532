"""The scaling engine's vocabulary: plain frozen records for one ScaledObject poll.

The engine does not speak ``podscaler.api``'s pydantic models. The controller maps a
ScaledObject onto :class:`ScalingSpec`, what its scalers returned onto
:class:`TriggerObservation`\\ s, and ``status`` onto :class:`ScalingState`; it writes the
returned :class:`ScalingDecision` back (``/scale``, status, Events, metrics). Keeping the records
plain is what lets the conformance vectors, the simulator and ``podscaler explain`` call the
same functions.

Conventions:

- **Time** is a ``float`` of seconds on one clock chosen by the caller (``loop.time()``, the
  simulator's clock or Unix time), passed in as ``now_seconds``; stored instants end in
  ``_seconds`` and must share that clock. (The same convention as ``engine.hpa``.) The
  controller converts ``status.lastActiveTime`` and ``metadata.creationTimestamp`` to it.
- **Metric values** are plain floats in the metric's own unit (not milli-units); exporting them
  as Kubernetes quantities (milli precision, negatives and NaN as 0) is the metrics API's job.
- **Unset** optional spec fields are ``None``, so KEDA's defaults (which depend on whether a field
  was set at all) can be applied exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from podscaler.api.conditions import Condition, find_condition
from podscaler.api.metrictarget import MetricTargetType

#: KEDA's defaults (``scale_executor.go``, ``withtriggers_types.go``, ``scaledobject_types.go``).
DEFAULT_POLLING_INTERVAL_SECONDS = 30
DEFAULT_COOLDOWN_PERIOD_SECONDS = 300
DEFAULT_INITIAL_COOLDOWN_PERIOD_SECONDS = 0
DEFAULT_MAX_REPLICA_COUNT = 100
DEFAULT_HPA_MIN_REPLICAS = 1

#: The single external metric that replaces all triggers' metrics when a formula is used.
COMPOSITE_METRIC_NAME = "composite-metric"

#: Trigger types whose metric comes from the pods (metrics.k8s.io), never from an external source.
RESOURCE_TRIGGER_TYPES = frozenset({"cpu", "memory"})

_EMPTY: Mapping[str, str] = MappingProxyType({})


class FallbackBehavior(StrEnum):
    """``spec.fallback.behavior``: which replica count a failing metric pretends to ask for."""

    STATIC = "static"
    CURRENT_REPLICAS = "currentReplicas"
    CURRENT_REPLICAS_IF_HIGHER = "currentReplicasIfHigher"
    CURRENT_REPLICAS_IF_LOWER = "currentReplicasIfLower"
    SCALING_MODIFIERS = "scalingModifiers"


class HealthStatus(StrEnum):
    """``status.health[metric].status``."""

    HAPPY = "Happy"
    FAILING = "Failing"


@dataclass(frozen=True)
class FallbackSpec:
    """``spec.fallback``. Fallback engages once a metric failed *more than* ``failure_threshold``
    consecutive times; negative numbers make the whole fallback inert (KEDA's
    ``HasValidFallback``), they are not clamped."""

    failure_threshold: int
    replicas: int
    behavior: FallbackBehavior = FallbackBehavior.STATIC


@dataclass(frozen=True)
class ScalingModifiersSpec:
    """``spec.advanced.scalingModifiers``; strings exactly as in the manifest ("" = unset)."""

    formula: str = ""
    target: str = ""
    activation_target: str = ""
    metric_type: MetricTargetType | None = None

    @property
    def in_use(self) -> bool:
        """KEDA's ``IsUsingModifiers``: any field set at all switches the composite metric on."""
        return bool(self.formula or self.target or self.activation_target or self.metric_type)

    @property
    def effective_metric_type(self) -> MetricTargetType:
        return self.metric_type or MetricTargetType.AVERAGE_VALUE


@dataclass(frozen=True)
class ScalingSpec:
    """What one poll needs from a ScaledObject's ``metadata`` and ``spec``.

    ``trigger_types`` lists ``spec.triggers[].type`` in order; it decides the "only cpu/memory
    triggers ⇒ always active" rule even when a poll produced no observation for some trigger.
    ``annotations`` are ``metadata.annotations`` (the pause annotations are read from them).
    ``created_seconds`` is ``metadata.creationTimestamp`` on the caller's clock; ``None`` means
    "just created" (KEDA then uses now), which matters for ``initialCooldownPeriod``.
    """

    min_replica_count: int | None = None
    max_replica_count: int | None = None
    idle_replica_count: int | None = None
    polling_interval_seconds: int | None = None
    cooldown_period_seconds: int | None = None
    initial_cooldown_period_seconds: int | None = None
    fallback: FallbackSpec | None = None
    scaling_modifiers: ScalingModifiersSpec | None = None
    trigger_types: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    created_seconds: float | None = None

    @property
    def min_replicas(self) -> int:
        """``minReplicaCount`` with KEDA's default of 0."""
        return self.min_replica_count if self.min_replica_count is not None else 0

    @property
    def cooldown_seconds(self) -> int:
        if self.cooldown_period_seconds is not None:
            return self.cooldown_period_seconds
        return DEFAULT_COOLDOWN_PERIOD_SECONDS

    @property
    def initial_cooldown_seconds(self) -> int:
        if self.initial_cooldown_period_seconds is not None:
            return self.initial_cooldown_period_seconds
        return DEFAULT_INITIAL_COOLDOWN_PERIOD_SECONDS

    @property
    def polling_seconds(self) -> int:
        if self.polling_interval_seconds is not None:
            return self.polling_interval_seconds
        return DEFAULT_POLLING_INTERVAL_SECONDS

    @property
    def uses_modifiers(self) -> bool:
        return self.scaling_modifiers is not None and self.scaling_modifiers.in_use

    @property
    def only_resource_triggers(self) -> bool:
        """All triggers are cpu/memory: KEDA then treats the object as always active."""
        return all(t in RESOURCE_TRIGGER_TYPES for t in self.trigger_types)


@dataclass(frozen=True)
class TriggerObservation:
    """What one trigger's scaler returned for one metric on this poll.

    ``metric_name`` is the external metric name (``s0-prometheus``) and keys the health map.
    cpu/memory triggers have no external metric: observe them with ``value=None`` (the HPA part
    reads metrics.k8s.io itself) or leave them out. ``is_active`` is the scaler's own activity
    verdict; when ``None`` the engine derives it as ``value > activation_threshold`` (strictly
    greater, KEDA's rule). ``error`` is the scaler's error message, ``None`` on success.
    ``target`` is the metric's HPA target (averageValue or value, per ``metric_type``).
    """

    metric_name: str
    trigger_type: str = ""
    name: str = ""
    value: float | None = None
    is_active: bool | None = None
    activation_threshold: float = 0.0
    error: str | None = None
    metric_type: MetricTargetType = MetricTargetType.AVERAGE_VALUE
    target: float | None = None

    @property
    def is_resource(self) -> bool:
        return self.trigger_type in RESOURCE_TRIGGER_TYPES

    @property
    def active(self) -> bool:
        """The trigger's activity when it succeeded (cpu/memory always report active)."""
        if self.error is not None:
            return False
        if self.is_active is not None:
            return self.is_active
        if self.is_resource:
            return True
        return self.value is not None and self.value > self.activation_threshold


@dataclass(frozen=True)
class MetricHealth:
    """``status.health[metric]``: consecutive failures and whether the metric is failing now."""

    number_of_failures: int = 0
    status: HealthStatus = HealthStatus.HAPPY


@dataclass(frozen=True)
class ScalingState:
    """What a ScaledObject carries from one poll to the next (its ``status``).

    It survives an operator restart because it lives in the object's status: a restart in the
    middle of a cooldown keeps ``last_active_seconds`` and therefore the cooldown's deadline.
    """

    last_active_seconds: float | None = None
    health: Mapping[str, MetricHealth] = field(default_factory=lambda: MappingProxyType({}))
    original_replica_count: int | None = None
    paused_replica_count: int | None = None
    conditions: tuple[Condition, ...] = ()

    def condition(self, condition_type: str) -> Condition | None:
        return find_condition(self.conditions, condition_type)
