"""The embedded API server against the differential suite (``apiserver_cases.yaml``).

Prints the match percentage and every difference. Fails when a case outside the file's
``known_differences`` differs (a regression), and when a known difference has started to
match (so the list only shrinks, and the percentage it implies stays true).
"""

from __future__ import annotations

import pytest
import yaml

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


def test_record_keeps_run_dependent_values_out_of_the_expectations() -> None:
    uid0 = "0d6c1d7e-5f1a-4c43-9a43-2b1f1d2a9c10"
    answer = runner.Answer(
        201,
        {
            "kind": "ConfigMap",
            "metadata": {
                "name": "cm",
                "namespace": "diff-7",
                "uid": "4b0a1e86-14f8-4a4e-9c5e-6c0e0c7f1f11",
                "resourceVersion": "812",
                "ownerReferences": [{"name": "o", "uid": uid0}],
                "labels": {"kubernetes.io/metadata.name": "diff-7"},
            },
            "spec": {
                "clusterIP": "10.96.4.2",
                "x": "a generated 9f3c2a77-1d2b-4c5e-8f9a-0b1c2d3e4f50",
            },
        },
        {"Content-Type": "application/json"},
    )
    expect = {
        "code": 200,
        "fields": {
            "/kind": "Pod",
            "/metadata/uid": "x",
            "/metadata/resourceVersion": "1",
            "/metadata/namespace": "$ns",
            "/metadata/ownerReferences/0/uid": "x",
            "/metadata/labels": {},
            "/spec/clusterIP": "x",
            "/spec/x": "x",
            "/spec/gone": 1,
        },
        "present": ["/status"],
        "absent": ["/metadata/name"],
        "headers": {"content-type": "text/plain"},
    }
    out = runner.record(expect, answer, "diff-7", {uid0: "$uid0"})
    assert out["code"] == 201
    assert out["fields"] == {
        "/kind": "ConfigMap",
        "/metadata/namespace": "$ns",
        "/metadata/ownerReferences/0/uid": "$uid0",
        "/metadata/labels": {"kubernetes.io/metadata.name": "$ns"},
    }
    assert set(out["present"]) == {
        "/metadata/name",
        "/metadata/uid",
        "/metadata/resourceVersion",
        "/spec/clusterIP",
        "/spec/x",
    }
    assert set(out["absent"]) == {"/status", "/spec/gone"}
    assert out["headers"] == {"content-type": "application/json"}
    # What was recorded matches the answer it was recorded from (step 0 had uid0).
    earlier = runner.Answer(201, {"metadata": {"uid": uid0}}, {})
    assert runner.compare(runner._substitute(out, "diff-7", [earlier, answer]), answer) == []


def test_dump_round_trips_and_keeps_the_template_anchors() -> None:
    data = runner.load()
    text = runner.dump(data)
    assert text.startswith("# The API server differential suite")
    assert yaml.safe_load(text) == data
    assert "body: *deployment" in text
    assert "deployment: &deployment" in text
    assert "&id" not in text
