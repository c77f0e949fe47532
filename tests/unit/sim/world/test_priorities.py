"""Priorities in the world: PriorityClasses give pods their ``spec.priority`` (admission), the
scheduler tries higher priorities first and preempts lower-priority pods for a pod that fits
nowhere, and PodDisruptionBudgets keep their status current as their pods come and go."""

from __future__ import annotations

from typing import Any

import pytest

from podscaler.sim.apiserver.errors import Forbidden
from podscaler.sim.clock import SimulatedClock
from podscaler.sim.world.state import is_ready

from .conftest import deployment, make_world, pods_of, simulate


def _priority_class(name: str, value: int, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, **extra}  # fmt: skip


def _with_class(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    manifest["spec"]["template"]["spec"]["priorityClassName"] = name
    return manifest


def _events(world: Any, reason: str) -> list[dict[str, Any]]:
    return [
        e.obj
        for e in world.server.store.entries(world.ctx.kinds.events)
        if e.obj.get("reason") == reason
    ]


def test_pods_get_the_priority_of_their_class_and_a_missing_class_is_refused() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock)
        rt = world.server.table.get("scheduling.k8s.io", "v1", "priorityclasses")
        assert rt is not None
        world.ctx.writer.create(rt, _priority_class("low", -5))
        world.ctx.writer.create(rt, _priority_class("base", 7, globalDefault=True))
        world.ctx.writer.create(
            world.ctx.kinds.deployments, _with_class(deployment("a", 1), "low"), "default"
        )
        world.ctx.writer.create(world.ctx.kinds.deployments, deployment("b", 1), "default")
        world.ctx.writer.create(
            world.ctx.kinds.deployments,
            _with_class(deployment("c", 1), "system-node-critical"),
            "default",
        )
        await world.run(until_seconds=5)
        assert pods_of(world, "a-")[0]["spec"]["priority"] == -5
        [b] = pods_of(world, "b-")
        assert (b["spec"]["priority"], b["spec"]["priorityClassName"]) == (7, "base")
        assert pods_of(world, "c-")[0]["spec"]["priority"] == 2000001000
        with pytest.raises(Forbidden, match="no PriorityClass with name nope"):
            world.ctx.writer.create(
                world.ctx.kinds.pods,
                {
                    "metadata": {"name": "p"},
                    "spec": {
                        "priorityClassName": "nope",
                        "containers": [{"name": "c", "image": "x"}],
                    },
                },
                "default",
            )
        # a ReplicaSet whose pods are refused says so, and the world goes on
        world.ctx.writer.create(
            world.ctx.kinds.deployments, _with_class(deployment("d", 1), "nope"), "default"
        )
        await world.run(until_seconds=10)
        assert pods_of(world, "d-") == []
        assert any("no PriorityClass" in e["message"] for e in _events(world, "FailedCreate"))
        await world.stop()

    simulate(body)


def test_a_higher_priority_pod_preempts_lower_ones_and_runs_once_they_are_gone() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock, nodes=2, max_size=2)
        rt = world.server.table.get("scheduling.k8s.io", "v1", "priorityclasses")
        assert rt is not None
        world.ctx.writer.create(rt, _priority_class("placeholder", -1))
        kinds = world.ctx.kinds
        world.ctx.writer.create(
            kinds.deployments,
            _with_class(deployment("hold", 2, cpu="1500m"), "placeholder"),
            "default",
        )
        await world.run(until_seconds=30)
        assert all(is_ready(p) for p in pods_of(world, "hold-"))
        world.ctx.writer.create(kinds.deployments, deployment("api", 1, cpu="1500m"), "default")
        world.step()
        [api] = pods_of(world, "api-")
        assert api["status"].get("nominatedNodeName")
        preempted = _events(world, "Preempted")
        assert len(preempted) == 1  # one victim is enough
        assert api["metadata"]["uid"] in preempted[0]["message"]
        await world.run(until_seconds=60)
        [api] = pods_of(world, "api-")
        assert is_ready(api)
        assert "nominatedNodeName" not in api["status"]
        # the victim's replacement is Pending: nothing lower to preempt, no second victim
        holds = pods_of(world, "hold-")
        assert sum(1 for p in holds if is_ready(p)) == 1
        pending = [p for p in holds if not p["spec"].get("nodeName")]
        assert len(pending) == 1
        scheduled = next(
            c for c in pending[0]["status"]["conditions"] if c["type"] == "PodScheduled"
        )
        assert scheduled["reason"] == "Unschedulable"
        assert len(_events(world, "Preempted")) == 1
        await world.stop()

    simulate(body)


def test_pods_that_may_not_preempt_wait() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock, nodes=1, max_size=1)
        rt = world.server.table.get("scheduling.k8s.io", "v1", "priorityclasses")
        assert rt is not None
        world.ctx.writer.create(rt, _priority_class("low", -1))
        world.ctx.writer.create(rt, _priority_class("polite", 100, preemptionPolicy="Never"))
        kinds = world.ctx.kinds
        world.ctx.writer.create(
            kinds.deployments, _with_class(deployment("low", 1, cpu="1500m"), "low"), "default"
        )
        await world.run(until_seconds=20)
        world.ctx.writer.create(
            kinds.deployments,
            _with_class(deployment("polite", 1, cpu="1500m"), "polite"),
            "default",
        )
        await world.run(until_seconds=40)
        assert _events(world, "Preempted") == []
        assert not pods_of(world, "polite-")[0]["spec"].get("nodeName")
        await world.stop()

    simulate(body)


def test_disruption_budgets_follow_their_pods() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock)
        pdbs = world.server.table.get("policy", "v1", "poddisruptionbudgets")
        assert pdbs is not None
        world.ctx.writer.create(
            pdbs,
            {
                "metadata": {"name": "web"},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
            },
            "default",
        )
        world.ctx.writer.create(world.ctx.kinds.deployments, deployment("web", 3), "default")
        await world.run(until_seconds=2)
        status = world.server.store.get(pdbs, "default", "web").obj["status"]
        assert (status["currentHealthy"], status["disruptionsAllowed"]) == (0, 0)
        await world.run(until_seconds=30)
        status = world.server.store.get(pdbs, "default", "web").obj["status"]
        assert status["currentHealthy"] == 3
        assert status["desiredHealthy"] == 2
        assert status["expectedPods"] == 3
        assert status["disruptionsAllowed"] == 1
        await world.stop()

    simulate(body)
