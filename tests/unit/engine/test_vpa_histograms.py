"""The VPA histograms: bucket schemes, percentiles as bucket upper edges, merge, subtraction,
checkpoints, and decay with re-basing.

Examples pin the numbers users see (a constant 0.5 core reads as 0.5111 cores); properties check
the laws for any samples: the one-pass percentile reader agrees with upstream's loop, percentiles
grow with p, merging equals adding, and a checkpoint round trip keeps the total exactly.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.engine.vpa import (
    CPU_HISTOGRAM_OPTIONS,
    GO_ZERO_TIME_SECONDS,
    MEMORY_HISTOGRAM_OPTIONS,
    CheckpointError,
    DecayingHistogram,
    Histogram,
    HistogramCheckpoint,
    HistogramOptions,
)
from podscaler.engine.vpa.decaying import round_to_multiple

DAY = 86_400.0
# Weights are 0 or at least 1e-3: a lone weight under epsilon (1e-4) leaves its bucket outside
# [min, max], and upstream's merge copies only that range, so two such crumbs that add up above
# epsilon in one histogram stay lost in a merge (kept as upstream has it).
samples = st.lists(
    st.tuples(
        st.floats(0.0, 2_000.0, allow_nan=False),
        st.one_of(st.just(0.0), st.floats(0.001, 100.0, allow_nan=False)),
    ),
    max_size=40,
)


def _upstream_percentile(histogram: Histogram, p: float) -> float:
    """Upstream's loop, written out plainly, to hold the one-pass reader to."""
    if histogram.is_empty():
        return 0.0
    partial, threshold = 0.0, p * histogram.total_weight
    bucket = histogram.min_bucket
    while bucket < histogram.max_bucket:
        partial += histogram.bucket_weight(bucket)
        if partial >= threshold:
            break
        bucket += 1
    last = histogram.options.num_buckets - 1
    return histogram.options.bucket_start(bucket + 1 if bucket < last else bucket)


def test_production_schemes_have_176_buckets_each() -> None:
    assert CPU_HISTOGRAM_OPTIONS.num_buckets == 176
    assert MEMORY_HISTOGRAM_OPTIONS.num_buckets == 176
    assert CPU_HISTOGRAM_OPTIONS.bucket_start(1) == pytest.approx(0.01)
    # Every bucket is 5 % wider than the one before.
    widths = [
        CPU_HISTOGRAM_OPTIONS.bucket_start(b + 1) - CPU_HISTOGRAM_OPTIONS.bucket_start(b)
        for b in range(1, 20)
    ]
    assert all(math.isclose(b / a, 1.05) for a, b in itertools.pairwise(widths))


def test_a_constant_half_core_reads_as_the_upper_edge_of_its_bucket() -> None:
    histogram = Histogram(CPU_HISTOGRAM_OPTIONS)
    for _ in range(100):
        histogram.add_sample(0.5, 0.1)
    assert histogram.percentile(0.9) == pytest.approx(0.5111345375888712, rel=1e-12)
    assert CPU_HISTOGRAM_OPTIONS.find_bucket(0.5) == 25


def test_invalid_options_and_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="ratio"):
        HistogramOptions.exponential(10.0, 1.0, 1.0, 1e-4)
    with pytest.raises(ValueError, match="positive"):
        HistogramOptions.linear(10.0, 0.0, 1e-4)
    with pytest.raises(ValueError, match="negative"):
        Histogram(CPU_HISTOGRAM_OPTIONS).add_sample(1.0, -1.0)
    with pytest.raises(IndexError):
        CPU_HISTOGRAM_OPTIONS.bucket_start(176)


def test_subtracting_every_sample_leaves_an_empty_histogram() -> None:
    histogram = Histogram(MEMORY_HISTOGRAM_OPTIONS)
    histogram.add_sample(2e8, 1.0)
    histogram.add_sample(5e8, 1.0)
    histogram.subtract_sample(2e8, 1.0)
    assert histogram.percentile(0.0) == MEMORY_HISTOGRAM_OPTIONS.bucket_start(
        MEMORY_HISTOGRAM_OPTIONS.find_bucket(5e8) + 1
    )
    histogram.subtract_sample(5e8, 1.0)
    assert histogram.is_empty()
    assert histogram.total_weight == 0.0
    assert histogram.percentile(0.5) == 0.0


@settings(max_examples=300, deadline=None)
@given(data=samples, wanted=st.lists(st.floats(-0.5, 1.5, allow_nan=False), max_size=6))
def test_one_pass_percentiles_agree_with_upstreams_loop(
    data: list[tuple[float, float]], wanted: list[float]
) -> None:
    histogram = Histogram(CPU_HISTOGRAM_OPTIONS)
    for value, weight in data:
        histogram.add_sample(value, weight)
    assert list(histogram.percentiles(wanted)) == [
        _upstream_percentile(histogram, p) for p in wanted
    ]


@settings(max_examples=200, deadline=None)
@given(data=samples, low=st.floats(0.0, 1.0), high=st.floats(0.0, 1.0))
def test_percentiles_grow_with_p(data: list[tuple[float, float]], low: float, high: float) -> None:
    low, high = sorted((low, high))
    histogram = Histogram(CPU_HISTOGRAM_OPTIONS)
    for value, weight in data:
        histogram.add_sample(value, weight)
    assert histogram.percentile(low) <= histogram.percentile(high)


@settings(max_examples=200, deadline=None)
@given(left=samples, right=samples)
def test_merging_equals_adding_everything_to_one_histogram(
    left: list[tuple[float, float]], right: list[tuple[float, float]]
) -> None:
    a, b, both = (Histogram(CPU_HISTOGRAM_OPTIONS) for _ in range(3))
    for value, weight in left:
        a.add_sample(value, weight)
        both.add_sample(value, weight)
    for value, weight in right:
        b.add_sample(value, weight)
        both.add_sample(value, weight)
    a.merge(b)
    assert a.total_weight == pytest.approx(both.total_weight)
    assert (a.min_bucket, a.max_bucket, a.is_empty()) == (
        both.min_bucket,
        both.max_bucket,
        both.is_empty(),
    )
    # Bucket by bucket: sums in another order differ in the last bit at most, which could
    # only move a percentile at an exact tie.
    merged, single = a.bucket_weights(), both.bucket_weights()
    assert merged.keys() == single.keys()
    for bucket, weight in single.items():
        assert merged[bucket] == pytest.approx(weight, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(data=samples)
def test_a_checkpoint_round_trip_keeps_the_total_and_the_shape(
    data: list[tuple[float, float]],
) -> None:
    histogram = Histogram(CPU_HISTOGRAM_OPTIONS)
    for value, weight in data:
        histogram.add_sample(value, weight)
    saved = histogram.save()
    assert all(0 < w <= 10_000 for w in saved.bucket_weights.values())
    restored = Histogram(CPU_HISTOGRAM_OPTIONS)
    restored.load(saved)
    if saved.bucket_weights:
        assert restored.total_weight == saved.total_weight
        heaviest = max(histogram.bucket_weight(b) for b in saved.bucket_weights)
        # Each bucket keeps its share of the heaviest to 1/10000 (scaled to the stored total).
        stored_sum = sum(saved.bucket_weights.values())
        for bucket, stored in saved.bucket_weights.items():
            share = histogram.bucket_weight(bucket) / heaviest
            assert abs(stored / 10_000 - share) <= 0.5 / 10_000 + 1e-12
            assert restored.bucket_weight(bucket) == pytest.approx(
                stored * saved.total_weight / stored_sum
            )


def test_a_checkpoint_with_a_bucket_at_epsilon_loads_non_empty() -> None:
    """kubernetes/autoscaler#7726: weights epsilon and 10000 * epsilon - epsilon save as 1 and
    10000; rescaled on load, the first comes back just under epsilon. The minimum bucket must
    move past it, or the histogram reads as empty and every percentile as 0."""
    epsilon = 1e-15
    options = HistogramOptions.linear(10.0, 1.0, epsilon)
    original = Histogram(options)
    original.add_sample(1.0, epsilon)
    original.add_sample(2.0, 10000 * epsilon - epsilon)
    checkpoint = original.save()
    assert checkpoint.bucket_weights == {1: 1, 2: 10000}
    loaded = Histogram(options)
    loaded.load(checkpoint)
    assert not loaded.is_empty()
    assert loaded.percentile(1.0) == original.percentile(1.0)


def test_a_bad_checkpoint_changes_nothing() -> None:
    histogram = Histogram(CPU_HISTOGRAM_OPTIONS)
    histogram.add_sample(1.0, 1.0)
    for bad in (
        HistogramCheckpoint(-1.0, {1: 1}),
        HistogramCheckpoint(1.0, {176: 1}),
        HistogramCheckpoint(1.0, {-1: 1}),
        HistogramCheckpoint(1.0, {3: -5}),
    ):
        with pytest.raises(CheckpointError):
            histogram.load(bad)
    assert histogram.total_weight == 1.0
    assert histogram.percentile(1.0) == CPU_HISTOGRAM_OPTIONS.bucket_start(37)


# ------------------------------------------------------------------ decay


def test_the_reference_moves_to_utc_midnight_on_the_first_sample() -> None:
    histogram = DecayingHistogram(CPU_HISTOGRAM_OPTIONS, DAY)
    assert histogram.reference_seconds == GO_ZERO_TIME_SECONDS
    at = datetime(2026, 3, 14, 17, 30, tzinfo=UTC).timestamp()
    histogram.add_sample(0.5, 0.1, at)
    midnight = datetime(2026, 3, 15, tzinfo=UTC).timestamp()  # 17:30 rounds up
    assert histogram.reference_seconds == midnight


def test_go_rounding_takes_halves_up() -> None:
    noon = datetime(2026, 3, 14, 12, tzinfo=UTC).timestamp()
    assert round_to_multiple(noon, DAY) == noon + 12 * 3600
    assert round_to_multiple(noon - 1, DAY) == noon - 12 * 3600
    assert round_to_multiple(noon, 0) == noon


def test_a_sample_one_half_life_newer_weighs_twice_as_much() -> None:
    histogram = DecayingHistogram(CPU_HISTOGRAM_OPTIONS, DAY)
    start = datetime(2026, 3, 14, tzinfo=UTC).timestamp()
    histogram.add_sample(1.0, 1.0, start)
    histogram.add_sample(2.0, 1.0, start + DAY)
    inner = histogram.histogram
    heavy = inner.bucket_weight(CPU_HISTOGRAM_OPTIONS.find_bucket(2.0))
    light = inner.bucket_weight(CPU_HISTOGRAM_OPTIONS.find_bucket(1.0))
    assert heavy / light == pytest.approx(2.0)
    # Two thirds of the weight sits at 2 cores: the median is there.
    assert histogram.percentile(0.5) == CPU_HISTOGRAM_OPTIONS.bucket_start(50)


def test_rebasing_keeps_relative_weights_and_drops_what_decayed_away() -> None:
    histogram = DecayingHistogram(CPU_HISTOGRAM_OPTIONS, DAY)
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    histogram.add_sample(1.0, 1.0, start)
    histogram.add_sample(2.0, 1.0, start + 10 * DAY)
    reference = histogram.reference_seconds
    # 101 days after the reference: re-based; the 1-core sample is 2**-110 as heavy: gone.
    histogram.add_sample(3.0, 1.0, reference + 101 * DAY)
    assert histogram.reference_seconds == reference + 101 * DAY
    inner = histogram.histogram
    assert inner.min_bucket == CPU_HISTOGRAM_OPTIONS.find_bucket(3.0)
    assert histogram.percentile(0.0) == CPU_HISTOGRAM_OPTIONS.bucket_start(
        CPU_HISTOGRAM_OPTIONS.find_bucket(3.0) + 1
    )


@settings(max_examples=150, deadline=None)
@given(
    # Within five days no re-based weight falls below epsilon. Further apart, upstream's merge
    # keeps sub-epsilon crumbs in the total but not in the walk, and percentiles may move.
    offsets=st.lists(st.floats(0, 5 * DAY), min_size=1, max_size=20),
    split=st.integers(0, 20),
)
def test_merging_decaying_histograms_equals_one_histogram(offsets: list[float], split: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    values = [0.05 * (i + 1) for i in range(len(offsets))]
    a = DecayingHistogram(CPU_HISTOGRAM_OPTIONS, DAY)
    b = DecayingHistogram(CPU_HISTOGRAM_OPTIONS, DAY)
    both = DecayingHistogram(CPU_HISTOGRAM_OPTIONS, DAY)
    for index, (value, offset) in enumerate(zip(values, offsets, strict=True)):
        (a if index < split else b).add_sample(value, 0.1, start + offset)
        both.add_sample(value, 0.1, start + offset)
    b_before = b.save()
    a.merge(b)
    assert b.save() == b_before  # the other side is left alone
    # The merge re-bases onto the younger reference; weights differ from the single histogram
    # by exactly that many half-lives, and percentiles (ratios) not at all.
    assert a.reference_seconds == max(a.reference_seconds, b.reference_seconds)
    scale = 2.0 ** ((both.reference_seconds - a.reference_seconds) / DAY)
    assert a.histogram.total_weight == pytest.approx(both.histogram.total_weight * scale, rel=1e-9)
    # Bucket by bucket (percentiles themselves may flip at an exact tie, where the two sums
    # differ in the last bit).
    merged, single = a.histogram.bucket_weights(), both.histogram.bucket_weights()
    assert merged.keys() == single.keys()
    for bucket, weight in single.items():
        assert merged[bucket] == pytest.approx(weight * scale, rel=1e-9)


def test_checkpoints_carry_the_reference() -> None:
    histogram = DecayingHistogram(MEMORY_HISTOGRAM_OPTIONS, DAY)
    at = datetime(2026, 3, 14, 8, tzinfo=UTC).timestamp()
    histogram.add_sample(3e8, 1.0, at)
    saved = histogram.save()
    assert saved.reference_seconds == datetime(2026, 3, 14, tzinfo=UTC).timestamp()
    restored = DecayingHistogram(MEMORY_HISTOGRAM_OPTIONS, DAY)
    restored.load(saved)
    assert restored.reference_seconds == histogram.reference_seconds
    assert restored.percentile(0.9) == histogram.percentile(0.9)
    assert DecayingHistogram(MEMORY_HISTOGRAM_OPTIONS, DAY).save().reference_seconds is None


@settings(max_examples=100, deadline=None)
@given(
    samples=st.lists(
        st.tuples(st.floats(-1, 20, allow_nan=False), st.floats(0, 200 * 3600)), max_size=40
    )
)
def test_adding_samples_in_bulk_equals_one_at_a_time(samples: list[tuple[float, float]]) -> None:
    linear = HistogramOptions.linear(10.0, 1.0, 1e-15)
    for options in (linear, CPU_HISTOGRAM_OPTIONS):
        one, bulk = DecayingHistogram(options, 3600.0), DecayingHistogram(options, 3600.0)
        for value, at in samples:
            one.add_sample(value, 0.5, START_2026 + at)
        bulk.add_samples([v for v, _ in samples], 0.5, [START_2026 + t for _, t in samples])
        assert bulk.histogram.bucket_weights() == one.histogram.bucket_weights()
        assert bulk.histogram.total_weight == one.histogram.total_weight
        assert (bulk.histogram.min_bucket, bulk.histogram.max_bucket) == (
            one.histogram.min_bucket,
            one.histogram.max_bucket,
        )
        assert bulk.reference_seconds == one.reference_seconds


START_2026 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
