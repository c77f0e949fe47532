"""When an informer proves continuity on a re-watch, and when it need not.

A watch that comes back over a new connection (after a list, or after the server closed the
old one) may reach a restarted server: it proves the server holds its version (a GET of the
``kube-system`` namespace and a one-item LIST at that version). A watch that comes back on the
very connection of the watch that just ended cleanly reaches the same server process, and
proves nothing again. A substitute server counts the proofs; its watches end cleanly, as at
the end of ``timeoutSeconds``, either keeping the connection or closing it.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from podscaler.kube.backoff import Backoff
from podscaler.kube.clients import connect
from podscaler.kube.informers import Informer
from podscaler.kube.resources import Resource
from tests.integration.kube.waiting import eventually

CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap", namespaced=True)


class TimingOutServer:
    """Lists one ConfigMap at version 10; each watch sends a bookmark a little further on and
    ends cleanly, keeping the connection unless ``close`` (then the server closes it)."""

    def __init__(self, close: bool) -> None:
        self.close = close
        self.version = 10
        self.watches: list[dict[str, str]] = []
        self.identity_reads = 0
        self.probes = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        if request.path == "/api/v1/namespaces/kube-system":
            self.identity_reads += 1
            return web.json_response({"metadata": {"name": "kube-system", "uid": "cluster-1"}})
        if query.get("watch") == "true":
            self.watches.append(dict(query))
            self.version += 1
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            if self.close:
                response.force_close()
            await response.prepare(request)
            bookmark = (
                '{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1",'
                f'"metadata":{{"resourceVersion":"{self.version}"}}}}}}\n'
            )
            await response.write(bookmark.encode())
            await asyncio.sleep(0.05)  # a stream, not an answer complete with its headers
            await response.write_eof()
            return response
        if query.get("limit") == "1" and query.get("resourceVersion"):
            self.probes += 1
        item = {
            "metadata": {
                "name": "a", "namespace": "default", "uid": "u-a", "resourceVersion": "9"
            },
        }  # fmt: skip
        body = {
            "kind": "ConfigMapList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": str(self.version)},
            "items": [item],
        }
        return web.json_response(body)


async def _start(fake: TimingOutServer) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    return runner, f"http://127.0.0.1:{port}"


async def _watch_a_while(fake: TimingOutServer, watches: int) -> Informer:
    runner, url = await _start(fake)
    try:
        async with await connect(server=url, watch_timeout_seconds=7200) as kube:
            backoff = Backoff(initial_seconds=0.01, max_seconds=0.05)
            async with Informer(kube, CONFIGMAPS, backoff=backoff) as informer:
                await informer.wait_synced(timeout_seconds=10)
                await eventually(lambda: len(fake.watches) >= watches, timeout_seconds=10)
                assert informer.relists == 0
                assert len(informer) == 1
                return informer
    finally:
        await runner.cleanup()


async def test_a_watch_back_on_its_connection_proves_nothing_again() -> None:
    fake = TimingOutServer(close=False)
    informer = await _watch_a_while(fake, watches=6)
    # The first watch (a new connection after the list) proved; the others came back on it.
    assert fake.probes == 1
    assert fake.identity_reads == 2  # the list's, and the first watch's proof
    # Each watch resumed from the bookmark of the one before: nothing lost, nothing re-listed.
    resumed = [int(w["resourceVersion"]) for w in fake.watches[:6]]
    assert resumed == list(range(10, 16))
    assert int(informer.resource_version) >= 15
    # The timeout the connection was given (real time: a simulation gives a long one).
    assert all(7200 <= int(w["timeoutSeconds"]) < 14400 for w in fake.watches)


async def test_a_watch_on_a_new_connection_proves_every_time() -> None:
    fake = TimingOutServer(close=True)
    await _watch_a_while(fake, watches=4)
    watches = len(fake.watches)
    # Every watch came on a new connection (the server closed each one): each one proved.
    assert fake.probes in (watches - 1, watches)  # the last may still be proving
    assert fake.probes >= 3
