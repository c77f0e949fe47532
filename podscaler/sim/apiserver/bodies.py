"""Request bodies: read within kube-apiserver's limits, decoded so that a small body can never
become a large object or a deep recursion.

Why this module exists: a ~400-byte YAML body of nested aliases ("billion laughs") is a
handful of nodes to a YAML parser, but every consumer that walks it — the store serializing
it, a watch sending it — expands each alias again, and the embedded API server grew to
gigabytes answering nothing, ``/healthz`` included. Deeply nested JSON or YAML made Python's
recursive parsers raise ``RecursionError`` (a 500) or burn seconds. So every body is bounded
before anything else sees it:

* **size**: at most :data:`MAX_BODY_BYTES` (kube-apiserver's 3 MiB request body limit), else
  ``413 RequestEntityTooLarge`` with upstream's message;
* **nesting**: at most :data:`MAX_DEPTH` levels of objects and arrays, else a fast 400 (Go's
  decoders have no Python recursion limit to protect; this server does);
* **aliases**: YAML anchors may be referenced, but the document they expand to may not be
  larger than a body without aliases could be (:data:`MAX_BODY_BYTES` counted as nodes plus
  scalar characters), else a 400 — the same idea as go-yaml's "excessive aliasing" check;
  recursive aliases are refused;
* **values**: only what JSON can carry — ``NaN``/``Infinity`` and numbers that overflow a
  float are refused; YAML timestamps and binary stay strings and mapping keys become strings,
  as sigs.k8s.io/yaml's YAML-to-JSON conversion leaves them;
* **JSON patches**: at most :data:`MAX_JSON_PATCH_OPERATIONS` operations (upstream's limit).

Bodies larger than :data:`OFFLOAD_BYTES` are decoded in a worker thread, so the event loop
keeps answering other requests (health checks above all) while a large body is parsed.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any, Final

import yaml
from aiohttp import web

from podscaler.sim.apiserver.errors import ApiError, BadRequest

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "MAX_JSON_PATCH_OPERATIONS",
    "OFFLOAD_BYTES",
    "RequestEntityTooLarge",
    "decode",
    "decode_json",
    "decode_yaml",
    "duplicate_fields",
    "find_duplicates",
    "read",
]

#: kube-apiserver's limit on one request body (``MaxRequestBodyBytes``, 3 MiB).
MAX_BODY_BYTES: Final = 3 * 1024 * 1024
#: Levels of nested objects and arrays a body may have. Kubernetes objects are rarely deeper
#: than 20; a CRD's openAPIV3Schema of a pod template reaches about 60.
MAX_DEPTH: Final = 128
#: kube-apiserver's ``maxJSONPatchOperations``.
MAX_JSON_PATCH_OPERATIONS: Final = 10_000
#: Bodies at least this large are decoded in a worker thread.
OFFLOAD_BYTES: Final = 64 * 1024

_DEPTH_MESSAGE: Final = f"the object is nested more than {MAX_DEPTH} levels deep"


class RequestEntityTooLarge(ApiError):
    code = 413
    reason = "RequestEntityTooLarge"


def too_large(limit: int = MAX_BODY_BYTES) -> RequestEntityTooLarge:
    """Upstream's ``NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit))``."""
    return RequestEntityTooLarge(f"Request entity too large: limit is {limit}")


async def read(request: web.Request) -> bytes:
    """The request body, refusing one over :data:`MAX_BODY_BYTES` with a 413.

    A declared ``Content-Length`` over the limit is refused before a byte is read; a chunked
    body is refused as soon as it passes the limit (aiohttp's ``client_max_size``, which the
    server sets to the same value).
    """
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise too_large()
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise too_large() from exc


async def decode(raw: bytes, content_type: str) -> Any:
    """``raw`` as JSON (or YAML when the content type says so), bounded as the module says;
    off the event loop when it is large."""
    decoder: Callable[[bytes], Any] = decode_yaml if "yaml" in content_type else decode_json
    if len(raw) >= OFFLOAD_BYTES:
        return await asyncio.get_running_loop().run_in_executor(None, decoder, raw)
    return decoder(raw)


async def find_duplicates(raw: bytes) -> list[str]:
    """:func:`duplicate_fields`, off the event loop when the body is large."""
    if len(raw) >= OFFLOAD_BYTES:
        return await asyncio.get_running_loop().run_in_executor(None, duplicate_fields, raw)
    return duplicate_fields(raw)


# ------------------------------------------------------------------------------------ JSON


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} does not fit a 64-bit float")
    return value


def decode_json(raw: bytes) -> Any:
    """Strict JSON: no ``NaN``/``Infinity``, no float overflow, at most :data:`MAX_DEPTH` deep."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise BadRequest(f"the body of the request could not be decoded: {_DEPTH_MESSAGE}") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, the refusals above
        raise BadRequest(f"the body of the request could not be decoded: {exc}") from exc
    # An object cannot be deeper than it has brackets: only bodies with many need the walk.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise BadRequest(f"the body of the request could not be decoded: {_DEPTH_MESSAGE}")
    return value


def duplicate_fields(raw: bytes) -> list[str]:
    """The paths (``spec.template.metadata.labels.app``, ``items[0].name``) of the object
    fields a JSON body sends more than once, for ``fieldValidation``; [] when it has none or
    is not JSON. Only a body with duplicates pays for the walk that names their paths."""
    repeated: dict[int, list[str]] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items):
            seen: set[str] = set()
            dups = repeated.setdefault(id(obj), [])
            for key, _value in items:
                if key in seen and key not in dups:
                    dups.append(key)
                seen.add(key)
        return obj

    try:
        value = json.loads(raw, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return []
    if not repeated:
        return []
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            found.extend(f"{path}.{key}" if path else key for key in repeated.get(id(node), ()))
            stack.extend((v, f"{path}.{k}" if path else k) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
    return sorted(found)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` containers (iterative: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


# ------------------------------------------------------------------------------------ YAML


class _Loader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """The safe loader, with the scalar types JSON has no room for kept as their text."""


def _as_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
_Loader.add_constructor("tag:yaml.org,2002:binary", _as_text)


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def decode_yaml(raw: bytes) -> Any:
    """One YAML document, bounded in depth and alias expansion, as the JSON value it stands for."""
    try:
        aliased = _check_events(raw)
        loader = _Loader(raw)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_expansion(node)
            value = loader.construct_document(node)
        finally:
            loader.dispose()
        value = _jsonable(value)
        # Aliases make one Python object appear in several places; every consumer expects a
        # tree it may change in one place only. The expansion check bounds this copy.
        return json.loads(json.dumps(value)) if aliased else value
    except _Refused as exc:
        raise BadRequest(f"the body of the request could not be decoded: {exc.message}") from exc
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise BadRequest(f"the body of the request could not be decoded: {exc}") from exc


def _check_events(raw: bytes) -> bool:
    """Refuse a too-deep document from the parser's events, before anything is built; whether
    the document uses aliases."""
    depth = 0
    aliased = False
    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    for event in yaml.parse(raw, Loader=_Loader):
        if isinstance(event, starts):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(_DEPTH_MESSAGE)
        elif isinstance(event, ends):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliased = True
    return aliased


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand it past :data:`MAX_BODY_BYTES`, or that refers to
    itself. Each distinct node is weighed once (aliases share nodes), so this is linear in the
    document as sent; recursion depth is bounded by :func:`_check_events`."""
    weights: dict[int, int] = {}
    open_nodes: set[int] = set()

    def weigh(node: yaml.Node) -> int:
        key = id(node)
        known = weights.get(key)
        if known is not None:
            return known
        if key in open_nodes:
            raise _Refused("a YAML alias refers to a node that contains it")
        open_nodes.add(key)
        if isinstance(node, yaml.ScalarNode):
            weight = 1 + len(node.value)
        elif isinstance(node, yaml.SequenceNode):
            weight = 1 + sum(weigh(child) for child in node.value)
        else:
            weight = 1 + sum(weigh(k) + weigh(v) for k, v in node.value)
        open_nodes.discard(key)
        if weight > MAX_BODY_BYTES:
            raise _Refused(
                "the YAML document's aliases expand it past the request size limit "
                f"({MAX_BODY_BYTES} bytes)"
            )
        weights[key] = weight
        return weight

    weigh(root)


def _jsonable(value: Any) -> Any:
    """Mapping keys as strings, sets as mappings, non-finite floats refused (iteratively)."""
    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, slot = stack.pop()
        node = parent[slot]
        if isinstance(node, float) and not math.isfinite(node):
            raise ValueError(f"{node} is not a JSON number")
        if isinstance(node, set):
            node = parent[slot] = dict.fromkeys(node)
        elif isinstance(node, tuple):
            node = parent[slot] = list(node)
        if isinstance(node, dict):
            if any(not isinstance(k, str) for k in node):
                node = parent[slot] = {_key_text(k): v for k, v in node.items()}
            stack.extend((node, k) for k in node)
        elif isinstance(node, list):
            stack.extend((node, i) for i in range(len(node)))
    return root[0]


def _key_text(key: Any) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, str | int | float):
        return str(key)
    raise ValueError(f"a mapping key must be a string, not {type(key).__name__}")
