"""Story 5, the VPA hamster, as the built-in scenario ``vpa-hamster`` runs it: the embedded
cluster's world publishes each pod's usage (half a core) on ``metrics.k8s.io``, the operator's
recommender samples it every minute, and by the end both VerticalScalers publish upstream's
587m / 262144k — the one in updateMode Off without a pod touched. What is read is what a user
reads, over HTTP: the objects' status, the Events, the pods' requests.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from podscaler.api.quantities import Quantity
from podscaler.commands.simulating import embedded_operator
from podscaler.sim.clock import SimulatedClock, run_simulated
from podscaler.sim.scenarios.runs import RunResult, run_scenario
from podscaler.sim.scenarios.scenario import load_scenario, missing_features
from podscaler.sim.world.world import World
from tests.conftest import IN_CI

VS = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default/verticalscalers"


def test_the_hamster_is_recommended_587m_and_off_touches_nothing() -> None:
    scenario = load_scenario("vpa-hamster")
    missing = missing_features(scenario.features)
    if missing:
        if IN_CI:
            pytest.fail(f"missing: {missing}")
        pytest.skip(str(missing))
    seen: dict[str, Any] = {}

    async def keep(world: World, result: RunResult) -> None:
        async with aiohttp.ClientSession() as session:
            for name in ("hamster-vpa", "hamster-off-vpa"):
                async with session.get(f"{world.server.url}{VS}/{name}") as response:
                    seen[name] = await response.json()
            async with session.get(
                f"{world.server.url}/api/v1/namespaces/default/pods"
            ) as response:
                seen["pods"] = await response.json()

    async def main(clock: SimulatedClock) -> RunResult:
        return await run_scenario(scenario, clock=clock, operator=embedded_operator, keep=keep)

    result = run_simulated(main, start=scenario.start)
    assert result.passed, [(r.text, r.detail) for r in result.results if not r.ok]
    for name in ("hamster-vpa", "hamster-off-vpa"):
        status = seen[name]["status"]
        (container,) = status["recommendation"]["containerRecommendations"]
        assert Quantity(container["target"]["cpu"]).milli_value() == 587, (name, container)
        assert container["target"]["memory"] == "262144k", (name, container)
        provided = {c["type"]: c["status"] for c in status["conditions"]}
        assert provided["RecommendationProvided"] == "True"
    # Nothing was evicted (no admission webhook yet gives re-created pods the new requests):
    # the pods still ask for what the Deployments say.
    requests = {
        pod["metadata"]["name"]: pod["spec"]["containers"][0]["resources"]["requests"]
        for pod in seen["pods"]["items"]
    }
    assert len(requests) == 4
    assert all(r == {"cpu": "100m", "memory": "50Mi"} for r in requests.values()), requests


def test_a_memory_hungry_workload_is_raised_above_the_limit_that_kills_it() -> None:
    scenario = load_scenario("vpa-oom")
    missing = missing_features(scenario.features)
    if missing:
        if IN_CI:
            pytest.fail(f"missing: {missing}")
        pytest.skip(str(missing))
    seen: dict[str, Any] = {}

    async def keep(world: World, result: RunResult) -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{world.server.url}{VS}/hungry-vpa") as response,
        ):
            seen["scaler"] = await response.json()
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{world.server.url}/api/v1/namespaces/default/pods") as response,
        ):
            seen["pods"] = await response.json()

    async def main(clock: SimulatedClock) -> RunResult:
        return await run_scenario(scenario, clock=clock, operator=embedded_operator, keep=keep)

    result = run_simulated(main, start=scenario.start)
    assert result.passed, [(r.text, r.detail) for r in result.results if not r.ok]
    (pod,) = seen["pods"]["items"]
    (state,) = pod["status"]["containerStatuses"]
    assert state["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert state["restartCount"] >= 2
    (container,) = seen["scaler"]["status"]["recommendation"]["containerRecommendations"]
    # Each kill asks for max(request 80Mi, peak) + 100Mi; the p90 of those, + 15 %.
    assert Quantity(container["target"]["memory"]).int_value() > 250 * 2**20, container
