"""The items of a built-in kind's list carry no ``kind`` or ``apiVersion``, as kube-apiserver's.

kube-apiserver encodes a typed list (``ConfigMapList``, ``PodList``...) from Go structs whose
items' TypeMeta is empty, so ``items[i]`` has neither field; the list's own ``kind`` says what
they are. Custom resources are different: their lists are unstructured and every item keeps
both (as do PartialObjectMetadataList items, Table rows and watch events). Clients that need
the kind of a listed object set it from the list's, as client-go's unstructured decoding does
(``podscaler.kube.informers`` does the same).

A stored entry's serialized form is shared by every answer, so the two fields are cut out of
those bytes rather than re-encoded: the store writes them first (:func:`set_type`, upstream's
order too: ``kind``, ``apiVersion``, ``metadata``...), so they are one prefix to skip. An
object in another order (a view's conversion) is re-encoded without them.
"""

from __future__ import annotations

from collections.abc import Iterable

from podscaler.sim.apiserver.entries import Entry, Obj, dumps
from podscaler.sim.apiserver.resources import ResourceType

__all__ = ["set_type", "typed_list"]


def set_type(obj: Obj, rt: ResourceType) -> None:
    """Set ``kind`` and ``apiVersion`` of a stored object, in place, as its first two keys."""
    keys = iter(obj)
    if next(keys, None) == "kind" and next(keys, None) == "apiVersion":
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        return
    rest = [(k, v) for k, v in obj.items() if k not in ("kind", "apiVersion")]
    obj.clear()
    obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
    obj.update(rest)


def _heads(rt: ResourceType) -> tuple[bytes, bytes]:
    kind = b'"kind":' + dumps(rt.kind)
    api_version = b'"apiVersion":' + dumps(rt.api_version)
    return b"{" + kind + b"," + api_version + b",", b"{" + api_version + b"," + kind + b","


def typed_list(head: bytes, rt: ResourceType, entries: Iterable[Entry]) -> bytes:
    """``head`` (the list up to its ``"items":[``), the entries' objects without their type
    (custom resources: with it), and the list's end."""
    if rt.custom:
        return head + b",".join(e.raw() for e in entries) + b"]}"
    first, second = _heads(rt)
    cut = len(first)  # both orders have the same length
    # Each item without its opening brace: the join puts it back (a hot loop: 30,000 pods).
    items: list[bytes] = []
    for entry in entries:
        raw = entry.raw()
        if raw.startswith(first) or raw.startswith(second):
            items.append(raw[cut:])
        else:
            untyped = {k: v for k, v in entry.obj.items() if k not in ("kind", "apiVersion")}
            items.append(dumps(untyped)[1:])
    if not items:
        return head + b"]}"
    return head + b"{" + b",{".join(items) + b"]}"
