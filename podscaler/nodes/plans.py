"""What the planners decide, and why: the values the controller acts on and explains.

A :class:`ScaleUpPlan` says which groups grow to which size, which pods triggered it, and for
every other pending pod and every node group why not — in Cluster Autoscaler's words, so the
``TriggeredScaleUp`` / ``NotTriggerScaleUp`` Events read as users know them. A
:class:`ScaleDownPlan` says which nodes to delete now (empty ones in bulk, drained ones with
the pods to move), which are unneeded and since when, and for every other node the rule and,
where one exists, the pod that keeps it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from podscaler.nodes.state import AutoscalerState

__all__ = [
    "BlockingReason",
    "ClusterEvent",
    "GroupOutcome",
    "GroupScaleUp",
    "NodeRemoval",
    "NodeUnremovable",
    "PodOutcome",
    "ScaleDownPlan",
    "ScaleUpPlan",
    "ScaleUpResult",
    "UnneededNode",
    "UnremovableReason",
    "Utilization",
]


class ScaleUpResult(enum.Enum):
    """CA's ``ScaleUpResult``: what the scale-up step came to."""

    SUCCESSFUL = "ScaleUpSuccessful"
    NO_OPTIONS = "ScaleUpNoOptionsAvailable"
    NOT_NEEDED = "ScaleUpNotNeeded"
    NOT_TRIED = "ScaleUpNotTried"
    LIMITED_BY_MAX_NODES_TOTAL = "ScaleUpLimitedByMaxNodesTotal"


@dataclass(frozen=True)
class GroupScaleUp:
    """One group's resize (CA's ``ScaleUpInfo``)."""

    group: str
    current_size: int
    new_size: int
    max_size: int

    @property
    def delta(self) -> int:
        return self.new_size - self.current_size

    def __str__(self) -> str:
        return f"{{{self.group} {self.current_size}->{self.new_size} (max: {self.max_size})}}"


@dataclass(frozen=True)
class GroupOutcome:
    """How one node group fared in this scale-up.

    ``skipped`` is CA's skip reason when the group was not considered at all; otherwise
    ``node_count``/``pod_count`` are its estimate, ``chosen`` tells whether the expander picked
    it, and ``dropped_by`` names the expander that filtered it out (``least-waste``, …).
    """

    group: str
    skipped: str | None = None
    node_count: int = 0
    pod_count: int = 0
    chosen: bool = False
    dropped_by: str | None = None
    score: float | None = None


@dataclass(frozen=True)
class PodOutcome:
    """A pending pod that did not trigger a scale-up: per group, the predicates that rejected
    it on the group's template (``rejected``) or why the group was not considered
    (``skipped``)."""

    pod: str
    rejected: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    skipped: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def reasons_message(self, result: ScaleUpResult) -> str:
        """CA's ``ReasonsMessage``: every reason counted over the groups, as ``"<n> <reason>"``
        (sorted here, so the message is stable)."""
        if result is ScaleUpResult.LIMITED_BY_MAX_NODES_TOTAL:
            return "max total nodes in cluster reached"
        counts: dict[str, int] = {}
        for reasons in (*self.rejected.values(), *self.skipped.values()):
            for reason in reasons:
                counts[reason] = counts.get(reason, 0) + 1
        return ", ".join(f"{count} {reason}" for reason, count in sorted(counts.items()))


@dataclass(frozen=True)
class ClusterEvent:
    """An Event CA records on its status ConfigMap (``MaxNodesTotalReached``, …)."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class ScaleUpPlan:
    result: ScaleUpResult
    scale_ups: tuple[GroupScaleUp, ...] = ()
    #: pods (namespace/name) the chosen option schedules: they get ``TriggeredScaleUp``
    triggered: tuple[str, ...] = ()
    #: pods no group could take: they get ``NotTriggerScaleUp`` unless a scale-up happened
    remaining: tuple[PodOutcome, ...] = ()
    #: pods another group could take but the chosen one cannot: no event this loop
    awaiting: tuple[str, ...] = ()
    groups: tuple[GroupOutcome, ...] = ()
    events: tuple[ClusterEvent, ...] = ()
    #: pods that were pending but were not considered, by why (expendable, young, fits on
    #: existing free room, fits on upcoming nodes)
    filtered: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: CA skips scale-down in a loop whose pending pods are too new to act on
    scale_down_blocked: bool = False
    #: notes for logs (bad annotations, …)
    warnings: tuple[str, ...] = ()

    def triggered_message(self) -> str:
        """The ``TriggeredScaleUp`` message: ``pod triggered scale-up: [{ng 1->2 (max: 5)}]``."""
        return f"pod triggered scale-up: [{' '.join(str(s) for s in self.scale_ups)}]"

    def not_triggered_message(self, outcome: PodOutcome) -> str:
        return f"pod didn't trigger scale-up: {outcome.reasons_message(self.result)}"

    @property
    def emits_not_triggered(self) -> bool:
        """CA emits ``NotTriggerScaleUp`` only in loops without a scale-up attempt."""
        return self.result is not ScaleUpResult.SUCCESSFUL


class UnremovableReason(enum.Enum):
    """Why a node is not removed, as CA's ``simulator.UnremovableReason`` names it."""

    SCALE_DOWN_DISABLED_ANNOTATION = "ScaleDownDisabledAnnotation"
    SCALE_DOWN_UNREADY_DISABLED = "ScaleDownUnreadyDisabled"
    NOT_AUTOSCALED = "NotAutoscaled"
    NOT_UNNEEDED_LONG_ENOUGH = "NotUnneededLongEnough"
    NOT_UNREADY_LONG_ENOUGH = "NotUnreadyLongEnough"
    NODE_GROUP_MIN_SIZE_REACHED = "NodeGroupMinSizeReached"
    NODE_GROUP_MAX_DELETION_COUNT_REACHED = "NodeGroupMaxDeletionCountReached"
    MINIMAL_RESOURCE_LIMIT_EXCEEDED = "MinimalResourceLimitExceeded"
    CURRENTLY_BEING_DELETED = "CurrentlyBeingDeleted"
    NOT_UNDERUTILIZED = "NotUnderutilized"
    NOT_UNNEEDED_OTHER_REASON = "NotUnneededOtherReason"
    RECENTLY_UNREMOVABLE = "RecentlyUnremovable"
    NO_PLACE_TO_MOVE_PODS = "NoPlaceToMovePods"
    BLOCKED_BY_POD = "BlockedByPod"
    UNEXPECTED_ERROR = "UnexpectedError"
    BLOCKED_BY_ON_COMPLETION_POD = "BlockedByOnCompletionPod"
    SCALE_DOWN_IN_COOLDOWN = "ScaleDownInCooldown"


class BlockingReason(enum.Enum):
    """Why a pod keeps its node (CA's ``drain.BlockingPodReason``)."""

    CONTROLLER_NOT_FOUND = "ControllerNotFound"
    MIN_REPLICAS_REACHED = "MinReplicasReached"
    NOT_REPLICATED = "NotReplicated"
    LOCAL_STORAGE_REQUESTED = "LocalStorageRequested"
    NOT_SAFE_TO_EVICT_ANNOTATION = "NotSafeToEvictAnnotation"
    UNMOVABLE_KUBE_SYSTEM_POD = "UnmovableKubeSystemPod"
    NOT_ENOUGH_PDB = "NotEnoughPdb"
    UNEXPECTED_ERROR = "UnexpectedError"


@dataclass(frozen=True)
class Utilization:
    """Requests over allocatable (CA's ``utilization.Info``); ``resource`` is the one that
    gave ``value`` (``cpu``, ``memory`` — memory on a tie — or the GPU resource)."""

    value: float
    resource: str
    cpu: float = 0.0
    memory: float = 0.0
    gpu: float | None = None


@dataclass(frozen=True)
class UnneededNode:
    node: str
    group: str
    since: float
    utilization: Utilization
    empty: bool


@dataclass(frozen=True)
class NodeRemoval:
    """A node to delete now. ``pods_to_move`` are evicted first (empty: none);
    ``daemonset_pods`` are evicted best-effort; ``reason`` is ``empty``/``underutilized``/
    ``unready`` (the ``scaled_down_nodes_total`` label)."""

    node: str
    group: str
    reason: str
    utilization: Utilization
    pods_to_move: tuple[str, ...] = ()
    daemonset_pods: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.pods_to_move


@dataclass(frozen=True)
class NodeUnremovable:
    """A node that stays, with the rule that keeps it. For ``BlockedByPod`` the pod and its
    drain rule are named; ``detail`` is a sentence for Events and explain."""

    node: str
    reason: UnremovableReason
    blocking_pod: str | None = None
    blocking_rule: BlockingReason | None = None
    detail: str = ""


@dataclass(frozen=True)
class ScaleDownPlan:
    #: the state to keep for the next loop (unneeded timers advanced)
    state: AutoscalerState
    #: nodes to delete now: empty ones first, then at most max-drain-parallelism drains
    removals: tuple[NodeRemoval, ...] = ()
    unneeded: tuple[UnneededNode, ...] = ()
    unremovable: tuple[NodeUnremovable, ...] = ()
    #: set when scale-down is held this loop (cooldown after add/delete/failure, disabled)
    cooldown: str | None = None
