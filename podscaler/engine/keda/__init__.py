"""KEDA's ScaledObject semantics as pure functions: activation, cooldown, idle, fallback,
scalingModifiers and pause.

The controller takes a ScaledObject's resolved view (``api``'s ``ScalingSpec``, every default
applied), maps its scalers' results onto :class:`TriggerObservation` and its status onto
:class:`ScalingState`, calls :func:`decide` once per poll, and
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
    MetricHealth,
    ScalingState,
    TriggerObservation,
)

__all__ = [
    "Action",
    "CompositeOutcome",
    "Event",
    "Explanation",
    "FallbackOutcome",
    "Formula",
    "FormulaError",
    "HpaInputs",
    "HpaMetric",
    "MetricHealth",
    "PauseAnnotations",
    "PausedReplicasError",
    "Rule",
    "ScalingDecision",
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
    "need_to_be_paused",
    "paused_replica_count",
    "read_pause_annotations",
    "request_scale",
    "validate_formula",
]
