"""Label selector grammar and matching, as the API server evaluates them."""

from __future__ import annotations

import pytest

from podscaler.kube.selectors import (
    Requirement,
    SelectorError,
    from_label_selector,
    matches,
    parse_selector,
)

LABELS = {"app": "web", "tier": "front", "env": "prod"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=api", False),
        ("app!=api", True),
        ("missing!=x", True),
        ("app=web,tier=back", False),
        ("tier in (front, back)", True),
        ("tier in (back)", False),
        ("tier notin (back,side),app", True),
        ("missing notin (x)", True),
        ("env", True),
        ("!env", False),
        ("!missing", True),
        ("app=web, tier in (front,back), !missing", True),
    ],
)
def test_string_selectors(selector: str, expected: bool) -> None:
    assert matches(parse_selector(selector), LABELS) is expected


def test_parse_shapes() -> None:
    assert parse_selector("a in (x,y),b") == (
        Requirement("a", "in", frozenset({"x", "y"})),
        Requirement("b", "exists"),
    )


@pytest.mark.parametrize("bad", ["a=b=c", "in (x)", "a in x", "=x"])
def test_bad_selectors_raise(bad: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(bad)


def test_structured_selector() -> None:
    requirements = from_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front"]},
                {"key": "gone", "operator": "DoesNotExist"},
            ],
        }
    )
    assert matches(requirements, LABELS)
    assert not matches(requirements, {**LABELS, "gone": "1"})
    with pytest.raises(SelectorError):
        from_label_selector({"matchExpressions": [{"key": "a", "operator": "Near"}]})
