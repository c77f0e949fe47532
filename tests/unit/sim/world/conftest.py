"""A world on a simulated loop, without HTTP: the API server object is built but never started
(the world writes through its store in-process), so these stay unit tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from podscaler.nodes.providers.sim import NodeGroupSpec
from podscaler.sim.apiserver.server import ApiServer
from podscaler.sim.clock import SimulatedClock, run_simulated
from podscaler.sim.world.profiles import Profiles
from podscaler.sim.world.world import World

T = TypeVar("T")


def simulate(body: Callable[[SimulatedClock], Awaitable[T]]) -> T:
    return run_simulated(body)


def make_world(
    clock: SimulatedClock,
    *,
    nodes: int = 2,
    capacity: dict[str, str] | None = None,
    max_size: int = 10,
    boot_seconds: float = 60.0,
    profiles: Profiles | None = None,
) -> World:
    server = ApiServer(now=clock.now, install_crds=False)
    world = World(server, profiles=profiles, tick_seconds=15.0, seed=7)
    world.cloud.add_group(
        NodeGroupSpec(
            name="general",
            capacity=capacity or {"cpu": "2", "memory": "8Gi", "pods": "29"},
            min_size=0,
            max_size=max_size,
            initial_size=nodes,
            boot_seconds=boot_seconds,
        )
    )
    world.start()
    world.step()
    return world


def deployment(
    name: str, replicas: int, *, cpu: str = "100m", memory_limit: str | None = None
) -> dict[str, Any]:
    resources: dict[str, Any] = {"requests": {"cpu": cpu, "memory": "64Mi"}}
    if memory_limit:
        resources["limits"] = {"memory": memory_limit}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "x", "resources": resources}]},
            },
        },
    }


def pods_of(world: World, prefix: str) -> list[dict[str, Any]]:
    return [p for (_, n), p in sorted(world.ctx.state.pods.items()) if n.startswith(prefix)]


def set_replicas(world: World, name: str, replicas: int) -> None:
    kinds = world.ctx.kinds
    current = world.server.store.get(kinds.deployments, "default", name).copy()
    current["spec"]["replicas"] = replicas
    world.ctx.writer.replace(kinds.deployments, current)
