"""Discovery documents: ``/version``, ``/api``, ``/apis``, and per-group-version resource lists.

kubectl and client-go ask for the aggregated discovery document first (``Accept:
application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``). The embedded server
answers with the plain ``APIVersions`` / ``APIGroupList`` shape and content type
``application/json``, which makes clients fall back to one ``GET /apis/{group}/{version}`` per
group — a documented, supported fallback, and much less to keep right than the aggregated
format.
"""

from __future__ import annotations

from typing import Any

from podscaler.sim.apiserver.resources import ResourceTable, ResourceType

GIT_VERSION = "v1.32.0-podscaler"


def version_info() -> dict[str, Any]:
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {
        "name": name,
        "versions": listed,
        "preferredVersion": listed[0],
    }


def api_group_list(table: ResourceTable) -> dict[str, Any]:
    groups = [_group(g, vs) for g, vs in table.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(table: ResourceTable, group: str) -> dict[str, Any] | None:
    versions = table.group_versions().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def _resource_entries(rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rt.resource,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    out = [main]
    for sub in sorted(rt.subresources):
        entry: dict[str, Any] = {
            "name": f"{rt.resource}/{sub}",
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": ["get", "patch", "update"],
        }
        if sub == "scale":
            entry.update(group="autoscaling", version="v1", kind="Scale")
        elif sub == "binding":
            entry.update(kind="Binding", verbs=["create"])
        elif sub == "eviction":
            entry.update(group="policy", version="v1", kind="Eviction", verbs=["create"])
        out.append(entry)
    return out


def api_resource_list(table: ResourceTable, group: str, version: str) -> dict[str, Any] | None:
    types = table.in_group_version(group, version)
    if not types:
        return None
    resources = [e for rt in sorted(types, key=lambda t: t.resource) for e in _resource_entries(rt)]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def root_paths(table: ResourceTable) -> dict[str, Any]:
    paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/openapi/v3", "/version"]
    for group, versions in table.group_versions().items():
        if group:
            paths.append(f"/apis/{group}")
            paths.extend(f"/apis/{group}/{v}" for v in versions)
    return {"paths": sorted(paths)}
