"""What the node autoscaler remembers between loops: scale-up requests and the capacity they
promise, their completion or timeout, and the exponential backoff (5 min → 30 min)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.nodes import AutoscalerState, NodeAutoscalerOptions, NodeGroupState
from podscaler.nodes.backoff import Backoff, BackoffParams

OPTIONS = NodeAutoscalerOptions()
T0 = 1_000_000.0


def group(target: int, registered: int) -> NodeGroupState:
    return NodeGroupState("g", 0, 10, target, tuple(f"n{i}" for i in range(registered)))


def test_a_request_promises_nodes_until_they_register() -> None:
    state = AutoscalerState.initial(OPTIONS).scaled_up("g", 2, T0, OPTIONS)
    assert state.upcoming(group(3, 1), T0 + 10) == 2
    state, timeouts = state.observe([group(3, 3)], T0 + 120)
    assert timeouts == ()
    assert state.scale_ups == {}
    assert state.upcoming(group(3, 3), T0 + 120) == 0


def test_a_request_that_does_not_arrive_times_out_and_backs_the_group_off() -> None:
    state = AutoscalerState.initial(OPTIONS).scaled_up("g", 2, T0, OPTIONS)
    state, timeouts = state.observe([group(3, 1)], T0 + 901)
    assert [(t.group, t.increase) for t in timeouts] == [("g", 2)]
    status = state.backoff.status("g", T0 + 901)
    assert status.backed_off
    assert status.error_code == "timeout"
    assert state.upcoming(group(3, 1), T0 + 901) == 0


def test_failed_instances_shrink_the_request() -> None:
    state = AutoscalerState.initial(OPTIONS).scaled_up("g", 3, T0, OPTIONS)
    state = state.scale_up_failed("g", "InsufficientInstanceCapacity", "no m5", T0 + 60, 1)
    assert state.scale_ups["g"].increase == 2
    assert state.backoff.status("g", T0 + 61).backed_off
    # a backed-off group's promised nodes do not count
    assert state.upcoming(group(4, 1), T0 + 61) == 0


def test_backoff_doubles_after_expiry_and_resets_after_three_hours() -> None:
    backoff = Backoff()  # 5 min, 30 min, 3 h
    backoff = backoff.backoff("g", T0, "timeout")
    assert backoff.entries["g"].duration_seconds == 300
    backoff = backoff.backoff("g", T0 + 100, "timeout")  # during: duration kept
    assert backoff.entries["g"].duration_seconds == 300
    assert backoff.entries["g"].until == T0 + 400
    durations = []
    now = T0 + 400
    for _ in range(5):
        now += backoff.entries["g"].duration_seconds + 1
        backoff = backoff.backoff("g", now, "timeout")
        durations.append(backoff.entries["g"].duration_seconds)
    assert durations == [600, 1200, 1800, 1800, 1800]
    assert backoff.remove_stale(now + 10801).entries == {}


@settings(deadline=None)
@given(st.lists(st.floats(0, 20_000), min_size=1, max_size=20))
def test_backoff_stays_within_its_bounds(gaps: list[float]) -> None:
    params = BackoffParams(300, 1800, 10800)
    backoff = Backoff(params)
    now = T0
    for gap in gaps:
        now += gap
        backoff = backoff.backoff("g", now, "x")
        entry = backoff.entries["g"]
        assert 300 <= entry.duration_seconds <= 1800
        assert entry.until == now + entry.duration_seconds
        assert backoff.status("g", now).backed_off
