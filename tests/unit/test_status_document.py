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
    vertical_counts,
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


def test_text_puts_health_first_then_errors() -> None:
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
        "not working:",
        "  ScaledObject a/x: ReadyReason: Ready says",
        "managed:",
        "  ScaledObject         2 total, 1 ready, 0 active, 0 fallback, 0 paused, 1 NOT READY",
        "scale loop lateness (last poll of each object):",
        "  scaledobject         worst 0.250s, mean 0.250s over 1 objects",
        "node autoscaler: 7 passes",
        "  g1                   2 nodes (min 1, max 5)",
        "  g2                   0 nodes (min 0, max 3), BACKED OFF (OutOfResource)",
    ]


def test_vertical_scalers_counted_by_their_conditions_failing_ones_listed() -> None:
    counts = vertical_counts(
        [
            ("b", "ok", _status(RecommendationProvided="True", LowConfidence="False")),
            ("b", "young", _status(RecommendationProvided="True", LowConfidence="True")),
            ("a", "waiting", _status(RecommendationProvided="False")),
            ("a", "nopods", _status(RecommendationProvided="False", NoPodsMatched="True")),
            (
                "a",
                "badspec",
                _status(ConfigUnsupported="True", RecommendationProvided="True"),
            ),
            ("a", "new", None),
        ]
    )
    assert {k: v for k, v in counts.items() if k != "errors"} == {
        "total": 6,
        "recommendationProvided": 3,
        "lowConfidence": 1,
        "noPodsMatched": 1,
        "configUnsupported": 1,
        "failing": 2,
        "pending": 2,
    }
    assert [(e["name"], e["reason"], e["message"]) for e in counts["errors"]] == [
        ("badspec", "ConfigUnsupportedReason", "ConfigUnsupported says"),
        ("nopods", "NoPodsMatchedReason", "NoPodsMatched says"),
    ]
    assert {e["kind"] for e in counts["errors"]} == {"VerticalScaler"}


@settings(deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(
                ["RecommendationProvided", "LowConfidence", "NoPodsMatched", "ConfigUnsupported"]
            ),
            st.sampled_from(["True", "False", "Unknown"]),
        ),
        max_size=30,
    )
)
def test_every_vertical_scaler_is_failing_pending_or_recommending(
    statuses: list[dict[str, str]],
) -> None:
    counts = vertical_counts((("ns", f"v{i}", _status(**c)) for i, c in enumerate(statuses)))
    recommending_ok = sum(
        1
        for c in statuses
        if c.get("RecommendationProvided") == "True"
        and "True" not in (c.get("NoPodsMatched"), c.get("ConfigUnsupported"))
    )
    assert counts["total"] == len(statuses)
    assert counts["failing"] + counts["pending"] + recommending_ok == len(statuses)
    assert len(counts["errors"]) == min(counts["failing"], 20)


def test_text_shows_the_vertical_scalers_and_their_updater() -> None:
    document = {
        "version": "1.2.3",
        "role": "active",
        "health": {"live": True, "ready": True, "problems": []},
        "objects": {
            "VerticalScaler": vertical_counts(
                [
                    (
                        "shop",
                        "hamster",
                        _status(RecommendationProvided="True", LowConfidence="True"),
                    ),
                    (
                        "shop",
                        "ghost",
                        _status(RecommendationProvided="False", NoPodsMatched="True"),
                    ),
                ]
            )
        },
        "vertical": {
            "recommender": {"passes": 12, "samples": 340, "ooms": 1},
            "updater": {"evictions": 4, "refused": 1, "resizes": 2},
        },
    }
    assert render_text(document).splitlines() == [
        "podscaler 1.2.3 (active): live, ready",
        "not working:",
        "  VerticalScaler shop/ghost: NoPodsMatchedReason: NoPodsMatched says",
        "managed:",
        "  VerticalScaler       2 total, 1 recommending, 1 low confidence, 1 NOT WORKING",
        "vertical recommender: 12 passes, 340 usage samples, 1 OOM kills",
        "  updater: 4 pods evicted, 2 resized in place, 1 evictions REFUSED",
    ]
    document["vertical"]["updater"]["inPlaceInfeasible"] = 3
    assert render_text(document).splitlines()[-1] == (
        "  updater: 4 pods evicted, 2 resized in place, 1 evictions REFUSED, "
        "3 held (InPlace, resize infeasible)"
    )
    document["vertical"]["updater"] = None
    assert render_text(document).splitlines()[-1] == "  updater off (recommendations only)"
    document["vertical"]["problem"] = (
        "no usage from metrics.k8s.io (503); is metrics-server running?"
    )
    assert render_text(document).splitlines()[1:3] == [
        "not working:",
        "  vertical recommender: no usage from metrics.k8s.io (503); is metrics-server running?",
    ]


def test_text_shows_the_shard_members_what_they_own_and_handovers() -> None:
    document = {
        "version": "1.2.3",
        "role": "active",
        "health": {"live": True, "ready": True, "problems": []},
        "objects": {},
        "shard": {
            "identity": "op-b",
            "owning": True,
            "objects": 60,
            "polling": 31,
            "forwarded": 0,
            "members": [
                {
                    "identity": "op-a",
                    "self": False,
                    "address": "10.0.0.1:6443",
                    "owns": 29,
                    "renewedSecondsAgo": 0.8,
                    "leaseDurationSeconds": 15.0,
                },
                {
                    "identity": "op-b",
                    "self": True,
                    "address": "",
                    "owns": 31,
                    "renewedSecondsAgo": 1.25,
                    "leaseDurationSeconds": 15.0,
                },
            ],
            "handovers": [
                {
                    "at": "2026-12-07T04:01:02.123456+00:00",
                    "joined": [],
                    "left": ["op-c"],
                    "members": 2,
                    "owning": True,
                    "moved": 20,
                    "released": 0,
                    "taken": 11,
                },
                {
                    "at": "2026-12-07T04:00:00+00:00",
                    "joined": ["op-a", "op-b", "op-c"],
                    "left": [],
                    "members": 3,
                    "owning": False,
                    "moved": 0,
                    "released": 0,
                    "taken": 0,
                },
                {
                    "at": "2026-12-07T03:59:00+00:00",
                    "joined": [],
                    "left": ["op-b"],
                    "members": 0,
                    "owning": False,
                    "moved": 0,
                    "released": 31,
                    "taken": 0,
                },
            ],
        },
    }
    assert render_text(document).splitlines()[3:] == [
        "shard: 2 members, 60 ScaledObjects; this replica op-b: owning, polls 31",
        "  op-a   owns    29   Lease renewed 0.8s ago (lasts 15s)   metrics API at 10.0.0.1:6443",
        "  op-b * owns    31   Lease renewed 1.2s ago (lasts 15s)",
        "recent handovers (newest first):",
        "  2026-12-07T04:01:02  left op-c: 2 members, 20 objects moved; here 11 taken, 0 released",
        "  2026-12-07T04:00:00  this replica joined; joined op-a, op-c: 3 members, "
        "0 objects moved; here 0 taken, 0 released",
        "  2026-12-07T03:59:00  this replica FENCED (no renewal in time): 0 members, "
        "0 objects moved; here 0 taken, 31 released",
    ]
