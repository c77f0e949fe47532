"""The HPA engine's own vocabulary: small frozen records for what a reconcile pass reads and keeps.

The engine deliberately does not speak ``podscaler.api``'s pydantic models: a controller (or the
simulator, or a conformance adapter) translates whatever it holds into these records, so the
algorithm can be exercised without a cluster, a CRD or a clock.

Conventions that hold for every record here:

- **Time** is a ``float`` of seconds on one clock chosen by the caller (``loop.time()``, the
  simulator's clock, or Unix time), passed in as ``now_seconds`` and stored in ``*_seconds``
  fields. The engine only compares and subtracts instants, so any clock works as long as
  ``now_seconds`` and every stored instant share it. Go's zero ``time.Time`` (an instant older
  than anything) is best represented by a very old but finite instant, because upstream does
  arithmetic on it (``startTime + delay > lastTransitionTime`` holds for two zero times).
- **Quantities** are integers in milli-units, as upstream's ``Quantity.MilliValue()``: CPU in
  millicores, memory in milli-bytes, custom and external metrics times 1000.
- **Replica counts** are plain ints, treated as int32 where upstream saturates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from podscaler.api.conditions import Condition, ConditionStatus
from podscaler.api.hpabehavior import (
    DEFAULT_CPU_UTILIZATION_PERCENT,
    DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
    DEFAULT_HPA_MIN_REPLICAS,
    DEFAULT_TOLERANCE,
    Behavior,
)
from podscaler.api.metrictarget import MetricTargetType

# --------------------------------------------------------------------------------------------
# Controller-wide settings (kube-controller-manager flags)


@dataclass(frozen=True)
class HpaSettings:
    """The controller flags that shape every decision, with upstream's production defaults.

    ``scale_up_limit_factor`` and ``scale_up_limit_minimum`` are upstream package constants
    (2.0 and 4.0) that only apply when an HPA has no ``behavior``; upstream's own controller
    tests run with a factor of 8, which is why they are settings here.
    """

    tolerance: float = DEFAULT_TOLERANCE
    downscale_stabilization_seconds: float = DEFAULT_DOWNSCALE_STABILIZATION_SECONDS
    cpu_initialization_period_seconds: float = 300.0
    initial_readiness_delay_seconds: float = 30.0
    scale_up_limit_factor: float = 2.0
    scale_up_limit_minimum: float = 4.0
    #: KEP-4951 (``HPAConfigurableTolerance``): honour ``behavior.scaleUp/scaleDown.tolerance``.
    configurable_tolerance: bool = True


@dataclass(frozen=True)
class Tolerances:
    """How far the usage ratio may stray from 1.0 before replicas change, per direction.

    Upstream (since 1.33) tests ``(1 - scale_down) <= ratio <= (1 + scale_up)``. The older
    ``abs(1 - ratio) <= tolerance`` differs exactly at the boundary (``abs(1 - 1.1)`` is
    0.10000000000000009), so only this form reproduces upstream.
    """

    scale_up: float = 0.1
    scale_down: float = 0.1

    def within(self, usage_ratio: float) -> bool:
        return (1.0 - self.scale_down) <= usage_ratio <= (1.0 + self.scale_up)


# --------------------------------------------------------------------------------------------
# Pods


class PodPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"


#: Go's zero time (0001-01-01T00:00:00Z) in Unix seconds: far in the past but finite. A pod's
#: Ready condition without a transition time is at this instant, as upstream's pod lister hands
#: it over.
ZERO_TIME_SECONDS: Final = -62135596800.0


@dataclass(frozen=True)
class ContainerRequests:
    """Requests of one container that counts for the pod's total.

    Pass the pod's regular containers and its restartable init containers (sidecars with
    ``restartPolicy: Always``); upstream sums exactly those. A resource absent from
    ``requests_milli`` means the container sets no request for it.
    """

    name: str
    requests_milli: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PodFacts:
    """What the HPA needs to know about one pod selected by the target's scale selector.

    ``ready`` is the pod's ``Ready`` condition (``None`` when the pod has none); its
    ``last_transition_seconds`` is set (Go's zero time when the pod's is missing).
    """

    name: str
    phase: PodPhase = PodPhase.RUNNING
    ready: Condition | None = None
    start_time_seconds: float | None = None
    deleting: bool = False
    containers: tuple[ContainerRequests, ...] = ()
    #: Pod-level requests (KEP-2837, ``PodLevelResources``); used when set and no container is
    #: named by the metric.
    pod_requests_milli: Mapping[str, int] | None = None

    @property
    def is_ready(self) -> bool:
        return self.ready is not None and self.ready.status is ConditionStatus.TRUE

    @property
    def ready_since_seconds(self) -> float:
        """When the Ready condition last changed (Go's zero time when unknown)."""
        if self.ready is None or self.ready.last_transition_seconds is None:
            return ZERO_TIME_SECONDS
        return self.ready.last_transition_seconds


# --------------------------------------------------------------------------------------------
# Metric samples, as a controller fetched them for one metric spec


@dataclass(frozen=True)
class PodSample:
    """One pod's value of a per-pod metric, with the sample's instant and window."""

    pod: str
    value_milli: int
    timestamp_seconds: float = 0.0
    window_seconds: float = 0.0


@dataclass(frozen=True)
class PodResourceUsage:
    """One pod's entry from ``metrics.k8s.io``: usage per container, per resource name."""

    pod: str
    containers: Mapping[str, Mapping[str, int]]
    timestamp_seconds: float = 0.0
    window_seconds: float = 0.0


@dataclass(frozen=True)
class ResourceReading:
    """The resource metrics API's answer for the target's pods."""

    pods: tuple[PodResourceUsage, ...]


@dataclass(frozen=True)
class PodsReading:
    """The custom metrics API's per-pod values of a Pods metric."""

    samples: tuple[PodSample, ...]


@dataclass(frozen=True)
class ObjectReading:
    """The custom metrics API's value of an Object metric."""

    value_milli: int


@dataclass(frozen=True)
class ExternalReading:
    """The external metrics API's series for an External metric (upstream sums them)."""

    values_milli: tuple[int, ...]


@dataclass(frozen=True)
class ReadingError:
    """The metric could not be fetched; ``message`` says why (it reaches the condition)."""

    message: str


MetricReading = ResourceReading | PodsReading | ObjectReading | ExternalReading | ReadingError


# --------------------------------------------------------------------------------------------
# Metric specs (autoscaling/v2 ``spec.metrics[]``)


@dataclass(frozen=True)
class MetricTarget:
    """A metric's target. Upstream reads the fields, not only ``type``: see each calculator."""

    type: MetricTargetType
    average_utilization: int | None = None
    average_value_milli: int | None = None
    value_milli: int | None = None


@dataclass(frozen=True)
class ResourceMetric:
    """``type: Resource`` (or ``ContainerResource`` when ``container`` is set)."""

    resource: str
    target: MetricTarget
    container: str | None = None


@dataclass(frozen=True)
class PodsMetric:
    metric_name: str
    target: MetricTarget


@dataclass(frozen=True)
class ObjectRef:
    kind: str
    name: str
    api_version: str = ""


@dataclass(frozen=True)
class ObjectMetric:
    metric_name: str
    described_object: ObjectRef
    target: MetricTarget
    #: The metric's label selector, rendered as text; only used in descriptions.
    selector: str = ""


@dataclass(frozen=True)
class ExternalMetric:
    metric_name: str
    target: MetricTarget
    #: The metric's label selector, rendered as text; only used in descriptions.
    selector: str = ""


@dataclass(frozen=True)
class UnknownMetric:
    """A metric source type the engine does not know (``InvalidMetricSourceType``)."""

    source_type: str


MetricSpec = ResourceMetric | PodsMetric | ObjectMetric | ExternalMetric | UnknownMetric

#: Upstream's default when ``spec.metrics`` is empty: cpu at 80 % of requests.
DEFAULT_METRICS: tuple[MetricSpec, ...] = (
    ResourceMetric(
        "cpu",
        MetricTarget(
            MetricTargetType.UTILIZATION, average_utilization=DEFAULT_CPU_UTILIZATION_PERCENT
        ),
    ),
)


# --------------------------------------------------------------------------------------------
# History the controller keeps between passes (upstream keeps it in memory, per HPA key)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One pass's un-stabilized desired replica count, and when it was made."""

    replicas: int
    at_seconds: float


@dataclass(frozen=True, slots=True)
class ScaleEvent:
    """A successful rescale: ``replica_change`` is positive in both directions.

    ``outdated`` is sticky: once an event is older than the direction's longest policy
    period it is marked, and the next event of that direction may overwrite it.
    """

    replica_change: int
    at_seconds: float
    outdated: bool = False


@dataclass(frozen=True, slots=True)
class HpaHistory:
    """Everything one HPA remembers between passes.

    ``recommendations=None`` means the controller has no history for this HPA (a new HPA or a
    restarted controller): the first pass seeds it with the current replica count, which is
    why upstream cannot scale below the count it found for one stabilization window.
    """

    recommendations: tuple[Recommendation, ...] | None = None
    scale_up_events: tuple[ScaleEvent, ...] = ()
    scale_down_events: tuple[ScaleEvent, ...] = ()


# --------------------------------------------------------------------------------------------
# Spec and observation for one reconcile pass


@dataclass(frozen=True)
class HpaSpec:
    max_replicas: int
    min_replicas: int = DEFAULT_HPA_MIN_REPLICAS
    metrics: tuple[MetricSpec, ...] = DEFAULT_METRICS
    behavior: Behavior | None = None


@dataclass(frozen=True)
class SelectorProblem:
    """The controller found the scale selector unusable (``InvalidSelector`` or
    ``AmbiguousSelector``); the engine turns it into the condition and does not scale."""

    reason: str
    message: str


@dataclass(frozen=True)
class Observed:
    """What the controller read this pass.

    ``readings`` line up with ``spec.metrics`` (index for index). ``previous_conditions`` and
    ``previous_desired_replicas`` come from the HPA's current status: conditions are updated in
    place (keeping order and transition times) and a failed pass keeps the old desired count.
    """

    spec_replicas: int
    status_replicas: int
    pods: tuple[PodFacts, ...] = ()
    readings: tuple[MetricReading, ...] = ()
    previous_conditions: tuple[Condition, ...] = ()
    previous_desired_replicas: int | None = None
    selector_problem: SelectorProblem | None = None


# --------------------------------------------------------------------------------------------
# Conditions


class ConditionType(StrEnum):
    ABLE_TO_SCALE = "AbleToScale"
    SCALING_ACTIVE = "ScalingActive"
    SCALING_LIMITED = "ScalingLimited"
