"""Discovery documents: ``/version``, ``/api``, ``/apis``, per-group-version resource lists,
and the aggregated discovery document (``apidiscovery.k8s.io/v2``).

kubectl and client-go ask ``/api`` and ``/apis`` for the aggregated document first (``Accept:
application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList, ...;v=v2beta1;...,
application/json``): every group, version and resource in two requests instead of one per
group-version. The answer carries that media type in its ``Content-Type`` (client-go decides by
it). A client that asks for plain JSON gets the legacy ``APIVersions`` / ``APIGroupList`` and
then ``GET /apis/{group}/{version}`` per group. Both are built from the same resource table,
so they always agree. Groups of APIServices that route to a backend are added by the
aggregator (``aggregation.py``) from what their backend last answered.

A path under ``/api`` or ``/apis`` naming a group or version nobody serves answers upstream's
plain-text ``404 page not found`` (Go's not-found handler), not a ``Status``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

from aiohttp import web

from podscaler.sim.apiserver import negotiation
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


#: Subresource → (group, version, kind, verbs) when it differs from its parent's kind or from
#: the read-write verbs (``None`` group/version: the parent's).
_SUBRESOURCES: Final[dict[str, tuple[str | None, str | None, str | None, tuple[str, ...]]]] = {
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "binding": (None, None, "Binding", ("create",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "log": (None, None, None, ("get",)),
}
_READ_WRITE: Final = ("get", "patch", "update")


def _subresource(rt: ResourceType, sub: str) -> tuple[str, str, str, list[str], bool]:
    """(group, version, kind, verbs, whether group/version differ from the parent's)."""
    group, version, kind, verbs = _SUBRESOURCES.get(sub, (None, None, None, _READ_WRITE))
    other = group is not None
    return (
        rt.group if group is None else group,
        rt.version if version is None else version,
        kind or rt.kind,
        list(verbs),
        other,
    )


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
        group, version, kind, verbs, other = _subresource(rt, sub)
        entry: dict[str, Any] = {
            "name": f"{rt.resource}/{sub}",
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": kind,
            "verbs": verbs,
        }
        if other:
            entry.update(group=group, version=version)
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


# --------------------------------------------------------------------- aggregated discovery

AGGREGATED_GROUP: Final = "apidiscovery.k8s.io"
#: The versions of the aggregated format served (client-go 1.30+ asks v2, older v2beta1).
AGGREGATED_VERSIONS: Final = ("v2", "v2beta1")


def aggregated_version(accept: str) -> str | None:
    """The ``apidiscovery.k8s.io`` version ``accept`` prefers, or None for the legacy
    documents (a plain JSON alternative comes first, or none names the aggregated list)."""
    for media, params in negotiation.media_ranges(accept):
        if media == "application/vnd.kubernetes.protobuf":
            continue
        if "as" not in params:
            return None
        if (
            params.get("as") == "APIGroupDiscoveryList"
            and params.get("g") == AGGREGATED_GROUP
            and params.get("v") in AGGREGATED_VERSIONS
        ):
            return params["v"]
    return None


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def resource_discovery(rt: ResourceType) -> dict[str, Any]:
    """One resource as an ``APIResourceDiscovery``, its subresources nested in it."""
    entry: dict[str, Any] = {
        "resource": rt.resource,
        "responseKind": _gvk(rt.group, rt.version, rt.kind),
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for sub in sorted(rt.subresources):
        group, version, kind, verbs, _other = _subresource(rt, sub)
        subs.append(
            {"subresource": sub, "responseKind": _gvk(group, version, kind), "verbs": verbs}
        )
    if subs:
        entry["subresources"] = subs
    return entry


def from_resource_list(group: str, version: str, resources: Iterable[Any]) -> list[dict[str, Any]]:
    """A backend's legacy ``APIResourceList.resources`` as ``APIResourceDiscovery`` entries
    (how kube-aggregator folds an aggregated API server that only serves the legacy format)."""
    main: dict[str, dict[str, Any]] = {}
    subs: list[tuple[str, dict[str, Any]]] = []
    for item in resources:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        kind = _gvk(
            str(item.get("group", group)), str(item.get("version", version)), str(item.get("kind"))
        )
        verbs = list(item.get("verbs") or [])
        parent, _slash, sub = item["name"].partition("/")
        if sub:
            subs.append((parent, {"subresource": sub, "responseKind": kind, "verbs": verbs}))
            continue
        entry: dict[str, Any] = {
            "resource": parent,
            "responseKind": kind,
            "scope": "Namespaced" if item.get("namespaced") else "Cluster",
            "singularResource": str(item.get("singularName") or ""),
            "verbs": verbs,
        }
        for field in ("shortNames", "categories"):
            if item.get(field):
                entry[field] = list(item[field])
        main[parent] = entry
    for parent, sub_entry in subs:
        if parent in main:
            main[parent].setdefault("subresources", []).append(sub_entry)
    return list(main.values())


def group_discovery(
    group: str, versions: Iterable[tuple[str, list[dict[str, Any]], str]]
) -> dict[str, Any]:
    """An ``APIGroupDiscovery``: ``versions`` as (version, resources, freshness), preferred
    first. The core group has no name."""
    meta: dict[str, Any] = {"name": group} if group else {}
    meta["creationTimestamp"] = None
    return {
        "metadata": meta,
        "versions": [
            {"version": v, "resources": resources, "freshness": freshness}
            for v, resources, freshness in versions
        ],
    }


def table_groups(table: ResourceTable, *, core: bool) -> list[dict[str, Any]]:
    """The served groups as ``APIGroupDiscovery`` items: the core group alone (``/api``), or
    every other group (``/apis``)."""
    items = []
    for group, versions in table.group_versions().items():
        if bool(group) == core:
            continue
        listed = []
        for version in versions:
            types = sorted(table.in_group_version(group, version), key=lambda t: t.resource)
            listed.append((version, [resource_discovery(rt) for rt in types], "Current"))
        items.append(group_discovery(group, listed))
    return items


def aggregated_response(items: list[dict[str, Any]], version: str) -> web.Response:
    """An ``APIGroupDiscoveryList`` with the media type client-go recognizes it by."""
    document = {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"{AGGREGATED_GROUP}/{version}",
        "metadata": {},
        "items": items,
    }
    response = web.Response(body=json.dumps(document, separators=(",", ":")).encode())
    response.headers["Content-Type"] = (
        f"application/json;g={AGGREGATED_GROUP};v={version};as=APIGroupDiscoveryList"
    )
    return response


def page_not_found() -> web.Response:
    """Go's ``http.NotFound``: what kube-apiserver answers for a path nobody serves."""
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
