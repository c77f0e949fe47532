"""A cached scale target keeps what the ScaledObject controller reads of it, and no more."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.controllers.scaledobject.targets import slim_target
from podscaler.controllers.triggers.auth import container_of

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "uid": "u-1",
        "resourceVersion": "42",
        "labels": {"app": "web"},
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
    },
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate"},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "shop/web:1",
                        "env": [{"name": "QUEUE", "value": "orders"}],
                        "envFrom": [{"configMapRef": {"name": "web-env"}}],
                        "resources": {"requests": {"cpu": "1"}},
                        "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
                    },
                    {"name": "sidecar", "image": "proxy"},
                ],
                "volumes": [{"name": "data", "emptyDir": {}}],
            },
        },
    },
    "status": {
        "replicas": 3,
        "conditions": [{"type": "Available", "status": "True", "message": "long " * 40}],
    },
}


def test_keeps_replicas_selector_identity_and_the_containers_environment() -> None:
    slim = slim_target(DEPLOYMENT)
    assert slim == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "42"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "env": [{"name": "QUEUE", "value": "orders"}],
                            "envFrom": [{"configMapRef": {"name": "web-env"}}],
                        },
                        {"name": "sidecar"},
                    ]
                }
            },
        },
        "status": {"replicas": 3},
    }
    # What trigger building reads of it is what it read of the whole object.
    for name in (None, "app", "sidecar", "missing"):
        whole, cut = container_of(DEPLOYMENT, name), container_of(slim, name)
        assert (whole is None) == (cut is None)
        if whole is not None and cut is not None:
            assert cut.get("name") == whole.get("name")
            assert cut.get("env") == whole.get("env")
            assert cut.get("envFrom") == whole.get("envFrom")


def test_a_bare_or_odd_object_is_not_an_error() -> None:
    assert slim_target({}) == {"metadata": {}, "spec": {}}
    odd = {"metadata": {"name": "x"}, "spec": {"template": {"spec": {"containers": ["?", 3]}}}}
    assert slim_target(odd) == {"metadata": {"name": "x"}, "spec": {}}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(deadline=None, max_examples=100)
@given(
    replicas=st.integers(0, 1000),
    extra=st.dictionaries(st.text(max_size=8).map("x-{}".format), _json, max_size=4),
    containers=st.lists(
        st.fixed_dictionaries(
            {"name": st.text(max_size=8)},
            optional={"env": _json, "image": _json, "ports": _json},
        ),
        max_size=3,
    ),
)
def test_replicas_and_container_names_survive_any_other_content(
    replicas: int, extra: dict[str, Any], containers: list[dict[str, Any]]
) -> None:
    obj = {
        "metadata": {"name": "w", "uid": "u"},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": containers}}, **extra},
    }
    slim = slim_target(obj)
    assert slim["spec"]["replicas"] == replicas
    kept = (slim["spec"].get("template") or {}).get("spec", {}).get("containers", [])
    assert [c["name"] for c in kept] == [c["name"] for c in containers]
    assert all(set(c) <= {"name", "env", "envFrom"} for c in kept)
