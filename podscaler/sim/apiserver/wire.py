"""What goes over the wire: request paths, bodies, selectors and JSON responses.

Shared by every handler of the embedded API server, so each handler module reads as the verb
it implements.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from podscaler.api.selectors import (
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from podscaler.sim.apiserver import bodies, protobuf
from podscaler.sim.apiserver.errors import ApiError, BadRequest, NotFound, UnsupportedMediaType
from podscaler.sim.apiserver.resources import ResourceTable, ResourceType
from podscaler.sim.apiserver.store import Obj, Predicate, dumps

JSON = "application/json"
PROTOBUF = protobuf.MEDIA_TYPE


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed resource path: ``namespace`` is None for all-namespaces or cluster scope."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool = False


def parse_resource_path(table: ResourceTable, group: str, version: str, rest: list[str]) -> Target:
    """Resolve the part of a path after ``/api/v1`` or ``/apis/{g}/{v}``."""
    watch_path = False
    if rest and rest[0] == "watch":
        # The deprecated /watch/ prefix, still sent by a few old clients.
        watch_path = True
        rest = rest[1:]
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace = rest[1]
        rest = rest[2:]
    if not rest or len(rest) > 3:
        raise NotFound("the server could not find the requested resource")
    rt = table.get(group, version, rest[0])
    if rt is None:
        raise NotFound("the server could not find the requested resource")
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if namespace is not None and not rt.namespaced:
        raise NotFound("the server could not find the requested resource")
    if rt.namespaced and namespace is None and name is not None:
        raise NotFound("the server could not find the requested resource")
    if sub is not None and sub not in rt.subresources:
        raise NotFound("the server could not find the requested resource")
    return Target(rt, namespace, name, sub, watch_path)


def respond(body: bytes | dict[str, Any], status: int = 200) -> web.Response:
    raw = body if isinstance(body, bytes) else dumps(body)
    return web.Response(body=raw, status=status, content_type=JSON)


def error_response(err: ApiError) -> web.Response:
    resp = respond(err.status(), err.code)
    if err.retry_after_seconds is not None:
        resp.headers["Retry-After"] = str(err.retry_after_seconds)
    return resp


#: The media types a create or update body may have (upstream's serializers; a request without
#: a Content-Type is read as JSON).
_OBJECT_TYPES: Final = (JSON, "application/yaml", PROTOBUF)


async def read_object(request: web.Request) -> Obj:
    """The request body as a JSON, YAML or Kubernetes protobuf object; another media type,
    or a protobuf kind the server has no table for, is a 415. Bounded in size, depth and alias
    expansion (see ``bodies.py``)."""
    raw = await bodies.read(request)
    if not raw.strip():
        raise BadRequest("the request body is empty")
    ctype = request.content_type
    if "Content-Type" in request.headers and ctype not in _OBJECT_TYPES:
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(_OBJECT_TYPES)}"
        )
    if ctype == PROTOBUF:
        value: Any = protobuf_object(raw)
    else:
        value = await bodies.decode(raw, ctype)
    if not isinstance(value, dict):
        raise BadRequest("the body of the request must be an object")
    return value


def protobuf_object(raw: bytes) -> Obj:
    """A ``k8s\\x00`` protobuf body as the JSON object it stands for (see ``protobuf/``)."""
    try:
        return protobuf.decode(raw)
    except protobuf.UnsupportedKind as exc:
        raise UnsupportedMediaType(
            f"the embedded API server cannot decode {exc.kind} ({exc.api_version}) sent as "
            f"{PROTOBUF}; send it as JSON instead: kubectl apply -f with a manifest (kubectl "
            "create ... --dry-run=client -o yaml | kubectl apply -f - turns a kubectl create "
            "command into one)"
        ) from exc
    except protobuf.MalformedBody as exc:
        raise BadRequest(
            f"the body of the request could not be decoded as protobuf: {exc}"
        ) from exc


async def read_patch(request: web.Request) -> Any:
    """A patch body (JSON), bounded as every body is; a JSON patch of more operations than
    upstream allows is a 413."""
    raw = await bodies.read(request)
    if not raw.strip():
        return None
    patch = await bodies.decode(raw, request.content_type)
    if isinstance(patch, list) and len(patch) > bodies.MAX_JSON_PATCH_OPERATIONS:
        raise bodies.RequestEntityTooLarge(
            f"The allowed maximum operations in a JSON patch is "
            f"{bodies.MAX_JSON_PATCH_OPERATIONS}, got {len(patch)}"
        )
    return patch


def check_kind(
    rt: ResourceType, obj: Obj, *, kind: str | None = None, api_version: str | None = None
) -> None:
    """A body naming another kind or apiVersion is a 400, as when upstream fails to decode it."""
    want_kind = kind or rt.kind
    want_av = api_version or rt.api_version
    got_kind = obj.get("kind")
    got_av = obj.get("apiVersion")
    if got_kind and got_kind != want_kind:
        raise BadRequest(f"the kind in the body ({got_kind}) does not match {want_kind}")
    if got_av and got_av != want_av:
        raise BadRequest(
            f"the API version in the data ({got_av}) does not match the expected API version "
            f"({want_av})"
        )
    meta = obj.get("metadata", {})
    if not isinstance(meta, dict):
        raise BadRequest("metadata must be an object")
    problem = _metadata_type_problem(meta)
    if problem is not None:
        raise BadRequest(
            f'{want_kind} in version "{rt.version}" cannot be handled as a {want_kind}: {problem}'
        )


#: ObjectMeta fields and the JSON shape each must have: "string", "map" (of strings) or
#: "list" (of strings).
_META_SHAPES = {
    "name": "string",
    "generateName": "string",
    "namespace": "string",
    "resourceVersion": "string",
    "uid": "string",
    "labels": "map",
    "annotations": "map",
    "finalizers": "list",
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def _metadata_type_problem(meta: dict[str, Any]) -> str | None:
    """A field of ``metadata`` whose JSON type cannot decode into ObjectMeta, in the words of
    Go's decoder (upstream answers such a body with a 400, before any validation)."""
    for field, shape in _META_SHAPES.items():
        value = meta.get(field)
        if value is None:
            continue
        where = f"Go struct field ObjectMeta.metadata.{field}"
        if shape == "string" and not isinstance(value, str):
            return f"json: cannot unmarshal {_json_type(value)} into {where} of type string"
        if shape == "map":
            if not isinstance(value, dict):
                return (
                    f"json: cannot unmarshal {_json_type(value)} into {where} of type "
                    "map[string]string"
                )
            bad = next(
                (v for v in value.values() if v is not None and not isinstance(v, str)), None
            )
            if bad is not None:
                return f"json: cannot unmarshal {_json_type(bad)} into {where} of type string"
        if shape == "list":
            if not isinstance(value, list):
                return f"json: cannot unmarshal {_json_type(value)} into {where} of type []string"
            bad = next((v for v in value if v is not None and not isinstance(v, str)), None)
            if bad is not None:
                return f"json: cannot unmarshal {_json_type(bad)} into {where} of type string"
    return None


def selector_predicate(rt: ResourceType, query: Any) -> Predicate | None:
    """Compile ``labelSelector`` and ``fieldSelector`` into one filter (400 when malformed)."""
    label_text = query.get("labelSelector") or ""
    field_text = query.get("fieldSelector") or ""
    if not label_text and not field_text:
        return None
    try:
        labels = parse_label_selector(label_text) if label_text else None
        fields = (
            parse_field_selector(field_text).for_kind(rt.kind, rt.group) if field_text else None
        )
    except SelectorError as exc:
        raise BadRequest(str(exc)) from exc
    if fields is not None and fields.is_empty:
        fields = None
    if labels is not None and labels.is_empty:
        labels = None
    if labels is None and fields is None:
        return None
    from podscaler.api.selectors import field_set

    kind, group = rt.kind, rt.group

    def matches(obj: Obj) -> bool:
        if labels is not None and not labels.matches(obj["metadata"].get("labels") or {}):
            return False
        return fields is None or fields.matches(field_set(obj, kind, group))

    return matches


def encode_continue(rv: int, last: tuple[str, str]) -> str:
    raw = json.dumps({"v": "podscaler/1", "rv": rv, "start": list(last)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        ns, name = data["start"]
        return int(data["rv"]), (str(ns), str(name))
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise BadRequest(
            "continue key is not valid: incorrect encoded start resourceVersion"
        ) from exc


def query_int(query: Any, name: str, default: int) -> int:
    text = query.get(name)
    if text in (None, ""):
        return default
    try:
        return int(text)
    except ValueError as exc:
        raise BadRequest(f"invalid {name}: {text!r} is not an integer") from exc


def query_bool(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("1", "true", "yes")
