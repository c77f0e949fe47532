"""Server-side apply and ``metadata.managedFields``: which manager owns which field.

kube-apiserver records, for every write, the fields each *manager* (the ``fieldManager``
query parameter, or the client's user-agent name) set, in ``metadata.managedFields``.
``application/apply-patch+yaml`` then merges a manager's whole intent into the object: it
creates the object when absent, refuses (409) to change a field another manager owns with a
different value unless ``force=true`` (which takes the field over), shares a field set to the
same value, and removes the fields the manager applied before but no longer does (when nobody
else owns them).

A field path is a tuple of FieldsV1 keys: ``f:name`` for a field, ``k:{"name":"app"}`` for
the item of a list merged by key, ``.`` for that item itself. Lists merged by key, as
upstream's schema declares them for built-in kinds: ``containers``, ``initContainers`` and
``ephemeralContainers`` by ``name``, a container's ``env`` by ``name`` and ``ports`` by
``containerPort`` + ``protocol``, a Service's ``spec.ports`` by ``port`` + ``protocol``
(``protocol`` defaulting to TCP in the key, as upstream's schema default). Each item is owned
field by field, so two managers can own different containers of one pod, and applying a
container list merges into the live one instead of replacing it.

The write path is incremental: an ``Update`` diffs old and new (equal subtrees compare in C,
a keyed list item by item), then edits only the ownership trees that own a changed field,
copying the few nodes on the way to it (stored objects are shared, never mutated); an entry
that owns none of the changes is kept as it is, and a write that changes nothing keeps the
managedFields (and the resourceVersion) as they were.

Deliberate simplifications versus upstream's structured-merge-diff:

* every other list is atomic (owned and replaced whole), and a keyed list whose items lack a
  key, or repeat one, falls back to atomic; custom resources' lists are atomic (their CRD
  schema's ``x-kubernetes-list-map-keys`` are not read);
* maps are owned by their leaves only (upstream also records ``.`` for a map-typed field such
  as ``labels``, which needs the schema to tell a map from a struct);
* an ``Update`` takes over the fields whose value it changed (upstream's rule) but the fields
  are compared after defaulting, so a default filled in is owned by whoever wrote first;
* ``status`` is owned like any field, without the per-subresource split upstream keeps;
* entries keep the order they were made in (upstream sorts them by operation, then time).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from podscaler.sim.apiserver.errors import BadRequest, Conflict, invalid

#: JSON of a string (the C encoder json.dumps uses, without its per-call setup).
_json_string = json.encoder.encode_basestring_ascii

Obj = dict[str, Any]
FieldPath = tuple[str, ...]
#: The fields keying a list's items, each with the default it takes when absent (None: none).
KeyFields = tuple[tuple[str, Any], ...]

#: Fields nobody owns (identity and what the server maintains).
_UNOWNED: Final = frozenset(
    {
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata", "f:name"),
        ("f:metadata", "f:namespace"),
        ("f:metadata", "f:uid"),
        ("f:metadata", "f:resourceVersion"),
        ("f:metadata", "f:generation"),
        ("f:metadata", "f:creationTimestamp"),
        ("f:metadata", "f:deletionTimestamp"),
        ("f:metadata", "f:deletionGracePeriodSeconds"),
        ("f:metadata", "f:managedFields"),
        ("f:metadata", "f:selfLink"),
    }
)
ITEM: Final = "."
_BY_NAME: KeyFields = (("name", None),)
_CONTAINER_LISTS: Final = frozenset({"f:containers", "f:initContainers", "f:ephemeralContainers"})
_CONTAINER_PORT: KeyFields = (("containerPort", None), ("protocol", "TCP"))
_SERVICE_PORT: KeyFields = (("port", None), ("protocol", "TCP"))


def list_keys(path: FieldPath) -> KeyFields | None:
    """The key fields of the list at ``path`` (its last part is the list's ``f:`` key), or
    None for an atomic list."""
    name = path[-1]
    if name in _CONTAINER_LISTS:
        return _BY_NAME
    in_container = len(path) >= 3 and path[-3] in _CONTAINER_LISTS and path[-2][:2] == "k:"
    if name == "f:env" and in_container:
        return _BY_NAME
    if name == "f:ports":
        if in_container:
            return _CONTAINER_PORT
        if path == ("f:spec", "f:ports"):
            return _SERVICE_PORT
    return None


def item_key(item: Any, fields: KeyFields) -> str | None:
    """``k:{...}`` of a list item (its key fields in name order, defaults filled in, as
    compact JSON), or None when it has no key."""
    if not isinstance(item, dict):
        return None
    parts = []
    for name, default in fields:
        value = item.get(name, default)
        if isinstance(value, str):
            parts.append(f'"{name}":{_json_string(value)}')
        elif isinstance(value, bool) or value is None or not isinstance(value, int | float):
            return None
        else:
            parts.append(f'"{name}":{value}')
    return "k:{" + ",".join(parts) + "}"


def _keyed(items: Any, fields: KeyFields | None) -> dict[str, Any] | None:
    """The items of a keyed list by key, or None when the list is atomic here."""
    if fields is None or not isinstance(items, list):
        return None
    out: dict[str, Any] = {}
    for item in items:
        key = item_key(item, fields)
        if key is None or key in out:
            return None
        out[key] = item
    return out


def leaves(obj: Mapping[str, Any], prefix: FieldPath = (), keyed: bool = True) -> list[FieldPath]:
    """Every owned field path of ``obj``: a non-empty map is walked, a keyed list item by item
    (the item itself is ``.``), anything else is a leaf."""
    out: list[FieldPath] = []
    _collect(obj, prefix, keyed, out)
    return out


def _collect(obj: Mapping[str, Any], prefix: FieldPath, keyed: bool, out: list[FieldPath]) -> None:
    for key, value in obj.items():
        path = (*prefix, f"f:{key}")
        if path in _UNOWNED:
            continue
        if isinstance(value, dict) and value:
            _collect(value, path, keyed, out)
            continue
        items = (
            _keyed(value, list_keys(path)) if keyed and value and value.__class__ is list else None
        )
        if items is None:
            out.append(path)
            continue
        for item_path, item in items.items():
            out.append((*path, item_path, ITEM))
            _collect(item, (*path, item_path), keyed, out)


def _tree(obj: Mapping[str, Any], prefix: FieldPath, keyed: bool) -> Obj:
    """The FieldsV1 tree of every owned field of ``obj`` (what :func:`leaves` lists, built in
    the same walk: a create's whole ownership). Hot on creates: paths are built only where a
    decision needs them (unowned fields live in the first two levels)."""
    out: Obj = {}
    shallow = len(prefix) < 2
    for key, value in obj.items():
        part = f"f:{key}"
        if shallow and (*prefix, part) in _UNOWNED:
            continue
        if value.__class__ is dict and value:
            below = _tree(value, (*prefix, part), keyed)
            if below:
                out[part] = below
            continue
        if keyed and value.__class__ is list and value:
            path = (*prefix, part)
            items = _keyed(value, list_keys(path))
            if items is not None:
                node: Obj = {}
                for item_path, item in items.items():
                    node[item_path] = {ITEM: {}, **_tree(item, (*path, item_path), keyed)}
                out[part] = node
                continue
        out[part] = {}
    return out


def _step(value: Any, part: str) -> Any:
    """The child of ``value`` a path part names, or ``_ABSENT``."""
    if part == ITEM:
        return value
    if part[:2] == "f:":
        return value.get(part[2:], _ABSENT) if isinstance(value, dict) else _ABSENT
    if part[:2] == "k:" and isinstance(value, list):
        try:
            wanted = json.loads(part[2:])
        except ValueError:
            return _ABSENT
        fields = tuple((name, None) for name in wanted)
        for item in value:
            if isinstance(item, dict) and _matches(item, wanted, fields):
                return item
    return _ABSENT


def _matches(item: Obj, wanted: dict[str, Any], fields: KeyFields) -> bool:
    for name, _default in fields:
        value = item.get(name, _KEY_DEFAULTS.get(name))
        if value != wanted[name]:
            return False
    return True


#: Key fields with a default, whatever the list (only ``protocol`` has one).
_KEY_DEFAULTS: Final = {"protocol": "TCP"}


def _get(obj: Any, path: FieldPath) -> Any:
    for part in path:
        obj = _step(obj, part)
        if obj is _ABSENT:
            return _ABSENT
    return obj


_ABSENT: Final = object()


def _remove(obj: Obj, path: FieldPath) -> None:
    """Delete the field (or list item, for a path ending in ``.``) at ``path``, and the maps
    and lists it leaves empty."""
    if path[-1] == ITEM:
        path = path[:-1]
    parents: list[tuple[Any, str]] = []
    cur: Any = obj
    for part in path[:-1]:
        child = _step(cur, part)
        if not isinstance(child, (dict, list)):
            return
        parents.append((cur, part))
        cur = child
    last = path[-1]
    if last[:2] == "f:" and isinstance(cur, dict):
        cur.pop(last[2:], None)
    elif last[:2] == "k:" and isinstance(cur, list):
        item = _step(cur, last)
        cur[:] = [i for i in cur if i is not item]
    for parent, part in reversed(parents):
        child = _step(parent, part)
        if child in ({}, []):
            if part[:2] == "f:" and isinstance(parent, dict):
                del parent[part[2:]]
            elif part[:2] == "k:" and isinstance(parent, list):
                parent[:] = [i for i in parent if i is not child]


def _prune(obj: Obj, paths: set[FieldPath]) -> None:
    """Remove the fields a manager let go of: whole list items first (outermost first), then
    fields, deepest first. An item's key fields go only with the item (removing one alone
    would leave an item nobody can name)."""
    items = sorted((p for p in paths if p[-1] == ITEM), key=len)
    fields = sorted(
        (p for p in paths if p[-1] != ITEM and not _is_key_field(p)), key=len, reverse=True
    )
    for path in [*items, *fields]:
        _remove(obj, path)


def _is_key_field(path: FieldPath) -> bool:
    if len(path) < 2 or path[-2][:2] != "k:":
        return False
    try:
        key = json.loads(path[-2][2:])
    except ValueError:
        return False
    return isinstance(key, dict) and path[-1][2:] in key


def _merge(target: Obj, config: Mapping[str, Any], prefix: FieldPath, keyed: bool) -> None:
    """Merge ``config`` into ``target``: maps field by field, keyed lists item by item (new
    items appended), anything else replaced."""
    for key, value in config.items():
        path = (*prefix, f"f:{key}")
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _merge(current, value, path, keyed)
            continue
        fields = list_keys(path) if keyed else None
        live, wanted = _keyed(current, fields), _keyed(value, fields)
        if live is None or wanted is None:
            target[key] = copy.deepcopy(value)
            continue
        assert isinstance(current, list)
        for item_path, item in wanted.items():
            if item_path in live:
                _merge(live[item_path], item, (*path, item_path), keyed)
            else:
                current.append(copy.deepcopy(item))


def encode(paths: set[FieldPath]) -> Obj:
    """A set of paths in the FieldsV1 form (``{"f:spec": {"f:replicas": {}}}``)."""
    root: Obj = {}
    for path in sorted(paths):
        cur = root
        for part in path:
            cur = cur.setdefault(part, {})
    return root


def decode(fields: Mapping[str, Any], prefix: FieldPath = ()) -> set[FieldPath]:
    """The paths a FieldsV1 map holds (a member without children is a leaf)."""
    out: set[FieldPath] = set()
    for key, value in fields.items():
        path = (*prefix, key)
        children = decode(value, path) if isinstance(value, dict) else set()
        out |= children or {path}
    return out


def _split(paths: Iterable[FieldPath]) -> tuple[set[str], dict[str, list[FieldPath]]]:
    """Paths by their first part: those that end there, and the rests of the longer ones."""
    ends: set[str] = set()
    deeper: dict[str, list[FieldPath]] = {}
    for path in paths:
        if len(path) == 1:
            ends.add(path[0])
        else:
            deeper.setdefault(path[0], []).append(path[1:])
    return ends, deeper


def _with(tree: Obj, paths: Iterable[FieldPath]) -> Obj:
    """``tree`` with every path of ``paths`` owned (as a leaf): the nodes on the way to them
    are copied, everything else is shared, and ``tree`` itself comes back when it owned them
    all already."""
    if not tree:
        return encode(set(paths))
    ends, deeper = _split(paths)
    out: Obj | None = None
    for head in ends - deeper.keys():
        if tree.get(head) != {}:
            out = out if out is not None else dict(tree)
            out[head] = {}  # a leaf now (a subtree below it is gone with the old value)
    for head, rests in deeper.items():
        child = tree.get(head)
        below = child if isinstance(child, dict) and child else {}
        new_child = _with(below, rests)
        if new_child is not child:
            out = out if out is not None else dict(tree)
            out[head] = new_child
    return out if out is not None else tree


def _without(tree: Obj, paths: Iterable[FieldPath]) -> Obj:
    """``tree`` without ``paths`` and what it owns below them (``tree`` itself when it owns
    none of them), copying only the nodes on the way; maps left empty are dropped. A path
    inside a field owned whole leaves that field owned."""
    ends, deeper = _split(paths)
    out: Obj | None = None
    for head in ends:
        if head in tree:
            out = out if out is not None else dict(tree)
            out.pop(head, None)
    for head, rests in deeper.items():
        if head in ends:
            continue
        child = tree.get(head)
        if not child:
            continue  # not owned, or owned whole
        new_child = _without(child, rests)
        if new_child is not child:
            out = out if out is not None else dict(tree)
            if new_child:
                out[head] = new_child
            else:
                del out[head]
    return out if out is not None else tree


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


def _entry(manager: str, operation: str, api_version: str, now: str, tree: Obj) -> Obj:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": tree,
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
    old: Mapping[str, Any] | None,
    new: Obj,
    manager: str,
    api_version: str,
    now: str,
    *,
    keyed: bool = True,
) -> None:
    """Give ``manager`` (operation Update) the fields of ``new`` that differ from ``old``,
    taking them from whoever owned them; ``new`` keeps the other managers' entries.
    ``keyed=False``: every list is atomic (custom resources).

    Runs on every REST write, so it is incremental (see the module doc): the cost follows the
    size of the change, not of the object or of its managedFields."""
    entries = _entries(old) if old is not None else []
    changed: set[FieldPath] = set()
    removed: set[FieldPath] = set()
    if old is None:
        tree = _tree(new, (), keyed)
        _set_entries(new, [_entry(manager, "Update", api_version, now, tree)] if tree else [])
        return
    _diff(old, new, (), changed, removed, keyed)
    if not changed and not removed:
        _set_entries(new, entries)
        return
    touched = [*changed, *removed]
    out: list[Obj] = []
    mine: Obj | None = None
    for entry in entries:
        fields = entry.get("fieldsV1")
        tree = fields if isinstance(fields, dict) else {}
        if entry.get("manager") == manager and entry.get("operation") == "Update":
            mine = entry
            continue
        if any(_node(tree, path) is not None for path in touched):
            entry = {**entry, "fieldsV1": _without(tree, touched)}
        out.append(entry)
    fields = mine.get("fieldsV1") if mine is not None else None
    own: Obj = fields if isinstance(fields, dict) else {}
    if removed and any(_node(own, path) is not None for path in removed):
        own = _without(own, removed)
    if changed and not all(_node(own, path) == {} for path in changed):
        own = _with(own, changed)
    if mine is not None and not changed:
        out.append({**mine, "fieldsV1": own})  # only lost fields: the time stays
    elif mine is not None:
        out.append({**mine, "fieldsV1": own, "time": now})
    else:
        out.append(_entry(manager, "Update", api_version, now, own))
    _set_entries(new, out)


def _node(tree: Mapping[str, Any], path: FieldPath) -> Any:
    """The node of ``tree`` at ``path`` (``{}`` for a leaf), or None when it has none (not
    owned, or inside a field owned whole)."""
    node: Any = tree
    for part in path:
        node = node.get(part)
        if node is None:
            return None
    return node


def _owns(tree: Mapping[str, Any], path: FieldPath) -> bool:
    """Whether a change at ``path`` concerns a field ``tree`` owns: ``path`` itself, a prefix
    of it owned whole (a leaf), or a subtree below it."""
    node: Any = tree
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
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
    keyed: bool,
) -> None:
    """Add to ``changed`` the owned paths of ``new`` whose value differs in ``old``, and to
    ``removed`` the paths of ``old`` that ``new`` lacks (keyed lists compared item by item)."""
    if isinstance(old, dict):
        for key in old.keys() - new.keys():
            path = (*prefix, f"f:{key}")
            if path not in _UNOWNED:
                removed.add(path)
    for key, value in new.items():
        path = (*prefix, f"f:{key}")
        if path in _UNOWNED:
            continue
        before = old.get(key, _ABSENT) if isinstance(old, dict) else _ABSENT
        if before is value or before == value:
            continue
        if isinstance(value, dict) and value:
            if isinstance(before, dict):
                _diff(before, value, path, changed, removed, keyed)
            else:
                changed.update(leaves(value, path, keyed))
            continue
        fields = list_keys(path) if keyed and isinstance(value, list) and value else None
        after_items = _keyed(value, fields)
        if after_items is None:
            changed.add(path)  # atomic, or empty: a leaf
            continue
        before_items = _keyed(before, fields) if isinstance(before, list) and before else None
        if before_items is None:
            # absent, empty or atomic before: every item is new, and a leaf owned here goes
            if before is not _ABSENT:
                removed.add(path)
            before_items = {}
        for item_path in before_items.keys() - after_items.keys():
            removed.add((*path, item_path))
        for item_path, item in after_items.items():
            was = before_items.get(item_path, _ABSENT)
            if was is _ABSENT:
                changed.add((*path, item_path, ITEM))
                changed.update(leaves(item, (*path, item_path), keyed))
            elif was != item:
                _diff(was, item, (*path, item_path), changed, removed, keyed)


def _dotted(path: FieldPath) -> str:
    """A path as upstream prints it in a conflict: ``.spec.containers[name="app"].image``."""
    out = ""
    for part in path:
        if part[:2] == "f:":
            out += "." + part[2:]
        elif part[:2] == "k:":
            key = json.loads(part[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]"
    return out


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
    keyed: bool = True,
) -> Obj:
    """The object after ``manager`` applies ``config`` to ``current`` (None: create)."""
    if not manager:
        raise manager_required()
    if keyed:
        _check_keys(config, ())
    result: Obj = copy.deepcopy(dict(current)) if current is not None else {}
    entries = _entries(result)
    applied = set(leaves(config, (), keyed))
    conflicts: list[tuple[str, FieldPath]] = []
    for entry in entries:
        if _is_applier(entry, manager):
            continue
        for path in _owned(entry) & applied:
            if path[-1] != ITEM and _get(result, path) != _get(config, path):
                conflicts.append((str(entry.get("manager")), path))
    if conflicts and not force:
        shown = sorted((m, _dotted(p)) for m, p in conflicts)
        raise Conflict(
            f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: "
            + "; ".join(f'conflict with "{m}": {p}' for m, p in shown),
            name=name,
            kind=kind,
            causes=[
                {"reason": "FieldManagerConflict", "message": f'conflict with "{m}"', "field": p}
                for m, p in shown
            ],
        )
    taken = {p for _m, p in conflicts}
    previous: set[FieldPath] = set()
    others: set[FieldPath] = set()
    kept: list[tuple[Obj, set[FieldPath]]] = []
    for entry in entries:
        owned = _owned(entry)
        if _is_applier(entry, manager):
            previous = owned
            continue
        owned -= taken
        others |= owned
        kept.append((entry, owned))
    _prune(result, previous - applied - others)
    _merge(result, config, (), keyed)
    out: list[Obj] = []
    for entry, owned in kept:
        # what the merge replaced whole (an atomic value) is owned no more below it
        entry["fieldsV1"] = encode({p for p in owned if _get(result, p) is not _ABSENT})
        out.append(entry)
    out.append(_entry(manager, "Apply", api_version, now, encode(applied)))
    _set_entries(result, out)
    return result


def _check_keys(config: Mapping[str, Any], prefix: FieldPath) -> None:
    """Refuse (400) a list merged by key whose items lack a key or repeat one, as upstream
    refuses to build the typed object of such an apply configuration."""
    for key, value in config.items():
        path = (*prefix, f"f:{key}")
        if isinstance(value, dict):
            _check_keys(value, path)
            continue
        fields = list_keys(path) if isinstance(value, list) and value else None
        if fields is None:
            continue
        seen: set[str] = set()
        for item in value:
            item_path = item_key(item, fields)
            if item_path is None:
                names = ", ".join(f'"{n}"' for n, d in fields if d is None)
                raise BadRequest(
                    f"failed to create typed patch object: {_dotted(path)}: an item of a list "
                    f"merged by key omits its key field ({names})"
                )
            if item_path in seen:
                raise BadRequest(
                    f"failed to create typed patch object: {_dotted(path)}: duplicate entries "
                    f"for key {_dotted((item_path,))}"
                )
            seen.add(item_path)
            _check_keys(item, (*path, item_path))
