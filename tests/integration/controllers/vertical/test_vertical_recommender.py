"""The VerticalScaler recommender in-process against the embedded API server.

Pods and a Deployment are written over HTTP; usage is published on the server's
``metrics.k8s.io`` board (what metrics-server would serve); the recommender reads it back over
HTTP. The clock is shared and advanced a minute per pass, so a day of history takes seconds.
What is asserted is what a user sees: the status, its conditions, checkpoint objects, Events.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from podscaler.api.quantities import Quantity
from podscaler.cli import main
from podscaler.controllers.vertical import VerticalRecommender
from podscaler.kube.clients import Kube
from podscaler.kube.events import EventRecorder
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.controllers.objects import wait_for
from tests.integration.controllers.vertical.conftest import StartRecommender
from tests.integration.controllers.vertical_objects import (
    CP_PATH,
    PODS_PATH,
    VS_PATH,
    SettableClock,
    condition,
    running_pod,
    vertical_scaler,
    workload,
)

pytestmark = pytest.mark.filterwarnings("error")


async def _play(
    rec: VerticalRecommender,
    server: ApiServer,
    clock: SettableClock,
    pods: list[str],
    minutes: int,
    usage: dict[str, str],
) -> None:
    for _ in range(minutes):
        clock.advance(60)
        for pod in pods:
            server.set_pod_metrics("default", pod, {"hamster": usage})
        await rec.run_pass()


async def _no_pods(rec: VerticalRecommender) -> bool:
    return len(rec.pod_informer) == 0


async def _hamster(kube: Kube, clock: SettableClock, replicas: int = 2) -> list[str]:
    await kube.request(
        "POST", "/apis/apps/v1/namespaces/default/deployments", body=workload("hamster", replicas)
    )
    names = [f"hamster-{i}" for i in range(replicas)]
    for name in names:
        await running_pod(kube, name, "hamster", clock.now() - timedelta(hours=1))
    return names


async def test_a_day_of_half_a_core_recommends_upstreams_587m(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamster(kube, clock)
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster"))
    rec = await start_recommender()
    try:
        await _play(rec, apiserver, clock, pods, 24 * 60, {"cpu": "500m", "memory": "200Mi"})
    finally:
        await rec.aclose()
    scaler = await kube.request("GET", f"{VS_PATH}/hamster-vpa")
    (container,) = scaler["status"]["recommendation"]["containerRecommendations"]
    assert container["containerName"] == "hamster"
    # 500m lands in the bucket whose upper edge the p90 reads; + 15 % margin.
    target_cpu = Quantity(container["target"]["cpu"]).milli_value()
    assert 560 <= target_cpu <= 600, container
    assert Quantity(container["lowerBound"]["cpu"]).milli_value() < target_cpu
    assert Quantity(container["upperBound"]["cpu"]).milli_value() > target_cpu
    memory = Quantity(container["target"]["memory"]).int_value()
    assert 200 * 2**20 < memory < 260 * 2**20
    assert condition(scaler, "RecommendationProvided")["status"] == "True"
    assert "NoPodsMatched" not in {c["type"] for c in scaler["status"]["conditions"]}
    # Checkpoints in upstream's format, one per container.
    checkpoint = await kube.request("GET", f"{CP_PATH}/hamster-vpa-hamster")
    assert checkpoint["spec"] == {"vpaObjectName": "hamster-vpa", "containerName": "hamster"}
    assert checkpoint["status"]["version"] == "v3"
    assert checkpoint["status"]["totalSamplesCount"] == 2 * 24 * 60
    await recorder.flush()
    events = await kube.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events")
    assert "VerticalRecommendationChanged" in {e["reason"] for e in events["items"]}


async def test_a_restart_recommends_the_same_from_checkpoints(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamster(kube, clock)
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster"))
    rec = await start_recommender()
    try:
        await _play(rec, apiserver, clock, pods, 6 * 60, {"cpu": "300m", "memory": "100Mi"})
        before = rec.states[("default", "hamster-vpa")].recommendation
    finally:
        await rec.aclose()
    assert before is not None
    # A new process: its history comes only from the checkpoint objects.
    again = await start_recommender()
    try:
        after = again.states[("default", "hamster-vpa")].recommendation
    finally:
        await again.aclose()
    assert after is not None
    assert after.containers[0].target.cpu_millicores == before.containers[0].target.cpu_millicores
    assert after.containers[0].estimate.total_samples_count == 2 * 6 * 60


async def test_an_oom_kill_raises_the_memory_target(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    await kube.request(
        "POST", "/apis/apps/v1/namespaces/default/deployments", body=workload("hamster", 1)
    )
    start = clock.now() - timedelta(hours=1)
    await running_pod(
        kube,
        "hamster-0",
        "hamster",
        start,
        memory="300Mi",
        oom_at=(start, clock.now() - timedelta(minutes=1)),
    )
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster"))
    rec = await start_recommender()
    try:
        await _play(rec, apiserver, clock, ["hamster-0"], 30, {"cpu": "100m", "memory": "100Mi"})
        recommendation = rec.states[("default", "hamster-vpa")].recommendation
    finally:
        await rec.aclose()
    assert rec.ooms == 1  # seen on every pass, counted once
    assert recommendation is not None
    # max(300Mi request, peak) * 1.2 = 360Mi, the p90 of the peaks, + 15 %.
    assert recommendation.containers[0].target.memory_bytes is not None
    assert recommendation.containers[0].target.memory_bytes > 360 * 2**20


async def test_bad_scalers_get_a_condition_and_an_event_and_nothing_stops(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamster(kube, clock)
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster"))
    clock.advance(1)
    await kube.request("POST", VS_PATH, body=vertical_scaler("second", "hamster"))
    await kube.request("POST", VS_PATH, body=vertical_scaler("ghost", "nothing-here"))
    bounds = vertical_scaler(
        "upside-down",
        "hamster",
        resourcePolicy={
            "containerPolicies": [
                {"containerName": "*", "minAllowed": {"cpu": "2"}, "maxAllowed": {"cpu": "1"}}
            ]
        },
    )
    created = await kube.request("POST", VS_PATH, body=bounds)
    assert created["metadata"]["name"] == "upside-down"
    rec = await start_recommender()
    try:
        await _play(rec, apiserver, clock, pods, 10, {"cpu": "200m", "memory": "100Mi"})
    finally:
        await rec.aclose()
    good = await kube.request("GET", f"{VS_PATH}/hamster-vpa")
    assert condition(good, "RecommendationProvided")["status"] == "True"
    reasons = {}
    for name in ("second", "ghost", "upside-down"):
        obj = await kube.request("GET", f"{VS_PATH}/{name}")
        unsupported = condition(obj, "ConfigUnsupported")
        assert unsupported["status"] == "True", (name, obj.get("status"))
        assert condition(obj, "RecommendationProvided")["status"] == "False"
        reasons[name] = unsupported["reason"]
    assert reasons == {
        "second": "ConflictingVerticalScalers",
        "ghost": "TargetNotFound",
        "upside-down": "InvalidSpec",
    }
    await recorder.flush()
    events = await kube.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events")
    warned = {
        e["regarding"]["name"]
        for e in events["items"]
        if e["reason"] == "VerticalScalerConfigUnsupported"
    }
    assert warned == {"second", "ghost", "upside-down"}


async def test_checkpoints_of_gone_scalers_and_containers_are_collected(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamster(kube, clock)
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster"))
    orphan = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "VerticalScalerCheckpoint",
        "metadata": {"name": "deleted-vpa-web"},
        "spec": {"vpaObjectName": "deleted-vpa", "containerName": "web"},
    }
    await kube.request("POST", CP_PATH, body=orphan)
    rec = await start_recommender()
    try:
        await _play(rec, apiserver, clock, pods, 2, {"cpu": "200m", "memory": "100Mi"})
        names = {i["metadata"]["name"] for i in (await kube.request("GET", CP_PATH))["items"]}
        assert names == {"hamster-vpa-hamster"}
        # The pods go: the history stays (it outlives pods) until it expires.
        for pod in pods:
            await kube.request("DELETE", f"{PODS_PATH}/{pod}")
        await wait_for(lambda: _no_pods(rec), timeout_seconds=10)
        clock.advance(8 * 86_400)
        await rec.run_pass()
    finally:
        await rec.aclose()
    names = {i["metadata"]["name"] for i in (await kube.request("GET", CP_PATH))["items"]}
    assert names == set()


async def test_explain_shows_each_stage_and_the_cap(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamster(kube, clock)
    policy = {"containerPolicies": [{"containerName": "*", "maxAllowed": {"cpu": "400m"}}]}
    body = vertical_scaler("hamster-vpa", "hamster", resourcePolicy=policy)
    await kube.request("POST", VS_PATH, body=body)
    rec = await start_recommender()
    try:
        await _play(rec, apiserver, clock, pods, 120, {"cpu": "500m", "memory": "200Mi"})
    finally:
        await rec.aclose()
    # What a user types (asyncio.run inside, so off this test's loop).
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["explain", "verticalscaler/default/hamster-vpa", "--server", apiserver.url],
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("VerticalScaler default/hamster-vpa -> Deployment hamster")
    assert "container hamster: 240 samples over 0.08 days" in text
    assert "target: p90 = " in text
    assert "+ margin" in text
    assert "confidence ->" in text
    assert "target cpu capped by maxAllowed: " in text
    assert "-> 400m" in text
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["explain", "vsc/default/hamster-vpa", "--server", apiserver.url, "-o", "json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (container,) = data["containers"]
    assert container["target"]["cpu"] == 400
    assert container["uncappedTarget"]["cpu"] > 400
    assert container["cappedBy"] == [{"resource": "cpu", "bound": "maxAllowed"}]
    missing = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["explain", "verticalscaler/default/nope", "--server", apiserver.url],
    )
    assert missing.exit_code == 1
    assert "VerticalScaler default/nope" in missing.output


async def test_a_daemonset_target_is_found_through_its_spec_selector(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    agent = workload("hamster", 1)
    agent["kind"] = "DaemonSet"
    del agent["spec"]["replicas"]
    await kube.request("POST", "/apis/apps/v1/namespaces/default/daemonsets", body=agent)
    await running_pod(kube, "hamster-x2x7k", "hamster", clock.now() - timedelta(hours=1))
    scaler = vertical_scaler("agent-vpa", "hamster")
    scaler["spec"]["targetRef"]["kind"] = "DaemonSet"
    await kube.request("POST", VS_PATH, body=scaler)
    rec = await start_recommender()
    try:
        await _play(rec, apiserver, clock, ["hamster-x2x7k"], 5, {"cpu": "50m", "memory": "20Mi"})
    finally:
        await rec.aclose()
    status = (await kube.request("GET", f"{VS_PATH}/agent-vpa"))["status"]
    assert condition({"status": status}, "RecommendationProvided")["status"] == "True"
    assert "ConfigUnsupported" not in {c["type"] for c in status["conditions"]}


async def test_without_a_scaler_no_pod_is_watched_and_the_first_one_is_served(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamster(kube, clock)
    rec = await start_recommender()
    try:
        # passes run, but nothing lists pods or their usage while no VerticalScaler exists
        await _play(rec, apiserver, clock, pods, 3, {"cpu": "500m", "memory": "200Mi"})
        assert rec.passes >= 3
        assert not rec.pod_informer.has_synced
        assert len(rec.pod_informer) == 0
        await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster"))
        await wait_for(lambda: _has_state(rec), timeout_seconds=10)
        await _play(rec, apiserver, clock, pods, 60, {"cpu": "500m", "memory": "200Mi"})
        assert rec.pod_informer.has_synced
    finally:
        await rec.aclose()
    scaler = await kube.request("GET", f"{VS_PATH}/hamster-vpa")
    assert condition(scaler, "RecommendationProvided")["status"] == "True"
    (container,) = scaler["status"]["recommendation"]["containerRecommendations"]
    assert container["containerName"] == "hamster"


async def _has_state(rec: VerticalRecommender) -> bool:
    return bool(rec.states)
