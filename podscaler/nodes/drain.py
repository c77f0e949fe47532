"""Which pods keep their node, and which can be moved: Cluster Autoscaler's drain rules
(``simulator/drainability/rules``), first decisive rule wins, in this order:

====  ==========================================================  ===========================
 #    rule                                                         outcome
====  ==========================================================  ===========================
 1    static (mirror) pod                                          skipped
 2    terminating for longer than its grace period + 30 s          skipped
 3    controller missing or below ``--min-replica-count``          blocks (only when the
      (with ``--skip-nodes-with-custom-controller-pods``)          caller knows controllers)
 4    DaemonSet pod                                                moved best-effort
 5    ``cluster-autoscaler.kubernetes.io/safe-to-evict: "true"``   movable (skips 6-12)
 6    terminal phase                                               movable
 7    ``safe-to-evict: "on-completion"``                           waits for the pod
 8    no controller, or one that is not RC/RS/Job/StatefulSet      blocks ``NotReplicated``
 9    kube-system pod no PDB covers, younger than the timeout      blocks
      (``--skip-nodes-with-system-pods``)                          ``UnmovableKubeSystemPod``
 10   ``safe-to-evict: "false"``                                   blocks
 11   hostPath or non-memory emptyDir not listed in                blocks
      ``safe-to-evict-local-volumes`` (``--skip-nodes-with-       ``LocalStorageRequested``
      local-storage``)
 12   a matching PDB with no disruption left                       blocks ``NotEnoughPdb``
====  ==========================================================  ===========================

The PDB budget is a :class:`PdbTracker`: as nodes are simulated for removal their pods use up
the budgets, so two nodes whose pods share a PDB allowing one disruption are not both
removable. Whether the moved pods fit elsewhere is the simulation's question, not this one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from podscaler.api.selectors import LabelSelector, SelectorError
from podscaler.api.timestamps import parse_seconds as unix_seconds
from podscaler.nodes.nodestate import pod_key
from podscaler.nodes.options import NodeAutoscalerOptions
from podscaler.nodes.plans import BlockingReason
from podscaler.nodes.templates import is_daemonset_pod, is_mirror_pod

__all__ = [
    "Blocking",
    "ControllerLookup",
    "PdbTracker",
    "PodsToMove",
    "is_long_terminating",
    "pods_to_move",
]

SAFE_TO_EVICT: Final = "cluster-autoscaler.kubernetes.io/safe-to-evict"
SAFE_TO_EVICT_LOCAL_VOLUMES: Final = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"
LONG_TERMINATING_EXTRA_SECONDS: Final = 30.0
DEFAULT_GRACE_SECONDS: Final = 30.0
_REPLICATED_KINDS: Final = frozenset({"ReplicationController", "Job", "ReplicaSet", "StatefulSet"})

#: (namespace, kind, name) → the controller's replica count (None: exists, count unknown),
#: or raises KeyError when the controller does not exist.
ControllerLookup = Callable[[str, str, str], int | None]


@dataclass(frozen=True)
class Blocking:
    """The pod that keeps its node, the rule, and a sentence for Events."""

    pod: str
    reason: BlockingReason
    message: str


@dataclass(frozen=True)
class PodsToMove:
    pods: tuple[Mapping[str, Any], ...] = ()
    daemonset_pods: tuple[Mapping[str, Any], ...] = ()
    on_completion_pods: tuple[Mapping[str, Any], ...] = ()
    blocking: Blocking | None = None


@dataclass
class _Pdb:
    namespace: str
    selector: LabelSelector | None
    remaining: int
    name: str


@dataclass
class PdbTracker:
    """PodDisruptionBudgets with what is left of each budget in this pass."""

    budgets: list[_Pdb] = field(default_factory=list)

    @classmethod
    def of(cls, pdbs: Iterable[Mapping[str, Any]]) -> PdbTracker:
        budgets = []
        for pdb in pdbs:
            meta = pdb.get("metadata") or {}
            spec = pdb.get("spec") or {}
            status = pdb.get("status") or {}
            raw = spec.get("selector") if isinstance(spec, Mapping) else None
            selector: LabelSelector | None = None
            if isinstance(raw, Mapping):
                try:
                    selector = LabelSelector.from_dict(raw)
                except SelectorError:
                    selector = None
            allowed = status.get("disruptionsAllowed") if isinstance(status, Mapping) else None
            budgets.append(
                _Pdb(
                    str(meta.get("namespace") or "default"),
                    selector,
                    allowed if isinstance(allowed, int) else 0,
                    str(meta.get("name") or ""),
                )
            )
        return cls(budgets)

    def copy(self) -> PdbTracker:
        copies = [_Pdb(b.namespace, b.selector, b.remaining, b.name) for b in self.budgets]
        return PdbTracker(copies)

    def matching(self, pod: Mapping[str, Any]) -> list[_Pdb]:
        meta = pod.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        labels = meta.get("labels") or {}
        return [
            b
            for b in self.budgets
            if b.namespace == namespace and b.selector is not None and b.selector.matches(labels)
        ]

    def can_remove_all(self, pods: Sequence[Mapping[str, Any]]) -> bool:
        """Whether every pod could be evicted at once within the budgets."""
        use: dict[int, int] = {}
        for pod in pods:
            for budget in self.matching(pod):
                use[id(budget)] = use.get(id(budget), 0) + 1
                if use[id(budget)] > budget.remaining:
                    return False
        return True

    def remove(self, pods: Sequence[Mapping[str, Any]]) -> None:
        for pod in pods:
            for budget in self.matching(pod):
                budget.remaining -= 1


def _controller(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            return ref
    return None


def is_long_terminating(pod: Mapping[str, Any], now: float) -> bool:
    deleted = unix_seconds((pod.get("metadata") or {}).get("deletionTimestamp"))
    if deleted is None:
        return False
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    seconds = float(grace) if isinstance(grace, int | float) else DEFAULT_GRACE_SECONDS
    return deleted + seconds + LONG_TERMINATING_EXTRA_SECONDS < now


def _terminal(pod: Mapping[str, Any]) -> bool:
    """CA's ``IsPodTerminal``: Failed always; Succeeded unless restartPolicy is Always."""
    phase = (pod.get("status") or {}).get("phase")
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    if phase == "Failed":
        return True
    return phase == "Succeeded" and policy in ("Never", "OnFailure")


def _blocking_local_volume(pod: Mapping[str, Any]) -> str | None:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    allowed = set(str(annotations.get(SAFE_TO_EVICT_LOCAL_VOLUMES) or "").split(","))
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        if not isinstance(volume, Mapping) or volume.get("name") in allowed:
            continue
        if volume.get("hostPath") is not None:
            return str(volume.get("name"))
        empty_dir = volume.get("emptyDir")
        if isinstance(empty_dir, Mapping) and empty_dir.get("medium") != "Memory":
            return str(volume.get("name"))
    return None


def _replica_check(
    pod: Mapping[str, Any], options: NodeAutoscalerOptions, controllers: ControllerLookup
) -> Blocking | None:
    """Rule 3: CA's replicacount rule (controller lookups via the caller)."""
    ref = _controller(pod)
    if ref is None or is_daemonset_pod(pod):
        return None
    kind, name = str(ref.get("kind")), str(ref.get("name"))
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    if kind not in ("ReplicationController", "ReplicaSet", "Job", "StatefulSet"):
        return None
    key = pod_key(pod)
    try:
        replicas = controllers(namespace, kind, name)
    except KeyError:
        return Blocking(
            key,
            BlockingReason.CONTROLLER_NOT_FOUND,
            f"the {kind} {namespace}/{name} that owns {key} was not found",
        )
    scaled = kind in ("ReplicationController", "ReplicaSet") and replicas is not None
    if scaled and replicas is not None and replicas < options.min_replica_count:
        return Blocking(
            key,
            BlockingReason.MIN_REPLICAS_REACHED,
            f"{kind} {namespace}/{name} has {replicas} replicas, below "
            f"min-replica-count {options.min_replica_count}",
        )
    return None


def _drainable(
    pod: Mapping[str, Any],
    now: float,
    options: NodeAutoscalerOptions,
    pdbs: PdbTracker,
    controllers: ControllerLookup | None,
) -> str | Blocking:
    """``skip``, ``ok``, ``wait`` or the blocking verdict for one pod."""
    if is_mirror_pod(pod):
        return "skip"
    if is_long_terminating(pod, now):
        return "skip"
    if controllers is not None and options.skip_nodes_with_custom_controller_pods:
        blocked = _replica_check(pod, options, controllers)
        if blocked is not None:
            return blocked
    if is_daemonset_pod(pod):
        return "ok"
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    safe = annotations.get(SAFE_TO_EVICT)
    if safe == "true":
        return "ok"
    if _terminal(pod):
        return "ok"
    if safe == "on-completion":
        return "wait"
    key = pod_key(pod)
    ref = _controller(pod)
    replicated = ref is not None and (
        not options.skip_nodes_with_custom_controller_pods or ref.get("kind") in _REPLICATED_KINDS
    )
    if not replicated:
        return Blocking(key, BlockingReason.NOT_REPLICATED, f"{key} is not replicated")
    system = meta.get("namespace") == "kube-system" and options.skip_nodes_with_system_pods
    if system and not pdbs.matching(pod):
        created = unix_seconds(meta.get("creationTimestamp"))
        timeout = options.blocking_system_pod_disruption_timeout_seconds
        if created is None or not now > created + timeout:
            return Blocking(
                key,
                BlockingReason.UNMOVABLE_KUBE_SYSTEM_POD,
                "non-daemonset, non-mirrored, non-pdb-assigned kube-system pod present: "
                f"{meta.get('name')}",
            )
        return "ok"
    if safe == "false":
        return Blocking(
            key,
            BlockingReason.NOT_SAFE_TO_EVICT_ANNOTATION,
            f"pod annotated as not safe to evict present: {meta.get('name')}",
        )
    if options.skip_nodes_with_local_storage:
        volume = _blocking_local_volume(pod)
        if volume is not None:
            return Blocking(
                key,
                BlockingReason.LOCAL_STORAGE_REQUESTED,
                f"pod with local storage present: {meta.get('name')} (volume {volume})",
            )
    for budget in pdbs.matching(pod):
        if budget.remaining < 1:
            return Blocking(
                key,
                BlockingReason.NOT_ENOUGH_PDB,
                f"not enough pod disruption budget to move {key} "
                f"(PodDisruptionBudget {budget.name})",
            )
    return "ok"


def pods_to_move(
    pods: Iterable[Mapping[str, Any]],
    now: float,
    options: NodeAutoscalerOptions,
    pdbs: PdbTracker,
    *,
    controllers: ControllerLookup | None = None,
) -> PodsToMove:
    """CA's ``GetPodsToMove`` over one node's pods: stops at the first blocking pod (the pods
    listed before it are kept, as upstream)."""
    movable: list[Mapping[str, Any]] = []
    daemons: list[Mapping[str, Any]] = []
    waiting: list[Mapping[str, Any]] = []
    for pod in pods:
        verdict = _drainable(pod, now, options, pdbs, controllers)
        if isinstance(verdict, Blocking):
            return PodsToMove(tuple(movable), tuple(daemons), tuple(waiting), verdict)
        if verdict == "ok":
            (daemons if is_daemonset_pod(pod) else movable).append(pod)
        elif verdict == "wait":
            waiting.append(pod)
    return PodsToMove(tuple(movable), tuple(daemons), tuple(waiting))
