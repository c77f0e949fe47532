"""The record of a run: one sample per tick, annotations for what happened in between.

The report draws it, the scenario assertions are evaluated over it, and the demo's summary
(how fast scaling caught up, pod-minutes Pending, node-hours) is computed from it, so all three
agree by construction. Pending time is measured per pod, from creation until it leaves the
``Pending`` phase (or disappears), as a user watching ``kubectl get pods`` would count it.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from podscaler.sim.store import Obj
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
    hundred workloads stays a few megabytes)."""

    __slots__ = ("values",)

    def __init__(self, length: int = 0) -> None:
        self.values = array("d", bytes(8 * length))

    def add(self, value: float, index: int) -> None:
        if len(self.values) < index:
            self.values.extend([0.0] * (index - len(self.values)))
        self.values.append(value)


@dataclass
class WorkloadSeries:
    demand: Series = field(default_factory=Series)
    desired: Series = field(default_factory=Series)
    ready: Series = field(default_factory=Series)


@dataclass(frozen=True, slots=True)
class Annotation:
    seconds: float
    #: "scale" (desired replicas changed), "nodes", "event" (from the operator)
    kind: str
    workload: str
    text: str
    before: int = 0
    after: int = 0


@dataclass
class Timeline:
    times: Series = field(default_factory=Series)
    workloads: dict[str, WorkloadSeries] = field(default_factory=dict)
    nodes: Series = field(default_factory=Series)
    nodes_ready: Series = field(default_factory=Series)
    pending: Series = field(default_factory=Series)
    queues: dict[str, Series] = field(default_factory=dict)
    node_groups: dict[str, Series] = field(default_factory=dict)
    annotations: list[Annotation] = field(default_factory=list)
    #: pod key → when it was first seen Pending (seconds since start)
    pending_since: dict[Key, float] = field(default_factory=dict)
    #: durations of finished Pending spells
    pending_spells: list[float] = field(default_factory=list)
    max_annotations: int = 5000

    def workload_name(self, workload: Key) -> str:
        return workload[1]

    def note(
        self, seconds: float, kind: str, workload: str, text: str, before: int = 0, after: int = 0
    ) -> None:
        if len(self.annotations) < self.max_annotations:
            self.annotations.append(Annotation(seconds, kind, workload, text, before, after))

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
        if old is None or before != after:
            self.note(seconds, "scale", name, f"{kind} {name}: {before} → {after}", before, after)

    def observe_event(self, seconds: float, event: Obj) -> None:
        source = (
            (event.get("source") or {}).get("component")
            or event.get("reportingController")
            or event.get("reportingComponent")
        )
        if source in WORLD_COMPONENTS:
            return
        regarding: dict[str, Any] = event.get("regarding") or event.get("involvedObject") or {}
        reason = str(event.get("reason", ""))
        note = str(event.get("note") or event.get("message") or "")
        self.note(seconds, "event", str(regarding.get("name", "")), f"{reason}: {note}"[:200])

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
    ) -> None:
        """One tick: per workload (demand, desired, ready), the cluster's figures, queues."""
        index = len(self)
        self.times.add(seconds, index)
        for name, (demand, desired, ready) in workloads.items():
            series = self.workloads.get(name)
            if series is None:
                series = self.workloads[name] = WorkloadSeries()
            series.demand.add(demand, index)
            series.desired.add(desired, index)
            series.ready.add(ready, index)
        self.nodes.add(nodes, index)
        self.nodes_ready.add(nodes_ready, index)
        self.pending.add(pending, index)
        for name, depth in queues.items():
            self.queues.setdefault(name, Series()).add(depth, index)
        for name, count in (node_groups or {}).items():
            self.node_groups.setdefault(name, Series()).add(count, index)

    def series(self, workload: str, what: str) -> list[float]:
        """A workload's ``demand``, ``desired`` or ``ready`` per tick (zeros before it
        existed)."""
        found = self.workloads.get(workload)
        if found is None:
            return [0.0] * len(self)
        values = list(getattr(found, what).values)
        return values + [0.0] * (len(self) - len(values))

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

    def scale_up_catch_up_seconds(self) -> list[tuple[str, float, float | None]]:
        """For each scale-up: (workload, when, seconds until that many pods were Ready, or
        None if they never were before the next change or the end)."""
        results: list[tuple[str, float, float | None]] = []
        changes = [a for a in self.annotations if a.kind == "scale" and a.after > a.before > -1]
        times = self.times.values
        for change in changes:
            if change.before == 0 and change.seconds <= 0:
                continue
            desired = self.series(change.workload, "desired")
            ready = self.series(change.workload, "ready")
            caught: float | None = None
            for i, seconds in enumerate(times):
                if seconds < change.seconds:
                    continue
                if desired[i] != change.after:
                    break
                if ready[i] >= change.after:
                    caught = seconds - change.seconds
                    break
            results.append((change.workload, change.seconds, caught))
        return results


def _integral(times: Sequence[float], values: Sequence[float]) -> float:
    total = 0.0
    for i in range(len(times) - 1):
        total += values[i] * (times[i + 1] - times[i])
    return total
