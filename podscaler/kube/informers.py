"""Informer caches: a local, indexed copy of one resource type kept current by list + watch.

Controllers read from the cache (``get``, ``by_namespace``, ``by_label``, ``select``) instead
of the API server, and react to changes through handlers. The protocol is the reflector's:

1. LIST in pages (``limit`` / ``continue``); the list's ``resourceVersion`` is the snapshot.
2. WATCH from that version with ``allowWatchBookmarks=true``. Every event, and every
   BOOKMARK (which carries only a version), advances the remembered version.
3. When the server ends the stream cleanly (its timeout, or it closed the watch) the watch
   resumes from the remembered version, so nothing is lost and nothing is seen twice. A watch
   that reaches a server over a *new* connection (the first after a list, or after the server
   closed the old one) must prove continuity before its events count, since a server
   restarted with an empty store accepts a watch from a version it never issued, and stays
   silent: the cluster identity (the ``kube-system`` namespace's uid, when readable) is the
   one seen at the last list, and a one-item LIST at the remembered version does not answer
   "Too large resource version". The watch stays open meanwhile, so a server that restarts
   after the proof breaks it. A watch that comes back on the very connection of the watch it
   follows (HTTP keep-alive after a clean end: the usual case when ``timeoutSeconds`` ran out)
   needs no proof: a server that stops closes its connections, so the same connection is the
   same server, which issued every version we hold. (Through an HTTP proxy the connection
   reaches the proxy, so there every watch proves.)
4. When continuity cannot be proven, LIST again and *diff* the fresh list against the cache:
   objects that vanished while we were away get a delete, new ones an add, changed ones an
   update (and one whose uid changed — deleted and created again under the same name — a
   delete and an add, so nobody carries the old object's state over). That is the case when
   the server says the version is gone (HTTP 410, or a watch ``ERROR`` event with 410), when
   it has not reached it (a server restarted with an empty store issues its versions anew:
   resuming there would keep objects that no longer exist as ghosts), and after any failed
   request or broken stream, since a server may have restarted behind a dropped connection.
5. Failures wait an exponentially growing, jittered delay (:mod:`podscaler.kube.backoff`),
   timed by the event loop's clock.

Objects are kept as the decoded JSON dicts, never as generated model classes: an informer
over tens of thousands of pods parses every event, and a dict costs nothing more. Objects in
the cache and handed to handlers are shared; treat them as read-only. An optional
``transform`` rewrites each object before it is cached (:func:`compact` drops managedFields
and interns keys, which the ScaledObject controller's informers use).

Handlers: each registration gets its own FIFO queue and worker task. The watch loop only
appends to the queues, so a slow handler delays its own later events and nobody else's, and
never the stream (which the server would otherwise close for slow reading). Each handler
sees its events in order. The queues are unbounded: a handler that is permanently slower than
the event rate grows its queue (``pending`` exposes the depth for metrics); controllers that
need coalescing put a keyed work queue behind their handler. A handler that raises is logged
and keeps receiving events. A handler registered after the first sync first receives an add
for every cached object, so late subscribers see the same world as early ones.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from podscaler.api.selectors import LabelSelector, Operator, Requirement, parse_label_selector
from podscaler.kube.backoff import Backoff
from podscaler.kube.clients import Kube
from podscaler.kube.errors import (
    ApiError,
    Gone,
    error_for_status,
    is_too_large_resource_version,
)
from podscaler.kube.resources import Resource

__all__ = [
    "Change",
    "Informer",
    "Key",
    "Subscription",
    "compact",
    "diff_relist",
    "object_key",
]

log = logging.getLogger(__name__)

Key = tuple[str, str]
"""(namespace or "" for cluster-scoped objects, name)."""

Obj = dict[str, Any]
AddHandler = Callable[[Obj], Awaitable[None]]
UpdateHandler = Callable[[Obj, Obj], Awaitable[None]]
DeleteHandler = Callable[[Obj], Awaitable[None]]


#: Strings up to this long are interned by :func:`compact` (keys, kinds, condition types and
#: reasons, label values …); longer ones (messages, JSON blobs) are left as they are.
_INTERN_MAX = 64

_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _compact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {sys.intern(k): _compact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_compact_value(v) for v in value]
    if isinstance(value, str) and len(value) <= _INTERN_MAX:
        return sys.intern(value)
    return value


def compact(obj: Obj) -> Obj:
    """A cache-friendly copy of *obj* (an informer ``transform``): the same object for every
    reader that does not look at ``metadata.managedFields`` or kubectl's
    ``last-applied-configuration`` annotation, both dropped (on a real cluster they are often
    most of an object's size), with its keys and short strings interned.

    Why: every watch event is decoded on its own, so each cached object carries its own copy of
    every key ("metadata", "resourceVersion", "lastTransitionTime" …): at 10,000 ScaledObjects
    whose statuses arrived by watch, tens of MiB of identical strings.
    """
    meta = obj.get("metadata")
    if isinstance(meta, dict) and (
        "managedFields" in meta or _LAST_APPLIED in (meta.get("annotations") or {})
    ):
        meta = {k: v for k, v in meta.items() if k != "managedFields"}
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and _LAST_APPLIED in annotations:
            meta["annotations"] = {k: v for k, v in annotations.items() if k != _LAST_APPLIED}
        obj = {**obj, "metadata": meta}
    compacted: Obj = _compact_value(obj)
    return compacted


def object_key(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _resource_version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


class _Discontinuity(Exception):
    """The server that answers is not (or cannot be shown to be) the store the cache follows."""


@dataclass(frozen=True, slots=True)
class Change:
    """One change seen by the cache: ``old`` is set for updates."""

    type: Literal["add", "update", "delete"]
    obj: Obj
    old: Obj | None = None


def diff_relist(cached: Mapping[Key, Obj], listed: Mapping[Key, Obj]) -> list[Change]:
    """The changes that turn ``cached`` into ``listed`` after a relist.

    An object whose resourceVersion did not change produces nothing (it is the same object);
    deletes carry the last cached state, since that is all anyone knows of it.
    """
    changes: list[Change] = []
    for key, obj in listed.items():
        old = cached.get(key)
        if old is None:
            changes.append(Change("add", obj))
        elif _uid(old) != _uid(obj):
            changes.extend((Change("delete", old), Change("add", obj)))
        elif _resource_version(old) != _resource_version(obj):
            changes.append(Change("update", obj, old))
    changes.extend(Change("delete", old) for key, old in cached.items() if key not in listed)
    return changes


class Subscription:
    """One handler registration: its queue, its worker, and how to cancel it."""

    def __init__(
        self,
        informer: Informer,
        on_add: AddHandler | None,
        on_update: UpdateHandler | None,
        on_delete: DeleteHandler | None,
    ) -> None:
        self._informer = informer
        self._on_add = on_add
        self._on_update = on_update
        self._on_delete = on_delete
        self._queue: asyncio.Queue[Change] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Events queued for this handler and not yet handled."""
        return self._queue.qsize()

    def _push(self, change: Change) -> None:
        if self._wants(change):
            self._queue.put_nowait(change)
            if self._worker is None:
                self._worker = asyncio.get_running_loop().create_task(
                    self._work(), name=f"informer-handler-{self._informer.name}"
                )

    def _wants(self, change: Change) -> bool:
        if change.type == "add":
            return self._on_add is not None
        if change.type == "update":
            return self._on_update is not None
        return self._on_delete is not None

    async def _work(self) -> None:
        while True:
            change = await self._queue.get()
            try:
                if change.type == "add" and self._on_add is not None:
                    await self._on_add(change.obj)
                elif change.type == "update" and self._on_update is not None:
                    assert change.old is not None
                    await self._on_update(change.old, change.obj)
                elif change.type == "delete" and self._on_delete is not None:
                    await self._on_delete(change.obj)
            except Exception:
                log.exception("informer %s: %s handler failed", self._informer.name, change.type)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every event queued so far has been handled."""
        await self._queue.join()

    async def cancel(self) -> None:
        """Stop receiving events; queued ones are dropped."""
        self._informer._subscriptions.discard(self)
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None


class Informer:
    """A list+watch cache of one resource type (optionally one namespace, and/or selectors).

    Use as ``async with Informer(...) as informer:`` (or :meth:`start` / :meth:`aclose`), then
    ``await informer.wait_synced()`` before trusting the cache.
    """

    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        watch_timeout_seconds: float | None = None,
        backoff: Backoff | None = None,
        transform: Callable[[Obj], Obj] | None = None,
    ) -> None:
        self.kube = kube
        #: Applied to every object before it is cached and handed to handlers (as client-go's
        #: ``SetTransform``), e.g. :func:`compact`.
        self.transform = transform
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        #: Each watch asks for between one and two times this (None: ``kube``'s).
        self.watch_timeout_seconds = watch_timeout_seconds
        self.name = resource.plural if namespace is None else f"{namespace}/{resource.plural}"
        self._backoff = backoff or Backoff()
        self.resource_version = ""
        self.relists = 0
        """How many times the cache was rebuilt after the first sync (for metrics and tests)."""
        self._objects: dict[Key, Obj] = {}
        self._by_namespace: dict[str, set[Key]] = {}
        self._by_label: dict[tuple[str, str], set[Key]] = {}
        self._subscriptions: set[Subscription] = set()
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: The cluster identity seen at the last list (see :meth:`_cluster_identity`).
        self._identity: str | None = None
        #: Set while the cache is known to follow the server; cleared from a failure until
        #: the next list (see :attr:`current`).
        self._current = asyncio.Event()
        #: The connection of the last watch whose server was shown to hold our version: a
        #: watch that comes back on it needs no new proof (see the module docstring).
        self._trusted_connection: object | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=f"informer-{self.name}"
            )
        return self._task

    async def aclose(self) -> None:
        """Stop watching and stop every handler worker."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for sub in list(self._subscriptions):
            await sub.cancel()

    async def __aenter__(self) -> Informer:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def has_synced(self) -> bool:
        """True once the first LIST has been applied."""
        return self._synced.is_set()

    async def wait_synced(self, timeout_seconds: float | None = None) -> None:
        async with asyncio.timeout(timeout_seconds):
            await self._synced.wait()

    @property
    def current(self) -> bool:
        """Whether the cache is known to follow the server right now: False from a failed
        watch or request (the server may have restarted with another store behind it) until
        the list that repairs the cache. Act on cached objects only while this is true, or an
        object that no longer exists can still move something."""
        return self._current.is_set()

    async def wait_current(self, timeout_seconds: float | None = None) -> None:
        """Return once :attr:`current`; TimeoutError after ``timeout_seconds``."""
        async with asyncio.timeout(timeout_seconds):
            await self._current.wait()

    async def drain(self) -> None:
        """Wait until every handler has handled every event queued so far."""
        for sub in list(self._subscriptions):
            await sub.drain()

    # ---------------------------------------------------------------- handlers

    def add_handler(
        self,
        *,
        on_add: AddHandler | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: DeleteHandler | None = None,
    ) -> Subscription:
        """Register async handlers; call from a running loop. See the module docstring."""
        sub = Subscription(self, on_add, on_update, on_delete)
        self._subscriptions.add(sub)
        for obj in self._objects.values():
            sub._push(Change("add", obj))
        return sub

    # ---------------------------------------------------------------- reads

    def __len__(self) -> int:
        return len(self._objects)

    def get(self, namespace: str | None, name: str) -> Obj | None:
        return self._objects.get((namespace or "", name))

    def items(self) -> list[Obj]:
        return list(self._objects.values())

    def by_namespace(self, namespace: str) -> list[Obj]:
        return [self._objects[k] for k in self._by_namespace.get(namespace, ())]

    def by_label(self, key: str, value: str) -> list[Obj]:
        return [self._objects[k] for k in self._by_label.get((key, value), ())]

    def select(self, selector: str | LabelSelector, namespace: str | None = None) -> list[Obj]:
        """Objects matching a label selector (string form or parsed), optionally in one
        namespace. Equality requirements are answered from the label index."""
        parsed = _parse_selector(selector) if isinstance(selector, str) else selector
        requirements = parsed.requirements
        candidates: Iterable[Key] | None = None
        narrowest: Requirement | None = None
        best = -1
        for req in requirements:
            if req.operator in (Operator.EQUALS, Operator.IN):
                size = sum(len(self._by_label.get((req.key, v), ())) for v in req.values)
                if best < 0 or size < best:
                    narrowest, best = req, size
        if narrowest is not None:
            candidates = [
                key
                for value in narrowest.values
                for key in self._by_label.get((narrowest.key, value), ())
            ]
        if candidates is None:
            candidates = (
                self._by_namespace.get(namespace or "", set())
                if namespace is not None
                else self._objects.keys()
            )
        out: list[Obj] = []
        for key in candidates:
            if namespace is not None and key[0] != namespace:
                continue
            obj = self._objects[key]
            if parsed.matches(_labels(obj)):
                out.append(obj)
        return out

    # ---------------------------------------------------------------- the loop

    async def run(self) -> None:
        """List, then watch forever; returns only when cancelled."""
        loop = asyncio.get_running_loop()
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                    self._backoff.reset()
                started = loop.time()
                events = await self._watch()
                if events > 0 or loop.time() - started >= 1.0:
                    self._backoff.reset()
                    continue
                # Closed at once without a word: do not spin on a server that does this.
                await asyncio.sleep(self._backoff.next_delay_seconds())
            except (Gone, _Discontinuity) as exc:
                self._current.clear()
                self._trusted_connection = None
                log.info("informer %s: %s; listing again", self.name, exc)
                need_list = True
                self._count_relist()
            except Exception as exc:
                # Whatever happened, the server may not be the one that issued our version.
                self._current.clear()
                self._trusted_connection = None
                if not need_list:
                    self._count_relist()
                need_list = True
                if is_too_large_resource_version(exc):
                    log.info(
                        "informer %s: the server has not reached version %s; listing again",
                        self.name,
                        self.resource_version,
                    )
                    continue
                delay = self._backoff.next_delay_seconds()
                log.warning("informer %s: %s; retrying in %.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)

    def _count_relist(self) -> None:
        if self.has_synced:
            self.relists += 1

    async def _cluster_identity(self) -> str | None:
        """The uid of the ``kube-system`` namespace: what tools use as a cluster's identity, new
        whenever the store behind the API server is (None when it cannot be read)."""
        try:
            namespace = await self.kube.request("GET", "/api/v1/namespaces/kube-system")
        except ApiError:
            return None
        uid = (namespace.get("metadata") or {}).get("uid")
        return str(uid) if uid else None

    async def _prove_continuity(self) -> None:
        """Raise :class:`_Discontinuity` unless the server that just accepted our watch is the
        store our cache came from: same cluster identity (when readable) and a store that has
        reached our version (a one-item LIST at it must not be "Too large resource version").

        Called with the watch open: a server that restarts after this breaks the watch."""
        if self._identity is not None and await self._cluster_identity() != self._identity:
            raise _Discontinuity("the cluster's identity changed (a new store)")
        params: dict[str, str | int | bool | None] = {
            "limit": 1,
            "resourceVersion": self.resource_version,
        }
        try:
            await self.kube.request("GET", self.resource.path(self.namespace), params=params)
        except ApiError as exc:
            if is_too_large_resource_version(exc):
                raise _Discontinuity(
                    f"the server has not reached version {self.resource_version} (restarted?)"
                ) from exc
            raise

    def _selector_params(self) -> dict[str, str | int | bool | None]:
        return {"labelSelector": self.label_selector, "fieldSelector": self.field_selector}

    async def _list(self) -> tuple[dict[Key, Obj], str]:
        path = self.resource.path(self.namespace)
        limit: int | None = self.page_size
        items: dict[Key, Obj] = {}
        token: str | None = None
        while True:
            params = {**self._selector_params(), "limit": limit, "continue": token}
            try:
                page = await self.kube.request("GET", path, params=params)
            except Gone:
                if token is None:
                    raise
                # The continue token expired mid-list: list again in one go.
                items, token, limit = {}, None, None
                continue
            for item in page.get("items") or []:
                item.setdefault("apiVersion", self.resource.api_version)
                item.setdefault("kind", self.resource.kind)
                if self.transform is not None:
                    item = self.transform(item)
                items[object_key(item)] = item
            meta = page.get("metadata") or {}
            token = meta.get("continue") or None
            if token is None:
                return items, str(meta.get("resourceVersion") or "")

    async def _relist(self) -> None:
        self._identity = await self._cluster_identity()
        listed, version = await self._list()
        for change in diff_relist(self._objects, listed):
            self._apply(change)
        self.resource_version = version
        self._synced.set()
        self._current.set()

    async def _watch(self) -> int:
        """One watch request; returns the number of events seen when the stream ends."""
        base = self.watch_timeout_seconds
        if base is None:
            base = self.kube.watch_timeout_seconds
        timeout = int(base * (1.0 + random.random()))
        params = {
            **self._selector_params(),
            "watch": True,
            "resourceVersion": self.resource_version,
            "allowWatchBookmarks": True,
            "timeoutSeconds": timeout,
        }
        seen = 0
        async with self.kube.stream(
            self.resource.path(self.namespace), params=params, read_timeout_seconds=timeout + 30
        ) as stream:
            connection = stream.connection
            if connection is None or connection is not self._trusted_connection:
                await self._prove_continuity()
                self._trusted_connection = connection
            self._current.set()
            async for event in stream:
                seen += 1
                self._on_event(event)
        # Ended cleanly; until the next watch proves continuity, the cache is not current.
        self._current.clear()
        return seen

    def _on_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            return
        if kind == "ERROR":
            code = int(obj.get("code") or 500)
            raise error_for_status(code, str(obj.get("reason") or ""), obj)
        version = _resource_version(obj)
        if kind == "BOOKMARK":
            if version:
                self.resource_version = version
            return
        if self.transform is not None and kind != "DELETED":
            obj = self.transform(obj)
        key = object_key(obj)
        old = self._objects.get(key)
        if kind in ("ADDED", "MODIFIED"):
            if old is not None and _uid(old) != _uid(obj):
                # Another object under the same name: the old one is gone.
                self._apply(Change("delete", old))
                old = None
            self._apply(Change("add", obj) if old is None else Change("update", obj, old))
        elif kind == "DELETED":
            if old is not None:
                self._apply(Change("delete", obj))
        else:
            log.warning("informer %s: unknown watch event type %r", self.name, kind)
            return
        if version:
            self.resource_version = version

    def _apply(self, change: Change) -> None:
        obj = change.obj
        key = object_key(obj)
        old = self._objects.get(key)
        if change.type == "delete":
            if old is not None:
                self._unindex(key, old)
                del self._objects[key]
        else:
            if old is not None and _labels(old) != _labels(obj):
                self._unindex(key, old)
                old = None
            self._objects[key] = obj
            if old is None:
                self._index(key, obj)
        for sub in self._subscriptions:
            sub._push(change)

    def _index(self, key: Key, obj: Obj) -> None:
        self._by_namespace.setdefault(key[0], set()).add(key)
        for label in _labels(obj).items():
            self._by_label.setdefault(label, set()).add(key)

    def _unindex(self, key: Key, obj: Obj) -> None:
        keys = self._by_namespace.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_namespace[key[0]]
        for label in _labels(obj).items():
            holders = self._by_label.get(label)
            if holders is not None:
                holders.discard(key)
                if not holders:
                    del self._by_label[label]


@functools.lru_cache(maxsize=1024)
def _parse_selector(text: str) -> LabelSelector:
    """Parsed selectors are immutable, so the strings controllers repeat are parsed once."""
    return parse_label_selector(text)
