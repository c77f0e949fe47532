"""Deciding: the engines called over a pass's :class:`~.gathering.Inputs`. Pure.

1. :func:`decide_keda` — ``engine.keda.decide``: pause, fallback, activity, the 0↔1 edge.
2. :func:`hpa_handover` — when KEDA does not scale to a number itself (activate, deactivate,
   paused replicas) and the object is in direct mode, the 1..N calculation is podscaler's:
   the metrics KEDA hands over (fallback values substituted, min/max, a paused direction).
3. :func:`decide_hpa` — ``engine.hpa.decide`` over that hand-over (mapped by :mod:`.direct`,
   with the ScaledObject's ``behavior``), the pods and, for cpu/memory triggers, the pods'
   usage (which the gatherer reads only when step 2 asks for it, see
   :func:`needs_pod_metrics`).
4. :func:`verdict` — what ``/scale`` should say and whether to write it.

A pass that stopped before deciding (:class:`~.gathering.Refusal`) is decided too:
:func:`refused_state` is the last state with Ready=False for the refusal's reason.

No I/O and no clock here: the time is the pass's (``Inputs.now``). Writing, concluding the HPA
history with the write's outcome, Events and status are :mod:`.applying`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podscaler.api.conditions import Condition, ConditionStatus
from podscaler.controllers.scaledobject.direct import ResourceSpec, hpa_spec_and_readings
from podscaler.controllers.scaledobject.gathering import Inputs, Refusal
from podscaler.controllers.scaledobject.mapping import hpa_behavior, state_from_status
from podscaler.controllers.triggers import TriggerSet
from podscaler.engine import hpa, keda
from podscaler.engine.keda import conditions as cond

__all__ = [
    "Verdict",
    "decide_hpa",
    "decide_keda",
    "hpa_handover",
    "needs_pod_metrics",
    "refused_state",
    "resource_specs",
    "verdict",
]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The engines' answer for one pass."""

    keda: keda.ScalingDecision
    #: The 1..N calculation, when KEDA handed over to it.
    hpa: hpa.Decision | None
    #: The replicas the target should have after this pass.
    desired: int
    #: The replicas to write to ``/scale`` (``None``: leave it alone).
    write: int | None


def decide_keda(inputs: Inputs) -> keda.ScalingDecision:
    return keda.decide(
        inputs.spec, inputs.poll.observations, inputs.previous_state, inputs.scale.replicas,
        inputs.now_seconds, ready_replicas=inputs.ready_replicas,
    )  # fmt: skip


def hpa_handover(inputs: Inputs, decision: keda.ScalingDecision) -> keda.HpaInputs | None:
    """What the 1..N calculation runs on this pass, or ``None`` when it does not run."""
    if decision.action == keda.Action.SCALE_TO and decision.replicas is not None:
        return None
    if decision.hpa is not None and inputs.so.spec.mode != "hpa":
        return decision.hpa
    return None


def resource_specs(triggers: TriggerSet) -> dict[str, ResourceSpec]:
    """The engine's key of each cpu/memory trigger → its (first) metric spec."""
    return {
        t.resource_metric_name(): s
        for t in triggers.triggers
        if t.is_resource
        for s in t.resource_specs()[:1]
    }


def needs_pod_metrics(inputs: Inputs) -> bool:
    """Whether the HPA calculation reads the pods' usage (cpu/memory triggers, a selector)."""
    return bool(inputs.scale.selector) and bool(resource_specs(inputs.triggers))


def decide_hpa(
    inputs: Inputs,
    handover: keda.HpaInputs,
    pod_metrics: hpa.MetricReading | None,
    settings: hpa.HpaSettings,
) -> hpa.Decision:
    """The 1..N calculation; *pod_metrics* as the gatherer read them (``None``: not read)."""
    behavior = hpa_behavior(
        inputs.so.spec.behavior,
        scale_up_disabled=handover.scale_up_disabled,
        scale_down_disabled=handover.scale_down_disabled,
    )
    resources = resource_specs(inputs.triggers)
    spec, readings = hpa_spec_and_readings(
        handover, resources, behavior, pod_metrics, scaled_object=inputs.so.metadata.name or ""
    )
    problem = None
    if resources and not inputs.scale.selector:
        problem = hpa.SelectorProblem(
            "InvalidSelector", "the HPA controller was unable to get the target's selector"
        )
    observed = hpa.Observed(
        spec_replicas=inputs.scale.replicas,
        status_replicas=inputs.scale.status_replicas,
        pods=inputs.pods,
        readings=readings,
        previous_conditions=inputs.hpa_conditions,
        previous_desired_replicas=inputs.hpa_desired,
        selector_problem=problem,
    )
    return hpa.decide(spec, observed, inputs.hpa_history, inputs.now_seconds, settings)


def verdict(
    inputs: Inputs, decision: keda.ScalingDecision, hpa_decision: hpa.Decision | None
) -> Verdict:
    current = inputs.scale.replicas
    if decision.action == keda.Action.SCALE_TO and decision.replicas is not None:
        write = decision.replicas if decision.replicas != current else None
        return Verdict(decision, None, decision.replicas, write)
    if hpa_decision is not None:
        write = hpa_decision.desired_replicas if hpa_decision.rescale else None
        return Verdict(decision, hpa_decision, hpa_decision.desired_replicas, write)
    return Verdict(decision, None, current, None)


def refused_state(
    state: keda.ScalingState | None, status: Mapping[str, Any] | None, refusal: Refusal
) -> keda.ScalingState:
    """*state* (or, before the first pass, the one *status* records) with Ready=False for the
    reason *refusal* gives; everything else as it was."""
    state = state or state_from_status(status)
    conditions = cond.with_condition(
        cond.complete(state.conditions),
        Condition(cond.READY, ConditionStatus.FALSE, refusal.reason.value, refusal.message),
    )
    return keda.ScalingState(
        state.last_active_seconds,
        state.health,
        state.original_replica_count,
        state.paused_replica_count,
        conditions,
    )
