"""The embedded API server over real HTTP(S): aiohttp as a raw client and kubernetes-asyncio.

Covers discovery, CRUD per served group, selectors, pagination, watch (resume, bookmarks, 410),
every patch type, ``/status``, ``/scale``, binding, eviction against a PodDisruptionBudget,
metrics.k8s.io, CRDs served on creation, and the Status errors clients branch on.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from podscaler.sim.apiserver.server import ApiServer


class Http:
    """A thin JSON client so each test reads as the requests it makes."""

    def __init__(self, server: ApiServer, session: aiohttp.ClientSession) -> None:
        self.url = server.url
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        ctype: str = "application/json",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Content-Type": ctype, **(headers or {})}
        async with self.session.request(method, self.url + path, data=data, headers=hdrs) as resp:
            text = await resp.text()
            assert resp.content_type == "application/json" or path.endswith("z"), text
            return resp.status, (
                json.loads(text) if resp.content_type == "application/json" else text
            )

    async def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, doc = await self.call(method, path, body, **kw)
        assert status in (200, 201), doc
        return doc


@pytest.fixture
async def http(apiserver: ApiServer) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(apiserver, session)


def deployment(name: str = "web", replicas: int = 2, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name, **labels}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "nginx", "env": [{"name": "A", "value": "1"}]}
                    ]
                },
            },
        },
    }


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    }


DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"


# --- discovery ------------------------------------------------------------------------------


async def test_discovery_lists_groups_and_resources(http: Http) -> None:
    assert (await http.ok("GET", "/version"))["gitVersion"] == "v1.32.0-podscaler"
    assert (await http.ok("GET", "/api"))["versions"] == ["v1"]
    groups = {g["name"] for g in (await http.ok("GET", "/apis"))["groups"]}
    assert {
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "metrics.k8s.io",
    } <= groups
    core = {r["name"]: r for r in (await http.ok("GET", "/api/v1"))["resources"]}
    assert core["pods"]["shortNames"] == ["po"]
    assert "all" in core["pods"]["categories"]
    assert {"pods/status", "pods/binding", "pods/eviction", "nodes/status"} <= set(core)
    apps = {r["name"]: r for r in (await http.ok("GET", "/apis/apps/v1"))["resources"]}
    assert apps["deployments/scale"]["kind"] == "Scale"
    assert apps["deployments"]["namespaced"]
    status, text = await http.call("GET", "/healthz")
    assert status == 200
    assert text == "ok"


async def test_openapi_index_and_group_document(http: Http) -> None:
    index = await http.ok("GET", "/openapi/v3")
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    doc = await http.ok("GET", url)
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    schema = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    containers = schema["properties"]["spec"]["properties"]["template"]["properties"]["spec"][
        "properties"
    ]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"


# --- CRUD -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}, "data": {"a": "b"}}),
        ("/api/v1/namespaces/default/secrets", {"metadata": {"name": "x"}, "data": {"a": "Yg=="}}),
        (
            "/api/v1/namespaces/default/services",
            {"metadata": {"name": "x"}, "spec": {"ports": [{"port": 80}]}},
        ),
        ("/api/v1/nodes", {"metadata": {"name": "x"}, "status": {"capacity": {"cpu": "4"}}}),
        (
            "/apis/batch/v1/namespaces/default/jobs",
            {
                "metadata": {"name": "x"},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "x"}],
                        }
                    }
                },
            },
        ),
        (
            "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
            {"metadata": {"name": "x"}, "spec": {"maxReplicas": 3}},
        ),
        (
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
            {"metadata": {"name": "x"}, "spec": {}},
        ),
        (
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            {"metadata": {"name": "x"}, "spec": {}},
        ),
        (
            "/apis/events.k8s.io/v1/namespaces/default/events",
            {"metadata": {"name": "x"}, "reason": "R"},
        ),
        (
            "/apis/apiregistration.k8s.io/v1/apiservices",
            {"metadata": {"name": "v1.x.io"}, "spec": {}},
        ),
    ],
)
async def test_crud_for_each_group(http: Http, path: str, body: dict[str, Any]) -> None:
    created = await http.ok("POST", path, body)
    name = created["metadata"]["name"]
    got = await http.ok("GET", f"{path}/{name}")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    got["metadata"].setdefault("labels", {})["touched"] = "yes"
    put = await http.ok("PUT", f"{path}/{name}", got)
    assert int(put["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    listed = await http.ok("GET", path)
    assert [i["metadata"]["name"] for i in listed["items"]] == [name]
    await http.ok("DELETE", f"{path}/{name}")
    status, doc = await http.call("GET", f"{path}/{name}")
    assert status == 404
    assert doc["reason"] == "NotFound"


async def test_nodes_keep_status_on_create(http: Http) -> None:
    node = await http.ok(
        "POST", "/api/v1/nodes", {"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "4"}}}
    )
    assert node["status"]["capacity"] == {"cpu": "4"}


async def test_namespace_must_exist_and_the_seeded_ones_do(http: Http) -> None:
    names = {n["metadata"]["name"] for n in (await http.ok("GET", "/api/v1/namespaces"))["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    status, doc = await http.call(
        "POST", "/api/v1/namespaces/nope/configmaps", {"metadata": {"name": "a"}}
    )
    assert status == 404
    assert doc["details"]["kind"] == "namespaces"


async def test_label_and_field_selectors_and_all_namespaces(http: Http) -> None:
    await http.ok("POST", PODS, pod("a", tier="front"))
    await http.ok("POST", PODS, pod("b", tier="back"))
    await http.ok("POST", "/api/v1/namespaces/kube-system/pods", pod("c", tier="front"))
    front = await http.ok("GET", "/api/v1/pods?labelSelector=tier%3Dfront")
    assert [p["metadata"]["name"] for p in front["items"]] == ["a", "c"]
    one = await http.ok(
        "GET", "/api/v1/pods?fieldSelector=metadata.namespace%3Ddefault,metadata.name%3Db"
    )
    assert [p["metadata"]["name"] for p in one["items"]] == ["b"]
    unscheduled = await http.ok("GET", f"{PODS}?fieldSelector=spec.nodeName%3D")
    assert len(unscheduled["items"]) == 2
    status, doc = await http.call("GET", f"{PODS}?labelSelector=tier%20in%20(")
    assert status == 400
    assert doc["reason"] == "BadRequest"
    status, doc = await http.call("GET", f"{PODS}?fieldSelector=spec.bogus%3D1")
    assert status == 400
    assert "field label not supported" in doc["message"]


async def test_pagination_with_continue_tokens(http: Http) -> None:
    for i in range(7):
        await http.ok(
            "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": f"cm{i}"}}
        )
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        doc = await http.ok(
            "GET", f"/api/v1/namespaces/default/configmaps?limit=3&continue={token}"
        )
        seen += [i["metadata"]["name"] for i in doc["items"]]
        pages += 1
        token = doc["metadata"].get("continue", "")
        if not token:
            break
    assert seen == [f"cm{i}" for i in range(7)]
    assert pages == 3
    status, _ = await http.call(
        "GET", "/api/v1/namespaces/default/configmaps?limit=3&continue=garbage!"
    )
    assert status == 400


# --- errors ---------------------------------------------------------------------------------


async def test_conflict_and_already_exists(http: Http) -> None:
    first = await http.ok("POST", DEPLOYS, deployment())
    status, doc = await http.call("POST", DEPLOYS, deployment())
    assert (status, doc["reason"]) == (409, "AlreadyExists")
    newer = json.loads(json.dumps(first))
    newer["spec"]["replicas"] = 5
    await http.ok("PUT", f"{DEPLOYS}/web", newer)
    first["spec"]["replicas"] = 7
    status, doc = await http.call("PUT", f"{DEPLOYS}/web", first)
    assert (status, doc["reason"]) == (409, "Conflict")


async def test_malformed_and_invalid_bodies(http: Http) -> None:
    status, doc = await http.call("POST", DEPLOYS, raw=b"{not json")
    assert (status, doc["kind"]) == (400, "Status")
    status, doc = await http.call("POST", DEPLOYS, raw=b"[1, 2]")
    assert status == 400
    bad = deployment()
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    status, doc = await http.call("POST", DEPLOYS, bad)
    assert (status, doc["reason"]) == (422, "Invalid")
    assert doc["details"]["causes"][0]["field"] == "spec.template.metadata.labels"
    status, doc = await http.call("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {}})
    assert status == 422
    status, doc = await http.call("POST", DEPLOYS, {**deployment(), "kind": "Pod"})
    assert status == 400


async def test_unknown_paths_and_methods(http: Http) -> None:
    # Paths nobody serves: Go's plain-text 404, as kube-apiserver answers them.
    for path in ("/apis/nope.io/v1/things", "/api/v2", "/nowhere"):
        async with http.session.get(http.url + path) as resp:
            assert (resp.status, await resp.text()) == (404, "404 page not found\n"), path
    assert (await http.call("GET", "/api/v1/namespaces/default/nopes"))[0] == 404
    assert (await http.call("PUT", PODS, {}))[0] == 405
    assert (await http.call("POST", "/apis/metrics.k8s.io/v1beta1/nodes", {}))[0] == 405


# --- patches, status, scale -----------------------------------------------------------------


async def test_every_patch_type(http: Http) -> None:
    await http.ok("POST", DEPLOYS, deployment())
    merged = await http.ok(
        "PATCH",
        f"{DEPLOYS}/web",
        {"metadata": {"labels": {"x": "1"}}},
        ctype="application/merge-patch+json",
    )
    assert merged["metadata"]["labels"]["x"] == "1"
    jsonp = await http.ok(
        "PATCH",
        f"{DEPLOYS}/web",
        [{"op": "replace", "path": "/spec/replicas", "value": 4}],
        ctype="application/json-patch+json",
    )
    assert jsonp["spec"]["replicas"] == 4
    assert jsonp["metadata"]["generation"] == 2
    smp = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}
            }
        }
    }
    strategic = await http.ok(
        "PATCH", f"{DEPLOYS}/web", smp, ctype="application/strategic-merge-patch+json"
    )
    env = strategic["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {e["name"] for e in env} == {"A", "B"}
    assert strategic["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    status, doc = await http.call(
        "PATCH", f"{DEPLOYS}/web", {}, ctype="application/apply-patch+yaml"
    )
    assert (status, doc["reason"]) == (422, "Invalid")  # server-side apply needs a manager
    intent = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 2}}
    status, doc = await http.call(
        "PATCH", f"{DEPLOYS}/web?fieldManager=me", intent, ctype="application/apply-patch+yaml"
    )
    assert (status, doc["reason"]) == (409, "Conflict")  # the JSON patch above set replicas
    applied = await http.ok(
        "PATCH",
        f"{DEPLOYS}/web?fieldManager=me&force=true",
        intent,
        ctype="application/apply-patch+yaml",
    )
    assert applied["spec"]["replicas"] == 2
    assert applied["metadata"]["managedFields"][-1]["manager"] == "me"
    status, _ = await http.call("PATCH", f"{DEPLOYS}/web", {}, ctype="text/plain")
    assert status == 415
    status, _ = await http.call(
        "PATCH",
        f"{DEPLOYS}/web",
        [{"op": "test", "path": "/spec/replicas", "value": 9}],
        ctype="application/json-patch+json",
    )
    assert status in (409, 422)
    status, _ = await http.call(
        "PATCH", f"{DEPLOYS}/web", raw=b"{", ctype="application/merge-patch+json"
    )
    assert status == 400


async def test_status_subresource_is_separate_from_spec(http: Http) -> None:
    await http.ok("POST", DEPLOYS, deployment())
    patched = await http.ok(
        "PATCH",
        f"{DEPLOYS}/web/status",
        {"status": {"replicas": 2, "readyReplicas": 1}, "spec": {"replicas": 9}},
        ctype="application/merge-patch+json",
    )
    assert patched["status"]["readyReplicas"] == 1
    assert patched["spec"]["replicas"] == 2
    assert patched["metadata"]["generation"] == 1
    ignored = await http.ok(
        "PATCH", f"{DEPLOYS}/web", {"status": {"replicas": 0}}, ctype="application/merge-patch+json"
    )
    assert ignored["status"]["replicas"] == 2


async def test_scale_subresource(http: Http) -> None:
    await http.ok("POST", DEPLOYS, deployment())
    scale = await http.ok("GET", f"{DEPLOYS}/web/scale")
    assert scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 2
    assert scale["status"]["selector"] == "app=web"
    scaled = await http.ok(
        "PATCH",
        f"{DEPLOYS}/web/scale",
        {"spec": {"replicas": 4}},
        ctype="application/merge-patch+json",
    )
    assert scaled["spec"]["replicas"] == 4
    scaled["spec"]["replicas"] = 6
    assert (await http.ok("PUT", f"{DEPLOYS}/web/scale", scaled))["spec"]["replicas"] == 6
    scaled["spec"]["replicas"] = 1  # stale resourceVersion now
    assert (await http.call("PUT", f"{DEPLOYS}/web/scale", scaled))[0] == 409
    assert (await http.ok("GET", f"{DEPLOYS}/web"))["spec"]["replicas"] == 6
    status, _doc = await http.call(
        "PATCH",
        f"{DEPLOYS}/web/scale",
        {"spec": {"replicas": -1}},
        ctype="application/merge-patch+json",
    )
    assert status == 422


# --- scheduling and eviction ----------------------------------------------------------------


async def test_binding_assigns_a_node_once(http: Http) -> None:
    await http.ok("POST", PODS, pod("p"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"kind": "Node", "name": "n1"},
    }
    status, doc = await http.call("POST", f"{PODS}/p/binding", binding)
    assert status == 201
    assert doc["status"] == "Success"
    bound = await http.ok("GET", f"{PODS}/p")
    assert bound["spec"]["nodeName"] == "n1"
    assert {"type": "PodScheduled", "status": "True"}.items() <= bound["status"]["conditions"][
        0
    ].items()
    assert (await http.call("POST", f"{PODS}/p/binding", binding))[0] == 409


async def _ready(http: Http, name: str) -> None:
    await http.ok(
        "PATCH",
        f"{PODS}/{name}/status",
        {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
        ctype="application/merge-patch+json",
    )


async def test_eviction_honours_a_pod_disruption_budget(http: Http) -> None:
    for name in ("a", "b", "c"):
        await http.ok("POST", PODS, pod(name, app="db"))
        await _ready(http, name)
    await http.ok(
        "POST",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
        {
            "metadata": {"name": "db"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}},
        },
    )
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a"}}
    status, doc = await http.call("POST", f"{PODS}/a/eviction", eviction)
    assert status == 201, doc
    assert (await http.call("GET", f"{PODS}/a"))[0] == 404
    status, doc = await http.call(
        "POST", f"{PODS}/b/eviction", {**eviction, "metadata": {"name": "b"}}
    )
    assert (status, doc["reason"]) == (429, "TooManyRequests")
    assert doc["details"]["causes"][0]["reason"] == "DisruptionBudget"
    pdb = await http.ok("GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/db")
    assert pdb["status"]["disruptionsAllowed"] == 0
    assert pdb["status"]["currentHealthy"] == 2


async def test_eviction_with_max_unavailable_percent(http: Http) -> None:
    rs = await http.ok(
        "POST",
        "/apis/apps/v1/namespaces/default/replicasets",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
                },
            },
        },
    )
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "uid": rs["metadata"]["uid"],
        "controller": True,
    }
    for name in ("a", "b", "c", "d"):
        body = pod(name, app="web")
        body["metadata"]["ownerReferences"] = [owner]
        await http.ok("POST", PODS, body)
        await _ready(http, name)
    await http.ok(
        "POST",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
        {
            "metadata": {"name": "web"},
            "spec": {"maxUnavailable": "25%", "selector": {"matchLabels": {"app": "web"}}},
        },
    )
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction"}
    assert (await http.call("POST", f"{PODS}/a/eviction", eviction))[0] == 201
    # The ReplicaSet wants 4: 25% of 4 is 1 unavailable, so 3 must stay healthy.
    assert (await http.call("POST", f"{PODS}/b/eviction", eviction))[0] == 429


# --- metrics.k8s.io -------------------------------------------------------------------------


async def test_metrics_api_serves_what_the_simulation_sets(
    apiserver: ApiServer, http: Http
) -> None:
    await http.ok("POST", PODS, pod("a", app="web"))
    apiserver.set_pod_metrics("default", "a", {"app": {"cpu": "250m", "memory": "64Mi"}})
    apiserver.set_node_metrics("n1", {"cpu": "1500m", "memory": "3Gi"})
    one = await http.ok("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/a")
    assert one["kind"] == "PodMetrics"
    assert one["containers"] == [{"name": "app", "usage": {"cpu": "250m", "memory": "64Mi"}}]
    listed = await http.ok(
        "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dweb"
    )
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    none = await http.ok(
        "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Ddb"
    )
    assert none["items"] == []
    node = await http.ok("GET", "/apis/metrics.k8s.io/v1beta1/nodes/n1")
    assert node["usage"] == {"cpu": "1500m", "memory": "3Gi"}
    assert (await http.call("GET", "/apis/metrics.k8s.io/v1beta1/nodes/n2"))[0] == 404


# --- CRDs -----------------------------------------------------------------------------------

WIDGETS_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wd"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.size",
                        "statusReplicasPath": ".status.size",
                        "labelSelectorPath": ".status.selector",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                ],
            }
        ],
    },
}


async def test_a_crd_serves_its_resource_with_scale_at_once(http: Http) -> None:
    crd = await http.ok(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGETS_CRD
    )
    assert crd["metadata"]["name"] == "widgets.example.com"
    got = await http.ok(
        "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
    )
    assert any(
        c["type"] == "Established" and c["status"] == "True" for c in got["status"]["conditions"]
    )
    resources = await http.ok("GET", "/apis/example.com/v1")
    assert {r["name"] for r in resources["resources"]} == {
        "widgets",
        "widgets/status",
        "widgets/scale",
    }
    base = "/apis/example.com/v1/namespaces/default/widgets"
    await http.ok(
        "POST",
        base,
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 2},
        },
    )
    await http.ok(
        "PATCH",
        f"{base}/w/status",
        {"status": {"size": 2, "selector": "app=w"}},
        ctype="application/merge-patch+json",
    )
    scale = await http.ok("GET", f"{base}/w/scale")
    assert scale["spec"]["replicas"] == 2
    assert scale["status"] == {
        "replicas": 2,
        "selector": "app=w",
    }
    await http.ok(
        "PATCH", f"{base}/w/scale", {"spec": {"replicas": 5}}, ctype="application/merge-patch+json"
    )
    assert (await http.ok("GET", f"{base}/w"))["spec"]["size"] == 5
    status, _ = await http.call(
        "PATCH", f"{base}/w", {"spec": {}}, ctype="application/strategic-merge-patch+json"
    )
    assert status == 415
    table = await http.ok(
        "GET", base, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    )
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Age"]
    assert table["rows"][0]["cells"][:2] == ["w", 5]
    await http.ok(
        "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
    )
    # its group-version is served no more: Go's plain-text 404, as upstream
    async with http.session.get(f"{http.url}{base}/w") as resp:
        assert (resp.status, await resp.text()) == (404, "404 page not found\n")


async def test_an_invalid_crd_is_rejected(http: Http) -> None:
    bad = json.loads(json.dumps(WIDGETS_CRD))
    bad["metadata"]["name"] = "wrong.example.com"
    status, doc = await http.call(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bad
    )
    assert (status, doc["reason"]) == (422, "Invalid")


async def test_podscaler_crds_are_installed(http: Http) -> None:
    pytest.importorskip("podscaler.api.crds")
    resources = await http.ok("GET", "/apis/autoscaling.podscaler.io/v1alpha1")
    names = {r["name"] for r in resources["resources"]}
    assert "scaledobjects" in names


# --- watch ----------------------------------------------------------------------------------


async def read_events(
    resp: aiohttp.ClientResponse, count: int, within_seconds: float = 5.0
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(within_seconds):
        while len(events) < count:
            line = await resp.content.readline()
            if not line:
                break
            events.append(json.loads(line))
    return events


async def test_watch_resumes_from_a_resource_version(apiserver: ApiServer, http: Http) -> None:
    first = await http.ok(
        "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "a"}}
    )
    await http.ok("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "b"}})
    rv = first["metadata"]["resourceVersion"]
    url = f"{apiserver.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
    async with http.session.get(url) as resp:
        assert resp.status == 200
        await http.ok("DELETE", "/api/v1/namespaces/default/configmaps/a")
        events = await read_events(resp, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]


async def test_watch_sends_bookmarks_and_honours_timeout(apiserver: ApiServer, http: Http) -> None:
    since = apiserver.store.resource_version
    url = (
        f"{apiserver.url}/api/v1/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=1"
        f"&resourceVersion={since}"
    )
    async with http.session.get(url) as resp:
        # A write elsewhere moves the version past the watch's: only a bookmark tells it.
        await http.ok("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}})
        body = await resp.read()
    events = [json.loads(line) for line in body.splitlines()]
    assert events
    assert all(e["type"] == "BOOKMARK" for e in events)
    assert events[0]["object"]["metadata"]["resourceVersion"] == str(
        apiserver.store.resource_version
    )


async def test_watch_gets_no_bookmark_for_a_version_it_already_has(
    apiserver: ApiServer, http: Http
) -> None:
    """Upstream drops a bookmark whose version equals the watch's, and sends none to a watch
    from a version the server has not reached (a bookmark must never move a client back)."""
    current = apiserver.store.resource_version
    for since in (current, current + 1000):
        url = (
            f"{apiserver.url}/api/v1/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=1"
            f"&resourceVersion={since}"
        )
        async with http.session.get(url) as resp:
            assert resp.status == 200
            assert await resp.read() == b""


async def test_watch_from_a_compacted_version_gets_410(apiserver: ApiServer, http: Http) -> None:
    old = await http.ok(
        "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "a"}}
    )
    await http.ok("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "b"}})
    apiserver.store.compact()
    old_rv = old["metadata"]["resourceVersion"]
    url = (
        f"{apiserver.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={old_rv}"
    )
    async with http.session.get(url) as resp:
        events = [json.loads(line) for line in (await resp.read()).splitlines()]
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410
    assert "too old resource version" in events[0]["object"]["message"]


async def test_drop_watches_ends_open_streams(apiserver: ApiServer, http: Http) -> None:
    url = (
        f"{apiserver.url}/api/v1/pods?watch=true&resourceVersion={apiserver.store.resource_version}"
    )
    async with http.session.get(url) as resp:
        apiserver.drop_watches()
        async with asyncio.timeout(3):
            assert await resp.read() == b""


async def test_watch_with_a_label_selector(apiserver: ApiServer, http: Http) -> None:
    rv = apiserver.store.resource_version
    url = f"{apiserver.url}{PODS}?watch=true&labelSelector=app%3Dweb&resourceVersion={rv}"
    async with http.session.get(url) as resp:
        await http.ok("POST", PODS, pod("other", app="db"))
        await http.ok("POST", PODS, pod("mine", app="web"))
        await http.ok(
            "PATCH",
            f"{PODS}/mine",
            {"metadata": {"labels": {"app": "gone"}}},
            ctype="application/merge-patch+json",
        )
        events = await read_events(resp, 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "mine"),
        ("DELETED", "mine"),
    ]


# --- TLS and kubernetes-asyncio ---------------------------------------------------------------


async def test_tls_with_the_minted_ca(apiserver_tls: ApiServer, tmp_path: Path) -> None:
    assert apiserver_tls.url.startswith("https://")
    assert apiserver_tls.ca_pem
    ctx = ssl.create_default_context(cadata=apiserver_tls.ca_pem.decode())
    bearer = {"Authorization": f"Bearer {apiserver_tls.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{apiserver_tls.url}/api/v1/namespaces", ssl=ctx, headers=bearer
        ) as resp:
            assert resp.status == 200
        # The kubeconfig's token is the credential; without it only health is public.
        async with session.get(f"{apiserver_tls.url}/api/v1/namespaces", ssl=ctx) as resp:
            assert resp.status == 401
        async with session.get(f"{apiserver_tls.url}/healthz", ssl=ctx) as resp:
            assert resp.status == 200
    path = apiserver_tls.write_kubeconfig(tmp_path / "kc")
    api = await config.new_client_from_config(config_file=str(path))
    async with api:
        names = [n.metadata.name for n in (await client.CoreV1Api(api).list_namespace()).items]
    assert "default" in names


async def test_kubernetes_asyncio_crud_watch_and_errors(
    apiserver: ApiServer, kubeconfig: Path
) -> None:
    api = await config.new_client_from_config(config_file=str(kubeconfig))
    async with api:
        apps = client.AppsV1Api(api)
        core = client.CoreV1Api(api)
        created = await apps.create_namespaced_deployment("default", deployment())
        assert created.metadata.generation == 1
        listed = await apps.list_namespaced_deployment("default", label_selector="app=web")
        assert [d.metadata.name for d in listed.items] == ["web"]
        await apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
        scale = await apps.read_namespaced_deployment_scale("web", "default")
        assert scale.spec.replicas == 3
        with pytest.raises(ApiException) as err:
            await apps.create_namespaced_deployment("default", deployment())
        assert err.value.status == 409
        with pytest.raises(ApiException) as err:
            await core.read_namespaced_pod("nope", "default")
        assert err.value.status == 404
        from kubernetes_asyncio import watch

        w = watch.Watch()
        rv = listed.metadata.resource_version
        seen = []
        async with asyncio.timeout(5):
            stream = w.stream(
                apps.list_namespaced_deployment, "default", resource_version=rv, timeout_seconds=5
            )
            await apps.delete_namespaced_deployment("web", "default")
            async for event in stream:
                seen.append((event["type"], event["object"].metadata.name))
                if event["type"] == "DELETED":
                    break
        await w.close()
        assert ("DELETED", "web") in seen
