"""From a container's history to three numbers per resource: target, lower and upper bound.

The chain is upstream's, stage by stage, each truncating to whole millicores or bytes:

1. **percentile** of the histogram (CPU usage, memory peaks): target p90, lower p50, upper p95;
2. **safety margin**: ``x + int(x * 0.15)`` (the margin truncated on its own);
3. **confidence multiplier**, from how much history there is (``confidence`` in days):
   lower bound ``x * (1 + 0.001/confidence) ** -2`` (≈ 0.6 after 5 minutes, → 1), upper bound
   ``x * (1 + 1/confidence)`` (∞ with no history, 2x after a day, 1.14x after a week);
4. **minimum**: at least the pod minimum (25m CPU, 250 MiB) divided by the number of
   containers being recommended for.

:func:`estimate_container` runs the chain and also returns the intermediate values, because
``podscaler explain`` shows them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

from podscaler.engine.vpa.aggregates import DAY_SECONDS, AggregateContainerState
from podscaler.engine.vpa.amounts import (
    MAX_RESOURCE_AMOUNT,
    Resources,
    amount_from_float,
    cpu_millicores_from_cores,
    scale_amount,
)

__all__ = [
    "DEFAULT_ESTIMATION",
    "BoundEstimate",
    "ContainerEstimate",
    "EstimationSettings",
    "confidence",
    "confidence_factor",
    "estimate_container",
    "per_container_minimum",
    "percentile_estimate",
    "with_confidence",
    "with_margin",
    "with_minimum",
]

_MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class EstimationSettings:
    """The recommender's estimation flags, with upstream's defaults."""

    target_cpu_percentile: float = 0.9
    target_memory_percentile: float = 0.9
    lower_bound_cpu_percentile: float = 0.5
    lower_bound_memory_percentile: float = 0.5
    upper_bound_cpu_percentile: float = 0.95
    upper_bound_memory_percentile: float = 0.95
    #: ``--recommendation-margin-fraction``.
    safety_margin_fraction: float = 0.15
    #: ``--pod-recommendation-min-cpu-millicores``.
    pod_min_cpu_millicores: float = 25.0
    #: ``--pod-recommendation-min-memory-mb`` (MiB).
    pod_min_memory_mb: float = 250.0
    #: ``--confidence-interval-cpu`` / ``-memory``: history of this length gives confidence 1.
    confidence_interval_seconds: float = DAY_SECONDS
    lower_bound_multiplier: float = 0.001
    lower_bound_exponent: float = -2.0
    upper_bound_multiplier: float = 1.0
    upper_bound_exponent: float = 1.0


DEFAULT_ESTIMATION: Final = EstimationSettings()


def confidence(state: AggregateContainerState, interval_seconds: float = DAY_SECONDS) -> float:
    """How much history there is, in intervals: ``min(span / interval, samples / minutes)``.

    A steady stream of one CPU sample a minute for N days gives N (with the 24 h interval).
    Only CPU samples count, as upstream.
    """
    span = state.sample_span_seconds() / interval_seconds
    samples = state.total_samples_count / (interval_seconds / 60.0)
    return min(span, samples)


def confidence_factor(confidence_value: float, multiplier: float, exponent: float) -> float:
    """``(1 + multiplier / confidence) ** exponent``; no confidence gives ∞ or 0 (as IEEE)."""
    if confidence_value == 0.0:
        if multiplier == 0.0:
            base = float("nan")
        else:
            base = float("inf") if multiplier > 0 else float("-inf")
    else:
        base = 1.0 + multiplier / confidence_value
    try:
        return math.pow(base, exponent)
    except OverflowError:
        return float("inf")
    except ValueError:  # a negative base to a fractional power: no real answer
        return float("nan")


class _Percentiles(Protocol):
    def percentile(self, percentile: float) -> float: ...


def percentile_estimate(
    cpu_usage: _Percentiles,
    memory_peaks: _Percentiles,
    cpu_percentile: float,
    memory_percentile: float,
) -> Resources:
    """The percentile stage alone: whole millicores and bytes read from the two histograms."""
    return Resources(
        cpu_millicores_from_cores(cpu_usage.percentile(cpu_percentile)),
        amount_from_float(memory_peaks.percentile(memory_percentile)),
    )


def with_margin(amount: int, fraction: float) -> int:
    return amount + scale_amount(amount, fraction)


def with_confidence(
    amount: int, confidence_value: float, multiplier: float, exponent: float
) -> int:
    return scale_amount(amount, confidence_factor(confidence_value, multiplier, exponent))


def with_minimum(amount: int, minimum: int) -> int:
    return max(amount, minimum)


@functools.lru_cache(maxsize=64)
def per_container_minimum(settings: EstimationSettings, containers: int) -> Resources:
    """The pod minimum split evenly over *containers*, each share truncated (25m/2 → 12m)."""
    fraction = 1.0 / containers
    cpu = scale_amount(cpu_millicores_from_cores(settings.pod_min_cpu_millicores * 0.001), fraction)
    memory = scale_amount(amount_from_float(settings.pod_min_memory_mb * _MIB), fraction)
    return Resources(cpu, memory)


class BoundEstimate(NamedTuple):
    """One of target / lower / upper for one resource, stage by stage (``podscaler explain``)."""

    percentile: float
    #: The histogram's answer: cores for CPU, bytes for memory.
    histogram_value: float
    from_percentile: int
    with_margin: int
    with_confidence: int
    final: int
    #: True when the per-container minimum raised the value.
    raised_to_minimum: bool


_BOUNDS: Final = ("target", "lowerBound", "upperBound")
_MAX_AMOUNT: Final = float(MAX_RESOURCE_AMOUNT)


def _chain(
    raw: float, is_cpu: bool, margin: float, factor: float | None, floor: int
) -> tuple[int, int, int, int]:
    """percentile value → whole amount → margin → confidence factor → floor."""
    value = raw * 1000.0 if is_cpu else raw
    base = int(value) if 0.0 <= value <= _MAX_AMOUNT else amount_from_float(value)
    extra = base * margin
    margined = base + (int(extra) if 0.0 <= extra <= _MAX_AMOUNT else amount_from_float(extra))
    confident = margined if factor is None else scale_amount(margined, factor)
    return base, margined, confident, confident if confident >= floor else floor


@dataclass(frozen=True, slots=True)
class ContainerEstimate:
    """The estimator's answer for one container, before any resource policy."""

    target: Resources
    lower_bound: Resources
    upper_bound: Resources
    confidence: float
    sample_span_seconds: float
    total_samples_count: int
    minimum: Resources
    #: Histogram answers for target, lower, upper: CPU in cores, memory in bytes.
    cpu_percentile_values: tuple[float, float, float]
    memory_percentile_values: tuple[float, float, float]
    settings: EstimationSettings

    def stages(self) -> dict[tuple[str, str], BoundEstimate]:
        """``(resource, bound)`` → each stage of the chain; bound is ``target``,
        ``lowerBound`` or ``upperBound``. Recomputed on demand (explaining is rare)."""
        settings = self.settings
        factors = _factors(self.confidence, settings)
        percentiles = {
            "cpu": (
                settings.target_cpu_percentile,
                settings.lower_bound_cpu_percentile,
                settings.upper_bound_cpu_percentile,
            ),
            "memory": (
                settings.target_memory_percentile,
                settings.lower_bound_memory_percentile,
                settings.upper_bound_memory_percentile,
            ),
        }
        stages: dict[tuple[str, str], BoundEstimate] = {}
        for resource, values, floor in (
            ("cpu", self.cpu_percentile_values, self.minimum.cpu_millicores or 0),
            ("memory", self.memory_percentile_values, self.minimum.memory_bytes or 0),
        ):
            for index, bound in enumerate(_BOUNDS):
                base, margined, confident, final = _chain(
                    values[index],
                    resource == "cpu",
                    settings.safety_margin_fraction,
                    factors[index],
                    floor,
                )
                stages[(resource, bound)] = BoundEstimate(
                    percentiles[resource][index],
                    values[index],
                    base,
                    margined,
                    confident,
                    final,
                    final > confident,
                )
        return stages


def _factors(conf: float, settings: EstimationSettings) -> tuple[None, float, float]:
    return (
        None,
        confidence_factor(conf, settings.lower_bound_multiplier, settings.lower_bound_exponent),
        confidence_factor(conf, settings.upper_bound_multiplier, settings.upper_bound_exponent),
    )


def estimate_container(
    state: AggregateContainerState,
    minimum: Resources,
    settings: EstimationSettings = DEFAULT_ESTIMATION,
) -> ContainerEstimate:
    """Run percentile → margin → confidence → minimum for CPU and memory."""
    conf = confidence(state, settings.confidence_interval_seconds)
    cpu_values = state.cpu_usage.histogram.percentiles(
        (
            settings.target_cpu_percentile,
            settings.lower_bound_cpu_percentile,
            settings.upper_bound_cpu_percentile,
        )
    )
    memory_values = state.memory_peaks.histogram.percentiles(
        (
            settings.target_memory_percentile,
            settings.lower_bound_memory_percentile,
            settings.upper_bound_memory_percentile,
        )
    )
    factors = _factors(conf, settings)
    margin = settings.safety_margin_fraction
    cpu_floor, memory_floor = minimum.cpu_millicores or 0, minimum.memory_bytes or 0
    cpu = [_chain(cpu_values[i], True, margin, factors[i], cpu_floor)[3] for i in range(3)]
    memory = [
        _chain(memory_values[i], False, margin, factors[i], memory_floor)[3] for i in range(3)
    ]
    return ContainerEstimate(
        target=Resources(cpu[0], memory[0]),
        lower_bound=Resources(cpu[1], memory[1]),
        upper_bound=Resources(cpu[2], memory[2]),
        confidence=conf,
        sample_span_seconds=state.sample_span_seconds(),
        total_samples_count=state.total_samples_count,
        minimum=minimum,
        cpu_percentile_values=(cpu_values[0], cpu_values[1], cpu_values[2]),
        memory_percentile_values=(memory_values[0], memory_values[1], memory_values[2]),
        settings=settings,
    )
