"""The StatefulSet controller: pods with stable ordinal names, created and removed in order.

With the default ``OrderedReady`` policy pod *n* is created only once pods 0..n-1 are Running
and Ready, and scale-down removes the highest ordinal first, one at a time (the next only when
the previous has gone). ``Parallel`` creates and deletes all at once.

Simplifications: no volumeClaimTemplates (no PVCs), no rolling update of the template, no
``minReadySeconds``; a missing ordinal below the highest is recreated like any other.
"""

from __future__ import annotations

from podscaler.sim.apiserver.store import Obj
from podscaler.sim.world.context import WorldContext
from podscaler.sim.world.podtemplates import pod_from_template
from podscaler.sim.world.state import Key, is_ready, is_terminating, pod_phase

__all__ = ["reconcile_statefulset"]

COMPONENT = "statefulset-controller"


def reconcile_statefulset(ctx: WorldContext, key: Key) -> None:
    sts = ctx.state.statefulsets.get(key)
    if sts is None or is_terminating(sts):
        return
    namespace, name = key
    spec = sts.get("spec") or {}
    want = int(spec.get("replicas", 1))
    ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
    pods = ctx.state.pods_owned_by(str(sts["metadata"]["uid"]))
    by_ordinal: dict[int, Obj] = {}
    for pod in pods:
        suffix = str(pod["metadata"]["name"]).rsplit("-", 1)[-1]
        if suffix.isdigit():
            by_ordinal[int(suffix)] = pod
    terminating = any(is_terminating(p) for p in pods)
    template = spec.get("template") or {}
    for ordinal in range(want):
        if ordinal in by_ordinal:
            pod = by_ordinal[ordinal]
            if ordered and not (pod_phase(pod) == "Running" and is_ready(pod)):
                break
            continue
        if ordered and terminating:
            break
        pod_name = f"{name}-{ordinal}"
        if ctx.creations.reserved((namespace, pod_name)):
            if ordered:
                break  # being admitted: not Running and Ready yet
            continue
        pod = pod_from_template(
            template,
            name=pod_name,
            namespace=namespace,
            owner=sts,
            workload=name,
            extra_labels={
                "statefulset.kubernetes.io/pod-name": pod_name,
                "apps.kubernetes.io/pod-index": str(ordinal),
            },
        )
        pod["spec"] = {**pod["spec"], "hostname": pod_name}
        if spec.get("serviceName"):
            pod["spec"]["subdomain"] = spec["serviceName"]
        created = ctx.creations.create(
            sts,
            pod,
            namespace,
            f"create Pod {pod_name} in StatefulSet {name} successful",
            COMPONENT,
        )
        if ordered or not created:
            break
    extra = sorted((o for o in by_ordinal if o >= want), reverse=True)
    if not (ordered and terminating):
        for ordinal in extra[:1] if ordered else extra:
            pod = by_ordinal[ordinal]
            if is_terminating(pod):
                continue
            ctx.writer.delete(ctx.kinds.pods, namespace, str(pod["metadata"]["name"]))
            ctx.events.record(
                sts,
                "Normal",
                "SuccessfulDelete",
                f"delete Pod {pod['metadata']['name']} in StatefulSet {name} successful",
                COMPONENT,
            )
    _write_status(ctx, key)


def _write_status(ctx: WorldContext, key: Key) -> None:
    sts = ctx.state.statefulsets.get(key)
    if sts is None:
        return
    pods = [
        p for p in ctx.state.pods_owned_by(str(sts["metadata"]["uid"])) if not is_terminating(p)
    ]
    ready = sum(1 for p in pods if is_ready(p))
    status = {
        "observedGeneration": sts["metadata"].get("generation", 1),
        "replicas": len(pods),
        "readyReplicas": ready,
        "currentReplicas": len(pods),
        "updatedReplicas": len(pods),
        "availableReplicas": ready,
    }
    if sts.get("status") != status:
        ctx.writer.replace_status(ctx.kinds.statefulsets, sts, status)
