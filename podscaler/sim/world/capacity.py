"""Capacity against demand: overload minutes and replica-hours, figures of a run.

A pod saturates at its cpu limit: with the usage model's ``cpuBase + cpuPerUnit x share``, one
Ready pod serves at most ``(cpu limit - cpuBase) / cpuPerUnit`` units of demand (requests per
second). The Ready pods' capacity is that times their number; a tick whose demand is above it
is **overloaded** — while at least one pod is Ready; with none, the demand is *unserved*, a
different trouble, counted apart as the report does (:mod:`podscaler.sim.scenarios.drivers`, whose
capacity this is too). What scaling costs is counted in **replica-hours**: the workload's
``spec.replicas`` (what the autoscaler asked for, starting pods included) integrated over the
run.

Both are integrals over the timeline's ticks, each tick's value holding until the next, as
``node_hours`` and ``pending_pod_minutes`` are, so the three agree on what a tick means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podscaler.sim.world.load import UsageModel, pod_limits
from podscaler.sim.world.timeline import Timeline

__all__ = ["overload_minutes", "per_pod_capacity", "replica_hours"]


def per_pod_capacity(template: Mapping[str, Any], usage: UsageModel) -> float | None:
    """Demand one Ready pod of ``template`` (a pod template or pod) can serve, or ``None``
    when its cpu is unlimited or its usage does not grow with demand."""
    cpu_limit = pod_limits(template).cpu_limit_millicores
    if cpu_limit is None or usage.cpu_millicores_per_unit <= 0:
        return None
    return max(0.0, (cpu_limit - usage.cpu_base_millicores) / usage.cpu_millicores_per_unit)


def overload_minutes(timeline: Timeline, workload: str) -> float:
    """Minutes in which ``workload``'s demand exceeded what its Ready pods (at least one) can
    serve; 0 when the scenario gives no capacity for it."""
    per_pod = timeline.capacity_per_pod.get(workload)
    if per_pod is None:
        return 0.0
    times = timeline.times.values
    demand = timeline.series(workload, "demand")
    ready = timeline.series(workload, "ready")
    total = 0.0
    for i in range(len(times) - 1):
        capacity = ready[i] * per_pod
        if capacity > 0 and demand[i] > capacity + 1e-9:
            total += times[i + 1] - times[i]
    return total / 60.0


def replica_hours(timeline: Timeline, workload: str) -> float:
    """``spec.replicas`` of ``workload`` integrated over the run, in hours."""
    times = timeline.times.values
    desired = timeline.series(workload, "desired")
    total = 0.0
    for i in range(len(times) - 1):
        total += desired[i] * (times[i + 1] - times[i])
    return total / 3600.0
