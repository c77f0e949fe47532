"""The Vertical Pod Autoscaler's recommender and updater rules, as pure code.

Rooms, following upstream's split (``util`` histograms, ``model``, ``logic`` estimators,
``updater/priority`` and ``restriction``):

- ``amounts``: whole millicores and bytes, and the truncating conversions;
- ``histograms`` / ``decaying``: exponential buckets, percentiles, decay, histogram checkpoints;
- ``aggregates``: per-container history, memory peaks per window, OOM bumps;
- ``estimators``: percentile → margin → confidence → minimum;
- ``policy``: containerPolicies, min/max capping, controlled values, proportional limits;
- ``recommending``: one pass for one VerticalScaler;
- ``checkpoints``: aggregates to and from upstream's ``v3`` checkpoint format;
- ``updater``: update priority, admission, ordering, eviction budget;
- ``conditions``: the VerticalScaler's status conditions.

Instants are Unix seconds passed in by the caller; nothing here reads a clock or does I/O.
"""

from podscaler.engine.vpa.aggregates import (
    DAY_SECONDS,
    MIN_CPU_SAMPLE_WEIGHT,
    AggregateContainerState,
    AggregationSettings,
    ContainerState,
    OomRejected,
    PeakSink,
)
from podscaler.engine.vpa.amounts import (
    CPU,
    MAX_RESOURCE_AMOUNT,
    MEMORY,
    RESOURCE_NAMES,
    ResourceName,
    Resources,
    amount_from_float,
    cpu_millicores_from_cores,
    scale_amount,
)
from podscaler.engine.vpa.checkpoints import (
    CHECKPOINT_VERSION,
    checkpoint_name,
    checkpoint_status,
    restore_aggregate,
)
from podscaler.engine.vpa.conditions import (
    CONFIG_UNSUPPORTED,
    LOW_CONFIDENCE,
    NO_PODS_MATCHED,
    RECOMMENDATION_PROVIDED,
    ConditionState,
    recommendation_conditions,
)
from podscaler.engine.vpa.decaying import GO_ZERO_TIME_SECONDS, DecayingHistogram
from podscaler.engine.vpa.estimators import (
    DEFAULT_ESTIMATION,
    BoundEstimate,
    ContainerEstimate,
    EstimationSettings,
    confidence,
    confidence_factor,
    estimate_container,
    per_container_minimum,
    percentile_estimate,
    with_confidence,
    with_margin,
    with_minimum,
)
from podscaler.engine.vpa.histograms import (
    CPU_HISTOGRAM_OPTIONS,
    MEMORY_HISTOGRAM_OPTIONS,
    CheckpointError,
    Histogram,
    HistogramCheckpoint,
    HistogramOptions,
)
from podscaler.engine.vpa.policy import (
    CappedResources,
    ContainerPolicy,
    ContainerScalingMode,
    ControlledValues,
    ResourcePolicy,
    cap_to_limits,
    cap_to_policy,
    controlled,
    proportional_limit,
    round_up,
)
from podscaler.engine.vpa.recommending import (
    DEFAULT_RECOMMENDER,
    ContainerRecommendation,
    PodRecommendation,
    RecommenderSettings,
    merge_aggregates,
    quantities_of,
    recommend,
)
from podscaler.engine.vpa.updater import (
    DEFAULT_UPDATE,
    ChangeRequirement,
    ContainerRequests,
    ContainerTermination,
    EvictionBudget,
    EvictionRequirement,
    PodPriority,
    UpdateCandidate,
    UpdateMode,
    UpdateSettings,
    admit_for_update,
    eviction_budget,
    evicts_pods,
    had_quick_oom,
    meets_eviction_requirements,
    order_for_update,
    update_priority,
)

__all__ = [
    "CHECKPOINT_VERSION",
    "CONFIG_UNSUPPORTED",
    "CPU",
    "CPU_HISTOGRAM_OPTIONS",
    "DAY_SECONDS",
    "DEFAULT_ESTIMATION",
    "DEFAULT_RECOMMENDER",
    "DEFAULT_UPDATE",
    "GO_ZERO_TIME_SECONDS",
    "LOW_CONFIDENCE",
    "MAX_RESOURCE_AMOUNT",
    "MEMORY",
    "MEMORY_HISTOGRAM_OPTIONS",
    "MIN_CPU_SAMPLE_WEIGHT",
    "NO_PODS_MATCHED",
    "RECOMMENDATION_PROVIDED",
    "RESOURCE_NAMES",
    "AggregateContainerState",
    "AggregationSettings",
    "BoundEstimate",
    "CappedResources",
    "ChangeRequirement",
    "CheckpointError",
    "ConditionState",
    "ContainerEstimate",
    "ContainerPolicy",
    "ContainerRecommendation",
    "ContainerRequests",
    "ContainerScalingMode",
    "ContainerState",
    "ContainerTermination",
    "ControlledValues",
    "DecayingHistogram",
    "EstimationSettings",
    "EvictionBudget",
    "EvictionRequirement",
    "Histogram",
    "HistogramCheckpoint",
    "HistogramOptions",
    "OomRejected",
    "PeakSink",
    "PodPriority",
    "PodRecommendation",
    "RecommenderSettings",
    "ResourceName",
    "ResourcePolicy",
    "Resources",
    "UpdateCandidate",
    "UpdateMode",
    "UpdateSettings",
    "admit_for_update",
    "amount_from_float",
    "cap_to_limits",
    "cap_to_policy",
    "checkpoint_name",
    "checkpoint_status",
    "confidence",
    "confidence_factor",
    "controlled",
    "cpu_millicores_from_cores",
    "estimate_container",
    "eviction_budget",
    "evicts_pods",
    "had_quick_oom",
    "meets_eviction_requirements",
    "merge_aggregates",
    "order_for_update",
    "per_container_minimum",
    "percentile_estimate",
    "proportional_limit",
    "quantities_of",
    "recommend",
    "recommendation_conditions",
    "restore_aggregate",
    "round_up",
    "scale_amount",
    "update_priority",
    "with_confidence",
    "with_margin",
    "with_minimum",
]
