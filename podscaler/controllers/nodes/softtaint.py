"""The soft taint on unneeded nodes (CA's ``core/scaledown/actuation/softtaint.go``).

Each pass, nodes the planner found unneeded get
``DeletionCandidateOfClusterAutoscaler=<unix time>:PreferNoSchedule``: the scheduler then
places new pods elsewhere when it can, so an unneeded node does not fill up again during its
``--scale-down-unneeded-time`` and drains by itself. A node that is needed again (no longer
unneeded, and not being removed) loses the taint. Removing comes first, then adding, sharing
one budget per pass of ``--max-bulk-soft-taint-count`` nodes (0 turns the soft taint off) and
``--max-bulk-soft-taint-time``, as CA, so a thousand nodes turning unneeded at once do not
hold the loop; the rest follow in the next passes.

Each change is a merge patch of ``spec.taints`` under the node's ``resourceVersion`` (a
conflict re-reads and tries again), so a concurrent change is never overwritten.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import Conflict, KubeError
from podscaler.nodes.options import NodeAutoscalerOptions
from podscaler.nodes.templates import TAINT_DELETION_CANDIDATE

__all__ = ["SoftTaintResult", "SoftTainter", "has_soft_taint"]

log = logging.getLogger(__name__)

#: Attempts at one node's patch when its resourceVersion keeps moving.
_ATTEMPTS: Final = 3

Obj = dict[str, Any]


def has_soft_taint(node: Mapping[str, Any]) -> bool:
    taints = (node.get("spec") or {}).get("taints") or []
    return any(isinstance(t, Mapping) and t.get("key") == TAINT_DELETION_CANDIDATE for t in taints)


@dataclass
class SoftTaintResult:
    """What one pass changed (tests and logs)."""

    tainted: list[str] = field(default_factory=list)
    untainted: list[str] = field(default_factory=list)
    #: changes left for the next pass (the budget ran out)
    deferred: int = 0


@dataclass
class SoftTainter:
    """See the module docstring. ``clock`` gives Unix seconds (the taint's value)."""

    kube: Kube
    options: NodeAutoscalerOptions
    clock: Callable[[], float]
    dry_run: bool = False

    async def update(
        self,
        nodes: Sequence[Mapping[str, Any]],
        unneeded: Collection[str],
        removing: Collection[str],
    ) -> SoftTaintResult:
        """Taint the ``unneeded`` nodes, untaint the others that carry the taint (except the
        ones being ``removing``: their hard taint takes over)."""
        result = SoftTaintResult()
        untaint = []
        taint = []
        for node in nodes:
            name = str((node.get("metadata") or {}).get("name"))
            marked = has_soft_taint(node)
            if marked and name not in unneeded and name not in removing:
                untaint.append(name)
            elif not marked and name in unneeded and name not in removing:
                taint.append(name)
        if self.dry_run:
            return result
        budget = self.options.max_bulk_soft_taint_count
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.max_bulk_soft_taint_time_seconds
        work = [(n, False) for n in sorted(untaint)] + [(n, True) for n in sorted(taint)]
        for index, (name, add) in enumerate(work):
            if budget <= 0 or loop.time() > deadline:
                result.deferred = len(work) - index
                break
            budget -= 1
            try:
                changed = await self._patch(name, add)
            except KubeError as exc:
                log.warning(
                    "could not %s node %s: %s", "soft-taint" if add else "untaint", name, exc
                )
                continue
            if changed:
                (result.tainted if add else result.untainted).append(name)
        if result.tainted or result.untainted:
            log.debug("soft taint: added to %s, removed from %s", result.tainted, result.untainted)
        return result

    async def _patch(self, name: str, add: bool) -> bool:
        """Add or remove the taint on ``name``; False when there was nothing to do."""
        stamp = str(int(self.clock()))
        for _ in range(_ATTEMPTS):
            node = await self.kube.request("GET", f"/api/v1/nodes/{name}")
            spec = node.get("spec") or {}
            current = [t for t in spec.get("taints") or [] if isinstance(t, Mapping)]
            others = [t for t in current if t.get("key") != TAINT_DELETION_CANDIDATE]
            if add == (len(others) != len(current)):
                return False
            taints: list[Mapping[str, Any]] | None = others
            if add:
                soft = {"key": TAINT_DELETION_CANDIDATE, "value": stamp}
                taints = [*others, {**soft, "effect": "PreferNoSchedule"}]
            version = (node.get("metadata") or {}).get("resourceVersion")
            body: Obj = {
                "metadata": {"resourceVersion": version},
                "spec": {"taints": taints or None},
            }
            try:
                await self.kube.request(
                    "PATCH", f"/api/v1/nodes/{name}", body=body, content_type=MERGE_PATCH
                )
                return True
            except Conflict:
                continue
        raise KubeError(f"node {name} kept changing while its soft taint was updated")
