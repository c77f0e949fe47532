"""How a workload's pods behave in the simulation: delays, usage per unit of demand, work.

A real container's behaviour comes from its code; a simulated one's from its profile. The
scenario gives one per workload (``startSeconds``, ``usage``, ``demand``, ``job``, ``queue``…);
pods the world knows nothing about (created with kubectl in ``cluster serve --world``) get
:data:`DEFAULT_PROFILE`, optionally overridden per pod by annotations
(``sim.podscaler.io/start-seconds``, ``ready-seconds``, ``stop-seconds``, ``run-seconds``), so
a user exploring by hand can still shape what they see.

Demand curves and the usage model are :mod:`podscaler.sim.world.load`'s (demand shared evenly by the
Ready pods; cpu capped at the limit, memory not — a pod over its memory limit is OOMKilled).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from podscaler.sim.apiserver.store import Obj
from podscaler.sim.world.load import Curve, UsageModel
from podscaler.sim.world.state import Key

__all__ = ["DEFAULT_PROFILE", "DEFAULT_USAGE", "JobWork", "Profiles", "WorkloadProfile"]

_ANNOTATION_PREFIX = "sim.podscaler.io/"

#: A pod nobody described: 5m cpu and 32 MiB idle, 10m per unit of demand.
DEFAULT_USAGE = UsageModel(
    cpu_base_millicores=5.0, cpu_millicores_per_unit=10.0, memory_base_bytes=32 * 2**20
)


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
    usage: UsageModel = DEFAULT_USAGE
    demand: Curve | None = None
    #: the queue this workload consumes (by scenario queue name), and its rate per Ready pod
    queue: str | None = None
    consume_per_second: float = 1.0
    job: JobWork = field(default_factory=JobWork)

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
