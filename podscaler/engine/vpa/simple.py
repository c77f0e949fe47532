"""KRR's "simple" strategy, for ``podscaler recommend --strategy simple``.

Robusta KRR's default: the CPU request is a percentile of the raw CPU usage samples (95th by
default, numpy's linear interpolation between the closest ranks), with no CPU limit; the memory
request and limit are the largest working-set sample plus a buffer (15 %). Unlike the VPA
estimator there is no histogram, no decay and no confidence: every sample counts the same, so
the two strategies differ most on young or changing workloads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from podscaler.engine.vpa.amounts import Resources, amount_from_float

__all__ = [
    "DEFAULT_SIMPLE",
    "SimpleRecommendation",
    "SimpleSettings",
    "linear_percentile",
    "simple",
]


@dataclass(frozen=True, slots=True)
class SimpleSettings:
    #: Percentile (0-100) of CPU usage used as the CPU request.
    cpu_percentile: float = 95.0
    #: Added to the peak memory, in percent, for both memory request and limit.
    memory_buffer_percentage: float = 15.0


DEFAULT_SIMPLE: Final = SimpleSettings()


@dataclass(frozen=True, slots=True)
class SimpleRecommendation:
    requests: Resources
    limits: Resources


def linear_percentile(values: Sequence[float], percentile: float) -> float:
    """The *percentile* (0-100) of *values* with linear interpolation (numpy's default)."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * min(max(percentile, 0.0), 100.0) / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def simple(
    cpu_cores: Sequence[float],
    memory_bytes: Sequence[float],
    settings: SimpleSettings = DEFAULT_SIMPLE,
) -> SimpleRecommendation:
    """CPU request = percentile of usage (rounded up to a millicore), no CPU limit; memory request
    = limit = peak plus the buffer (rounded up to a byte). A resource without samples gets no
    recommendation."""
    cpu = (
        amount_from_float(math.ceil(linear_percentile(cpu_cores, settings.cpu_percentile) * 1000))
        if cpu_cores
        else None
    )
    memory = (
        amount_from_float(
            math.ceil(max(memory_bytes) * (1 + settings.memory_buffer_percentage / 100.0))
        )
        if memory_bytes
        else None
    )
    return SimpleRecommendation(Resources(cpu, memory), Resources(None, memory))
