"""The priority expander's ConfigMap: parsed into rules or into an error value the controller
keeps the last good configuration over; never an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.nodes.expanders import ExpansionOption, choose, priority_filter
from podscaler.nodes.plans import ClusterEvent
from podscaler.nodes.priority import (
    PriorityConfig,
    PriorityConfigError,
    parse_priorities,
    priorities_from_configmap,
)

CONFIG = """
10:
  - ".*spot.*"
1:
  - ".*on-demand.*"
"""


def option(group: str, nodes: int = 1, cpu_per_node: int = 1000) -> ExpansionOption:
    return ExpansionOption(group, nodes, nodes, cpu_per_node * nodes, 2**30 * nodes, 4000, 2**33)


def test_highest_matching_priority_wins_and_unmatched_groups_are_dropped() -> None:
    config = parse_priorities(CONFIG)
    assert isinstance(config, PriorityConfig)
    events: list[ClusterEvent] = []
    kept = priority_filter(
        [option("asg-spot-a"), option("asg-on-demand"), option("gpu")], config, events
    )
    assert [o.group for o in kept] == ["asg-spot-a"]
    assert [e.reason for e in events] == ["PriorityConfigMapNotMatchedGroup"]


def test_a_chain_falls_back_when_the_preferred_group_is_not_an_option() -> None:
    import random

    config = parse_priorities(CONFIG)
    choice = choose(
        [option("asg-on-demand-a", 3), option("asg-on-demand-b", 2, cpu_per_node=3000)],
        ("priority", "least-waste"),
        rng=random.Random(0),
        priorities=config,
    )
    assert choice.best is not None
    assert choice.best.group == "asg-on-demand-b"
    assert choice.dropped_by == {"asg-on-demand-a": "least-waste"}


def test_invalid_configurations_are_values_with_cas_wording() -> None:
    bad = parse_priorities("10: [unclosed")
    assert isinstance(bad, PriorityConfigError)
    assert bad.message.startswith("Wrong configuration for priority expander: Can't parse YAML")
    regex = parse_priorities('10: ["(a"]')
    assert isinstance(regex, PriorityConfigError)
    assert "Can't compile regexp rule" in regex.message
    lookaround = parse_priorities('10: ["(?=a)"]')
    assert isinstance(lookaround, PriorityConfigError)
    missing = priorities_from_configmap({"data": {}})
    assert isinstance(missing, PriorityConfigError)
    assert "doesn't contain priorities" in missing.message
    events: list[ClusterEvent] = []
    assert len(priority_filter([option("a"), option("b")], bad, events)) == 2
    assert events[0].reason == "PriorityConfigMapInvalid"


@settings(deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_is_an_error_value(text: str) -> None:
    result = parse_priorities(text)
    assert isinstance(result, PriorityConfig | PriorityConfigError)


@settings(deadline=None)
@given(
    st.dictionaries(
        st.integers(-5, 100),
        st.lists(st.from_regex(r"[a-z.*\\-]{0,8}", fullmatch=True), max_size=3),
    )
)
def test_wellformed_configurations_parse(rules: dict[int, list[str]]) -> None:
    import json

    text = "\n".join(f"{k}: {json.dumps(v)}" for k, v in rules.items()) or "{}"
    result = parse_priorities(text)
    if isinstance(result, PriorityConfigError):
        assert "compile" in result.message  # only a bad regex may fail
