"""How a workload's pods behave in the simulation: delays, usage per unit of demand, work.

A real container's behaviour comes from its code; a simulated one's from its profile. The
scenario gives one per workload (``startSeconds``, ``usage``, ``demand``, ``job``, ``queue``…);
pods the world knows nothing about (created with kubectl in ``cluster serve --world``) get
:data:`DEFAULT_PROFILE`, optionally overridden per pod by annotations
(``sim.podscaler.io/start-seconds``, ``ready-seconds``, ``stop-seconds``, ``run-seconds``), so
a user exploring by hand can still shape what they see.

The usage model (:meth:`WorkloadProfile.usage`) is the simplification to know about: demand is
shared *evenly* by the workload's Ready pods (a perfect load balancer), each unit of demand
costs a fixed amount of cpu and memory on top of a per-pod base, and cpu is capped at the
limit (throttling) while memory is not (a pod over its memory limit is OOMKilled).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from podscaler.sim.store import Obj
from podscaler.sim.world.demand import DemandCurve
from podscaler.sim.world.state import Key

__all__ = ["DEFAULT_PROFILE", "JobWork", "Profiles", "Usage", "WorkloadProfile"]

_ANNOTATION_PREFIX = "sim.podscaler.io/"


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_millicores: float
    memory_bytes: float


@dataclass(frozen=True)
class JobWork:
    """What one job pod does: run for ``run_seconds``, or (``from_queue``) consume the
    workload's queue until it is empty; ``failure_rate`` of the pods fail instead."""

    run_seconds: float = 60.0
    from_queue: bool = False
    failure_rate: float = 0.0


@dataclass(frozen=True)
class WorkloadProfile:
    start_seconds: float = 5.0
    ready_seconds: float = 5.0
    stop_seconds: float = 2.0
    base_cpu_millicores: float = 5.0
    base_memory_bytes: float = 32 * 2**20
    cpu_millicores_per_unit: float = 10.0
    memory_bytes_per_unit: float = 0.0
    demand: DemandCurve | None = None
    #: the queue this workload consumes (by scenario queue name), and its rate per Ready pod
    queue: str | None = None
    consume_per_second: float = 1.0
    job: JobWork = field(default_factory=JobWork)

    def usage(self, share: float, limits: Mapping[str, float]) -> Usage:
        """One pod's usage when it serves ``share`` units of demand."""
        cpu = self.base_cpu_millicores + share * self.cpu_millicores_per_unit
        cpu_limit = limits.get("cpu")
        if cpu_limit:
            cpu = min(cpu, cpu_limit)
        memory = self.base_memory_bytes + share * self.memory_bytes_per_unit
        return Usage(cpu, memory)

    def for_pod(self, pod: Obj) -> WorkloadProfile:
        """This profile with the pod's ``sim.podscaler.io/*-seconds`` annotations applied."""
        annotations = pod["metadata"].get("annotations") or {}
        if not any(k.startswith(_ANNOTATION_PREFIX) for k in annotations):
            return self

        def seconds(name: str, default: float) -> float:
            raw = annotations.get(f"{_ANNOTATION_PREFIX}{name}-seconds")
            try:
                return float(raw) if raw is not None else default
            except ValueError:
                return default

        return replace(
            self,
            start_seconds=seconds("start", self.start_seconds),
            ready_seconds=seconds("ready", self.ready_seconds),
            stop_seconds=seconds("stop", self.stop_seconds),
            job=replace(self.job, run_seconds=seconds("run", self.job.run_seconds)),
        )


DEFAULT_PROFILE = WorkloadProfile()


class Profiles:
    """Profiles by workload (namespace, name), with a default for the rest."""

    def __init__(self, default: WorkloadProfile = DEFAULT_PROFILE) -> None:
        self.default = default
        self.by_workload: dict[Key, WorkloadProfile] = {}

    def set(self, namespace: str, name: str, profile: WorkloadProfile) -> None:
        self.by_workload[(namespace, name)] = profile

    def get(self, workload: Key) -> WorkloadProfile:
        return self.by_workload.get(workload, self.default)
