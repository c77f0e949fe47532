"""The workload controllers, scheduler and kubelet together: what a user would see with kubectl
after a Deployment, StatefulSet or Job is created, scaled or deleted."""

from __future__ import annotations

from typing import Any

from podscaler.sim.clock import SimulatedClock
from podscaler.sim.world.state import is_ready, pod_phase

from .conftest import deployment, make_world, pods_of, set_replicas, simulate


def test_deployment_pods_become_running_and_ready_after_their_delays() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock)
        world.ctx.writer.create(world.ctx.kinds.deployments, deployment("web", 3), "default")
        await world.run(until_seconds=3)  # bound, starting (start delay 5 s by default)
        pods = pods_of(world, "web-")
        assert len(pods) == 3
        assert all(pod_phase(p) == "Pending" and p["spec"].get("nodeName") for p in pods)
        await world.run(until_seconds=7)  # running, not Ready yet (ready delay 5 s)
        assert all(pod_phase(p) == "Running" and not is_ready(p) for p in pods_of(world, "web-"))
        await world.run(until_seconds=12)
        pods = pods_of(world, "web-")
        assert all(pod_phase(p) == "Running" and is_ready(p) for p in pods)
        dep = world.ctx.state.deployments[("default", "web")]
        assert dep["status"]["readyReplicas"] == 3
        # Upstream pods carry no kubelet finalizer: the API server keeps them Terminating.
        assert all("finalizers" not in p["metadata"] for p in pods)
        await world.stop()

    simulate(body)


def test_scale_down_removes_the_newest_pods_first_with_graceful_termination() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock)
        world.ctx.writer.create(world.ctx.kinds.deployments, deployment("web", 2), "default")
        await world.run(until_seconds=60)
        first = {p["metadata"]["name"] for p in pods_of(world, "web-")}
        set_replicas(world, "web", 4)
        await world.run(until_seconds=120)
        set_replicas(world, "web", 2)
        world.step()
        terminating = [p for p in pods_of(world, "web-") if p["metadata"].get("deletionTimestamp")]
        assert len(terminating) == 2
        assert not any(is_ready(p) for p in terminating)
        await world.run(until_seconds=180)
        assert {p["metadata"]["name"] for p in pods_of(world, "web-")} == first
        await world.stop()

    simulate(body)


def test_unschedulable_pods_get_the_scheduler_message_and_a_failed_scheduling_event() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock, nodes=2)
        world.ctx.writer.create(
            world.ctx.kinds.deployments, deployment("big", 3, cpu="1500m"), "default"
        )
        await world.run(until_seconds=30)
        pending = [p for p in pods_of(world, "big-") if not p["spec"].get("nodeName")]
        assert len(pending) == 1
        condition = next(
            c for c in pending[0]["status"]["conditions"] if c["type"] == "PodScheduled"
        )
        assert condition["status"] == "False"
        assert condition["reason"] == "Unschedulable"
        assert condition["message"].startswith("0/2 nodes are available: 2 Insufficient cpu.")
        events = [
            e.obj
            for e in world.server.store.entries(world.ctx.kinds.events, "default")
            if e.obj["reason"] == "FailedScheduling"
        ]
        assert events
        assert events[0]["type"] == "Warning"
        await world.stop()

    simulate(body)


def test_a_new_node_from_the_cloud_lets_pending_pods_run() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock, nodes=1, boot_seconds=90)
        world.ctx.writer.create(
            world.ctx.kinds.deployments, deployment("big", 2, cpu="1500m"), "default"
        )
        await world.run(until_seconds=30)
        group = world.cloud.groups["general"]
        await group.increase_size(1)
        assert await group.target_size() == 2
        await world.run(until_seconds=100)
        assert len(world.ctx.state.nodes) == 1  # still booting
        await world.run(until_seconds=140)
        assert len(world.ctx.state.nodes) == 2
        assert all(is_ready(p) for p in pods_of(world, "big-"))
        assert world.timeline.max_pending_seconds(world.seconds()) >= 90
        await world.stop()

    simulate(body)


def test_deleting_a_node_reschedules_its_pods() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock, nodes=2)
        world.ctx.writer.create(world.ctx.kinds.deployments, deployment("web", 4), "default")
        await world.run(until_seconds=30)
        group = world.cloud.groups["general"]
        victim = sorted(world.ctx.state.nodes)[0]
        await group.delete_nodes([victim])
        await world.run(until_seconds=90)
        assert victim not in world.ctx.state.nodes
        pods = pods_of(world, "web-")
        assert len(pods) == 4
        assert all(p["spec"]["nodeName"] != victim and is_ready(p) for p in pods)
        await world.stop()

    simulate(body)


def _pod_status(world: Any, name: str) -> dict[str, Any]:
    return dict(pods_of(world, name)[0]["status"])


def test_a_container_over_its_memory_limit_is_oom_killed_and_restarts() -> None:
    from podscaler.sim.world.load import Constant, UsageModel
    from podscaler.sim.world.profiles import Profiles, WorkloadProfile

    async def body(clock: SimulatedClock) -> None:
        profiles = Profiles()
        profiles.set(
            "default",
            "hog",
            WorkloadProfile(
                demand=Constant(100.0),
                usage=UsageModel(memory_base_bytes=64 * 2**20, memory_bytes_per_unit=2**20),
            ),
        )
        world = make_world(clock, profiles=profiles)
        world.ctx.writer.create(
            world.ctx.kinds.deployments, deployment("hog", 1, memory_limit="128Mi"), "default"
        )
        await world.run(until_seconds=40)
        status = _pod_status(world, "hog-")
        container = status["containerStatuses"][0]
        assert container["restartCount"] >= 1
        assert container["lastState"]["terminated"]["reason"] == "OOMKilled"
        await world.stop()

    simulate(body)


def test_statefulset_pods_come_up_in_order() -> None:
    async def body(clock: SimulatedClock) -> None:
        world = make_world(clock)
        sts = deployment("db", 3)
        sts["kind"] = "StatefulSet"
        sts["spec"]["serviceName"] = "db"
        world.ctx.writer.create(world.ctx.kinds.statefulsets, sts, "default")
        world.step()
        assert [p["metadata"]["name"] for p in pods_of(world, "db-")] == ["db-0"]
        await world.run(until_seconds=11)
        assert [p["metadata"]["name"] for p in pods_of(world, "db-")] == ["db-0", "db-1"]
        await world.run(until_seconds=60)
        assert len(pods_of(world, "db-")) == 3
        await world.stop()

    simulate(body)


def test_job_runs_its_completions_and_completes() -> None:
    from podscaler.sim.world.profiles import JobWork, Profiles, WorkloadProfile

    async def body(clock: SimulatedClock) -> None:
        profiles = Profiles()
        profiles.set("default", "crunch", WorkloadProfile(job=JobWork(run_seconds=30)))
        world = make_world(clock, profiles=profiles)
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "crunch", "namespace": "default"},
            "spec": {
                "parallelism": 2,
                "completions": 4,
                "template": {
                    "metadata": {"labels": {"app": "crunch"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "app", "image": "x"}],
                    },
                },
            },
        }
        world.ctx.writer.create(world.ctx.kinds.jobs, job, "default")
        await world.run(until_seconds=20)
        assert world.ctx.state.jobs[("default", "crunch")]["status"]["active"] == 2
        await world.run(until_seconds=120)
        status = world.ctx.state.jobs[("default", "crunch")]["status"]
        assert status["succeeded"] == 4
        assert any(c["type"] == "Complete" for c in status["conditions"])
        await world.stop()

    simulate(body)
