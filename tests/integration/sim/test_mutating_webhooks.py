"""The embedded API server calls mutating admission webhooks as kube-apiserver does.

A real HTTPS webhook (aiohttp, a trustme CA) answers as each test tells it; the API server
reaches it by ``clientConfig.url`` or by Service, checks its certificate against ``caBundle``,
applies its JSONPatch, refuses what it denies, and follows ``failurePolicy`` when it cannot be
called (timeout, wrong CA, nonsense).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from podscaler.sim.apiserver.server import ApiServer
from tests.fixtures.pki import Pki

Answer = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
CONFIGS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


class Webhook:
    """An HTTPS webhook whose answer each test sets; remembers the reviews it got."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.reviews: list[dict[str, Any]] = []
        self.answer: Answer = self.allow
        self.port = 0
        self._runner: web.AppRunner | None = None

    @staticmethod
    async def allow(request: dict[str, Any]) -> dict[str, Any]:
        return {"uid": request["uid"], "allowed": True}

    async def _handle(self, request: web.Request) -> web.Response:
        review = await request.json()
        self.reviews.append(review)
        response = await self.answer(review["request"])
        return web.json_response(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/mutate", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf = self.pki.serving_ca.issue_cert("127.0.0.1", "hook.web.svc")
        leaf.configure_cert(ctx)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.pki.serving_ca.cert_pem.bytes()).decode()


@pytest.fixture
async def webhook(pki: Pki) -> AsyncIterator[Webhook]:
    hook = Webhook(pki)
    await hook.start()
    yield hook
    await hook.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def call(
    session: aiohttp.ClientSession, server: ApiServer, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, Any]]:
    async with session.request(
        method, server.url + path, json=body, headers={"Content-Type": "application/json"}
    ) as response:
        return response.status, await response.json()


def config(
    client_config: dict[str, Any], *, failure_policy: str = "Fail", **extra: Any
) -> dict[str, Any]:
    webhook = {
        "name": "test.hook.io",
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": failure_policy,
        "clientConfig": client_config,
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
            }
        ],
        **extra,
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "test"},
        "webhooks": [webhook],
    }


def pod(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    }


def by_url(hook: Webhook, ca_bundle: str | None = None) -> dict[str, Any]:
    return {
        "url": f"https://127.0.0.1:{hook.port}/mutate",
        "caBundle": hook.ca_bundle if ca_bundle is None else ca_bundle,
    }


async def test_the_patch_is_applied_and_the_review_is_complete(
    apiserver: ApiServer, webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    async def label(request: dict[str, Any]) -> dict[str, Any]:
        patch = [{"op": "add", "path": "/metadata/labels/hooked", "value": "yes"}]
        return {
            "uid": request["uid"],
            "allowed": True,
            "patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(patch).encode()).decode(),
        }

    webhook.answer = label
    status, _ = await call(session, apiserver, "POST", CONFIGS, config(by_url(webhook)))
    assert status == 201
    status, created = await call(
        session, apiserver, "POST", "/api/v1/namespaces/default/pods", pod("a")
    )
    assert status == 201, created
    assert created["metadata"]["labels"] == {"app": "web", "hooked": "yes"}
    (review,) = webhook.reviews
    request = review["request"]
    assert review["apiVersion"] == "admission.k8s.io/v1"
    assert request["operation"] == "CREATE"
    assert request["namespace"] == "default"
    assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert request["object"]["metadata"]["name"] == "a"
    assert request["dryRun"] is False

    # Other resources are not sent.
    status, _ = await call(
        session,
        apiserver,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "c"}, "data": {}},
    )
    assert status == 201
    assert len(webhook.reviews) == 1


async def test_a_service_reference_is_verified_against_the_service_name(
    apiserver: ApiServer, webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    apiserver.register_service_endpoint("web", "hook", "127.0.0.1", webhook.port)
    service = {"service": {"namespace": "web", "name": "hook", "path": "/mutate"}}
    await call(
        session, apiserver, "POST", CONFIGS, config({**service, "caBundle": webhook.ca_bundle})
    )
    status, _ = await call(session, apiserver, "POST", "/api/v1/namespaces/default/pods", pod("a"))
    assert status == 201
    assert len(webhook.reviews) == 1


async def test_a_denial_refuses_the_pod_with_the_webhooks_message(
    apiserver: ApiServer, webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    async def deny(request: dict[str, Any]) -> dict[str, Any]:
        return {
            "uid": request["uid"],
            "allowed": False,
            "status": {"code": 403, "message": "no pods on Sundays"},
        }

    webhook.answer = deny
    await call(session, apiserver, "POST", CONFIGS, config(by_url(webhook)))
    status, body = await call(
        session, apiserver, "POST", "/api/v1/namespaces/default/pods", pod("a")
    )
    assert status == 403
    assert (
        body["message"] == 'admission webhook "test.hook.io" denied the request: no pods on Sundays'
    )
    status, _ = await call(session, apiserver, "GET", "/api/v1/namespaces/default/pods/a")
    assert status == 404


@pytest.mark.parametrize(("policy", "expected"), [("Fail", 500), ("Ignore", 201)])
async def test_a_webhook_that_times_out_follows_the_failure_policy(
    apiserver: ApiServer,
    webhook: Webhook,
    session: aiohttp.ClientSession,
    policy: str,
    expected: int,
) -> None:
    async def hang(request: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(5)
        return {"uid": request["uid"], "allowed": True}

    webhook.answer = hang
    await call(
        session,
        apiserver,
        "POST",
        CONFIGS,
        config(by_url(webhook), failure_policy=policy, timeoutSeconds=1),
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, body = await call(
        session, apiserver, "POST", "/api/v1/namespaces/default/pods", pod("a")
    )
    assert status == expected, body
    assert loop.time() - started < 4.5  # bounded by timeoutSeconds, not by the webhook
    if policy == "Fail":
        assert 'failed calling webhook "test.hook.io"' in body["message"]
        assert "deadline exceeded" in body["message"]


async def test_a_certificate_from_another_ca_is_refused(
    apiserver: ApiServer, webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    stranger = base64.b64encode(trustme.CA().cert_pem.bytes()).decode()
    await call(session, apiserver, "POST", CONFIGS, config(by_url(webhook, stranger)))
    status, body = await call(
        session, apiserver, "POST", "/api/v1/namespaces/default/pods", pod("a")
    )
    assert status == 500
    assert "certificate" in body["message"].lower()
    assert webhook.reviews == []


async def test_a_wrong_uid_counts_as_a_failed_call(
    apiserver: ApiServer, webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    async def wrong(_request: dict[str, Any]) -> dict[str, Any]:
        return {"uid": "someone-else", "allowed": True}

    webhook.answer = wrong
    await call(session, apiserver, "POST", CONFIGS, config(by_url(webhook)))
    status, body = await call(
        session, apiserver, "POST", "/api/v1/namespaces/default/pods", pod("a")
    )
    assert status == 500
    assert "response.uid" in body["message"]


async def test_selectors_choose_what_is_sent(
    apiserver: ApiServer, webhook: Webhook, session: aiohttp.ClientSession
) -> None:
    await call(
        session,
        apiserver,
        "POST",
        CONFIGS,
        config(
            by_url(webhook),
            namespaceSelector={
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "NotIn",
                        "values": ["kube-system"],
                    }
                ]
            },
            objectSelector={"matchLabels": {"app": "web"}},
        ),
    )
    for namespace, name, labels in (
        ("default", "sent", {"app": "web"}),
        ("default", "other-app", {"app": "db"}),
        ("kube-system", "system", {"app": "web"}),
    ):
        status, _ = await call(
            session, apiserver, "POST", f"/api/v1/namespaces/{namespace}/pods", pod(name, labels)
        )
        assert status == 201
    assert [r["request"]["name"] for r in webhook.reviews] == ["sent"]
