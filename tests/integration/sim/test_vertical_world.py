"""The world's controllers create pods through the API server's admission chain.

On a simulated loop, with no HTTP client in between: the world writes in-process, and once a
MutatingWebhookConfiguration is stored its ReplicaSet controller's pods go through the same
chain as a REST POST — here to real webhook servers on localhost over TLS: one that patches
(podscaler's own), one that never answers. Without a configuration the world takes its
synchronous path (nothing is admitted asynchronously).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import trustme

from podscaler.nodes.providers.sim import NodeGroupSpec
from podscaler.sim.apiserver.server import ApiServer
from podscaler.sim.clock import SimulatedClock, run_simulated
from podscaler.sim.world.admitting import RETRY_SECONDS
from podscaler.sim.world.world import World
from tests.integration.sim.test_vertical_admission import configuration, deployment

NAMESPACE = "shop"


def world_of(server: ApiServer) -> World:
    world = World(server, tick_seconds=15.0, seed=7)
    world.cloud.add_group(
        NodeGroupSpec(
            name="general",
            capacity={"cpu": "4", "memory": "16Gi", "pods": "29"},
            min_size=0,
            max_size=2,
            initial_size=1,
            boot_seconds=30,
        )
    )
    world.start()
    world.step()
    kinds = world.ctx.kinds
    world.ctx.writer.create(kinds.namespaces, {"metadata": {"name": NAMESPACE}})
    return world


def create(world: World, group: str, resource: str, obj: dict[str, Any], ns: str = "") -> None:
    rt = world.server.table.get(group, "v1", resource)
    assert rt is not None
    world.ctx.writer.create(rt, obj, ns)


def hamster_pods(world: World) -> list[dict[str, Any]]:
    return [
        p
        for (ns, _name), p in sorted(world.ctx.state.pods.items())
        if ns == NAMESPACE and (p["metadata"].get("labels") or {}).get("app") == "hamster"
    ]


def events(world: World, reason: str) -> list[str]:
    return [
        str(e.obj.get("message"))
        for e in world.server.store.entries(world.ctx.kinds.events, NAMESPACE)
        if e.obj.get("reason") == reason
    ]


@contextlib.asynccontextmanager
async def silent_webhook() -> AsyncIterator[int]:
    """A port that reads whatever it is sent and never answers (not even the TLS handshake):
    a webhook that hangs. Everything sent is read, so the simulated clock is free to move."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def hanging_configuration(port: int, ca: trustme.CA, policy: str) -> dict[str, Any]:
    found = configuration()
    webhook = found["webhooks"][0]
    webhook["failurePolicy"] = policy
    webhook["timeoutSeconds"] = 2
    webhook["clientConfig"] = {
        "url": f"https://127.0.0.1:{port}/mutate-pods",
        "caBundle": base64.b64encode(ca.cert_pem.bytes()).decode(),
    }
    return found


def test_without_a_configuration_pods_are_created_synchronously() -> None:
    async def main(clock: SimulatedClock) -> None:
        server = ApiServer(now=clock.now, install_crds=False)
        world = world_of(server)
        try:
            create(world, "apps", "deployments", deployment("hamster"), NAMESPACE)
            world.step()
            # Created within the step that wanted them: nothing went through a task.
            assert len(hamster_pods(world)) == 2
            assert world.ctx.creations.admitted == 0
            assert not world.ctx.creations.busy
        finally:
            await world.stop()

    run_simulated(main)


def test_a_webhook_that_times_out_is_ignored_and_the_pods_are_created() -> None:
    ca = trustme.CA()

    async def main(clock: SimulatedClock) -> None:
        server = ApiServer(now=clock.now, install_crds=False)
        world = world_of(server)
        async with silent_webhook() as port:
            create(
                world,
                "admissionregistration.k8s.io",
                "mutatingwebhookconfigurations",
                hanging_configuration(port, ca, "Ignore"),
            )
            try:
                started = asyncio.get_running_loop().time()
                create(world, "apps", "deployments", deployment("hamster"), NAMESPACE)
                world.step()
                # In flight: counted for the ReplicaSet, so another step creates no more.
                assert hamster_pods(world) == []
                world.step()
                assert world.ctx.creations.busy
                await world.run(until_seconds=world.seconds() + 5)
                pods = hamster_pods(world)
                assert len(pods) == 2
                # Each waited for the webhook's 2 s timeout, then went in as it was.
                assert asyncio.get_running_loop().time() - started >= 2
                assert world.ctx.creations.admitted == 2
                assert len(events(world, "SuccessfulCreate")) == 2
                for pod in pods:
                    resources = pod["spec"]["containers"][0].get("resources") or {}
                    assert "requests" not in resources  # the template's (none), unpatched
            finally:
                await world.stop()

    run_simulated(main)


def test_a_failing_webhook_under_failure_policy_fail_refuses_and_the_world_retries() -> None:
    ca = trustme.CA()

    async def main(clock: SimulatedClock) -> None:
        server = ApiServer(now=clock.now, install_crds=False)
        world = world_of(server)
        async with silent_webhook() as port:
            create(
                world,
                "admissionregistration.k8s.io",
                "mutatingwebhookconfigurations",
                hanging_configuration(port, ca, "Fail"),
            )
            try:
                create(world, "apps", "deployments", deployment("hamster"), NAMESPACE)
                await world.run(until_seconds=world.seconds() + RETRY_SECONDS + 5)
                assert hamster_pods(world) == []
                failed = events(world, "FailedCreate")
                assert failed
                assert "context deadline exceeded" in failed[0]
                assert world.ctx.creations.refused >= 4  # tried again after RETRY_SECONDS
                # The configuration goes: the next attempt is the synchronous path, and works.
                rt = world.server.table.get(
                    "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"
                )
                assert rt is not None
                world.ctx.writer.delete(rt, "", "podscaler-vertical")
                await world.run(until_seconds=world.seconds() + RETRY_SECONDS + 5)
                assert len(hamster_pods(world)) == 2
            finally:
                await world.stop()

    run_simulated(main)
