"""Resource paths and the folding of subresources from an APIResourceList."""

from __future__ import annotations

from podscaler.kube.resources import Resource, parse_resource_list, split_api_version


def test_split_api_version() -> None:
    assert split_api_version("apps/v1") == ("apps", "v1")
    assert split_api_version("v1") == ("", "v1")


def test_paths() -> None:
    deploy = Resource("apps", "v1", "deployments", "Deployment", namespaced=True)
    assert deploy.path() == "/apis/apps/v1/deployments"
    assert deploy.path("ns") == "/apis/apps/v1/namespaces/ns/deployments"
    assert deploy.path("ns", "web", "scale") == "/apis/apps/v1/namespaces/ns/deployments/web/scale"
    nodes = Resource("", "v1", "nodes", "Node", namespaced=False)
    assert nodes.path("ignored", "n1") == "/api/v1/nodes/n1"
    assert nodes.api_version == "v1"
    assert deploy.api_version == "apps/v1"


def test_parse_resource_list_folds_subresources() -> None:
    answer = {
        "kind": "APIResourceList",
        "groupVersion": "example.com/v1",
        "resources": [
            {"name": "widgets", "kind": "Widget", "namespaced": True, "verbs": ["get", "list"]},
            {"name": "widgets/scale", "kind": "Scale", "namespaced": True},
            {"name": "widgets/status", "kind": "Widget", "namespaced": True},
            {"name": "gadgets", "kind": "Gadget", "namespaced": False},
        ],
    }
    kinds = parse_resource_list("example.com", "v1", answer)
    assert set(kinds) == {"Widget", "Gadget"}
    assert kinds["Widget"].has_scale
    assert kinds["Widget"].has_status
    assert kinds["Widget"].verbs == frozenset({"get", "list"})
    assert not kinds["Gadget"].has_scale
    assert not kinds["Gadget"].namespaced
