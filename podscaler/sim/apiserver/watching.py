"""Watch streams: chunked JSON lines of ``{"type": ..., "object": ...}``.

A watch is opened on the store (which replays history after the requested resourceVersion,
or sends ADDED for everything when none is given) and then fed by every write. Lines are the
bytes the store serialized once per event, so a write costs one ``json.dumps`` whatever the
number of watchers. Bursts are batched into one socket write.

As upstream:

* a resourceVersion older than the retained history opens the stream (200) and sends one
  ``ERROR`` event carrying a ``Status`` with code 410, then ends;
* a resourceVersion the server has not reached is accepted and stays silent (no events, no
  bookmarks) until the server passes it; with ``sendInitialEvents=true`` it ends in one
  ``ERROR`` event carrying 504 "Too large resource version" instead (see ``versions.py``);
* ``allowWatchBookmarks=true`` adds periodic ``BOOKMARK`` events carrying the current
  resourceVersion (here every ``ApiServer.bookmark_interval`` seconds, not upstream's ~1 min),
  only when it is newer than what the client was last told;
* ``sendInitialEvents=true`` (with ``resourceVersionMatch=NotOlderThan``, as upstream
  requires) sends the current objects as ADDED followed by a bookmark annotated
  ``k8s.io/initial-events-end``;
* ``timeoutSeconds`` ends the stream cleanly; without it a watch lasts 30 minutes.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from podscaler.sim.apiserver import negotiation, tables, versions
from podscaler.sim.apiserver.errors import Gone, Timeout
from podscaler.sim.apiserver.state import ServerState
from podscaler.sim.apiserver.store import Event, dumps
from podscaler.sim.apiserver.wire import (
    JSON,
    Target,
    query_bool,
    query_int,
    selector_predicate,
)

DEFAULT_TIMEOUT_SECONDS = 1800
#: A longer ``timeoutSeconds`` is cut to this (a day; also keeps the deadline arithmetic sane).
_MAX_TIMEOUT = 86_400


def _since(text: str | None) -> int | None:
    if text in (None, "", "0"):
        return None
    return versions.parse_watch(str(text))


async def serve_watch(
    server: ServerState, request: web.Request, target: Target
) -> web.StreamResponse:
    rt = target.rt
    query = request.query
    versions.watch_options_problems(query)
    predicate = selector_predicate(rt, query)
    since = _since(query.get("resourceVersion"))
    timeout = min(query_int(query, "timeoutSeconds", DEFAULT_TIMEOUT_SECONDS), _MAX_TIMEOUT)
    bookmarks = query_bool(query, "allowWatchBookmarks")
    initial = query_bool(query, "sendInitialEvents")
    form = negotiation.answer_of(request, "watch")
    response = web.StreamResponse(status=200)
    response.content_type = JSON
    response.enable_chunked_encoding()
    try:
        if initial:
            # A watch-list starts from the state at (at least) the requested version, which
            # the server must have reached: otherwise "Too large resource version".
            if since is not None:
                await versions.reach(server.store, since, block=True)
            since = None
        elif since is None and "sendInitialEvents" in query:
            since = server.store.resource_version  # sendInitialEvents=false: no initial state
        watcher = server.objects(rt).watch(rt, target.namespace, since, predicate)
    except (Gone, Timeout) as exc:
        await response.prepare(request)
        await response.write(b'{"type":"ERROR","object":' + dumps(exc.status()) + b"}\n")
        await response.write_eof()
        return response
    server.open_watches.add(watcher)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(timeout, 0)

    #: The newest version this client has been told about: a bookmark never goes back (a
    #: watch from a version the server has not reached gets none until the server passes it).
    told = since or 0

    def bookmark(initial_end: bool = False) -> bytes:
        nonlocal told
        told = max(told, server.store.resource_version)
        meta: dict[str, object] = {"resourceVersion": str(told)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj: dict[str, object] = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}
        if form.form == "metadata":
            obj = negotiation.partial({"metadata": meta}, form.version)
        return dumps({"type": "BOOKMARK", "object": obj}) + b"\n"

    def render(batch: list[tuple[str, Event]]) -> bytes:
        if form.form == "object":
            return b"".join(ev.line(type_) for type_, ev in batch)
        if form.form == "metadata":
            return b"".join(
                dumps({"type": type_, "object": negotiation.partial(ev.shown(type_), form.version)})
                + b"\n"
                for type_, ev in batch
            )
        now = server.now()
        return b"".join(
            dumps({"type": type_, "object": tables.table(rt, [ev.shown(type_)], now)}) + b"\n"
            for type_, ev in batch
        )

    try:
        await response.prepare(request)
        if initial:
            batch = watcher.drain()
            payload = render(batch)
            if bookmarks:
                payload += bookmark(initial_end=True)
            if payload:
                await response.write(payload)
        next_bookmark = loop.time() + server.bookmark_interval
        while True:
            now = loop.time()
            if now >= deadline:
                break
            wait_for = min(deadline, next_bookmark if bookmarks else deadline) - now
            await watcher.wait(max(wait_for, 0))
            batch = watcher.drain()
            if batch:
                told = max(told, batch[-1][1].rv)
                await response.write(render(batch))
            if watcher.closed:
                break
            if bookmarks and loop.time() >= next_bookmark:
                if server.store.resource_version > told:
                    await response.write(bookmark())
                next_bookmark = loop.time() + server.bookmark_interval
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
    except ConnectionError:
        # The client went away: nothing left to tell anyone.
        pass
    finally:
        server.objects(rt).unwatch(rt, watcher)
        server.open_watches.discard(watcher)
    return response
