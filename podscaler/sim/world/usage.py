"""Load: demand curves become usage on ``metrics.k8s.io``, queue traffic, and OOM kills.

Every tick, for each workload with pods up: its demand now (the curve's value, or for a queue
consumer the messages it processed per second) is shared evenly by its Ready pods; each pod's
cpu and memory follow from its profile (``profiles.WorkloadProfile.usage``); pods that are up
but not Ready use only their base. The figures go to the API server's metrics board (what
metrics-server would serve), nodes report the sum of their pods plus a fixed system overhead,
and a pod over its memory limit is OOMKilled by the kubelet.

Simplifications: usage is a step function of the tick (no averaging window), containers of a
pod share its usage evenly, and demand the Ready pods cannot serve (cpu capped at the limit) is
simply dropped — the report shows it as load above what was served.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podscaler.sim.world.context import WorldContext
from podscaler.sim.world.kubelet import Kubelet, PodRun, _is_job_pod
from podscaler.sim.world.queues import QueueHub
from podscaler.sim.world.state import Key

__all__ = ["LoadModel"]

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
    served_per_pod: float = 0.0
    ready: int = 0


@dataclass
class LoadModel:
    ctx: WorldContext
    kubelet: Kubelet
    queues: QueueHub
    by_workload: dict[Key, WorkloadLoad] = field(default_factory=dict)
    published: int = 0

    def demand_of(self, workload: Key, seconds: float) -> float:
        profile = self.ctx.profiles.get(workload)
        return profile.demand.value(seconds) if profile.demand is not None else 0.0

    async def tick(self, seconds: float, elapsed_seconds: float) -> None:
        """Advance load by ``elapsed_seconds`` ending at ``seconds`` since the start."""
        state = self.ctx.state
        kubelet = self.kubelet
        if self.queues.queues:
            await self.queues.produce(seconds, elapsed_seconds)
        processed: dict[Key, float] = {}
        finished_jobs: list[PodRun] = []
        for workload, profile in list(self.ctx.profiles.by_workload.items()):
            if profile.queue is None:
                continue
            ready = state.ready_by_workload.get(workload, set())
            up = list(kubelet.up_by_workload.get(workload, ()))
            workers = [k for k in up if k in ready] or []
            taken = 0
            for key in sorted(workers):
                capacity = profile.consume_per_second * elapsed_seconds
                got = await self.queues.consume(profile.queue, key, capacity)
                taken += got
                run = kubelet.runs.get(key)
                pod = state.pods.get(key)
                if (
                    run is not None
                    and pod is not None
                    and profile.job.from_queue
                    and _is_job_pod(pod)
                    and got < int(capacity)
                ):
                    finished_jobs.append(run)
            processed[workload] = taken / elapsed_seconds if elapsed_seconds > 0 else 0.0
        if self.queues.queues:
            await self.queues.refresh_depths()
        for run in finished_jobs:
            kubelet.finish(run, succeeded=True)

        board = self.ctx.server.metrics
        node_cpu: dict[str, float] = {}
        node_memory: dict[str, float] = {}
        doomed: list[PodRun] = []
        seen: set[Key] = set()
        for workload, keys in kubelet.up_by_workload.items():
            if not keys:
                continue
            profile = self.ctx.profiles.get(workload)
            if profile.queue is not None:
                demand = processed.get(workload, 0.0)
            else:
                demand = profile.demand.value(seconds) if profile.demand is not None else 0.0
            ready = state.ready_by_workload.get(workload, set())
            n_ready = len(ready)
            share = demand / n_ready if n_ready else 0.0
            self.by_workload[workload] = WorkloadLoad(demand, share, n_ready)
            seen.add(workload)
            cache: dict[tuple[int, float, float | None], dict[str, dict[str, str]]] = {}
            for key in keys:
                run = kubelet.runs.get(key)
                if run is None:
                    continue
                mine = share if key in ready else 0.0
                usage = run.profile.usage(mine, run.limits or {})
                if (
                    run.memory_limit_bytes is not None
                    and usage.memory_bytes > run.memory_limit_bytes
                ):
                    doomed.append(run)
                node_cpu[run.node] = node_cpu.get(run.node, 0.0) + usage.cpu_millicores
                node_memory[run.node] = node_memory.get(run.node, 0.0) + usage.memory_bytes
                pod = state.pods.get(key)
                if pod is None:
                    continue
                containers = [
                    c.get("name") for c in (pod.get("spec") or {}).get("containers") or ()
                ]
                cache_key = (id(run.profile), mine, run.memory_limit_bytes)
                per_container = cache.get(cache_key)
                if per_container is None:
                    n = max(1, len(containers))
                    figures = {
                        "cpu": _cpu(usage.cpu_millicores / n),
                        "memory": _memory(usage.memory_bytes / n),
                    }
                    per_container = {str(c): figures for c in containers}
                    cache[cache_key] = per_container
                board.set_pod(key[0], key[1], per_container)
                self.published += 1
        for workload in list(self.by_workload):
            if workload not in seen:
                demand = self.demand_of(workload, seconds)
                self.by_workload[workload] = WorkloadLoad(demand, 0.0, 0)
        for workload, profile in self.ctx.profiles.by_workload.items():
            if workload not in self.by_workload and profile.demand is not None:
                self.by_workload[workload] = WorkloadLoad(profile.demand.value(seconds), 0.0, 0)
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
