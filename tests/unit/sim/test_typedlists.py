"""A built-in kind's list items carry no kind/apiVersion (``typedlists.py``); a custom
resource's keep them; the store writes both first, so they are a prefix cut from the shared
bytes, and any other order still comes out right."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.sim.apiserver.entries import Entry
from podscaler.sim.apiserver.resources import ResourceTable, ResourceType
from podscaler.sim.apiserver.typedlists import set_type, typed_list

PODS = ResourceTable().get("", "v1", "pods")
assert PODS is not None
HEAD = b'{"kind":"PodList","apiVersion":"v1","metadata":{},"items":['


@settings(deadline=None, max_examples=200)
@given(st.lists(st.permutations(["kind", "apiVersion", "metadata", "spec", "status"]), max_size=5))
def test_items_lose_their_type_whatever_the_key_order(orders: list[list[str]]) -> None:
    entries = []
    for i, order in enumerate(orders):
        values = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": f"p{i}"},
            "spec": {"a": i},
            "status": {},
        }
        obj = {k: values[k] for k in order}
        if i % 2:
            set_type(obj, PODS)
            assert list(obj)[:2] == ["kind", "apiVersion"]
        entries.append(Entry(obj, i + 1))
    listed = json.loads(typed_list(HEAD, PODS, entries))
    assert listed["kind"] == "PodList"
    assert listed["items"] == [
        {"metadata": {"name": f"p{i}"}, "spec": {"a": i}, "status": {}} for i in range(len(orders))
    ]


def test_set_type_keeps_the_dict_and_its_other_keys_in_order() -> None:
    obj = {"metadata": {"name": "p"}, "spec": {}, "apiVersion": "wrong"}
    same = obj
    set_type(obj, PODS)
    assert same is obj
    assert list(obj) == ["kind", "apiVersion", "metadata", "spec"]
    assert obj["apiVersion"] == "v1"


def test_custom_resource_items_keep_their_type() -> None:
    widgets = ResourceType("example.com", "v1", "widgets", "Widget", True, custom=True)
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    listed = json.loads(typed_list(HEAD, widgets, [Entry(obj, 1)]))
    assert listed["items"] == [obj]


def test_an_empty_list_is_well_formed() -> None:
    assert json.loads(typed_list(HEAD, PODS, []))["items"] == []
    assert json.loads(typed_list(HEAD, replace(PODS, custom=True), []))["items"] == []
