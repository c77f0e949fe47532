"""The node autoscaler on ASGs in moto, in-process: what AWS does wrong does not take it down.

A scenario run (the embedded API server, its world, the operator with the node autoscaler on
the AWS provider, moto behind the recording front) where instances of one group never
register, AWS throttles the describes for a while, and another group is deleted under the
autoscaler. Asserted from what AWS was sent (the front's record) and what the cluster shows.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from podscaler.commands.simulating import embedded_operator
from podscaler.sim.clock import SimulatedClock, run_simulated
from podscaler.sim.scenarios.runs import RunResult, run_scenario
from podscaler.sim.scenarios.scenario import missing_features, parse_scenario
from podscaler.sim.world.world import World
from tests.conftest import IN_CI

SCENARIO: dict[str, Any] = {
    "name": "aws-trouble",
    "features": ["node-autoscaler"],
    "duration": "16m",
    "seed": 2,
    "start": "2026-01-05T08:00:00Z",
    "nodeAutoscaler": {"maxNodeProvisionTime": "3m", "expander": "least-waste"},
    "nodeGroups": [
        {
            "name": "stuck",
            "cloud": "aws",
            "instanceType": "m5.large",
            "min": 1,
            "max": 4,
            "initial": 1,
            "registers": False,
        },
        {
            "name": "doomed",
            "cloud": "aws",
            "instanceType": "t3.small",
            "min": 0,
            "max": 2,
            "initial": 0,
        },
    ],
    "workloads": [{"name": "web", "replicas": 3, "requests": {"cpu": "1500m", "memory": "1Gi"}}],
    "assertions": [
        "events(TriggeredScaleUp) >= 1",
        "nodes(doomed) == 2 eventually",
        "nodes(doomed) == 0 at 8m",
        "events(ScaleUpTimedOut) >= 1",
        "nodes(stuck) == 1 always",
    ],
}


async def _trouble(world: World) -> None:
    """At 30 s AWS throttles three describes; at 6 min the "doomed" ASG is deleted."""
    await asyncio.sleep(30)
    assert world.front is not None
    world.front.fail("DescribeAutoScalingGroups", "Throttling", "Rate exceeded", times=3)
    await asyncio.sleep(330)
    from aiobotocore.session import AioSession

    async with AioSession().create_client(
        "autoscaling",
        region_name="eu-west-1",
        endpoint_url=world.front.upstream,
        aws_access_key_id="AKIAPODSCALERSIMULATION",
        aws_secret_access_key="x",
    ) as client:
        await client.delete_auto_scaling_group(AutoScalingGroupName="doomed", ForceDelete=True)


def test_unregistered_instances_throttling_and_a_vanished_group() -> None:
    scenario = parse_scenario(SCENARIO)
    missing = missing_features(scenario.features)
    if missing:
        if IN_CI:
            pytest.fail(f"missing: {missing}")
        pytest.skip(str(missing))
    calls: list[tuple[str, dict[str, str]]] = []
    trouble: list[asyncio.Task[None]] = []

    def on_tick(world: World) -> None:
        if not trouble:
            trouble.append(asyncio.ensure_future(_trouble(world)))

    async def keep(world: World, result: RunResult) -> None:
        assert world.front is not None
        calls.extend((c.action, dict(c.params)) for c in world.front.calls)

    async def main(clock: SimulatedClock) -> RunResult:
        try:
            return await run_scenario(
                scenario, clock=clock, operator=embedded_operator, on_tick=on_tick, keep=keep
            )
        finally:
            for task in trouble:
                task.cancel()

    result = run_simulated(main, start=scenario.start)
    assert result.passed, [(r.text, r.detail) for r in result.results if not r.ok]
    stuck = [
        (action, p)
        for action, p in calls
        if p.get("AutoScalingGroupName") == "stuck"
        or action == "TerminateInstanceInAutoScalingGroup"
    ]
    # raised for the pods that lost their nodes, then the two instances that never registered
    # terminated, exactly those, after the 3 minutes of --max-node-provision-time
    assert stuck[0][0] == "SetDesiredCapacity"
    assert stuck[0][1]["DesiredCapacity"] == "3"
    terminated = [p for a, p in stuck if a == "TerminateInstanceInAutoScalingGroup"]
    assert len(terminated) == 2
    assert all(p["ShouldDecrementDesiredCapacity"] == "true" for p in terminated)
    throttled = [a for a, _ in calls if a == "DescribeAutoScalingGroups"]
    assert throttled, "the autoscaler kept describing after being throttled"
    # it went on after the group vanished: describes after the deletion (about 6 min in)
    assert len(throttled) >= 8
