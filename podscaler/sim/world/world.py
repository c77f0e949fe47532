"""The world: every simulated component of the cluster, run on the one clock.

:class:`World` watches the store in-process (the same watch fan-out HTTP clients get), keeps
:class:`~podscaler.sim.world.state.ClusterState` current, and runs *steps*: due timers (pods
starting, getting Ready, stopping; nodes turning Ready), the cloud (instances becoming Nodes),
the workload controllers for whatever changed, the kubelet and the scheduler — repeated until
nothing is left to do at this instant. Every ``tick_seconds`` it also advances load (usage,
queues, OOM kills) and records a timeline sample.

Between steps it sleeps until the next due thing — timer, booting instance, tick — or until
someone else writes (an operator over HTTP, kubectl): the store's watch queues wake it. Under a
simulated event loop that sleep is a jump in time, which is what makes a day run in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from podscaler.engine.cpa import ClusterTally, node_facts
from podscaler.nodes.providers.sim import LABEL_NODE_GROUP, SimCloud
from podscaler.sim.apiserver.resources import ResourceType
from podscaler.sim.apiserver.store import Watcher
from podscaler.sim.world.admitting import PodCreations
from podscaler.sim.world.cloud import CloudSync
from podscaler.sim.world.context import WorldContext
from podscaler.sim.world.deployments import reconcile_deployment
from podscaler.sim.world.disruption import DisruptionController
from podscaler.sim.world.events import EventWriter
from podscaler.sim.world.jobs import reconcile_job
from podscaler.sim.world.kubelet import Kubelet
from podscaler.sim.world.profiles import Profiles
from podscaler.sim.world.queues import QueueHub
from podscaler.sim.world.replicasets import reconcile_replicaset
from podscaler.sim.world.scheduler import Scheduler
from podscaler.sim.world.state import ClusterState, Timers
from podscaler.sim.world.statefulsets import reconcile_statefulset
from podscaler.sim.world.timeline import Timeline
from podscaler.sim.world.usage import LoadModel
from podscaler.sim.world.writing import ApiWriter, Kinds

if TYPE_CHECKING:
    from podscaler.nodes.providers.aws_front import AwsFront
    from podscaler.sim.apiserver.server import ApiServer
    from podscaler.sim.world.asgs import AsgSync

__all__ = ["World"]

#: Steps within one instant before the world assumes it is looping and moves on.
_MAX_ROUNDS_PER_INSTANT = 100


class World:
    def __init__(
        self,
        server: ApiServer,
        *,
        cloud: SimCloud | None = None,
        profiles: Profiles | None = None,
        queues: QueueHub | None = None,
        tick_seconds: float = 15.0,
        node_ready_seconds: float = 10.0,
        seed: int = 0,
    ) -> None:
        loop_time = asyncio.get_running_loop().time
        self.server = server
        self.tick_seconds = tick_seconds
        self.rng = random.Random(seed)
        self.cloud = cloud or SimCloud(loop_time, random.Random(seed + 1))
        kinds = Kinds.of(server)
        writer = ApiWriter(server)
        state, timers = ClusterState(), Timers()
        events = EventWriter(writer, kinds, loop_time)
        self.ctx = WorldContext(
            server=server,
            writer=writer,
            kinds=kinds,
            state=state,
            timers=timers,
            events=events,
            profiles=profiles or Profiles(),
            rng=self.rng,
            monotonic=loop_time,
            creations=PodCreations(writer, kinds, events, state, timers, loop_time),
        )
        self.ctx.creations.wake = self.wake
        self.queues = queues or QueueHub()
        self.kubelet = Kubelet(self.ctx, node_ready_seconds=node_ready_seconds)
        self.scheduler = Scheduler(self.ctx)
        self.cloud_sync = CloudSync(self.ctx, self.cloud)
        self.disruption = DisruptionController(self.ctx)
        self.load = LoadModel(self.ctx, self.kubelet, self.queues)
        self.timeline = Timeline()
        #: nodes and cores as a proportional autoscaler counts them, kept as nodes change
        self.node_tally = ClusterTally()
        self.origin_seconds = loop_time()
        #: node groups that are not the simulated cloud's (ASGs on moto), for the timeline
        self.group_names: set[str] = set()
        #: the Nodes of ASGs on moto, when the scenario has some (``runs.py`` sets it), and
        #: the front before moto that injects their launch failures
        self.asgs: AsgSync | None = None
        self.front: AwsFront | None = None
        self.ticks = 0
        self._watches: list[tuple[str, ResourceType, Watcher]] = []
        self._pumps: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._dirty_nodes: set[str] = set()
        self._draining = False
        self._started = False
        writer.on_write.append(self._drain)
        self.cloud.on_change.append(self._wake.set)

    # ------------------------------------------------------------------ lifecycle

    def seconds(self) -> float:
        """Simulated seconds since the world started."""
        return self.ctx.monotonic() - self.origin_seconds

    def start(self) -> None:
        """Open the watches (replaying what exists as ADDED) and start the wake-up pumps."""
        if self._started:
            return
        self._started = True
        kinds = self.ctx.kinds
        watched = [
            ("nodes", kinds.nodes),
            ("deployments", kinds.deployments),
            ("replicasets", kinds.replicasets),
            ("statefulsets", kinds.statefulsets),
            ("jobs", kinds.jobs),
            ("pods", kinds.pods),
            ("events", kinds.events),
        ]
        if self.disruption.pdbs is not None:
            watched.append(("poddisruptionbudgets", self.disruption.pdbs))
        new_events = self.server.table.get("events.k8s.io", "v1", "events")
        if new_events is not None and new_events.key != kinds.events.key:
            watched.append(("events", new_events))
        for name, rt in watched:
            watcher = self.server.store.watch(rt, None, None)
            self._watches.append((name, rt, watcher))
        self._drain()
        for _name, _rt, watcher in self._watches:
            self._pumps.append(asyncio.ensure_future(self._pump(watcher)))

    def wake(self) -> None:
        """Run a step now: something outside the world's own steps changed the cluster."""
        self._wake.set()

    async def stop(self) -> None:
        if self.asgs is not None:
            await self.asgs.stop()
        await self.ctx.creations.close()
        for _name, rt, watcher in self._watches:
            self.server.store.unwatch(rt, watcher)
        for task in self._pumps:
            task.cancel()
        for task in self._pumps:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pumps.clear()
        await self.queues.close()

    async def _pump(self, watcher: Watcher) -> None:
        """Wake the world when someone else's write reaches this watch."""
        while not watcher.closed:
            await watcher.wait(3600.0)
            if watcher.queue:
                drained = self._drained
                self._wake.set()
                await drained.wait()

    # ------------------------------------------------------------------ feeding

    def _drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        try:
            seconds = self.seconds()
            state = self.ctx.state
            timeline = self.timeline
            for kind, _rt, watcher in self._watches:
                if not watcher.queue:
                    continue
                for type_, event in watcher.drain():
                    obj = event.entry.obj
                    if kind == "events":
                        if type_ != "DELETED":
                            timeline.observe_event(
                                seconds, obj, event.old if type_ == "MODIFIED" else None
                            )
                        continue
                    if kind == "poddisruptionbudgets":
                        self.disruption.budget_changed(str(obj["metadata"].get("namespace")))
                        continue
                    state.apply(kind, type_, obj, event.old)
                    if kind == "pods":
                        timeline.observe_pod(seconds, type_, obj)
                        self.disruption.pod_changed(str(obj["metadata"].get("namespace")))
                    elif kind == "nodes":
                        node_name = str(obj["metadata"]["name"])
                        self._dirty_nodes.add(node_name)
                        if type_ == "DELETED":
                            self.node_tally.remove(node_name)
                        else:
                            self.node_tally.put(node_name, node_facts(obj))
                        if type_ != "MODIFIED":
                            verb = "joined" if type_ == "ADDED" else "left"
                            timeline.note(
                                seconds, "nodes", "", f"node {obj['metadata']['name']} {verb}"
                            )
                    elif kind in ("deployments", "statefulsets"):
                        timeline.observe_replicas(
                            seconds,
                            str(obj.get("kind")),
                            str(obj["metadata"]["name"]),
                            event.old if type_ != "ADDED" else None,
                            obj if type_ != "DELETED" else None,
                        )
        finally:
            self._draining = False
        drained, self._drained = self._drained, asyncio.Event()
        drained.set()

    # ------------------------------------------------------------------ stepping

    def step(self) -> None:
        """Do everything due at this instant."""
        ctx = self.ctx
        state = ctx.state
        now = ctx.monotonic()
        self._drain()
        for callback in ctx.timers.pop_due(now):
            callback()
        self.cloud_sync.sync()
        for _ in range(_MAX_ROUNDS_PER_INSTANT):
            self._drain()
            if not (
                state.dirty_deployments
                or state.dirty_replicasets
                or state.dirty_statefulsets
                or state.dirty_jobs
                or state.dirty_pods
                or self._dirty_nodes
                or self.scheduler.has_work()
                or self.disruption.has_work()
            ):
                break
            keys, state.dirty_deployments = state.dirty_deployments, set()
            for key in sorted(keys):
                reconcile_deployment(ctx, key)
            keys, state.dirty_replicasets = state.dirty_replicasets, set()
            for key in sorted(keys):
                reconcile_replicaset(ctx, key)
            keys, state.dirty_statefulsets = state.dirty_statefulsets, set()
            for key in sorted(keys):
                reconcile_statefulset(ctx, key)
            keys, state.dirty_jobs = state.dirty_jobs, set()
            for key in sorted(keys):
                reconcile_job(ctx, key)
            names, self._dirty_nodes = self._dirty_nodes, set()
            for name in sorted(names):
                self.kubelet.sync_node(name)
            keys, state.dirty_pods = state.dirty_pods, set()
            for key in sorted(keys):
                self.kubelet.sync_pod(key)
            self.scheduler.schedule()
            self.disruption.sync()

    def next_wake_seconds(self) -> float | None:
        """Loop time of the next thing due (timer or booting instance)."""
        due = [d for d in (self.ctx.timers.next_due(), self.cloud_sync.next_due()) if d is not None]
        return min(due) if due else None

    async def tick(self) -> None:
        """Advance load to now and record a sample."""
        seconds = self.seconds()
        await self.load.tick(seconds, self.tick_seconds)
        self.step()
        self.ticks += 1
        self._sample(seconds)

    def _sample(self, seconds: float) -> None:
        state = self.ctx.state
        workloads: dict[str, tuple[float, int, int]] = {}
        usage: dict[str, tuple[float, float]] = {}
        for cache in (state.deployments, state.statefulsets):
            for (namespace, name), obj in cache.items():
                desired = int((obj.get("spec") or {}).get("replicas", 1))
                ready = len(state.ready_by_workload.get((namespace, name), ()))
                load = self.load.by_workload.get((namespace, name))
                workloads[name] = (load.demand if load else 0.0, desired, ready)
                if load is not None:
                    usage[name] = (load.ready_cpu_millicores, load.ready_memory_bytes)
        for workload, profile in self.ctx.profiles.by_workload.items():
            if workload[1] in workloads:
                continue
            ready = len(state.ready_by_workload.get(workload, ()))
            load = self.load.by_workload.get(workload)
            running = (
                sum(
                    1
                    for run in self.kubelet.runs.values()
                    if run.workload == workload and run.stage in ("starting", "running", "ready")
                )
                if profile.job.from_queue or profile.queue
                else ready
            )
            workloads[workload[1]] = (load.demand if load else 0.0, running, ready)
        nodes_ready = 0
        groups: dict[str, int] = dict.fromkeys([*self.cloud.groups, *self.group_names], 0)
        for node in state.nodes.values():
            group = (node["metadata"].get("labels") or {}).get(LABEL_NODE_GROUP)
            if group is not None:
                groups[group] = groups.get(group, 0) + 1
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (node.get("status") or {}).get("conditions") or ()
            ):
                nodes_ready += 1
        cluster = self.node_tally.status()
        unschedulable = sum(1 for key in state.unbound if _unschedulable(state.pods.get(key)))
        self.timeline.record(
            seconds,
            workloads,
            len(state.nodes),
            nodes_ready,
            len(self.timeline.pending_since),
            {name: wiring.depth for name, wiring in self.queues.queues.items()},
            groups,
            usage,
            (cluster.schedulable_nodes, cluster.total_cores, cluster.schedulable_cores),
            unschedulable,
        )

    async def run(
        self,
        until_seconds: float | None = None,
        on_tick: Callable[[World], None] | None = None,
    ) -> None:
        """Run until ``until_seconds`` of simulated time (forever when None).

        Deadlines are absolute loop times (ticks at ``first + k * tick_seconds``, not sums of
        sums): the loop lands exactly on a deadline, so what is due at it is due when we wake.
        """
        self.start()
        clock = self.ctx.monotonic
        first = clock()
        ticks = 0
        next_tick = first
        end = None if until_seconds is None else self.origin_seconds + until_seconds
        while True:
            self._wake.clear()
            self.step()
            now = clock()
            if now >= next_tick:
                await self.tick()
                if on_tick is not None:
                    on_tick(self)
                while next_tick <= now:
                    ticks += 1
                    next_tick = first + ticks * self.tick_seconds
            if end is not None and now >= end:
                return
            wake = next_tick
            due = self.next_wake_seconds()
            if due is not None:
                wake = min(wake, due)
            if end is not None:
                wake = min(wake, end)
            if wake <= clock():
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(wake):
                    await self._wake.wait()


def _unschedulable(pod: dict[str, Any] | None) -> bool:
    """The scheduler tried and found no node (``PodScheduled=False``, ``Unschedulable``)."""
    if pod is None:
        return False
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "PodScheduled":
            return bool(
                condition.get("status") == "False" and condition.get("reason") == "Unschedulable"
            )
    return False
