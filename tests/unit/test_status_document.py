"""The pure half of ``podscaler status`` and of the liveness probe
(:mod:`podscaler.observability.status`)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.observability.status import (
    LoopWatchdog,
    condition_counts,
    lateness_summary,
    render_text,
)


def _status(**conditions: str) -> dict[str, Any]:
    return {
        "conditions": [
            {"type": kind, "status": value, "reason": f"{kind}Reason", "message": f"{kind} says"}
            for kind, value in conditions.items()
        ]
    }


def test_counts_each_condition_and_lists_the_not_ready() -> None:
    counts = condition_counts(
        "ScaledObject",
        [
            ("b", "ok", _status(Ready="True", Active="True")),
            ("a", "paused", _status(Ready="True", Paused="True")),
            ("a", "broken", _status(Ready="False", Fallback="True")),
            ("a", "new", None),
            ("a", "odd", {"conditions": ["not a condition", {"type": 3}]}),
        ],
    )
    assert {k: v for k, v in counts.items() if k != "errors"} == {
        "total": 5,
        "ready": 2,
        "active": 1,
        "fallback": 1,
        "paused": 1,
        "notReady": 1,
        "unknown": 2,
    }
    assert counts["errors"] == [
        {
            "kind": "ScaledObject",
            "namespace": "a",
            "name": "broken",
            "reason": "ReadyReason",
            "message": "Ready says",
        }
    ]


def test_the_not_ready_list_is_bounded_but_the_count_is_not() -> None:
    objects = [("ns", f"o{i:03}", _status(Ready="False")) for i in range(100)]
    counts = condition_counts("ScaledJob", objects)
    assert counts["notReady"] == 100
    assert [e["name"] for e in counts["errors"]] == [f"o{i:03}" for i in range(20)]


def test_lateness_per_type() -> None:
    summary = lateness_summary([("scaledobject", 0.5), ("scaledobject", 1.5), ("scaledjob", 0.0)])
    assert summary == {
        "scaledjob": {"objects": 1, "maxSeconds": 0.0, "meanSeconds": 0.0},
        "scaledobject": {"objects": 2, "maxSeconds": 1.5, "meanSeconds": 1.0},
    }
    assert lateness_summary([]) == {}


def test_watchdog_fires_only_when_a_loop_with_work_stops_moving() -> None:
    dog = LoopWatchdog("poll loop", limit_seconds=60)
    assert dog.check(0, 5, has_work=True) is None
    assert dog.check(59, 5, has_work=True) is None
    assert dog.check(61, 5, has_work=True) == "poll loop stuck: no progress for 61s (limit 60s)"
    assert dog.check(62, 6, has_work=True) is None  # it moved: the clock restarts
    assert dog.check(200, 6, has_work=False) is None  # nothing to poll is not stuck
    assert dog.check(250, 6, has_work=True) is None
    assert dog.check(311, 6, has_work=True) is not None


@settings(deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e4), st.integers(0, 3), st.booleans()), max_size=40))
def test_watchdog_never_fires_within_its_limit_of_the_last_change(
    probes: list[tuple[float, int, bool]],
) -> None:
    dog = LoopWatchdog("loop", limit_seconds=30)
    now, last_change, count = 0.0, 0.0, None
    for step, value, work in probes:
        now += step
        if value != count or not work:
            last_change, count = now, value
        fired = dog.check(now, value, has_work=work)
        assert (fired is not None) == (now - last_change > 30)


def test_text_puts_health_first_and_lists_errors() -> None:
    document = {
        "version": "1.2.3",
        "role": "active",
        "health": {"live": True, "ready": False, "problems": ["metrics API failed"]},
        "objects": {
            "ScaledObject": condition_counts(
                "ScaledObject",
                [("a", "x", _status(Ready="False")), ("a", "y", _status(Ready="True"))],
            )
        },
        "lateness": lateness_summary([("scaledobject", 0.25)]),
        "nodes": {
            "passes": 7,
            "groups": [
                {"name": "g1", "min": 1, "max": 5, "target": 2, "backoff": None},
                {"name": "g2", "min": 0, "max": 3, "target": 0, "backoff": "OutOfResource"},
            ],
        },
    }
    assert render_text(document).splitlines() == [
        "podscaler 1.2.3 (active): live, NOT READY",
        "  ! metrics API failed",
        "managed:",
        "  ScaledObject         2 total, 1 ready, 0 active, 0 fallback, 0 paused, 1 NOT READY",
        "scale loop lateness (last poll of each object):",
        "  scaledobject         worst 0.250s, mean 0.250s over 1 objects",
        "node autoscaler: 7 passes",
        "  g1                   2 nodes (min 1, max 5)",
        "  g2                   0 nodes (min 0, max 3), BACKED OFF (OutOfResource)",
        "not ready:",
        "  ScaledObject a/x: ReadyReason: Ready says",
    ]
