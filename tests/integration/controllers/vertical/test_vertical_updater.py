"""The vertical updater in-process against the embedded API server.

Pods belong to a ReplicaSet written over HTTP; evictions go through the server's Eviction
API, which enforces PodDisruptionBudgets as upstream's does. Recommendations are the
recommender's own, built from usage published on ``metrics.k8s.io``.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

from podscaler.controllers.vertical import (
    VerticalRecommender,
    VerticalUpdater,
)
from podscaler.controllers.vertical.admission import AdmissionWebhook, WebhookGate
from podscaler.controllers.vertical.podresources import OBSERVED_CONTAINERS_ANNOTATION
from podscaler.kube.clients import Kube
from podscaler.kube.events import EventRecorder
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.controllers.objects import wait_for
from tests.integration.controllers.vertical.conftest import StartRecommender
from tests.integration.controllers.vertical_objects import (
    PODS_PATH,
    VS_PATH,
    SettableClock,
    running_pod,
    vertical_scaler,
    workload,
)

RS_PATH = "/apis/apps/v1/namespaces/default/replicasets"
PDB_PATH = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"


async def _hamsters(kube: Kube, clock: SettableClock, replicas: int) -> list[str]:
    await kube.request(
        "POST", "/apis/apps/v1/namespaces/default/deployments", body=workload("hamster", replicas)
    )
    rs = workload("hamster-5d9c7", replicas)
    rs["kind"] = "ReplicaSet"
    rs["spec"]["selector"] = {"matchLabels": {"app": "hamster"}}
    rs["spec"]["template"]["metadata"]["labels"] = {"app": "hamster"}
    created = await kube.request("POST", RS_PATH, body=rs)
    owner = (created["metadata"]["name"], created["metadata"]["uid"])
    names = [f"hamster-{i}" for i in range(replicas)]
    for name in names:
        await running_pod(kube, name, "hamster", clock.now() - timedelta(hours=1), owner=owner)
    return names


async def _recommended(
    start: StartRecommender,
    server: ApiServer,
    clock: SettableClock,
    pods: list[str],
    **settings: Any,
) -> VerticalRecommender:
    """A recommender after an hour of half a core per pod (its updater loop waits an hour)."""
    rec = await start(updater_interval_seconds=3600.0, **settings)
    for _ in range(60):
        clock.advance(60)
        for pod in pods:
            server.set_pod_metrics("default", pod, {"hamster": {"cpu": "500m", "memory": "200Mi"}})
        await rec.run_pass()
    return rec


async def _pods(kube: Kube) -> set[str]:
    answer = await kube.request("GET", PODS_PATH)
    return {p["metadata"]["name"] for p in answer["items"]}


async def _reasons(kube: Kube, recorder: EventRecorder) -> dict[str, int]:
    await recorder.flush()
    answer = await kube.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events")
    counts: dict[str, int] = {}
    for event in answer["items"]:
        counts[event["reason"]] = counts.get(event["reason"], 0) + event.get("series", {}).get(
            "count", 1
        )
    return counts


async def test_pods_far_below_the_recommendation_are_evicted_half_at_a_time(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamsters(kube, clock, 4)
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster"))
    rec = await _recommended(
        start_recommender, apiserver, clock, pods, evict_without_admission=True
    )
    updater = VerticalUpdater(rec)
    try:
        await updater.run_pass()
    finally:
        await rec.aclose()
    # 4 replicas, tolerance 0.5: two may be away at once.
    assert len(updater.evicted) == 2
    assert len(await _pods(kube)) == 2
    reasons = await _reasons(kube, recorder)
    assert reasons.get("EvictedByVerticalScaler") == 4  # on each pod and on the scaler


async def test_a_pod_disruption_budget_holds(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamsters(kube, clock, 4)
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "hamster"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "hamster"}}},
    }
    created = await kube.request("POST", PDB_PATH, body=pdb)
    created["status"] = {
        "currentHealthy": 4,
        "desiredHealthy": 3,
        "disruptionsAllowed": 1,
        "expectedPods": 4,
        "observedGeneration": created["metadata"].get("generation", 1),
    }
    await kube.request("PUT", f"{PDB_PATH}/hamster/status", body=created)
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster"))
    rec = await _recommended(
        start_recommender, apiserver, clock, pods, evict_without_admission=True
    )
    updater = VerticalUpdater(rec)
    try:
        await updater.run_pass()
    finally:
        await rec.aclose()
    assert len(await _pods(kube)) >= 3, "the PDB allows one pod away"
    assert updater.refused >= 1
    assert (await _reasons(kube, recorder)).get("VerticalEvictionRefused", 0) >= 1


async def test_min_replicas_and_update_mode_off_evict_nothing(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamsters(kube, clock, 2)
    scaler = vertical_scaler(
        "hamster-vpa", "hamster", updatePolicy={"updateMode": "Recreate", "minReplicas": 3}
    )
    await kube.request("POST", VS_PATH, body=scaler)
    rec = await _recommended(
        start_recommender, apiserver, clock, pods, evict_without_admission=True
    )
    updater = VerticalUpdater(rec)
    try:
        await updater.run_pass()
        assert updater.evicted == []
        await kube.request(
            "PATCH",
            f"{VS_PATH}/hamster-vpa",
            body={"spec": {"updatePolicy": {"updateMode": "Off"}}},
            content_type="application/merge-patch+json",
        )
        await rec.scaler_informer.drain()
        await rec.run_pass()
        await updater.run_pass()
    finally:
        await rec.aclose()
    assert updater.evicted == []
    assert await _pods(kube) == set(pods)
    status = (await kube.request("GET", f"{VS_PATH}/hamster-vpa"))["status"]
    assert status["recommendation"]["containerRecommendations"], "Off still publishes"


async def test_without_an_admission_webhook_nothing_is_evicted_and_an_event_says_why(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamsters(kube, clock, 4)
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster"))
    rec = await _recommended(start_recommender, apiserver, clock, pods)
    updater = VerticalUpdater(rec)
    try:
        await updater.run_pass()
        await updater.run_pass()
    finally:
        await rec.aclose()
    assert updater.evicted == []
    assert (await _reasons(kube, recorder)).get("VerticalUpdateWaitingForAdmission") == 1

    class Serving:
        def ready(self) -> bool:
            return True

    rec = await start_recommender()
    updater = VerticalUpdater(rec, admission=Serving())
    try:
        await updater.run_pass()
    finally:
        await rec.aclose()
    assert len(updater.evicted) == 2


async def test_in_place_or_recreate_resizes_through_the_hook_and_evicts_the_rest(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamsters(kube, clock, 4)
    spec = {"updatePolicy": {"updateMode": "InPlaceOrRecreate"}}
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster", **spec))
    rec = await _recommended(start_recommender, apiserver, clock, pods)

    class Resizer:
        """Resizes hamster-0 in place; the others are Infeasible (fall back to eviction)."""

        def __init__(self) -> None:
            self.asked: list[str] = []

        async def resize(self, pod: Any, scaler: Any, targets: Any) -> bool:
            self.asked.append(pod["metadata"]["name"])
            assert scaler.spec.effective_update_mode == "InPlaceOrRecreate"
            assert targets["hamster"].cpu_millicores > 500
            return bool(pod["metadata"]["name"] == "hamster-0")

    class Serving:
        def ready(self) -> bool:
            return True

    resizer = Resizer()
    without_admission = VerticalUpdater(rec, resizer=resizer)
    try:
        await without_admission.run_pass()
        assert without_admission.evicted == [], "no eviction while nothing would apply requests"
        updater = VerticalUpdater(rec, resizer=resizer, admission=Serving())
        await updater.run_pass()
    finally:
        await rec.aclose()
    assert "hamster-0" in resizer.asked
    assert ("default", "hamster-0") not in updater.evicted
    assert len(updater.evicted) == 2  # the budget: two of four away at once


async def test_a_pod_created_past_the_serving_webhook_is_reported_once(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    """A webhook that timed out (failurePolicy Ignore let the pod in): the pod carries no
    observed-containers annotation although the webhook served when it was created."""
    pods = await _hamsters(kube, clock, 2)
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster"))
    rec = await _recommended(start_recommender, apiserver, clock, pods)

    class Serving:
        def ready(self) -> bool:
            return True

    owner = (await kube.request("GET", f"{RS_PATH}/hamster-5d9c7"))["metadata"]["uid"]
    updater = VerticalUpdater(rec, admission=Serving())
    try:
        await updater.run_pass()  # the webhook serves from now on
        clock.advance(120)
        started = clock.now()
        await running_pod(
            kube, "hamster-missed", "hamster", started, owner=("hamster-5d9c7", owner)
        )
        await running_pod(
            kube,
            "hamster-admitted",
            "hamster",
            started,
            owner=("hamster-5d9c7", owner),
            annotations={OBSERVED_CONTAINERS_ANNOTATION: "hamster"},
        )
        await wait_for(lambda: _informed(rec, "hamster-missed", "hamster-admitted"))
        await rec.run_pass()
        await updater.run_pass()
        await updater.run_pass()
    finally:
        await rec.aclose()
    await recorder.flush()
    answer = await kube.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events")
    missed = [e for e in answer["items"] if e["reason"] == "VerticalAdmissionMissed"]
    assert len(missed) == 1, missed
    assert missed[0]["regarding"]["name"] == "hamster-vpa"
    assert (
        "pod hamster-missed was created without passing the admission webhook"
        in (missed[0]["note"])
    )
    assert missed[0].get("series", {}).get("count", 1) == 1


async def _informed(rec: VerticalRecommender, *names: str) -> bool:
    return all(rec.pod_informer.get("default", name) is not None for name in names)


def _review(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": f"uid-{name}",
            "operation": "CREATE",
            "namespace": "default",
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "object": {
                "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
                "spec": {
                    "containers": [
                        {
                            "name": "hamster",
                            "image": "x",
                            "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
                        }
                    ]
                },
            },
        },
    }


async def test_the_webhook_answers_from_the_recommender_as_it_would_from_the_api(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    pods = await _hamsters(kube, clock, 2)
    spec = {"updatePolicy": {"updateMode": "Recreate"}}
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster", **spec))
    clock.advance(1)
    # A second scaler on the same workload (refused by the recommender: the older one wins in
    # both paths) and one whose target does not exist (applied by neither).
    await kube.request("POST", VS_PATH, body=vertical_scaler("second", "hamster", **spec))
    await kube.request("POST", VS_PATH, body=vertical_scaler("ghost", "nothing-here", **spec))
    rec = await _recommended(start_recommender, apiserver, clock, pods)
    gate = WebhookGate()
    gate.recommender = rec
    from_memory = AdmissionWebhook(kube, gate)
    from_api = AdmissionWebhook(kube)
    answers = {}
    try:
        await wait_for(lambda: _published(kube))
        for name, app in (("new-0", "hamster"), ("other-0", "other")):
            answers[name] = await from_memory.review(_review(name, app))
            assert answers[name] == await from_api.review(_review(name, app)), name
        target = (await kube.request("GET", f"{VS_PATH}/hamster-vpa"))["status"]["recommendation"][
            "containerRecommendations"
        ][0]["target"]
    finally:
        await rec.aclose()
    assert from_memory.api_reads == 0
    assert from_api.api_reads == 2
    assert "patch" not in answers["other-0"]["response"]
    operations = json.loads(base64.b64decode(answers["new-0"]["response"]["patch"]))
    (resources,) = [o["value"] for o in operations if o["path"] == "/spec/containers/0/resources"]
    assert resources["requests"] == target
    assert any("hamster-vpa" in str(o["value"]) for o in operations)


async def _published(kube: Kube) -> bool:
    status = (await kube.request("GET", f"{VS_PATH}/hamster-vpa")).get("status") or {}
    return bool((status.get("recommendation") or {}).get("containerRecommendations"))
