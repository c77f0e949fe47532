"""The status ConfigMap's text rendered from a template equals a fresh dump, pass after pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.controllers.nodes.status import (
    StatusTemplate,
    _scalar,
    dump,
    format_status_time,
)

pytestmark = pytest.mark.filterwarnings("error")


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _document(moment: datetime, since: datetime, status: str, candidates: int) -> dict[str, Any]:
    probe = _rfc3339(moment)
    condition = {"status": status, "lastProbeTime": probe, "lastTransitionTime": _rfc3339(since)}
    return {
        "time": format_status_time(moment),
        "autoscalerStatus": "Running",
        "clusterWide": {
            "health": {**condition, "nodeCounts": {"registered": {"total": 2, "ready": 2}}},
            "scaleDown": {"status": "CandidatesPresent", "candidates": candidates, **condition},
        },
        "nodeGroups": [{"name": "web", "scaleUp": dict(condition)}],
    }


START = datetime(2026, 12, 7, tzinfo=UTC)


@settings(deadline=None, max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0.001, max_value=86_400.0),
            st.sampled_from(["Healthy", "Unhealthy"]),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_each_pass_renders_what_a_fresh_dump_writes(passes: list[tuple[float, str, int]]) -> None:
    template = StatusTemplate()
    moment = START
    last_essence: Any = None
    last: tuple[str, int] | None = None
    for step, status, candidates in passes:
        moment += timedelta(seconds=step)
        document = _document(moment, START, status, candidates)
        template.update(document)
        assert template.text() == dump(document)
        # the essence is replaced exactly when something besides the probe times changed
        assert (template.essence is not last_essence) == ((status, candidates) != last)
        last_essence, last = template.essence, (status, candidates)


def test_a_document_with_two_probe_times_is_dumped_as_it_is() -> None:
    document = _document(START, START, "Healthy", 1)
    document["nodeGroups"][0]["scaleUp"]["lastProbeTime"] = "2026-12-06T00:00:00Z"
    template = StatusTemplate()
    template.update(document)
    assert template.text() == dump(document)


@settings(deadline=None, max_examples=200)
@given(
    st.datetimes(
        min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    )
)
def test_probe_times_are_written_as_the_emitter_writes_them(moment: datetime) -> None:
    """The shortcut for the two probe-time formats gives the emitter's text, quoting included."""
    for value in (_rfc3339(moment), format_status_time(moment)):
        assert _scalar(value) == dump({"k": value})[3:].rstrip("\n")


@pytest.mark.parametrize("value", ["plain", "2026-12-07", "yes", "12:30", "2026-12-07T00:00:00"])
def test_other_values_still_go_through_the_emitter(value: str) -> None:
    assert _scalar(value) == dump({"k": value})[3:].rstrip("\n")
