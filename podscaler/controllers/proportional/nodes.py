"""The cluster's size per node selector, kept current from the Node informer's events.

Upstream CPA lists every node on each poll and adds up their allocatable CPU; at thousands of
nodes and a poll every ten seconds that is most of its work. Here each Node event updates one
:class:`~podscaler.engine.cpa.ClusterTally` per distinct node selector in use, in O(1), and
says which tallies changed, so only the ProportionalScalers that count those nodes decide
again. Node updates that move no count (heartbeats, annotations, a label no selector cares
about) change nothing and wake nobody.

Nodes are cached trimmed (:func:`trim_node`, the informer's transform) to what counting needs,
as upstream trims its node informer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podscaler.api.selectors import LabelSelector
from podscaler.engine.cpa import ClusterStatus, ClusterTally, NodeFacts, node_facts
from podscaler.kube.kinds import NODES

__all__ = ["NODES", "NodeCounts", "trim_node"]


Obj = dict[str, Any]


def trim_node(node: Obj) -> Obj:
    """The parts of a Node that counting reads: name, labels and version, ``unschedulable``,
    allocatable cpu and the Ready condition's status."""
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or {}
    ready = [
        {"type": "Ready", "status": c.get("status")}
        for c in status.get("conditions") or ()
        if isinstance(c, Mapping) and c.get("type") == "Ready"
    ]
    trimmed_status: Obj = {"conditions": ready}
    if isinstance(allocatable, Mapping) and "cpu" in allocatable:
        trimmed_status["allocatable"] = {"cpu": allocatable["cpu"]}
    return {
        "apiVersion": node.get("apiVersion", "v1"),
        "kind": node.get("kind", "Node"),
        "metadata": {
            key: meta[key] for key in ("name", "uid", "resourceVersion", "labels") if key in meta
        },
        "spec": {"unschedulable": bool(spec.get("unschedulable"))},
        "status": trimmed_status,
    }


def _labels(node: Mapping[str, Any]) -> dict[str, str]:
    labels = (node.get("metadata") or {}).get("labels")
    return dict(labels) if isinstance(labels, Mapping) else {}


def _name(node: Mapping[str, Any]) -> str:
    return str((node.get("metadata") or {}).get("name") or "")


@dataclass
class _Counted:
    selector: LabelSelector
    tally: ClusterTally = field(default_factory=ClusterTally)
    users: int = 0


class NodeCounts:
    """One tally per node selector in use (keyed by the selector's canonical string; ``""`` is
    every node), fed node by node."""

    def __init__(self) -> None:
        self._nodes: dict[str, tuple[dict[str, str], NodeFacts]] = {}
        self._counted: dict[str, _Counted] = {}
        #: Nodes whose allocatable cpu is not a quantity (counted as zero), for logs.
        self.unreadable: set[str] = set()

    def __len__(self) -> int:
        return len(self._nodes)

    def acquire(self, selector: LabelSelector) -> str:
        """Start (or share) counting the nodes *selector* matches; returns its key."""
        key = str(selector)
        counted = self._counted.get(key)
        if counted is None:
            counted = self._counted[key] = _Counted(selector)
            for name, (labels, facts) in self._nodes.items():
                if selector.matches(labels):
                    counted.tally.put(name, facts)
        counted.users += 1
        return key

    def release(self, key: str) -> None:
        counted = self._counted.get(key)
        if counted is None:
            return
        counted.users -= 1
        if counted.users <= 0:
            del self._counted[key]

    def status(self, key: str) -> ClusterStatus:
        return self._counted[key].tally.status()

    def put(self, node: Mapping[str, Any]) -> set[str]:
        """Count *node* as it is now; returns the keys whose counts changed."""
        name = _name(node)
        labels = _labels(node)
        facts = node_facts(node)
        if facts.cpu_unreadable:
            self.unreadable.add(name)
        else:
            self.unreadable.discard(name)
        if self._nodes.get(name) == (labels, facts):
            return set()
        self._nodes[name] = (labels, facts)
        changed = set()
        for key, counted in self._counted.items():
            if counted.selector.matches(labels):
                moved = counted.tally.put(name, facts)
            else:
                moved = counted.tally.remove(name)
            if moved:
                changed.add(key)
        return changed

    def remove(self, node: Mapping[str, Any]) -> set[str]:
        """Stop counting *node*; returns the keys whose counts changed."""
        name = _name(node)
        self.unreadable.discard(name)
        if self._nodes.pop(name, None) is None:
            return set()
        return {key for key, counted in self._counted.items() if counted.tally.remove(name)}
