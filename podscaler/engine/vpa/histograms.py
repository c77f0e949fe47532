"""The VPA recommender's histograms: bucket schemes, the plain histogram and its checkpoint.

A histogram here is a weighted count of samples per bucket, read back as a percentile. Three
upstream details decide the numbers and are kept exactly:

- **Buckets** (:class:`HistogramOptions`): linear (tests only) or exponential, where bucket *b*
  starts at ``first * (r**b - 1) / (r - 1)``. Production uses ratio 1.05 from 0.01 cores to 1000
  cores and from 1e7 to 1e12 bytes: 176 buckets each, every bucket 5 % wider than the previous.
- **Percentile = the upper edge** of the bucket where the running weight first reaches
  ``p * total``; never interpolated. A constant 0.5-core load therefore reads as 0.5111 cores.
- **Epsilon**: a bucket lighter than epsilon (1e-4) counts as empty for the min/max bucket
  bookkeeping, and subtraction that would leave less than epsilon leaves exactly zero. Weights
  outside ``[min_bucket, max_bucket]`` may hold such crumbs; upstream keeps them (they are not
  scaled by decay re-basing but still count in the total), and so does this module.

Weights live in an ``array('d')`` per histogram (1.4 KB at 176 buckets), so fifty thousand
containers' histograms fit in about 150 MB.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Final

__all__ = [
    "CPU_HISTOGRAM_OPTIONS",
    "MAX_CHECKPOINT_WEIGHT",
    "MEMORY_HISTOGRAM_OPTIONS",
    "CheckpointError",
    "Histogram",
    "HistogramCheckpoint",
    "HistogramOptions",
]

#: Bucket weights in a checkpoint are scaled so the heaviest bucket stores this value.
MAX_CHECKPOINT_WEIGHT: Final = 10000


class CheckpointError(ValueError):
    """A histogram checkpoint cannot be loaded; the message says why."""


@dataclass(frozen=True, slots=True)
class HistogramOptions:
    """A bucket scheme. Build with :meth:`linear` or :meth:`exponential`.

    ``ratio == 0`` marks the linear scheme (``first_bucket_size`` is then the bucket size).
    """

    num_buckets: int
    first_bucket_size: float
    ratio: float
    epsilon: float
    _log_ratio: float = field(default=0.0, repr=False, compare=False)
    _starts: tuple[float, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def linear(cls, max_value: float, bucket_size: float, epsilon: float) -> HistogramOptions:
        """Buckets of ``bucket_size`` from 0 up to and including the one holding ``max_value``."""
        if max_value <= 0 or bucket_size <= 0 or epsilon <= 0:
            raise ValueError("maxValue, bucketSize and epsilon must all be positive")
        num_buckets = math.ceil(max_value / bucket_size) + 1
        starts = tuple(float(bucket) * bucket_size for bucket in range(num_buckets))
        return cls(num_buckets, bucket_size, 0.0, epsilon, 0.0, starts)

    @classmethod
    def exponential(
        cls, max_value: float, first_bucket_size: float, ratio: float, epsilon: float
    ) -> HistogramOptions:
        """Bucket *b* ≥ 1 starts at ``first * (ratio**b - 1) / (ratio - 1)``; bucket 0 at 0."""
        if max_value <= 0 or first_bucket_size <= 0 or ratio <= 1 or epsilon <= 0:
            raise ValueError(
                "maxValue, firstBucketSize and epsilon must be positive and ratio above 1"
            )
        log_ratio = math.log(ratio)
        num_buckets = (
            math.ceil(math.log(max_value * (ratio - 1) / first_bucket_size + 1) / log_ratio) + 1
        )
        starts = tuple(
            0.0 if bucket == 0 else first_bucket_size * (math.pow(ratio, bucket) - 1) / (ratio - 1)
            for bucket in range(num_buckets)
        )
        return cls(num_buckets, first_bucket_size, ratio, epsilon, log_ratio, starts)

    @property
    def is_linear(self) -> bool:
        return self.ratio == 0.0

    def find_bucket(self, value: float) -> int:
        """The bucket *value* falls in (values below the first edge in 0, above the last in the
        last)."""
        if self.is_linear:
            bucket = int(value / self.first_bucket_size)
            if bucket < 0:
                return 0
        else:
            if value < self.first_bucket_size:
                return 0
            bucket = int(
                math.log(value * (self.ratio - 1) / self.first_bucket_size + 1) / self._log_ratio
            )
        return min(bucket, self.num_buckets - 1)

    def bucket_start(self, bucket: int) -> float:
        if not 0 <= bucket < self.num_buckets:
            raise IndexError(f"bucket {bucket} outside 0..{self.num_buckets - 1}")
        return self._starts[bucket]


#: CPU usage in cores: 0.01 to 1000, ratio 1.05, epsilon 1e-4 (0.001 * min sample weight 0.1).
CPU_HISTOGRAM_OPTIONS: Final = HistogramOptions.exponential(1000.0, 0.01, 1.05, 1e-4)
#: Memory peaks in bytes: 1e7 (10 MB) to 1e12 (1 TB), ratio 1.05, epsilon 1e-4.
MEMORY_HISTOGRAM_OPTIONS: Final = HistogramOptions.exponential(1e12, 1e7, 1.05, 1e-4)


@dataclass(frozen=True, slots=True)
class HistogramCheckpoint:
    """A histogram as upstream's ``HistogramCheckpoint`` stores it.

    ``bucket_weights`` are integers scaled so the heaviest bucket holds 10000 (zeros left out);
    ``total_weight`` is exact. ``reference_seconds`` is the decaying histogram's reference
    instant (Unix seconds), ``None`` for a plain histogram or one that never saw a sample.
    """

    total_weight: float = 0.0
    bucket_weights: Mapping[int, int] = field(default_factory=dict)
    reference_seconds: float | None = None


class Histogram:
    """Upstream's plain histogram: weights per bucket, a total, and the min/max non-empty
    buckets (empty meaning lighter than epsilon)."""

    __slots__ = ("_max_bucket", "_min_bucket", "_total_weight", "_weights", "options")

    def __init__(self, options: HistogramOptions) -> None:
        self.options = options
        self._weights = array("d", bytes(8 * options.num_buckets))
        self._total_weight = 0.0
        self._min_bucket = options.num_buckets - 1
        self._max_bucket = 0

    # ------------------------------------------------------------------ reading

    @property
    def total_weight(self) -> float:
        return self._total_weight

    @property
    def min_bucket(self) -> int:
        return self._min_bucket

    @property
    def max_bucket(self) -> int:
        return self._max_bucket

    def bucket_weight(self, bucket: int) -> float:
        return self._weights[bucket]

    def bucket_weights(self) -> dict[int, float]:
        """Every bucket with a non-zero weight (crumbs below epsilon included)."""
        return {bucket: weight for bucket, weight in enumerate(self._weights) if weight != 0.0}

    def is_empty(self) -> bool:
        return self._weights[self._min_bucket] < self.options.epsilon

    def percentile(self, percentile: float) -> float:
        """The upper edge of the bucket where the cumulative weight reaches ``p * total``."""
        return self.percentiles((percentile,))[0]

    def percentiles(self, wanted: Sequence[float]) -> tuple[float, ...]:
        """Several percentiles in one pass over the buckets (same answers as one at a time).

        The running sums are accumulated left to right exactly as upstream's loop does, so the
        first bucket reaching a threshold is the same bucket upstream stops at.
        """
        weights, low, high = self._weights, self._min_bucket, self._max_bucket
        if weights[low] < self.options.epsilon:  # empty
            return tuple(0.0 for _ in wanted)
        # Upstream stops at max_bucket whatever the sum, so only [min, max) needs sums.
        running = list(accumulate(weights[low:high]))
        starts, last, total = self.options._starts, self.options.num_buckets - 1, self._total_weight
        answers = []
        for percentile in wanted:
            bucket = low + bisect_left(running, percentile * total)
            answers.append(starts[bucket + 1 if bucket < last else bucket])
        return tuple(answers)

    # ------------------------------------------------------------------ writing

    def add_sample(self, value: float, weight: float) -> None:
        if weight < 0.0:
            raise ValueError(f"sample weight must not be negative, got {weight}")
        bucket = self.options.find_bucket(value)
        self._add_to_bucket(bucket, weight)

    def _add_to_bucket(self, bucket: int, weight: float) -> None:
        weights = self._weights
        weights[bucket] += weight
        self._total_weight += weight
        if weights[bucket] >= self.options.epsilon:
            if bucket < self._min_bucket:
                self._min_bucket = bucket
            if bucket > self._max_bucket:
                self._max_bucket = bucket

    def subtract_sample(self, value: float, weight: float) -> None:
        if weight < 0.0:
            raise ValueError(f"sample weight must not be negative, got {weight}")
        epsilon = self.options.epsilon
        bucket = self.options.find_bucket(value)
        remaining = self._weights[bucket] - weight
        self._weights[bucket] = 0.0 if remaining < epsilon else remaining
        total = self._total_weight - weight
        self._total_weight = 0.0 if total < epsilon else total
        self._update_min_max()

    def merge(self, other: Histogram) -> None:
        """Add *other*'s weights (its min..max buckets, as upstream) into this histogram."""
        if other.options != self.options:
            raise ValueError("cannot merge histograms with different bucket options")
        weights, theirs = self._weights, other._weights
        for bucket in range(other._min_bucket, other._max_bucket + 1):
            weights[bucket] += theirs[bucket]
        self._total_weight += other._total_weight
        self._min_bucket = min(self._min_bucket, other._min_bucket)
        self._max_bucket = max(self._max_bucket, other._max_bucket)

    def scale(self, factor: float) -> None:
        """Multiply the weights of min..max (and the total) by *factor*; crumbs drop out."""
        if factor < 0.0:
            raise ValueError(f"scale factor must not be negative, got {factor}")
        weights = self._weights
        for bucket in range(self._min_bucket, self._max_bucket + 1):
            weights[bucket] *= factor
        self._total_weight *= factor
        self._update_min_max()

    def _update_min_max(self) -> None:
        epsilon, weights = self.options.epsilon, self._weights
        last = self.options.num_buckets - 1
        while weights[self._min_bucket] < epsilon and self._min_bucket < last:
            self._min_bucket += 1
        while weights[self._max_bucket] < epsilon and self._max_bucket > 0:
            self._max_bucket -= 1

    def copy(self) -> Histogram:
        twin = Histogram(self.options)
        twin._weights = array("d", self._weights)
        twin._total_weight = self._total_weight
        twin._min_bucket = self._min_bucket
        twin._max_bucket = self._max_bucket
        return twin

    # ------------------------------------------------------------------ checkpoints

    def save(self) -> HistogramCheckpoint:
        """``SaveToChekpoint``: weights scaled to 10000 at the heaviest bucket, rounded half up,
        zeros dropped; the total kept exactly."""
        weights = self._weights
        span = range(self._min_bucket, self._max_bucket + 1)
        heaviest = max((weights[bucket] for bucket in span), default=0.0)
        stored: dict[int, int] = {}
        if heaviest > 0.0:
            ratio = MAX_CHECKPOINT_WEIGHT / heaviest
            for bucket in span:
                value = math.floor(weights[bucket] * ratio + 0.5)
                if value > 0:
                    stored[bucket] = value
        return HistogramCheckpoint(total_weight=self._total_weight, bucket_weights=stored)

    def load(self, checkpoint: HistogramCheckpoint) -> None:
        """``LoadFromCheckpoint``: add the stored weights, rescaled so they sum to the total.

        Raises :class:`CheckpointError` on a negative total or weight, or a bucket outside the
        scheme, before changing anything. A checkpoint whose weights sum to zero loads nothing.
        """
        if checkpoint.total_weight < 0.0 or checkpoint.total_weight != checkpoint.total_weight:
            raise CheckpointError(f"negative total weight {checkpoint.total_weight}")
        stored_sum = 0
        for bucket, weight in checkpoint.bucket_weights.items():
            if not 0 <= bucket < self.options.num_buckets:
                raise CheckpointError(
                    f"bucket {bucket} outside 0..{self.options.num_buckets - 1} in checkpoint"
                )
            if weight < 0 or weight > 0xFFFFFFFF:
                raise CheckpointError(f"bucket {bucket} has weight {weight}, not a uint32")
            stored_sum += weight
        if stored_sum == 0:
            return
        ratio = checkpoint.total_weight / float(stored_sum)
        for bucket, weight in checkpoint.bucket_weights.items():
            self._min_bucket = min(self._min_bucket, bucket)
            self._max_bucket = max(self._max_bucket, bucket)
            self._weights[bucket] += float(weight) * ratio
        self._total_weight += checkpoint.total_weight
        # Rescaling can leave a bucket that was just above epsilon just below it (a weight of
        # 1 next to MaxCheckpointWeight); as the minimum bucket that would make the whole
        # histogram read as empty (kubernetes/autoscaler#7726), so the ends move past crumbs.
        self._update_min_max()
