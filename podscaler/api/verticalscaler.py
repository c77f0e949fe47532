"""VerticalScaler: the upstream VerticalPodAutoscaler's spec and status, in
``autoscaling.podscaler.io/v1alpha1``.

A ``autoscaling.k8s.io/v1`` VerticalPodAutoscaler ports by changing ``apiVersion`` and ``kind``:
``targetRef``, ``updatePolicy`` (``updateMode``, ``minReplicas``, ``evictionRequirements``,
``evictAfterOOMSeconds``), ``resourcePolicy.containerPolicies`` (``mode``, ``minAllowed``,
``maxAllowed``, ``controlledResources``, ``controlledValues``, ``oomBumpUpRatio``,
``oomMinBumpUp``) and ``recommenders`` mean what they mean upstream, and the status is
``recommendation.containerRecommendations[]`` (target, lowerBound, upperBound, uncappedTarget)
plus conditions. Upstream's alpha fields that podscaler does not implement (``startupBoost``,
per-container percentiles, per-container memory aggregation) are rejected by name rather than
silently ignored; ``updateMode: InPlace`` (alpha since VPA 1.7) is supported.

Validation follows upstream's admission controller (``ValidateVPA``), rule for rule, and adds
warnings where upstream would quietly do something surprising (a resource it never recommends
in ``minAllowed``, two policies for one container).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal

import pydantic
from pydantic import Field

from podscaler.api.meta import GROUP_VERSION, ApiModel, ObjectMeta, SpecModel
from podscaler.api.quantities import Quantity, QuantityField
from podscaler.api.validation import Problem, pydantic_problems

__all__ = [
    "DEFAULT_RECOMMENDER_NAME",
    "UPSTREAM_GROUP",
    "UPSTREAM_KIND",
    "ContainerResourcePolicy",
    "CrossVersionObjectReference",
    "EvictionRequirement",
    "PodResourcePolicy",
    "PodUpdatePolicy",
    "RecommendedContainerResources",
    "RecommendedPodResources",
    "RecommenderSelector",
    "VerticalScaler",
    "VerticalScalerCondition",
    "VerticalScalerSpec",
    "VerticalScalerStatus",
    "vertical_scaler_problems",
    "vertical_scaler_warnings",
]

#: The API group of upstream's VerticalPodAutoscaler; its manifests validate with a port note.
UPSTREAM_GROUP: Final = "autoscaling.k8s.io"
UPSTREAM_KIND: Final = "VerticalPodAutoscaler"
#: The recommender podscaler answers for: VerticalScalers naming none, or this one.
DEFAULT_RECOMMENDER_NAME: Final = "default"

UpdateMode = Literal["Off", "Initial", "Recreate", "InPlaceOrRecreate", "InPlace", "Auto"]
ContainerScalingMode = Literal["Auto", "Off"]
ControlledValues = Literal["RequestsAndLimits", "RequestsOnly"]
ResourceName = Literal["cpu", "memory"]
ChangeRequirement = Literal["TargetHigherThanRequests", "TargetLowerThanRequests"]
ResourceList = dict[str, QuantityField]

_RESOURCES: Final = ("cpu", "memory")


class CrossVersionObjectReference(SpecModel):
    """The workload whose pods are right-sized: Deployment, StatefulSet, DaemonSet, Job, or any
    resource with a ``/scale`` subresource (its pods are found through the scale's selector)."""

    api_version: str | None = Field(
        default=None, description="API version of the target, e.g. apps/v1."
    )
    kind: str = Field(min_length=1, description="Kind of the target, e.g. Deployment.")
    name: str = Field(min_length=1, description="Name of the target, in the same namespace.")


#: Where the built-in workload kinds live, for a targetRef that names no apiVersion.
TARGET_API_VERSIONS: Final = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "ReplicationController": "v1",
}


def target_api_version(kind: str, api_version: str | None) -> str:
    """A targetRef's API version: as written, else its built-in kind's, else apps/v1."""
    return api_version or TARGET_API_VERSIONS.get(kind, "apps/v1")


class EvictionRequirement(SpecModel):
    """A condition a pod must meet to be evicted: when several are listed, all must hold."""

    resources: list[ResourceName] = Field(
        json_schema_extra={"minItems": 1},
        description="Resources the requirement looks at; met when any of them changes so.",
    )
    change_requirement: ChangeRequirement = Field(
        description="TargetHigherThanRequests (evict only to grow) or TargetLowerThanRequests.",
    )


class PodUpdatePolicy(SpecModel):
    """How recommendations are applied to pods."""

    update_mode: UpdateMode | None = Field(
        default=None,
        description=(
            "Off: recommend only. Initial: set resources when pods are created. Recreate "
            "(default): also evict running pods that are far off. InPlaceOrRecreate: resize "
            "running pods in place, evicting when that fails. InPlace: resize running pods in "
            "place, never evicting (an infeasible resize is tried again when the "
            "recommendation drops). Auto: deprecated alias of Recreate."
        ),
    )
    min_replicas: int | None = Field(
        default=None,
        description=(
            "Fewest live pods a workload must have for the updater to evict one (default: the "
            "operator-wide minimum, 2). Must be positive."
        ),
    )
    eviction_requirements: list[EvictionRequirement] | None = Field(
        default=None, description="Every requirement must hold for a pod to be evicted."
    )
    evict_after_oom_seconds: int | None = Field(
        default=None,
        alias="evictAfterOOMSeconds",
        json_schema_extra={"minimum": 1},
        description=(
            "A pod OOM-killed within this many seconds of starting is updated at once "
            "(default 600)."
        ),
    )


class ContainerResourcePolicy(SpecModel):
    """How one container (or every container without its own entry: ``*``) is recommended."""

    container_name: str | None = Field(
        default=None,
        description="Name of the container, or * for containers without their own policy.",
    )
    mode: ContainerScalingMode | None = Field(
        default=None, description="Auto (default) or Off: no recommendation for the container."
    )
    min_allowed: ResourceList | None = Field(
        default=None, description="Least cpu/memory ever recommended (0 or absent: no minimum)."
    )
    max_allowed: ResourceList | None = Field(
        default=None, description="Most cpu/memory ever recommended (0 or absent: no maximum)."
    )
    controlled_resources: list[ResourceName] | None = Field(
        default=None, description="Resources recommended and applied (default: cpu and memory)."
    )
    controlled_values: ControlledValues | None = Field(
        default=None,
        description=(
            "RequestsAndLimits (default): limits move in proportion to requests. RequestsOnly: "
            "limits stay, and recommendations never exceed them."
        ),
    )
    oom_bump_up_ratio: QuantityField | None = Field(
        default=None,
        description="Memory after an OOM kill: at least this times the usage (default 1.2).",
    )
    oom_min_bump_up: QuantityField | None = Field(
        default=None,
        description="Memory after an OOM kill: at least this much more (default 100Mi).",
    )


class PodResourcePolicy(SpecModel):
    """Constraints on the recommendation, per container."""

    container_policies: list[ContainerResourcePolicy] | None = Field(
        default=None, description="Per-container policies; * applies to the others."
    )


class RecommenderSelector(SpecModel):
    """Names the recommender responsible for the object."""

    name: str = Field(min_length=1, description="Name of the recommender.")


class VerticalScalerSpec(SpecModel):
    """Which pods to right-size and how."""

    target_ref: CrossVersionObjectReference = Field(
        description="The workload whose pods are right-sized."
    )
    update_policy: PodUpdatePolicy | None = Field(
        default=None, description="How recommendations are applied (default: Recreate)."
    )
    resource_policy: PodResourcePolicy | None = Field(
        default=None, description="Per-container constraints on the recommendation."
    )
    recommenders: list[RecommenderSelector] | None = Field(
        default=None,
        description=(
            "At most one recommender; empty or 'default' means podscaler's. Objects naming "
            "another recommender are left to it."
        ),
    )

    @property
    def effective_update_mode(self) -> UpdateMode:
        """The update mode, unset meaning Recreate (upstream's ``GetUpdateMode``)."""
        mode = self.update_policy.update_mode if self.update_policy else None
        return mode or "Recreate"

    def is_for_recommender(self, name: str = DEFAULT_RECOMMENDER_NAME) -> bool:
        """Whether the recommender called *name* is responsible for this object."""
        if not self.recommenders:
            return name == DEFAULT_RECOMMENDER_NAME
        return self.recommenders[0].name == name


class RecommendedContainerResources(ApiModel):
    """The recommendation for one container."""

    container_name: str | None = Field(default=None, description="Name of the container.")
    target: ResourceList = Field(description="Recommended requests; observe the policy.")
    lower_bound: ResourceList | None = Field(
        default=None,
        description="Below this, performance or availability is likely to suffer.",
    )
    upper_bound: ResourceList | None = Field(
        default=None, description="Above this, resources are likely wasted."
    )
    uncapped_target: ResourceList | None = Field(
        default=None,
        description="The target before minAllowed/maxAllowed were applied (information only).",
    )


class RecommendedPodResources(ApiModel):
    """The recommendation for the target's pods."""

    container_recommendations: list[RecommendedContainerResources] | None = Field(
        default=None, description="One entry per recommended container."
    )


class VerticalScalerCondition(ApiModel):
    """One observation of the object's state."""

    type: str = Field(
        description=(
            "RecommendationProvided, LowConfidence, NoPodsMatched or ConfigUnsupported "
            "(Loaded on checkpoints)."
        )
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    last_transition_time: datetime | None = Field(
        default=None, description="When the status last changed."
    )
    reason: str | None = Field(default=None, description="UpperCamelCase reason.")
    message: str | None = Field(default=None, description="What a person should know.")
    observed_generation: int | None = Field(
        default=None, description="metadata.generation the condition was set from."
    )


class VerticalScalerStatus(ApiModel):
    """What podscaler last recommended; written only by podscaler."""

    recommendation: RecommendedPodResources | None = Field(
        default=None, description="The latest recommendation."
    )
    conditions: list[VerticalScalerCondition] | None = Field(
        default=None, description="RecommendationProvided, LowConfidence, NoPodsMatched, …"
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status reflects."
    )


class VerticalScaler(ApiModel):
    """Right-sizes the pods of a workload (kubectl short name: vsc)."""

    api_version: str = Field(default=GROUP_VERSION, description="autoscaling.podscaler.io/v1alpha1")
    kind: Literal["VerticalScaler"] = Field(default="VerticalScaler", description="VerticalScaler")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard metadata.")
    spec: VerticalScalerSpec = Field(description="Desired behaviour.")
    status: VerticalScalerStatus | None = Field(default=None, description="Observed state.")


# --------------------------------------------------------------------------- validation

# Fields of upstream's v1 schema podscaler does not implement: named so a port fails clearly.
_UNSUPPORTED_SPEC_FIELDS: Final = {"startupBoost": "startupBoost (CPU startup boost)"}
_UNSUPPORTED_POLICY_FIELDS: Final = {
    "startupBoost": "startupBoost (CPU startup boost)",
    "targetCPUPercentile": "per-container targetCPUPercentile",
    "targetMemoryPercentile": "per-container targetMemoryPercentile",
    "memoryAggregationIntervalSeconds": "per-container memoryAggregationIntervalSeconds",
    "memoryAggregationIntervalCount": "per-container memoryAggregationIntervalCount",
}


def _upstream_gaps(obj: Mapping[str, Any]) -> list[Problem]:
    """``(path, message)`` for upstream fields podscaler knowingly lacks."""
    found: list[Problem] = []
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return found
    for key, what in _UNSUPPORTED_SPEC_FIELDS.items():
        if key in spec:
            found.append(Problem(f"spec.{key}", f"{what} is not supported by podscaler"))
    resource_policy = spec.get("resourcePolicy")
    entries = (
        resource_policy.get("containerPolicies") if isinstance(resource_policy, Mapping) else None
    )
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, Mapping):
            continue
        for key, what in _UNSUPPORTED_POLICY_FIELDS.items():
            if key in entry:
                path = f"spec.resourcePolicy.containerPolicies[{index}].{key}"
                found.append(Problem(path, f"{what} is not supported by podscaler"))
    return found


def _without_gaps(obj: Mapping[str, Any]) -> dict[str, Any]:
    """*obj* minus the fields reported by :func:`_upstream_gaps`, so the rest still parses."""
    data = dict(obj)
    spec = data.get("spec")
    if not isinstance(spec, Mapping):
        return data
    spec = {k: v for k, v in spec.items() if k not in _UNSUPPORTED_SPEC_FIELDS}
    resource_policy = spec.get("resourcePolicy")
    if isinstance(resource_policy, Mapping) and isinstance(
        resource_policy.get("containerPolicies"), list
    ):
        spec["resourcePolicy"] = dict(resource_policy) | {
            "containerPolicies": [
                {k: v for k, v in entry.items() if k not in _UNSUPPORTED_POLICY_FIELDS}
                if isinstance(entry, Mapping)
                else entry
                for entry in resource_policy["containerPolicies"]
            ]
        }
    data["spec"] = spec
    return data


def _is_integral(value: Decimal) -> bool:
    """Exactly, whatever the size (no decimal context involved)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        return False
    return exponent >= 0 or all(digit == 0 for digit in digits[exponent:])


def _whole_units(resource: str, quantity: Quantity) -> str | None:
    """Upstream's resolution rule: CPU in whole millicores, memory in whole bytes."""
    if resource == "cpu" and not _is_integral(quantity.value.scaleb(3)):
        return f"CPU [{quantity}] must be a whole number of milli CPUs"
    if resource == "memory" and not _is_integral(quantity.value):
        return f"memory [{quantity}] must be a whole number of bytes"
    return None


def _policy_problems(index: int, policy: ContainerResourcePolicy) -> list[Problem]:
    path = f"spec.resourcePolicy.containerPolicies[{index}]"
    problems: list[Problem] = []
    if not policy.container_name:
        problems.append(Problem(f"{path}.containerName", "is required (a container name, or *)"))
    if policy.oom_bump_up_ratio is not None and policy.oom_bump_up_ratio.value < 1:
        problems.append(
            Problem(
                f"{path}.oomBumpUpRatio",
                f"must be greater than or equal to 1.0, got {policy.oom_bump_up_ratio}",
            )
        )
    if policy.oom_min_bump_up is not None and policy.oom_min_bump_up.value < 0:
        problems.append(
            Problem(f"{path}.oomMinBumpUp", f"must be at least 0, got {policy.oom_min_bump_up}")
        )
    minimum, maximum = policy.min_allowed or {}, policy.max_allowed or {}
    for field, values in (("minAllowed", minimum), ("maxAllowed", maximum)):
        for resource, quantity in values.items():
            resolution = _whole_units(resource, quantity)
            if resolution:
                problems.append(Problem(f"{path}.{field}.{resource}", resolution))
            if quantity.value < 0:
                problems.append(
                    Problem(f"{path}.{field}.{resource}", f"must not be negative: {quantity}")
                )
    for resource, low in minimum.items():
        high = maximum.get(resource)
        if high is not None and high < low:
            problems.append(
                Problem(
                    f"{path}.maxAllowed.{resource}",
                    f"max resource for {resource} is lower than min "
                    f"(maxAllowed {high} < minAllowed {low})",
                )
            )
    if policy.mode == "Off" and policy.controlled_values == "RequestsAndLimits":
        problems.append(
            Problem(
                f"{path}.controlledValues",
                "controlledValues shouldn't be specified if container scaling mode is off",
            )
        )
    return problems


def _spec_problems(spec: VerticalScalerSpec) -> list[Problem]:
    problems: list[Problem] = []
    update = spec.update_policy
    if update is not None:
        if update.update_mode is None:
            problems.append(
                Problem("spec.updatePolicy.updateMode", "is required if updatePolicy is used")
            )
        if update.min_replicas is not None and update.min_replicas <= 0:
            problems.append(
                Problem(
                    "spec.updatePolicy.minReplicas",
                    f"minReplicas has to be positive, got {update.min_replicas}",
                )
            )
    if spec.resource_policy and spec.resource_policy.container_policies:
        for index, policy in enumerate(spec.resource_policy.container_policies):
            problems.extend(_policy_problems(index, policy))
    if spec.recommenders is not None and len(spec.recommenders) > 1:
        problems.append(
            Problem("spec.recommenders", "must name at most one recommender (upstream allows one)")
        )
    return problems


def _spec_warnings(spec: VerticalScalerSpec) -> list[Problem]:
    warnings: list[Problem] = []
    seen: dict[str, int] = {}
    policies = (spec.resource_policy.container_policies if spec.resource_policy else None) or []
    for index, policy in enumerate(policies):
        path = f"spec.resourcePolicy.containerPolicies[{index}]"
        name = policy.container_name or ""
        if name in seen:
            warnings.append(
                Problem(
                    f"{path}.containerName",
                    f"{name!r} already has a policy at containerPolicies[{seen[name]}]; "
                    "only the first one applies",
                )
            )
        seen.setdefault(name, index)
        for field, values in (
            ("minAllowed", policy.min_allowed),
            ("maxAllowed", policy.max_allowed),
        ):
            for resource in values or {}:
                if resource not in _RESOURCES:
                    warnings.append(
                        Problem(
                            f"{path}.{field}.{resource}",
                            "only cpu and memory are recommended; this bound is ignored",
                        )
                    )
    if spec.recommenders and spec.recommenders[0].name != DEFAULT_RECOMMENDER_NAME:
        warnings.append(
            Problem(
                "spec.recommenders[0].name",
                f"podscaler's recommender answers to {DEFAULT_RECOMMENDER_NAME!r}; an object "
                f"naming {spec.recommenders[0].name!r} is left to that recommender",
            )
        )
    return warnings


def vertical_scaler_problems(
    obj: Mapping[str, Any],
) -> tuple[VerticalScaler | None, list[Problem]]:
    """Parse and check a VerticalScaler: the model (``None`` if it does not parse) and every
    ``(path, message)`` error found. An upstream VerticalPodAutoscaler is read the same way
    (its apiVersion and kind are the caller's business)."""
    problems = _upstream_gaps(obj)
    data = _without_gaps(obj)
    data["apiVersion"] = GROUP_VERSION
    data["kind"] = "VerticalScaler"
    try:
        parsed = VerticalScaler.model_validate(data)
    except pydantic.ValidationError as error:
        return None, problems + pydantic_problems(error)
    return parsed, problems + _spec_problems(parsed.spec)


def vertical_scaler_warnings(spec: VerticalScalerSpec) -> list[Problem]:
    """Things that are allowed but probably not meant."""
    return _spec_warnings(spec)
