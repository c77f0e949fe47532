"""One recommendation pass for one VerticalScaler: aggregates in, container recommendations out.

Given the aggregate history of each container name of the target's pods (merged across pods, and
restored from checkpoints), :func:`recommend` does what upstream's ``UpdateVPAs`` does per VPA:

1. drop containers whose policy says ``mode: Off`` and containers without a single CPU sample
   (they get no recommendation and do not count when the pod minimum is split);
2. estimate target / lower / upper bound (``estimators``) with the minimum split over the
   containers left, keeping only the ``controlledResources``;
3. round up to ``--round-cpu-millicores`` / ``--round-memory-bytes`` (default 1: unchanged);
4. remember the target as ``uncappedTarget``, then clamp all three to ``minAllowed`` /
   ``maxAllowed`` (and the operator-wide maximum).

The result keeps the estimator's stages and what capped each value, for ``podscaler explain``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from podscaler.api.quantities import Quantity
from podscaler.engine.vpa.aggregates import (
    DEFAULT_AGGREGATION,
    AggregateContainerState,
    AggregationSettings,
)
from podscaler.engine.vpa.amounts import CPU, ResourceName, Resources
from podscaler.engine.vpa.estimators import (
    DEFAULT_ESTIMATION,
    ContainerEstimate,
    EstimationSettings,
    estimate_container,
    per_container_minimum,
)
from podscaler.engine.vpa.policy import ResourcePolicy, cap_to_policy, controlled, round_up

__all__ = [
    "DEFAULT_RECOMMENDER",
    "ContainerRecommendation",
    "PodRecommendation",
    "RecommenderSettings",
    "merge_aggregates",
    "quantities_of",
    "recommend",
]


@dataclass(frozen=True, slots=True)
class RecommenderSettings:
    """Every recommender flag that shapes a recommendation, with upstream's defaults."""

    aggregation: AggregationSettings = DEFAULT_AGGREGATION
    estimation: EstimationSettings = DEFAULT_ESTIMATION
    #: ``--round-cpu-millicores``: round every CPU value up to a multiple of this.
    round_cpu_millicores: int = 1
    #: ``--round-memory-bytes``.
    round_memory_bytes: int = 1
    #: ``--container-recommendation-max-allowed-cpu`` / ``-memory`` (absent: no maximum).
    max_allowed: Resources = field(default_factory=Resources)


DEFAULT_RECOMMENDER: Final = RecommenderSettings()


@dataclass(frozen=True, slots=True)
class ContainerRecommendation:
    """What ``status.recommendation.containerRecommendations[]`` says about one container."""

    container_name: str
    target: Resources
    lower_bound: Resources
    upper_bound: Resources
    uncapped_target: Resources
    #: For the target: ``(resource, "minAllowed" | "maxAllowed")`` for each bound that moved it.
    capped_by: tuple[tuple[ResourceName, str], ...]
    estimate: ContainerEstimate


@dataclass(frozen=True, slots=True)
class PodRecommendation:
    """The recommendation for every container of the target's pods, by container name."""

    containers: tuple[ContainerRecommendation, ...] = ()
    #: Containers seen but not recommended for, with why (``mode: Off``, no CPU samples yet).
    skipped: Mapping[str, str] = field(default_factory=dict)

    def for_container(self, container_name: str) -> ContainerRecommendation | None:
        for recommendation in self.containers:
            if recommendation.container_name == container_name:
                return recommendation
        return None

    @property
    def is_empty(self) -> bool:
        return not self.containers

    def lowest_confidence(self) -> float | None:
        return min((c.estimate.confidence for c in self.containers), default=None)


def merge_aggregates(
    states: Iterable[AggregateContainerState], creation_seconds: float
) -> AggregateContainerState:
    """One aggregate holding all of *states* (which are left unchanged)."""
    merged: AggregateContainerState | None = None
    for state in states:
        if merged is None:
            merged = state.copy()
        else:
            merged.merge(state)
    return merged if merged is not None else AggregateContainerState(creation_seconds)


def _rounded(resources: Resources, settings: RecommenderSettings) -> Resources:
    if settings.round_cpu_millicores <= 1 and settings.round_memory_bytes <= 1:
        return resources
    cpu, memory = resources.cpu_millicores, resources.memory_bytes
    return Resources(
        None if cpu is None else round_up(cpu, settings.round_cpu_millicores),
        None if memory is None else round_up(memory, settings.round_memory_bytes),
    )


def recommend(
    aggregates: Mapping[str, AggregateContainerState],
    policy: ResourcePolicy | None = None,
    settings: RecommenderSettings = DEFAULT_RECOMMENDER,
) -> PodRecommendation:
    """Recommend for each container name in *aggregates* (see the module docstring)."""
    policy = policy or ResourcePolicy()
    skipped: dict[str, str] = {}
    chosen: list[tuple[str, AggregateContainerState]] = []
    for name in sorted(aggregates):
        state = aggregates[name]
        if policy.is_off(name):
            skipped[name] = "mode Off in the resource policy"
        elif state.total_samples_count == 0:
            skipped[name] = "no CPU usage sample yet"
        else:
            chosen.append((name, state))
    if not chosen:
        return PodRecommendation((), skipped)
    minimum = per_container_minimum(settings.estimation, len(chosen))
    # No policy, no operator-wide maximum, no rounding: the estimate is the recommendation
    # (the common case, and the one a 50,000-container pass must not pay extra for).
    plain = (
        not policy.container_policies
        and settings.max_allowed.cpu_millicores is None
        and settings.max_allowed.memory_bytes is None
        and settings.round_cpu_millicores <= 1
        and settings.round_memory_bytes <= 1
    )
    containers = []
    for name, state in chosen:
        estimate = estimate_container(state, minimum, settings.estimation)
        if plain:
            containers.append(
                ContainerRecommendation(
                    name,
                    estimate.target,
                    estimate.lower_bound,
                    estimate.upper_bound,
                    estimate.target,
                    (),
                    estimate,
                )
            )
            continue
        container_policy = policy.for_container(name)
        names = policy.effective(name).controlled_resources
        target = _rounded(controlled(estimate.target, names), settings)
        lower = _rounded(controlled(estimate.lower_bound, names), settings)
        upper = _rounded(controlled(estimate.upper_bound, names), settings)
        capped_target = cap_to_policy(target, container_policy, settings.max_allowed)
        containers.append(
            ContainerRecommendation(
                container_name=name,
                target=capped_target.resources,
                lower_bound=cap_to_policy(lower, container_policy, settings.max_allowed).resources,
                upper_bound=cap_to_policy(upper, container_policy, settings.max_allowed).resources,
                uncapped_target=target,
                capped_by=capped_target.capped_by,
                estimate=estimate,
            )
        )
    return PodRecommendation(tuple(containers), skipped)


def quantities_of(resources: Resources) -> dict[str, str]:
    """Kubernetes quantity strings as upstream writes them: CPU in millicores (``587m``),
    memory in plain decimal SI (``262144k``)."""
    result: dict[str, str] = {}
    for resource, amount in resources.items():
        if resource == CPU:
            result[resource] = Quantity(f"{amount}m").canonical()
        else:
            result[resource] = Quantity(amount).canonical()
    return result
