"""Forecast headroom across shard members: the predictive ScaledObject is polled on one
replica, the node autoscaler runs on another, and the nodes still boot ahead of the forecast.

The built-in ``web-predictive-nodes`` (nodes that boot in 3 minutes; a predictive trigger with
``nodeHorizon``), cut to its first 9 hours (the morning rush is at 8h), runs in-process on the
simulated loop against the embedded API server with, instead of one operator:

* replica **A**: a ScaledObject controller that owns every object, with a headroom board of its
  own (its in-process offers reach no node autoscaler, as in another process);
* replica **B**: a ScaledObject controller that owns nothing, and the node autoscaler, which
  reads this event loop's board.

The only way A's forecast reaches B's node autoscaler is ``status.forecastHeadroom``, written by
A and read from B's informer (slim copies). The scenario's own assertion holds as with one
operator (no pod waits for a node boot: ``max_pending_seconds < 150``; without the headroom it
is about 266 s, bench/RESULTS.md), and B's board saw the offers.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace

from podscaler.clock import clock_of
from podscaler.controllers.nodes import NodeAutoscaler, NodeAutoscalerSettings, SimProvider
from podscaler.controllers.nodes.settings import NodeAutoscalerConfig, start_provider
from podscaler.controllers.scaledobject import ScaledObjectController, Settings
from podscaler.controllers.triggers.headroom import HeadroomBoard, HeadroomOffer
from podscaler.kube.clients import connect
from podscaler.nodes.providers.sim import SimNodeGroup
from podscaler.sim.clock import SimulatedClock, run_simulated
from podscaler.sim.scenarios.runs import OperatorContext, RunResult, run_scenario
from podscaler.sim.scenarios.scenario import load_scenario


def test_the_node_autoscaler_on_another_replica_plans_for_the_forecast() -> None:
    scenario = load_scenario("web-predictive-nodes")
    scenario = replace(scenario, duration_seconds=9 * 3600)
    assert any("max_pending_seconds" in a.text for a in scenario.assertions)
    seen: list[HeadroomOffer] = []
    private = HeadroomBoard()  # replica A's: nothing reads it

    async def two_replicas(context: OperatorContext) -> None:
        loop = asyncio.get_running_loop()
        now = clock_of(loop).now
        kube = await connect(kubeconfig=str(context.kubeconfig_path))
        assert context.node_autoscaler is not None
        simulated = [g for g in context.node_groups if isinstance(g, SimNodeGroup)]
        config = NodeAutoscalerConfig(
            options=context.node_autoscaler, provider=SimProvider(simulated), seed=context.seed
        )
        provider = await start_provider(config, lambda: now().timestamp())
        owner = ScaledObjectController(
            kube,
            namespace=context.namespace,
            now=now,
            settings=Settings(),
            rng=random.Random(context.seed),
            owns=lambda key: True,
            headroom_board=private,
        )
        other = ScaledObjectController(
            kube,
            namespace=context.namespace,
            now=now,
            settings=Settings(),
            rng=random.Random(context.seed),
            owns=lambda key: False,
        )
        nodes = NodeAutoscaler(
            kube,
            provider,
            now=now,
            settings=NodeAutoscalerSettings(options=config.options, seed=context.seed),
        )
        board = HeadroomBoard.for_running_loop()
        assert board is not private

        async def watch() -> None:
            while True:
                seen.extend(o for o in board.current(loop.time()) if o.count > 0)
                await asyncio.sleep(15)

        watcher = loop.create_task(watch())
        try:
            await owner.start()
            await other.start()
            await nodes.start()
            await asyncio.Event().wait()
        finally:
            watcher.cancel()
            await nodes.aclose()
            await other.aclose()
            await owner.aclose()
            await kube.close()

    async def main(clock: SimulatedClock) -> RunResult:
        return await run_scenario(scenario, clock=clock, operator=two_replicas)

    result = run_simulated(main, start=scenario.start)
    assert seen, "the node autoscaler's replica never saw a published offer"
    assert {(o.namespace, o.owner) for o in seen} == {("shop", "web")}
    assert max(o.count for o in seen) >= 2
    assert result.passed, [(r.text, r.detail) for r in result.results if not r.ok]
