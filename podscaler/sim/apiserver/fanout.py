"""The watch fan-out of the embedded API server: the history of changes and the open watches.

Every write the store makes becomes an :class:`Event` appended to its resource's history
(a bounded window, ``history_size`` events) and offered to every open :class:`Watcher` of
that resource. A watch from a resourceVersion inside the window replays the history after it;
one from before the window, or from before what :meth:`FanOut.compact_to` forgot, is 410
Gone, as kube-apiserver's watch cache answers "too old resource version"; informers then list
again. The same history answers reads at an older version (:meth:`FanOut.changes_since`).

Resources are named by their store key (group, resource); this module knows nothing of the
objects' buckets, which the store (``store.py``) keeps.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable

from podscaler.sim.apiserver.entries import Entry, Key, Obj, Predicate, dumps
from podscaler.sim.apiserver.errors import Gone

__all__ = ["Event", "FanOut", "Watcher"]


class Event:
    """A change to one object, kept in the history and fanned out to watchers."""

    __slots__ = ("_line", "entry", "old", "rv", "type")

    def __init__(self, type_: str, entry: Entry, old: Obj | None) -> None:
        self.type = type_
        self.entry = entry
        self.old = old
        self.rv = entry.rv
        self._line: bytes | None = None

    def line(self, type_: str | None = None) -> bytes:
        """The watch stream line; the common case (no selector re-typing) is cached."""
        if type_ is None or type_ == self.type:
            if self._line is None:
                self._line = (
                    b'{"type":"' + self.type.encode() + b'","object":' + self.entry.raw() + b"}\n"
                )
            return self._line
        if type_ == "DELETED" and self.old is not None:
            obj = dumps(self.shown(type_))
        else:
            obj = self.entry.raw()
        return b'{"type":"' + type_.encode() + b'","object":' + obj + b"}\n"

    def shown(self, type_: str) -> Obj:
        """The object a watcher is sent for this event seen as ``type_``. A change that takes
        an object out of a watch's selector is a DELETED carrying the version that last
        matched, with this event's resourceVersion (upstream's watch cache does the same)."""
        if type_ == "DELETED" and self.type == "MODIFIED" and self.old is not None:
            meta = {**(self.old.get("metadata") or {}), "resourceVersion": str(self.rv)}
            return {**self.old, "metadata": meta}
        return self.entry.obj


class Watcher:
    """One open watch: a queue of ``(type, event)`` filtered by namespace and predicate.

    With a predicate, transitions follow the apiserver's watch cache: an object that starts
    matching arrives as ADDED and one that stops matching as DELETED.
    """

    def __init__(
        self,
        namespace: str | None,
        predicate: Predicate | None,
        max_queue: int,
        convert: Callable[[Event], Event] | None = None,
    ) -> None:
        self.namespace = namespace
        self.predicate = predicate
        self.max_queue = max_queue
        #: Turns a stored object's event into what this watch's client sees (a view of
        #: another group-version, see ``views.py``); the predicate sees the converted object.
        self.convert = convert
        self.queue: deque[tuple[str, Event]] = deque()
        #: Events up to this version are not sent: a watch from a version the store has not
        #: reached yet starts when the store passes it (upstream's watch cache does the same).
        self.after = 0
        self.closed = False
        self.overflowed = False
        self._wake = asyncio.Event()

    def offer(self, ev: Event) -> None:
        if self.closed or ev.rv <= self.after:
            return
        if self.namespace and ev.entry.namespace != self.namespace:
            return
        if self.convert is not None:
            ev = self.convert(ev)
        type_ = ev.type
        pred = self.predicate
        if pred is not None:
            now_ok = pred(ev.entry.obj)
            if ev.type == "MODIFIED":
                was_ok = ev.old is not None and pred(ev.old)
                if not now_ok and not was_ok:
                    return
                if now_ok and not was_ok:
                    type_ = "ADDED"
                elif was_ok and not now_ok:
                    type_ = "DELETED"
            elif not now_ok:
                return
        self.queue.append((type_, ev))
        if len(self.queue) > self.max_queue:
            # A consumer this far behind is closed, as the apiserver does; it re-watches.
            self.overflowed = True
            self.close()
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def wait(self, seconds: float) -> None:
        """Return when events are queued, the watch closed, or ``seconds`` passed."""
        if self.queue or self.closed:
            return
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            return

    def drain(self) -> list[tuple[str, Event]]:
        items = list(self.queue)
        self.queue.clear()
        return items


class FanOut:
    """Per resource: the history of changes, and the watchers to offer each new one to."""

    def __init__(self, *, history_size: int = 5000, max_watch_queue: int = 50_000) -> None:
        self.history_size = history_size
        self.max_watch_queue = max_watch_queue
        self._history: dict[Key, deque[Event]] = {}
        self._history_start: dict[Key, int] = {}
        #: Every resource's history is forgotten up to here (see :meth:`compact_to`).
        self._compacted_rv = 0
        self._watchers: dict[Key, set[Watcher]] = {}

    def add(self, key: Key) -> None:
        """Start keeping history for a resource (the store calls it on first use)."""
        self._history.setdefault(key, deque())
        self._history_start.setdefault(key, 0)
        self._watchers.setdefault(key, set())

    def emit(self, key: Key, ev: Event) -> None:
        history = self._history[key]
        history.append(ev)
        if len(history) > self.history_size:
            self._history_start[key] = history.popleft().rv
        for watcher in list(self._watchers[key]):
            watcher.offer(ev)

    def watch(
        self,
        key: Key,
        namespace: str | None,
        since: int | None,
        predicate: Predicate | None = None,
        *,
        convert: Callable[[Event], Event] | None = None,
        initial: Iterable[Entry] = (),
        current_rv: int = 0,
    ) -> Watcher:
        """Open a watch of ``namespace`` (None: all) from ``since`` (exclusive); with ``since``
        None, ``initial`` (the current objects) arrive first as ADDED. A watch from beyond
        ``current_rv`` (the store's version) starts when the store passes it, as upstream's
        watch cache does.

        Raises :class:`Gone` when ``since`` is older than the retained history.
        """
        self.add(key)
        watcher = Watcher(namespace, predicate, self.max_watch_queue, convert)
        if since is None:
            for entry in initial:
                watcher.offer(Event("ADDED", entry, None))
        else:
            start = self.history_start(key)
            if since > current_rv:
                watcher.after = since
            if since < start:
                raise Gone(f"too old resource version: {since} ({start})")
            history = self._history[key]
            pending = []
            for ev in reversed(history):
                if ev.rv <= since:
                    break
                pending.append(ev)
            for ev in reversed(pending):
                watcher.offer(ev)
        self._watchers[key].add(watcher)
        return watcher

    def unwatch(self, key: Key, watcher: Watcher) -> None:
        watcher.close()
        self._watchers.get(key, set()).discard(watcher)

    def close_all(self) -> None:
        for watchers in self._watchers.values():
            for watcher in list(watchers):
                watcher.close()
            watchers.clear()

    def compact_to(self, rv: int) -> None:
        """Forget every change up to ``rv``, as etcd's compaction does (kube-apiserver compacts
        every 5 minutes to the revision it saw 5 minutes before): a watch or an exact read
        from an older version is then 410 Expired, and clients list again."""
        if rv <= self._compacted_rv:
            return
        self._compacted_rv = rv
        for key, history in self._history.items():
            while history and history[0].rv <= rv:
                history.popleft()
            if self._history_start.get(key, 0) < rv:
                self._history_start[key] = rv

    def history_start(self, key: Key) -> int:
        """The oldest resourceVersion a watch of ``key`` may resume from (older: 410)."""
        return max(self._history_start.get(key, 0), self._compacted_rv)

    def changes_since(self, key: Key, rv: int) -> dict[Key, Obj | None]:
        """What the objects of ``key`` changed since ``rv`` were *at* ``rv``: the object, or
        None where it did not exist yet. Objects not named did not change. Together with the
        current state this is the state at ``rv`` (exact reads, consistent pagination);
        ``rv`` must not be older than :meth:`history_start`."""
        self.add(key)
        before: dict[Key, Obj | None] = {}
        for ev in self._history[key]:
            if ev.rv <= rv:
                continue
            ident = (ev.entry.namespace, ev.entry.name)
            if ident not in before:
                before[ident] = None if ev.type == "ADDED" else ev.old
        return before
