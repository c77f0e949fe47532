"""``updateMode: InPlace`` in-process against the embedded API server: resize, never evict.

The recommender builds its recommendation from usage published on ``metrics.k8s.io``; the
updater resizes through ``pods/resize`` with :class:`PodResizer`; the kubelet's verdict on
each resize is the world kubelet's own decision (:func:`podscaler.sim.world.resizing.decide`)
against a node too small for the recommendation, written to the pod's status as the kubelet
writes it. The API server's audit log counts every write: no eviction is ever requested.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from podscaler.api.quantities import Quantity
from podscaler.controllers.vertical import VerticalRecommender, VerticalUpdater
from podscaler.controllers.vertical.resize import PodResizer, _node_capacity_refusal, resize_state
from podscaler.kube.clients import Kube
from podscaler.kube.errors import Forbidden
from podscaler.kube.events import EventRecorder
from podscaler.sim.apiserver.audit import AuditLog
from podscaler.sim.apiserver.server import ApiServer
from podscaler.sim.world.resizing import RESIZE_PENDING, decide
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
#: The pods' node: 500m allocatable, less than the recommendation (about 587m, capped at 550m
#: at first).
NODE = {
    "metadata": {"name": "small"},
    "status": {"allocatable": {"cpu": "500m", "memory": "4Gi", "pods": "10"}},
}


def _policy(max_cpu: str) -> dict[str, Any]:
    return {"containerPolicies": [{"containerName": "*", "maxAllowed": {"cpu": max_cpu}}]}


async def _kubelet(kube: Kube, name: str, clock: SettableClock) -> str:
    """Decide the pod's pending resize as the world's kubelet does; write the verdict and
    what the container runs with: the new requests once accepted, else the old ones (the
    pods started with 100m / 50Mi)."""
    pod = await kube.request("GET", f"{PODS_PATH}/{name}")
    decision = decide(pod, NODE, [])
    status = pod.setdefault("status", {})
    (container,) = pod["spec"]["containers"]
    running = (
        dict(container["resources"]["requests"])
        if decision.outcome == "Accepted"
        else {"cpu": "100m", "memory": "50Mi"}
    )
    status["containerStatuses"] = [
        {
            "name": container["name"],
            "ready": True,
            "restartCount": 0,
            "image": "x",
            "imageID": "",
            "state": {"running": {"startedAt": status.get("startTime")}},
            "resources": {"requests": running},
        }
    ]
    conditions = [c for c in status.get("conditions") or () if c.get("type") != RESIZE_PENDING]
    if decision.outcome != "Accepted":
        stamp = clock.now().isoformat().replace("+00:00", "Z")
        conditions.append(
            {
                "type": RESIZE_PENDING,
                "status": "True",
                "reason": decision.outcome,
                "message": decision.message,
                "lastTransitionTime": stamp,
            }
        )
    status["conditions"] = conditions
    await kube.request("PUT", f"{PODS_PATH}/{name}/status", body=pod)
    return decision.outcome


async def _pending(rec: VerticalRecommender, name: str, reason: str | None) -> bool:
    pod = rec.pod_informer.get("default", name)
    found = [
        c.get("reason")
        for c in ((pod or {}).get("status") or {}).get("conditions") or ()
        if c.get("type") == RESIZE_PENDING
    ]
    return found == ([reason] if reason else [])


def _requested_cpu(pod: dict[str, Any]) -> int:
    return Quantity(pod["spec"]["containers"][0]["resources"]["requests"]["cpu"]).milli_value()


async def test_an_infeasible_resize_is_never_evicted_and_retried_when_the_target_drops(
    apiserver: ApiServer,
    kube: Kube,
    clock: SettableClock,
    recorder: EventRecorder,
    start_recommender: StartRecommender,
) -> None:
    apiserver.audit = AuditLog()
    await kube.request(
        "POST", "/apis/apps/v1/namespaces/default/deployments", body=workload("hamster", 2)
    )
    rs = workload("hamster-5d9c7", 2)
    rs["kind"] = "ReplicaSet"
    rs["spec"]["selector"] = {"matchLabels": {"app": "hamster"}}
    rs["spec"]["template"]["metadata"]["labels"] = {"app": "hamster"}
    created = await kube.request("POST", RS_PATH, body=rs)
    owner = (created["metadata"]["name"], created["metadata"]["uid"])
    names = ["hamster-0", "hamster-1"]
    for name in names:
        await running_pod(kube, name, "hamster", clock.now() - timedelta(hours=1), owner=owner)
    spec = {"updatePolicy": {"updateMode": "InPlace"}, "resourcePolicy": _policy("550m")}
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster", **spec))
    rec = await start_recommender(updater_interval_seconds=3600.0)
    resizer = PodResizer(kube, clock.now)
    # No admission gate: InPlace never evicts, so it needs no webhook to act.
    updater = VerticalUpdater(rec, resizer=resizer)
    try:
        for _ in range(60):
            clock.advance(60)
            for name in names:
                apiserver.set_pod_metrics(
                    "default", name, {"hamster": {"cpu": "500m", "memory": "200Mi"}}
                )
            await rec.run_pass()

        # Pass 1: both pods are resized to the recommendation; the node cannot hold it.
        await updater.run_pass()
        assert resizer.resized == 2
        for name in names:
            pod = await kube.request("GET", f"{PODS_PATH}/{name}")
            assert _requested_cpu(pod) == 550  # the target (about 587m) capped
            assert await _kubelet(kube, name, clock) == "Infeasible"
        for name in names:
            await wait_for(lambda name=name: _pending(rec, name, "Infeasible"))

        # Pass 2: remembered as infeasible, left alone (no patch, no eviction).
        clock.advance(60)
        await rec.run_pass()
        await updater.run_pass()
        assert resizer.resized == 2
        assert set(resizer.infeasible) == {
            rec.pod_informer.get("default", n)["metadata"]["uid"]  # type: ignore[index]
            for n in names
        }

        # The recommendation grows (the cap is lifted): more than did not fit is not tried.
        await _cap(kube, rec, "4")
        clock.advance(60)
        await rec.run_pass()
        await updater.run_pass()
        assert resizer.resized == 2
        for name in names:
            pod = await kube.request("GET", f"{PODS_PATH}/{name}")
            assert _requested_cpu(pod) == 550

        # The recommendation drops below what did not fit: the pods are tried again.
        await _cap(kube, rec, "400m")
        clock.advance(60)
        await rec.run_pass()
        await updater.run_pass()
        assert resizer.resized == 4
        assert resizer.infeasible == {}
        for name in names:
            pod = await kube.request("GET", f"{PODS_PATH}/{name}")
            assert _requested_cpu(pod) == 400
            assert await _kubelet(kube, name, clock) == "Accepted"
    finally:
        await rec.aclose()

    assert updater.evicted == []
    assert updater.evictions == 0
    writes = apiserver.audit.records
    assert [r for r in writes if r.path.endswith("/eviction")] == []
    resizes = [r for r in writes if r.method == "PATCH" and r.path.endswith("/resize")]
    assert len(resizes) == 4
    assert all(r.status == 200 for r in resizes)
    assert (await _pods(kube)) == set(names)  # the same pods all along
    await recorder.flush()
    answer = await kube.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events")
    skipped = [e for e in answer["items"] if e["reason"] == "VerticalInPlaceSkipped"]
    assert len(skipped) == 2, skipped
    assert all("never evicts" in e["note"] for e in skipped)
    assert not [e for e in answer["items"] if e["reason"] == "EvictedByVerticalScaler"]


async def _cap(kube: Kube, rec: VerticalRecommender, max_cpu: str) -> None:
    """Set the scaler's maxAllowed cpu; return once the recommender's informer has it."""
    await kube.request(
        "PATCH",
        f"{VS_PATH}/hamster-vpa",
        body={"spec": {"resourcePolicy": _policy(max_cpu)}},
        content_type="application/merge-patch+json",
    )
    await wait_for(lambda: _max_cpu_is(rec, max_cpu))


async def _max_cpu_is(rec: VerticalRecommender, wanted: str) -> bool:
    scaler = rec.scaler_informer.get("default", "hamster-vpa")
    policies = (((scaler or {}).get("spec") or {}).get("resourcePolicy") or {}).get(
        "containerPolicies"
    )
    return bool(policies) and str(policies[0]["maxAllowed"]["cpu"]) == wanted


async def _pods(kube: Kube) -> set[str]:
    answer = await kube.request("GET", PODS_PATH)
    return {p["metadata"]["name"] for p in answer["items"]}


def test_what_counts_as_infeasible_or_a_kubelet_error() -> None:
    """The API server's own refusal (Kubernetes ≥ 1.36: 403 with a NodeCapacity cause) is
    infeasible; any other 403 is not. ``PodResizeInProgress`` with reason Error is the
    kubelet failing to apply a resize (retried), not one in progress."""
    refusal = {"kind": "Status", "details": {"causes": [{"reason": "NodeCapacity"}]}}
    assert _node_capacity_refusal(Forbidden(403, "Forbidden", "no room", refusal))
    assert not _node_capacity_refusal(Forbidden(403, "Forbidden", "rbac", {"kind": "Status"}))
    assert not _node_capacity_refusal(Forbidden(403, "Forbidden", "text", "not json"))
    condition = {"type": "PodResizeInProgress", "status": "True", "reason": "Error"}
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert resize_state({"status": {"conditions": [condition]}}, now).status == "Error"
