"""The simulated kubelet resizes pods in place: accepts and actuates, defers or refuses."""

from __future__ import annotations

from typing import Any

from podscaler.sim.clock import SimulatedClock
from podscaler.sim.world.resizing import RESIZE_IN_PROGRESS, RESIZE_PENDING
from podscaler.sim.world.world import World
from tests.unit.sim.world.conftest import deployment, make_world, pods_of, simulate


def _resize(world: World, pod: dict[str, Any], cpu: str) -> None:
    """What a write to ``pods/resize`` stores: only the container's resources change."""
    kinds = world.ctx.kinds
    meta = pod["metadata"]
    current = world.server.store.get(kinds.pods, meta["namespace"], meta["name"]).copy()
    container = current["spec"]["containers"][0]
    container["resources"] = {**container["resources"], "requests": {"cpu": cpu, "memory": "64Mi"}}
    world.ctx.writer.replace(kinds.pods, current)


def _condition(pod: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in pod["status"].get("conditions") or () if c["type"] == kind), None)


def _running(world: World, prefix: str) -> list[dict[str, Any]]:
    return [p for p in pods_of(world, prefix) if p["status"].get("phase") == "Running"]


def test_a_resize_that_fits_is_actuated_and_reported() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock, nodes=1)
        try:
            world.ctx.writer.create(world.ctx.kinds.deployments, deployment("web", 1), "default")
            await world.run(until_seconds=30)
            (pod,) = _running(world, "web-")
            assert pod["status"]["containerStatuses"][0]["resources"]["requests"]["cpu"] == "100m"
            uid = pod["metadata"]["uid"]
            _resize(world, pod, "500m")
            world.step()
            (pod,) = pods_of(world, "web-")
            assert _condition(pod, RESIZE_IN_PROGRESS) is not None
            await world.run(until_seconds=40)
            (pod,) = pods_of(world, "web-")
            assert pod["metadata"]["uid"] == uid  # the same pod: no restart, no replacement
            assert _condition(pod, RESIZE_IN_PROGRESS) is None
            assert _condition(pod, RESIZE_PENDING) is None
            status = pod["status"]["containerStatuses"][0]
            assert status["resources"]["requests"]["cpu"] == "500m"
            assert status["allocatedResources"]["cpu"] == "500m"
            assert status["restartCount"] == 0
            reasons = [
                e["reason"]
                for e in world.server.store.entries(world.ctx.kinds.events, "default")
                for e in [e.obj]
            ]
            assert "ResizeCompleted" in reasons
        finally:
            await world.stop()

    simulate(body)


def test_a_resize_beyond_the_node_is_infeasible() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock, nodes=1)
        try:
            world.ctx.writer.create(world.ctx.kinds.deployments, deployment("web", 1), "default")
            await world.run(until_seconds=30)
            (pod,) = _running(world, "web-")
            _resize(world, pod, "3")  # the node has 2 cores
            await world.run(until_seconds=60)
            (pod,) = pods_of(world, "web-")
            pending = _condition(pod, RESIZE_PENDING)
            assert pending is not None
            assert pending["reason"] == "Infeasible"
            assert "cpu" in pending["message"]
            # Asking for what it has again withdraws the resize.
            _resize(world, pod, "100m")
            await world.run(until_seconds=70)
            (pod,) = pods_of(world, "web-")
            assert _condition(pod, RESIZE_PENDING) is None
            assert pod["status"]["containerStatuses"][0]["resources"]["requests"]["cpu"] == "100m"
        finally:
            await world.stop()

    simulate(body)


def test_a_resize_without_room_is_deferred_until_room_appears() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock, nodes=1, max_size=1)
        try:
            kinds = world.ctx.kinds
            world.ctx.writer.create(kinds.deployments, deployment("web", 1), "default")
            world.ctx.writer.create(kinds.deployments, deployment("big", 1, cpu="1500m"), "default")
            await world.run(until_seconds=30)
            (pod,) = _running(world, "web-")
            _resize(world, pod, "800m")  # 1500m + 800m > 2 cores
            await world.run(until_seconds=45)
            (pod,) = pods_of(world, "web-")
            pending = _condition(pod, RESIZE_PENDING)
            assert pending is not None
            assert pending["reason"] == "Deferred"
            # Room appears: the big workload goes away; the retry accepts the resize.
            world.ctx.writer.delete(kinds.deployments, "default", "big")
            await world.run(until_seconds=150)
            (pod,) = pods_of(world, "web-")
            assert _condition(pod, RESIZE_PENDING) is None
            assert pod["status"]["containerStatuses"][0]["resources"]["requests"]["cpu"] == "800m"
        finally:
            await world.stop()

    simulate(body)
