"""A working copy of the cluster for one planning pass, and the index that makes "the first
node this pod fits on" cheap at a thousand nodes.

Every question the planner asks — does this pending pod fit on existing free room, how many
template nodes does this group of pods need, can this node's pods go elsewhere — is a sequence
of "place pod P on the first node (in a fixed order) where the predicates pass". Asked naively
that is every predicate for every node for every pod. :class:`ClusterSim` answers it with:

* **static answers remembered per kind of node.** Unschedulable, node name, taints and node
  affinity depend only on the node's spec and labels, which placing pods never changes. Nodes
  are grouped by signature (taints, unschedulable, labels other than the hostname) and a pod
  shape's static verdict is computed once per signature. Pods whose rules name a node
  (``nodeName``, a hostname selector, ``matchFields``) are checked per node.
* **integer resource checks first.** The free room of every node is kept as plain ints and
  compared before anything that builds objects.
* **topology only when it matters.** The inter-pod index (affinity, anti-affinity, spread) is
  built only for pods with such rules or when a placed pod's anti-affinity could select them,
  and updated after each placement instead of rebuilt (``TopologyIndex.after_placing``).
* **monotone sweeps for identical pods.** When nothing about a pod shape depends on other
  pods' positions, a node that rejects one copy rejects every later copy, so a group of
  identical pods is placed by one sweep over the nodes.

``ClusterSim(states, indexed=False)`` disables all of it and runs the full predicates against
every node for every pod: the baseline the benchmark compares against, and the reference the
property tests check the index against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from podscaler.nodes.nodestate import NodeState
from podscaler.nodes.podindex import PlacedPods
from podscaler.nodes.predicates import (
    AffinityTerm,
    NodeFailure,
    PodRequirements,
    TopologyIndex,
    dynamic_failure,
    node_failure,
    required_anti_affinity,
    spread_eligible,
    static_failure,
)
from podscaler.nodes.spread import SpreadConstraint, SpreadCounts

__all__ = ["ClusterSim", "Placement"]

HOSTNAME: Final = "kubernetes.io/hostname"
_EMPTY: Final = TopologyIndex()

_StaticKey = tuple[Any, ...]


def static_key(req: PodRequirements) -> _StaticKey | None:
    """What the static predicates read of the pod, or None when they read the node's name."""
    if req.node_name:
        return None
    keys = set(req.node_selector)
    for term in req.node_affinity or ():
        if term.fields:
            return None
        keys.update(r.key for r in term.labels)
    if HOSTNAME in keys:
        return None
    return (tuple(sorted(req.node_selector.items())), req.node_affinity, req.tolerations)


def _node_signature(state: NodeState) -> tuple[Any, ...]:
    labels = tuple(sorted((k, v) for k, v in state.labels.items() if k != HOSTNAME))
    return (state.unschedulable, state.taints, labels)


@dataclass(frozen=True)
class Placement:
    pod: PodRequirements
    node: str


_GONE: Final = -(1 << 62)


class _FreeRoom:
    """Max-trees of free cpu, free memory and free pod slots over the nodes, in node order:
    the first node with room for a pod is found without visiting the full ones (a subtree
    whose best node lacks room is skipped whole)."""

    __slots__ = ("cpu", "memory", "size", "slots")

    def __init__(self, capacity: int) -> None:
        self.size = 1
        while self.size < max(1, capacity):
            self.size *= 2
        self.cpu = [_GONE] * (2 * self.size)
        self.memory = [_GONE] * (2 * self.size)
        self.slots = [_GONE] * (2 * self.size)

    def copy(self) -> _FreeRoom:
        other = _FreeRoom.__new__(_FreeRoom)
        other.size = self.size
        other.cpu = list(self.cpu)
        other.memory = list(self.memory)
        other.slots = list(self.slots)
        return other

    def set(self, index: int, state: NodeState | None) -> None:
        i = index + self.size
        if state is None:
            cpu = memory = slots = _GONE
        else:
            cpu = state.allocatable.cpu_millicores - state.requested.cpu_millicores
            memory = state.allocatable.memory_bytes - state.requested.memory_bytes
            slots = state.allowed_pods - len(state.pods)
        self.cpu[i], self.memory[i], self.slots[i] = cpu, memory, slots
        i //= 2
        while i:
            left, right = 2 * i, 2 * i + 1
            self.cpu[i] = max(self.cpu[left], self.cpu[right])
            self.memory[i] = max(self.memory[left], self.memory[right])
            self.slots[i] = max(self.slots[left], self.slots[right])
            i //= 2

    def candidates(self, cpu: int, memory: int, start: int = 0) -> Iterator[int]:
        """Node indices from ``start`` on, in order, that might take ``cpu``/``memory`` and
        one more pod (a zero request fits even an overcommitted node, as the scheduler's
        rule)."""
        cpu_floor = cpu if cpu > 0 else _GONE + 1
        memory_floor = memory if memory > 0 else _GONE + 1
        size, cpus, memories, slots = self.size, self.cpu, self.memory, self.slots
        stack = [(1, 0, size)]
        while stack:
            node, low, high = stack.pop()
            if high <= start:
                continue
            if cpus[node] < cpu_floor or memories[node] < memory_floor or slots[node] < 1:
                continue
            if node >= size:
                yield low
                continue
            middle = (low + high) // 2
            stack.append((2 * node + 1, middle, high))
            stack.append((2 * node, low, middle))


class ClusterSim:
    """Node states in a fixed order, mutable for one pass; :meth:`fork` copies cheaply."""

    def __init__(
        self,
        states: Iterable[NodeState] = (),
        *,
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
        indexed: bool = True,
    ) -> None:
        self.indexed = indexed
        self.namespace_labels: Mapping[str, Mapping[str, str]] = namespace_labels or {}
        self._states: list[NodeState | None] = []
        self._index_of: dict[str, int] = {}
        self._signature: list[int] = []
        self._signature_ids: dict[tuple[Any, ...], int] = {}
        self._static_memo: dict[tuple[_StaticKey, int], NodeFailure | None] = {}
        #: required anti-affinity terms of placed pods, with the node they sit on
        self._anti_holders: list[tuple[AffinityTerm, int]] = []
        #: every placed pod, by namespace and label
        self._placed = PlacedPods()
        self._free = _FreeRoom(0)
        #: nodes kept for their topology but taking no pod (being removed)
        self._closed: set[int] = set()
        for state in states:
            self.add_node(state)

    # --- structure

    def fork(self) -> ClusterSim:
        """An independent copy sharing the immutable node states and the static memo."""
        other = ClusterSim.__new__(ClusterSim)
        other.indexed = self.indexed
        other.namespace_labels = self.namespace_labels
        other._states = list(self._states)
        other._index_of = dict(self._index_of)
        other._signature = list(self._signature)
        other._signature_ids = self._signature_ids  # append-only, safe to share
        other._static_memo = self._static_memo  # keyed by signature: safe to share
        other._anti_holders = list(self._anti_holders)
        other._placed = self._placed.fork()
        other._free = self._free.copy()
        other._closed = set(self._closed)
        return other

    def add_node(self, state: NodeState) -> int:
        if state.name in self._index_of:
            raise ValueError(f"node {state.name} is already in the simulation")
        index = len(self._states)
        self._states.append(state)
        self._index_of[state.name] = index
        signature = _node_signature(state)
        self._signature.append(self._signature_ids.setdefault(signature, len(self._signature_ids)))
        for pod in state.pods:
            for term in required_anti_affinity(pod):
                self._anti_holders.append((term, index))
        self._placed.add_node(state.pods)
        if index >= self._free.size:
            grown = _FreeRoom(2 * (index + 1))
            for i, existing in enumerate(self._states):
                grown.set(i, None if i in self._closed else existing)
            self._free = grown
        else:
            self._free.set(index, state)
        return index

    def remove_node(self, name: str) -> NodeState:
        index = self._index_of.pop(name)
        state = self._states[index]
        assert state is not None
        self._states[index] = None
        self._anti_holders = [(t, i) for t, i in self._anti_holders if i != index]
        self._placed.reset_node(index)
        self._free.set(index, None)
        return state

    def replace_node(self, state: NodeState) -> None:
        """Swap a node's state for another of the same name (e.g. with pods taken off)."""
        index = self._index_of[state.name]
        self._states[index] = state
        signature = _node_signature(state)
        self._signature[index] = self._signature_ids.setdefault(signature, len(self._signature_ids))
        self._anti_holders = [(t, i) for t, i in self._anti_holders if i != index]
        for pod in state.pods:
            for term in required_anti_affinity(pod):
                self._anti_holders.append((term, index))
        self._placed.reset_node(index, state.pods)
        self._free.set(index, None if index in self._closed else state)

    def close_node(self, name: str) -> None:
        """Keep the node (its labels still make a topology domain) but place nothing on it:
        a node being removed is no destination, whatever a pod tolerates."""
        index = self._index_of[name]
        self._closed.add(index)
        self._free.set(index, None)

    def has(self, name: str) -> bool:
        return name in self._index_of

    def state(self, name: str) -> NodeState:
        state = self._states[self._index_of[name]]
        assert state is not None
        return state

    def states(self) -> Iterator[NodeState]:
        return (s for s in self._states if s is not None)

    def indices(self) -> list[int]:
        return [i for i, s in enumerate(self._states) if s is not None]

    def at(self, index: int) -> NodeState:
        state = self._states[index]
        assert state is not None
        return state

    def index_of(self, name: str) -> int:
        return self._index_of[name]

    def __len__(self) -> int:
        return len(self._index_of)

    # --- predicates

    def topology(self, req: PodRequirements) -> TopologyIndex:
        """The inter-pod index for ``req`` over the current placement."""
        if not self.indexed:
            # what filter_states does for the world's scheduler: scan every placed pod for
            # anti-affinity, build the index when anything inter-pod is in play
            states = list(self.states())
            needed = req.has_topology_rules or any(
                required_anti_affinity(p) for s in states for p in s.pods
            )
            if not needed:
                return _EMPTY
            return TopologyIndex.build(req, states, self.namespace_labels)
        existing = frozenset(self._existing_anti_affinity(req))
        if req.has_topology_rules:
            return self._indexed_topology(req, existing)
        return TopologyIndex(existing_anti_affinity=existing) if existing else _EMPTY

    def _existing_anti_affinity(self, req: PodRequirements) -> set[tuple[str, str]]:
        """Domains closed to ``req`` by placed pods' required anti-affinity."""
        found: set[tuple[str, str]] = set()
        for term, index in self._anti_holders:
            state = self._states[index]
            if state is None:
                continue
            value = state.labels.get(term.topology_key)
            if value is not None and term.matches(req.pod, self.namespace_labels):
                found.add((term.topology_key, value))
        return found

    def _indexed_topology(
        self, req: PodRequirements, existing: frozenset[tuple[str, str]]
    ) -> TopologyIndex:
        """``TopologyIndex.build`` through the label index (same answer, fewer pods read)."""
        ns_labels = self.namespace_labels
        anti: set[tuple[str, str]] = set()
        for term in req.anti_affinity_terms:
            spaces = None if term.namespace_selector is not None else term.namespaces
            for pod, index in self._placed.selected(term.selector, spaces):
                value = self.at(index).labels.get(term.topology_key)
                if value is not None and term.matches(pod, ns_labels):
                    anti.add((term.topology_key, value))
        affinity: set[tuple[str, str]] = set()
        if req.affinity_terms:
            first = req.affinity_terms[0]
            spaces = None if first.namespace_selector is not None else first.namespaces
            for pod, index in self._placed.selected(first.selector, spaces):
                if all(t.matches(pod, ns_labels) for t in req.affinity_terms):
                    labels = self.at(index).labels
                    for term in req.affinity_terms:
                        value = labels.get(term.topology_key)
                        if value is not None:
                            affinity.add((term.topology_key, value))
        self_match = bool(req.affinity_terms) and all(
            t.matches(req.pod, ns_labels) for t in req.affinity_terms
        )
        spread = tuple(self._spread_counts(req, c) for c in req.spread)
        return TopologyIndex(frozenset(anti), existing, frozenset(affinity), self_match, spread)

    def _spread_counts(self, req: PodRequirements, constraint: SpreadConstraint) -> SpreadCounts:
        key = constraint.topology_key
        eligible: set[int] = set()
        counts: dict[str, int] = {}
        for index, state in enumerate(self._states):
            if state is None or key not in state.labels:
                continue
            if spread_eligible(req, constraint, state):
                eligible.add(index)
                counts.setdefault(state.labels[key], 0)
        for pod, index in self._placed.selected(constraint.selector, (req.namespace,)):
            if index in eligible and constraint.matches(req.namespace, pod):
                counts[self.at(index).labels[key]] += 1
        if len(counts) < constraint.min_domains or not counts:
            global_min = 0
        else:
            global_min = min(counts.values())
        self_match = constraint.selector is not None and constraint.selector.matches(req.labels)
        return SpreadCounts(constraint, counts, global_min, self_match)

    def static_failure(self, req: PodRequirements, index: int, key: _StaticKey | None) -> bool:
        state = self._states[index]
        assert state is not None
        if key is None:
            return static_failure(req, state) is not None
        memo_key = (key, self._signature[index])
        try:
            return self._static_memo[memo_key] is not None
        except KeyError:
            verdict = static_failure(req, state)
            self._static_memo[memo_key] = verdict
            return verdict is not None

    def failure(
        self, req: PodRequirements, name: str, topology: TopologyIndex | None = None
    ) -> NodeFailure | None:
        """The full predicate verdict for one node (for explanations)."""
        state = self.state(name)
        return node_failure(req, state, topology if topology is not None else self.topology(req))

    def fits(self, req: PodRequirements, index: int, topology: TopologyIndex) -> bool:
        state = self._states[index]
        if state is None or index in self._closed:
            return False
        if not self.indexed:
            return node_failure(req, state, topology) is None
        if not _room(req, state):
            return False
        if self.static_failure(req, index, static_key(req)):
            return False
        return dynamic_failure(req, state, topology) is None

    def first_fit(
        self,
        req: PodRequirements,
        topology: TopologyIndex | None = None,
        *,
        among: Iterable[int] | None = None,
        accept: Callable[[NodeState], bool] | None = None,
    ) -> int | None:
        """The first node (in order, or in ``among``'s order) where ``req`` fits."""
        topo = topology if topology is not None else self.topology(req)
        order: Iterable[int] = among if among is not None else range(len(self._states))
        if not self.indexed:
            for index in order:
                state = self._states[index]
                if state is None or index in self._closed:
                    continue
                if accept is not None and not accept(state):
                    continue
                if node_failure(req, state, topo) is None:
                    return index
            return None
        key = static_key(req)
        if among is None:
            order = self._free.candidates(req.requests.cpu_millicores, req.requests.memory_bytes)
        closed = self._closed
        for index in order:
            state = self._states[index]
            if state is None or index in closed or not _room(req, state):
                continue
            if accept is not None and not accept(state):
                continue
            if self.static_failure(req, index, key):
                continue
            if dynamic_failure(req, state, topo) is None:
                return index
        return None

    def place(self, req: PodRequirements, index: int, count: int = 1) -> NodeState:
        """Put ``count`` copies of ``req``'s pod on node ``index``; returns the new state."""
        state = self._states[index]
        assert state is not None
        new = state.with_parsed(
            req.pod, req.requests, req.nonzero_requests, req.host_ports, count=count
        )
        self._states[index] = new
        self._placed.add_pod(req.pod, index, count)
        self._free.set(index, None if index in self._closed else new)
        if req.anti_affinity_terms:
            self._anti_holders.extend((term, index) for term in req.anti_affinity_terms)
        return new

    def place_all(
        self,
        reqs: Sequence[PodRequirements],
        *,
        same_shape: bool = False,
        among: Sequence[int] | None = None,
        accept: Callable[[NodeState], bool] | None = None,
        stop_at_first_failure: bool = False,
    ) -> list[tuple[PodRequirements, int | None]]:
        """First-fit each pod in turn (the order is the placement order).

        With ``same_shape`` (an equivalence group: one spec, one label set) the topology index
        is built once and updated per placement, and when the shape's rules are monotone —
        placing pods only ever closes nodes (resources, host ports, anti-affinity), never opens
        them (affinity, spread) — the search for each copy resumes where the previous landed.
        ``accept`` must not depend on what is placed.
        """
        results: list[tuple[PodRequirements, int | None]] = []
        order = list(among) if among is not None else None
        start = 0
        topo: TopologyIndex | None = None
        for position, req in enumerate(reqs):
            if topo is None or not same_shape or not self.indexed:
                topo = self.topology(req)
            monotone = same_shape and self.indexed and not req.affinity_terms and not req.spread
            span: Iterable[int] | None
            if order is not None:
                span = order[start:] if monotone else order
            elif monotone and self.indexed:
                span = self._free.candidates(
                    req.requests.cpu_millicores, req.requests.memory_bytes, start
                )
            else:
                span = None  # the free-room tree, from the first node
            found = self.first_fit(req, topo, among=span, accept=accept)
            results.append((req, found))
            if found is None:
                if stop_at_first_failure or monotone:
                    # a monotone shape that fits nowhere now fits nowhere later either
                    results.extend((r, None) for r in reqs[position + 1 :])
                    return results
                continue
            new_state = self.place(req, found)
            if same_shape and self.indexed and req.has_topology_rules:
                topo = topo.after_placing(req, req, new_state, self.namespace_labels)
            if monotone:
                start = order.index(found) if order is not None else found
        return results

    def place_copies(
        self,
        req: PodRequirements,
        count: int,
        *,
        among: Sequence[int] | None = None,
    ) -> list[tuple[int, int]]:
        """Place up to ``count`` copies of one pod shape, each on the first node that takes
        it, stopping at the first copy that fits nowhere (its equals would not fit either).
        Returns (node index, copies) in placement order.

        A shape with no inter-pod rules is monotone — a node that refuses one copy refuses
        every later one — so each node is visited once and filled in one step.
        """
        topo = self.topology(req)
        placed: list[tuple[int, int]] = []
        remaining = count
        if self.indexed and not req.has_topology_rules and not topo.existing_anti_affinity:
            # placing on the node just yielded never hides a later one from the tree walk
            order: Iterable[int] = (
                among
                if among is not None
                else self._free.candidates(req.requests.cpu_millicores, req.requests.memory_bytes)
            )
            for index in order:
                if remaining <= 0:
                    break
                if not self.fits(req, index, topo):
                    continue
                copies = min(remaining, count_fitting(req, self.at(index)))
                if req.host_ports:
                    copies = min(copies, 1)  # its own host ports conflict with a copy
                self.place(req, index, copies)
                placed.append((index, copies))
                remaining -= copies
            return placed
        while remaining > 0:
            if not self.indexed:
                topo = self.topology(req)
            found = self.first_fit(req, topo, among=among)
            if found is None:
                break
            new_state = self.place(req, found)
            if self.indexed:
                topo = topo.after_placing(req, req, new_state, self.namespace_labels)
            if placed and placed[-1][0] == found:
                placed[-1] = (found, placed[-1][1] + 1)
            else:
                placed.append((found, 1))
            remaining -= 1
        return placed


def _room(req: PodRequirements, state: NodeState) -> bool:
    """The integer part of NodeResourcesFit: pod slots, cpu, memory, storage, extended."""
    if len(state.pods) >= state.allowed_pods:
        return False
    want, have, used = req.requests, state.allocatable, state.requested
    if want.cpu_millicores and want.cpu_millicores > have.cpu_millicores - used.cpu_millicores:
        return False
    if want.memory_bytes and want.memory_bytes > have.memory_bytes - used.memory_bytes:
        return False
    if (
        want.ephemeral_storage_bytes
        and want.ephemeral_storage_bytes
        > have.ephemeral_storage_bytes - used.ephemeral_storage_bytes
    ):
        return False
    for name, amount in want.extended:
        if amount and amount > have.extended_amount(name) - used.extended_amount(name):
            return False
    return True


def count_fitting(req: PodRequirements, state: NodeState) -> int:
    """How many copies of ``req`` fit on ``state`` by resources and pod slots alone."""
    slots = state.allowed_pods - len(state.pods)
    want, have, used = req.requests, state.allocatable, state.requested
    pairs = [
        (want.cpu_millicores, have.cpu_millicores - used.cpu_millicores),
        (want.memory_bytes, have.memory_bytes - used.memory_bytes),
        (want.ephemeral_storage_bytes, have.ephemeral_storage_bytes - used.ephemeral_storage_bytes),
        *(
            (amount, have.extended_amount(name) - used.extended_amount(name))
            for name, amount in want.extended
        ),
    ]
    best = max(0, slots)
    for amount, free in pairs:
        if amount > 0:
            best = min(best, max(0, free // amount))
    return best
