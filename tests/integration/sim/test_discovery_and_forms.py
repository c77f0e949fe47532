"""Discovery, OpenAPI v2, answer forms and pod logs of the embedded API server, over HTTP.

Aggregated discovery (``apidiscovery.k8s.io/v2``) and the legacy documents list the same
resources; unknown groups and versions are Go's plain-text 404; ``/openapi/v2`` is Swagger JSON
unless protobuf is asked for; ``as=PartialObjectMetadata(List)`` answers metadata only (lists,
single objects, watches); ``pods/log`` answers as a kubelet would for a simulated container;
kubectl lists the resources and reads a pod's log through these paths.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from podscaler.sim.apiserver.server import ApiServer
from tests.integration.sim.conftest import Kubectl

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
PROTOBUF_FIRST = (
    "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def _get(session: aiohttp.ClientSession, url: str, accept: str = "") -> tuple[int, str, Any]:
    headers = {"Accept": accept} if accept else {}
    async with session.get(url, headers=headers) as resp:
        raw = await resp.read()
        ctype = resp.headers.get("Content-Type", "")
        body: Any = json.loads(raw) if ctype.startswith("application/json") else raw
        return resp.status, ctype, body


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(i["metadata"].get("name", "")): i for i in items}


async def test_aggregated_discovery_lists_what_the_legacy_documents_list(
    apiserver: ApiServer, session: aiohttp.ClientSession
) -> None:
    status, ctype, core = await _get(session, f"{apiserver.url}/api", f"{AGGREGATED}, *")
    assert (status, ctype) == (200, AGGREGATED)
    assert (core["kind"], core["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")
    (item,) = core["items"]
    assert "name" not in item["metadata"]
    (v1,) = item["versions"]
    assert (v1["version"], v1["freshness"]) == ("v1", "Current")
    pods = next(r for r in v1["resources"] if r["resource"] == "pods")
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert (pods["scope"], pods["singularResource"], pods["shortNames"]) == (
        "Namespaced",
        "pod",
        ["po"],
    )
    subs = {s["subresource"]: s for s in pods["subresources"]}
    assert subs["log"]["verbs"] == ["get"]
    assert subs["eviction"]["responseKind"] == {
        "group": "policy",
        "version": "v1",
        "kind": "Eviction",
    }

    _s, _c, groups = await _get(session, f"{apiserver.url}/apis", AGGREGATED)
    aggregated = _by_name(groups["items"])
    _s, _c, legacy = await _get(session, f"{apiserver.url}/apis")
    assert set(aggregated) == {g["name"] for g in legacy["groups"]}
    assert {"rbac.authorization.k8s.io", "discovery.k8s.io"} <= set(aggregated)
    deployments = next(
        r for r in aggregated["apps"]["versions"][0]["resources"] if r["resource"] == "deployments"
    )
    scale = next(s for s in deployments["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    for name, group in aggregated.items():
        for version in group["versions"]:
            path = f"{apiserver.url}/apis/{name}/{version['version']}"
            _s, _c, listing = await _get(session, path)
            plain = {r["name"] for r in listing["resources"] if "/" not in r["name"]}
            assert plain == {r["resource"] for r in version["resources"]}, name

    # a client that prefers plain JSON, or asks for v2beta1, gets what it asked for
    _s, ctype, plain_first = await _get(session, f"{apiserver.url}/apis", f"*/*, {AGGREGATED}")
    assert (ctype, plain_first["kind"]) == ("application/json", "APIGroupList")
    beta = AGGREGATED.replace("v=v2;", "v=v2beta1;")
    _s, ctype, old = await _get(session, f"{apiserver.url}/apis", beta)
    assert (ctype, old["apiVersion"]) == (beta, "apidiscovery.k8s.io/v2beta1")


async def test_unknown_groups_and_versions_are_plain_text_404(
    apiserver: ApiServer, session: aiohttp.ClientSession
) -> None:
    for path in ("/apis/nope.example.com", "/apis/nope.example.com/v1", "/apis/apps/v2", "/x"):
        status, ctype, body = await _get(session, apiserver.url + path)
        assert (status, body) == (404, b"404 page not found\n"), path
        assert ctype.startswith("text/plain")
    # an unknown resource of a served group-version is a Status, as upstream
    status, _c, body = await _get(session, f"{apiserver.url}/apis/apps/v1/nopes")
    assert (status, body["kind"], body["reason"]) == (404, "Status", "NotFound")


async def test_openapi_v2_is_swagger_json_or_protobuf_as_asked(
    apiserver: ApiServer, session: aiohttp.ClientSession
) -> None:
    status, _c, doc = await _get(session, f"{apiserver.url}/openapi/v2")
    assert (status, doc["swagger"]) == (200, "2.0")
    deployment = doc["definitions"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "version": "v1", "kind": "Deployment"}
    ]
    assert "io.k8s.api.rbac.v1.Role" in doc["definitions"]
    get_deployment = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert get_deployment["get"]["responses"]["200"]["schema"] == {
        "$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"
    }
    patch = get_deployment["patch"]
    body = next(p for p in patch["parameters"] if p["in"] == "body")
    assert (body["name"], body["required"]) == ("body", True)
    assert "application/merge-patch+json" in patch["consumes"]
    assert "#/components/" not in json.dumps(doc)
    proto = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    status, ctype, raw = await _get(session, f"{apiserver.url}/openapi/v2", proto)
    assert (status, ctype) == (200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    assert isinstance(raw, bytes)
    assert b"io.k8s.api.apps.v1.Deployment" in raw
    status, _c, refused = await _get(session, f"{apiserver.url}/openapi/v2", "text/html")
    assert (status, refused["reason"]) == (406, "NotAcceptable")


async def test_metadata_only_lists_objects_and_watches(
    apiserver: ApiServer, session: aiohttp.ClientSession
) -> None:
    base = f"{apiserver.url}/api/v1/namespaces/default/configmaps"
    body = {"metadata": {"name": "cm", "labels": {"a": "b"}}, "data": {"secret-ish": "x"}}
    async with session.post(base, json=body) as resp:
        assert resp.status == 201
    _s, _c, listed = await _get(session, base, f"{PROTOBUF_FIRST}, {METADATA_LIST}, */*")
    assert (listed["kind"], listed["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    (item,) = listed["items"]
    assert (item["kind"], item["metadata"]["labels"]) == ("PartialObjectMetadata", {"a": "b"})
    assert "data" not in item
    _s, _c, one = await _get(session, f"{base}/cm", METADATA)
    assert (one["kind"], one["metadata"]["name"], "data" in one) == (
        "PartialObjectMetadata",
        "cm",
        False,
    )
    # the list form on one object is passed over: the next alternative wins
    _s, _c, whole = await _get(session, f"{base}/cm", f"{METADATA_LIST}, application/json")
    assert whole["kind"] == "ConfigMap"

    rv = listed["metadata"]["resourceVersion"]
    url = f"{base}?watch=true&resourceVersion={rv}&timeoutSeconds=5"
    async with session.get(url, headers={"Accept": METADATA}) as watch:
        async with session.post(base, json={"metadata": {"name": "cm2"}, "data": {"k": "v"}}):
            pass
        line = await asyncio.wait_for(watch.content.readline(), timeout=5)
    event = json.loads(line)
    assert event["type"] == "ADDED"
    assert event["object"]["kind"] == "PartialObjectMetadata"
    assert (event["object"]["metadata"]["name"], "data" in event["object"]) == ("cm2", False)


async def test_configmap_and_service_tables_have_upstreams_columns(
    apiserver: ApiServer, session: aiohttp.ClientSession
) -> None:
    table = "application/json;as=Table;v=v1;g=meta.k8s.io"
    base = f"{apiserver.url}/api/v1/namespaces/default"
    async with session.post(f"{base}/configmaps", json={"metadata": {"name": "c"}, "data": {}}):
        pass
    _s, _c, cms = await _get(session, f"{base}/configmaps", table)
    assert [c["name"] for c in cms["columnDefinitions"]] == ["Name", "Data", "Age"]
    service = {"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    async with session.post(f"{base}/services", json=service) as resp:
        node_port = (await resp.json())["spec"]["ports"][0]["nodePort"]
    _s, _c, services = await _get(session, f"{base}/services/s", table)
    names = [c["name"] for c in services["columnDefinitions"]]
    assert names == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    assert services["rows"][0]["cells"][3:5] == ["<none>", f"80:{node_port}/TCP"]


async def _pod(session: aiohttp.ClientSession, url: str, containers: list[str]) -> None:
    body = {
        "metadata": {"name": "p"},
        "spec": {"nodeName": "n1", "containers": [{"name": c, "image": "x"} for c in containers]},
    }
    async with session.post(url, json=body) as resp:
        assert resp.status == 201, await resp.text()


async def test_pod_logs_answer_as_a_kubelet_would(
    apiserver: ApiServer, session: aiohttp.ClientSession
) -> None:
    pods = f"{apiserver.url}/api/v1/namespaces/default/pods"
    await _pod(session, pods, ["a", "b"])
    status, _c, body = await _get(session, f"{pods}/p/log")
    assert (status, body["reason"]) == (400, "BadRequest")
    assert body["message"] == ("a container name must be specified for pod p, choose one of: [a b]")
    status, _c, body = await _get(session, f"{pods}/p/log?container=c")
    assert (status, body["message"]) == (400, "container c is not valid for pod p")
    status, _c, body = await _get(session, f"{pods}/p/log?container=a")
    assert body["message"] == 'container "a" in pod "p" is waiting to start: ContainerCreating'
    running = {
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": n, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}
                for n in ("a", "b")
            ],
        }
    }
    patch = {"Content-Type": "application/merge-patch+json"}
    async with session.patch(f"{pods}/p/status", json=running, headers=patch) as resp:
        assert resp.status == 200
    status, ctype, body = await _get(session, f"{pods}/p/log?container=b")
    assert (status, body) == (200, b"")
    assert ctype.startswith("text/plain")
    status, _c, _body = await _get(session, f"{pods}/nope/log")
    assert status == 404


async def test_kubectl_lists_resources_and_reads_logs_through_aggregated_discovery(
    apiserver: ApiServer, kubectl: Kubectl, session: aiohttp.ClientSession
) -> None:
    listed = await kubectl("api-resources", "--api-group=rbac.authorization.k8s.io", "-o", "name")
    assert listed.split() == [
        "clusterrolebindings.rbac.authorization.k8s.io",
        "clusterroles.rbac.authorization.k8s.io",
        "rolebindings.rbac.authorization.k8s.io",
        "roles.rbac.authorization.k8s.io",
    ]
    await kubectl("create", "role", "reader", "--verb=get", "--resource=pods")
    assert "reader" in await kubectl("get", "roles")
    await _pod(session, f"{apiserver.url}/api/v1/namespaces/default/pods", ["only"])
    refused = await kubectl("logs", "p", ok=False)
    assert 'container "only" in pod "p" is waiting to start' in refused
