"""PATCH semantics of the embedded API server: RFC 7386 merge patch and RFC 6902 JSON patch
(their appendices' examples), strategic merge patch as kubectl apply/scale/label use it, the
patch-strategy table, and algebraic laws checked with hypothesis."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podscaler.sim.apiserver.patching import (
    PatchError,
    PatchStrategy,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    json_equal,
    strategy_for,
)

# --- RFC 7386, Appendix A -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_rfc7386_examples(original: Any, patch: Any, result: Any) -> None:
    assert apply_merge_patch(original, patch) == result


def test_kubectl_scale_and_label_are_merge_patches() -> None:
    deployment: dict[str, Any] = {
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 1},
    }
    scaled = apply_merge_patch(deployment, {"spec": {"replicas": 4}})
    assert scaled["spec"] == {"replicas": 4}
    labelled = apply_merge_patch(scaled, {"metadata": {"labels": {"tier": "front"}}})
    assert labelled["metadata"]["labels"] == {"app": "web", "tier": "front"}
    unlabelled = apply_merge_patch(labelled, {"metadata": {"labels": {"app": None}}})
    assert unlabelled["metadata"]["labels"] == {"tier": "front"}
    assert deployment["spec"]["replicas"] == 1


# --- RFC 6902, Appendix A -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "patch", "result"),
    [
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux"}],
            {"baz": "qux", "foo": "bar"},
        ),
        (
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
        ),
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        (
            {"foo": ["bar", "qux", "baz"]},
            [{"op": "remove", "path": "/foo/1"}],
            {"foo": ["bar", "baz"]},
        ),
        (
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
        ),
        (
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        ),
        (
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
        ),
        (
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [
                {"op": "test", "path": "/baz", "value": "qux"},
                {"op": "test", "path": "/foo/1", "value": 2},
            ],
            {"baz": "qux", "foo": ["a", 2, "c"]},
        ),
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
        ),
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
            {"foo": "bar", "baz": "qux"},
        ),
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
        (
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
        ),
    ],
)
def test_rfc6902_examples(document: Any, patch: list[Any], result: Any) -> None:
    assert apply_json_patch(document, patch) == result


@pytest.mark.parametrize(
    ("document", "patch", "fragment"),
    [
        ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], "test failed"),
        ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], "does not exist"),
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], "test failed"),
        ({"a": [1]}, [{"op": "add", "path": "/a/2", "value": 0}], "out of bounds"),
        ({"a": [1]}, [{"op": "remove", "path": "/a/-"}], "not a valid array index"),
        ({"a": [1]}, [{"op": "remove", "path": "/a/01"}], "not a valid array index"),
        ({"a": 1}, [{"op": "replace", "path": "/b", "value": 2}], "missing key"),
        ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], "own children"),
        ({"a": 1}, [{"op": "add", "path": "/b"}], "missing 'value'"),
        ({"a": 1}, [{"op": "frobnicate", "path": "/a"}], "unknown op"),
        ({"a": 1}, [{"op": "add", "path": "b", "value": 1}], "must start with '/'"),
        ({"a": 1}, [{"op": "test", "path": "/a", "value": True}], "test failed"),
        ({"a": 1}, [{"op": "remove", "path": ""}], "whole document"),
        ({"a": 1}, {"op": "remove"}, "array of operations"),
    ],
)
def test_json_patch_errors(document: Any, patch: Any, fragment: str) -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(document, patch)
    assert fragment in str(info.value)


def test_json_patch_is_all_or_nothing_and_leaves_input_alone() -> None:
    doc = {"spec": {"replicas": 1}, "metadata": {"labels": {"a": "b"}}}
    before = copy.deepcopy(doc)
    with pytest.raises(PatchError):
        apply_json_patch(
            doc,
            [
                {"op": "replace", "path": "/spec/replicas", "value": 5},
                {"op": "test", "path": "/metadata/labels/a", "value": "x"},
            ],
        )
    assert doc == before
    out = apply_json_patch(doc, [{"op": "copy", "from": "/metadata", "path": "/copy"}])
    out["copy"]["labels"]["a"] = "changed"
    assert doc == before
    assert out["metadata"]["labels"]["a"] == "b"
    assert apply_json_patch(doc, [{"op": "replace", "path": "", "value": 3}]) == 3


def test_json_equal_follows_json_not_python() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(1, True)
    assert not json_equal({"a": [0]}, {"a": [False]})
    assert not json_equal("1", 1)
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})


# --- strategic merge patch: what kubectl sends -------------------------------------------------


def _strategy(group: str, version: str, kind: str) -> PatchStrategy:
    strategy = strategy_for(group, version, kind)
    assert strategy is not None, kind
    return strategy


DEPLOY = _strategy("apps", "v1", "Deployment")
POD = _strategy("", "v1", "Pod")


def _deployment(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers},
            },
            **spec,
        },
    }


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def _template_patch(spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


def test_apply_changes_one_image_and_keeps_the_injected_sidecar() -> None:
    live = _deployment(
        [
            {"name": "app", "image": "web:1", "ports": [{"containerPort": 80}]},
            {"name": "proxy", "image": "envoy:1"},
        ]
    )
    patch = _template_patch(
        {
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [{"name": "app", "image": "web:2"}],
        }
    )
    out = apply_strategic_merge_patch(live, patch, DEPLOY)
    assert _containers(out) == [
        {"name": "app", "image": "web:2", "ports": [{"containerPort": 80}]},
        {"name": "proxy", "image": "envoy:1"},
    ]
    assert _containers(live)[0]["image"] == "web:1"


def test_patch_delete_directive_removes_a_container() -> None:
    live = _deployment([{"name": "app", "image": "web:1"}, {"name": "debug", "image": "busybox"}])
    patch = _template_patch(
        {
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [{"$patch": "delete", "name": "debug"}],
        }
    )
    assert _containers(apply_strategic_merge_patch(live, patch, DEPLOY)) == [
        {"name": "app", "image": "web:1"}
    ]


def test_set_element_order_reorders_and_adds() -> None:
    live = _deployment(
        [{"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]
    )
    patch = _template_patch(
        {
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [
                {
                    "name": "app",
                    "$setElementOrder/env": [{"name": "B"}, {"name": "A"}, {"name": "C"}],
                    "env": [{"name": "C", "value": "3"}],
                }
            ],
        }
    )
    env = _containers(apply_strategic_merge_patch(live, patch, DEPLOY))[0]["env"]
    assert [e["name"] for e in env] == ["B", "A", "C"]
    assert env[2] == {"name": "C", "value": "3"}


def test_set_element_order_must_agree_with_the_patch_list() -> None:
    live = _deployment([{"name": "a"}, {"name": "b"}])
    patch = _template_patch(
        {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b"}, {"name": "a"}],
        }
    )
    with pytest.raises(PatchError, match="doesn't match"):
        apply_strategic_merge_patch(live, patch, DEPLOY)


def test_new_list_items_without_order_directive_go_first_like_upstream() -> None:
    live = _deployment([{"name": "app"}])
    out = apply_strategic_merge_patch(
        live, _template_patch({"containers": [{"name": "new"}]}), DEPLOY
    )
    assert [c["name"] for c in _containers(out)] == ["new", "app"]


def test_retain_keys_clears_the_other_union_members() -> None:
    live = _deployment(
        [{"name": "app"}], strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    )
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert apply_strategic_merge_patch(live, patch, DEPLOY)["spec"]["strategy"] == {
        "type": "Recreate"
    }
    bad = {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}}
    with pytest.raises(PatchError, match="retainKeys"):
        apply_strategic_merge_patch(live, bad, DEPLOY)


def test_scale_and_label_as_strategic_patches() -> None:
    live = _deployment([{"name": "app"}])
    out = apply_strategic_merge_patch(live, {"spec": {"replicas": 4}}, DEPLOY)
    assert out["spec"]["replicas"] == 4
    out = apply_strategic_merge_patch(out, {"metadata": {"labels": {"tier": "front"}}}, DEPLOY)
    assert out["metadata"]["labels"] == {"app": "web", "tier": "front"}
    out = apply_strategic_merge_patch(out, {"metadata": {"labels": {"app": None}}}, DEPLOY)
    assert out["metadata"]["labels"] == {"tier": "front"}
    assert _containers(out) == [{"name": "app"}]


def test_pod_lists_merge_by_their_keys_and_atomic_lists_replace() -> None:
    pod = {
        "metadata": {
            "name": "p",
            "finalizers": ["a", "b"],
            "ownerReferences": [{"uid": "1", "name": "rs"}],
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "ports": [{"containerPort": 80, "name": "http"}],
                    "volumeMounts": [{"mountPath": "/data", "name": "data"}],
                }
            ],
            "tolerations": [{"key": "a", "operator": "Exists"}],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "PodScheduled", "status": "True"},
            ]
        },
    }
    patch = {
        "metadata": {
            "finalizers": ["c"],
            "$deleteFromPrimitiveList/finalizers": ["a"],
            "ownerReferences": [{"uid": "1", "controller": True}],
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "ports": [{"containerPort": 443, "name": "https"}],
                    "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
                }
            ],
            "tolerations": [{"key": "b", "operator": "Exists"}],
            "volumes": [{"name": "cache", "emptyDir": {}}],
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    out = apply_strategic_merge_patch(pod, patch, POD)
    assert out["metadata"]["finalizers"] == ["c", "b"]
    assert out["metadata"]["ownerReferences"] == [{"uid": "1", "name": "rs", "controller": True}]
    app = out["spec"]["containers"][0]
    assert [p["containerPort"] for p in app["ports"]] == [443, 80]
    assert app["volumeMounts"] == [{"mountPath": "/data", "name": "data", "readOnly": True}]
    assert out["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    assert [v["name"] for v in out["spec"]["volumes"]] == ["cache", "data"]
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "PodScheduled", "status": "True"},
    ]


def test_replace_directives_in_maps_and_lists() -> None:
    pod = {
        "spec": {"nodeSelector": {"a": "1", "b": "2"}, "containers": [{"name": "x"}, {"name": "y"}]}
    }
    patch = {
        "spec": {
            "nodeSelector": {"$patch": "replace", "c": "3"},
            "containers": [{"$patch": "replace"}, {"name": "z", "image": "i"}],
        }
    }
    out = apply_strategic_merge_patch(pod, patch, POD)
    assert out["spec"]["nodeSelector"] == {"c": "3"}
    assert out["spec"]["containers"] == [{"name": "z", "image": "i"}]
    emptied = apply_strategic_merge_patch(
        pod, {"spec": {"nodeSelector": {"$patch": "delete"}}}, POD
    )
    assert emptied["spec"]["nodeSelector"] == {}


def test_service_ports_merge_by_port() -> None:
    service_strategy = strategy_for("", "v1", "Service")
    assert service_strategy is not None
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    out = apply_strategic_merge_patch(
        svc,
        {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}},
        service_strategy,
    )
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        (_template_patch({"containers": [{"image": "x"}]}), "merge key: name"),
        (_template_patch({"containers": [{"$patch": "delete"}]}), "merge key: name"),
        ({"spec": {"$patch": "shred"}}, "unknown patch type"),
        (_template_patch({"containers": [{"$patch": "shred", "name": "a"}]}), "unknown patch"),
        ({"spec": {"$frobnicate": 1}}, "unknown patch directive"),
        ({"metadata": {"finalizers": ["a", {"b": 1}]}}, "mixed"),
        ({"$retainKeys": "spec"}, "retainKeys"),
    ],
)
def test_strategic_patch_errors(patch: dict[str, Any], fragment: str) -> None:
    live = _deployment([{"name": "app"}])
    live["metadata"]["finalizers"] = ["a"]
    with pytest.raises(PatchError) as info:
        apply_strategic_merge_patch(live, patch, DEPLOY)
    assert fragment in str(info.value)


def test_strategy_table_covers_builtins_and_refuses_custom_resources() -> None:
    assert strategy_for("autoscaling.podscaler.io", "v1alpha1", "ScaledObject") is None
    assert strategy_for("apps", "v1", "Widget") is None
    for group, version, kind in [
        ("", "v1", "ConfigMap"),
        ("", "v1", "Secret"),
        ("", "v1", "Namespace"),
        ("", "v1", "Event"),
        ("", "v1", "ServiceAccount"),
        ("", "v1", "Node"),
        ("apps", "v1", "StatefulSet"),
        ("apps", "v1", "DaemonSet"),
        ("apps", "v1", "ReplicaSet"),
        ("batch", "v1", "Job"),
        ("autoscaling", "v2", "HorizontalPodAutoscaler"),
        ("policy", "v1", "PodDisruptionBudget"),
        ("coordination.k8s.io", "v1", "Lease"),
    ]:
        strategy = strategy_for(group, version, kind)
        assert isinstance(strategy, PatchStrategy), kind
        assert strategy.list_strategy(["metadata", "ownerReferences"]) is not None
    assert DEPLOY.list_strategy(["spec", "template", "spec", "containers", "env"]) is not None
    assert DEPLOY.list_strategy(["spec", "template", "spec", "tolerations"]) is None
    job = strategy_for("batch", "v1", "Job")
    assert job is not None
    assert job.list_strategy(["status", "conditions"]) is not None
    hpa = strategy_for("autoscaling", "v2", "HorizontalPodAutoscaler")
    assert hpa is not None
    assert hpa.list_strategy(["spec", "metrics"]) is None


# --- laws -----------------------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3))
_keys = st.text("abc$", min_size=1, max_size=2)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=12,
)


def _no_null_members(value: Any) -> bool:
    if isinstance(value, dict):
        return all(v is not None and _no_null_members(v) for v in value.values())
    return True


_documents = st.dictionaries(_keys, _json, max_size=4).filter(_no_null_members)


@given(_json)
def test_merge_patch_empty_object_is_identity_on_objects(target: Any) -> None:
    if isinstance(target, dict):
        assert apply_merge_patch(target, {}) == target
    else:
        assert apply_merge_patch(target, {}) == {}


@given(_documents, st.dictionaries(_keys, _json, max_size=4))
def test_merge_patch_leaves_no_nulls_and_is_idempotent(target: Any, patch: Any) -> None:
    before = copy.deepcopy((target, patch))
    once = apply_merge_patch(target, patch)
    assert _no_null_members(once)
    assert apply_merge_patch(once, patch) == once
    assert (target, patch) == before


@given(_documents, st.text("xyz~/", min_size=1, max_size=3), _json)
def test_json_patch_add_then_remove_restores_the_document(
    target: dict[str, Any], key: str, value: Any
) -> None:
    if key in target:
        return
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    ops = [{"op": "add", "path": pointer, "value": value}, {"op": "remove", "path": pointer}]
    assert apply_json_patch(target, ops) == target


@given(st.lists(_json, max_size=4), st.data())
def test_json_patch_array_insert_then_remove_restores(items: list[Any], data: Any) -> None:
    index = data.draw(st.integers(0, len(items)))
    doc = {"items": items}
    ops = [
        {"op": "add", "path": f"/items/{index}", "value": "new"},
        {"op": "remove", "path": f"/items/{index}"},
    ]
    assert apply_json_patch(doc, ops) == doc


_plain_keys = st.text("abc", min_size=1, max_size=2)
_plain = st.recursive(
    st.one_of(st.booleans(), st.integers(-5, 5), st.text(max_size=3)),
    lambda inner: st.dictionaries(_plain_keys, st.one_of(inner, st.none()), max_size=3),
    max_leaves=10,
)


@given(
    st.dictionaries(_plain_keys, _plain, max_size=4).filter(_no_null_members),
    st.dictionaries(_plain_keys, st.one_of(_plain, st.none()), max_size=4),
)
def test_strategic_patch_without_lists_or_directives_is_a_merge_patch(
    target: dict[str, Any], patch: dict[str, Any]
) -> None:
    assert apply_strategic_merge_patch(target, patch, POD) == apply_merge_patch(target, patch)
    assert apply_strategic_merge_patch(target, {}, POD) == target
