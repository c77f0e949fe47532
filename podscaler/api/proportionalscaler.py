"""ProportionalScaler: replicas of a cluster add-on from the size of the cluster.

cluster-proportional-autoscaler's two modes as a typed spec, in
``autoscaling.podscaler.io/v1alpha1``::

    spec:
      scaleTargetRef: {kind: Deployment, name: coredns}
      ladder:
        nodesToReplicas: [[1, 1], [2, 2], [3, 3], [4, 3], [5, 5]]
      nodeSelector: {matchLabels: {pool: general}}    # count only these nodes (optional)

Exactly one of ``linear``, ``ladder`` or ``configMapRef`` says where the parameters come from.
``configMapRef`` names a ConfigMap in the upstream CPA format (one key, ``linear`` or
``ladder``, whose value is the JSON object), so an existing CPA ConfigMap is reused as it is.
The field names and meanings are CPA's (reference/algorithms.md part C); the rules that hold
across fields — at least one per-replica value, ``max`` not below ``min`` — are checked by
:func:`proportional_scaler_problems` (``podscaler validate`` and the controller), with the
messages CPA gives.

Status says what the controller saw and chose: the four node and core counts, the mode and
where its parameters came from, the replicas, and the rule that decided
(``podscaler explain proportionalscaler/NS/NAME``). Conditions: ``Ready`` (parameters are in
force and the target takes them) and ``ParametersValid`` (False while the latest parameters —
of the spec or the ConfigMap — are refused; the last good ones stay in force meanwhile).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal

import pydantic
from pydantic import Field

from podscaler.api.conditions import StatusCondition
from podscaler.api.meta import (
    GROUP_VERSION,
    ApiModel,
    ObjectMeta,
    SpecModel,
    TargetReference,
)
from podscaler.api.selectors import LabelSelector, SelectorError
from podscaler.api.validation import Problem, pydantic_problems

__all__ = [
    "PARAMETERS_VALID",
    "PROPORTIONAL_READY",
    "ConfigMapRef",
    "LadderSpec",
    "LinearSpec",
    "NodeLabelSelector",
    "ProportionalDecision",
    "ProportionalScaler",
    "ProportionalScalerSpec",
    "ProportionalScalerStatus",
    "ProportionalTarget",
    "node_label_selector",
    "proportional_scaler_problems",
]

#: Condition: parameters are in force and the target's replicas follow them.
PROPORTIONAL_READY: Final = "Ready"
#: Condition: the latest parameters (spec or ConfigMap) were accepted.
PARAMETERS_VALID: Final = "ParametersValid"

NonNegative = Annotated[int, Field(ge=0)]
Step = Annotated[list[NonNegative], Field(min_length=2, max_length=2)]


class ProportionalTarget(TargetReference):
    """The add-on to scale: anything that serves the ``/scale`` subresource."""


class LinearSpec(SpecModel):
    """CPA's linear mode: replicas = max(ceil(cores / coresPerReplica), ceil(nodes /
    nodesPerReplica)), each clamped to [min, max]."""

    cores_per_replica: float | None = Field(
        default=None, ge=0, description="Cores per replica (0 or unset: cores are not used)."
    )
    nodes_per_replica: float | None = Field(
        default=None, ge=0, description="Nodes per replica (0 or unset: nodes are not used)."
    )
    min: int | None = Field(
        default=None, ge=0, description="Fewest replicas a used resource gives (0 or unset: 1)."
    )
    max: int | None = Field(
        default=None, ge=0, description="Most replicas a resource gives (0 or unset: no maximum)."
    )
    prevent_single_point_failure: bool | None = Field(
        default=None,
        description="With more than one node, at least 2 replicas (even above max).",
    )
    include_unschedulable_nodes: bool | None = Field(
        default=None,
        description="Count all nodes and cores, not only schedulable (Ready, uncordoned) ones.",
    )


class LadderSpec(SpecModel):
    """CPA's ladder mode: the step with the largest threshold not above the count decides
    (below every threshold: the first step); the larger of the cores and nodes lookups wins."""

    cores_to_replicas: list[Step] | None = Field(
        default=None, description="[threshold cores, replicas] steps."
    )
    nodes_to_replicas: list[Step] | None = Field(
        default=None, description="[threshold nodes, replicas] steps."
    )
    include_unschedulable_nodes: bool | None = Field(
        default=None,
        description="Count all nodes and cores, not only schedulable (Ready, uncordoned) ones.",
    )


class ConfigMapRef(SpecModel):
    """A ConfigMap in the object's namespace in the upstream CPA format."""

    name: str = Field(min_length=1, description="Name of the ConfigMap.")


class LabelSelectorRequirement(SpecModel):
    """One ``matchExpressions`` entry of a label selector."""

    key: str = Field(min_length=1, description="The label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="In, NotIn, Exists or DoesNotExist."
    )
    values: list[str] | None = Field(
        default=None, description="Values for In and NotIn; empty for Exists and DoesNotExist."
    )


class NodeLabelSelector(SpecModel):
    """Which nodes are counted (``metav1.LabelSelector``); unset or empty: all nodes."""

    match_labels: dict[str, str] | None = Field(
        default=None, description="Labels a counted node carries."
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None, description="Label requirements a counted node meets."
    )


class ProportionalScalerSpec(SpecModel):
    """The add-on, the parameters (exactly one of linear, ladder, configMapRef) and the nodes
    that count."""

    scale_target_ref: ProportionalTarget = Field(description="The workload to scale.")
    linear: LinearSpec | None = Field(default=None, description="Linear mode parameters.")
    ladder: LadderSpec | None = Field(default=None, description="Ladder mode parameters.")
    config_map_ref: ConfigMapRef | None = Field(
        default=None,
        description=(
            "Read the parameters from this ConfigMap in the upstream cluster-proportional-"
            "autoscaler format (data with one key, linear or ladder, holding the JSON "
            "parameters); watched, so edits apply at once."
        ),
    )
    node_selector: NodeLabelSelector | None = Field(
        default=None, description="Count only the nodes this label selector matches."
    )


class ProportionalDecision(ApiModel):
    """The latest decision in short form (``podscaler explain``). No timestamp: it changes
    only when the decision does, so a steady object costs no status writes."""

    rule: str = Field(
        description="What decided: nodesPerReplica, coresPerReplica, min, max, "
        "preventSinglePointFailure, or the ladder step (nodesToReplicas step [5 5])."
    )
    summary: str = Field(description="One sentence a person can read.")
    replicas: int = Field(description="The replica count decided.")
    formula: list[str] | None = Field(
        default=None, description="The terms, one per line (the linear formula or the steps)."
    )


class ProportionalScalerStatus(ApiModel):
    """What the controller last saw and chose; written only by podscaler."""

    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status reflects."
    )
    mode: Literal["linear", "ladder"] | None = Field(
        default=None, description="The mode of the parameters in force."
    )
    parameters_source: str | None = Field(
        default=None,
        description="Where the parameters in force came from: spec, or ConfigMap NAME "
        "(resourceVersion N).",
    )
    total_nodes: int | None = Field(default=None, description="Nodes counted (all).")
    schedulable_nodes: int | None = Field(
        default=None, description="Nodes counted that are Ready and not cordoned."
    )
    total_cores: int | None = Field(
        default=None, description="Allocatable cores of all counted nodes (summed, rounded up)."
    )
    schedulable_cores: int | None = Field(
        default=None, description="Allocatable cores of the schedulable nodes."
    )
    replicas: int | None = Field(default=None, description="The replica count chosen.")
    last_scale_time: datetime | None = Field(
        default=None, description="When the target's replicas were last changed."
    )
    last_decision: ProportionalDecision | None = Field(
        default=None, description="The latest decision and why."
    )
    conditions: list[StatusCondition] | None = Field(
        default=None, description="Ready and ParametersValid."
    )


class ProportionalScaler(ApiModel):
    """Scales an add-on with the cluster's size (kubectl short name: ps)."""

    api_version: str = Field(default=GROUP_VERSION, description="autoscaling.podscaler.io/v1alpha1")
    kind: Literal["ProportionalScaler"] = Field(
        default="ProportionalScaler", description="ProportionalScaler"
    )
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard metadata.")
    spec: ProportionalScalerSpec = Field(description="Desired scaling.")
    status: ProportionalScalerStatus | None = Field(default=None, description="Observed state.")


def _linear_problems(linear: LinearSpec) -> list[Problem]:
    where = "spec.linear"
    if not (linear.cores_per_replica or linear.nodes_per_replica):
        return [
            Problem(
                where,
                "should at least provide either coresPerReplica or nodesPerReplica "
                "(greater than 0)",
            )
        ]
    minimum = linear.min or 1
    if linear.max and linear.max < minimum:
        return [
            Problem(
                f"{where}.max",
                f"max replicas count {linear.max} should be greater than / equal to min "
                f"replicas count {minimum}",
            )
        ]
    return []


def node_label_selector(spec: ProportionalScalerSpec) -> LabelSelector:
    """The parsed node selector (everything when unset); :class:`SelectorError` if invalid."""
    if spec.node_selector is None:
        return LabelSelector.everything()
    return LabelSelector.from_dict(spec.node_selector.to_dict())


def proportional_scaler_problems(
    obj: Mapping[str, Any],
) -> tuple[ProportionalScaler | None, list[Problem]]:
    """The parsed object (``None`` if it does not parse) and every problem found."""
    if not isinstance(obj, Mapping):
        return None, [Problem("", f"must be a mapping, not {type(obj).__name__}")]
    problems: list[Problem] = []
    api_version = obj.get("apiVersion", GROUP_VERSION)
    if api_version != GROUP_VERSION:
        problems.append(Problem("apiVersion", f"must be {GROUP_VERSION}, not {api_version!r}"))
    try:
        ps = ProportionalScaler.model_validate(dict(obj))
    except pydantic.ValidationError as error:
        return None, problems + pydantic_problems(error)
    spec = ps.spec
    sources = [
        name
        for name, value in (
            ("linear", spec.linear),
            ("ladder", spec.ladder),
            ("configMapRef", spec.config_map_ref),
        )
        if value is not None
    ]
    if len(sources) != 1:
        problems.append(
            Problem(
                "spec",
                "needs exactly one of linear, ladder or configMapRef"
                + (f", not {' and '.join(sources)}" if sources else ""),
            )
        )
    if spec.linear is not None:
        problems.extend(_linear_problems(spec.linear))
    try:
        node_label_selector(spec)
    except SelectorError as exc:
        problems.append(Problem("spec.nodeSelector", str(exc)))
    return ps, problems
