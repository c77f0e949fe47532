"""Server-side apply and ``metadata.managedFields``: which manager owns which field.

kube-apiserver records, for every write, the fields each *manager* (the ``fieldManager``
query parameter, or the client's user-agent name) set, in ``metadata.managedFields``.
``application/apply-patch+yaml`` then merges a manager's whole intent into the object: it
creates the object when absent, refuses (409) to change a field another manager owns with a
different value unless ``force=true`` (which takes the field over), shares a field set to the
same value, and removes the fields the manager applied before but no longer does (when nobody
else owns them).

Deliberate simplifications versus upstream's structured-merge-diff:

* lists are atomic (owned and replaced whole); upstream merges lists with merge keys
  (``containers`` by name) item by item and records ``k:{...}`` keys for them;
* an ``Update`` takes over the fields whose value it changed (upstream's rule) but the fields
  are compared after defaulting, so a default filled in is owned by whoever wrote first;
* ``status`` is owned like any field, without the per-subresource split upstream keeps.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any, Final

from podscaler.sim.apiserver.errors import Conflict, invalid

Obj = dict[str, Any]
FieldPath = tuple[str, ...]

#: Fields nobody owns (identity and what the server maintains).
_UNOWNED: Final = frozenset(
    {
        ("apiVersion",),
        ("kind",),
        ("metadata", "name"),
        ("metadata", "namespace"),
        ("metadata", "uid"),
        ("metadata", "resourceVersion"),
        ("metadata", "generation"),
        ("metadata", "creationTimestamp"),
        ("metadata", "deletionTimestamp"),
        ("metadata", "deletionGracePeriodSeconds"),
        ("metadata", "managedFields"),
        ("metadata", "selfLink"),
    }
)


def leaves(obj: Mapping[str, Any], prefix: FieldPath = ()) -> Iterator[FieldPath]:
    """Every owned field path of ``obj``: a non-empty map is walked, anything else is a leaf."""
    for key, value in obj.items():
        path = (*prefix, str(key))
        if path in _UNOWNED:
            continue
        if isinstance(value, dict) and value:
            yield from leaves(value, path)
        else:
            yield path


def _get(obj: Any, path: FieldPath) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return _ABSENT
        obj = obj[part]
    return obj


_ABSENT: Final = object()


def _remove(obj: Obj, path: FieldPath) -> None:
    """Delete the field at ``path`` and the maps it leaves empty."""
    parents: list[tuple[Obj, str]] = []
    cur: Any = obj
    for part in path[:-1]:
        if not isinstance(cur, dict) or not isinstance(cur.get(part), dict):
            return
        parents.append((cur, part))
        cur = cur[part]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
    for parent, part in reversed(parents):
        if parent[part] == {}:
            del parent[part]


def _merge(target: Obj, config: Mapping[str, Any]) -> None:
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def encode(paths: set[FieldPath]) -> Obj:
    """A set of paths in the FieldsV1 form (``{"f:spec": {"f:replicas": {}}}``)."""
    root: Obj = {}
    for path in sorted(paths):
        cur = root
        for part in path:
            cur = cur.setdefault(f"f:{part}", {})
    return root


def decode(fields: Mapping[str, Any], prefix: FieldPath = ()) -> set[FieldPath]:
    """The paths a FieldsV1 map holds (only its ``f:`` members; a member without children is
    a leaf)."""
    out: set[FieldPath] = set()
    for key, value in fields.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        children = decode(value, path) if isinstance(value, dict) else set()
        out |= children or {path}
    return out


def _entries(obj: Mapping[str, Any]) -> list[Obj]:
    found = (obj.get("metadata") or {}).get("managedFields")
    return [dict(e) for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def _owned(entry: Mapping[str, Any]) -> set[FieldPath]:
    fields = entry.get("fieldsV1")
    return decode(fields) if isinstance(fields, dict) else set()


def _set_entries(obj: Obj, entries: list[Obj]) -> None:
    meta = obj.setdefault("metadata", {})
    kept = [e for e in entries if e.get("fieldsV1")]
    if kept:
        meta["managedFields"] = kept
    else:
        meta.pop("managedFields", None)


def _entry(manager: str, operation: str, api_version: str, now: str, paths: set[FieldPath]) -> Obj:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": encode(paths),
    }


def _is_applier(entry: Mapping[str, Any], manager: str) -> bool:
    """A manager is a name and an operation: ``kubectl``'s Apply and ``kubectl``'s Update (as
    ``kubectl scale`` records) own fields separately and conflict with each other."""
    return entry.get("manager") == manager and entry.get("operation") == "Apply"


def manager_required() -> Exception:
    """Server-side apply without ``fieldManager`` (upstream validates it before the body)."""
    return invalid(
        "PatchOptions",
        "",
        [("fieldManager", "FieldValueRequired", "Required value: is required for apply patch")],
        group="meta.k8s.io",
    )


def manager_of(query: Mapping[str, str], user_agent: str) -> str:
    """The ``fieldManager`` parameter, else the user agent's program name (upstream's rule)."""
    given = query.get("fieldManager")
    if given:
        return given
    return (user_agent.split("/", 1)[0] or "unknown")[:128]


def record_update(
    old: Mapping[str, Any] | None, new: Obj, manager: str, api_version: str, now: str
) -> None:
    """Give ``manager`` (operation Update) the fields of ``new`` that differ from ``old``,
    taking them from whoever owned them; ``new`` keeps the other managers' entries.

    This runs on every REST write, so only the differing subtrees are walked (equal maps
    compare in C) and an entry is decoded only when the write touches a field it owns."""
    entries = _entries(old) if old is not None else []
    changed: set[FieldPath] = set()
    removed: set[FieldPath] = set()
    if old is None:
        changed.update(leaves(new))
    else:
        _diff(old, new, (), changed, removed)
    touched = changed | removed
    out: list[Obj] = []
    mine: Obj | None = None
    for entry in entries:
        fields = entry.get("fieldsV1")
        tree = fields if isinstance(fields, dict) else {}
        if entry.get("manager") == manager and entry.get("operation") == "Update":
            if not removed and all(_owns(tree, p) for p in changed):
                mine = {**entry, "time": now}  # nothing new to take over
            else:
                kept = {p for p in decode(tree) if _get(new, p) is not _ABSENT}
                changed |= kept
            continue
        if any(_owns(tree, p) for p in touched):
            owned = decode(tree)
            entry["fieldsV1"] = encode({p for p in owned - changed if _get(new, p) is not _ABSENT})
        out.append(entry)
    if mine is not None:
        out.append(mine)
    elif changed:
        out.append(_entry(manager, "Update", api_version, now, changed))
    _set_entries(new, out)


def _owns(tree: Mapping[str, Any], path: FieldPath) -> bool:
    """Whether a change at ``path`` concerns a field ``tree`` owns: ``path`` itself, a prefix
    of it owned whole (a leaf), or a subtree below it."""
    node: Any = tree
    for part in path:
        node = node.get(f"f:{part}") if isinstance(node, dict) else None
        if node is None:
            return False
        if node == {}:
            return True
    return True


def _diff(
    old: Any,
    new: Mapping[str, Any],
    prefix: FieldPath,
    changed: set[FieldPath],
    removed: set[FieldPath],
) -> None:
    """Add to ``changed`` the owned paths of ``new`` whose value differs in ``old``, and to
    ``removed`` the paths of ``old`` that ``new`` lacks."""
    if isinstance(old, dict):
        for key in old.keys() - new.keys():
            path = (*prefix, str(key))
            if path not in _UNOWNED:
                removed.add(path)
    for key, value in new.items():
        path = (*prefix, str(key))
        if path in _UNOWNED:
            continue
        before = old.get(key, _ABSENT) if isinstance(old, dict) else _ABSENT
        if before is value or before == value:
            continue
        if isinstance(value, dict) and value:
            if isinstance(before, dict):
                _diff(before, value, path, changed, removed)
            else:
                changed.update(leaves(value, path))
        else:
            changed.add(path)


def apply(
    current: Mapping[str, Any] | None,
    config: Obj,
    *,
    manager: str,
    force: bool,
    api_version: str,
    now: str,
    kind: str,
    name: str,
) -> Obj:
    """The object after ``manager`` applies ``config`` to ``current`` (None: create)."""
    if not manager:
        raise manager_required()
    result: Obj = copy.deepcopy(dict(current)) if current is not None else {}
    entries = _entries(result)
    applied = set(leaves(config))
    conflicts: list[tuple[str, FieldPath]] = []
    for entry in entries:
        if _is_applier(entry, manager):
            continue
        for path in _owned(entry) & applied:
            if _get(result, path) != _get(config, path):
                conflicts.append((str(entry.get("manager")), path))
    if conflicts and not force:
        raise Conflict(
            f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: "
            + "; ".join(f'conflict with "{m}": .{".".join(p)}' for m, p in sorted(conflicts)),
            name=name,
            kind=kind,
            causes=[
                {
                    "reason": "FieldManagerConflict",
                    "message": f'conflict with "{m}"',
                    "field": "." + ".".join(p),
                }
                for m, p in sorted(conflicts)
            ],
        )
    taken = {p for _m, p in conflicts}
    previous: set[FieldPath] = set()
    others: set[FieldPath] = set()
    out: list[Obj] = []
    for entry in entries:
        owned = _owned(entry)
        if _is_applier(entry, manager):
            previous = owned
            continue
        owned -= taken
        entry["fieldsV1"] = encode(owned)
        others |= owned
        out.append(entry)
    for path in previous - applied - others:
        _remove(result, path)
    _merge(result, config)
    out.append(_entry(manager, "Apply", api_version, now, applied))
    _set_entries(result, out)
    return result
