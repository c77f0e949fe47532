"""The scaling engine's own records for one ScaledObject poll.

The engine decides over ``api``'s resolved view of a ScaledObject
(:class:`~podscaler.api.scaledobject.ScalingSpec`: frozen, every KEDA default already applied)
and over the records here: what its scalers returned (:class:`TriggerObservation`) and what the
object carries from poll to poll in its status (:class:`ScalingState`); it returns a
``ScalingDecision`` the controller writes back (``/scale``, status, Events, metrics). Keeping
the records plain is what lets the conformance vectors, the simulator and ``podscaler
explain`` call the same functions.

Conventions:

- **Time** is a ``float`` of seconds on one clock chosen by the caller (``loop.time()``, the
  simulator's clock or Unix time), passed in as ``now_seconds``; stored instants end in
  ``_seconds`` and must share that clock. (The same convention as ``engine.hpa``.) The
  controller converts ``status.lastActiveTime`` and ``metadata.creationTimestamp`` to it.
- **Metric values** are plain floats in the metric's own unit (not milli-units); exporting them
  as Kubernetes quantities (milli precision, negatives and NaN as 0) is the metrics API's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from podscaler.api.conditions import Condition, find_condition
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.scaledobject import HealthStatusType
from podscaler.api.triggers import RESOURCE_TRIGGER_TYPES


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
    status: HealthStatusType = HealthStatusType.HAPPY


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
