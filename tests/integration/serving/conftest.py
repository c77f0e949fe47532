"""A :class:`~podscaler.serving.server.SecureServer` with the smallest handler that shows what
the serving layer decided: who the request is (``/whoami`` answers the user as JSON), and a
route whose requests stay in flight until the test opens a gate (``/held``).

Every request is authorized as a non-resource ``get`` of its path. The PKI (``pki``) and the
TokenReview/SubjectAccessReview server (``reviews``, ``reviews_kube``) come from
``tests/fixtures``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from podscaler.kube.clients import Kube
from podscaler.serving.authentication import Authenticator, TokenReviewer, UserInfo
from podscaler.serving.authorization import Attributes, SubjectAccessReviewer
from podscaler.serving.server import SecureServer, respond
from podscaler.serving.status import StatusError
from podscaler.serving.tls import ServingTls
from tests.fixtures.pki import Pki

#: The user the front proxy names in the tests (allowed by the ``allowed`` fixture's policy).
PROXY_USER = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"


@dataclass
class Gate:
    """Holds ``/held`` requests until opened; counts those waiting."""

    opened: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set whenever ``waiting`` changes.
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    def __post_init__(self) -> None:
        self.opened.set()


def user_document(user: UserInfo) -> dict[str, Any]:
    return {
        "name": user.name,
        "uid": user.uid,
        "groups": list(user.groups),
        "extra": {k: list(v) for k, v in user.extra.items()},
    }


class Site:
    """A started server and the handler state the test steers."""

    def __init__(self) -> None:
        self.gate = Gate()
        self.server: SecureServer

    @property
    def url(self) -> str:
        return self.server.url

    async def handle(self, request: web.Request, user: UserInfo) -> web.StreamResponse:
        if request.path not in ("/whoami", "/held"):
            raise StatusError(404, "the server could not find the requested resource")
        await self.server.authorize(user, Attributes(verb="get", path=request.path))
        if request.path == "/held":
            self.gate.waiting += 1
            self.gate.changed.set()
            try:
                await self.gate.opened.wait()
            finally:
                self.gate.waiting -= 1
                self.gate.changed.set()
        return respond(user_document(user))


SiteFactory = Callable[..., Awaitable[Site]]


@pytest.fixture
async def make_site(pki: Pki, reviews_kube: Kube) -> AsyncIterator[SiteFactory]:
    """Build-and-start a server over TLS with full authn/authz (override via kwargs)."""
    started: list[SecureServer] = []

    async def build(**overrides: Any) -> Site:
        site = Site()
        kwargs: dict[str, Any] = {
            "tls": ServingTls(pki.serving_material(), pki.authentication().trusted_pem),
            "authenticator": Authenticator(pki.authentication(), TokenReviewer(reviews_kube)),
            "authorizer": SubjectAccessReviewer(reviews_kube),
            "component": "test server",
        }
        kwargs.update(overrides)
        site.server = SecureServer(site.handle, **kwargs)
        await site.server.start("127.0.0.1", 0)
        started.append(site.server)
        return site

    yield build
    for server in started:
        await server.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def proxy_headers(
    user: str = PROXY_USER, groups: tuple[str, ...] = ("system:serviceaccounts",)
) -> list[tuple[str, str]]:
    return [("X-Remote-User", user), *(("X-Remote-Group", g) for g in groups)]
