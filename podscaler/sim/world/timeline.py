"""The record of a run: one sample per tick, annotations for what happened in between.

The report draws it, the scenario assertions are evaluated over it, and the demo's summary
(how fast scaling caught up, pod-minutes Pending, node-hours) is computed from it, so all three
agree by construction. Pending time is measured per pod, from creation until it leaves the
``Pending`` phase (or disappears), as a user watching ``kubectl get pods`` would count it.

What it keeps per workload and tick: demand, ``spec.replicas`` (what the autoscaler decided),
Ready pods, and the cpu and memory the Ready pods used (what ``metrics.k8s.io`` served, so the
report can draw the utilization a cpu trigger compared with its target). Between ticks it
notes every change of ``spec.replicas`` (``scale``; a workload's creation is ``create``, not a
change) and every Event an autoscaler recorded (``event``), including repeats that an event
recorder folded into an existing Event's series count, so each ``/scale`` write can be paired
with the decision that made it.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from podscaler.sim.apiserver.store import Obj
from podscaler.sim.world.state import Key, is_terminating, pod_phase

__all__ = ["Annotation", "Series", "Timeline", "WorkloadSeries"]

#: Event sources that belong to the world; Events from anything else (the operator) are
#: annotated on the report.
WORLD_COMPONENTS = frozenset(
    {
        "default-scheduler",
        "kubelet",
        "replicaset-controller",
        "deployment-controller",
        "statefulset-controller",
        "job-controller",
        "cloud-node-controller",
    }
)


class Series:
    """Samples of one quantity, one per tick, in a compact array (a day of 15 s ticks for a
    hundred workloads stays a few megabytes). ``typecode`` ``"f"`` halves that for figures
    that are only drawn (usage), ``"d"`` keeps what assertions compare exactly."""

    __slots__ = ("values",)

    def __init__(self, length: int = 0, typecode: Literal["d", "f"] = "d") -> None:
        self.values: array[float] = (
            array("f", bytes(4 * length)) if typecode == "f" else array("d", bytes(8 * length))
        )

    def add(self, value: float, index: int) -> None:
        if len(self.values) < index:
            self.values.extend([0.0] * (index - len(self.values)))
        self.values.append(value)


def _usage_series() -> Series:
    return Series(typecode="f")


@dataclass
class WorkloadSeries:
    demand: Series = field(default_factory=Series)
    desired: Series = field(default_factory=Series)
    ready: Series = field(default_factory=Series)
    #: cpu (millicores) and memory (bytes) used by the Ready pods, summed
    cpu_millicores: Series = field(default_factory=_usage_series)
    memory_bytes: Series = field(default_factory=_usage_series)


@dataclass(frozen=True, slots=True)
class Annotation:
    seconds: float
    #: "scale" (``spec.replicas`` changed), "create" (a workload appeared), "nodes", "event"
    #: (from an autoscaler: the operator, the embedded HPA controller)
    kind: str
    #: the workload's name; for an Event, the name of the object it is about
    workload: str
    text: str
    before: int = 0
    after: int = 0
    #: an Event's reason (``ScaledTargetScaled``) and the kind of the object it is about
    reason: str = ""
    regarding_kind: str = ""


@dataclass
class Timeline:
    times: Series = field(default_factory=Series)
    workloads: dict[str, WorkloadSeries] = field(default_factory=dict)
    nodes: Series = field(default_factory=Series)
    nodes_ready: Series = field(default_factory=Series)
    pending: Series = field(default_factory=Series)
    #: pods the scheduler found no node for (``PodScheduled=False``, ``Unschedulable``)
    unschedulable: Series = field(default_factory=Series)
    #: as cluster-proportional-autoscaler counts the cluster: schedulable (Ready, uncordoned)
    #: nodes, and allocatable cores of all nodes and of the schedulable ones
    schedulable_nodes: Series = field(default_factory=Series)
    total_cores: Series = field(default_factory=Series)
    schedulable_cores: Series = field(default_factory=Series)
    queues: dict[str, Series] = field(default_factory=dict)
    node_groups: dict[str, Series] = field(default_factory=dict)
    #: workload → what one Ready pod can serve (demand units), where the scenario says
    #: (cpu limit and usage model; see :mod:`podscaler.sim.world.capacity`)
    capacity_per_pod: dict[str, float] = field(default_factory=dict)
    annotations: list[Annotation] = field(default_factory=list)
    #: pod key → when it was first seen Pending (seconds since start)
    pending_since: dict[Key, float] = field(default_factory=dict)
    #: durations of finished Pending spells
    pending_spells: list[float] = field(default_factory=list)
    max_annotations: int = 5000
    #: (namespace, name) of each Event seen → the highest occurrence count noted
    event_counts: dict[Key, int] = field(default_factory=dict)
    #: Event reason → when each occurrence was seen (every component's, repeats included)
    event_times: dict[str, list[float]] = field(default_factory=dict)

    def workload_name(self, workload: Key) -> str:
        return workload[1]

    def note(
        self,
        seconds: float,
        kind: str,
        workload: str,
        text: str,
        before: int = 0,
        after: int = 0,
        *,
        reason: str = "",
        regarding_kind: str = "",
    ) -> None:
        if len(self.annotations) < self.max_annotations:
            self.annotations.append(
                Annotation(seconds, kind, workload, text, before, after, reason, regarding_kind)
            )

    def observe_pod(self, seconds: float, type_: str, obj: Obj) -> None:
        meta = obj["metadata"]
        key = (str(meta.get("namespace") or ""), str(meta["name"]))
        pending = type_ != "DELETED" and pod_phase(obj) == "Pending" and not is_terminating(obj)
        if pending:
            self.pending_since.setdefault(key, seconds)
        else:
            since = self.pending_since.pop(key, None)
            if since is not None:
                self.pending_spells.append(seconds - since)

    def observe_replicas(
        self, seconds: float, kind: str, name: str, old: Obj | None, new: Obj | None
    ) -> None:
        before = int(((old or {}).get("spec") or {}).get("replicas", 0)) if old else 0
        after = int(((new or {}).get("spec") or {}).get("replicas", 0)) if new else 0
        if old is None and new is not None:
            self.note(seconds, "create", name, f"{kind} {name} created with {after}", 0, after)
        elif new is not None and before != after:
            self.note(seconds, "scale", name, f"{kind} {name}: {before} → {after}", before, after)

    def observe_event(self, seconds: float, event: Obj, old: Obj | None = None) -> None:
        """An Event written (``old`` None) or updated. An update counts when its occurrence
        count grew: event recorders fold a repeat within minutes into the first Event's
        ``series.count`` (``count`` in core/v1) instead of writing a new one, and that repeat
        is a decision like any other. The same Event served under both APIs is noted once."""
        source = (
            (event.get("source") or {}).get("component")
            or event.get("reportingController")
            or event.get("reportingComponent")
        )
        meta = event.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        count = _occurrences(event)
        seen = max(self.event_counts.get(key, 0), _occurrences(old) if old is not None else 0)
        if count <= seen:
            return
        self.event_counts[key] = count
        reason = str(event.get("reason", ""))
        self.event_times.setdefault(reason, []).extend([seconds] * (count - seen))
        if source in WORLD_COMPONENTS:
            return
        regarding: dict[str, Any] = event.get("regarding") or event.get("involvedObject") or {}
        note = str(event.get("note") or event.get("message") or "")
        self.note(
            seconds,
            "event",
            str(regarding.get("name", "")),
            f"{reason}: {note}"[:300],
            reason=reason,
            regarding_kind=str(regarding.get("kind") or ""),
        )

    def __len__(self) -> int:
        return len(self.times.values)

    def record(
        self,
        seconds: float,
        workloads: dict[str, tuple[float, int, int]],
        nodes: int,
        nodes_ready: int,
        pending: int,
        queues: dict[str, int],
        node_groups: dict[str, int] | None = None,
        usage: Mapping[str, tuple[float, float]] | None = None,
        cluster: tuple[int, int, int] | None = None,
        unschedulable: int = 0,
    ) -> None:
        """One tick: per workload (demand, desired, ready), the cluster's figures, queues, per
        workload the (cpu millicores, memory bytes) its Ready pods used, and the cluster as a
        proportional autoscaler counts it (schedulable nodes, total and schedulable cores;
        without it, Ready nodes and no cores)."""
        index = len(self)
        self.times.add(seconds, index)
        used = usage or {}
        for name, (demand, desired, ready) in workloads.items():
            series = self.workloads.get(name)
            if series is None:
                series = self.workloads[name] = WorkloadSeries()
            series.demand.add(demand, index)
            series.desired.add(desired, index)
            series.ready.add(ready, index)
            cpu, memory = used.get(name, (0.0, 0.0))
            series.cpu_millicores.add(cpu, index)
            series.memory_bytes.add(memory, index)
        self.nodes.add(nodes, index)
        self.nodes_ready.add(nodes_ready, index)
        self.pending.add(pending, index)
        self.unschedulable.add(unschedulable, index)
        schedulable, total_cores, schedulable_cores = cluster or (nodes_ready, 0, 0)
        self.schedulable_nodes.add(schedulable, index)
        self.total_cores.add(total_cores, index)
        self.schedulable_cores.add(schedulable_cores, index)
        for name, depth in queues.items():
            self.queues.setdefault(name, Series()).add(depth, index)
        for name, count in (node_groups or {}).items():
            self.node_groups.setdefault(name, Series()).add(count, index)

    def series(self, workload: str, what: str) -> list[float]:
        """A workload's ``demand``, ``desired``, ``ready``, ``cpu_millicores`` or
        ``memory_bytes`` per tick (zeros before it existed)."""
        found = self.workloads.get(workload)
        if found is None:
            return [0.0] * len(self)
        values = list(getattr(found, what).values)
        return values + [0.0] * (len(self) - len(values))

    def group_series(self, group: str) -> list[float]:
        """Registered nodes of one node group per tick (zeros before it had any)."""
        found = self.node_groups.get(group)
        values = list(found.values) if found is not None else []
        return values + [0.0] * (len(self) - len(values))

    def event_series(self, reason: str) -> list[float]:
        """How many Events of ``reason`` (occurrences) were seen up to each tick."""
        times = sorted(self.event_times.get(reason, ()))
        return [float(bisect.bisect_right(times, t)) for t in self.times.values]

    # ------------------------------------------------------------------ figures

    def pending_durations(self, end_seconds: float) -> list[float]:
        """Every Pending spell, including those still open at ``end_seconds``."""
        return [*self.pending_spells, *(end_seconds - s for s in self.pending_since.values())]

    def max_pending_seconds(self, end_seconds: float) -> float:
        return max(self.pending_durations(end_seconds), default=0.0)

    def pending_pod_minutes(self) -> float:
        return _integral(self.times.values, self.pending.values) / 60.0

    def node_hours(self, group: str | None = None) -> float:
        """Node-hours over the run; of one node group when ``group`` is given."""
        if group is None:
            return _integral(self.times.values, self.nodes.values) / 3600.0
        found = self.node_groups.get(group)
        return _integral(self.times.values, found.values) / 3600.0 if found else 0.0

    def scale_changes(self, workload: str | None = None) -> list[Annotation]:
        """Every change of ``spec.replicas`` (of one workload when named), in order."""
        return [
            a
            for a in self.annotations
            if a.kind == "scale" and a.before != a.after and workload in (None, a.workload)
        ]

    def scale_downs(self, workload: str | None = None) -> int:
        return sum(1 for a in self.scale_changes(workload) if a.after < a.before)

    def scale_up_catch_up_seconds(self) -> list[tuple[str, float, float | None]]:
        """For each scale-up: (workload, when, seconds until that many pods were Ready, or
        None if they never were before the next change or the end)."""
        results: list[tuple[str, float, float | None]] = []
        times = self.times.values
        columns: dict[str, tuple[list[float], list[float]]] = {}
        for change in self.scale_changes():
            if change.after <= change.before:
                continue
            if change.workload not in columns:
                columns[change.workload] = (
                    self.series(change.workload, "desired"),
                    self.series(change.workload, "ready"),
                )
            desired, ready = columns[change.workload]
            caught: float | None = None
            # Samples from the change's instant on may predate the write: start after it.
            for i in range(bisect.bisect_right(times, change.seconds), len(times)):
                if desired[i] != change.after:
                    break
                if ready[i] >= change.after:
                    caught = times[i] - change.seconds
                    break
            results.append((change.workload, change.seconds, caught))
        return results


def _occurrences(event: Obj) -> int:
    """How many times an Event has happened: ``series.count`` (events.k8s.io/v1) or ``count``
    (core/v1); an Event without either has happened once."""
    series = event.get("series")
    if isinstance(series, dict) and isinstance(series.get("count"), int):
        return max(1, int(series["count"]))
    count = event.get("count") or event.get("deprecatedCount")
    return max(1, int(count)) if isinstance(count, int) else 1


def _integral(times: Sequence[float], values: Sequence[float]) -> float:
    total = 0.0
    for i in range(len(times) - 1):
        total += values[i] * (times[i + 1] - times[i])
    return total
