"""The ReplicaSet controller: keep ``spec.replicas`` pods alive.

Scale-down picks victims as upstream ranks them — unscheduled before scheduled, Pending before
Running, not Ready before Ready — and among equals the *newest* first, so a scale-in undoes the
most recent scale-out and long-running pods keep serving. Deleted pods go through graceful
termination (Terminating until the kubelet confirms, see ``kubelet.py``) and no longer count
once they carry a deletionTimestamp, as upstream.

Simplifications: no ``minReadySeconds`` (available = Ready), no burst limits on creation. The
expectations cache upstream keeps is needed only for pods going through admission webhooks
(``admitting.py`` counts them in flight); other writes update the world's caches at once.
"""

from __future__ import annotations

from podscaler.sim.apiserver.store import Obj
from podscaler.sim.world.context import WorldContext
from podscaler.sim.world.podtemplates import pod_from_template
from podscaler.sim.world.state import (
    Key,
    controller_ref,
    is_ready,
    is_terminating,
    pod_phase,
)

__all__ = ["active_pods", "reconcile_replicaset"]

COMPONENT = "replicaset-controller"
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def active_pods(ctx: WorldContext, owner: Obj) -> list[Obj]:
    """The owner's pods that count: not being deleted, not finished."""
    return [
        p
        for p in ctx.state.pods_owned_by(str(owner["metadata"]["uid"]))
        if not is_terminating(p) and pod_phase(p) not in ("Succeeded", "Failed")
    ]


def _deletion_rank(ctx: WorldContext, pod: Obj) -> tuple[int, int, int, int]:
    bound = 1 if (pod.get("spec") or {}).get("nodeName") else 0
    birth = ctx.state.births.get(str(pod["metadata"].get("uid")), 0)
    return (bound, _PHASE_RANK.get(pod_phase(pod), 1), 1 if is_ready(pod) else 0, -birth)


def workload_name(ctx: WorldContext, rs: Obj) -> str:
    ref = controller_ref(rs)
    return (
        str(ref["name"]) if ref and ref.get("kind") == "Deployment" else str(rs["metadata"]["name"])
    )


def reconcile_replicaset(ctx: WorldContext, key: Key) -> None:
    rs = ctx.state.replicasets.get(key)
    if rs is None or is_terminating(rs):
        return
    namespace, name = key
    spec = rs.get("spec") or {}
    want = int(spec.get("replicas", 1))
    pods = active_pods(ctx, rs)
    creating = ctx.creations.in_flight(rs)
    if len(pods) + creating < want:
        template = spec.get("template") or {}
        workload = workload_name(ctx, rs)
        for _ in range(want - len(pods) - creating):
            pod_name = f"{name}-{ctx.suffix()}"
            while (namespace, pod_name) in ctx.state.pods or ctx.creations.reserved(
                (namespace, pod_name)
            ):
                pod_name = f"{name}-{ctx.suffix()}"
            pod = pod_from_template(
                template, name=pod_name, namespace=namespace, owner=rs, workload=workload
            )
            if not ctx.creations.create(rs, pod, namespace, f"Created pod: {pod_name}", COMPONENT):
                break
    elif len(pods) > want and not creating:
        # (with creations in flight, wait for them to land before choosing victims)
        victims = sorted(pods, key=lambda p: _deletion_rank(ctx, p))[: len(pods) - want]
        for pod in victims:
            pod_name = str(pod["metadata"]["name"])
            ctx.writer.delete(ctx.kinds.pods, namespace, pod_name)
            ctx.events.record(
                rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod_name}", COMPONENT
            )
    _write_status(ctx, rs)


def _write_status(ctx: WorldContext, rs: Obj) -> None:
    current = ctx.state.replicasets.get(
        (str(rs["metadata"]["namespace"]), str(rs["metadata"]["name"]))
    )
    if current is None:
        return
    pods = active_pods(ctx, current)
    ready = sum(1 for p in pods if is_ready(p))
    status = {
        "replicas": len(pods),
        "fullyLabeledReplicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": current["metadata"].get("generation", 1),
    }
    if current.get("status") != status:
        ctx.writer.replace_status(ctx.kinds.replicasets, current, status)
