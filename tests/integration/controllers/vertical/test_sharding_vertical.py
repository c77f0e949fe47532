"""VerticalScalers sharded like ScaledObjects (issue 16): two recommenders, each owning one
scaler, against the embedded API server.

Both resolve every scaler and give every pod to its scaler (the updater, on one replica,
needs them all), but only the owner samples, recommends, writes the status and the
checkpoints; neither collects the other's checkpoints as garbage; when a scaler changes hands
the new owner reads its checkpoints back and recommends what the old owner did, and the old
owner forgets its history.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from podscaler.controllers.vertical import VerticalRecommender, VerticalSettings
from podscaler.kube.clients import Kube
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.controllers.vertical_objects import (
    CP_PATH,
    VS_PATH,
    SettableClock,
    running_pod,
    vertical_scaler,
    workload,
)

pytestmark = pytest.mark.filterwarnings("error")

HAMSTER, MOUSE = ("default", "hamster-vpa"), ("default", "mouse-vpa")


async def test_each_replica_recommends_for_its_own_scalers_and_a_handover_restores(
    apiserver: ApiServer, kube: Kube, clock: SettableClock
) -> None:
    pods: dict[str, list[str]] = {}
    for app, replicas in (("hamster", 2), ("mouse", 1)):
        await kube.request(
            "POST", "/apis/apps/v1/namespaces/default/deployments", body=workload(app, replicas)
        )
        pods[app] = [f"{app}-{i}" for i in range(replicas)]
        for name in pods[app]:
            await running_pod(kube, name, app, clock.now() - timedelta(hours=1))
        await kube.request("POST", VS_PATH, body=vertical_scaler(f"{app}-vpa", app))

    owner = {"default/hamster-vpa": "a", "default/mouse-vpa": "b"}
    settings = VerticalSettings(recommender_interval_seconds=3600.0)
    recs = {
        name: VerticalRecommender(
            kube,
            namespace="default",
            now=clock.now,
            settings=settings,
            owns=lambda key, name=name: owner[key] == name,
        )
        for name in ("a", "b")
    }
    for rec in recs.values():
        await rec.start()
        await rec.wait_synced(10)
        await rec.wait_pass(10)

    async def minutes(n: int) -> None:
        for _ in range(n):
            clock.advance(60)
            for app, names in pods.items():
                usage = {"cpu": "500m" if app == "hamster" else "100m", "memory": "100Mi"}
                for pod in names:
                    apiserver.set_pod_metrics("default", pod, {app: usage})
            for rec in recs.values():
                await rec.run_pass()

    try:
        await minutes(120)
        a, b = recs["a"], recs["b"]
        assert a.states[HAMSTER].recommendation is not None
        assert a.states[MOUSE].recommendation is None
        assert not a.states[MOUSE].history.aggregates
        assert b.states[MOUSE].recommendation is not None
        assert b.states[HAMSTER].recommendation is None
        assert not b.states[HAMSTER].history.aggregates
        # Every replica claims every scaler's pods (the updater's input).
        for rec in (a, b):
            assert [k[1] for k in rec.states[HAMSTER].pods] == pods["hamster"]
            assert [k[1] for k in rec.states[MOUSE].pods] == pods["mouse"]
        for scaler in ("hamster-vpa", "mouse-vpa"):
            found = await kube.request("GET", f"{VS_PATH}/{scaler}")
            assert found["status"]["recommendation"]["containerRecommendations"]

        # Garbage collection on both keeps both checkpoints (each is its owner's).
        now = clock.now().timestamp()
        for rec in (a, b):
            await rec.collect_garbage(now)
        for scaler, app in (("hamster-vpa", "hamster"), ("mouse-vpa", "mouse")):
            await kube.request("GET", f"{CP_PATH}/{scaler}-{app}")

        # The hamster scaler moves to b: b reads its checkpoint back, a forgets it.
        before = a.states[HAMSTER].recommendation
        assert before is not None
        owner["default/hamster-vpa"] = "b"
        await minutes(1)
        after = b.states[HAMSTER].recommendation
        assert after is not None
        assert (
            after.containers[0].target.cpu_millicores == before.containers[0].target.cpu_millicores
        )
        assert after.containers[0].estimate.total_samples_count >= (
            before.containers[0].estimate.total_samples_count
        )
        assert a.states[HAMSTER].recommendation is None
        assert not a.states[HAMSTER].history.aggregates
    finally:
        for rec in recs.values():
            await rec.aclose()
