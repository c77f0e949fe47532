"""A cluster for the node autoscaler's integration tests: the embedded API server over HTTP,
its world (scheduler, kubelet, controllers, a simulated cloud), and a
:class:`~podscaler.controllers.nodes.NodeAutoscaler` talking to the server like any client —
all on one simulated event loop, so minutes of node boots and unneeded timers take
milliseconds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from podscaler.controllers.nodes import NodeAutoscaler, NodeAutoscalerSettings, SimProvider
from podscaler.kube.clients import Kube, connect
from podscaler.kube.events import EventRecorder
from podscaler.nodes import NodeAutoscalerOptions
from podscaler.nodes.providers.sim import NodeGroupSpec, SimNodeGroup
from podscaler.observability.nodemetrics import NodeAutoscalerMetrics
from podscaler.sim.apiserver.server import ApiServer
from podscaler.sim.clock import SimulatedClock, run_simulated
from podscaler.sim.world.world import World

T = TypeVar("T")
NAMESPACE = "podscaler"


@dataclass
class Cluster:
    server: ApiServer
    world: World
    kube: Kube
    autoscaler: NodeAutoscaler
    groups: dict[str, SimNodeGroup]
    registry: CollectorRegistry

    async def run(self, until_seconds: float) -> None:
        await self.world.run(until_seconds=until_seconds)

    def create(self, resource: tuple[str, str, str], obj: dict[str, Any], ns: str = "") -> None:
        rt = self.server.table.get(*resource)
        assert rt is not None
        self.world.ctx.writer.create(rt, obj, ns)

    def deploy(self, name: str, replicas: int, **pod: Any) -> None:
        requests = {"cpu": pod.pop("cpu", "500m"), "memory": pod.pop("memory", "256Mi")}
        meta = {"labels": {"app": name}}
        if "annotations" in pod:
            meta["annotations"] = pod.pop("annotations")
        spec = {"containers": [{"name": "c", "image": "x", "resources": {"requests": requests}}]}
        spec.update(pod)
        self.create(
            ("apps", "v1", "deployments"),
            {
                "metadata": {"name": name},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": meta, "spec": spec},
                },
            },
            "default",
        )

    def scale(self, name: str, replicas: int) -> None:
        kinds = self.world.ctx.kinds
        current = self.server.store.get(kinds.deployments, "default", name).copy()
        current["spec"]["replicas"] = replicas
        self.world.ctx.writer.replace(kinds.deployments, current)

    def events(self, reason: str) -> list[dict[str, Any]]:
        return [
            e.obj
            for e in self.server.store.entries(self.world.ctx.kinds.events)
            if e.obj.get("reason") == reason
        ]

    def nodes(self, group: str | None = None) -> list[dict[str, Any]]:
        found = list(self.world.ctx.state.nodes.values())
        if group is None:
            return found
        return [n for n in found if n["metadata"]["labels"].get("podscaler.io/node-group") == group]

    def configmap(self, name: str) -> dict[str, Any]:
        rt = self.server.table.get("", "v1", "configmaps")
        assert rt is not None
        return self.server.store.get(rt, NAMESPACE, name).obj

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def run_cluster(
    body: Callable[[Cluster], Awaitable[T]],
    *,
    groups: list[NodeGroupSpec],
    options: NodeAutoscalerOptions | None = None,
    dry_run: bool = False,
) -> T:
    """``body`` with a started cluster and node autoscaler; everything is stopped after."""

    async def main(clock: SimulatedClock) -> T:
        server = ApiServer(now=clock.now, install_crds=False)
        await server.start()
        world = World(server, tick_seconds=15.0, seed=3)
        made = {spec.name: world.cloud.add_group(spec) for spec in groups}
        world.ctx.writer.create(world.ctx.kinds.namespaces, {"metadata": {"name": NAMESPACE}})
        world.start()
        world.step()
        kube = await connect(server=server.url)
        recorder = EventRecorder(kube, now=clock.now, reporting_instance="test")
        registry = CollectorRegistry()
        autoscaler = NodeAutoscaler(
            kube,
            SimProvider(made.values()),
            now=clock.now,
            settings=NodeAutoscalerSettings(
                options=options or NodeAutoscalerOptions(), namespace=NAMESPACE, dry_run=dry_run
            ),
            recorder=recorder,
            metrics=NodeAutoscalerMetrics(registry),
        )
        await autoscaler.start()
        cluster = Cluster(server, world, kube, autoscaler, made, registry)
        try:
            return await body(cluster)
        finally:
            await autoscaler.aclose()
            await recorder.aclose()
            await kube.close()
            await world.stop()
            await server.stop()
            await asyncio.sleep(0)

    return run_simulated(main)


def small_group(name: str = "general", **changes: Any) -> NodeGroupSpec:
    fields: dict[str, Any] = {
        "name": name,
        "capacity": {"cpu": "2", "memory": "8Gi", "pods": "29"},
        "min_size": 1,
        "max_size": 5,
        "initial_size": 2,
        "boot_seconds": 60.0,
        "price_per_hour": 0.1,
    }
    fields.update(changes)
    return NodeGroupSpec(**fields)
