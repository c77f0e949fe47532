"""Admission the embedded API server applies to new objects before storing them.

Only the ``Priority`` plugin is modelled, because the node autoscaler and the scheduler both
read ``spec.priority`` (expendable pods, preemption, overprovisioning): a new pod gets the
``value`` of the PriorityClass it names (``priorityClassName``) and its
``preemptionPolicy``, or, naming none, the class marked ``globalDefault`` (else priority 0).
The two built-in classes ``system-cluster-critical`` and ``system-node-critical`` exist
without being stored. A pod naming a class that does not exist is refused with 403, as
upstream ("no PriorityClass with name … was found").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from podscaler.sim.apiserver.errors import Forbidden
from podscaler.sim.apiserver.resources import ResourceType

if TYPE_CHECKING:
    from podscaler.sim.apiserver.store import Store

__all__ = ["SYSTEM_PRIORITY_CLASSES", "admit"]

#: The classes every cluster has (``scheduling.SystemPriorityClasses``).
SYSTEM_PRIORITY_CLASSES: Final = {
    "system-node-critical": 2000001000,
    "system-cluster-critical": 2000000000,
}


def admit(store: Store, table: Any, rt: ResourceType, obj: dict[str, Any]) -> None:
    """Mutate ``obj`` (about to be created as ``rt``) as admission would; raise on refusal."""
    if rt.group == "" and rt.resource == "pods":
        _priority(store, table, obj)


def _priority(store: Store, table: Any, pod: dict[str, Any]) -> None:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    classes_rt = table.get("scheduling.k8s.io", "v1", "priorityclasses")
    name = spec.get("priorityClassName")
    value: int | None = None
    policy: str | None = None
    if name:
        if name in SYSTEM_PRIORITY_CLASSES:
            value = SYSTEM_PRIORITY_CLASSES[name]
        else:
            entry = store.find(classes_rt, "", str(name)) if classes_rt is not None else None
            if entry is None:
                raise Forbidden(
                    f'pods "{_name(pod)}" is forbidden: no PriorityClass with name {name} was found'
                )
            value = int(entry.obj.get("value") or 0)
            policy = entry.obj.get("preemptionPolicy")
    elif classes_rt is not None:
        default = next(
            (e for e in store.entries(classes_rt, "") if e.obj.get("globalDefault") is True),
            None,
        )
        if default is not None:
            spec["priorityClassName"] = default.name
            value = int(default.obj.get("value") or 0)
            policy = default.obj.get("preemptionPolicy")
    given = spec.get("priority")
    if value is None:
        # no class at all: a priority given by hand stays (upstream would refuse it)
        spec["priority"] = given if isinstance(given, int) else 0
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        return
    if given is not None and given != value:
        raise Forbidden(
            f'pods "{_name(pod)}" is forbidden: the integer value of priority ({given}) must '
            f"not be provided in pod spec; priority admission controller computed {value} "
            "from the given PriorityClass name"
        )
    spec["priority"] = value
    spec.setdefault("preemptionPolicy", policy or "PreemptLowerPriority")


def _name(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return str(meta.get("name") or meta.get("generateName") or "")
