"""The embedded cluster *with its world running*, for the event-driven e2e tests.

The API server (the ``apiserver`` fixture) and :class:`~podscaler.sim.world.world.World` run in
the test's event loop, on real time; ``podscaler run`` is a subprocess (the ``operator``
fixture), so everything the operator sees crosses the real REST API. The world makes the
operator's decisions real: a Deployment scaled to N gets N pods that are scheduled, start, turn
Ready and — when their workload profile names a queue — take messages from it; a ScaledJob's
Jobs get pods that drain the queue and complete.

``world`` ticks every 0.5 s (load, queue consumption) on one roomy node. ``Replicas`` samples a
Deployment's ``/scale`` in the background so a test can assert on the whole path (0 → N → 0, a
cap never exceeded), not only on where it ended.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from podscaler.kube.clients import Kube
from podscaler.nodes.providers.sim import NodeGroupSpec
from podscaler.sim.apiserver.server import ApiServer
from podscaler.sim.world.jobprofiles import ScaledJobProfiles
from podscaler.sim.world.profiles import JobWork, WorkloadProfile
from podscaler.sim.world.queues import QueueBackend, QueueHub
from podscaler.sim.world.world import World

NS = "default"
GROUP = "/apis/autoscaling.podscaler.io/v1alpha1"
TICK_SECONDS = 0.5


@pytest.fixture
async def world(apiserver: ApiServer) -> AsyncIterator[World]:
    profiles = ScaledJobProfiles()
    the_world = World(
        apiserver,
        profiles=profiles,
        queues=QueueHub(),
        tick_seconds=TICK_SECONDS,
        node_ready_seconds=0.1,
    )
    profiles.bind(the_world.ctx.state.jobs)
    the_world.cloud.add_group(
        NodeGroupSpec(
            name="general",
            capacity={"cpu": "32", "memory": "128Gi", "pods": "110"},
            min_size=1,
            max_size=1,
            initial_size=1,
            boot_seconds=0.0,
        )
    )
    the_world.start()
    the_world.step()
    task = asyncio.get_running_loop().create_task(the_world.run(), name="world")
    try:
        yield the_world
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await the_world.stop()
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise AssertionError(f"the world stopped: {task.exception()!r}")


def consumers(world: World, name: str, queue: str, *, per_second: float, job: bool = False) -> None:
    """Pods of workload *name* take *per_second* messages each from *queue* once Ready (job
    pods: until the queue is empty, then they complete)."""
    world.ctx.profiles.set(
        NS,
        name,
        WorkloadProfile(
            start_seconds=0.3,
            ready_seconds=0.3,
            stop_seconds=0.2,
            queue=queue,
            consume_per_second=per_second,
            job=JobWork(from_queue=job),
        ),
    )


def add_queue(world: World, backend: QueueBackend) -> None:
    world.queues.add(backend, None)


async def burst(world: World, queue: str, count: int) -> None:
    """*count* messages land on *queue* at once (on the world's books, as its producers')."""
    wiring = world.queues.queues[queue]
    await wiring.backend.send(count)
    wiring.produced_total += count


def consumer_deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    container = {
        "name": "consumer",
        "image": "example/consumer:1",
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


async def put_secret(kube: Kube, name: str, data: dict[str, str]) -> None:
    """Create or replace a Secret (values base64-encoded as the API wants them)."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    path = f"/api/v1/namespaces/{NS}/secrets"
    existing = await kube.request("GET", path)
    current = [s for s in existing.get("items") or [] if s["metadata"]["name"] == name]
    if not current:
        await kube.request("POST", path, body=body)
        return
    body["metadata"]["resourceVersion"] = current[0]["metadata"]["resourceVersion"]
    await kube.request("PUT", f"{path}/{name}", body=body)


async def trigger_auth(kube: Kube, name: str, refs: list[dict[str, str]]) -> None:
    await kube.request(
        "POST",
        f"{GROUP}/namespaces/{NS}/triggerauthentications",
        body={
            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": {"name": name},
            "spec": {"secretTargetRef": refs},
        },
    )


async def ready_pods(kube: Kube, app: str) -> int:
    answer = await kube.request(
        "GET", f"/api/v1/namespaces/{NS}/pods", params={"labelSelector": f"app={app}"}
    )
    return sum(
        1
        for pod in answer.get("items") or []
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (pod.get("status") or {}).get("conditions") or ()
        )
    )


@dataclass
class Replicas:
    """Samples ``spec.replicas`` of a Deployment's ``/scale`` every 0.1 s."""

    kube: Kube
    name: str
    seen: list[int] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Replicas:
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sample(self) -> None:
        path = f"/apis/apps/v1/namespaces/{NS}/deployments/{self.name}/scale"
        while True:
            scale = await self.kube.request("GET", path)
            value = int((scale.get("spec") or {}).get("replicas") or 0)
            if not self.seen or self.seen[-1] != value:
                self.seen.append(value)
            await asyncio.sleep(0.1)

    @property
    def now(self) -> int:
        return self.seen[-1] if self.seen else 0

    @property
    def peak(self) -> int:
        return max(self.seen, default=0)


def event_reasons(items: list[dict[str, Any]], name: str) -> list[str]:
    """Reasons of the Events about object *name*, oldest first."""
    about = [e for e in items if (e.get("regarding") or {}).get("name") == name]
    return [str(e.get("reason")) for e in about]
