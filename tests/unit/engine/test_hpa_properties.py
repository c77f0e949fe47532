"""Laws of the HPA engine that hold for any input, checked with hypothesis.

- a decision never leaves ``[minReplicas, maxReplicas]`` once the current count is inside it;
- a usage ratio inside the tolerance band never changes the replica count;
- scale-down stabilization never goes below the highest recommendation of its window, and a
  pass adds at most one entry to the recommendation log;
- behavior policies never let a scale-up outrun the most permissive policy's limit.
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from podscaler.api.hpabehavior import Behavior, PolicyType, ScalingPolicy, ScalingRules
from podscaler.engine.hpa import (
    HpaHistory,
    Observed,
    Recommendation,
    Tolerances,
    conclude,
    decide,
    plain_metric_replicas,
    stabilize_with_behavior,
    stabilize_without_behavior,
)
from tests.unit.engine.hpa_builders import NOW, cpu_reading, cpu_samples, cpu_spec, ready_pod

usages = st.lists(st.integers(0, 5_000), min_size=1, max_size=8)
recommendations = st.lists(
    st.builds(
        Recommendation,
        st.integers(0, 50),
        st.floats(NOW - 1_000, NOW, allow_nan=False),
    ),
    max_size=10,
)


@given(
    usage=usages,
    target=st.integers(1, 200),
    bounds=st.tuples(st.integers(0, 20), st.integers(1, 40)).filter(lambda b: b[0] <= b[1]),
    current_offset=st.integers(0, 40),
    history=recommendations,
    with_behavior=st.booleans(),
)
def test_decisions_stay_within_min_and_max(
    usage: list[int],
    target: int,
    bounds: tuple[int, int],
    current_offset: int,
    history: list[Recommendation],
    with_behavior: bool,
) -> None:
    low, high = bounds
    current = min(low + current_offset, high)
    names = [f"p{i}" for i in range(len(usage))]
    spec = cpu_spec(
        target,
        min_replicas=low,
        max_replicas=high,
        behavior=Behavior() if with_behavior else None,
    )
    observed = Observed(
        current,
        current,
        tuple(ready_pod(n) for n in names),
        (cpu_reading(**dict(zip(names, usage, strict=True))),),
    )
    outcome = conclude(decide(spec, observed, HpaHistory(tuple(history)), NOW))
    assert low <= outcome.desired_replicas <= high


@given(
    usage=usages,
    current=st.integers(1, 50),
    up=st.floats(0, 1),
    down=st.floats(0, 0.9),
    data=st.data(),
)
def test_the_tolerance_band_never_changes_replicas(
    usage: list[int], current: int, up: float, down: float, data: st.DataObject
) -> None:
    tolerances = Tolerances(scale_up=up, scale_down=down)
    average = sum(usage) // len(usage)
    assume(average > 0)
    # A target that puts the ratio somewhere inside the band.
    factor = data.draw(st.floats(1.0 - down, 1.0 + up))
    target = max(1, round(average / factor))
    assume(tolerances.within(average / target))
    names = [f"p{i}" for i in range(len(usage))]
    samples = cpu_samples(**dict(zip(names, usage, strict=True)))
    pods = [ready_pod(n) for n in names]
    assert plain_metric_replicas(current, target, samples, pods, tolerances).replicas == current


@given(history=recommendations, desired=st.integers(0, 50), window=st.integers(0, 900))
def test_scale_down_stabilization_respects_the_window(
    history: list[Recommendation], desired: int, window: int
) -> None:
    result = stabilize_without_behavior(history, desired, window, NOW)
    in_window = [r.replicas for r in history if r.at_seconds >= NOW - window]
    assert result.replicas == max([desired, *in_window])
    assert len(history) <= len(result.recommendations) <= len(history) + 1


@given(
    history=recommendations,
    current=st.integers(0, 50),
    desired=st.integers(0, 50),
    up_window=st.integers(0, 900),
    down_window=st.integers(0, 900),
)
def test_behavior_stabilization_never_undershoots_the_down_window(
    history: list[Recommendation],
    current: int,
    desired: int,
    up_window: int,
    down_window: int,
) -> None:
    result = stabilize_with_behavior(history, current, desired, up_window, down_window, NOW)
    if result.replicas < current:
        assert all(
            result.replicas >= r.replicas for r in history if r.at_seconds > NOW - down_window
        )
    if result.replicas > current:
        assert all(result.replicas <= r.replicas for r in history if r.at_seconds > NOW - up_window)
    assert len(result.recommendations) <= len(history) + 1


@given(
    pods_per_minute=st.integers(1, 10),
    load=st.lists(st.integers(0, 20_000), min_size=1, max_size=20),
)
def test_policies_bound_scale_up_per_period(pods_per_minute: int, load: list[int]) -> None:
    """Drive one HPA pass every 15 s; no 60 s span may add more than the policy allows."""
    rules = ScalingRules(policies=(ScalingPolicy(PolicyType.PODS, pods_per_minute, 60),))
    spec = cpu_spec(50, max_replicas=200, behavior=Behavior(scale_up=rules))
    history = HpaHistory()
    replicas = 1
    timeline: list[tuple[float, int]] = []
    for step, usage in enumerate(load):
        now = NOW + 15 * step
        names = [f"p{i}" for i in range(replicas)]
        observed = Observed(
            replicas,
            replicas,
            tuple(ready_pod(n) for n in names),
            (cpu_reading(**dict.fromkeys(names, usage)),),
        )
        outcome = conclude(decide(spec, observed, history, now))
        history = outcome.history
        replicas = outcome.desired_replicas if outcome.scaled else replicas
        timeline.append((now, replicas))
    for start, at_start in timeline:
        later = [count for when, count in timeline if start < when < start + 60]
        assert all(count - at_start <= pods_per_minute for count in later)
