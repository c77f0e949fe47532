"""Field ownership and server-side apply (``podscaler.sim.apiserver.managedfields``)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.sim.apiserver import managedfields
from podscaler.sim.apiserver.errors import BadRequest, Conflict, Invalid

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


# --------------------------------------------------------------------------- keyed lists


def _deploy(*containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": list(containers)}}},
    }


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(obj["spec"]["template"]["spec"]["containers"])


def _owners(obj: dict[str, Any]) -> dict[str, Any]:
    return {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


def test_containers_merge_by_name_and_each_manager_owns_its_own() -> None:
    obj = _apply(None, _deploy({"name": "a", "image": "a:1"}), "alice")
    obj = _apply(obj, _deploy({"name": "b", "image": "b:1"}), "bob")
    assert [c["name"] for c in _containers(obj)] == ["a", "b"]
    containers = _owners(obj)["bob"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers == {'k:{"name":"b"}': {".": {}, "f:image": {}, "f:name": {}}}
    with pytest.raises(Conflict) as err:
        _apply(obj, _deploy({"name": "a", "image": "a:2"}), "bob")
    assert 'conflict with "alice": .spec.template.spec.containers[name="a"].image' in str(err.value)
    # alice stops applying her container: it goes, bob's stays
    obj = _apply(obj, _deploy(), "alice")
    assert [c["name"] for c in _containers(obj)] == ["b"]


def test_env_merges_by_name_and_ports_by_port_and_protocol() -> None:
    live = {
        "name": "a",
        "image": "a:1",
        "env": [{"name": "A", "value": "1"}],
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
    }
    obj = _apply(None, _deploy(live), "alice")
    # bob's port without a protocol is the same item (the key's default is TCP): shared
    mine = {"name": "a", "env": [{"name": "B", "value": "2"}], "ports": [{"containerPort": 80}]}
    obj = _apply(obj, _deploy(mine), "bob")
    (container,) = _containers(obj)
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    owned = managedfields.decode(_owners(obj)["bob"])
    assert (
        "f:spec",
        "f:template",
        "f:spec",
        "f:containers",
        'k:{"name":"a"}',
        "f:ports",
        'k:{"containerPort":80,"protocol":"TCP"}',
        ".",
    ) in owned
    # alice drops env A from her intent: removed; B (bob's) stays
    live.pop("env")
    obj = _apply(obj, _deploy(live), "alice")
    assert _containers(obj)[0]["env"] == [{"name": "B", "value": "2"}]


def test_an_update_takes_one_containers_field_and_leaves_the_rest() -> None:
    obj = _apply(None, _deploy({"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}), "al")
    new = copy.deepcopy(obj)
    _containers(new)[1]["image"] = "b:2"
    managedfields.record_update(obj, new, "kubectl-set", "apps/v1", NOW)
    owners = {k: managedfields.decode(v) for k, v in _owners(new).items()}
    base = ("f:spec", "f:template", "f:spec", "f:containers")
    assert owners["kubectl-set"] == {(*base, 'k:{"name":"b"}', "f:image")}
    assert (*base, 'k:{"name":"b"}', "f:name") in owners["al"]
    assert (*base, 'k:{"name":"b"}', "f:image") not in owners["al"]


def test_updates_edit_only_the_entries_they_concern() -> None:
    obj = _apply(None, _cm(a="1"), "alice")
    obj["metadata"]["managedFields"].append(
        {
            "manager": "bob",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2026-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:b": {}}},
        }
    )
    obj["data"]["b"] = "2"
    same = copy.deepcopy(obj)
    managedfields.record_update(obj, same, "bob", "v1", NOW)
    # a write that changes nothing keeps managedFields, time included (no new version)
    assert same["metadata"]["managedFields"] == obj["metadata"]["managedFields"]
    new = copy.deepcopy(obj)
    new["data"]["b"] = "3"
    managedfields.record_update(obj, new, "bob", "v1", NOW)
    alice_before, _bob_before = obj["metadata"]["managedFields"]
    alice_after, bob_after = new["metadata"]["managedFields"]
    assert alice_after["fieldsV1"] is alice_before["fieldsV1"]  # not walked, not copied
    assert (bob_after["fieldsV1"], bob_after["time"]) == ({"f:data": {"f:b": {}}}, NOW)


_values = st.sampled_from(["1", "2"])
_containers_st = st.lists(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["a", "b", "c"]), "image": _values},
        optional={
            "env": st.lists(
                st.fixed_dictionaries({"name": st.sampled_from(["X", "Y"]), "value": _values}),
                max_size=2,
            )
        },
    ),
    max_size=3,
)
_objects = st.fixed_dictionaries(
    {
        "metadata": st.fixed_dictionaries(
            {"name": st.just("web")},
            optional={"labels": st.dictionaries(st.sampled_from(["p", "q"]), _values)},
        ),
        "spec": st.fixed_dictionaries(
            {"template": st.fixed_dictionaries({"spec": st.fixed_dictionaries({})})},
            optional={"replicas": st.integers(0, 2)},
        ),
    }
).flatmap(
    lambda o: _containers_st.map(
        lambda cs: {**o, "spec": {**o["spec"], "template": {"spec": {"containers": cs}}}}
    )
)


@settings(deadline=None, max_examples=150)
@given(st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3"]), _objects), min_size=1, max_size=6))
def test_update_histories_keep_ownership_consistent(writes: list[tuple[str, Any]]) -> None:
    """Whatever the writes: every owned path exists, no two entries own the same path, and
    every field of the object is owned (by it or by a prefix owned whole)."""
    obj: dict[str, Any] | None = None
    for manager, body in writes:
        new = copy.deepcopy(body)
        managedfields.record_update(obj, new, manager, "apps/v1", NOW)
        obj = new
        owned = [
            managedfields.decode(e["fieldsV1"]) for e in obj["metadata"].get("managedFields", [])
        ]
        seen: set[tuple[str, ...]] = set()
        for paths in owned:
            assert not seen & paths
            seen |= paths
            for path in paths:
                assert managedfields._get(obj, path) is not managedfields._ABSENT, path
        for leaf in managedfields.leaves(obj):
            assert any(leaf[: len(p)] == p for p in seen), leaf


@settings(deadline=None, max_examples=150)
@given(_objects)
def test_a_creates_ownership_is_every_leaf(obj: dict[str, Any]) -> None:
    new = copy.deepcopy(obj)
    managedfields.record_update(None, new, "m", "apps/v1", NOW)
    (entry,) = new["metadata"]["managedFields"]
    assert managedfields.decode(entry["fieldsV1"]) == set(managedfields.leaves(obj))


@settings(deadline=None, max_examples=150)
@given(
    st.lists(
        st.tuples(st.sampled_from(["m1", "m2"]), _objects, st.booleans()), min_size=1, max_size=5
    )
)
def test_apply_histories_hold_each_intent(applies: list[tuple[str, Any, bool]]) -> None:
    """After an apply that succeeds, every field it applied has the applied value, and every
    owned path exists; a refused one (409) changes nothing."""
    obj: dict[str, Any] | None = None
    for manager, config, force in applies:
        try:
            result = _apply(obj, copy.deepcopy(config), manager, force=force)
        except Conflict:
            assert not force
            continue
        except BadRequest:
            names = [c["name"] for c in config["spec"]["template"]["spec"]["containers"]]
            envs = [
                [e["name"] for e in c.get("env", [])]
                for c in config["spec"]["template"]["spec"]["containers"]
            ]
            duplicated = [n for n in [names, *envs] if len(set(n)) < len(n)]
            assert duplicated, "refused without a duplicate key"
            continue
        for path in managedfields.leaves(config):
            value = managedfields._get(config, path)
            if not isinstance(value, dict | list):  # a merged list keeps others' items
                assert managedfields._get(result, path) == value, path
        for entry in result["metadata"].get("managedFields", []):
            for path in managedfields.decode(entry["fieldsV1"]):
                assert managedfields._get(result, path) is not managedfields._ABSENT, path
        obj = result
