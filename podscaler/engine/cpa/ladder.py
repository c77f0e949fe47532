"""Ladder mode: replicas looked up in step tables of cores and of nodes (algorithms.md C.4).

A table is a list of (threshold, replicas) steps sorted by threshold; the step that applies is
the one with the largest threshold not above the count. A count below every threshold gets the
*first* step's replicas (not 0): ``[[1, 1], ...]`` with no cores gives 1. An empty table
contributes 0, and ladder has no min, max or single-point-failure rule, so it can return 0
(``nodesToReplicas [[0, 0], [6, 1]]`` below six nodes). The larger of the two lookups wins.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from podscaler.engine.cpa.cluster import ClusterStatus
from podscaler.engine.cpa.linear import INT32_MAX
from podscaler.engine.cpa.params import Entry, LadderParams

__all__ = ["LadderDecision", "LadderLookup", "decide_ladder", "ladder_lookup", "ladder_step"]


def ladder_step(resources: int, entries: Sequence[Entry]) -> int | None:
    """Index of the step that applies to *resources* in *entries* (sorted by threshold), or
    ``None`` for an empty table."""
    if not entries:
        return None
    position = bisect.bisect_right(entries, resources, key=lambda entry: entry[0])
    return position - 1 if position > 0 else 0


def ladder_lookup(resources: int, entries: Sequence[Entry]) -> int:
    """Upstream's ``getExpectedReplicasFromEntries``."""
    index = ladder_step(resources, entries)
    return 0 if index is None else entries[index][1]


@dataclass(frozen=True, slots=True)
class LadderLookup:
    """One table's lookup: the count, the step used (None: empty table) and its replicas."""

    table: Literal["coresToReplicas", "nodesToReplicas"]
    amount: int
    step: Entry | None
    replicas: int

    @property
    def below_first_step(self) -> bool:
        return self.step is not None and self.amount < self.step[0]

    def describe(self) -> str:
        unit = "cores" if self.table == "coresToReplicas" else "nodes"
        if self.step is None:
            return f"{self.table} empty: 0"
        where = "below the first step, so" if self.below_first_step else "at"
        return (
            f"{self.amount} {unit}: {self.table} {where} step "
            f"[{self.step[0]} {self.step[1]}]: {self.replicas}"
        )


def _lookup(
    table: Literal["coresToReplicas", "nodesToReplicas"], amount: int, entries: Sequence[Entry]
) -> LadderLookup:
    index = ladder_step(amount, entries)
    if index is None:
        return LadderLookup(table, amount, None, 0)
    step = entries[index]
    return LadderLookup(table, amount, step, step[1])


@dataclass(frozen=True, slots=True)
class LadderDecision:
    params: LadderParams
    nodes: int
    cores: int
    from_cores: LadderLookup
    from_nodes: LadderLookup
    replicas: int

    @property
    def winner(self) -> LadderLookup:
        return (
            self.from_cores
            if self.from_cores.replicas > self.from_nodes.replicas
            else (self.from_nodes)
        )

    @property
    def rule(self) -> str:
        """``coresToReplicas`` or ``nodesToReplicas`` (the table whose step decided), with
        ``belowFirstStep`` when the count was under every threshold, or ``empty``."""
        winner = self.winner
        if winner.step is None:
            return "empty"
        step = f"{winner.table} step [{winner.step[0]} {winner.step[1]}]"
        return f"{step}, belowFirstStep" if winner.below_first_step else step

    def lines(self) -> list[str]:
        return [
            "from cores: " + self.from_cores.describe(),
            "from nodes: " + self.from_nodes.describe(),
            f"replicas = max({self.from_cores.replicas}, {self.from_nodes.replicas}) = "
            f"{self.replicas} ({self.rule})",
        ]


def decide_ladder(params: LadderParams, status: ClusterStatus) -> LadderDecision:
    """Upstream's ``LadderController.GetExpectedReplicas`` over steps sorted as its
    ``SyncConfig`` sorts them, with its reasons."""
    ordered = params.sorted()
    nodes, cores = status.counted(params.include_unschedulable_nodes)
    from_cores = _lookup("coresToReplicas", cores, ordered.cores_to_replicas)
    from_nodes = _lookup("nodesToReplicas", nodes, ordered.nodes_to_replicas)
    replicas = (
        from_cores.replicas if from_cores.replicas > from_nodes.replicas else (from_nodes.replicas)
    )
    return LadderDecision(
        params=params,
        nodes=nodes,
        cores=cores,
        from_cores=from_cores,
        from_nodes=from_nodes,
        replicas=min(replicas, INT32_MAX),
    )
