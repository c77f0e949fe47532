"""The backoff schedule: doubling from the initial delay, capped, jittered downwards only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podscaler.kube.backoff import Backoff, backoff_delay_seconds


def test_schedule_without_jitter_doubles_then_caps() -> None:
    backoff = Backoff(initial_seconds=0.8, max_seconds=30.0, jitter=0.0)
    delays = [backoff.next_delay_seconds() for _ in range(8)]
    assert delays == pytest.approx([0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0])


def test_reset_starts_over() -> None:
    backoff = Backoff(initial_seconds=1.0, jitter=0.0)
    backoff.next_delay_seconds()
    backoff.next_delay_seconds()
    backoff.reset()
    assert backoff.next_delay_seconds() == 1.0


def test_jitter_draws_from_the_injected_source() -> None:
    backoff = Backoff(initial_seconds=2.0, jitter=0.5, random_fraction=lambda: 1.0)
    assert backoff.next_delay_seconds() == pytest.approx(1.0)


@given(
    attempt=st.integers(min_value=0, max_value=10_000),
    fraction=st.floats(min_value=0.0, max_value=0.999999),
    jitter=st.floats(min_value=0.0, max_value=1.0),
)
def test_delay_is_always_within_bounds(attempt: int, fraction: float, jitter: float) -> None:
    delay = backoff_delay_seconds(
        attempt,
        initial_seconds=0.5,
        max_seconds=30.0,
        factor=2.0,
        jitter=jitter,
        random_fraction=fraction,
    )
    base = min(30.0, 0.5 * 2.0 ** min(attempt, 64))
    assert base * (1.0 - jitter) - 1e-9 <= delay <= base + 1e-9
    assert delay <= 30.0
