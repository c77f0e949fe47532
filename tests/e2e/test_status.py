"""e2e: ``podscaler status`` against a running ``podscaler run``, and its health probes.

Over real sockets: the operator process serves ``/debug/status``, ``/healthz`` and ``/readyz``;
the command runs as a user runs it (``python -m podscaler status``, a subprocess).

* a world with a healthy, a failing (fallback), a paused and a target-less ScaledObject and a
  ProportionalScaler without a target: the counts and the not-Ready list say so, in text and
  ``-o json``; exit status 0 (live and ready);
* the API server holding every request (a gated proxy in front of it): ``/readyz`` is 503,
  saying the ScaledObject (and ScaledJob) informers have not synced, while ``/healthz`` is 200;
  ready once it answers;
* a poll loop that stops (its only object's trigger hangs, with no timeout to end it):
  ``/healthz`` turns 503 after the loop's limit (a minute), so the kubelet would restart it;
* a metrics API that cannot serve (its certificate files do not exist): ``/readyz`` stays 503
  and says why while ``/healthz`` is 200, and ``podscaler status`` exits 3;
* an admission webhook that cannot serve (its certificate files do not exist): the same;
  one that serves is ready and answers TLS;
* nothing listening: exit status 1 and one line saying so.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from podscaler.clock import now as wall_now
from podscaler.kube.clients import Kube
from podscaler.sim.apiserver.server import ApiServer
from tests.e2e.conftest import ROOT, OperatorProcess
from tests.fixtures.proxy import GatedProxy
from tests.fixtures.servers import free_port
from tests.integration.controllers.objects import (
    condition,
    create,
    create_deployment,
    create_so,
    deployment,
    get_so,
    prometheus_trigger,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer
from tests.integration.controllers.vertical_objects import (
    VS_PATH,
    running_pod,
    vertical_scaler,
    workload,
)

PROPORTIONAL_SCALERS = (
    "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default/proportionalscalers"
)


def _status(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PODSCALER_")}
    return subprocess.run(
        [sys.executable, "-m", "podscaler", "status", "--endpoint", endpoint, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=False,
    )


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_status_counts_what_the_operator_manages(
    kube: Kube, prom: PromServer, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    op = await operator()
    prom.values = {"busy": 35.0, "held": 40.0}
    down = f"http://127.0.0.1:{free_port()}"
    for name in ("busy", "flaky", "held"):
        await create_deployment(kube, deployment(name, 1))
    await create_so(
        kube,
        scaled_object(
            "busy", "busy", [prometheus_trigger(prom.url, query="busy")], pollingInterval=1
        ),
    )
    await create_so(
        kube,
        scaled_object(
            "flaky",
            "flaky",
            [prometheus_trigger(down, query="flaky")],
            pollingInterval=1,
            fallback={"failureThreshold": 1, "replicas": 3},
        ),
    )
    await create_so(
        kube,
        scaled_object(
            "held",
            "held",
            [prometheus_trigger(prom.url, query="held")],
            pollingInterval=1,
            annotations={"autoscaling.keda.sh/paused-replicas": "2"},
        ),
    )
    await create_so(
        kube,
        scaled_object(
            "ghost", "ghost", [prometheus_trigger(prom.url, query="busy")], pollingInterval=1
        ),
    )
    await create(
        kube,
        PROPORTIONAL_SCALERS,
        {
            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
            "kind": "ProportionalScaler",
            "metadata": {"name": "orphan"},
            "spec": {"scaleTargetRef": {"name": "nowhere"}, "linear": {"nodesPerReplica": 1}},
        },
    )

    async def settled() -> bool:
        flaky, ghost = await get_so(kube, "flaky"), await get_so(kube, "ghost")
        return (
            condition(flaky, "Fallback").get("status") == "True"
            and condition(ghost, "Ready").get("status") == "False"
        )

    await wait_for(settled, 20)

    async def counted() -> dict[str, Any]:
        done = await asyncio.to_thread(_status, op.endpoint, "-o", "json")
        assert done.returncode == 0, done.stdout + done.stderr
        document: dict[str, Any] = json.loads(done.stdout)
        return document

    async def proportional_counted() -> bool:
        objects = (await counted())["objects"]
        return bool(objects.get("ProportionalScaler", {}).get("notReady") == 1)

    await wait_for(proportional_counted, 20)
    document = await counted()
    assert document["health"] == {
        "live": True,
        "ready": True,
        "problems": [],
        "metricsApi": "off",
        "admissionWebhook": "off",
        "shardMember": None,  # not run with --shard
    }
    assert document["role"] == "active"
    so = document["objects"]["ScaledObject"]
    assert so["total"] == 4
    assert so["paused"] == 1
    assert so["fallback"] == 1
    assert so["active"] >= 1
    assert [(e["name"], e["reason"]) for e in so["errors"]] == [
        ("ghost", condition(await get_so(kube, "ghost"), "Ready")["reason"])
    ]
    assert so["notReady"] == 1
    ps = document["objects"]["ProportionalScaler"]
    assert (ps["total"], ps["notReady"]) == (1, 1)
    assert ps["errors"][0]["name"] == "orphan"
    lateness = document["lateness"]["scaledobject"]
    assert lateness["objects"] == 4
    assert 0 <= lateness["meanSeconds"] <= lateness["maxSeconds"] < 5
    assert document["nodes"] is None

    text = await asyncio.to_thread(_status, op.endpoint)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].endswith("(active): live, ready")
    assert any(line.split() == ["ScaledObject", "4", "total,", *line.split()[3:]] for line in lines)
    assert any(line.startswith("  ScaledObject default/ghost: ") for line in lines)
    assert any(line.startswith("  ProportionalScaler default/orphan: ") for line in lines)

    assert await _get(f"http://127.0.0.1:{op.health_port}/healthz") == (200, "ok")
    assert await _get(f"http://127.0.0.1:{op.health_port}/readyz") == (200, "ok")


async def test_not_ready_until_the_informers_synced(
    operator: Callable[..., Awaitable[OperatorProcess]], apiserver_proxy: GatedProxy
) -> None:
    apiserver_proxy.gate.clear()  # the API server answers nothing, for now
    op = await operator("--server", apiserver_proxy.url, wait_ready=False)
    ready = f"http://127.0.0.1:{op.health_port}/readyz"
    await apiserver_proxy.wait_in_flight(1)

    async def unsynced() -> bool:
        status, text = await _get(ready)
        return status == 503 and "ScaledObject informers not synced" in text.splitlines()

    await wait_for(unsynced, 20)
    assert await _get(f"http://127.0.0.1:{op.health_port}/healthz") == (200, "ok")
    done = await asyncio.to_thread(_status, op.endpoint, "-o", "json")
    assert done.returncode == 3, done.stdout + done.stderr
    health = json.loads(done.stdout)["health"]
    assert (health["live"], health["ready"]) == (True, False)
    assert "ScaledObject informers not synced" in health["problems"]
    assert all(p.endswith("informers not synced") for p in health["problems"])

    apiserver_proxy.gate.set()

    async def synced() -> bool:
        return await _get(ready) == (200, "ok")

    await wait_for(synced, 20)


async def test_not_live_when_the_poll_loop_stops(
    kube: Kube, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    asked = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        asked.set()
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")

    app = web.Application()
    app.router.add_get("/api/v1/query", hang)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        op = await operator("--trigger-timeout", "3600")
        live = f"http://127.0.0.1:{op.health_port}/healthz"
        await create_deployment(kube, deployment("stuck", 1))
        trigger = prometheus_trigger(url, query="stuck")
        trigger["metadata"]["timeout"] = "1h"
        await create_so(kube, scaled_object("stuck", "stuck", [trigger], pollingInterval=1))
        async with asyncio.timeout(20):
            await asked.wait()
        assert await _get(live) == (200, "ok")

        async def stuck() -> bool:
            status, text = await _get(live)
            return status == 503 and text.startswith("ScaledObject poll loop stuck: ")

        await wait_for(stuck, 120, every=1.0)
        done = await asyncio.to_thread(_status, op.endpoint, "-o", "json")
        assert done.returncode == 3
        assert json.loads(done.stdout)["health"]["live"] is False
    finally:
        await runner.cleanup()


async def test_not_ready_while_the_metrics_api_cannot_serve(
    operator: Callable[..., Awaitable[OperatorProcess]], tmp_path: Path
) -> None:
    missing = tmp_path / "absent"
    op = await operator(
        "--metrics-api-port", str(free_port()),
        "--metrics-api-tls-cert-file", str(missing / "tls.crt"),
        "--metrics-api-tls-key-file", str(missing / "tls.key"),
        wait_ready=False,
    )  # fmt: skip
    ready = f"http://127.0.0.1:{op.health_port}/readyz"

    async def failed() -> bool:
        return await _get(ready) == (503, "metrics API failed")

    await wait_for(failed, 20)
    assert await _get(f"http://127.0.0.1:{op.health_port}/healthz") == (200, "ok")
    done = await asyncio.to_thread(_status, op.endpoint)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "NOT READY" in done.stdout.splitlines()[0]
    assert "  ! metrics API failed" in done.stdout.splitlines()


async def test_not_ready_while_the_admission_webhook_cannot_serve(
    operator: Callable[..., Awaitable[OperatorProcess]], tmp_path: Path
) -> None:
    """Its certificate files do not exist: never serving, so never ready; then one that
    serves (its own certificate) is ready and says so, and answers TLS on its port."""
    missing = tmp_path / "absent"
    op = await operator(
        "--admission-webhook-port", str(free_port()),
        "--admission-webhook-tls-cert-file", str(missing / "tls.crt"),
        "--admission-webhook-tls-key-file", str(missing / "tls.key"),
        wait_ready=False,
    )  # fmt: skip
    ready = f"http://127.0.0.1:{op.health_port}/readyz"

    async def failed() -> bool:
        return await _get(ready) == (503, "admission webhook failed")

    await wait_for(failed, 20)
    assert await _get(f"http://127.0.0.1:{op.health_port}/healthz") == (200, "ok")
    done = await asyncio.to_thread(_status, op.endpoint, "-o", "json")
    assert done.returncode == 3, done.stdout + done.stderr
    health = json.loads(done.stdout)["health"]
    assert (health["admissionWebhook"], health["problems"]) == (
        "failed",
        ["admission webhook failed"],
    )

    port = free_port()
    serving = await operator("--admission-webhook-port", str(port))  # waits for /readyz
    done = await asyncio.to_thread(_status, serving.endpoint, "-o", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["health"]["admissionWebhook"] == "serving"
    # Ready means listening with a certificate: a TLS handshake succeeds there now.
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    assert writer.get_extra_info("ssl_object") is not None
    writer.close()
    await writer.wait_closed()


async def test_status_counts_vertical_scalers_and_what_the_updater_did(
    apiserver: ApiServer, kube: Kube, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    """A VerticalScaler recommending (short history: low confidence) whose Recreate updater
    evicts pods far below it, and one whose target does not exist: the counts, the failing one
    first in the text, the recommender's and updater's work."""
    await kube.request(
        "POST", "/apis/apps/v1/namespaces/default/deployments", body=workload("hamster", 4)
    )
    rs = workload("hamster-5d9c7", 4)
    rs["kind"] = "ReplicaSet"
    created = await kube.request("POST", "/apis/apps/v1/namespaces/default/replicasets", body=rs)
    owner = (created["metadata"]["name"], created["metadata"]["uid"])
    pods = [f"hamster-{i}" for i in range(4)]
    for name in pods:
        await running_pod(kube, name, "hamster", wall_now() - timedelta(hours=1), owner=owner)
    recreate = {"updatePolicy": {"updateMode": "Recreate"}}
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vs", "hamster", **recreate))
    await kube.request("POST", VS_PATH, body=vertical_scaler("ghost-vs", "nowhere"))
    publishing = True

    async def publish() -> None:
        while publishing:
            for name in pods:
                apiserver.set_pod_metrics(
                    "default", name, {"hamster": {"cpu": "900m", "memory": "400Mi"}}
                )
            await asyncio.sleep(0.5)

    feeder = asyncio.get_running_loop().create_task(publish())
    try:
        op = await operator(
            "--vertical-recommender-interval", "1",
            "--vertical-updater-interval", "1",
            "--vertical-evict-without-admission",
        )  # fmt: skip

        async def document() -> dict[str, Any]:
            done = await asyncio.to_thread(_status, op.endpoint, "-o", "json")
            assert done.returncode == 0, done.stdout + done.stderr
            found: dict[str, Any] = json.loads(done.stdout)
            return found

        async def evicted() -> bool:
            found = await document()
            updater = (found.get("vertical") or {}).get("updater") or {}
            return bool(updater.get("evictions"))

        await wait_for(evicted, 40, every=1.0)
    finally:
        publishing = False
        await feeder
    found = await document()
    counts = found["objects"]["VerticalScaler"]
    assert (counts["total"], counts["recommendationProvided"], counts["lowConfidence"]) == (2, 1, 1)
    assert (counts["configUnsupported"], counts["failing"]) == (1, 1)
    assert [e["name"] for e in counts["errors"]] == ["ghost-vs"]
    ghost = (await kube.request("GET", f"{VS_PATH}/ghost-vs"))["status"]["conditions"]
    unsupported = next(c for c in ghost if c["type"] == "ConfigUnsupported")
    assert counts["errors"][0]["reason"] == unsupported["reason"]
    work = found["vertical"]
    assert work["problem"] is None  # usage came from metrics.k8s.io
    assert work["recommender"]["passes"] >= 1
    assert work["recommender"]["samples"] >= 4
    remaining = await kube.request("GET", "/api/v1/namespaces/default/pods")
    assert work["updater"]["evictions"] == 4 - len(remaining["items"])
    assert work["updater"]["resizes"] == 0
    text = (await asyncio.to_thread(_status, op.endpoint)).stdout.splitlines()
    assert text[1:3] == [
        "not working:",
        f"  VerticalScaler default/ghost-vs: {unsupported['reason']}: {unsupported['message']}",
    ]
    assert any(line.startswith("  VerticalScaler       2 total, 1 recommending") for line in text)
    assert any(line.startswith("  updater: ") and "pods evicted" in line for line in text)


async def operator_namespace(kube: Kube) -> None:
    """The member Leases live in the operator namespace (``podscaler``)."""
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "podscaler"}}
    await kube.request("POST", "/api/v1/namespaces", body=body)


SHARD_OBJECTS = 24
SHARD_LEASE_SECONDS = 4.0


async def test_status_shows_the_shard_members_what_each_owns_and_handovers(
    kube: Kube, prom: PromServer, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    """Two ``--shard`` replicas: either one's status names both members with the objects each
    owns (what each replica itself polls); one leaves, and the other's status shows one
    member owning all, and the handover: who left, how many objects moved, how many it took."""
    await operator_namespace(kube)
    prom.value = 5.0
    for i in range(SHARD_OBJECTS):
        await create_deployment(kube, deployment(f"app-{i}", 1))
        await create_so(
            kube,
            scaled_object(f"so-{i}", f"app-{i}", [prometheus_trigger(prom.url)], pollingInterval=2),
        )
    flags = ("--shard", "--shard-lease-duration", str(SHARD_LEASE_SECONDS))
    ops = [await operator(*flags) for _ in range(2)]

    async def document(op: OperatorProcess) -> dict[str, Any]:
        done = await asyncio.to_thread(_status, op.endpoint, "-o", "json")
        assert done.returncode == 0, done.stdout + done.stderr
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    async def shard(op: OperatorProcess) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{op.endpoint}/debug/shard") as r,
        ):
            found: dict[str, Any] = await r.json()
            return found

    async def split() -> bool:
        views = [await shard(op) for op in ops]
        return (
            all(v["owning"] and len(v["members"]) == 2 for v in views)
            and sum(len(v["owned"]) for v in views) == SHARD_OBJECTS
        )

    await wait_for(split, SHARD_LEASE_SECONDS * 3 + 20)
    views = [await shard(op) for op in ops]
    polled = {v["identity"]: len(v["owned"]) for v in views}
    status = (await document(ops[0]))["shard"]
    assert status["identity"] == views[0]["identity"]
    assert status["objects"] == SHARD_OBJECTS
    assert {m["identity"]: m["owns"] for m in status["members"]} == polled
    assert [m["self"] for m in status["members"]] == [
        m["identity"] == status["identity"] for m in status["members"]
    ]
    assert all(0 <= m["renewedSecondsAgo"] < SHARD_LEASE_SECONDS for m in status["members"])
    assert status["polling"] == polled[status["identity"]]
    assert status["handovers"], "joining is a membership change"

    leaver = views[1]["identity"]
    assert await ops[1].stop() == 0  # deletes its Lease: the other takes over at once

    async def alone() -> bool:
        found = (await document(ops[0]))["shard"]
        return [m["identity"] for m in found["members"]] == [status["identity"]] and found[
            "polling"
        ] == SHARD_OBJECTS

    await wait_for(alone, SHARD_LEASE_SECONDS * 2 + 10)
    after = (await document(ops[0]))["shard"]
    assert after["members"][0]["owns"] == SHARD_OBJECTS
    newest = after["handovers"][0]
    assert (newest["left"], newest["joined"], newest["members"]) == ([leaver], [], 1)
    assert newest["moved"] == polled[leaver]
    assert newest["taken"] == polled[leaver]
    assert newest["released"] == 0
    text = await asyncio.to_thread(_status, ops[0].endpoint)
    lines = text.stdout.splitlines()
    assert f"shard: 1 member, {SHARD_OBJECTS} ScaledObjects; this replica " in "\n".join(lines)
    moved = f"{polled[leaver]} object" + ("" if polled[leaver] == 1 else "s")
    assert any(f"left {leaver}: 1 member, {moved} moved" in line for line in lines)


def test_nothing_listening_is_one_line_and_exit_1() -> None:
    done = _status(f"127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "cannot reach the operator at http://127.0.0.1:" in done.stderr
