"""Credentials follow their sources (``podscaler.controllers.triggers.refresh``), in-process
against the embedded API server and a Prometheus-compatible server that checks a bearer token.

* a rotated Secret reaches the next build on the refresh period, and the old token is not sent
  again;
* a source that refuses the token makes the Secret be re-read at once (no period at all here),
  so fixing the Secret fixes the object within a poll or two;
* editing the TriggerAuthentication (watched) rebuilds at once;
* a deleted Secret becomes a clear Ready=False naming it, and recreating it recovers;
* Secrets shared by many objects are read once per check, and values appear nowhere in status
  or Events;
* a ScaledJob's rebuild for new credentials keeps its running Jobs (it is not a spec change).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from podscaler.controllers.scaledjob import ScaledJobController
from podscaler.controllers.scaledobject import ScaledObjectController, Settings
from podscaler.controllers.triggers.refresh import AuthRefresher
from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import NotFound
from podscaler.kube.events import EventRecorder
from tests.integration.controllers.conftest import wall_now
from tests.integration.controllers.objects import (
    condition,
    create_deployment,
    create_so,
    deployment,
    events,
    get_so,
    replicas,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer

NS = "default"
GROUP = "/apis/autoscaling.podscaler.io/v1alpha1"
OLD, NEW = "token-old-7f3a", "token-new-91c2"


class TokenProm(PromServer):
    """Answers only requests bearing one of :attr:`accepted` (401 otherwise)."""

    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.accepted: set[str] = {OLD, NEW}
        self.seen: list[str] = []

    async def _query(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.seen.append(token)
        if token not in self.accepted:
            return web.json_response(
                {"status": "error", "errorType": "unauthorized", "error": "bad token"}, status=401
            )
        return await super()._query(request)


@pytest.fixture
async def token_prom() -> AsyncIterator[TokenProm]:
    server = TokenProm(30)
    await server.start()
    yield server
    await server.stop()


Start = Callable[..., Awaitable[tuple[ScaledObjectController, AuthRefresher]]]


@pytest.fixture
async def start(kube: Kube) -> AsyncIterator[Start]:
    """A ScaledObject controller with a refresher (period and recheck chosen by the test)."""
    running: list[tuple[ScaledObjectController, AuthRefresher, EventRecorder]] = []

    async def make(
        period_seconds: float = 0.0, recheck_seconds: float = 0.2
    ) -> tuple[ScaledObjectController, AuthRefresher]:
        recorder = EventRecorder(kube, now=wall_now, reporting_instance="test")
        ctl = ScaledObjectController(
            kube,
            namespace=None,
            now=wall_now,
            settings=Settings(start_spread=0.0, trigger_timeout_seconds=2.0),
            recorder=recorder,
        )
        refresher = AuthRefresher(
            kube, namespace=None, period_seconds=period_seconds, recheck_seconds=recheck_seconds
        )
        ctl.evaluator.refresher = refresher
        await refresher.start()
        await ctl.start()
        await ctl.wait_synced(10)
        running.append((ctl, refresher, recorder))
        return ctl, refresher

    yield make
    for ctl, refresher, recorder in running:
        await ctl.aclose()
        await refresher.aclose()
        await recorder.aclose()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def put_secret(kube: Kube, name: str, token: str) -> None:
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
    body["data"] = {"token": _b64(token)}
    path = f"/api/v1/namespaces/{NS}/secrets"
    try:
        current = await kube.request("GET", f"{path}/{name}")
    except NotFound:
        await kube.request("POST", path, body=body)
        return
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    await kube.request("PUT", f"{path}/{name}", body=body)


async def put_trigger_auth(kube: Kube, secret: str) -> None:
    spec = {"secretTargetRef": [{"parameter": "bearerToken", "name": secret, "key": "token"}]}
    path = f"{GROUP}/namespaces/{NS}/triggerauthentications"
    try:
        await kube.request("GET", f"{path}/prom")
    except NotFound:
        body = {
            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": {"name": "prom"},
            "spec": spec,
        }
        await kube.request("POST", path, body=body)
        return
    await kube.request("PATCH", f"{path}/prom", body={"spec": spec}, content_type=MERGE_PATCH)


def bearer_trigger(url: str) -> dict[str, Any]:
    return {
        "type": "prometheus",
        "metadata": {
            "serverAddress": url,
            "query": "sum(queue_depth)",
            "threshold": "10",
            "authModes": "bearer",
        },
        "authenticationRef": {"name": "prom"},
    }


async def scaled(kube: Kube, name: str, url: str) -> None:
    await create_deployment(kube, deployment(name, 1))
    so = scaled_object(
        name, name, [bearer_trigger(url)], pollingInterval=1, minReplicaCount=1, maxReplicaCount=9
    )
    await create_so(kube, so)


async def no_token_anywhere(kube: Kube, *names: str) -> None:
    texts = [str(await get_so(kube, n)) for n in names] + [str(await events(kube))]
    for text in texts:
        assert OLD not in text
        assert NEW not in text


async def test_a_rotated_secret_reaches_the_next_build(
    kube: Kube, token_prom: TokenProm, start: Start
) -> None:
    _, refresher = await start(period_seconds=0.3)
    await put_secret(kube, "prom-token", OLD)
    await put_trigger_auth(kube, "prom-token")
    await scaled(kube, "api", token_prom.url)

    async def at(n: int) -> bool:
        return await replicas(kube, "api") == n

    await wait_for(lambda: at(3), 10)  # 30 / 10
    assert set(token_prom.seen) == {OLD}
    await put_secret(kube, "prom-token", NEW)

    async def rotated() -> bool:
        return bool(token_prom.seen) and token_prom.seen[-1] == NEW

    await wait_for(rotated, 5)
    first_new = token_prom.seen.index(NEW)
    seen_before = len(token_prom.seen)
    await wait_for(lambda: _more(token_prom, seen_before + 2), 5)
    assert OLD not in token_prom.seen[first_new:]
    assert refresher.rebuilds >= 1
    await no_token_anywhere(kube, "api")


def _more(server: TokenProm, count: int) -> Awaitable[bool]:
    async def check() -> bool:
        return len(server.seen) >= count

    return check()


async def test_a_refused_token_rereads_the_secret_at_once(
    kube: Kube, token_prom: TokenProm, start: Start
) -> None:
    await start(period_seconds=0)  # no period: only the auth-failure path can notice
    token_prom.accepted = {NEW}  # the source was rotated first; the Secret still says OLD
    await put_secret(kube, "prom-token", OLD)
    await put_trigger_auth(kube, "prom-token")
    await scaled(kube, "api", token_prom.url)

    async def failing() -> bool:
        ready = condition(await get_so(kube, "api"), "Ready")
        return ready.get("status") == "False" and ready.get("reason") == "TriggerError"

    await wait_for(failing, 10)
    assert await replicas(kube, "api") == 1
    await put_secret(kube, "prom-token", NEW)

    async def at(n: int) -> bool:
        return await replicas(kube, "api") == n

    await wait_for(lambda: at(3), 10)
    assert token_prom.seen[-1] == NEW
    await no_token_anywhere(kube, "api")


async def test_editing_the_trigger_authentication_rebuilds_at_once(
    kube: Kube, token_prom: TokenProm, start: Start
) -> None:
    _, refresher = await start(period_seconds=0)
    await put_secret(kube, "old-token", OLD)
    await put_secret(kube, "new-token", NEW)
    await put_trigger_auth(kube, "old-token")
    await scaled(kube, "api", token_prom.url)

    async def sent(token: str) -> bool:
        return bool(token_prom.seen) and token_prom.seen[-1] == token

    await wait_for(lambda: sent(OLD), 10)
    await put_trigger_auth(kube, "new-token")
    await wait_for(lambda: sent(NEW), 5)
    assert refresher.rebuilds >= 1


async def test_a_deleted_secret_is_a_clear_condition_and_recovers(
    kube: Kube, token_prom: TokenProm, start: Start
) -> None:
    await start(period_seconds=0.3)
    await put_secret(kube, "prom-token", OLD)
    await put_trigger_auth(kube, "prom-token")
    await scaled(kube, "api", token_prom.url)

    async def ready(status: str) -> bool:
        return condition(await get_so(kube, "api"), "Ready").get("status") == status

    await wait_for(lambda: ready("True"), 10)
    await kube.request("DELETE", f"/api/v1/namespaces/{NS}/secrets/prom-token")
    await wait_for(lambda: ready("False"), 5)
    message = condition(await get_so(kube, "api"), "Ready")["message"]
    assert "Secret default/prom-token not found" in message
    await put_secret(kube, "prom-token", NEW)
    await wait_for(lambda: ready("True"), 5)

    async def sent_new() -> bool:
        return bool(token_prom.seen) and token_prom.seen[-1] == NEW

    await wait_for(sent_new, 5)
    await no_token_anywhere(kube, "api")


async def test_a_shared_secret_is_read_once_per_check(
    kube: Kube, token_prom: TokenProm, start: Start
) -> None:
    ctl, refresher = await start(period_seconds=0)
    await put_secret(kube, "prom-token", OLD)
    await put_trigger_auth(kube, "prom-token")
    for name in ("a", "b", "c"):
        await scaled(kube, name, token_prom.url)

    async def all_built() -> bool:
        return all(c.triggers is not None for c in ctl.objects.values()) and len(ctl.objects) == 3

    await wait_for(all_built, 10)
    before = refresher.reads
    assert await refresher.check() == 0
    assert refresher.reads - before == 1
    # Deleting an object stops the checks of what it read.
    for name in ("a", "b", "c"):
        path = f"{GROUP}/namespaces/{NS}/scaledobjects/{name}"
        await kube.request("DELETE", path)

    async def gone() -> bool:
        return not ctl.objects

    await wait_for(gone, 5)
    before = refresher.reads
    await refresher.check()
    assert refresher.reads == before


async def test_a_scaled_job_keeps_its_running_jobs_when_credentials_change(
    kube: Kube, token_prom: TokenProm
) -> None:
    recorder = EventRecorder(kube, now=wall_now, reporting_instance="test")
    ctl = ScaledJobController(kube, namespace=NS, now=wall_now, recorder=recorder)
    refresher = AuthRefresher(kube, namespace=NS, period_seconds=0)
    ctl.refresher = refresher
    await refresher.start()
    try:
        await put_secret(kube, "prom-token", OLD)
        await put_trigger_auth(kube, "prom-token")
        token_prom.value = 2
        body = {
            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
            "kind": "ScaledJob",
            "metadata": {"name": "worker"},
            "spec": {
                "jobTargetRef": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "w", "image": "worker"}],
                            "restartPolicy": "Never",
                        }
                    }
                },
                "pollingInterval": 3600,
                "triggers": [
                    bearer_trigger(token_prom.url) | {"metadata": _job_metadata(token_prom)}
                ],
            },
        }
        await kube.request("POST", f"{GROUP}/namespaces/{NS}/scaledjobs", body=body)
        await ctl.start()
        await ctl.wait_synced(5)

        async def has_context() -> bool:
            return ("default", "worker") in ctl.objects

        await wait_for(has_context, 5)
        ctx = ctl.objects[(NS, "worker")]

        async def jobs() -> list[dict[str, Any]]:
            answer = await kube.request("GET", f"/apis/batch/v1/namespaces/{NS}/jobs")
            return list(answer.get("items") or [])

        async def two_jobs() -> bool:
            return len(await jobs()) == 2

        await wait_for(two_jobs, 10)  # queue of 2, one message per Job
        assert token_prom.seen[-1] == OLD
        await put_secret(kube, "prom-token", NEW)
        assert await refresher.check() == 1
        assert ctx.built_generation is None
        seen = len(token_prom.seen)
        await wait_for(lambda: _more(token_prom, seen + 1), 5)  # woken at once, not in an hour
        assert token_prom.seen[-1] == NEW
        assert len(await jobs()) == 2  # not deleted as a spec change would
    finally:
        await ctl.aclose()
        await refresher.aclose()
        await recorder.aclose()


def _job_metadata(server: TokenProm) -> dict[str, str]:
    return {
        "serverAddress": server.url,
        "query": "sum(queue_depth)",
        "threshold": "1",
        "authModes": "bearer",
    }
