"""e2e: the API server restarted (empty store) under a running operator leaves no ghost.

Before the fix, the operator resumed its watches from resourceVersions the new server never
issued, the server accepted them silently, and the deleted ScaledObject ``ghost`` kept
scaling its target while the only real ScaledObject was refused as "already managed by
ScaledObject ghost". Now the operator's informers relist when they cannot prove the server
still has their version, the ghost is deleted from every cache and its state forgotten.

The server is the embedded one, restarted on the same port (the operator's kubeconfig stays
valid); the operator is the real ``podscaler run`` process.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from podscaler.kube.clients import Kube
from podscaler.sim.apiserver.server import ApiServer
from tests.e2e.conftest import OperatorProcess
from tests.integration.controllers.objects import (
    condition,
    create_deployment,
    create_so,
    deployment,
    events,
    get_so,
    prometheus_trigger,
    replicas,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer

GHOST_REPLICAS = 8
REAL_REPLICAS = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Restartable:
    """The embedded API server on a fixed port, restartable with an empty store."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.server = ApiServer(port=self.port)

    async def restart(self) -> ApiServer:
        await self.server.stop()
        self.server = ApiServer(port=self.port)
        await self.server.start()
        return self.server


@pytest.fixture
async def restartable() -> AsyncIterator[Restartable]:
    holder = Restartable()
    await holder.server.start()
    yield holder
    await holder.server.stop()


@pytest.fixture
def apiserver(restartable: Restartable) -> ApiServer:
    """The server the shared ``kubeconfig`` and ``kube`` fixtures connect to."""
    return restartable.server


@pytest.mark.timeout(120)
async def test_no_write_by_a_ghost_after_the_api_server_restarts(
    restartable: Restartable,
    kube: Kube,
    prom: PromServer,
    operator: Callable[..., Awaitable[OperatorProcess]],
) -> None:
    prom.values = {"ghost_queue": 10.0 * GHOST_REPLICAS, "real_queue": 10.0 * REAL_REPLICAS}
    running = await operator()
    await create_deployment(kube, deployment("web", 1))
    ghost = scaled_object(
        "ghost", "web", [prometheus_trigger(prom.url, query="ghost_queue")], pollingInterval=1
    )
    await create_so(kube, ghost)

    async def web_at(n: int) -> bool:
        return await replicas(kube, "web") == n

    await wait_for(lambda: web_at(GHOST_REPLICAS), 30)

    # The restart: every object, "ghost" included, is gone; versions start again from 1.
    old_version = restartable.server.store.resource_version
    server = await restartable.restart()
    assert server.store.resource_version < old_version

    # At once, as in the report: the target again at 4 replicas, and the only real
    # ScaledObject for it (it wants 5; the ghost wanted 8).
    deployments = server.table.get("apps", "v1", "deployments")
    assert deployments is not None
    watcher = server.store.watch(deployments, "default", None)
    await create_deployment(kube, deployment("web", 4))
    real = scaled_object(
        "real", "web", [prometheus_trigger(prom.url, query="real_queue")], pollingInterval=1
    )
    await create_so(kube, real)

    async def real_scaled_web() -> bool:
        so = await get_so(kube, "real")
        return condition(so, "Ready").get("status") == "True" and await web_at(REAL_REPLICAS)

    await wait_for(real_scaled_web, 30)
    await asyncio.sleep(4)  # four more polls of a ghost, were there one
    seen = [int(ev.entry.obj["spec"].get("replicas") or 0) for _type, ev in watcher.drain()]
    server.store.unwatch(deployments, watcher)

    assert GHOST_REPLICAS not in seen, f"a ghost scaled web after the restart: {seen}"
    assert seen[-1] == REAL_REPLICAS
    so = await get_so(kube, "real")
    assert "already managed" not in str(so["status"]), so["status"]
    assert condition(so, "Ready")["status"] == "True"
    assert not any((e.get("regarding") or {}).get("name") == "ghost" for e in await events(kube)), (
        "an Event about the ghost was written to the new server"
    )
    assert running.process.returncode is None
