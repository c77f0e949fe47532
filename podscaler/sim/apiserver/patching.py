"""The three PATCH dialects of the Kubernetes API, as pure functions over JSON values.

The embedded API server answers ``PATCH`` the way kube-apiserver does because its clients are
real ones: ``kubectl scale`` and ``kubectl label`` send JSON merge patches (RFC 7386), operators
and kubernetes-asyncio send JSON patches (RFC 6902), and ``kubectl apply`` sends strategic
merge patches whose lists merge by key (containers by ``name``) and which carry the
``$patch``/``$setElementOrder``/``$deleteFromPrimitiveList``/``$retainKeys`` directives. Getting
these wrong shows up as a user's sidecar vanishing on ``kubectl apply``, so the semantics follow
apimachinery's ``strategicpatch`` package, including its order rules.

Every function takes JSON-shaped values (dict, list, str, int, float, bool, None), never mutates
its inputs, returns fresh values sharing nothing with them, and raises ``PatchError`` with a
message the server returns as 422 (or 400 for a malformed patch document).

Deliberate differences from apimachinery, each one making a malformed-but-accepted patch give a
cleaner object rather than a different one for patches kubectl produces:

* a map or list the patch adds where the target had none is merged into an empty value, so
  directives and ``null`` members inside it are honoured (upstream copies it verbatim);
* ``$patch: merge`` is accepted as a no-op in maps and list elements (upstream rejects it);
* ``$deleteFromPrimitiveList`` also applies to lists the schema does not mark as merging.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

__all__ = [
    "ListStrategy",
    "PatchError",
    "PatchStrategy",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "json_equal",
    "strategy_for",
]


class PatchError(ValueError):
    """A patch that cannot be applied to this object (the server answers 422 or 400)."""


Path = tuple[str, ...]


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value; cheaper than ``copy.deepcopy`` on large objects."""
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values as RFC 6902 ``test`` defines it.

    Python's ``==`` says ``True == 1`` and ``{"a": 1} == {"a": True}``; JSON does not, while
    ``1 == 1.0`` holds in both (numbers compare by value).
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


# --- RFC 7386 JSON merge patch ------------------------------------------------------------------


def apply_merge_patch(target: Any, patch: Any, *, in_place: bool = False) -> Any:
    """Apply an RFC 7386 merge patch: objects merge recursively, ``null`` deletes, all else
    (lists included) replaces.

    ``in_place=True`` is for a caller that owns ``target`` (a private copy it will discard on
    error): ``target`` itself is merged into and returned instead of being copied first. The
    result still shares nothing with ``patch``.
    """
    if not isinstance(patch, Mapping):
        return _copy(patch)
    if isinstance(target, dict) and in_place:
        result: dict[str, Any] = target
    elif isinstance(target, Mapping):
        # One deep copy, then merge into it (copying per level of the patch's depth would copy
        # the patched branch again at each level).
        result = _copy(target)
    else:
        result = {}
    return _merge_into(result, patch)


def _merge_into(result: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``patch`` into ``result``, which the caller owns (every dict in it is private)."""
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            current = result.get(key)
            result[key] = _merge_into(current if isinstance(current, dict) else {}, value)
        else:
            result[key] = _copy(value)
    return result


# --- RFC 6902 JSON patch --------------------------------------------------------------------------

_INDEX_RE = re.compile(r"0|[1-9][0-9]*")


def _pointer(text: Any, member: str, index: int) -> list[str]:
    """Split an RFC 6901 JSON pointer into unescaped reference tokens."""
    if not isinstance(text, str):
        raise PatchError(f"operation {index}: '{member}' must be a string JSON pointer")
    if text == "":
        return []
    if not text.startswith("/"):
        raise PatchError(f"operation {index}: JSON pointer {text!r} must start with '/'")
    tokens = text[1:].split("/")
    for token in tokens:
        if re.search(r"~(?![01])", token):
            raise PatchError(f"operation {index}: invalid escape in JSON pointer {text!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in tokens]


def _array_index(token: str, length: int, *, for_add: bool, where: str) -> int:
    if for_add and token == "-":
        return length
    if not _INDEX_RE.fullmatch(token):
        raise PatchError(f"{where}: {token!r} is not a valid array index")
    idx = int(token)
    if idx > length or (idx == length and not for_add):
        raise PatchError(f"{where}: array index {idx} out of bounds (length {length})")
    return idx


def _walk(doc: Any, tokens: Sequence[str], where: str) -> Any:
    """The value at ``tokens``; a missing member or index is an error."""
    cur = doc
    for token in tokens:
        if isinstance(cur, dict):
            if token not in cur:
                raise PatchError(f"{where}: path does not exist (missing key {token!r})")
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_array_index(token, len(cur), for_add=False, where=where)]
        else:
            raise PatchError(f"{where}: path does not exist (cannot descend into a scalar)")
    return cur


def _add(doc: Any, tokens: list[str], value: Any, where: str) -> Any:
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1], where)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_array_index(last, len(parent), for_add=True, where=where), value)
    else:
        raise PatchError(f"{where}: parent of the target is not an object or array")
    return doc


def _remove(doc: Any, tokens: list[str], where: str) -> Any:
    """Remove and return the value at ``tokens``."""
    if not tokens:
        raise PatchError(f"{where}: cannot remove the whole document")
    parent = _walk(doc, tokens[:-1], where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{where}: path does not exist (missing key {last!r})")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_array_index(last, len(parent), for_add=False, where=where))
    raise PatchError(f"{where}: parent of the target is not an object or array")


def _apply_operation(doc: Any, operation: Any, index: int) -> Any:
    if not isinstance(operation, Mapping):
        raise PatchError(f"operation {index}: must be an object")
    op = operation.get("op")
    where = f"operation {index} ({op} {operation.get('path')!r})"
    path = _pointer(operation.get("path"), "path", index)
    if op in ("add", "replace", "test") and "value" not in operation:
        raise PatchError(f"{where}: missing 'value'")
    if op == "add":
        return _add(doc, path, _copy(operation["value"]), where)
    if op == "remove":
        _remove(doc, path, where)
        return doc
    if op == "replace":
        if not path:
            return _copy(operation["value"])
        _remove(doc, path, where)
        return _add(doc, path, _copy(operation["value"]), where)
    if op == "test":
        if not json_equal(_walk(doc, path, where), operation["value"]):
            raise PatchError(f"{where}: test failed, the value differs")
        return doc
    if op in ("move", "copy"):
        source = _pointer(operation.get("from"), "from", index)
        if op == "move":
            if source == path:
                _walk(doc, source, where)
                return doc
            if path[: len(source)] == source:
                raise PatchError(f"{where}: cannot move a value into one of its own children")
            return _add(doc, path, _remove(doc, source, where), where)
        return _add(doc, path, _copy(_walk(doc, source, where)), where)
    raise PatchError(f"operation {index}: unknown op {op!r}")


def apply_json_patch(target: Any, operations: list[Any], *, in_place: bool = False) -> Any:
    """Apply an RFC 6902 JSON patch; the operations apply in order, all or nothing.

    ``in_place=True`` skips the copy of ``target`` for a caller that owns it and discards it
    when this raises (it may then be partly patched).
    """
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be an array of operations")
    doc = target if in_place else _copy(target)
    for index, operation in enumerate(operations):
        doc = _apply_operation(doc, operation, index)
    return doc


# --- strategic merge patch: the schema ----------------------------------------------------------


@dataclass(frozen=True)
class ListStrategy:
    """How a list field merges: by ``merge_key`` for lists of objects, as a set for lists of
    scalars (``merge_key`` None). ``retain_keys`` mirrors upstream's ``retainKeys`` strategy
    (kubectl sends ``$retainKeys`` for such elements; applying honours the directive anyway)."""

    merge_key: str | None = None
    retain_keys: bool = False


@dataclass(frozen=True)
class PatchStrategy:
    """The patch metadata of one kind: which list fields merge, and by which key.

    Paths name object keys from the root, stepping through list elements transparently:
    ``("spec", "template", "spec", "containers", "env")`` is every container's ``env``. A list
    not listed here is atomic and a patch replaces it whole, as for fields without a
    ``patchStrategy`` tag upstream.
    """

    kind: str
    lists: Mapping[Path, ListStrategy] = field(default_factory=dict)

    def list_strategy(self, path: Sequence[str]) -> ListStrategy | None:
        return self.lists.get(tuple(path))


def _by(key: str | None, *, retain: bool = False) -> ListStrategy:
    return ListStrategy(key, retain)


_META: dict[str, ListStrategy] = {
    "metadata.finalizers": _by(None),
    "metadata.ownerReferences": _by("uid"),
}
_CONDITIONS: dict[str, ListStrategy] = {"status.conditions": _by("type")}

_CONTAINER: dict[str, ListStrategy] = {
    "ports": _by("containerPort"),
    "env": _by("name"),
    "volumeMounts": _by("mountPath"),
    "volumeDevices": _by("devicePath"),
}
_POD_SPEC: dict[str, ListStrategy] = {
    "volumes": _by("name", retain=True),
    "containers": _by("name"),
    "initContainers": _by("name"),
    "ephemeralContainers": _by("name"),
    "imagePullSecrets": _by("name"),
    "hostAliases": _by("ip"),
    "topologySpreadConstraints": _by("topologyKey"),
    "schedulingGates": _by("name"),
    "resourceClaims": _by("name", retain=True),
    **{
        f"{containers}.{name}": strategy
        for containers in ("containers", "initContainers", "ephemeralContainers")
        for name, strategy in _CONTAINER.items()
    },
}
_POD_STATUS: dict[str, ListStrategy] = {
    "conditions": _by("type"),
    "podIPs": _by("ip"),
    "hostIPs": _by("ip"),
    "resourceClaimStatuses": _by("name"),
}


def _under(prefix: str, entries: Mapping[str, ListStrategy]) -> dict[str, ListStrategy]:
    return {f"{prefix}.{path}": strategy for path, strategy in entries.items()}


_POD_TEMPLATE = _under("spec.template.spec", _POD_SPEC)

#: (group, kind) -> list fields with a merge strategy, from the ``patchStrategy`` and
#: ``patchMergeKey`` tags of the k8s.io/api types. Every kind also gets ``_META``.
_TABLE: dict[tuple[str, str], dict[str, ListStrategy]] = {
    ("", "Pod"): {**_under("spec", _POD_SPEC), **_under("status", _POD_STATUS)},
    ("", "PodTemplate"): _under("template.spec", _POD_SPEC),
    ("", "ReplicationController"): {**_POD_TEMPLATE, **_CONDITIONS},
    ("", "Node"): {
        "spec.podCIDRs": _by(None),
        "status.conditions": _by("type"),
        "status.addresses": _by("type"),
    },
    ("", "Service"): {"spec.ports": _by("port"), **_CONDITIONS},
    ("", "Namespace"): _CONDITIONS,
    ("", "ServiceAccount"): {"secrets": _by("name")},
    ("", "PersistentVolumeClaim"): _CONDITIONS,
    ("", "ConfigMap"): {},
    ("", "Secret"): {},
    ("", "Event"): {},
    ("", "Endpoints"): {},
    ("", "LimitRange"): {},
    ("", "ResourceQuota"): {},
    ("apps", "Deployment"): {**_POD_TEMPLATE, **_CONDITIONS},
    ("apps", "ReplicaSet"): {**_POD_TEMPLATE, **_CONDITIONS},
    ("apps", "StatefulSet"): {**_POD_TEMPLATE, **_CONDITIONS},
    ("apps", "DaemonSet"): {**_POD_TEMPLATE, **_CONDITIONS},
    ("apps", "ControllerRevision"): {},
    ("batch", "Job"): {**_POD_TEMPLATE, **_CONDITIONS},
    ("batch", "CronJob"): _under("spec.jobTemplate.spec.template.spec", _POD_SPEC),
    ("autoscaling", "HorizontalPodAutoscaler"): _CONDITIONS,
    ("policy", "PodDisruptionBudget"): _CONDITIONS,
    ("coordination.k8s.io", "Lease"): {},
    ("events.k8s.io", "Event"): {},
    ("discovery.k8s.io", "EndpointSlice"): {},
    ("scheduling.k8s.io", "PriorityClass"): {},
    ("rbac.authorization.k8s.io", "Role"): {},
    ("rbac.authorization.k8s.io", "ClusterRole"): {},
    ("rbac.authorization.k8s.io", "RoleBinding"): {},
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): {},
    ("apiextensions.k8s.io", "CustomResourceDefinition"): {},
    ("apiregistration.k8s.io", "APIService"): _CONDITIONS,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): {"webhooks": _by("name")},
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): {"webhooks": _by("name")},
}


@cache
def strategy_for(group: str, version: str, kind: str) -> PatchStrategy | None:
    """The strategic-merge metadata of a built-in kind, or None when there is none.

    None means the kind is not compiled into the server (custom resources, including
    podscaler's own): kube-apiserver answers a strategic merge patch for those with 415
    Unsupported Media Type, and so should the embedded server. The version is accepted for
    the server's convenience; the served versions of a kind share their patch metadata.
    """
    del version
    entries = _TABLE.get((group, kind))
    if entries is None:
        return None
    lists = {tuple(path.split(".")): s for path, s in {**_META, **entries}.items()}
    return PatchStrategy(kind=kind, lists=lists)


# --- strategic merge patch: applying ------------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PREFIX = "$deleteFromPrimitiveList/"
_ORDER_PREFIX = "$setElementOrder/"


def apply_strategic_merge_patch(
    target: Mapping[str, Any],
    patch: Mapping[str, Any],
    strategy: PatchStrategy,
    *,
    in_place: bool = False,
) -> dict[str, Any]:
    """Apply a Kubernetes strategic merge patch to an object of ``strategy``'s kind.

    Maps merge as in a JSON merge patch; lists the strategy marks as merging combine with the
    target's (objects by merge key, scalars as a set), every other list is replaced; the
    directives are honoured as apimachinery honours them on the server side.

    ``in_place=True`` skips the copy of ``target`` for a caller that owns it and discards it
    when this raises.
    """
    if not isinstance(target, Mapping):
        raise PatchError("the object to patch must be a JSON object")
    if not isinstance(patch, Mapping):
        raise PatchError("a strategic merge patch must be a JSON object")
    owned = target if in_place and isinstance(target, dict) else _copy(target)
    return _merge_map(owned, _copy(patch), (), strategy)


def _where(path: Path) -> str:
    return ".".join(path) or "<root>"


def _fresh(value: Any, path: Path, strategy: PatchStrategy) -> Any:
    """A patch value landing where the target has nothing (or a different type)."""
    if isinstance(value, dict):
        return _merge_map({}, value, path, strategy)
    if isinstance(value, list):
        return _merge_list([], value, path, strategy)
    return value


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], path: Path, strategy: PatchStrategy
) -> dict[str, Any]:
    """Merge ``patch`` into ``original`` (both private copies, mutated freely)."""
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            return {k: _without_nulls(v) for k, v in patch.items() if v is not None}
        if directive == "delete":
            return {}
        if directive != "merge":
            raise PatchError(f"{_where(path)}: unknown patch type {directive!r} in map")

    if _RETAIN_KEYS in patch:
        _retain_keys(original, patch, path)

    for order_key in [k for k in patch if k.startswith(_ORDER_PREFIX)]:
        _set_element_order(original, patch, order_key, path, strategy)

    for key, value in patch.items():
        if key.startswith(_DELETE_PREFIX):
            _delete_from_primitive_list(original, key[len(_DELETE_PREFIX) :], value, path)
            continue
        if key.startswith("$"):
            raise PatchError(f"{_where(path)}: unknown patch directive {key!r}")
        if value is None:
            original.pop(key, None)
            continue
        sub = (*path, key)
        current = original.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            original[key] = _merge_map(current, value, sub, strategy)
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list(current, value, sub, strategy)
        else:
            original[key] = _fresh(value, sub, strategy)
    return original


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _retain_keys(original: dict[str, Any], patch: dict[str, Any], path: Path) -> None:
    """``$retainKeys``: clear every field of ``original`` the list does not name.

    Used for union types (volume sources, a Deployment's ``strategy``) so that switching
    ``rollingUpdate`` to ``Recreate`` also drops the old ``rollingUpdate`` block.
    """
    keys = patch.pop(_RETAIN_KEYS)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise PatchError(f"{_where(path)}: invalid patch format of retainKeys")
    keep = set(keys)
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_PREFIX, _ORDER_PREFIX)):
            continue
        if key not in keep:
            raise PatchError(
                f"{_where(path)}: invalid patch format of retainKeys: {key!r} is patched "
                "but not retained"
            )
    for key in [k for k in original if k not in keep]:
        del original[key]


def _delete_from_primitive_list(
    original: dict[str, Any], key: str, values: Any, path: Path
) -> None:
    if not isinstance(values, list):
        raise PatchError(f"{_where((*path, key))}: $deleteFromPrimitiveList must be a list")
    current = original.get(key)
    if isinstance(current, list):
        original[key] = [v for v in current if not any(json_equal(v, d) for d in values)]


def _identity(item: Any, merge_key: str | None) -> Any:
    """What makes two list elements "the same": their merge key value, or themselves."""
    if merge_key is None:
        return item
    return item.get(merge_key) if isinstance(item, dict) else None


def _index_of(items: Sequence[Any], item: Any, merge_key: str | None) -> int:
    if merge_key is not None and not (isinstance(item, dict) and merge_key in item):
        return -1
    wanted = _identity(item, merge_key)
    for i, candidate in enumerate(items):
        if merge_key is not None and not (isinstance(candidate, dict) and merge_key in candidate):
            continue
        if json_equal(_identity(candidate, merge_key), wanted):
            return i
    return -1


def _partition(
    items: Sequence[Any], present_in: Sequence[Any], merge_key: str | None
) -> tuple[list[Any], list[Any]]:
    inside: list[Any] = []
    outside: list[Any] = []
    for item in items:
        (inside if _index_of(present_in, item, merge_key) >= 0 else outside).append(item)
    return inside, outside


def _sorted_by(items: list[Any], order: Sequence[Any], merge_key: str | None) -> list[Any]:
    """``items`` in the order ``order`` gives them; items ``order`` lacks go last, as found."""
    known = [(i, _index_of(order, i, merge_key)) for i in items]
    ranked = sorted((pos, n, i) for n, (i, pos) in enumerate(known) if pos >= 0)
    return [i for _, _, i in ranked] + [i for i, pos in known if pos < 0]


def _ordered(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: Sequence[Any],
    server_order: Sequence[Any],
    merge_key: str | None,
) -> list[Any]:
    """Interleave patch items and server-only items the way apimachinery does.

    Patch items keep the patch's order; a server-only item goes before the next patch item
    only when both exist in the live list and it came first there. So items the live object
    already had stay where they were, and items new to the list land *before* the server-only
    items that follow them; kubectl's ``$setElementOrder`` is what gives apply a full order.
    """
    right = _sorted_by(patch_items, patch_order, merge_key)
    left = _sorted_by(server_only, server_order, merge_key)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
        elif i >= len(left):
            out.append(right[j])
            j += 1
        else:
            li = _index_of(server_order, left[i], merge_key)
            ri = _index_of(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _element_kind(items: Sequence[Any], path: Path) -> str:
    kinds = {
        "map" if isinstance(v, dict) else "list" if isinstance(v, list) else "scalar" for v in items
    }
    if len(kinds) > 1 or "list" in kinds:
        raise PatchError(f"{_where(path)}: cannot merge a list of mixed or nested lists")
    return kinds.pop() if kinds else "scalar"


def _merge_list(
    original: list[Any], patch: list[Any], path: Path, strategy: PatchStrategy
) -> list[Any]:
    how = strategy.list_strategy(path)
    if how is None:
        # Atomic list: the patch replaces it. Stray directive elements carry no data.
        return [_without_nulls(v) for v in patch if not (isinstance(v, dict) and _DIRECTIVE in v)]
    if not original and not patch:
        return []
    if _element_kind([*original, *patch], path) == "scalar":
        merged: list[Any] = []
        for value in [*original, *patch]:
            if _index_of(merged, value, None) < 0:
                merged.append(value)
        inside, outside = _partition(merged, patch, None)
        return _ordered(inside, outside, patch, original, None)

    key = how.merge_key
    if key is None:
        raise PatchError(f"{_where(path)}: cannot merge lists without merge key")
    original, patch = _special_elements(original, patch, key, path, strategy)
    merged = list(original)
    for item in patch:
        if key not in item:
            raise PatchError(
                f"{_where(path)}: map {item} does not contain declared merge key: {key}"
            )
        found = _index_of(merged, item, key)
        if found >= 0:
            merged[found] = _merge_map(merged[found], item, path, strategy)
        else:
            merged.append(_merge_map({}, item, path, strategy))
    inside, outside = _partition(merged, patch, key)
    return _ordered(inside, outside, patch, original, key)


def _special_elements(
    original: list[Any], patch: list[Any], key: str, path: Path, strategy: PatchStrategy
) -> tuple[list[Any], list[Any]]:
    """Handle ``{"$patch": "delete", key: v}`` and ``{"$patch": "replace"}`` elements.

    Returns the live list left after deletions (or the replacement list) and the patch
    elements still to merge.
    """
    plain: list[Any] = []
    replace = False
    for item in patch:
        if _DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if key not in item:
                raise PatchError(
                    f"{_where(path)}: map {item} does not contain declared merge key: {key}"
                )
            original = [o for o in original if _index_of([item], o, key) < 0]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            rest = {k: v for k, v in item.items() if k != _DIRECTIVE}
            if rest:
                plain.append(rest)
        else:
            raise PatchError(f"{_where(path)}: unknown patch type {directive!r} in list")
    if replace:
        return [_merge_map({}, item, path, strategy) for item in plain], []
    return original, plain


def _set_element_order(
    original: dict[str, Any],
    patch: dict[str, Any],
    order_key: str,
    path: Path,
    strategy: PatchStrategy,
) -> None:
    """``$setElementOrder/<field>``: merge ``<field>`` now and give it the order listed.

    kubectl apply sends the full order of the user's list (as merge-key stubs) next to only
    the changed elements; the result puts the listed elements in that order and keeps
    elements only the server knows near their live neighbours.
    """
    order = patch.pop(order_key)
    name = order_key[len(_ORDER_PREFIX) :]
    sub = (*path, name)
    if not isinstance(order, list):
        raise PatchError(f"{_where(sub)}: $setElementOrder must be a list")
    how = strategy.list_strategy(sub)
    key = how.merge_key if how is not None else None
    live = original.get(name)
    patched = patch.get(name)
    if live is not None and not isinstance(live, list):
        return  # the object's field is not a list; the plain merge below decides
    if patched is None and name in patch:
        return  # the list itself is being deleted
    if patched is not None and not isinstance(patched, list):
        raise PatchError(f"{_where(sub)}: expected a list next to $setElementOrder")
    if patched is not None:
        _check_order(patched, order, key, sub)
    if live is not None and patched is None:
        merged = live
    elif live is None and patched is not None:
        merged = _fresh(patched, sub, strategy)
    elif live is not None and patched is not None:
        merged = _merge_list(live, patched, sub, strategy)
    else:
        return
    patch.pop(name, None)
    if how is None:
        original[name] = merged  # atomic list: the patch's own order is final
        return
    inside, outside = _partition(merged, order, key)
    original[name] = _ordered(inside, outside, order, live or [], key)


def _check_order(patched: list[Any], order: list[Any], key: str | None, path: Path) -> None:
    """The patch list's elements must appear in ``$setElementOrder`` in the same order."""
    items = [v for v in patched if not (isinstance(v, dict) and _DIRECTIVE in v)]
    position = 0
    for item in items:
        while position < len(order) and _index_of([order[position]], item, key) < 0:
            position += 1
        if position >= len(order):
            raise PatchError(
                f"{_where(path)}: the order in the patch list {patched} doesn't match the "
                f"$setElementOrder list {order}"
            )
        position += 1
