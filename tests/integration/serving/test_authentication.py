"""Who a request is: the front proxy with its headers, client certificates, tokens — and nobody
else; and that a denial or an authorization that cannot be checked never lets a request in.

Every request goes over TLS to a started :class:`~podscaler.serving.server.SecureServer` whose
handler answers the user it was given (``/whoami``); TokenReview and SubjectAccessReview are
answered by a real HTTP server with a policy (``tests/fixtures/delegation.py``).
"""

from __future__ import annotations

import ssl

import aiohttp
import pytest

from podscaler.kube.clients import connect
from podscaler.serving.authorization import SubjectAccessReviewer
from tests.fixtures.delegation import DelegatingApiServer
from tests.fixtures.pki import FRONT_PROXY_NAME, Pki
from tests.integration.serving.conftest import PROXY_USER, Site, SiteFactory, proxy_headers


@pytest.fixture
async def site(make_site: SiteFactory, reviews: DelegatingApiServer) -> Site:
    """The default server; the front proxy's user is allowed by policy."""
    reviews.policy.allowed_users.add(PROXY_USER)
    return await make_site()


async def _get(
    session: aiohttp.ClientSession,
    url: str,
    ctx: ssl.SSLContext,
    headers: list[tuple[str, str]] | None = None,
) -> tuple[int, dict[str, object]]:
    async with session.get(url, ssl=ctx, headers=headers or []) as resp:
        return resp.status, await resp.json()


async def test_front_proxy_names_the_user_with_groups_and_extra(
    site: Site, pki: Pki, session: aiohttp.ClientSession, reviews: DelegatingApiServer
) -> None:
    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    headers = [
        *proxy_headers(groups=("system:serviceaccounts", "system:authenticated")),
        ("X-Remote-Extra-Scopes%2Fa", "x"),
        ("X-Remote-Extra-Scopes%2Fa", "y"),
    ]
    status, body = await _get(session, f"{site.url}/whoami", ctx, headers)
    assert status == 200, body
    assert body == {
        "name": PROXY_USER,
        "uid": "",
        "groups": ["system:serviceaccounts", "system:authenticated"],
        "extra": {"scopes/a": ["x", "y"]},
    }
    (review,) = reviews.access_reviews
    assert review == {
        "nonResourceAttributes": {"path": "/whoami", "verb": "get"},
        "user": PROXY_USER,
        "groups": ["system:serviceaccounts", "system:authenticated"],
        "extra": {"scopes/a": ["x", "y"]},
    }


async def test_unauthenticated_request_gets_401_and_health_needs_nothing(
    site: Site, pki: Pki, session: aiohttp.ClientSession, reviews: DelegatingApiServer
) -> None:
    status, body = await _get(session, f"{site.url}/whoami", pki.client_context())
    assert status == 401
    assert body["kind"] == "Status"
    assert body["reason"] == "Unauthorized"
    assert body["message"] == "Unauthorized: no credentials"
    # Unknown paths are not revealed to strangers either: authentication comes first.
    status, _ = await _get(session, f"{site.url}/nowhere", pki.client_context())
    assert status == 401
    for probe in ("/healthz", "/livez", "/readyz"):
        async with session.get(f"{site.url}{probe}", ssl=pki.client_context()) as resp:
            assert resp.status == 200
            assert await resp.text() == "ok"
    assert reviews.access_reviews == [], "nothing unauthenticated reaches authorization"


async def test_user_headers_without_front_proxy_certificate_are_ignored(
    site: Site, pki: Pki, session: aiohttp.ClientSession
) -> None:
    status, body = await _get(session, f"{site.url}/whoami", pki.client_context(), proxy_headers())
    assert status == 401, body


async def test_certificate_from_another_ca_cannot_connect(
    site: Site, pki: Pki, session: aiohttp.ClientSession
) -> None:
    ctx = pki.client_context(pki.stranger_ca, FRONT_PROXY_NAME)
    with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
        await _get(session, f"{site.url}/whoami", ctx, proxy_headers())
    # The listener is unharmed: the aggregator still gets through.
    ok = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    status, body = await _get(session, f"{site.url}/whoami", ok, proxy_headers())
    assert status == 200
    assert body["name"] == PROXY_USER


async def test_front_proxy_certificate_with_a_name_not_allowed_gets_401(
    site: Site, pki: Pki, session: aiohttp.ClientSession
) -> None:
    ctx = pki.client_context(pki.front_proxy_ca, "intruder")
    status, body = await _get(session, f"{site.url}/whoami", ctx, proxy_headers())
    assert status == 401
    assert "not allowed" in str(body["message"])


async def test_front_proxy_without_user_header_gets_401(
    site: Site, pki: Pki, session: aiohttp.ClientSession
) -> None:
    ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
    status, body = await _get(session, f"{site.url}/whoami", ctx)
    assert status == 401
    assert "names no user" in str(body["message"])


async def test_bearer_token_checked_by_token_review(
    site: Site, pki: Pki, session: aiohttp.ClientSession, reviews: DelegatingApiServer
) -> None:
    reviews.policy.tokens["good-token"] = {
        "username": "alice",
        "uid": "u-1",
        "groups": ["readers"],
        "extra": {"scopes": ["a"]},
    }
    reviews.policy.allowed_groups.add("readers")
    url = f"{site.url}/whoami"
    ctx = pki.client_context()
    for _ in range(3):
        status, body = await _get(session, url, ctx, [("Authorization", "Bearer good-token")])
        assert status == 200, body
        assert body == {
            "name": "alice",
            "uid": "u-1",
            "groups": ["readers"],
            "extra": {"scopes": ["a"]},
        }
    assert len(reviews.token_reviews) == 1, "token reviews are cached"
    assert reviews.token_reviews[0]["spec"] == {"token": "good-token"}
    assert reviews.access_reviews[0]["user"] == "alice"
    assert reviews.access_reviews[0]["uid"] == "u-1"

    status, body = await _get(session, url, ctx, [("Authorization", "Bearer bad-token")])
    assert status == 401
    assert body["message"] == "Unauthorized: invalid bearer token"
    assert "bad-token" not in str(body), "a token is never echoed"
    # Spoofed front-proxy headers next to a token are not believed: alice stays alice.
    status, body = await _get(
        session,
        url,
        ctx,
        [("Authorization", "Bearer good-token"), ("X-Remote-User", "system:admin")],
    )
    assert status == 200
    assert body["name"] == "alice"
    assert {r["user"] for r in reviews.access_reviews} == {"alice"}


async def test_ordinary_client_certificate_is_its_common_name(
    make_site: SiteFactory, pki: Pki, session: aiohttp.ClientSession, reviews: DelegatingApiServer
) -> None:
    site = await make_site()
    ctx = pki.client_context(pki.client_ca, "jane")
    status, body = await _get(session, f"{site.url}/whoami", ctx)
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert body["message"] == 'User "jane" cannot get path "/whoami"'
    assert reviews.access_reviews[0]["user"] == "jane"
    reviews.policy.allowed_users.add("jane")
    # The denial is cached on its own (short) TTL: the grant shows only after it expires.
    status, _ = await _get(session, f"{site.url}/whoami", ctx)
    assert status == 403
    assert len(reviews.access_reviews) == 1


async def test_authorization_failure_is_a_500_not_an_allow(
    make_site: SiteFactory, pki: Pki, session: aiohttp.ClientSession
) -> None:
    async with await connect(server="http://127.0.0.1:9", request_timeout_seconds=1) as dead:
        site = await make_site(authorizer=SubjectAccessReviewer(dead))
        ctx = pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)
        status, body = await _get(session, f"{site.url}/whoami", ctx, proxy_headers())
    assert status == 500
    assert body["message"] == "authorization could not be checked"


async def test_token_review_failure_is_a_401_not_an_allow(
    pki: Pki, make_site: SiteFactory, session: aiohttp.ClientSession
) -> None:
    from podscaler.serving.authentication import Authenticator, TokenReviewer

    async with await connect(server="http://127.0.0.1:9", request_timeout_seconds=1) as dead:
        site = await make_site(
            authenticator=Authenticator(pki.authentication(), TokenReviewer(dead))
        )
        status, body = await _get(
            session, f"{site.url}/whoami", pki.client_context(), [("Authorization", "Bearer t")]
        )
    assert status == 401
    assert body["message"] == "Unauthorized: the token could not be reviewed"
