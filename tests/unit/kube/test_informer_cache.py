"""The informer's pure parts: relist diffing and the namespace/label indexes."""

from __future__ import annotations

from typing import Any, cast

import pytest

from podscaler.kube.clients import Kube
from podscaler.kube.errors import Gone
from podscaler.kube.informers import Informer, diff_relist
from podscaler.kube.resources import Resource

PODS = Resource(group="", version="v1", plural="pods", kind="Pod", namespaced=True)


def pod(name: str, rv: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv, "labels": labels}}


def test_diff_relist_emits_adds_updates_and_deletes() -> None:
    cached = {
        ("default", "a"): pod("a", "1"),
        ("default", "b"): pod("b", "2"),
        ("default", "c"): pod("c", "3"),
    }
    listed = {
        ("default", "a"): pod("a", "1"),
        ("default", "b"): pod("b", "7"),
        ("default", "d"): pod("d", "8"),
    }
    changes = diff_relist(cached, listed)
    summary = sorted((c.type, c.obj["metadata"]["name"]) for c in changes)
    assert summary == [("add", "d"), ("delete", "c"), ("update", "b")]
    update = next(c for c in changes if c.type == "update")
    assert update.old is cached[("default", "b")]
    delete = next(c for c in changes if c.type == "delete")
    assert delete.obj is cached[("default", "c")]


def test_diff_relist_of_identical_state_is_empty() -> None:
    state = {("default", "a"): pod("a", "1")}
    assert diff_relist(state, dict(state)) == []


def informer() -> Informer:
    # The cache is exercised through watch events only; no request is ever sent.
    return Informer(cast(Kube, None), PODS)


def event(type_: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "object": obj}


def names(objs: list[dict[str, Any]]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


def test_indexes_follow_adds_label_changes_and_deletes() -> None:
    cache = informer()
    cache._on_event(event("ADDED", pod("a", "1", app="web", tier="front")))
    cache._on_event(event("ADDED", pod("b", "2", app="web", tier="back")))
    cache._on_event(event("ADDED", pod("c", "3", ns="other", app="api")))
    assert names(cache.by_namespace("default")) == ["a", "b"]
    assert names(cache.by_label("app", "web")) == ["a", "b"]
    assert names(cache.select("app=web,tier!=back")) == ["a"]
    assert names(cache.select("tier in (front,back)")) == ["a", "b"]
    assert names(cache.select("!tier")) == ["c"]
    assert names(cache.select("app", namespace="other")) == ["c"]

    cache._on_event(event("MODIFIED", pod("a", "4", app="api")))
    assert names(cache.by_label("app", "web")) == ["b"]
    assert names(cache.by_label("app", "api")) == ["a", "c"]
    assert cache.by_label("tier", "front") == []
    assert cache.get("default", "a") == pod("a", "4", app="api")

    cache._on_event(event("DELETED", pod("b", "5", app="web", tier="back")))
    assert cache.by_label("app", "web") == []
    assert names(cache.by_namespace("default")) == ["a"]
    assert cache.resource_version == "5"
    assert len(cache) == 2


def test_bookmark_only_moves_the_resource_version() -> None:
    cache = informer()
    cache._on_event(event("ADDED", pod("a", "1")))
    cache._on_event(event("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "99"}}))
    assert cache.resource_version == "99"
    assert names(cache.items()) == ["a"]


def test_error_event_with_410_raises_gone() -> None:
    cache = informer()
    status = {
        "kind": "Status",
        "status": "Failure",
        "code": 410,
        "reason": "Expired",
        "message": "too old resource version",
    }
    with pytest.raises(Gone) as caught:
        cache._on_event(event("ERROR", status))
    assert caught.value.status == 410
    assert caught.value.reason == "Expired"


def test_compact_drops_managed_fields_and_interns_keys() -> None:
    import json
    import sys

    from podscaler.kube.informers import compact

    text = json.dumps(
        {
            "metadata": {
                "name": "a",
                "managedFields": [{"manager": "kubectl"}],
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                    "autoscaling.keda.sh/paused": "true",
                },
            },
            "status": {"conditions": [{"type": "Ready", "status": "True", "message": "x" * 100}]},
        }
    )
    original = json.loads(text)
    obj = compact(original)
    assert obj == {
        "metadata": {"name": "a", "annotations": {"autoscaling.keda.sh/paused": "true"}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "message": "x" * 100}]},
    }
    assert "managedFields" in original["metadata"]  # the decoded object is not changed
    key = next(k for k in compact(json.loads(text)) if k == "status")
    assert key is sys.intern("status")
    assert compact(json.loads(text))["status"]["conditions"][0]["type"] is sys.intern("Ready")
