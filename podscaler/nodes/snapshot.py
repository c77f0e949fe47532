"""What the planner is given: the cluster as informers cache it, and the node groups as the
providers report them — plain values, no clients, no clock.

:class:`ClusterSnapshot` holds API dicts (Nodes, Pods, PodDisruptionBudgets, DaemonSets,
namespace labels) exactly as the Kubernetes API serves them. Reading them into predicate
state is the expensive part of a pass (every pod's requests parsed), so a snapshot can be
built with ``previous=`` the last loop's snapshot: pods whose ``uid`` and
``resourceVersion`` did not change keep their parsed form, and a node whose dict and pods'
dicts are the very objects of the last snapshot keeps what was computed of it
(:meth:`ClusterSnapshot.node_memo`).

:class:`NodeGroupState` is one node group (an ASG) as the controller read it from its
provider before calling the planner: bounds, target size, which Nodes belong to it, the
provider's template node for scale-from-zero, price, per-group option overrides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from podscaler.nodes.nodestate import PodSpecError, node_name, pod_key
from podscaler.nodes.options import GroupOptions
from podscaler.nodes.predicates import PodRequirements

__all__ = ["ClusterSnapshot", "NodeGroupState", "is_ready", "pod_identity"]


@dataclass(frozen=True)
class NodeGroupState:
    """One node group as the planner sees it.

    ``node_names`` are the registered Nodes of the group (ready or not); ``target_size`` the
    size the group converges to, so ``target_size - len(node_names)`` nodes are on their way.
    ``template`` is the provider's Node for a new instance (labels, taints, capacity), used
    when the group has no ready node to copy — scale from zero. ``deleting`` counts nodes
    whose deletion is in flight (they still count toward the minimum).
    """

    id: str
    min_size: int
    max_size: int
    target_size: int
    node_names: tuple[str, ...] = ()
    template: Mapping[str, Any] | None = None
    price_per_hour: float | None = None
    deleting: int = 0
    options: GroupOptions = field(default_factory=GroupOptions)

    @property
    def registered(self) -> int:
        return len(self.node_names)


def is_ready(node: Mapping[str, Any]) -> bool:
    """The node's ``Ready`` condition is ``True``."""
    status = node.get("status") or {}
    for condition in status.get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def pod_identity(pod: Mapping[str, Any]) -> tuple[str, str]:
    """(uid or namespace/name, resourceVersion): what decides whether a parsed pod is stale."""
    meta = pod.get("metadata") or {}
    uid = meta.get("uid")
    version = meta.get("resourceVersion")
    return (
        uid if isinstance(uid, str) and uid else pod_key(pod),
        version if isinstance(version, str) else "",
    )


_T = TypeVar("_T")
_NodeKey = tuple[int, tuple[int, ...]]
#: (the node, its pods, what was computed of them)
_NodeMemo = tuple[Mapping[str, Any], tuple[Mapping[str, Any], ...], Any]


@dataclass(frozen=True, eq=False)
class ClusterSnapshot:
    """The cluster for one planning pass. Build it with :meth:`build`."""

    nodes: tuple[Mapping[str, Any], ...]
    pods: tuple[Mapping[str, Any], ...]
    pdbs: tuple[Mapping[str, Any], ...] = ()
    daemonsets: tuple[Mapping[str, Any], ...] = ()
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: pod identity → its parsed requirements (or the error reading it), shared with later
    #: snapshots built with ``previous=``.
    _parsed: dict[tuple[str, str], PodRequirements | PodSpecError] = field(
        default_factory=dict, repr=False
    )
    #: Whatever was computed of a node with the pods on it (``Cluster.build``'s NodeState),
    #: keyed on those very objects: see :meth:`node_memo`.
    _node_memo: dict[_NodeKey, _NodeMemo] = field(default_factory=dict, repr=False)
    _previous_node_memo: dict[_NodeKey, _NodeMemo] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        nodes: Iterable[Mapping[str, Any]],
        pods: Iterable[Mapping[str, Any]],
        *,
        pdbs: Iterable[Mapping[str, Any]] = (),
        daemonsets: Iterable[Mapping[str, Any]] = (),
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
        previous: ClusterSnapshot | None = None,
    ) -> ClusterSnapshot:
        pod_list = tuple(pods)
        parsed: dict[tuple[str, str], PodRequirements | PodSpecError] = {}
        if previous is not None:
            old = previous._parsed
            for pod in pod_list:
                identity = pod_identity(pod)
                if identity[1] and identity in old:
                    parsed[identity] = old[identity]
        return cls(
            nodes=tuple(nodes),
            pods=pod_list,
            pdbs=tuple(pdbs),
            daemonsets=tuple(daemonsets),
            namespace_labels=dict(namespace_labels or {}),
            _parsed=parsed,
            _previous_node_memo=previous._node_memo if previous is not None else {},
        )

    def node_memo(
        self,
        node: Mapping[str, Any],
        pods: Sequence[Mapping[str, Any]],
        compute: Callable[[], _T],
    ) -> _T:
        """``compute()`` for ``node`` with ``pods`` on it, or what it gave for the very same
        objects (same dicts, in the same order) in this snapshot or the one it was built from.

        Between two scans most nodes and their pods are the same informer objects: an informer
        replaces an object's dict whenever its resourceVersion changes and never mutates it,
        so object identity is a cheaper resourceVersion. The memo holds the objects it is keyed
        on (their ids cannot be reused while it lives) and keeps only what the latest snapshot
        asked for. ``compute`` must be a pure function of ``node`` and ``pods``."""
        key: _NodeKey = (id(node), tuple(id(p) for p in pods))
        memo = self._node_memo.get(key)
        if memo is None:
            memo = self._previous_node_memo.get(key)
            if (
                memo is None
                or memo[0] is not node
                or any(a is not b for a, b in zip(memo[1], pods, strict=True))
            ):
                memo = (node, tuple(pods), compute())
            self._node_memo[key] = memo
        return memo[2]

    def requirements(self, pod: Mapping[str, Any]) -> PodRequirements:
        """``pod`` read once per (uid, resourceVersion); raises :class:`PodSpecError`."""
        identity = pod_identity(pod)
        cached = self._parsed.get(identity) if identity[1] else None
        if cached is None:
            try:
                cached = PodRequirements.from_pod(pod)
            except PodSpecError as exc:
                cached = exc
            if identity[1]:
                self._parsed[identity] = cached
        if isinstance(cached, PodSpecError):
            raise cached
        if cached.pod is not pod:
            # same version, new dict (a relist): keep the parse, point at the current object
            cached = _rebind(cached, pod)
        return cached

    def node_names(self) -> tuple[str, ...]:
        return tuple(node_name(n) for n in self.nodes)


def _rebind(requirements: PodRequirements, pod: Mapping[str, Any]) -> PodRequirements:
    from dataclasses import replace

    return replace(requirements, pod=pod)


def group_of_nodes(groups: Sequence[NodeGroupState]) -> dict[str, str]:
    """Node name → id of the group it belongs to."""
    return {name: group.id for group in groups for name in group.node_names}
