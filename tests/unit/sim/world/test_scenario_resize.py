"""Node group resizes in scenarios (``nodeGroups[].resize``) and the story 7 built-in."""

from __future__ import annotations

import re

import pytest

from podscaler.sim.scenarios.scenario import (
    OPERATOR_FEATURES,
    GroupResize,
    ScenarioError,
    load_scenario,
    parse_scenario,
)


def test_resizes_parse_in_time_order() -> None:
    scenario = parse_scenario(
        {
            "nodeGroups": [
                {"name": "a", "min": 1, "max": 6, "resize": [{"at": "15m", "size": 4}]},
                {"name": "b", "max": 3, "resize": [{"at": 60, "size": 3}]},
            ]
        }
    )
    assert scenario.resizes == (GroupResize("b", 60.0, 3), GroupResize("a", 900.0, 4))


@pytest.mark.parametrize(
    ("resize", "field"),
    [
        ([{"at": "5m"}], "nodeGroups[0].resize[0]"),
        ([{"at": "5m", "size": 9}], "nodeGroups[0].resize[0].size"),
        ([{"at": "5m", "size": 0}], "nodeGroups[0].resize[0].size"),
        ([{"at": "soon", "size": 2}], "nodeGroups[0].resize[0].at"),
        ([{"at": "5m", "size": 2, "why": "x"}], "nodeGroups[0].resize[0]"),
        ({"at": "5m", "size": 2}, "nodeGroups[0].resize"),
    ],
)
def test_resize_mistakes_name_their_field(resize: object, field: str) -> None:
    document = {"nodeGroups": [{"name": "g", "min": 1, "max": 6, "resize": resize}]}
    with pytest.raises(ScenarioError, match=f"^{re.escape(field)}"):
        parse_scenario(document)


def test_story_seven_builtin() -> None:
    scenario = load_scenario("cpa-ladder")
    assert set(scenario.features) & OPERATOR_FEATURES == {"proportional-controller"}
    assert [(r.at_seconds, r.size) for r in scenario.resizes] == [(300.0, 5), (900.0, 4)]
    kinds = [obj["kind"] for obj in scenario.objects]
    assert kinds == ["ProportionalScaler", "ConfigMap", "ProportionalScaler"]
    ladder = scenario.objects[0]["spec"]["ladder"]["nodesToReplicas"]
    assert ladder == [[1, 1], [2, 2], [3, 3], [4, 3], [5, 5]]
