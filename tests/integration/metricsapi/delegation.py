"""A fake kube-apiserver front for delegated authentication and authorization.

A small aiohttp *server* that answers those two resources the way kube-apiserver does, with a
policy the test sets, and passes every other request through to an upstream when given one.
The embedded API server answers them too (``podscaler.sim.delegation``), and the tests that run
against it use that; this one stays for the security tests, which need nothing but the two
reviews and want the plainest possible policy (a set of users, a set of groups). Clients talk
to it over real HTTP with the real ``podscaler.kube`` client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web


@dataclass
class Policy:
    #: token → TokenReview ``status.user``.
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: users and groups allowed to ``list`` external metrics and ``get`` discovery paths.
    allowed_users: set[str] = field(default_factory=set)
    allowed_groups: set[str] = field(default_factory=set)


class DelegatingApiServer:
    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = upstream
        self.policy = Policy()
        self.token_reviews: list[dict[str, Any]] = []
        self.access_reviews: list[dict[str, Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> DelegatingApiServer:
        app = web.Application()
        app.router.add_post("/apis/authentication.k8s.io/v1/tokenreviews", self._token_review)
        app.router.add_post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews", self._access_review
        )
        app.router.add_route("*", "/{tail:.*}", self._pass_through)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token_review(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.token_reviews.append(body)
        user = self.policy.tokens.get(body["spec"].get("token", ""))
        status: dict[str, Any] = {"authenticated": user is not None}
        if user is not None:
            status["user"] = user
        else:
            status["error"] = "invalid bearer token"
        return web.json_response({**body, "status": status}, status=201)

    async def _access_review(self, request: web.Request) -> web.Response:
        body = await request.json()
        spec = body["spec"]
        self.access_reviews.append(spec)
        allowed = spec.get("user") in self.policy.allowed_users or bool(
            set(spec.get("groups") or ()) & self.policy.allowed_groups
        )
        status = {"allowed": allowed}
        if not allowed:
            status["reason"] = "no RBAC policy matched"
        return web.json_response({**body, "status": status}, status=201)

    async def _pass_through(self, request: web.Request) -> web.StreamResponse:
        if self.upstream is None or self._session is None:
            raise web.HTTPNotFound()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type",)}
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            data=await request.read(),
            headers=headers,
        ) as resp:
            return web.Response(
                body=await resp.read(), status=resp.status, content_type=resp.content_type
            )
