"""What the world knows of the cluster: caches fed by store watches, indexes, timers.

The world's components are controllers in the Kubernetes sense — level-triggered, each acting
on the difference between a spec and what exists — but they read these caches rather than
LISTing, as informers let real controllers do. The caches hold the stored dicts themselves
(read-only), so keeping them costs no copies; indexes (pods by owner, by node, the unbound
ones, the Ready ones per workload) are what make a step cost O(changes) rather than O(pods).

Each watch event also marks the objects it concerns *dirty* for the controller that owns them;
a step reconciles exactly the dirty set.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podscaler.sim.apiserver.store import Obj

__all__ = [
    "WORKLOAD_ANNOTATION",
    "ClusterState",
    "Key",
    "Timers",
    "controller_ref",
    "is_ready",
    "pod_phase",
]

Key = tuple[str, str]

#: Which scenario workload a pod belongs to (its behaviour and load); set by the world's
#: controllers on the pods they create. Pods without it behave by the world's defaults.
WORKLOAD_ANNOTATION = "sim.podscaler.io/workload"


def key_of(obj: Obj) -> Key:
    meta = obj["metadata"]
    return (str(meta.get("namespace") or ""), str(meta["name"]))


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def pod_phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def is_ready(pod: Obj) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def is_terminating(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def _terminal(pod: Obj) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def workload_of(pod: Obj) -> Key:
    meta = pod["metadata"]
    name = (meta.get("annotations") or {}).get(WORKLOAD_ANNOTATION)
    if not name:
        ref = controller_ref(pod)
        name = ref["name"] if ref else meta["name"]
    return (str(meta.get("namespace") or ""), str(name))


class Timers:
    """Callbacks due at a loop time; the world runs the due ones each step."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._serial = itertools.count()

    def at(self, due_seconds: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (due_seconds, next(self._serial), callback))

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_seconds: float) -> list[Callable[[], None]]:
        due = []
        while self._heap and self._heap[0][0] <= now_seconds:
            due.append(heapq.heappop(self._heap)[2])
        return due


@dataclass
class ClusterState:
    """Caches and indexes over the stored objects the world cares about."""

    pods: dict[Key, Obj] = field(default_factory=dict)
    nodes: dict[str, Obj] = field(default_factory=dict)
    deployments: dict[Key, Obj] = field(default_factory=dict)
    replicasets: dict[Key, Obj] = field(default_factory=dict)
    statefulsets: dict[Key, Obj] = field(default_factory=dict)
    jobs: dict[Key, Obj] = field(default_factory=dict)
    #: owner uid → keys of the pods (or ReplicaSets) it controls
    owned: dict[str, set[Key]] = field(default_factory=dict)
    pods_by_node: dict[str, set[Key]] = field(default_factory=dict)
    #: pods without a node that are not being deleted
    unbound: set[Key] = field(default_factory=set)
    #: workload → its Ready, not terminating pods
    ready_by_workload: dict[Key, set[Key]] = field(default_factory=dict)
    #: what each component must look at on its next pass
    dirty_deployments: set[Key] = field(default_factory=set)
    dirty_replicasets: set[Key] = field(default_factory=set)
    dirty_statefulsets: set[Key] = field(default_factory=set)
    dirty_jobs: set[Key] = field(default_factory=set)
    dirty_pods: set[Key] = field(default_factory=set)
    #: something that can make an unschedulable pod fit changed (a node, a pod leaving)
    capacity_changed: bool = True
    #: uid → owner key and kind, to find an owner from a pod's controller reference
    uid_index: dict[str, tuple[str, Key]] = field(default_factory=dict)
    #: workload → a counter bumped by every event of one of its pods (caches key on it)
    workload_versions: dict[Key, int] = field(default_factory=dict)
    #: node → a counter bumped when its set of pods (or a pod's terminal state) or the node
    #: itself changes; the scheduler keeps each node's predicate state until it moves
    node_versions: dict[str, int] = field(default_factory=dict)
    #: nodes the cluster starts with: Ready at once (no registration delay)
    nodes_up_at_start: set[str] = field(default_factory=set)
    #: pod uid → order in which the world saw it created (creationTimestamp has whole seconds
    #: only; "newest first" needs a finer order)
    births: dict[str, int] = field(default_factory=dict)
    _birth_serial: itertools.count[int] = field(default_factory=itertools.count)

    # --- feeding

    def apply(self, kind: str, type_: str, obj: Obj, old: Obj | None) -> None:
        """One watch event for ``kind`` (``pods``, ``nodes``, ``deployments``, …)."""
        handler = getattr(self, f"_on_{kind}")
        handler(type_, obj, old)

    def _own(self, obj: Obj, old: Obj | None, deleted: bool) -> None:
        key = key_of(obj)
        if old is not None:
            ref = controller_ref(old)
            if ref is not None:
                self.owned.get(str(ref.get("uid")), set()).discard(key)
        if not deleted:
            ref = controller_ref(obj)
            if ref is not None:
                self.owned.setdefault(str(ref.get("uid")), set()).add(key)

    def _mark_owner(self, obj: Obj) -> None:
        ref = controller_ref(obj)
        if ref is not None:
            self._mark_uid(str(ref.get("uid")))

    def owner_changed(self, owner: Obj) -> None:
        """Reconcile the workload *owner* (ReplicaSet, Deployment, StatefulSet, Job) again."""
        self._mark_uid(str(owner["metadata"].get("uid")))

    def _mark_uid(self, uid: str) -> None:
        found = self.uid_index.get(uid)
        if found is None:
            return
        kind, key = found
        if kind == "ReplicaSet":
            self.dirty_replicasets.add(key)
        elif kind == "Deployment":
            self.dirty_deployments.add(key)
        elif kind == "StatefulSet":
            self.dirty_statefulsets.add(key)
        elif kind == "Job":
            self.dirty_jobs.add(key)

    def _workload_object(
        self, kind: str, cache: dict[Key, Obj], dirty: set[Key], type_: str, obj: Obj
    ) -> None:
        key = key_of(obj)
        uid = str(obj["metadata"].get("uid"))
        if type_ == "DELETED":
            cache.pop(key, None)
            self.uid_index.pop(uid, None)
            dirty.discard(key)
        else:
            cache[key] = obj
            self.uid_index[uid] = (kind, key)
            dirty.add(key)

    def _on_deployments(self, type_: str, obj: Obj, old: Obj | None) -> None:
        self._workload_object("Deployment", self.deployments, self.dirty_deployments, type_, obj)

    def _on_replicasets(self, type_: str, obj: Obj, old: Obj | None) -> None:
        self._workload_object("ReplicaSet", self.replicasets, self.dirty_replicasets, type_, obj)
        self._own(obj, old, type_ == "DELETED")
        self._mark_owner(obj)

    def _on_statefulsets(self, type_: str, obj: Obj, old: Obj | None) -> None:
        self._workload_object("StatefulSet", self.statefulsets, self.dirty_statefulsets, type_, obj)

    def _on_jobs(self, type_: str, obj: Obj, old: Obj | None) -> None:
        self._workload_object("Job", self.jobs, self.dirty_jobs, type_, obj)

    def _on_nodes(self, type_: str, obj: Obj, old: Obj | None) -> None:
        name = str(obj["metadata"]["name"])
        if type_ == "DELETED":
            self.nodes.pop(name, None)
            # Pods bound to a node that is gone are deleted by the pod GC (kubelet's pass).
            self.dirty_pods.update(self.pods_by_node.get(name, ()))
        else:
            self.nodes[name] = obj
        self.node_versions[name] = self.node_versions.get(name, 0) + 1
        self.capacity_changed = True

    def _on_pods(self, type_: str, obj: Obj, old: Obj | None) -> None:
        key = key_of(obj)
        workload = workload_of(obj)
        self.workload_versions[workload] = self.workload_versions.get(workload, 0) + 1
        deleted = type_ == "DELETED"
        self._own(obj, old, deleted)
        new_node = None if deleted else (obj.get("spec") or {}).get("nodeName")
        if old is not None:
            old_node = (old.get("spec") or {}).get("nodeName")
            if old_node:
                self.pods_by_node.get(str(old_node), set()).discard(key)
                if old_node != new_node or _terminal(old) != _terminal(obj):
                    self._bump_node(str(old_node))
            self.ready_by_workload.get(workload_of(old), set()).discard(key)
        if new_node and (old is None or (old.get("spec") or {}).get("nodeName") != new_node):
            self._bump_node(str(new_node))
        self.unbound.discard(key)
        if deleted:
            self.pods.pop(key, None)
            self.dirty_pods.discard(key)
            self.capacity_changed = True
        else:
            self.pods[key] = obj
            node = (obj.get("spec") or {}).get("nodeName")
            terminating = is_terminating(obj)
            if node:
                self.pods_by_node.setdefault(str(node), set()).add(key)
            elif not terminating and pod_phase(obj) == "Pending":
                self.unbound.add(key)
            if is_ready(obj) and not terminating:
                self.ready_by_workload.setdefault(workload_of(obj), set()).add(key)
            if terminating or pod_phase(obj) in ("Succeeded", "Failed"):
                self.capacity_changed = True
            self.dirty_pods.add(key)
        if type_ == "ADDED":
            self.births[str(obj["metadata"].get("uid"))] = next(self._birth_serial)
        elif deleted:
            self.births.pop(str(obj["metadata"].get("uid")), None)
        self._mark_owner(obj)

    def _bump_node(self, name: str) -> None:
        self.node_versions[name] = self.node_versions.get(name, 0) + 1

    def replicasets_owned_by(self, uid: str) -> list[Obj]:
        found = []
        for key in self.owned.get(uid, ()):
            rs = self.replicasets.get(key)
            if rs is not None and controller_ref(rs) is not None:
                found.append(rs)
        return found

    def pods_owned_by(self, uid: str) -> list[Obj]:
        found = []
        for key in self.owned.get(uid, ()):
            pod = self.pods.get(key)
            if pod is not None:
                found.append(pod)
        return found
