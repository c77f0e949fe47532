"""Rules of an object's life the store applies, as kube-apiserver's registry strategies do:
a pod's QoS class on creation, a deletion's grace period, when an update finishes a deletion.
"""

from __future__ import annotations

from podscaler.sim.apiserver.entries import Obj
from podscaler.sim.apiserver.resources import ResourceType


def qos_class(pod: Obj) -> str:
    """The pod's QoS class from its containers' requests and limits (upstream's rules)."""
    containers = (pod.get("spec") or {}).get("containers") or []
    any_set = False
    guaranteed = bool(containers)
    for container in containers:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for res in ("cpu", "memory"):
            if res not in limits or requests.get(res, limits[res]) != limits[res]:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def is_pod(rt: ResourceType) -> bool:
    return rt.resource == "pods" and not rt.group


def deletion_grace(rt: ResourceType, obj: Obj, grace_seconds: int | None) -> int:
    """The ``deletionGracePeriodSeconds`` of a first deletion (see :meth:`Store.delete`):
    pods only (upstream's pod strategy), 0 unless bound to a node and not finished."""
    if not is_pod(rt):
        return 0
    if not (obj.get("spec") or {}).get("nodeName"):
        return 0
    if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return 0
    if grace_seconds is not None:
        return 1 if grace_seconds < 0 else int(grace_seconds)
    spec_grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds")
    return spec_grace if isinstance(spec_grace, int) and spec_grace >= 0 else 30


def finalized(new_meta: Obj, old_meta: Obj) -> bool:
    """Whether an update removes the object: it empties the finalizers of an object being
    deleted with no grace period pending (a pod in its grace period waits for its kubelet)."""
    if new_meta.get("finalizers") or not old_meta.get("deletionTimestamp"):
        return False
    pending = old_meta.get("deletionGracePeriodSeconds")
    return not isinstance(pending, int) or pending <= 0
