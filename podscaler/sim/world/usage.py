"""Usage: demand becomes what ``metrics.k8s.io`` reports, queue traffic flows, OOM kills.

Every tick, for each workload with pods up: its demand now — its curve's value, or for a queue
consumer the messages its pods processed per second — goes through its
:class:`~podscaler.sim.load.UsageModel` (demand shared evenly by the Ready pods; cpu capped
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

from podscaler.sim.load import PodLimits, PodUsage
from podscaler.sim.world.context import WorldContext
from podscaler.sim.world.kubelet import Kubelet, PodRun, is_job_pod
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


@dataclass
class LoadModel:
    ctx: WorldContext
    kubelet: Kubelet
    queues: QueueHub
    by_workload: dict[Key, WorkloadLoad] = field(default_factory=dict)
    #: pod usage samples published (a figure for benchmarks)
    published: int = 0

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

    async def tick(self, seconds: float, elapsed_seconds: float) -> None:
        """Advance load by ``elapsed_seconds`` ending at ``seconds`` since the start."""
        processed = await self._queues(seconds, elapsed_seconds) if self.queues.queues else {}
        state = self.ctx.state
        kubelet = self.kubelet
        board = self.ctx.server.metrics
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
            noisy = bool(model.cpu_noise_fraction or model.memory_noise_fraction)
            shared: dict[tuple[PodLimits, bool], PodUsage] = {}
            published: dict[tuple[PodLimits, bool], dict[str, dict[str, str]]] = {}
            for key in keys:
                run = kubelet.runs.get(key)
                pod = state.pods.get(key)
                if run is None or pod is None:
                    continue
                serving = key in ready
                limits = run.limits
                usage: PodUsage | None = None
                if not noisy:
                    usage = shared.get((limits, serving))
                if usage is None:
                    # A not-Ready pod serves nothing: the model's answer for zero demand.
                    share_demand = demand / len(ready) if serving and ready else 0.0
                    sample = run.profile.usage.usage(share_demand, [limits], seconds)
                    usage = sample.pods[limits.name]
                    if not noisy:
                        shared[(limits, serving)] = usage
                if usage.over_memory_limit:
                    doomed.append(run)
                node_cpu[run.node] = node_cpu.get(run.node, 0.0) + usage.cpu_millicores
                node_memory[run.node] = node_memory.get(run.node, 0.0) + usage.memory_bytes
                per_container = None if noisy else published.get((limits, serving))
                if per_container is None:
                    names = [
                        str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or ()
                    ]
                    n = max(1, len(names))
                    figures = {
                        "cpu": _cpu(usage.cpu_millicores / n),
                        "memory": _memory(usage.memory_bytes / n),
                    }
                    per_container = dict.fromkeys(names, figures)
                    if not noisy:
                        published[(limits, serving)] = per_container
                board.set_pod(key[0], key[1], per_container)
                self.published += 1
            self.by_workload[workload] = WorkloadLoad(
                demand, demand / len(ready) if ready else 0.0, len(ready)
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
