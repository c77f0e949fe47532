"""Between the VerticalScaler's API types and the engine's records, both ways.

Spec in: ``resourcePolicy`` becomes a :class:`ResourcePolicy` in whole millicores and bytes
(quantities rounded up, as ``MilliValue`` / ``Value``), ``updatePolicy`` an :class:`UpdateMode`
and eviction requirements. Status out: a :class:`PodRecommendation` becomes
``status.recommendation`` in upstream's quantity formatting (CPU ``587m``, memory ``262144k``).
"""

from __future__ import annotations

from typing import Any

from podscaler.api.quantities import Quantity
from podscaler.api.verticalscaler import (
    ContainerResourcePolicy,
    RecommendedContainerResources,
    RecommendedPodResources,
    VerticalScalerSpec,
)
from podscaler.engine.vpa.amounts import RESOURCE_NAMES, ResourceName, Resources
from podscaler.engine.vpa.conditions import ConditionState
from podscaler.engine.vpa.policy import (
    ContainerPolicy,
    ContainerScalingMode,
    ControlledValues,
    ResourcePolicy,
)
from podscaler.engine.vpa.recommending import PodRecommendation, quantities_of
from podscaler.engine.vpa.updater import ChangeRequirement, EvictionRequirement, UpdateMode

__all__ = [
    "conditions_to_status",
    "eviction_requirements_of",
    "recommendation_to_status",
    "resource_policy_of",
    "resources_of",
    "update_mode_of",
]


def resources_of(values: dict[str, Quantity] | None) -> Resources:
    """A ResourceList (cpu and memory only) in whole millicores and bytes."""
    if not values:
        return Resources()
    cpu, memory = values.get("cpu"), values.get("memory")
    return Resources(
        cpu.milli_value() if cpu is not None else None,
        memory.int_value() if memory is not None else None,
    )


def _container_policy(entry: ContainerResourcePolicy) -> ContainerPolicy:
    controlled: tuple[ResourceName, ...] = (
        RESOURCE_NAMES
        if entry.controlled_resources is None
        else tuple(name for name in RESOURCE_NAMES if name in entry.controlled_resources)
    )
    return ContainerPolicy(
        container_name=entry.container_name or "",
        mode=ContainerScalingMode(entry.mode or "Auto"),
        min_allowed=resources_of(entry.min_allowed),
        max_allowed=resources_of(entry.max_allowed),
        controlled_resources=controlled,
        controlled_values=ControlledValues(entry.controlled_values or "RequestsAndLimits"),
        oom_bump_up_ratio=(
            entry.oom_bump_up_ratio.as_float() if entry.oom_bump_up_ratio is not None else None
        ),
        oom_min_bump_up_bytes=(
            entry.oom_min_bump_up.int_value() if entry.oom_min_bump_up is not None else None
        ),
    )


def resource_policy_of(spec: VerticalScalerSpec) -> ResourcePolicy:
    entries = spec.resource_policy.container_policies if spec.resource_policy else None
    return ResourcePolicy(tuple(_container_policy(entry) for entry in entries or ()))


def update_mode_of(spec: VerticalScalerSpec) -> UpdateMode:
    return UpdateMode(spec.effective_update_mode)


def eviction_requirements_of(spec: VerticalScalerSpec) -> tuple[EvictionRequirement, ...]:
    requirements = spec.update_policy.eviction_requirements if spec.update_policy else None
    return tuple(
        EvictionRequirement(
            tuple(name for name in RESOURCE_NAMES if name in requirement.resources),
            ChangeRequirement(requirement.change_requirement),
        )
        for requirement in requirements or ()
    )


def recommendation_to_status(recommendation: PodRecommendation) -> RecommendedPodResources:
    """``status.recommendation``: one entry per recommended container, by name."""
    return RecommendedPodResources(
        container_recommendations=[
            RecommendedContainerResources(
                container_name=container.container_name,
                target=_quantities(container.target),
                lower_bound=_quantities(container.lower_bound),
                upper_bound=_quantities(container.upper_bound),
                uncapped_target=_quantities(container.uncapped_target),
            )
            for container in recommendation.containers
        ]
    )


def _quantities(resources: Resources) -> dict[str, Quantity]:
    return {name: Quantity(text) for name, text in quantities_of(resources).items()}


def conditions_to_status(
    conditions: list[ConditionState], generation: int | None = None
) -> list[dict[str, Any]]:
    """Conditions as status dicts (transition times are the writer's business)."""
    result = []
    for condition in conditions:
        item: dict[str, Any] = {
            "type": condition.type,
            "status": condition.status,
            "reason": condition.reason,
            "message": condition.message,
        }
        if generation is not None:
            item["observedGeneration"] = generation
        result.append(item)
    return result
