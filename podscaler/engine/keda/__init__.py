"""KEDA's ScaledObject semantics as pure functions: activation, cooldown, idle, fallback,
scalingModifiers and pause.

The controller maps a ScaledObject and its scalers' results onto :class:`ScalingSpec`,
:class:`TriggerObservation` and :class:`ScalingState`, calls :func:`decide` once per poll, and
applies the :class:`ScalingDecision`: the 0↔1 edge it owns, the HPA inputs and bounds for 1..N
(computed by ``engine.hpa``), the new status, Events, and the explanation of the binding rule.
"""

from podscaler.engine.keda.decision import (
    Explanation,
    HpaInputs,
    HpaMetric,
    ScalingDecision,
    StatusEvent,
    decide,
    hpa_max_replicas,
    hpa_min_replicas,
)
from podscaler.engine.keda.executor import Action, Event, Rule, cooldown_passed, request_scale
from podscaler.engine.keda.fallback import (
    FallbackOutcome,
    apply_fallback,
    fallback_replicas,
    has_valid_fallback,
)
from podscaler.engine.keda.formula import Formula, FormulaError, compile_formula
from podscaler.engine.keda.modifiers import CompositeOutcome, compose, validate_formula
from podscaler.engine.keda.pause import (
    PauseAnnotations,
    PausedReplicasError,
    has_paused_annotation,
    need_to_be_paused,
    paused_replica_count,
    read_pause_annotations,
)
from podscaler.engine.keda.types import (
    COMPOSITE_METRIC_NAME,
    FallbackBehavior,
    FallbackSpec,
    HealthStatus,
    MetricHealth,
    ScalingModifiersSpec,
    ScalingSpec,
    ScalingState,
    TriggerObservation,
)

__all__ = [
    "COMPOSITE_METRIC_NAME",
    "Action",
    "CompositeOutcome",
    "Event",
    "Explanation",
    "FallbackBehavior",
    "FallbackOutcome",
    "FallbackSpec",
    "Formula",
    "FormulaError",
    "HealthStatus",
    "HpaInputs",
    "HpaMetric",
    "MetricHealth",
    "PauseAnnotations",
    "PausedReplicasError",
    "Rule",
    "ScalingDecision",
    "ScalingModifiersSpec",
    "ScalingSpec",
    "ScalingState",
    "StatusEvent",
    "TriggerObservation",
    "apply_fallback",
    "compile_formula",
    "compose",
    "cooldown_passed",
    "decide",
    "fallback_replicas",
    "has_paused_annotation",
    "has_valid_fallback",
    "hpa_max_replicas",
    "hpa_min_replicas",
    "need_to_be_paused",
    "paused_replica_count",
    "read_pause_annotations",
    "request_scale",
    "validate_formula",
]
