"""Usage: demand becomes what ``metrics.k8s.io`` reports, queue traffic flows, OOM kills.

Every tick, for each workload with pods up: its demand now — its curve's value, or for a queue
consumer the messages its pods processed per second — goes through its
:class:`~podscaler.sim.world.load.UsageModel` (demand shared evenly by the Ready pods; cpu capped
at the limit, memory over the limit flagged); pods that are up but not Ready report only their
base. The figures go to the API server's metrics board (what metrics-server would serve),
nodes report the sum of their pods plus a fixed system overhead, and the kubelet OOM-kills a
pod whose memory is over its limit.

Speed: without noise every Ready pod of a workload with the same limits uses the same, so the
model is evaluated once per distinct limits and the answer shared; with noise, once per pod.
Simplifications: usage is a step function of the tick (metrics-server averages over a window);
containers of a pod share its usage evenly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podscaler.sim.apiserver.store import rfc3339
from podscaler.sim.world.context import WorldContext
from podscaler.sim.world.kubelet import Kubelet, PodRun, is_job_pod
from podscaler.sim.world.load import PodUsage
from podscaler.sim.world.queues import QueueHub
from podscaler.sim.world.state import Key

__all__ = ["LoadModel", "WorkloadLoad"]

#: What the node's system daemons use on top of the pods (kubelet, runtime, kube-proxy).
NODE_OVERHEAD_CPU_MILLICORES = 100.0
NODE_OVERHEAD_MEMORY_BYTES = 512 * 2**20


def _cpu(millicores: float) -> str:
    return f"{max(0, round(millicores))}m"


def _memory(bytes_: float) -> str:
    return f"{max(0, round(bytes_ / 1024))}Ki"


@dataclass
class WorkloadLoad:
    """What the last tick computed for one workload (read by the timeline and app metrics)."""

    demand: float = 0.0
    demand_per_pod: float = 0.0
    ready: int = 0
    #: what the Ready pods used in all (what a cpu or memory trigger averages)
    ready_cpu_millicores: float = 0.0
    ready_memory_bytes: float = 0.0


@dataclass
class _Group:
    example: PodRun
    names: list[str]
    keys: list[Key] = field(default_factory=list)
    runs: list[PodRun] = field(default_factory=list)
    nodes: dict[str, int] = field(default_factory=dict)


@dataclass
class _Plan:
    version: int
    size: int
    groups: dict[tuple[int | None, int | None, bool], _Group] = field(default_factory=dict)


def _containers(names: list[str], usage: PodUsage) -> list[dict[str, Any]]:
    n = max(1, len(names))
    figures = {"cpu": _cpu(usage.cpu_millicores / n), "memory": _memory(usage.memory_bytes / n)}
    return [{"name": name, "usage": figures} for name in names]


@dataclass
class LoadModel:
    ctx: WorldContext
    kubelet: Kubelet
    queues: QueueHub
    by_workload: dict[Key, WorkloadLoad] = field(default_factory=dict)
    #: pod usage samples published (a figure for benchmarks)
    published: int = 0
    _plans: dict[Key, _Plan] = field(default_factory=dict)

    def demand_of(self, workload: Key, seconds: float) -> float:
        profile = self.ctx.profiles.get(workload)
        return max(0.0, profile.demand.demand_at(seconds)) if profile.demand is not None else 0.0

    async def _queues(self, seconds: float, elapsed_seconds: float) -> dict[Key, float]:
        """Produce and consume; messages processed per second, per consumer workload."""
        state = self.ctx.state
        kubelet = self.kubelet
        await self.queues.produce(seconds, elapsed_seconds)
        processed: dict[Key, float] = {}
        finished: list[PodRun] = []
        for workload, profile in list(self.ctx.profiles.by_workload.items()):
            if profile.queue is None:
                continue
            ready = state.ready_by_workload.get(workload, set())
            workers = sorted(k for k in kubelet.up_by_workload.get(workload, ()) if k in ready)
            taken = 0
            capacity = profile.consume_per_second * elapsed_seconds
            for key in workers:
                got = await self.queues.consume(profile.queue, key, capacity)
                taken += got
                run = kubelet.runs.get(key)
                pod = state.pods.get(key)
                if (
                    run is not None
                    and pod is not None
                    and profile.job.from_queue
                    and is_job_pod(pod)
                    and got < int(capacity)
                ):
                    finished.append(run)  # the queue ran dry: the job pod's work is done
            processed[workload] = taken / elapsed_seconds if elapsed_seconds > 0 else 0.0
        self.queues.refresh_depths()
        for run in finished:
            kubelet.finish(run, succeeded=True)
        return processed

    def _plan(self, workload: Key, keys: set[Key], ready: set[Key]) -> _Plan:
        """The workload's up pods grouped by what makes their usage differ (limits, Ready),
        rebuilt only when one of its pods changed."""
        version = self.ctx.state.workload_versions.get(workload, 0)
        plan = self._plans.get(workload)
        if plan is not None and plan.version == version and plan.size == len(keys):
            return plan
        plan = _Plan(version, len(keys))
        runs = self.kubelet.runs
        pods = self.ctx.state.pods
        for key in keys:
            run = runs.get(key)
            pod = pods.get(key)
            if run is None or pod is None:
                continue
            same = (
                run.limits.cpu_limit_millicores,
                run.limits.memory_limit_bytes,
                key in ready,
            )
            group = plan.groups.get(same)
            if group is None:
                names = [
                    str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or ()
                ]
                group = plan.groups[same] = _Group(run, names)
            group.keys.append(key)
            group.runs.append(run)
            group.nodes[run.node] = group.nodes.get(run.node, 0) + 1
        self._plans[workload] = plan
        return plan

    def _shared(
        self,
        workload: Key,
        keys: set[Key],
        ready: set[Key],
        demand: float,
        seconds: float,
        stamp: str,
        node_cpu: dict[str, float],
        node_memory: dict[str, float],
        doomed: list[PodRun],
    ) -> tuple[float, float]:
        """Without noise every pod of a group uses the same: evaluate the model once per group
        and publish the same figures for all of them. Returns what the Ready pods used."""
        board = self.ctx.server.metrics
        ready_cpu = ready_memory = 0.0
        for (_cpu_limit, _memory_limit, serving), group in self._plan(
            workload, keys, ready
        ).groups.items():
            share = demand / len(ready) if serving and ready else 0.0
            limits = group.example.limits
            usage = group.example.profile.usage.usage(share, [limits], seconds).pods[limits.name]
            if usage.over_memory_limit:
                doomed.extend(group.runs)
            for node, count in group.nodes.items():
                node_cpu[node] = node_cpu.get(node, 0.0) + usage.cpu_millicores * count
                node_memory[node] = node_memory.get(node, 0.0) + usage.memory_bytes * count
            if serving:
                ready_cpu += usage.cpu_millicores * len(group.keys)
                ready_memory += usage.memory_bytes * len(group.keys)
            value = (stamp, _containers(group.names, usage))
            # The board's ``pods`` (key → (timestamp, containers)) is its published state;
            # writing it directly shares one entry among the group's pods.
            board.pods.update(dict.fromkeys(group.keys, value))
            self.published += len(group.keys)
        return ready_cpu, ready_memory

    def _per_pod(
        self,
        workload: Key,
        keys: set[Key],
        ready: set[Key],
        demand: float,
        seconds: float,
        stamp: str,
        node_cpu: dict[str, float],
        node_memory: dict[str, float],
        doomed: list[PodRun],
    ) -> tuple[float, float]:
        """With noise each pod's figures are its own. Returns what the Ready pods used."""
        board = self.ctx.server.metrics
        ready_cpu = ready_memory = 0.0
        for group in self._plan(workload, keys, ready).groups.values():
            for key, run in zip(group.keys, group.runs, strict=True):
                share = demand / len(ready) if key in ready and ready else 0.0
                limits = run.limits
                usage = run.profile.usage.usage(share, [limits], seconds).pods[limits.name]
                if usage.over_memory_limit:
                    doomed.append(run)
                node_cpu[run.node] = node_cpu.get(run.node, 0.0) + usage.cpu_millicores
                node_memory[run.node] = node_memory.get(run.node, 0.0) + usage.memory_bytes
                if key in ready:
                    ready_cpu += usage.cpu_millicores
                    ready_memory += usage.memory_bytes
                board.pods[key] = (stamp, _containers(group.names, usage))
                self.published += 1
        return ready_cpu, ready_memory

    async def tick(self, seconds: float, elapsed_seconds: float) -> None:
        """Advance load by ``elapsed_seconds`` ending at ``seconds`` since the start."""
        processed = await self._queues(seconds, elapsed_seconds) if self.queues.queues else {}
        state = self.ctx.state
        kubelet = self.kubelet
        board = self.ctx.server.metrics
        stamp = rfc3339(self.ctx.server.now())
        node_cpu: dict[str, float] = {}
        node_memory: dict[str, float] = {}
        doomed: list[PodRun] = []
        self.by_workload = {}
        for workload, keys in kubelet.up_by_workload.items():
            if not keys:
                continue
            profile = self.ctx.profiles.get(workload)
            if profile.queue is not None:
                demand = processed.get(workload, 0.0)
            else:
                demand = self.demand_of(workload, seconds)
            ready = state.ready_by_workload.get(workload, set())
            model = profile.usage
            publish = (
                self._per_pod
                if model.cpu_noise_fraction or model.memory_noise_fraction
                else self._shared
            )
            used_cpu, used_memory = publish(
                workload, keys, ready, demand, seconds, stamp, node_cpu, node_memory, doomed
            )
            self.by_workload[workload] = WorkloadLoad(
                demand, demand / len(ready) if ready else 0.0, len(ready), used_cpu, used_memory
            )
        for workload, profile in self.ctx.profiles.by_workload.items():
            if workload not in self.by_workload:
                demand = (
                    processed.get(workload, 0.0)
                    if profile.queue
                    else self.demand_of(workload, seconds)
                )
                self.by_workload[workload] = WorkloadLoad(demand, 0.0, 0)
        for name in state.nodes:
            board.set_node(
                name,
                {
                    "cpu": _cpu(node_cpu.get(name, 0.0) + NODE_OVERHEAD_CPU_MILLICORES),
                    "memory": _memory(node_memory.get(name, 0.0) + NODE_OVERHEAD_MEMORY_BYTES),
                },
            )
        for run in doomed:
            kubelet.oom_kill(run)
