"""The decaying histogram: recent samples weigh more, with a half-life (24 h for CPU and memory).

Rather than shrinking every old weight as time passes, a sample at ``t`` is added with weight
``w * 2**((t - reference) / half_life)``: newer samples get exponentially larger weights, which
is the same ratio as old ones decaying. To keep those factors finite, the reference instant moves
forward ("re-basing") when a sample lands more than 100 half-lives after it: the new reference is
the sample time rounded to the half-life, and every weight is scaled down by the whole number of
half-lives moved. Absolute weights therefore depend on the reference, which matters for the
epsilon cut-offs and is why checkpoints store it.

Times are Unix seconds (floats). The reference starts at Go's zero time (0001-01-01T00:00:00Z),
and differences are saturated at ±292 years as Go's ``time.Duration`` does, so the first sample
always re-bases from there exactly as upstream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from podscaler.engine.vpa.histograms import Histogram, HistogramCheckpoint, HistogramOptions

__all__ = [
    "GO_ZERO_TIME_SECONDS",
    "MAX_DECAY_EXPONENT",
    "DecayingHistogram",
    "go_duration_seconds",
    "round_to_multiple",
]

#: Go's zero ``time.Time`` in Unix seconds.
GO_ZERO_TIME_SECONDS: Final = -62_135_596_800.0
_GO_ZERO_TIME_NS: Final = -62_135_596_800 * 1_000_000_000
#: A sample more than this many half-lives after the reference re-bases the histogram.
MAX_DECAY_EXPONENT: Final = 100
#: ``time.Duration`` saturates at ±(2**63 - 1) nanoseconds.
_MAX_DURATION_SECONDS: Final = (2**63 - 1) / 1e9


def go_duration_seconds(later: float, earlier: float) -> float:
    """``later.Sub(earlier)`` in seconds, saturated as Go's ``Time.Sub`` is."""
    return max(-_MAX_DURATION_SECONDS, min(_MAX_DURATION_SECONDS, later - earlier))


def _nanoseconds(seconds: float) -> int:
    whole = math.floor(seconds)
    return whole * 1_000_000_000 + round((seconds - whole) * 1e9)


def round_to_multiple(instant: float, step: float) -> float:
    """``Time.Round(step)``: the nearest multiple of *step* since Go's zero time, halves up.

    Computed in integer nanoseconds as Go does: in float seconds, the ~6.4e10 s since year 1
    would leave only microsecond precision.
    """
    step_ns = _nanoseconds(step)
    if step_ns <= 0:
        return instant
    instant_ns = _nanoseconds(instant)
    remainder = (instant_ns - _GO_ZERO_TIME_NS) % step_ns
    rounded = (
        instant_ns - remainder
        if remainder + remainder < step_ns
        else instant_ns + (step_ns - remainder)
    )
    return rounded // 1_000_000_000 + (rounded % 1_000_000_000) / 1e9


class DecayingHistogram:
    """A :class:`Histogram` whose samples decay with ``half_life_seconds``."""

    __slots__ = ("half_life_seconds", "histogram", "reference_seconds")

    def __init__(self, options: HistogramOptions, half_life_seconds: float) -> None:
        if half_life_seconds <= 0:
            raise ValueError(f"half-life must be positive, got {half_life_seconds}")
        self.histogram = Histogram(options)
        self.half_life_seconds = float(half_life_seconds)
        self.reference_seconds = GO_ZERO_TIME_SECONDS

    @property
    def options(self) -> HistogramOptions:
        return self.histogram.options

    def is_empty(self) -> bool:
        return self.histogram.is_empty()

    def percentile(self, percentile: float) -> float:
        return self.histogram.percentile(percentile)

    def percentiles(self, wanted: Sequence[float]) -> tuple[float, ...]:
        return self.histogram.percentiles(wanted)

    def decay_factor(self, time_seconds: float) -> float:
        """The multiplier for a sample at *time_seconds*, re-basing first if it is too far ahead.

        Upstream compares with ``Time.After``, so re-basing needs the sample to be strictly more
        than 100 half-lives past the reference.
        """
        horizon = self.reference_seconds + MAX_DECAY_EXPONENT * self.half_life_seconds
        if time_seconds > horizon:
            self._shift_reference(time_seconds)
        exponent = go_duration_seconds(time_seconds, self.reference_seconds) / (
            self.half_life_seconds
        )
        return math.pow(2.0, exponent) if exponent < 1024 else math.inf

    def add_sample(self, value: float, weight: float, time_seconds: float) -> None:
        self.histogram.add_sample(value, weight * self.decay_factor(time_seconds))

    def add_samples(self, values: Sequence[float], weight: float, times: Sequence[float]) -> None:
        """``add_sample`` for each ``(value, time)`` in order: the same arithmetic, step for
        step (re-basing included), in one loop over local variables. History bootstrap and
        ``podscaler recommend`` feed millions of samples through here."""
        if weight < 0.0:
            raise ValueError(f"sample weight must not be negative, got {weight}")
        histogram, options = self.histogram, self.histogram.options
        weights, epsilon, last = histogram._weights, options.epsilon, options.num_buckets - 1
        linear, find = options.is_linear, options.find_bucket
        first, ratio_less_one, log_ratio = (
            options.first_bucket_size,
            options.ratio - 1,
            options._log_ratio,
        )
        half_life = self.half_life_seconds
        span = MAX_DECAY_EXPONENT * half_life
        reference = self.reference_seconds
        total, low, high = histogram._total_weight, histogram._min_bucket, histogram._max_bucket
        log, power = math.log, math.pow
        for value, at in zip(values, times, strict=True):
            if at > reference + span:
                histogram._total_weight, histogram._min_bucket, histogram._max_bucket = (
                    total,
                    low,
                    high,
                )
                self._shift_reference(at)
                reference = self.reference_seconds
                total, low, high = (
                    histogram._total_weight,
                    histogram._min_bucket,
                    histogram._max_bucket,
                )
            since = at - reference
            if not -_MAX_DURATION_SECONDS <= since <= _MAX_DURATION_SECONDS:
                since = go_duration_seconds(at, reference)
            exponent = since / half_life
            added = weight * (power(2.0, exponent) if exponent < 1024 else math.inf)
            if linear:
                bucket = find(value)
            elif value < first:
                bucket = 0
            else:  # HistogramOptions.find_bucket, inlined (same expression, same order)
                bucket = int(log(value * ratio_less_one / first + 1) / log_ratio)
                if bucket > last:
                    bucket = last
            weights[bucket] += added
            total += added
            if weights[bucket] >= epsilon:
                if bucket < low:
                    low = bucket
                if bucket > high:
                    high = bucket
        histogram._total_weight, histogram._min_bucket, histogram._max_bucket = total, low, high

    def subtract_sample(self, value: float, weight: float, time_seconds: float) -> None:
        self.histogram.subtract_sample(value, weight * self.decay_factor(time_seconds))

    def _shift_reference(self, new_reference_seconds: float) -> None:
        new_reference = round_to_multiple(new_reference_seconds, self.half_life_seconds)
        moved = go_duration_seconds(self.reference_seconds, new_reference) / self.half_life_seconds
        exponent = math.floor(moved + 0.5)
        self.histogram.scale(math.ldexp(1.0, max(-2000, min(exponent, 2000))))
        self.reference_seconds = new_reference

    def merge(self, other: DecayingHistogram) -> None:
        """Add *other* into this one, first bringing the older reference up to the younger.

        *other* is never changed (upstream re-bases a shallow copy that shares its weights).
        """
        if other.half_life_seconds != self.half_life_seconds:
            raise ValueError("cannot merge decaying histograms with different half-lives")
        if self.reference_seconds < other.reference_seconds:
            self._shift_reference(other.reference_seconds)
            self.histogram.merge(other.histogram)
        elif other.reference_seconds < self.reference_seconds:
            rebased = other.copy()
            rebased._shift_reference(self.reference_seconds)
            self.histogram.merge(rebased.histogram)
        else:
            self.histogram.merge(other.histogram)

    def copy(self) -> DecayingHistogram:
        twin = DecayingHistogram.__new__(DecayingHistogram)
        twin.histogram = self.histogram.copy()
        twin.half_life_seconds = self.half_life_seconds
        twin.reference_seconds = self.reference_seconds
        return twin

    def save(self) -> HistogramCheckpoint:
        saved = self.histogram.save()
        reference = (
            None if self.reference_seconds == GO_ZERO_TIME_SECONDS else self.reference_seconds
        )
        return HistogramCheckpoint(saved.total_weight, saved.bucket_weights, reference)

    def load(self, checkpoint: HistogramCheckpoint) -> None:
        """Load the weights, then take the checkpoint's reference (zero time when it has none)."""
        self.histogram.load(checkpoint)
        reference = checkpoint.reference_seconds
        self.reference_seconds = GO_ZERO_TIME_SECONDS if reference is None else reference
