"""Cluster size as CPA counts it: nodes and cores, all of them and the schedulable ones.

Upstream (``k8sclient.GetClusterStatus``, reference/algorithms.md C.2): a node is schedulable
when ``spec.unschedulable`` is not set and its ``Ready`` condition is ``True``; cores are the
*sum* of ``status.allocatable.cpu`` rounded up to a whole core once, after summing (three nodes
of 3500m are 11 cores, not 12), and allocatable is used, not capacity.

Quantities are held as whole nano-cores (apimachinery keeps no finer precision), so sums are
exact integers and rounding happens once, in :func:`cores_of`.

:func:`cluster_status` counts from scratch, as upstream does on every poll. A controller that
sees one node change at a time keeps a :class:`ClusterTally` instead: each change costs O(1)
whatever the cluster's size, and a change that does not move any count (a heartbeat, a label
another selector cares about) is recognised as such.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from podscaler.api.quantities import Quantity, QuantityError

__all__ = [
    "NANOCORES_PER_CORE",
    "ClusterStatus",
    "ClusterTally",
    "NodeFacts",
    "cluster_status",
    "cores_of",
    "cpu_nanocores",
    "node_facts",
]

NANOCORES_PER_CORE: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """Upstream's ``ClusterStatus``: the four counts every mode chooses from."""

    total_nodes: int
    schedulable_nodes: int
    total_cores: int
    schedulable_cores: int

    def counted(self, include_unschedulable_nodes: bool) -> tuple[int, int]:
        """(nodes, cores) a mode uses: the totals with ``includeUnschedulableNodes``, else
        the schedulable counts."""
        if include_unschedulable_nodes:
            return self.total_nodes, self.total_cores
        return self.schedulable_nodes, self.schedulable_cores


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What one node contributes. ``cpu_unreadable`` marks an allocatable cpu that is not a
    quantity (counted as zero; the API server would not have stored it)."""

    schedulable: bool
    cpu_nanocores: int
    cpu_unreadable: bool = False


def cores_of(nanocores: int) -> int:
    """``Quantity.Value()`` of a sum: whole cores, rounded away from zero."""
    whole, rest = divmod(abs(nanocores), NANOCORES_PER_CORE)
    cores = whole + (1 if rest else 0)
    return -cores if nanocores < 0 else cores


@functools.lru_cache(maxsize=256)
def cpu_nanocores(text: str | int) -> int:
    """An allocatable cpu quantity in nano-cores; :class:`QuantityError` when unreadable.

    Cached: the nodes of a group all carry the same few strings.
    """
    value = Quantity(text).value
    return int(value * Decimal(NANOCORES_PER_CORE))


def _ready(status: Mapping[str, Any]) -> bool:
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return False
    return any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in conditions
    )


def node_facts(node: Mapping[str, Any]) -> NodeFacts:
    """What a Node object (its JSON) contributes to the counts."""
    spec = node.get("spec")
    status = node.get("status")
    spec = spec if isinstance(spec, Mapping) else {}
    status = status if isinstance(status, Mapping) else {}
    schedulable = not spec.get("unschedulable") and _ready(status)
    allocatable = status.get("allocatable")
    raw = allocatable.get("cpu") if isinstance(allocatable, Mapping) else None
    if raw is None:
        return NodeFacts(schedulable, 0)
    try:
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise QuantityError(f"not a quantity: {raw!r}")
        return NodeFacts(schedulable, cpu_nanocores(raw))
    except QuantityError:
        return NodeFacts(schedulable, 0, cpu_unreadable=True)


def cluster_status(facts: Iterable[NodeFacts]) -> ClusterStatus:
    """The counts over *facts*, from scratch."""
    total_nodes = schedulable_nodes = total_nano = schedulable_nano = 0
    for fact in facts:
        total_nodes += 1
        total_nano += fact.cpu_nanocores
        if fact.schedulable:
            schedulable_nodes += 1
            schedulable_nano += fact.cpu_nanocores
    return ClusterStatus(
        total_nodes, schedulable_nodes, cores_of(total_nano), cores_of(schedulable_nano)
    )


class ClusterTally:
    """Running counts over a changing set of nodes, by name.

    :meth:`put` and :meth:`remove` answer whether the :class:`ClusterStatus` may have changed,
    so a caller can skip deciding again when it did not.
    """

    __slots__ = (
        "_facts",
        "_schedulable_nano",
        "_schedulable_nodes",
        "_total_nano",
    )

    def __init__(self) -> None:
        self._facts: dict[str, NodeFacts] = {}
        self._schedulable_nodes = 0
        self._total_nano = 0
        self._schedulable_nano = 0

    def __len__(self) -> int:
        return len(self._facts)

    def __contains__(self, name: object) -> bool:
        return name in self._facts

    def _add(self, facts: NodeFacts, sign: int) -> None:
        self._total_nano += sign * facts.cpu_nanocores
        if facts.schedulable:
            self._schedulable_nodes += sign
            self._schedulable_nano += sign * facts.cpu_nanocores

    def put(self, name: str, facts: NodeFacts) -> bool:
        """Count node *name* with *facts* (replacing what it contributed before)."""
        old = self._facts.get(name)
        if old == facts:
            return False
        if old is not None:
            self._add(old, -1)
        self._facts[name] = facts
        self._add(facts, +1)
        return True

    def remove(self, name: str) -> bool:
        """Stop counting node *name*; False when it was not counted."""
        old = self._facts.pop(name, None)
        if old is None:
            return False
        self._add(old, -1)
        return True

    def status(self) -> ClusterStatus:
        return ClusterStatus(
            len(self._facts),
            self._schedulable_nodes,
            cores_of(self._total_nano),
            cores_of(self._schedulable_nano),
        )
