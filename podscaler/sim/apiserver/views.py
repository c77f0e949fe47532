"""One stored resource served at two group-versions: Events as core/v1 and events.k8s.io/v1,
HorizontalPodAutoscalers as autoscaling/v2 and autoscaling/v1 (``hpaconversion.py`` holds
that conversion; a v1 write gets v2's defaults once converted, as upstream defaults the
storage version when it decodes).

kube-apiserver keeps each Event once and serves it through both APIs: an Event podscaler
writes through ``events.k8s.io/v1`` is what ``kubectl describe`` finds through
``/api/v1/.../events?fieldSelector=involvedObject.name=...`` and what ``kubectl get events``
lists; an Event the simulated kubelet writes as core/v1 can be read, patched or watched as
``events.k8s.io/v1``. The embedded server does the same: the store holds core/v1 Events (the
richer of the two shapes: it has every field of the newer API), and requests to
``events.k8s.io/v1`` go through :class:`ConvertedObjects`, which converts on the way in and
out, including the objects a watch sends and the objects field selectors are evaluated on.

The conversion is the one kube-apiserver registers between the two versions, a field rename
in both directions and nothing else (so a round trip is lossless):

==========================  ==============================
core/v1                     events.k8s.io/v1
==========================  ==============================
``involvedObject``          ``regarding``
``message``                 ``note``
``reportingComponent``      ``reportingController``
``source``                  ``deprecatedSource``
``firstTimestamp``          ``deprecatedFirstTimestamp``
``lastTimestamp``           ``deprecatedLastTimestamp``
``count``                   ``deprecatedCount``
==========================  ==============================

``eventTime``, ``series``, ``reportingInstance``, ``action``, ``reason``, ``related`` and
``type`` have the same name in both. Nothing is synthesized: an Event written with
``series`` has no ``count`` in its core/v1 view, exactly as upstream; readers (kubectl
describe, the server's Table) fall back from ``count``/``lastTimestamp`` to ``series`` and
from ``source.component`` to ``reportingComponent``, as kubectl's printers do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from podscaler.sim.apiserver import defaulting, hpaconversion
from podscaler.sim.apiserver.resources import ResourceTable, ResourceType
from podscaler.sim.apiserver.store import Entry, Event, Obj, Store, Watcher

Convert = Callable[[Obj], Obj]

_CORE_TO_EVENTS_V1 = {
    "involvedObject": "regarding",
    "message": "note",
    "reportingComponent": "reportingController",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
}
_EVENTS_V1_TO_CORE = {new: old for old, new in _CORE_TO_EVENTS_V1.items()}


def _renamed(obj: Obj, names: dict[str, str], api_version: str) -> Obj:
    """A shallow copy with top-level keys renamed (nested values are shared, not copied)."""
    out: Obj = {"apiVersion": api_version, "kind": "Event"}
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        out[names.get(key, key)] = value
    return out


def core_event_to_events_v1(obj: Obj) -> Obj:
    """The ``events.k8s.io/v1`` view of a stored core/v1 Event."""
    return _renamed(obj, _CORE_TO_EVENTS_V1, "events.k8s.io/v1")


def events_v1_to_core_event(obj: Obj) -> Obj:
    """The core/v1 form of an ``events.k8s.io/v1`` Event (what the store keeps).

    ``apiVersion``/``kind`` of the input are not looked at: the request path decided them and
    :func:`podscaler.sim.apiserver.wire.check_kind` has checked the body against it already.
    """
    return _renamed(obj, _EVENTS_V1_TO_CORE, "v1")


class ConvertedObjects:
    """The store's bucket of ``storage`` seen as ``view``: objects converted both ways.

    Entries handed out carry the stored version's resourceVersion and a converted object of
    their own (serialized on demand), so the stored entry's shared bytes stay untouched.
    """

    def __init__(
        self,
        store: Store,
        storage: ResourceType,
        view: ResourceType,
        to_view: Convert,
        from_view: Convert,
    ) -> None:
        self._store = store
        self._storage = storage
        self._view = view
        self._to_view = to_view
        self._from_view = from_view

    def _out(self, entry: Entry) -> Entry:
        return Entry(self._to_view(entry.obj), entry.rv)

    @property
    def resource_version(self) -> int:
        return self._store.resource_version

    def get(self, rt: ResourceType, namespace: str, name: str) -> Entry:
        return self._out(self._store.get(self._storage, namespace, name))

    def find(self, rt: ResourceType, namespace: str, name: str) -> Entry | None:
        found = self._store.find(self._storage, namespace, name)
        return None if found is None else self._out(found)

    def entries(
        self, rt: ResourceType, namespace: str | None = None, **options: Any
    ) -> Iterator[Entry]:
        for entry in self._store.entries(self._storage, namespace, **options):
            yield self._out(entry)

    def create(self, rt: ResourceType, obj: Obj, *, namespace: str = "") -> Entry:
        return self._out(
            self._store.create(self._storage, self._from_view(obj), namespace=namespace)
        )

    def update(self, rt: ResourceType, obj: Obj, **options: Any) -> Entry:
        """:meth:`Store.update` (same options) of the stored form of ``obj``."""
        return self._out(self._store.update(self._storage, self._from_view(obj), **options))

    def delete(
        self, rt: ResourceType, namespace: str, name: str, **options: Any
    ) -> tuple[Entry, bool]:
        """:meth:`Store.delete` (same options), answering with the view's form."""
        entry, gone = self._store.delete(self._storage, namespace, name, **options)
        return self._out(entry), gone

    def watch(
        self, rt: ResourceType, namespace: str | None, since: int | None, *args: Any
    ) -> Watcher:
        """The store's watch of the stored resource, its events converted for this view."""
        return self._store.watch(
            self._storage, namespace, since, *args, convert=self._convert_event
        )

    def _convert_event(self, ev: Event) -> Event:
        old = None if ev.old is None else self._to_view(ev.old)
        return Event(ev.type, self._out(ev.entry), old)

    def unwatch(self, rt: ResourceType, watcher: Watcher) -> None:
        self._store.unwatch(self._storage, watcher)


#: (group, version, resource) of a view → (group, version, resource) of the stored resource
#: and the conversions (to the view, from the view).
_VIEWS: dict[tuple[str, str, str], tuple[tuple[str, str, str], Convert, Convert]] = {
    ("events.k8s.io", "v1", "events"): (
        ("", "v1", "events"),
        core_event_to_events_v1,
        events_v1_to_core_event,
    ),
    ("autoscaling", "v1", "horizontalpodautoscalers"): (
        ("autoscaling", "v2", "horizontalpodautoscalers"),
        hpaconversion.v2_to_v1,
        hpaconversion.v1_to_v2,
    ),
}


#: What the REST handlers of one resource read and write: the store itself, or a converting
#: view of another resource's bucket (both take the store's arguments).
Objects = Store | ConvertedObjects


def objects(store: Store, table: ResourceTable, rt: ResourceType) -> Objects:
    """The store as the REST handlers of ``rt`` must see it."""
    view = _VIEWS.get((rt.group, rt.version, rt.resource))
    if view is None or rt.custom:
        return store
    (group, version, resource), to_view, from_view = view
    storage = table.get(group, version, resource)
    if storage is None:  # pragma: no cover - both are built in
        return store

    def stored(obj: Obj) -> Obj:
        converted = from_view(obj)
        defaulting.apply_defaults(storage, converted)
        return converted

    return ConvertedObjects(store, storage, rt, to_view, stored)
