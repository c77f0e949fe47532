"""From samples to a recommendation: memory peaks per window, OOM bumps, the estimator chain,
resource policy, and the story-5 numbers (a hamster using half a core).

Properties: a container adds exactly one peak per window it saw (the window's maximum), and
lower bound ≤ target ≤ upper bound for any history.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.engine.vpa import (
    DAY_SECONDS,
    AggregateContainerState,
    AggregationSettings,
    ContainerPolicy,
    ContainerScalingMode,
    ContainerState,
    EstimationSettings,
    OomRejected,
    RecommenderSettings,
    ResourcePolicy,
    Resources,
    confidence,
    confidence_factor,
    merge_aggregates,
    per_container_minimum,
    quantities_of,
    recommend,
)

START = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
MIB = 1024 * 1024


def _steady(
    cpu_millicores: int, memory_bytes: int, minutes: int, start: float = START
) -> AggregateContainerState:
    state = AggregateContainerState(start)
    container = ContainerState(state)
    for minute in range(minutes):
        container.add_cpu_sample(cpu_millicores, start + 60 * minute)
        container.add_memory_sample(memory_bytes, start + 60 * minute)
    return state


class _Peaks:
    def __init__(self) -> None:
        self.net: dict[float, list[int]] = {}

    def add_cpu_sample(self, cpu_millicores: int, time_seconds: float) -> None:
        raise AssertionError("no CPU here")

    def add_memory_peak(self, memory_bytes: int, time_seconds: float) -> None:
        self.net.setdefault(time_seconds, []).append(memory_bytes)

    def subtract_memory_peak(self, memory_bytes: int, time_seconds: float) -> None:
        self.net[time_seconds].remove(memory_bytes)


# ------------------------------------------------------------------ memory peaks and OOM


@settings(max_examples=300, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 3 * 3600), min_size=1, max_size=40),
    usages=st.lists(st.integers(0, 10**10), min_size=40, max_size=40),
)
def test_each_window_keeps_exactly_its_maximum(gaps: list[int], usages: list[int]) -> None:
    interval = 3600.0
    sink = _Peaks()
    container = ContainerState(
        sink, AggregationSettings(memory_aggregation_interval_seconds=interval)
    )
    times, at = [], START
    for gap in gaps:
        at += gap
        times.append(at)
    windows: dict[float, int] = {}
    for at, usage in zip(times, usages, strict=False):
        assert container.add_memory_sample(usage, at)
        # Windows are aligned to the first sample: [first + k*interval, first + (k+1)*interval).
        end = times[0] + ((at - times[0]) // interval + 1) * interval
        # Upstream's quirk, kept: a window whose first sample is zero stays at zero (its
        # "replace the peak" step is guarded by ``oldMaxMem != 0``).
        windows[end] = usage if end not in windows else windows[end] and max(windows[end], usage)
    assert sink.net == {end: [peak] for end, peak in windows.items()}


def test_older_memory_samples_are_dropped_and_cpu_samples_deduplicated() -> None:
    state = AggregateContainerState(START)
    container = ContainerState(state)
    assert container.add_memory_sample(100 * MIB, START + 120)
    assert not container.add_memory_sample(200 * MIB, START + 60)
    assert not container.add_memory_sample(-1, START + 180)
    assert container.add_cpu_sample(100, START)
    assert not container.add_cpu_sample(200, START)
    assert not container.add_cpu_sample(-5, START + 60)
    assert state.total_samples_count == 1


@pytest.mark.parametrize(
    ("request_mib", "peak_mib", "bumped"),
    [(1000, 0, 1200 * MIB), (1, 0, 101 * MIB), (1000, 3000, 3600 * MIB)],
)
def test_an_oom_bumps_the_larger_of_request_and_peak(
    request_mib: int, peak_mib: int, bumped: int
) -> None:
    state = AggregateContainerState(START)
    container = ContainerState(state)
    if peak_mib:
        container.add_memory_sample(peak_mib * MIB, START)
    assert container.record_oom(START + 60, request_mib * MIB) == bumped
    assert state.memory_peaks.percentile(1.0) >= bumped


def test_a_stale_oom_is_rejected_and_a_capped_one_respects_the_ceiling() -> None:
    container = ContainerState(AggregateContainerState(START))
    container.add_memory_sample(100 * MIB, START + 2 * DAY_SECONDS)
    with pytest.raises(OomRejected, match="older"):
        container.record_oom(START, 100 * MIB)
    capped = ContainerState(AggregateContainerState(START), max_memory_bytes=150 * MIB)
    assert capped.record_oom(START, 100 * MIB) == 150 * MIB


def test_an_oom_just_before_a_boundary_sample_is_fresh() -> None:
    """kubernetes/autoscaler#8548: a sample on an interval boundary moves the window end a whole
    interval ahead; an OOM one second before that sample is judged against the sample, not the
    window end, so it bumps the new window's peak instead of being dropped as stale."""
    state = AggregateContainerState(START)
    container = ContainerState(state)
    container.add_memory_sample(100 * MIB, START)
    container.add_memory_sample(2000 * MIB, START + DAY_SECONDS)
    assert container.record_oom(START + DAY_SECONDS - 1, 1000 * MIB) == 2400 * MIB
    assert state.memory_peaks.percentile(1.0) >= 2400 * MIB
    with pytest.raises(OomRejected, match="older"):
        container.record_oom(START - 2, 1000 * MIB)


def test_aggregates_expire_after_the_memory_window() -> None:
    state = _steady(100, 100 * MIB, 10)
    assert state.last_sample_seconds is not None
    assert not state.is_expired(state.last_sample_seconds + 8 * DAY_SECONDS - 1)
    assert state.is_expired(state.last_sample_seconds + 8 * DAY_SECONDS)
    empty = AggregateContainerState(START)
    assert empty.is_expired(START + 8 * DAY_SECONDS)


def test_merging_takes_the_widest_span_and_sums_the_counts() -> None:
    early = _steady(100, 100 * MIB, 10)
    late = _steady(300, 300 * MIB, 10, start=START + DAY_SECONDS)
    merged = merge_aggregates([late, early], creation_seconds=START)
    assert merged.first_sample_seconds == START
    assert merged.last_sample_seconds == START + DAY_SECONDS + 540
    assert merged.total_samples_count == 20
    assert late.total_samples_count == 10  # inputs untouched
    assert merge_aggregates([], START).is_empty()


# ------------------------------------------------------------------ estimators


def test_the_hamster_gets_587m_and_262144k() -> None:
    """Story 5: a container using 0.5 core and 200 MiB, a day of minutely samples."""
    result = recommend({"hamster": _steady(500, 200 * MIB, 1440)})
    (hamster,) = result.containers
    assert quantities_of(hamster.target) == {"cpu": "587m", "memory": "262144k"}
    assert hamster.target == Resources(587, 262_144_000)
    assert hamster.uncapped_target == hamster.target
    stage = hamster.estimate.stages()[("cpu", "target")]
    assert (stage.from_percentile, stage.with_margin) == (511, 587)
    assert hamster.estimate.stages()[("memory", "target")].raised_to_minimum


@pytest.mark.parametrize(
    ("history_seconds", "upper"),
    [(12 * 3600, 3.0), (DAY_SECONDS, 2.0), (7 * DAY_SECONDS, 1.142857)],
)
def test_the_upper_bound_factor_shrinks_with_history(history_seconds: float, upper: float) -> None:
    conf = history_seconds / DAY_SECONDS
    assert confidence_factor(conf, 1.0, 1.0) == pytest.approx(upper, rel=1e-5)


@pytest.mark.parametrize(("minutes", "factor"), [(5, 0.603), (30, 0.91), (60, 0.953)])
def test_the_lower_bound_factor_approaches_one(minutes: int, factor: float) -> None:
    assert confidence_factor(minutes / 1440, 0.001, -2.0) == pytest.approx(factor, abs=0.002)


def test_no_history_gives_an_unbounded_upper_and_a_zero_lower_bound() -> None:
    assert confidence_factor(0.0, 1.0, 1.0) == float("inf")
    assert confidence_factor(0.0, 0.001, -2.0) == 0.0
    assert confidence(AggregateContainerState(START)) == 0.0


def test_the_pod_minimum_is_split_with_truncation() -> None:
    assert per_container_minimum(EstimationSettings(), 1) == Resources(25, 262_144_000)
    assert per_container_minimum(EstimationSettings(), 2) == Resources(12, 131_072_000)
    assert per_container_minimum(EstimationSettings(), 3) == Resources(8, 87_381_333)


@settings(max_examples=100, deadline=None)
@given(
    usages=st.lists(st.tuples(st.integers(0, 8000), st.integers(0, 8 * 1024**3)), min_size=1),
    step=st.integers(1, 3600),
)
def test_bounds_bracket_the_target(usages: list[tuple[int, int]], step: int) -> None:
    state = AggregateContainerState(START)
    container = ContainerState(state)
    for index, (cpu, memory) in enumerate(usages):
        container.add_cpu_sample(cpu, START + index * step)
        container.add_memory_sample(memory, START + index * step)
    (result,) = recommend({"app": state}).containers
    for resource in ("cpu", "memory"):
        low, mid, high = (
            result.lower_bound.get(resource),
            result.target.get(resource),
            result.upper_bound.get(resource),
        )
        assert low is not None
        assert mid is not None
        assert high is not None
        assert low <= mid <= high


# ------------------------------------------------------------------ policy in a pass


def test_mode_off_and_silent_containers_are_left_out_of_the_minimum_split() -> None:
    aggregates = {
        "app": _steady(5, 10 * MIB, 60),
        "sidecar": _steady(5, 10 * MIB, 60),
        "idle": AggregateContainerState(START),
    }
    policy = ResourcePolicy((ContainerPolicy("sidecar", mode=ContainerScalingMode.OFF),))
    result = recommend(aggregates, policy)
    assert [c.container_name for c in result.containers] == ["app"]
    assert result.skipped == {
        "idle": "no CPU usage sample yet",
        "sidecar": "mode Off in the resource policy",
    }
    # Alone, "app" gets the whole pod minimum.
    assert result.containers[0].target == Resources(25, 262_144_000)


def test_min_and_max_allowed_cap_all_three_and_keep_the_uncapped_target() -> None:
    policy = ResourcePolicy(
        (
            ContainerPolicy("*", max_allowed=Resources(cpu_millicores=300)),
            ContainerPolicy("db", min_allowed=Resources(memory_bytes=512 * MIB)),
        )
    )
    result = recommend(
        {"web": _steady(500, 200 * MIB, 1440), "db": _steady(500, 200 * MIB, 1440)}, policy
    )
    web, db = result.for_container("web"), result.for_container("db")
    assert web is not None
    assert db is not None
    assert web.target.cpu_millicores == 300
    assert web.upper_bound.cpu_millicores == 300
    assert web.uncapped_target.cpu_millicores == 587
    assert web.capped_by == (("cpu", "maxAllowed"),)
    # A named entry replaces "*": db has no CPU maximum, but a memory minimum.
    assert db.target.cpu_millicores == 587
    assert db.target.memory_bytes == 512 * MIB
    assert db.lower_bound.memory_bytes == 512 * MIB


def test_the_operator_wide_maximum_yields_to_a_containers_own() -> None:
    settings = RecommenderSettings(max_allowed=Resources(cpu_millicores=100, memory_bytes=MIB))
    policy = ResourcePolicy((ContainerPolicy("own", max_allowed=Resources(cpu_millicores=400)),))
    result = recommend(
        {"own": _steady(500, 200 * MIB, 1440), "other": _steady(500, 200 * MIB, 1440)},
        policy,
        settings,
    )
    own, other = result.for_container("own"), result.for_container("other")
    assert own is not None
    assert other is not None
    assert own.target == Resources(400, MIB)
    assert other.target == Resources(100, MIB)


def test_only_controlled_resources_are_recommended_and_rounding_goes_up() -> None:
    policy = ResourcePolicy((ContainerPolicy("*", controlled_resources=("cpu",)),))
    settings = RecommenderSettings(round_cpu_millicores=100)
    (only,) = recommend({"app": _steady(500, 200 * MIB, 1440)}, policy, settings).containers
    assert only.target == Resources(cpu_millicores=600)
    assert only.lower_bound.names() == ("cpu",)
    assert quantities_of(only.target) == {"cpu": "600m"}


@settings(max_examples=200, deadline=None)
@given(
    samples=st.lists(
        st.tuples(st.integers(-3, 150 * 86_400), st.integers(-10, 100_000)), max_size=60
    )
)
def test_bulk_cpu_samples_are_exactly_one_by_one(samples: list[tuple[int, int]]) -> None:
    """The fast path for history bootstrap: same histogram bit for bit, re-basing included
    (times span 150 days, beyond the 100 half-lives that force a re-base)."""
    one, bulk = AggregateContainerState(START), AggregateContainerState(START)
    single, batch = ContainerState(one), ContainerState(bulk)
    taken = sum(single.add_cpu_sample(m, START + t) for t, m in samples)
    assert batch.add_cpu_samples([(START + t, m) for t, m in samples]) == taken
    assert bulk.cpu_usage.save() == one.cpu_usage.save()
    assert bulk.cpu_usage.histogram.bucket_weights() == one.cpu_usage.histogram.bucket_weights()
    assert bulk.cpu_usage.histogram.total_weight == one.cpu_usage.histogram.total_weight
    assert (bulk.first_sample_seconds, bulk.last_sample_seconds, bulk.total_samples_count) == (
        one.first_sample_seconds,
        one.last_sample_seconds,
        one.total_samples_count,
    )
    assert batch.last_cpu_sample_seconds == single.last_cpu_sample_seconds
