"""Pod topology spread (``topologySpreadConstraints`` with ``whenUnsatisfiable:
DoNotSchedule``), as kube-scheduler's ``PodTopologySpread`` filter applies it.

A constraint says: among the topology domains (values of ``topologyKey``) of the nodes the pod
could run on, the number of matching pods in the chosen domain, with this pod added, may exceed
the smallest domain's count by at most ``maxSkew``. What counts, as upstream:

* domains come from nodes that carry the key and — with the default ``nodeAffinityPolicy:
  Honor`` — pass the pod's nodeSelector and required node affinity; taints are ignored unless
  ``nodeTaintsPolicy: Honor``;
* matching pods are those in the pod's namespace whose labels the selector matches
  (``matchLabelKeys`` folded in with the pod's own values), not terminal and not terminating;
* with fewer eligible domains than ``minDomains`` the global minimum is taken as 0;
* a node without the key fails with "missing required label".

``ScheduleAnyway`` constraints only affect scoring, which the node autoscaler (like Cluster
Autoscaler) ignores, so they are not read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from podscaler.api.selectors import LabelSelector, Operator, Requirement, SelectorError

__all__ = [
    "REASON_SPREAD",
    "REASON_SPREAD_MISSING_LABEL",
    "SpreadConstraint",
    "SpreadCounts",
    "read_spread_constraints",
]

REASON_SPREAD: Final = "node(s) didn't match pod topology spread constraints"
REASON_SPREAD_MISSING_LABEL: Final = (
    "node(s) didn't match pod topology spread constraints (missing required label)"
)


@dataclass(frozen=True)
class SpreadConstraint:
    max_skew: int
    topology_key: str
    #: None when the selector is absent or unreadable: it then matches no pod.
    selector: LabelSelector | None
    min_domains: int = 1
    honor_node_affinity: bool = True
    honor_node_taints: bool = False

    def matches(self, namespace: str, pod: Mapping[str, Any]) -> bool:
        """Whether ``pod`` counts toward this constraint of a pod in ``namespace``."""
        if self.selector is None:
            return False
        meta = pod.get("metadata") or {}
        if (meta.get("namespace") or "default") != namespace or meta.get("deletionTimestamp"):
            return False
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            return False
        labels = meta.get("labels")
        return self.selector.matches(labels if isinstance(labels, Mapping) else {})


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def read_spread_constraints(pod: Mapping[str, Any]) -> tuple[SpreadConstraint, ...]:
    """The pod's ``DoNotSchedule`` constraints; malformed entries are skipped (the API server
    validates them, and a constraint that cannot be read must not make a pod unplaceable)."""
    spec = pod.get("spec") or {}
    raw = spec.get("topologySpreadConstraints") if isinstance(spec, Mapping) else None
    if not isinstance(raw, list):
        return ()
    meta = pod.get("metadata") or {}
    own = meta.get("labels") if isinstance(meta, Mapping) else None
    own_labels: Mapping[str, Any] = own if isinstance(own, Mapping) else {}
    found: list[SpreadConstraint] = []
    for item in raw:
        if not isinstance(item, Mapping) or item.get("whenUnsatisfiable") != "DoNotSchedule":
            continue
        key = item.get("topologyKey")
        skew = _int(item.get("maxSkew"), 0)
        if not isinstance(key, str) or not key or skew < 1:
            continue
        selector: LabelSelector | None = None
        raw_selector = item.get("labelSelector")
        if isinstance(raw_selector, Mapping):
            try:
                base = LabelSelector.from_dict(raw_selector)
                extra = [
                    Requirement.build(k, Operator.IN, [str(own_labels[k])])
                    for k in item.get("matchLabelKeys") or []
                    if isinstance(k, str) and k in own_labels
                ]
                selector = LabelSelector((*base.requirements, *extra))
            except SelectorError:
                selector = None
        found.append(
            SpreadConstraint(
                max_skew=skew,
                topology_key=key,
                selector=selector,
                min_domains=max(1, _int(item.get("minDomains"), 1)),
                honor_node_affinity=item.get("nodeAffinityPolicy", "Honor") != "Ignore",
                honor_node_taints=item.get("nodeTaintsPolicy") == "Honor",
            )
        )
    return tuple(found)


@dataclass(frozen=True)
class SpreadCounts:
    """One constraint evaluated over the cluster for one incoming pod: matching pods per
    domain (every eligible domain present, possibly with 0), the global minimum, and whether
    the incoming pod matches its own selector (then it adds one to the domain it lands in)."""

    constraint: SpreadConstraint
    counts: Mapping[str, int]
    global_min: int
    self_match: bool

    @classmethod
    def build(
        cls,
        constraint: SpreadConstraint,
        pod: Mapping[str, Any],
        namespace: str,
        eligible: Iterable[tuple[Mapping[str, str], Iterable[Mapping[str, Any]]]],
    ) -> SpreadCounts:
        """``eligible`` yields (node labels, pods on the node) for the nodes whose domains
        count (the caller applies the affinity/taint policies)."""
        counts: dict[str, int] = {}
        for node_labels, pods in eligible:
            domain = node_labels.get(constraint.topology_key)
            if domain is None:
                continue
            counts[domain] = counts.get(domain, 0) + sum(
                1 for other in pods if constraint.matches(namespace, other)
            )
        if len(counts) < constraint.min_domains or not counts:
            global_min = 0
        else:
            global_min = min(counts.values())
        meta = pod.get("metadata") or {}
        own = meta.get("labels") if isinstance(meta, Mapping) else None
        self_match = constraint.selector is not None and constraint.selector.matches(
            own if isinstance(own, Mapping) else {}
        )
        return cls(constraint, counts, global_min, self_match)

    def adding(self, domain: str, amount: int) -> SpreadCounts:
        """These counts with ``amount`` more matching pods in ``domain`` (0 opens a domain)."""
        counts = dict(self.counts)
        counts[domain] = counts.get(domain, 0) + amount
        global_min = 0 if len(counts) < self.constraint.min_domains else min(counts.values())
        return SpreadCounts(self.constraint, counts, global_min, self.self_match)

    def failure(self, node_labels: Mapping[str, str]) -> str | None:
        """The reason a node is rejected, or None when the pod may land there."""
        domain = node_labels.get(self.constraint.topology_key)
        if domain is None:
            return REASON_SPREAD_MISSING_LABEL
        count = self.counts.get(domain, 0) + (1 if self.self_match else 0)
        if count - self.global_min > self.constraint.max_skew:
            return REASON_SPREAD
        return None
