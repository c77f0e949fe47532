"""A scenario with a ScaledObject in mode hpa: the run starts the embedded HPA controller and
routes it to the operator's metrics API through the embedded aggregator, so the HPA (not
podscaler) takes the Deployment from 1 to N.

The built-in ``web-hpa-mode``, cut to its first 3.5 hours (the climb to 450 req/s, 9 replicas
at 50 req/s each), run in-process on the simulated loop with the operator; what the cluster
shows at the end is asserted from the store: the HPA podscaler keeps, its status, the
``SuccessfulRescale`` Events of the HPA controller, the metric read through the aggregator.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from podscaler.commands.simulating import embedded_operator
from podscaler.sim.clock import SimulatedClock, run_simulated
from podscaler.sim.scenarios.hpas import needs_hpa_controller
from podscaler.sim.scenarios.runs import RunResult, run_scenario
from podscaler.sim.scenarios.scenario import load_scenario
from podscaler.sim.world.hpa import COMPONENT
from podscaler.sim.world.world import World


def test_mode_hpa_scales_one_to_n_through_the_embedded_hpa_controller() -> None:
    scenario = load_scenario("web-hpa-mode")
    scenario = replace(scenario, duration_seconds=3.5 * 3600, assertions=())
    seen: dict[str, Any] = {}

    async def keep(world: World, result: RunResult) -> None:
        store, table = world.server.store, world.server.table
        hpas = table.get("autoscaling", "v2", "horizontalpodautoscalers")
        events = table.get("", "v1", "events")
        assert hpas is not None
        assert events is not None
        seen["hpas"] = [e.obj for e in store.entries(hpas)]
        seen["events"] = [e.obj for e in store.entries(events)]

    async def main(clock: SimulatedClock) -> RunResult:
        return await run_scenario(scenario, clock=clock, operator=embedded_operator, keep=keep)

    result = run_simulated(main, start=scenario.start)
    replicas = result.timeline.series("web", "desired")
    assert min(replicas) == 1
    assert max(replicas) >= 8, max(replicas)

    [hpa] = seen["hpas"]
    assert hpa["metadata"]["name"] == "keda-hpa-web"
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["maxReplicas"] == 10
    status = hpa["status"]
    assert status["desiredReplicas"] >= 8
    # cpu from metrics.k8s.io; the request rate through the aggregator from the operator
    metrics = {m["type"]: m for m in status["currentMetrics"]}
    assert sorted(metrics) == ["External", "Resource"]
    assert metrics["External"]["external"]["current"]["averageValue"] not in ("0", None)
    rescales = [
        e
        for e in seen["events"]
        if e.get("reason") == "SuccessfulRescale"
        and (e.get("source") or {}).get("component") == COMPONENT
    ]
    assert rescales, "the embedded HPA controller never rescaled"
    assert any("New size: 8" in e["message"] or "New size: 9" in e["message"] for e in rescales)


def test_only_objects_scaled_by_an_hpa_need_the_controller() -> None:
    so: dict[str, Any] = {"kind": "ScaledObject", "spec": {"triggers": []}}
    assert not needs_hpa_controller([so])
    assert not needs_hpa_controller([{**so, "spec": {"advanced": {"mode": "direct"}}}])
    assert needs_hpa_controller([{**so, "spec": {"advanced": {"mode": "hpa"}}}])
    assert needs_hpa_controller([{"kind": "HorizontalPodAutoscaler", "spec": {}}])
    assert not needs_hpa_controller([{"kind": "ScaledObject", "spec": {"advanced": None}}])
