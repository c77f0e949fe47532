"""Conditions: lastTransitionTime moves only when status changes; the input is never mutated."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from podscaler.api.timestamps import format_time
from podscaler.kube.statuses import get_condition, set_condition

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def test_new_condition_is_appended_with_now_as_transition_time() -> None:
    conditions = set_condition(
        [
            {
                "type": "Active",
                "status": "False",
                "reason": "X",
                "message": "",
                "lastTransitionTime": "2020-01-01T00:00:00Z",
            }
        ],
        type_="Ready",
        status="True",
        reason="ScaledObjectReady",
        message="ok",
        now=T0,
    )
    assert [c["type"] for c in conditions] == ["Active", "Ready"]
    assert conditions[1] == {
        "type": "Ready",
        "status": "True",
        "reason": "ScaledObjectReady",
        "message": "ok",
        "lastTransitionTime": "2026-01-02T03:04:05Z",
    }


def test_same_status_keeps_transition_time_but_updates_reason_and_message() -> None:
    first = set_condition(None, type_="Ready", status="True", reason="A", message="a", now=T0)
    second = set_condition(first, type_="Ready", status="True", reason="B", message="b", now=T1)
    assert second[0]["lastTransitionTime"] == format_time(T0)
    assert (second[0]["reason"], second[0]["message"]) == ("B", "b")


def test_status_change_moves_transition_time() -> None:
    first = set_condition(None, type_="Ready", status="True", reason="A", message="", now=T0)
    second = set_condition(first, type_="Ready", status="False", reason="B", message="", now=T1)
    assert second[0]["lastTransitionTime"] == format_time(T1)
    assert second[0]["status"] == "False"


def test_input_is_not_mutated_and_order_is_kept() -> None:
    original = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "A",
            "message": "",
            "lastTransitionTime": "2020-01-01T00:00:00Z",
        },
        {
            "type": "Active",
            "status": "True",
            "reason": "A",
            "message": "",
            "lastTransitionTime": "2020-01-01T00:00:00Z",
        },
    ]
    before = copy.deepcopy(original)
    out = set_condition(
        original,
        type_="Ready",
        status="False",
        reason="B",
        message="m",
        now=T1,
        observed_generation=7,
    )
    assert original == before
    assert [c["type"] for c in out] == ["Ready", "Active"]
    assert out[0]["observedGeneration"] == 7


def test_missing_transition_time_is_filled() -> None:
    out = set_condition(
        [{"type": "Ready", "status": "True"}],
        type_="Ready",
        status="True",
        reason="A",
        message="",
        now=T0,
    )
    assert out[0]["lastTransitionTime"] == format_time(T0)


def test_get_condition() -> None:
    conditions = set_condition(None, type_="Ready", status="True", reason="A", message="", now=T0)
    assert get_condition(conditions, "Ready") == conditions[0]
    assert get_condition(conditions, "Active") is None
    assert get_condition(None, "Ready") is None
