"""The embedded API server against the differential suite (``apiserver_cases.yaml``).

Prints the match percentage and every difference. Fails when a case outside the file's
``known_differences`` differs (a regression), and when a known difference has started to
match (so the list only shrinks, and the percentage it implies stays true).
"""

from __future__ import annotations

import pytest

from podscaler.sim.apiserver.server import ApiServer
from tests.differential import runner


async def test_embedded_server_matches_the_recorded_answers(
    apiserver: ApiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data = runner.load()
    outcomes = await runner.run(apiserver.url, apiserver.token)
    with capsys.disabled():
        print("\n" + runner.report(outcomes))
    known = set(data.get("known_differences") or [])
    names = [case["name"] for case in data["cases"]]
    assert len(names) == len(set(names)), "case names must be unique"
    assert known <= set(names), f"unknown names in known_differences: {known - set(names)}"
    regressions = [o.name for o in outcomes if not o.matched and o.name not in known]
    fixed = [o.name for o in outcomes if o.matched and o.name in known]
    assert not regressions, f"cases that now differ: {regressions}"
    assert not fixed, f"cases that match now, remove them from known_differences: {fixed}"


def test_compare_reports_each_kind_of_difference() -> None:
    answer = runner.Answer(
        409,
        {"reason": "Conflict", "a": {"b": [1, {"c": "x"}]}, "u": "1", "w": "2"},
        {"Warning": '299 - "unknown field"'},
    )
    assert (
        runner.compare(
            {
                "code": 409,
                "reason": "Conflict",
                "fields": {"/a/b/0": 1},
                "absent": ["/z"],
                "present": ["/a/b/1/c"],
                "contains": {"/a/b": {"c": "x"}},
                "warning": "unknown field",
            },
            answer,
        )
        == []
    )
    diffs = runner.compare(
        {
            "code": 200,
            "reason": "Invalid",
            "fields": {"/a/b/0": 2, "/q": 1},
            "absent": ["/a"],
            "present": ["/nope"],
            "same": {"/u": "/w"},
            "contains": {"/a/b": {"c": "y"}},
            "warning": "other",
        },
        answer,
    )
    assert len(diffs) == 9, diffs
