"""SASL ``oauthbearer`` for the kafka trigger, with KEDA's ``bearer`` token provider.

KEDA gets the token by the OAuth 2.0 client-credentials grant (RFC 6749 section 4.4): the
TriggerAuthentication's ``username`` and ``password`` are the client id and secret,
``oauthTokenEndpointUri`` the token endpoint, ``scopes`` the requested scopes, and
``oauthExtensions`` (``key=value`` pairs) travel as SASL extensions (KIP-342) beside the token.

:class:`ClientCredentialsTokenProvider` is what aiokafka asks for a token on every SASL
handshake. It keeps the token and fetches a new one only when the old one is close to expiry
(:func:`refresh_at`: after 80 % of its lifetime, and at least 10 s before it ends), so a pool
of connections reconnecting does not hammer the endpoint. Time is the event loop's clock.

The client secret travels in the ``Authorization: Basic`` header (the RFC's recommended client
authentication); neither it nor the token appears in an error message, a log or a repr.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote_plus

import aiohttp
from aiokafka.abc import AbstractTokenProvider
from pydantic import SecretStr

from scalers.contract import ScalerError

__all__ = ["ClientCredentialsTokenProvider", "TokenEndpointError", "refresh_at"]

log = logging.getLogger(__name__)

#: A token is renewed at the latest this long before it expires.
MIN_MARGIN_SECONDS: Final = 10.0
#: ... and after this share of its lifetime.
REFRESH_FRACTION: Final = 0.8
#: A token without ``expires_in`` is fetched again after this long.
DEFAULT_LIFETIME_SECONDS: Final = 3600.0
REQUEST_TIMEOUT_SECONDS: Final = 10.0


class TokenEndpointError(ScalerError):
    """The token endpoint refused or could not be reached; names no secret."""


def refresh_at(fetched_at: float, expires_in: float | None) -> float:
    """When a token fetched at *fetched_at* (loop seconds) that lives *expires_in* seconds
    should be replaced. Pure."""
    lifetime = DEFAULT_LIFETIME_SECONDS if expires_in is None else max(0.0, expires_in)
    return fetched_at + max(0.0, min(lifetime * REFRESH_FRACTION, lifetime - MIN_MARGIN_SECONDS))


class ClientCredentialsTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """Tokens from *endpoint* by the client-credentials grant, cached until :func:`refresh_at`."""

    def __init__(
        self,
        endpoint: str,
        client_id: str,
        client_secret: SecretStr,
        scopes: tuple[str, ...] = (),
        extensions: Mapping[str, str] | None = None,
        *,
        ssl: Any = None,
    ) -> None:
        self.endpoint = endpoint
        self._client_id = client_id
        self._client_secret = client_secret
        self._scopes = scopes
        self._extensions = dict(extensions or {})
        self._ssl = ssl
        self._token: SecretStr | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        #: How many tokens were fetched (for tests and the explanation of a trigger).
        self.fetches = 0

    def __repr__(self) -> str:
        return f"ClientCredentialsTokenProvider({self.endpoint!r}, client_id={self._client_id!r})"

    async def token(self) -> str:
        """The current token, fetched when there is none or it is due for renewal."""
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if self._token is None or now >= self._refresh_at:
                token, expires_in = await self._fetch()
                self._token = SecretStr(token)
                self._refresh_at = refresh_at(now, expires_in)
                self.fetches += 1
            return self._token.get_secret_value()

    def extensions(self) -> dict[str, str]:
        return dict(self._extensions)

    async def _fetch(self) -> tuple[str, float | None]:
        form = {"grant_type": "client_credentials"}
        if self._scopes:
            form["scope"] = " ".join(self._scopes)
        # RFC 6749 2.3.1: both form-urlencoded, then Basic.
        pair = f"{quote_plus(self._client_id)}:{quote_plus(self._client_secret.get_secret_value())}"
        headers = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(self.endpoint, data=form, headers=headers, ssl=self._ssl) as answer,
            ):
                body = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TokenEndpointError(
                f"oauthbearer: token endpoint {self.endpoint} unreachable: {type(exc).__name__}"
            ) from None
        return _token_of(self.endpoint, status, body)


def _token_of(endpoint: str, status: int, body: bytes) -> tuple[str, float | None]:
    """The access token and its lifetime from a token endpoint's answer (RFC 6749 5.1/5.2);
    error messages carry the status and the OAuth ``error`` code, never the body."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if status != 200:
        code = answer.get("error") if isinstance(answer, dict) else None
        detail = f" ({code})" if isinstance(code, str) and code.isascii() and len(code) < 64 else ""
        raise TokenEndpointError(
            f"oauthbearer: token endpoint {endpoint} answered HTTP {status}{detail}; "
            "check the client id and secret (username/password) and scopes"
        )
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenEndpointError(
            f"oauthbearer: token endpoint {endpoint} answered without an access_token"
        )
    expires_in = answer.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    lifetime = float(expires_in) if isinstance(expires_in, int | float) else None
    return token, lifetime
