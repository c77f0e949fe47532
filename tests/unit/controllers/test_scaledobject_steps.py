"""The steps of a ScaledObject evaluation alone: what the gatherer refuses without reading
anything, and the pure deciding step over hand-made inputs (what ``/scale`` should say, when
the HPA calculation runs and what it needs, a refusal's state). The applying step writes to a
cluster; the integration tests in ``tests/integration/controllers`` cover it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from podscaler.api.conditions import ConditionStatus
from podscaler.api.reasons import Reason
from podscaler.api.validation import validate_scaled_object
from podscaler.controllers.scaledobject import deciding
from podscaler.controllers.scaledobject.applying import parts_of
from podscaler.controllers.scaledobject.context import ObjectContext, Settings
from podscaler.controllers.scaledobject.gathering import Checked, Gatherer, Inputs, Refusal
from podscaler.controllers.scaledobject.mapping import state_from_status
from podscaler.controllers.scaledobject.records import decision_record
from podscaler.controllers.scaledobject.specs import SpecCache
from podscaler.controllers.triggers import TriggerPoll, TriggerSet
from podscaler.engine import hpa, keda
from podscaler.engine.keda import conditions as cond
from podscaler.kube.resources import Resource
from podscaler.kube.scaling import Scale, ScaleRef
from scalers.contract import ScalerEnvironment
from scalers.registry import default_registry

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DEPLOYMENTS = Resource(
    group="apps", version="v1", plural="deployments", kind="Deployment", namespaced=True
)


def so_json(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": "orders",
            "namespace": "shop",
            "generation": 3,
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {
            "scaleTargetRef": {"name": "web"},
            "triggers": [{"type": "prometheus", "metadata": {"query": "q", "threshold": "10"}}],
            **spec,
        },
    }


def inputs(*, replicas: int, value: float | None, error: str | None = None, **spec: Any) -> Inputs:
    """One pass's inputs: an external metric (target average 10) read as *value*."""
    so = validate_scaled_object(so_json(**spec))
    observation = keda.TriggerObservation(
        metric_name="s0-prometheus", trigger_type="prometheus", value=value, error=error,
        target=10.0,
    )  # fmt: skip
    env = ScalerEnvironment(now=lambda: NOW)
    return Inputs(
        so=so,
        ref=ScaleRef("apps/v1", "Deployment", "shop", "web"),
        resource=DEPLOYMENTS,
        scale=Scale(replicas=replicas, status_replicas=replicas, selector="app=web"),
        triggers=TriggerSet([], default_registry(), env),
        poll=TriggerPoll((observation,), ()),
        pods=(),
        pods_listed=False,
        ready_replicas=None,
        spec=SpecCache().scaling_of(so),
        refresh_seconds=30.0,
        previous_state=state_from_status(None),
        hpa_history=hpa.HpaHistory(),
        hpa_conditions=(),
        hpa_desired=None,
        generation=3,
        now=NOW,
    )


def decide(i: Inputs) -> deciding.Verdict:
    """The deciding step as the evaluator runs it (no pod metrics: no cpu/memory trigger)."""
    decision = deciding.decide_keda(i)
    handover = deciding.hpa_handover(i, decision)
    calculation = None
    if handover is not None:
        assert not deciding.needs_pod_metrics(i)
        calculation = deciding.decide_hpa(i, handover, None, hpa.HpaSettings())
    return deciding.verdict(i, decision, calculation)


def test_an_idle_target_with_work_waiting_is_activated_by_keda_alone() -> None:
    verdict = decide(inputs(replicas=0, value=50.0))
    assert verdict.hpa is None
    assert verdict.keda.action is keda.Action.SCALE_TO
    assert (verdict.desired, verdict.write) == (1, 1)


def test_a_running_target_is_sized_by_the_hpa_calculation() -> None:
    verdict = decide(inputs(replicas=3, value=50.0))
    assert verdict.hpa is not None
    # 50 over an average target of 10: 5 replicas, within upstream's max(2 x 3, 4) step
    assert verdict.hpa.desired_replicas == 5
    assert (verdict.desired, verdict.write) == (5, 5)


def test_a_steady_target_is_left_alone() -> None:
    verdict = decide(inputs(replicas=5, value=50.0))
    assert verdict.hpa is not None
    assert (verdict.desired, verdict.write) == (5, None)


def test_in_hpa_mode_the_calculation_is_the_hpas() -> None:
    i = inputs(replicas=2, value=50.0, advanced={"mode": "hpa"})
    decision = deciding.decide_keda(i)
    assert decision.hpa is not None  # KEDA would hand over ...
    assert deciding.hpa_handover(i, decision) is None  # ... but the HPA object does the work
    verdict = deciding.verdict(i, decision, None)
    assert (verdict.desired, verdict.write) == (2, None)


def test_the_record_and_status_parts_of_a_pass_come_from_its_inputs_and_verdict() -> None:
    i = inputs(replicas=3, value=50.0)
    verdict = decide(i)
    record = decision_record(i, verdict, None, None, scaled=True, error=None, dry_run=False)
    assert (record.current_replicas, record.desired_replicas, record.rule) == (3, 5, "hpa")
    assert record.at == NOW.isoformat()
    assert record.generation == 3
    parts = parts_of(i, record.short())
    assert parts.target_kind == "apps/v1.Deployment"
    assert parts.target_gvkr == {
        "group": "apps", "version": "v1", "kind": "Deployment", "resource": "deployments"
    }  # fmt: skip
    assert parts.last_decision == record.short()


def test_a_refusal_is_ready_false_over_the_last_state() -> None:
    refusal = Refusal(Reason.ScaleTargetNotFound, "scale target gone", "targetNotFound")
    status = {"lastActiveTime": "2026-01-02T03:00:00Z", "originalReplicaCount": 4}
    state = deciding.refused_state(None, status, refusal)
    ready = cond.get(state.conditions, cond.READY)
    assert ready.status is ConditionStatus.FALSE
    assert (ready.reason, ready.message) == ("ScaleTargetNotFound", "scale target gone")
    before = state_from_status(status)
    assert state.last_active_seconds == before.last_active_seconds
    assert state.original_replica_count == 4
    again = deciding.refused_state(state, None, Refusal(Reason.ScaledObjectCheckFailed, "x", "i"))
    assert cond.get(again.conditions, cond.READY).reason == "ScaledObjectCheckFailed"


def _gatherer(owner: str | None) -> Gatherer:
    nothing: Any = None  # the checks below must not read anything
    return Gatherer(
        nothing, nothing, nothing, nothing, settings=Settings(), owner_of=lambda ctx: owner
    )


async def test_check_refuses_an_invalid_object_with_every_problem() -> None:
    obj = so_json(minReplicaCount=5, maxReplicaCount=2)
    obj["spec"]["triggers"] = []
    ctx = ObjectContext("shop", "orders", obj)
    refusal = await _gatherer(None).check(ctx)
    assert isinstance(refusal, Refusal)
    assert (refusal.reason, refusal.rule) == (Reason.ScaledObjectCheckFailed, "invalid")
    assert "trigger" in refusal.message
    assert "maxReplicaCount" in refusal.message or "minReplicaCount" in refusal.message


async def test_check_refuses_a_target_an_older_object_scales_and_remembers_the_target() -> None:
    ctx = ObjectContext("shop", "orders", so_json())
    refusal = await _gatherer("older").check(ctx)
    assert isinstance(refusal, Refusal)
    assert refusal.reason is Reason.ScaleTargetAlreadyManaged
    assert "ScaledObject older" in refusal.message
    assert ctx.target == ScaleRef("apps/v1", "Deployment", "shop", "web")


async def test_check_passes_an_object_that_owns_its_target() -> None:
    ctx = ObjectContext("shop", "orders", so_json())
    checked = await _gatherer(None).check(ctx)
    assert isinstance(checked, Checked)
    assert checked.ref == ScaleRef("apps/v1", "Deployment", "shop", "web")
    assert checked.so.spec.scale_target_ref.name == "web"


def test_inputs_are_a_frozen_snapshot() -> None:
    i = inputs(replicas=1, value=1.0)
    with pytest.raises(AttributeError):
        cast(Any, i).scale = None
