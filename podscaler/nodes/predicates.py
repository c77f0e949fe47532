"""kube-scheduler's Filter predicates, as pure functions over plain API dicts.

Two consumers need the same answer to "can this pod run on that node, and if not, why": the
embedded cluster's scheduler (which must leave ``PodScheduled=False/Unschedulable`` with the
message users know from ``kubectl describe pod``) and, later, the node autoscaler's binpacking
(which asks the same question of template nodes that do not exist yet). One implementation
keeps them from disagreeing — the disagreement Cluster Autoscaler guards against with its
"filter out schedulable" step.

For each node the predicates run in the default profile's order and stop at the first plugin
that rejects the node, as the scheduling framework does; that plugin's reasons are what the
node contributes to the message:

1. ``NodeUnschedulable`` — ``spec.unschedulable`` unless the pod tolerates
   ``node.kubernetes.io/unschedulable:NoSchedule``;
2. ``NodeName`` — ``spec.nodeName``, if the pod names a node;
3. ``TaintToleration`` — the first ``NoSchedule``/``NoExecute`` taint the pod does not
   tolerate (``PreferNoSchedule`` only matters to scoring); not-ready nodes carry an implied
   taint (:func:`podscaler.nodes.nodestate.effective_taints`);
4. ``NodeAffinity`` — ``nodeSelector`` and required node affinity (``In``, ``NotIn``,
   ``Exists``, ``DoesNotExist``, ``Gt``, ``Lt`` on labels; ``matchFields`` on
   ``metadata.name``);
5. ``NodePorts`` — host ports already bound on the node;
6. ``NodeResourcesFit`` — pod count, cpu, memory, ephemeral-storage and extended resources,
   each reported separately;
7. ``PodTopologySpread`` — ``DoNotSchedule`` constraints (:mod:`podscaler.nodes.spread`);
8. ``InterPodAffinity`` — required pod affinity, required pod anti-affinity of the incoming
   pod, and required anti-affinity of the pods already placed, for any topology key.

Simplifications versus kube-scheduler, deliberate:

* no volume plugins, no DRA, no scheduling gates;
* ``matchFields`` is evaluated per node rather than narrowing the node list in PreFilter, so
  such nodes report "didn't match Pod's node affinity/selector" rather than upstream's
  "didn't satisfy plugin(s) [NodeAffinity]" / "filtered out by the prefilter result";
* namespace selectors of affinity terms see namespace labels only if the caller passes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from podscaler.api.selectors import LabelSelector, Operator, Requirement, SelectorError
from podscaler.nodes.nodestate import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    TAINT_UNSCHEDULABLE,
    HostPort,
    NodeState,
    PodSpecError,
    Resources,
    Taint,
    Toleration,
    is_terminal,
    node_name,
    nonzero_requests,
    pod_host_ports,
    pod_key,
    pod_requests,
    pod_tolerations,
    tolerates,
)
from podscaler.nodes.spread import (
    REASON_SPREAD_MISSING_LABEL,
    SpreadConstraint,
    SpreadCounts,
    read_spread_constraints,
)

__all__ = [
    "REASON_EXISTING_ANTI_AFFINITY",
    "REASON_HOST_PORTS",
    "REASON_NODE_AFFINITY",
    "REASON_NODE_NAME",
    "REASON_POD_AFFINITY",
    "REASON_POD_ANTI_AFFINITY",
    "REASON_TOO_MANY_PODS",
    "REASON_UNSCHEDULABLE",
    "AffinityTerm",
    "FitResult",
    "NodeFailure",
    "NodeSelectorTerm",
    "PodRequirements",
    "TopologyIndex",
    "dynamic_failure",
    "filter_nodes",
    "filter_states",
    "insufficient",
    "node_failure",
    "required_anti_affinity",
    "static_failure",
    "unschedulable_message",
    "untolerated_taint",
]

# Reason strings exactly as kube-scheduler's plugins spell them: users grep for them, and the
# autoscaler's events quote them.
REASON_UNSCHEDULABLE: Final = "node(s) were unschedulable"
REASON_NODE_NAME: Final = "node(s) didn't match the requested node name"
REASON_NODE_AFFINITY: Final = "node(s) didn't match Pod's node affinity/selector"
REASON_HOST_PORTS: Final = "node(s) didn't have free ports for the requested pod ports"
REASON_TOO_MANY_PODS: Final = "Too many pods"
REASON_POD_AFFINITY: Final = "node(s) didn't match pod affinity rules"
REASON_POD_ANTI_AFFINITY: Final = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY: Final = "node(s) didn't satisfy existing pods anti-affinity rules"

_NO_NODES: Final = "no nodes available to schedule pods"
_NO_VICTIMS: Final = "No preemption victims found for incoming pod"
_NOT_HELPFUL: Final = "Preemption is not helpful for scheduling"


def insufficient(resource_name: str) -> str:
    return f"Insufficient {resource_name}"


def untolerated_taint(taint: Taint) -> str:
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


# --- the incoming pod, read once ---------------------------------------------------------------


@dataclass(frozen=True)
class NodeSelectorTerm:
    """One of ``nodeSelectorTerms``: its label and field requirements are ANDed. ``valid`` is
    False when a requirement could not be read (bad operator, non-integer ``Gt``), which makes
    the term match nothing, as upstream's lazy-error selector does."""

    labels: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]
    valid: bool = True

    def matches(self, node_labels: Mapping[str, str], name: str) -> bool:
        if not self.valid or not (self.labels or self.fields):
            return False
        fields = {"metadata.name": name}
        return all(r.matches(node_labels) for r in self.labels) and all(
            r.matches(fields) for r in self.fields
        )


_NODE_OPERATORS: Final = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
    "Gt": Operator.GREATER_THAN,
    "Lt": Operator.LESS_THAN,
}


def _requirement(raw: Any, *, field_selector: bool) -> Requirement:
    if not isinstance(raw, Mapping):
        raise SelectorError("a requirement must be an object")
    key, operator, values = raw.get("key"), raw.get("operator"), raw.get("values") or []
    if not isinstance(key, str) or not isinstance(values, list):
        raise SelectorError("key must be a string and values a list")
    if not all(isinstance(v, str) for v in values):
        raise SelectorError("values must be strings")
    if field_selector and (key != "metadata.name" or operator not in ("In", "NotIn")):
        raise SelectorError("matchFields supports metadata.name with In or NotIn only")
    if operator not in _NODE_OPERATORS:
        raise SelectorError(f"unknown operator {operator!r}")
    return Requirement.build(key, _NODE_OPERATORS[operator], values)


def _node_selector_term(raw: Any) -> NodeSelectorTerm:
    if not isinstance(raw, Mapping):
        return NodeSelectorTerm((), (), valid=False)
    try:
        expressions = raw.get("matchExpressions") or []
        fields = raw.get("matchFields") or []
        if not isinstance(expressions, list) or not isinstance(fields, list):
            raise SelectorError("matchExpressions and matchFields must be lists")
        return NodeSelectorTerm(
            tuple(_requirement(r, field_selector=False) for r in expressions),
            tuple(_requirement(r, field_selector=True) for r in fields),
        )
    except SelectorError:
        return NodeSelectorTerm((), (), valid=False)


@dataclass(frozen=True)
class AffinityTerm:
    """A required (anti-)affinity term, resolved against the pod that declares it.

    ``selector`` None is a nil ``labelSelector``, which selects no pod. The namespaces a term
    covers are ``namespaces`` plus those matching ``namespace_selector``; with neither, the
    declaring pod's own namespace. ``matchLabelKeys``/``mismatchLabelKeys`` are folded into
    the selector using the declaring pod's labels.
    """

    topology_key: str
    selector: LabelSelector | None
    namespaces: frozenset[str]
    namespace_selector: LabelSelector | None = None

    def matches(
        self,
        pod: Mapping[str, Any],
        namespace_labels: Mapping[str, Mapping[str, str]],
    ) -> bool:
        if self.selector is None:
            return False
        meta = pod.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        in_namespace = namespace in self.namespaces or (
            self.namespace_selector is not None
            and self.namespace_selector.matches(namespace_labels.get(namespace, {}))
        )
        labels = meta.get("labels")
        return in_namespace and self.selector.matches(labels if isinstance(labels, Mapping) else {})


def _affinity_term(raw: Any, namespace: str, labels: Mapping[str, str]) -> AffinityTerm | None:
    """Read one ``PodAffinityTerm``; None when it has no topology key (invalid, ignored)."""
    if not isinstance(raw, Mapping):
        return None
    topology_key = raw.get("topologyKey")
    if not isinstance(topology_key, str) or not topology_key:
        return None
    selector: LabelSelector | None = None
    raw_selector = raw.get("labelSelector")
    try:
        if raw_selector is not None:
            extra: list[Requirement] = []
            for key_field, operator in (
                ("matchLabelKeys", Operator.IN),
                ("mismatchLabelKeys", Operator.NOT_IN),
            ):
                keys = raw.get(key_field) or []
                for key in keys if isinstance(keys, list) else ():
                    if isinstance(key, str) and key in labels:
                        extra.append(Requirement.build(key, operator, [labels[key]]))
            base = LabelSelector.from_dict(raw_selector)
            selector = LabelSelector((*base.requirements, *extra))
    except SelectorError:
        selector = None
    names = raw.get("namespaces") or []
    listed = names if isinstance(names, list) else []
    namespaces = frozenset(n for n in listed if isinstance(n, str))
    namespace_selector: LabelSelector | None = None
    raw_ns_selector = raw.get("namespaceSelector")
    if raw_ns_selector is not None:
        try:
            namespace_selector = LabelSelector.from_dict(raw_ns_selector)
        except SelectorError:
            namespace_selector = None
    if not namespaces and raw_ns_selector is None:
        namespaces = frozenset({namespace})
    return AffinityTerm(topology_key, selector, namespaces, namespace_selector)


def required_anti_affinity(pod: Mapping[str, Any]) -> tuple[AffinityTerm, ...]:
    """The required anti-affinity terms a placed pod holds against others."""
    return _required_terms(pod, "podAntiAffinity")


def _required_terms(pod: Mapping[str, Any], kind: str) -> tuple[AffinityTerm, ...]:
    spec = pod.get("spec") or {}
    affinity = spec.get("affinity") if isinstance(spec, Mapping) else None
    if not affinity:
        return ()  # the common case, asked for every placed pod: answer it first
    section = affinity.get(kind) if isinstance(affinity, Mapping) else None
    raw_terms = (
        section.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(section, Mapping)
        else None
    )
    if not isinstance(raw_terms, list) or not raw_terms:
        return ()
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    raw_labels = meta.get("labels")
    labels: Mapping[str, str] = raw_labels if isinstance(raw_labels, Mapping) else {}
    terms = (_affinity_term(raw, namespace, labels) for raw in raw_terms)
    return tuple(t for t in terms if t is not None)


@dataclass(frozen=True)
class PodRequirements:
    """What the pod being placed requires of a node — requests, selectors, affinity,
    tolerations, host ports — read once (see :meth:`from_pod`). The HPA's view of a pod
    (readiness, start time) is a different concept: :class:`podscaler.engine.hpa.PodFacts`."""

    pod: Mapping[str, Any]
    key: str
    namespace: str
    labels: Mapping[str, str]
    requests: Resources
    nonzero_requests: Resources
    node_name: str
    node_selector: Mapping[str, str]
    #: ``None`` when the pod has no required node affinity; otherwise the ORed terms.
    node_affinity: tuple[NodeSelectorTerm, ...] | None
    tolerations: tuple[Toleration, ...]
    host_ports: tuple[HostPort, ...]
    affinity_terms: tuple[AffinityTerm, ...]
    anti_affinity_terms: tuple[AffinityTerm, ...]
    #: ``DoNotSchedule`` topology spread constraints.
    spread: tuple[SpreadConstraint, ...] = ()

    def unbound(self) -> PodRequirements:
        """These requirements without ``spec.nodeName``: the pod as it would be re-created
        elsewhere when its node is drained (cheap: binpacking asks this per moved pod)."""
        if not self.node_name:
            return self
        copy = object.__new__(PodRequirements)
        copy.__dict__.update(self.__dict__)
        copy.__dict__["node_name"] = ""
        return copy

    @property
    def has_topology_rules(self) -> bool:
        """Whether where other pods are matters to this pod (affinity, anti-affinity, spread)."""
        return bool(self.affinity_terms or self.anti_affinity_terms or self.spread)

    @classmethod
    def from_pod(cls, pod: Mapping[str, Any]) -> PodRequirements:
        """Read ``pod``; :class:`PodSpecError` names the field when it cannot be read."""
        if not isinstance(pod, Mapping):
            raise PodSpecError(f"a pod must be an object, not {type(pod).__name__}")
        key = pod_key(pod)
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        if not isinstance(meta, Mapping) or not isinstance(spec, Mapping):
            raise PodSpecError(f"{key}: metadata and spec must be objects")
        labels = meta.get("labels") or {}
        selector = spec.get("nodeSelector") or {}
        if not isinstance(labels, Mapping) or not isinstance(selector, Mapping):
            raise PodSpecError(f"{key}: metadata.labels and spec.nodeSelector must be objects")
        affinity = spec.get("affinity") or {}
        node_affinity = affinity.get("nodeAffinity") if isinstance(affinity, Mapping) else None
        required = (
            node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
            if isinstance(node_affinity, Mapping)
            else None
        )
        terms: tuple[NodeSelectorTerm, ...] | None = None
        if isinstance(required, Mapping):
            raw_terms = required.get("nodeSelectorTerms") or []
            terms = tuple(
                _node_selector_term(t) for t in (raw_terms if isinstance(raw_terms, list) else ())
            )
        target = spec.get("nodeName")
        return cls(
            pod=pod,
            key=key,
            namespace=str(meta.get("namespace") or "default"),
            labels={str(k): str(v) for k, v in labels.items()},
            requests=pod_requests(pod),
            nonzero_requests=nonzero_requests(pod),
            node_name=target if isinstance(target, str) else "",
            node_selector={str(k): str(v) for k, v in selector.items()},
            node_affinity=terms,
            tolerations=pod_tolerations(pod),
            host_ports=pod_host_ports(pod),
            affinity_terms=_required_terms(pod, "podAffinity"),
            anti_affinity_terms=_required_terms(pod, "podAntiAffinity"),
            spread=read_spread_constraints(pod),
        )


# --- what the other pods say about topology domains ---------------------------------------------


@dataclass(frozen=True)
class TopologyIndex:
    """Which topology domains (``(label key, value)``) the inter-pod rules open or close for
    one incoming pod, computed over every placed pod in the cluster once per pod.

    * ``anti_affinity``: domains holding a pod the incoming pod's anti-affinity selects;
    * ``existing_anti_affinity``: domains whose pods' anti-affinity selects the incoming pod;
    * ``affinity``: domains holding a pod that matches *all* the incoming pod's affinity terms;
      when there is none at all and the pod matches its own terms (``affinity_self_match``),
      the pod may start the group anywhere its topology keys exist, as upstream allows so the
      first replica of a self-affine workload is not pending forever.
    """

    anti_affinity: frozenset[tuple[str, str]] = frozenset()
    existing_anti_affinity: frozenset[tuple[str, str]] = frozenset()
    affinity: frozenset[tuple[str, str]] = frozenset()
    affinity_self_match: bool = False
    #: One entry per topology spread constraint of the incoming pod.
    spread: tuple[SpreadCounts, ...] = ()

    @classmethod
    def build(
        cls,
        pod: PodRequirements,
        states: Iterable[NodeState],
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> TopologyIndex:
        ns_labels = namespace_labels or {}
        anti: set[tuple[str, str]] = set()
        existing_anti: set[tuple[str, str]] = set()
        affinity: set[tuple[str, str]] = set()
        for state in states:
            for other in state.pods:
                if is_terminal(other):
                    continue
                for term in pod.anti_affinity_terms:
                    value = state.labels.get(term.topology_key)
                    if value is not None and term.matches(other, ns_labels):
                        anti.add((term.topology_key, value))
                if pod.affinity_terms and all(
                    t.matches(other, ns_labels) for t in pod.affinity_terms
                ):
                    for term in pod.affinity_terms:
                        value = state.labels.get(term.topology_key)
                        if value is not None:
                            affinity.add((term.topology_key, value))
                for term in _required_terms(other, "podAntiAffinity"):
                    value = state.labels.get(term.topology_key)
                    if value is not None and term.matches(pod.pod, ns_labels):
                        existing_anti.add((term.topology_key, value))
        self_match = bool(pod.affinity_terms) and all(
            t.matches(pod.pod, ns_labels) for t in pod.affinity_terms
        )
        return cls(
            frozenset(anti),
            frozenset(existing_anti),
            frozenset(affinity),
            self_match,
            spread_counts(pod, states),
        )

    def after_placing(
        self,
        pod: PodRequirements,
        placed: PodRequirements,
        state: NodeState,
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> TopologyIndex:
        """This index (built for ``pod``) once ``placed`` lands on ``state``'s node: what
        binpacking needs after each placement instead of a rebuild over every pod."""
        ns_labels = namespace_labels or {}
        labels = state.labels
        anti = set(self.anti_affinity)
        for term in pod.anti_affinity_terms:
            value = labels.get(term.topology_key)
            if value is not None and term.matches(placed.pod, ns_labels):
                anti.add((term.topology_key, value))
        affinity = set(self.affinity)
        if pod.affinity_terms and all(t.matches(placed.pod, ns_labels) for t in pod.affinity_terms):
            for term in pod.affinity_terms:
                value = labels.get(term.topology_key)
                if value is not None:
                    affinity.add((term.topology_key, value))
        existing = set(self.existing_anti_affinity)
        for term in placed.anti_affinity_terms:
            value = labels.get(term.topology_key)
            if value is not None and term.matches(pod.pod, ns_labels):
                existing.add((term.topology_key, value))
        spread = tuple(
            counts.adding(labels[counts.constraint.topology_key], 1)
            if counts.constraint.topology_key in labels
            and spread_eligible(pod, counts.constraint, state)
            and counts.constraint.matches(pod.namespace, placed.pod)
            else counts
            for counts in self.spread
        )
        return TopologyIndex(
            frozenset(anti),
            frozenset(existing),
            frozenset(affinity),
            self.affinity_self_match,
            spread,
        )

    def after_adding_node(self, pod: PodRequirements, state: NodeState) -> TopologyIndex:
        """This index once an empty node (``state``) joins: a new spread domain counts 0."""
        if not self.spread:
            return self
        spread = tuple(
            counts.adding(state.labels[counts.constraint.topology_key], 0)
            if counts.constraint.topology_key in state.labels
            and spread_eligible(pod, counts.constraint, state)
            else counts
            for counts in self.spread
        )
        return replace(self, spread=spread)


def spread_eligible(pod: PodRequirements, constraint: SpreadConstraint, state: NodeState) -> bool:
    """Whether ``state``'s domain counts for ``constraint`` (the node inclusion policies)."""
    if constraint.honor_node_affinity and not _node_affinity_ok(pod, state):
        return False
    return not constraint.honor_node_taints or all(
        tolerates(pod.tolerations, taint)
        for taint in state.taints
        if taint.effect in ("NoSchedule", "NoExecute")
    )


def spread_counts(pod: PodRequirements, states: Iterable[NodeState]) -> tuple[SpreadCounts, ...]:
    """Each of the pod's spread constraints counted over ``states``."""
    if not pod.spread:
        return ()
    listed = list(states)
    return tuple(
        SpreadCounts.build(
            constraint,
            pod.pod,
            pod.namespace,
            ((s.labels, s.pods) for s in listed if spread_eligible(pod, constraint, s)),
        )
        for constraint in pod.spread
    )


# --- the filters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeFailure:
    """Why one node cannot take the pod: the rejecting plugin and its reasons.

    ``resolvable`` is False for what kube-scheduler reports as ``UnschedulableAndUnresolvable``
    (evicting pods would not help: taints, selectors, an unschedulable node, a request larger
    than the whole node), True when preemption could in principle make room.
    """

    plugin: str
    reasons: tuple[str, ...]
    resolvable: bool


def _node_affinity_ok(pod: PodRequirements, state: NodeState) -> bool:
    if any(state.labels.get(k) != v for k, v in pod.node_selector.items()):
        return False
    if pod.node_affinity is None:
        return True
    return any(term.matches(state.labels, state.name) for term in pod.node_affinity)


def _resource_failure(pod: PodRequirements, state: NodeState) -> NodeFailure | None:
    reasons: list[str] = []
    unresolvable = False
    if len(state.pods) + 1 > state.allowed_pods:
        reasons.append(REASON_TOO_MANY_PODS)
    want, have, used = pod.requests, state.allocatable, state.requested
    checks: list[tuple[str, int, int, int]] = [
        (CPU, want.cpu_millicores, have.cpu_millicores, used.cpu_millicores),
        (MEMORY, want.memory_bytes, have.memory_bytes, used.memory_bytes),
        (
            EPHEMERAL_STORAGE,
            want.ephemeral_storage_bytes,
            have.ephemeral_storage_bytes,
            used.ephemeral_storage_bytes,
        ),
    ]
    checks.extend(
        (name, amount, have.extended_amount(name), used.extended_amount(name))
        for name, amount in want.extended
    )
    for name, amount, allocatable, requested in checks:
        # A zero request fits anywhere, even on an overcommitted node (upstream's rule).
        if amount > 0 and amount > allocatable - requested:
            reasons.append(insufficient(name))
            unresolvable = unresolvable or amount > allocatable
    if not reasons:
        return None
    return NodeFailure("NodeResourcesFit", tuple(reasons), resolvable=not unresolvable)


def _inter_pod_failure(
    pod: PodRequirements, state: NodeState, index: TopologyIndex
) -> NodeFailure | None:
    if pod.affinity_terms:
        domains = [(t.topology_key, state.labels.get(t.topology_key)) for t in pod.affinity_terms]
        if any(value is None for _, value in domains):
            return NodeFailure("InterPodAffinity", (REASON_POD_AFFINITY,), resolvable=False)
        satisfied = all((key, value) in index.affinity for key, value in domains)
        first_of_group = not index.affinity and index.affinity_self_match
        if not satisfied and not first_of_group:
            return NodeFailure("InterPodAffinity", (REASON_POD_AFFINITY,), resolvable=False)
    for term in pod.anti_affinity_terms:
        value = state.labels.get(term.topology_key)
        if value is not None and (term.topology_key, value) in index.anti_affinity:
            return NodeFailure("InterPodAffinity", (REASON_POD_ANTI_AFFINITY,), resolvable=True)
    if any(state.labels.get(key) == value for key, value in index.existing_anti_affinity):
        return NodeFailure("InterPodAffinity", (REASON_EXISTING_ANTI_AFFINITY,), resolvable=True)
    return None


def node_failure(
    pod: PodRequirements, state: NodeState, index: TopologyIndex
) -> NodeFailure | None:
    """The first predicate that rejects ``state`` for ``pod``, or None when the pod fits.

    ``index`` must have been built for this pod over the cluster's nodes (it can be reused
    across nodes). This is the single-node entry point for binpacking.
    """
    return static_failure(pod, state) or dynamic_failure(pod, state, index)


def static_failure(pod: PodRequirements, state: NodeState) -> NodeFailure | None:
    """The predicates that depend only on the node's own spec and labels (unschedulable,
    node name, taints, node affinity): placing pods never changes their answer, so an index
    may remember it per kind of node."""
    if state.unschedulable and not tolerates(
        pod.tolerations, Taint(TAINT_UNSCHEDULABLE, "", "NoSchedule")
    ):
        return NodeFailure("NodeUnschedulable", (REASON_UNSCHEDULABLE,), resolvable=False)
    if pod.node_name and pod.node_name != state.name:
        return NodeFailure("NodeName", (REASON_NODE_NAME,), resolvable=False)
    for taint in state.taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not tolerates(pod.tolerations, taint):
            return NodeFailure("TaintToleration", (untolerated_taint(taint),), resolvable=False)
    if not _node_affinity_ok(pod, state):
        return NodeFailure("NodeAffinity", (REASON_NODE_AFFINITY,), resolvable=False)
    return None


def dynamic_failure(
    pod: PodRequirements, state: NodeState, index: TopologyIndex
) -> NodeFailure | None:
    """The predicates that depend on what is already on the node or in its domains (host
    ports, resources, topology spread, inter-pod affinity), in the scheduler's order."""
    if any(mine.conflicts_with(theirs) for mine in pod.host_ports for theirs in state.host_ports):
        return NodeFailure("NodePorts", (REASON_HOST_PORTS,), resolvable=True)
    failure = _resource_failure(pod, state)
    if failure is not None:
        return failure
    for counts in index.spread:
        reason = counts.failure(state.labels)
        if reason is not None:
            resolvable = reason != REASON_SPREAD_MISSING_LABEL
            return NodeFailure("PodTopologySpread", (reason,), resolvable=resolvable)
    return _inter_pod_failure(pod, state, index)


@dataclass(frozen=True)
class FitResult:
    """The outcome of filtering every node for one pod."""

    pod: PodRequirements
    total_nodes: int
    #: Nodes that passed every predicate, in the order they were given.
    feasible: tuple[NodeState, ...]
    #: Node name → why it was rejected.
    failures: Mapping[str, NodeFailure]

    @property
    def feasible_names(self) -> tuple[str, ...]:
        return tuple(state.name for state in self.feasible)

    @property
    def schedulable(self) -> bool:
        return bool(self.feasible)


def filter_nodes(
    pod: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    pods_by_node: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
) -> FitResult:
    """Run the predicates for ``pod`` against every node.

    ``pods_by_node`` maps node name → the pods bound to it (terminal pods are skipped; a node
    missing from the map is empty). ``namespace_labels`` (namespace → labels) is only needed
    for affinity terms with a ``namespaceSelector``; without it namespaces have no labels.
    Raises :class:`~podscaler.nodes.nodestate.PodSpecError` when a pod or node cannot be read.
    """
    facts = PodRequirements.from_pod(pod)
    states = [NodeState.build(node, pods_by_node.get(node_name(node), ())) for node in nodes]
    return filter_states(facts, states, namespace_labels=namespace_labels)


def filter_states(
    pod: PodRequirements,
    states: Sequence[NodeState],
    *,
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
) -> FitResult:
    """:func:`filter_nodes` over already-built node states (no re-reading of the dicts)."""
    needs_index = pod.has_topology_rules or any(
        _required_terms(other, "podAntiAffinity") for state in states for other in state.pods
    )
    index = TopologyIndex.build(pod, states, namespace_labels) if needs_index else TopologyIndex()
    feasible: list[NodeState] = []
    failures: dict[str, NodeFailure] = {}
    for state in states:
        failure = node_failure(pod, state, index)
        if failure is None:
            feasible.append(state)
        else:
            failures[state.name] = failure
    return FitResult(pod, len(states), tuple(feasible), failures)


def _histogram(entries: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for reason in entries:
        counts[reason] = counts.get(reason, 0) + 1
    # Upstream sorts the formatted "<count> <reason>" strings bytewise, so "10 x" sorts before
    # "2 x" and "2 Insufficient" before "2 node(s)"; we keep that order on purpose.
    return ", ".join(sorted(f"{count} {reason}" for reason, count in counts.items()))


def unschedulable_message(result: FitResult, *, preemption: bool = False) -> str:
    """The ``FailedScheduling`` / ``PodScheduled`` message kube-scheduler writes, e.g.
    ``0/3 nodes are available: 3 Insufficient cpu.``

    Every reason of every rejected node is counted; the ``"<count> <reason>"`` entries are
    sorted as strings. With ``preemption=True`` the default preemption plugin's postscript is
    appended (`` preemption: 0/3 nodes are available: 3 No preemption victims found for
    incoming pod.``): the sim has no preemption, so every node where eviction could help is
    reported as having no victims — true whenever pods share one priority.
    """
    if result.total_nodes == 0:
        return _NO_NODES
    reasons = (reason for failure in result.failures.values() for reason in failure.reasons)
    message = f"0/{result.total_nodes} nodes are available: {_histogram(reasons)}."
    if preemption:
        verdicts = (
            _NO_VICTIMS if failure.resolvable else _NOT_HELPFUL
            for failure in result.failures.values()
        )
        message += f" preemption: 0/{result.total_nodes} nodes are available: "
        message += f"{_histogram(verdicts)}."
    return message
