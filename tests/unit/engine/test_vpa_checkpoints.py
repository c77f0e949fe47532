"""Checkpoints in upstream's v3 format: what is written, what a restart restores, and that any
malformed checkpoint is refused with :class:`CheckpointError` (never another exception).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.engine.vpa import (
    AggregateContainerState,
    CheckpointError,
    ContainerState,
    checkpoint_name,
    checkpoint_status,
    recommend,
    restore_aggregate,
)

START = datetime(2026, 3, 2, 6, 30, tzinfo=UTC).timestamp()
MIB = 1024 * 1024


def _history(minutes: int) -> tuple[AggregateContainerState, ContainerState]:
    state = AggregateContainerState(START)
    container = ContainerState(state)
    for minute in range(minutes):
        container.add_cpu_sample(400 + minute % 200, START + 60 * minute)
        container.add_memory_sample((150 + minute % 90) * MIB, START + 60 * minute)
    return state, container


def test_the_status_has_upstreams_shape() -> None:
    state, _ = _history(30)
    status = checkpoint_status(state, START + 1800.5)
    assert status["version"] == "v3"
    assert status["lastUpdateTime"] == "2026-03-02T07:00:00Z"
    assert status["firstSampleStart"] == "2026-03-02T06:30:00Z"
    assert status["lastSampleStart"] == "2026-03-02T06:59:00Z"
    assert status["totalSamplesCount"] == 30
    cpu = status["cpuHistogram"]
    assert cpu["referenceTimestamp"] == "2026-03-02T00:00:00Z"
    assert max(cpu["bucketWeights"].values()) == 10_000
    assert all(isinstance(key, str) for key in cpu["bucketWeights"])
    json.dumps(status)  # plain JSON, ready for an object's status
    assert checkpoint_name("hamster-vpa", "hamster") == "hamster-vpa-hamster"


def test_a_restart_restores_the_same_recommendation() -> None:
    state, _ = _history(2 * 1440)
    status = json.loads(json.dumps(checkpoint_status(state, START + 2 * 86_400)))
    restored = restore_aggregate(status, creation_seconds=START + 2 * 86_400)
    before = recommend({"app": state}).containers[0]
    after = recommend({"app": restored}).containers[0]
    assert after.target == before.target
    assert after.lower_bound == before.lower_bound
    assert after.upper_bound == before.upper_bound
    assert after.estimate.confidence == pytest.approx(before.estimate.confidence)


def test_the_open_memory_window_is_not_saved_twice() -> None:
    state, container = _history(90)
    end = container.window_end_seconds
    assert end is not None
    peak = container.max_memory_peak_bytes
    saved = checkpoint_status(state, START + 5400, [(end, peak)])
    # The only window is still open: the saved memory histogram is empty, the live one is not.
    assert saved["memoryHistogram"]["bucketWeights"] == {}
    assert not state.memory_peaks.is_empty()
    closed = checkpoint_status(state, end + 1, [(end, peak)])
    assert closed["memoryHistogram"]["bucketWeights"] != {}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"version": "v2"}, "version"),
        ({"totalSamplesCount": -1}, "totalSamplesCount"),
        ({"firstSampleStart": "yesterday"}, "firstSampleStart"),
        ({"cpuHistogram": {"totalWeight": -3.0, "bucketWeights": {"1": 5}}}, "negative"),
        ({"cpuHistogram": {"totalWeight": 3.0, "bucketWeights": {"900": 5}}}, "bucket 900"),
        ({"memoryHistogram": {"totalWeight": 3.0, "bucketWeights": {"x": 5}}}, "non-integer"),
        ({"memoryHistogram": []}, "memoryHistogram must be an object"),
    ],
)
def test_malformed_checkpoints_say_what_is_wrong(patch: dict[str, Any], message: str) -> None:
    state, _ = _history(10)
    status = checkpoint_status(state, START + 600) | patch
    with pytest.raises(CheckpointError, match=message):
        restore_aggregate(status, START)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    status=st.fixed_dictionaries(
        {"version": st.just("v3")},
        optional={
            "totalSamplesCount": json_values,
            "firstSampleStart": json_values,
            "lastSampleStart": json_values,
            "cpuHistogram": json_values
            | st.fixed_dictionaries(
                {},
                optional={
                    "totalWeight": json_values,
                    "bucketWeights": st.dictionaries(
                        st.text(max_size=4), st.integers(-5, 2**33), max_size=5
                    ),
                    "referenceTimestamp": json_values,
                },
            ),
            "memoryHistogram": json_values,
        },
    )
)
def test_any_checkpoint_loads_or_fails_with_a_checkpoint_error(status: dict[str, Any]) -> None:
    try:
        restored = restore_aggregate(status, START)
    except CheckpointError:
        return
    recommend({"app": restored})  # whatever loaded can be recommended from
