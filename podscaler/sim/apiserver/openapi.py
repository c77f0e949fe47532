"""``/openapi/v3``: enough OpenAPI for ``kubectl apply`` (default ``--validate=true``), and
``/openapi/v2``: the same model as one Swagger 2.0 document (JSON, what kube-apiserver answers
by default), or as protobuf for ``kubectl apply`` of a ``kind: List`` (see
:func:`document_v2`).

kubectl 1.32 reads the v3 index, then the document of the object's group-version, and looks
for a PATCH operation tagged with the object's ``x-kubernetes-group-version-kind`` that lists
the ``fieldValidation`` query parameter. Finding it, kubectl leaves validation to the server
(``fieldValidation=Strict``) instead of downloading ``/openapi/v2``.

The PATCH operations deliberately do **not** list ``application/strategic-merge-patch+json``
in their request body: kubectl then builds strategic merge patches for built-in kinds from the
patch strategies compiled into it (always complete), rather than from these schemas (which
only model the fields whose merge keys matter most). Custom resources get JSON merge patches,
as from a real server. Component schemas still carry ``x-kubernetes-group-version-kind`` and,
for built-in kinds, ``x-kubernetes-patch-strategy``/``x-kubernetes-patch-merge-key`` on the
lists people patch (containers, env, ports, volumes, conditions, ownerReferences); everything
not modelled is open (``x-kubernetes-preserve-unknown-fields``). CRD schemas come from the CRD.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from podscaler.sim.apiserver.errors import NotAcceptable, NotFound
from podscaler.sim.apiserver.negotiation import media_ranges
from podscaler.sim.apiserver.resources import ResourceType
from podscaler.sim.apiserver.state import ServerState
from podscaler.sim.apiserver.wire import respond

_OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_META_REF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_PKG = {"": "core"}


def _merge_list(key: str, items: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "array",
        "items": items or dict(_OPEN),
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-patch-merge-key": key,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": [key],
    }


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "x-kubernetes-preserve-unknown-fields": True}


def _container() -> dict[str, Any]:
    return _obj(
        name={"type": "string"},
        image={"type": "string"},
        env=_merge_list("name"),
        ports=_merge_list("containerPort"),
        volumeMounts=_merge_list("mountPath"),
    )


def _pod_spec() -> dict[str, Any]:
    return _obj(
        containers=_merge_list("name", _container()),
        initContainers=_merge_list("name", _container()),
        volumes=_merge_list("name"),
        imagePullSecrets=_merge_list("name"),
        tolerations={"type": "array", "items": dict(_OPEN)},
    )


def _status() -> dict[str, Any]:
    return _obj(conditions=_merge_list("type"))


def _builtin_schema(rt: ResourceType) -> dict[str, Any]:
    spec: dict[str, Any] = dict(_OPEN)
    if (rt.group, rt.kind) == ("", "Pod"):
        spec = _pod_spec()
    elif rt.group in ("apps", "batch") and rt.kind != "CronJob":
        spec = _obj(
            template=_obj(metadata={"$ref": f"#/components/schemas/{_META_REF}"}, spec=_pod_spec())
        )
    elif (rt.group, rt.kind) == ("", "Service"):
        spec = _obj(ports=_merge_list("port"))
    return {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"$ref": f"#/components/schemas/{_META_REF}"},
            "spec": spec,
            "status": _status(),
        },
        "x-kubernetes-preserve-unknown-fields": True,
    }


def schema_name(rt: ResourceType) -> str:
    if rt.custom:
        return ".".join([*reversed(rt.group.split(".")), rt.version, rt.kind])
    if rt.group == "apiextensions.k8s.io":
        return f"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.{rt.kind}"
    if rt.group == "apiregistration.k8s.io":
        return f"io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.{rt.kind}"
    # upstream's Go package: the first label of a *.k8s.io group (rbac.authorization.k8s.io:
    # rbac), the group itself otherwise
    package = _PKG.get(
        rt.group, rt.group.split(".")[0] if rt.group.endswith(".k8s.io") else rt.group
    )
    return f"io.k8s.api.{package}.{rt.version}.{rt.kind}"


def _gvk(rt: ResourceType, kind: str | None = None) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": kind or rt.kind}


def _query(name: str, type_: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": type_, "uniqueItems": True}}


def _path_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


def _ok(ref: str) -> dict[str, Any]:
    return {
        "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}
    }


def _operations(rt: ResourceType, ref: str, action_suffix: str) -> dict[str, Any]:
    gvk = _gvk(rt)
    write_params = [_query("dryRun"), _query("fieldManager"), _query("fieldValidation")]
    ops: dict[str, Any] = {
        "get": {
            "operationId": f"read{rt.kind}{action_suffix}",
            "x-kubernetes-action": "get",
            "x-kubernetes-group-version-kind": gvk,
            "responses": _ok(ref),
        }
    }
    if "update" in rt.verbs:
        ops["put"] = {
            "operationId": f"replace{rt.kind}{action_suffix}",
            "x-kubernetes-action": "put",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": write_params,
            "requestBody": {
                "content": {"application/json": {"schema": {"$ref": ref}}},
                "required": True,
            },
            "responses": _ok(ref),
        }
    if "patch" in rt.verbs:
        patch_ref = {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}
        ops["patch"] = {
            "operationId": f"patch{rt.kind}{action_suffix}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [*write_params, _query("force", "boolean")],
            "requestBody": {
                "content": {
                    "application/json-patch+json": {"schema": patch_ref},
                    "application/merge-patch+json": {"schema": patch_ref},
                },
                "required": True,
            },
            "responses": _ok(ref),
        }
    if "delete" in rt.verbs and not action_suffix:
        ops["delete"] = {
            "operationId": f"delete{rt.kind}",
            "x-kubernetes-action": "delete",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [_query("dryRun"), _query("propagationPolicy")],
            "responses": _ok("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
        }
    return ops


def document(server: ServerState, group: str, version: str) -> dict[str, Any] | None:
    types = server.table.in_group_version(group, version)
    if not types:
        return None
    schemas: dict[str, Any] = {
        _META_REF: _obj(
            name={"type": "string"},
            namespace={"type": "string"},
            labels={"type": "object", "additionalProperties": {"type": "string"}},
            annotations={"type": "object", "additionalProperties": {"type": "string"}},
            finalizers={
                "type": "array",
                "items": {"type": "string"},
                "x-kubernetes-patch-strategy": "merge",
            },
            ownerReferences=_merge_list("uid"),
        ),
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": {"type": "object"},
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status": dict(_OPEN),
    }
    paths: dict[str, Any] = {}
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for rt in sorted(types, key=lambda t: t.resource):
        name = schema_name(rt)
        if rt.custom:
            schema = dict(rt.schema or _OPEN)
            props = dict(schema.get("properties") or {})
            props["metadata"] = {"$ref": f"#/components/schemas/{_META_REF}"}
            schema["properties"] = props
        else:
            schema = _builtin_schema(rt)
        schema["x-kubernetes-group-version-kind"] = [_gvk(rt)]
        schemas[name] = schema
        schemas[f"{name}List"] = {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}
            },
            "x-kubernetes-group-version-kind": [_gvk(rt, rt.list_kind)],
        }
        ref = f"#/components/schemas/{name}"
        scope = (
            f"{base}/namespaces/{{namespace}}/{rt.resource}"
            if rt.namespaced
            else f"{base}/{rt.resource}"
        )
        params = [_path_param("name")] + ([_path_param("namespace")] if rt.namespaced else [])
        paths[scope] = {
            "get": {
                "operationId": f"list{rt.kind}",
                "x-kubernetes-action": "list",
                "x-kubernetes-group-version-kind": _gvk(rt),
                "responses": _ok(f"#/components/schemas/{name}List"),
            },
            "parameters": params[1:],
        }
        if "create" in rt.verbs:
            paths[scope]["post"] = {
                "operationId": f"create{rt.kind}",
                "x-kubernetes-action": "post",
                "x-kubernetes-group-version-kind": _gvk(rt),
                "parameters": [_query("dryRun"), _query("fieldManager"), _query("fieldValidation")],
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": ref}}},
                    "required": True,
                },
                "responses": _ok(ref),
            }
        paths[f"{scope}/{{name}}"] = {**_operations(rt, ref, ""), "parameters": params}
        if "status" in rt.subresources:
            paths[f"{scope}/{{name}}/status"] = {
                **_operations(rt, ref, "Status"),
                "parameters": params,
            }
    return {
        "openapi": "3.0.0",
        "info": {
            "title": "Kubernetes (podscaler embedded API server)",
            "version": "v1.32.0-podscaler",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _digest(doc: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()


#: The media type of ``/openapi/v2`` as protobuf, as kube-apiserver names it in its answer
#: (clients ask for ``...spec.v2@v1.0+protobuf``, which Go's MIME parser refuses to write).
OPENAPI_V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_V2_PROTOBUF_ASKED = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)
_REF_V3, _REF_V2 = "#/components/schemas/", "#/definitions/"


def _v2_refs(value: Any) -> Any:
    """``value`` with every v3 schema reference pointed at v2's ``definitions``."""
    if isinstance(value, dict):
        return {
            k: (v.replace(_REF_V3, _REF_V2) if k == "$ref" and isinstance(v, str) else _v2_refs(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_v2_refs(v) for v in value]
    return value


def _v2_parameter(param: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in param.items() if k != "schema"}
    out.update(param.get("schema") or {})
    return out


def _v2_operation(op: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in op.items() if k not in ("parameters", "requestBody", "responses")}
    params = [_v2_parameter(p) for p in op.get("parameters") or ()]
    body = op.get("requestBody")
    if body is not None:
        content: dict[str, Any] = body.get("content") or {}
        out["consumes"] = list(content)
        first: dict[str, Any] = next(iter(content.values()), {})
        schema = first.get("schema", {})
        params.append({"name": "body", "in": "body", "required": True, "schema": schema})
    if params:
        out["parameters"] = params
    responses: dict[str, Any] = {}
    for code, answer in (op.get("responses") or {}).items():
        content = answer.get("content") or {}
        responses[code] = {"description": answer.get("description", "")}
        if content:
            responses[code]["schema"] = next(iter(content.values())).get("schema", {})
    out["responses"] = responses
    out["produces"] = ["application/json", "application/yaml"]
    out["schemes"] = ["https"]
    return out


def document_v2_json(server: ServerState) -> dict[str, Any]:
    """``/openapi/v2`` as Swagger 2.0 JSON: every served group-version's paths and models
    (the same ones as the ``/openapi/v3`` documents), in one document."""
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for group, versions in sorted(server.table.group_versions().items()):
        for version in versions:
            doc = document(server, group, version)
            if doc is None:
                continue
            definitions.update(_v2_refs(doc["components"]["schemas"]))
            for path, item in doc["paths"].items():
                converted: dict[str, Any] = {}
                for key, value in _v2_refs(item).items():
                    if key == "parameters":
                        converted[key] = [_v2_parameter(p) for p in value]
                    else:
                        converted[key] = _v2_operation(value)
                paths[path] = converted
    return {
        "swagger": "2.0",
        "info": {
            "title": "Kubernetes (podscaler embedded API server)",
            "version": "v1.32.0-podscaler",
        },
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "type": "apiKey",
                "name": "authorization",
                "in": "header",
            }
        },
        "security": [{"BearerToken": []}],
    }


def _v2_answer(server: ServerState, accept: str) -> web.Response:
    """``/openapi/v2`` in the first form ``accept`` names: JSON, or protobuf; 406 when it
    names neither (kube-apiserver's negotiation; no header means any)."""
    for media, _params in media_ranges(accept or "*/*"):
        if media in ("application/json", "application/*", "*/*"):
            return respond(document_v2_json(server))
        if media in _V2_PROTOBUF_ASKED:
            return web.Response(body=document_v2(server), content_type=OPENAPI_V2_CONTENT_TYPE)
    raise NotAcceptable(
        "only the following media types are accepted: application/json, "
        + ", ".join(_V2_PROTOBUF_ASKED)
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes | str) -> bytes:
    """A length-delimited protobuf field (strings, bytes and embedded messages alike)."""
    raw = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def document_v2(server: ServerState) -> bytes:
    """``/openapi/v2`` as gnostic's ``openapi.v2.Document`` protobuf: one open definition per
    served kind, tagged with its ``x-kubernetes-group-version-kind``.

    kubectl never leaves the validation of a ``kind: List`` to the server: it downloads this
    document (as protobuf, nothing else) and validates each item against it before creating
    or patching the items one by one. The definitions are open objects on purpose — the
    server validates every item when it is written (names, built-in rules, CRD schemas), and
    a model narrower than that validation would make kubectl refuse what the server accepts.
    """
    named: list[bytes] = []
    for group, versions in sorted(server.table.group_versions().items()):
        for version in versions:
            for rt in sorted(server.table.in_group_version(group, version), key=schema_name):
                gvk = f'- group: "{rt.group}"\n  kind: "{rt.kind}"\n  version: "{rt.version}"\n'
                extension = _field(1, "x-kubernetes-group-version-kind") + _field(
                    2,
                    _field(2, gvk),  # Any.yaml
                )
                schema = _field(22, _field(1, "object")) + _field(31, extension)
                named.append(_field(1, _field(1, schema_name(rt)) + _field(2, schema)))
    info = _field(1, "Kubernetes (podscaler embedded API server)") + _field(2, "v1.32.0-podscaler")
    return _field(1, "2.0") + _field(2, info) + _field(8, b"") + _field(9, b"".join(named))


def serve(server: ServerState, request: web.Request, parts: list[str]) -> web.Response:
    if parts == ["v2"]:
        return _v2_answer(server, request.headers.get("Accept", ""))
    if not parts or parts[0] != "v3":
        raise NotFound("the server could not find the requested resource")
    rest = parts[1:]
    if not rest:
        index: dict[str, Any] = {}
        for group, versions in server.table.group_versions().items():
            for version in versions:
                doc = document(server, group, version)
                if doc is None:
                    continue
                key = f"apis/{group}/{version}" if group else f"api/{version}"
                index[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={_digest(doc)}"}
        return respond({"paths": index})
    if rest[0] == "api" and len(rest) == 2:
        doc = document(server, "", rest[1])
    elif rest[0] == "apis" and len(rest) == 3:
        doc = document(server, rest[1], rest[2])
    else:
        doc = None
    if doc is None:
        raise NotFound("the server could not find the requested resource")
    return respond(doc)
