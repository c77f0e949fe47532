"""``fieldValidation``'s two findings: fields sent twice in a JSON body, and nested fields a
built-in kind's typed decoding would not know (``bodies.duplicate_fields``,
``knownfields``, ``requestoptions.drop_unknown_fields``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.sim.apiserver.bodies import duplicate_fields
from podscaler.sim.apiserver.errors import BadRequest
from podscaler.sim.apiserver.requestoptions import drop_unknown_fields
from podscaler.sim.apiserver.resources import BUILTIN

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=20,
)


@settings(deadline=None)
@given(_json)
def test_a_body_without_repeated_keys_has_no_duplicates(value: Any) -> None:
    assert duplicate_fields(json.dumps(value).encode()) == []


@settings(deadline=None)
@given(
    st.dictionaries(st.from_regex(r"k[a-z]{0,3}", fullmatch=True), _json, min_size=1, max_size=4)
)
def test_a_key_sent_twice_is_named_with_its_path(inner: dict[str, Any]) -> None:
    key = next(iter(inner))
    text = json.dumps({"spec": {"list": [{}, inner]}})
    # Repeat the first key of the inner object: the decoder keeps the last one.
    doubled = text.replace(
        json.dumps(key) + ":", json.dumps(key) + ": 1, " + json.dumps(key) + ":", 1
    )
    assert duplicate_fields(doubled.encode()) == [f"spec.list[1].{key}"]


def test_not_json_has_no_duplicates() -> None:
    assert duplicate_fields(b"{not json") == []


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicaz": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "c", "image": "nginx", "imagePullPolicyy": "Always"}],
                    "affinity": {"anything": {"goes": 1}},
                },
            },
        },
    }


def _rt(kind: str) -> Any:
    return next(rt for rt in BUILTIN if rt.kind == kind)


def test_warn_drops_nested_unknown_fields_and_names_them() -> None:
    obj = _deployment()
    warnings = drop_unknown_fields(_rt("Deployment"), obj, "Warn", ["metadata.name"])
    assert warnings == [
        'duplicate field "metadata.name"',
        'unknown field "spec.replicaz"',
        'unknown field "spec.template.spec.containers[0].imagePullPolicyy"',
    ]
    assert "replicaz" not in obj["spec"]
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container == {"name": "c", "image": "nginx"}
    # A struct the table does not describe is kept as sent.
    assert obj["spec"]["template"]["spec"]["affinity"] == {"anything": {"goes": 1}}


def test_strict_refuses_and_ignore_drops_silently() -> None:
    with pytest.raises(BadRequest, match=r'strict decoding error: unknown field "spec.replicaz"'):
        drop_unknown_fields(_rt("Deployment"), _deployment(), "Strict")
    obj = _deployment()
    assert drop_unknown_fields(_rt("Deployment"), obj, "Ignore") == []
    assert "replicaz" not in obj["spec"]
