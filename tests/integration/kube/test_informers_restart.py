"""Informers across an API server restart (an empty store on the same address).

A restarted embedded server issues its resourceVersions anew: resuming the old watch there
would be accepted (kube-apiserver accepts a watch from a version it has not reached, and
stays silent) and the objects that are gone would stay in the cache as ghosts. These tests
restart a real server under a running informer and check that the cache ends up equal to the
new server's state, with a delete delivered for every object that vanished — whether the old
server's watch ended with a broken connection or cleanly just before the restart.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from podscaler.kube.backoff import Backoff
from podscaler.kube.clients import Kube, connect
from podscaler.kube.informers import Informer
from podscaler.kube.resources import Discovery, Resource
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.kube.waiting import eventually

CM_PATH = "/api/v1/namespaces/default/configmaps"
Obj = dict[str, Any]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def port() -> int:
    return _free_port()


@pytest.fixture
async def first(port: int) -> AsyncIterator[ApiServer]:
    server = ApiServer(port=port, install_crds=False, bookmark_interval=0.2)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(first: ApiServer, tmp_path: Path) -> AsyncIterator[Kube]:
    kubeconfig = first.write_kubeconfig(tmp_path / "kubeconfig")
    async with await connect(kubeconfig=kubeconfig) as kube:
        yield kube


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def on_add(self, obj: Obj) -> None:
        self.seen.append(("add", obj["metadata"]["name"]))

    async def on_update(self, old: Obj, new: Obj) -> None:
        self.seen.append(("update", new["metadata"]["name"]))

    async def on_delete(self, obj: Obj) -> None:
        self.seen.append(("delete", obj["metadata"]["name"]))


async def _create(kube: Kube, name: str, value: str = "0") -> None:
    await kube.request("POST", CM_PATH, body={"metadata": {"name": name}, "data": {"v": value}})


@pytest.mark.parametrize("clean_end", [False, True], ids=["connection-lost", "clean-end"])
async def test_a_restarted_server_leaves_no_ghosts(
    first: ApiServer, client: Kube, port: int, clean_end: bool
) -> None:
    for name in ("ghost", "kept"):
        await _create(client, name)
    for i in range(20):  # the old server's versions run well ahead of the new one's
        await client.request(
            "PATCH",
            f"{CM_PATH}/kept",
            body={"data": {"v": str(i)}},
            content_type="application/merge-patch+json",
        )
    recorder = Recorder()
    backoff = Backoff(initial_seconds=0.05, max_seconds=0.2)
    resource = await Discovery(client).resolve("v1", "ConfigMap")
    async with Informer(client, resource, backoff=backoff) as informer:
        informer.add_handler(
            on_add=recorder.on_add, on_update=recorder.on_update, on_delete=recorder.on_delete
        )
        await informer.wait_synced(timeout_seconds=30)
        await eventually(lambda: len(recorder.seen) == 2)
        old_version = int(informer.resource_version)

        if clean_end:
            # The old server ends the watch cleanly; the replacement is up before the
            # informer comes back, so the re-watch reaches it without a single failure.
            first.drop_watches()
        await first.stop()
        second = ApiServer(port=port, install_crds=False, bookmark_interval=0.2)
        await second.start()
        try:
            assert second.store.resource_version < old_version
            await _create(client, "kept")
            await _create(client, "new")
            await eventually(
                lambda: sorted(o["metadata"]["name"] for o in informer.items()) == ["kept", "new"],
                timeout_seconds=10,
            )
            await informer.drain()
            after = recorder.seen[2:]
            assert ("delete", "ghost") in after
            assert ("add", "new") in after
            # "kept" is another object now (a new uid): its old self is deleted, not updated.
            assert after.index(("delete", "kept")) < after.index(("add", "kept"))
            assert ("update", "kept") not in after
            assert informer.relists >= 1
            # And the watch on the new server works from there on.
            await client.request(
                "PATCH",
                f"{CM_PATH}/new",
                body={"data": {"v": "9"}},
                content_type="application/merge-patch+json",
            )
            await eventually(lambda: recorder.seen[-1] == ("update", "new"), timeout_seconds=5)
            await asyncio.sleep(0.3)
            assert ("add", "ghost") not in recorder.seen[2:]
        finally:
            await second.stop()


class ReplacedServer:
    """A substitute API server that plays one restart: it lists ``ghost`` at version 100 and
    ends every watch cleanly at once; from then on it is a server restarted with an empty
    store, at version 5, which answers a read at 100 as kube-apiserver does (504 "Too large
    resource version")."""

    def __init__(self) -> None:
        self.restarted = False
        self.requests: list[str] = []

    def _list(self, items: list[Obj], version: str) -> web.Response:
        body = {
            "kind": "ConfigMapList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": version},
            "items": items,
        }
        return web.json_response(body)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        query = request.query
        if query.get("watch") == "true":
            self.restarted = True
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write_eof()  # a clean end: no error for the client to see
            return response
        if not self.restarted:
            ghost = {
                "metadata": {
                    "name": "ghost", "namespace": "default", "uid": "u-1", "resourceVersion": "90"
                },
            }  # fmt: skip
            return self._list([ghost], "100")
        wanted = query.get("resourceVersion")
        if wanted and int(wanted) > 5:
            status = {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": f"Timeout: Too large resource version: {wanted}, current: 5",
                "reason": "Timeout", "code": 504,
                "details": {"causes": [
                    {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                ]},
            }  # fmt: skip
            return web.json_response(status, status=504)
        return self._list([], "5")


async def test_a_clean_end_is_trusted_only_once_the_server_shows_it_has_the_version() -> None:
    fake = ReplacedServer()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    recorder = Recorder()
    resource = Resource("", "v1", "configmaps", "ConfigMap", namespaced=True)
    try:
        async with await connect(server=f"http://127.0.0.1:{port}") as kube:
            backoff = Backoff(initial_seconds=0.05, max_seconds=0.2)
            async with Informer(kube, resource, backoff=backoff) as informer:
                informer.add_handler(on_add=recorder.on_add, on_delete=recorder.on_delete)
                await informer.wait_synced(timeout_seconds=30)
                await eventually(lambda: ("delete", "ghost") in recorder.seen, timeout_seconds=5)
                assert informer.items() == []
                assert informer.resource_version == "5"
    finally:
        await runner.cleanup()
    # The informer asked before resuming, and listed again when the answer was "too large".
    probe = next(r for r in fake.requests if "limit=1" in r and "resourceVersion=100" in r)
    assert fake.requests.index(probe) < len(fake.requests) - 1
