"""Issue 12 §3 and §5 as built-in scenarios: what the updater does to running pods, end to end.

Each scenario runs the embedded cluster, its world and ``podscaler run`` in one simulated loop;
the operator serves the admission webhook over TLS (its own CA, published into the scenario's
MutatingWebhookConfiguration) and the API server calls it for every pod the world's controllers
create. What is read afterwards is what a user reads over HTTP: the pods, the VerticalScaler's
status, the webhook configuration.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from podscaler.api.quantities import Quantity
from podscaler.commands.simulating import embedded_operator
from podscaler.controllers.vertical.podresources import UPDATES_ANNOTATION
from podscaler.sim.clock import SimulatedClock, run_simulated
from podscaler.sim.scenarios.runs import RunResult, run_scenario
from podscaler.sim.scenarios.scenario import load_scenario, missing_features
from podscaler.sim.world.world import World
from tests.conftest import IN_CI

VS = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default/verticalscalers"
MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/podscaler-vertical"


def run(name: str, reads: dict[str, str]) -> tuple[dict[str, Any], World]:
    """Run built-in scenario *name*; GET each of *reads* (label → path) at its end."""
    scenario = load_scenario(name)
    missing = missing_features(scenario.features)
    if missing:
        if IN_CI:
            pytest.fail(f"missing: {missing}")
        pytest.skip(str(missing))
    seen: dict[str, Any] = {}
    worlds: list[World] = []

    async def keep(world: World, result: RunResult) -> None:
        worlds.append(world)
        async with aiohttp.ClientSession() as session:
            for label, path in reads.items():
                async with session.get(f"{world.server.url}{path}") as response:
                    seen[label] = await response.json()

    async def main(clock: SimulatedClock) -> RunResult:
        return await run_scenario(scenario, clock=clock, operator=embedded_operator, keep=keep)

    result = run_simulated(main, start=scenario.start)
    assert result.passed, [(r.text, r.detail) for r in result.results if not r.ok]
    return seen, worlds[0]


def pods_of(listing: dict[str, Any], app: str) -> list[dict[str, Any]]:
    return [
        p
        for p in listing["items"]
        if (p["metadata"].get("labels") or {}).get("app") == app
        and not p["metadata"].get("deletionTimestamp")
    ]


def target_cpu_millicores(scaler: dict[str, Any]) -> int:
    (container,) = scaler["status"]["recommendation"]["containerRecommendations"]
    return Quantity(container["target"]["cpu"]).milli_value()


def test_recreate_evicts_within_the_budget_and_the_webhook_sets_the_new_requests() -> None:
    seen, world = run(
        "vpa-recreate",
        {
            "scaler": f"{VS}/hamster-vpa",
            "pods": "/api/v1/namespaces/default/pods",
            "configuration": MWC,
        },
    )
    # The webhook published its CA: the API server called it over verified TLS.
    assert seen["configuration"]["webhooks"][0]["clientConfig"]["caBundle"]
    pods = pods_of(seen["pods"], "hamster")
    assert len(pods) == 3
    for pod in pods:
        # Re-created by the world's ReplicaSet controller, admitted by the webhook.
        requests = pod["spec"]["containers"][0]["resources"]["requests"]
        assert Quantity(requests["cpu"]).milli_value() >= 450, pod["metadata"]["name"]
        assert UPDATES_ANNOTATION in pod["metadata"]["annotations"], pod["metadata"]["name"]
    # Each was created through the webhook, none of them before the updater evicted.
    assert world.ctx.creations.admitted >= 3
    assert 450 <= target_cpu_millicores(seen["scaler"]) <= 700


def test_in_place_deferred_too_long_falls_back_to_eviction_through_the_webhook() -> None:
    seen, world = run(
        "vpa-inplace-fallback",
        {
            "pods": "/api/v1/namespaces/default/pods",
            "nodes": "/api/v1/nodes",
            "events": "/apis/events.k8s.io/v1/namespaces/default/events",
        },
    )
    fallbacks = [
        e["note"] for e in seen["events"]["items"] if e["reason"] == "VerticalInPlaceFallback"
    ]
    assert fallbacks, "no fallback Event"
    assert all("Deferred for" in note and "evicting it instead" in note for note in fallbacks)
    pods = pods_of(seen["pods"], "hamster")
    assert len(pods) == 2
    (ballast,) = pods_of(seen["pods"], "ballast")
    for pod in pods:
        # Not resized in place: re-created, with the webhook's requests, on the node the node
        # autoscaler added (the ballast's node never had room).
        requests = pod["spec"]["containers"][0]["resources"]["requests"]
        assert requests == {"cpu": "587m", "memory": "262144k"}, pod["metadata"]["name"]
        assert pod["spec"]["nodeName"] != ballast["spec"]["nodeName"]
        (status,) = pod["status"]["containerStatuses"]
        assert status["resources"]["requests"] == requests  # what runs is what is asked
    assert len(seen["nodes"]["items"]) == 2
    assert world.ctx.creations.admitted >= 2


def test_a_restarted_operator_keeps_the_recommendation_from_its_checkpoints() -> None:
    cp = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default/verticalscalercheckpoints"
    seen, world = run("vpa-restart", {"scaler": f"{VS}/hamster-vpa", "checkpoints": cp})
    assert any(a.text == "operator restarted" for a in world.timeline.annotations)
    # Only the quiet quarter of an hour (100m a pod) came after the restart; the target still
    # holds the busy one because the history came back from the checkpoint.
    assert 550 <= target_cpu_millicores(seen["scaler"]) <= 650
    (checkpoint,) = seen["checkpoints"]["items"]
    assert checkpoint["status"]["firstSampleStart"] < "2026-01-05T09:15:00Z"
    assert checkpoint["status"]["totalSamplesCount"] >= 2 * 25
