"""Field ownership and server-side apply (``podscaler.sim.apiserver.managedfields``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.sim.apiserver import managedfields
from podscaler.sim.apiserver.errors import Conflict, Invalid

NOW = "2026-01-02T03:04:05Z"


def _apply(
    current: dict[str, Any] | None, config: dict[str, Any], manager: str, *, force: bool = False
) -> dict[str, Any]:
    return managedfields.apply(
        current,
        config,
        manager=manager,
        force=force,
        api_version="v1",
        now=NOW,
        kind="configmaps",
        name="cm",
    )


def _cm(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": data}


def test_apply_records_the_manager_and_its_fields() -> None:
    obj = _apply(None, _cm(a="1"), "alice")
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["manager"] == "alice"
    assert entry["operation"] == "Apply"
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_conflicts_unless_forced_and_same_values_are_shared() -> None:
    obj = _apply(None, _cm(a="1"), "alice")
    with pytest.raises(Conflict, match=re.escape('conflict with "alice": .data.a')):
        _apply(obj, _cm(a="2"), "bob")
    shared = _apply(obj, _cm(a="1"), "bob")
    assert [e["manager"] for e in shared["metadata"]["managedFields"]] == ["alice", "bob"]
    forced = _apply(obj, _cm(a="2"), "bob", force=True)
    assert forced["data"] == {"a": "2"}
    owners = {e["manager"]: e["fieldsV1"] for e in forced["metadata"]["managedFields"]}
    assert owners == {"bob": {"f:data": {"f:a": {}}}}


def test_fields_a_manager_stops_applying_are_removed_unless_others_own_them() -> None:
    obj = _apply(None, _cm(a="1", b="2"), "alice")
    obj = _apply(obj, _cm(b="2"), "bob")
    obj = _apply(obj, _cm(), "alice")
    assert obj["data"] == {"b": "2"}


def test_a_manager_is_required() -> None:
    with pytest.raises(Invalid, match="fieldManager"):
        _apply(None, _cm(), "")


def test_an_update_takes_over_the_fields_it_changes() -> None:
    obj = _apply(None, _cm(a="1", b="2"), "alice")
    new = {**obj, "data": {"a": "9", "b": "2"}}
    managedfields.record_update(obj, new, "kubectl-edit", "v1", NOW)
    owners = {e["manager"]: e["fieldsV1"] for e in new["metadata"]["managedFields"]}
    assert owners == {"alice": {"f:data": {"f:b": {}}}, "kubectl-edit": {"f:data": {"f:a": {}}}}


def test_manager_defaults_to_the_user_agent_program() -> None:
    assert managedfields.manager_of({}, "kubectl/v1.32.0 (linux/amd64)") == "kubectl"
    assert managedfields.manager_of({"fieldManager": "x"}, "kubectl/v1") == "x"


names = st.text(alphabet="abcxyz.-/", min_size=1, max_size=4)
paths = st.sets(st.lists(names, min_size=1, max_size=4).map(tuple), max_size=8)


@settings(deadline=None, max_examples=200)
@given(paths)
def test_fields_v1_round_trips_prefix_free_path_sets(given_paths: set[tuple[str, ...]]) -> None:
    # A FieldsV1 set never holds a path and one of its prefixes (a leaf has no children).
    leaves = {p for p in given_paths if not any(q != p and q[: len(p)] == p for q in given_paths)}
    assert managedfields.decode(managedfields.encode(leaves)) == leaves
