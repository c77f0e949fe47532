"""An HTTPS listener that authenticates every request and answers failures as ``Status``.

What a server behind kube-apiserver needs whatever it serves (the external metrics API, the
admission webhook), in the order kube-apiserver applies the steps, so a request that fails one
never reaches the next:

1. ``/healthz``, ``/livez``, ``/readyz`` answer ``ok`` to anyone (kubelet probes carry no
   credentials);
2. authentication (:mod:`~podscaler.serving.authentication`): none recognised ⇒ 401;
3. the server's own handler, given the user: it routes, and asks :meth:`SecureServer.authorize`
   (:mod:`~podscaler.serving.authorization`; denied ⇒ 403, not checkable ⇒ 500) once it knows
   what the request does.

Every error is a ``metav1.Status`` document (:mod:`~podscaler.serving.status`); an unexpected
exception is logged by type only and answered 500. Slow or stuck clients cannot pin resources:
connections are accepted by :class:`~podscaler.serving.connections.BoundedListener`, which
resets those over the total or per-client limit before any handshake; the TLS handshake has
its own timeout, and a connection that does not deliver a complete request head within
``idle_timeout_seconds`` (new or kept alive, slowloris or silent) is closed by aiohttp's
keep-alive timer, which in aiohttp ≥ 3.10 also runs before the first request. At most
``limits.max_in_flight`` requests are handled at once (each waits on the deciding loop); more
are answered ``429`` with ``Retry-After``, as kube-apiserver answers over its in-flight limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from podscaler.kube.errors import KubeError
from podscaler.observability.logging import quiet_malformed_requests
from podscaler.serving.authentication import Authenticator, Unauthenticated, UserInfo
from podscaler.serving.authorization import (
    Attributes,
    SubjectAccessReviewer,
    forbidden_message,
)
from podscaler.serving.connections import DEFAULT_LIMITS, BoundedListener, ConnectionLimits
from podscaler.serving.status import StatusError
from podscaler.serving.thread import ServingThread
from podscaler.serving.tls import ServingTls

__all__ = [
    "ANONYMOUS",
    "DEFAULT_HANDSHAKE_TIMEOUT_SECONDS",
    "DEFAULT_IDLE_TIMEOUT_SECONDS",
    "Handler",
    "SecureServer",
    "respond",
]

log = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_HANDSHAKE_TIMEOUT_SECONDS: Final = 10.0
#: aiohttp's own default for the longest request line.
DEFAULT_MAX_LINE_SIZE: Final = 8190

#: Who a request is when authentication is switched off (development only).
ANONYMOUS: Final = UserInfo(name="system:anonymous", groups=("system:unauthenticated",))

#: Serves one authenticated request; raises :class:`StatusError` to answer an error.
Handler = Callable[[web.Request, UserInfo], Awaitable[web.StreamResponse]]

_HEALTH_PATHS: Final = frozenset({"/healthz", "/livez", "/readyz"})
_JSON: Final = "application/json"


def respond(body: dict[str, Any], status: int = 200) -> web.Response:
    """A compact JSON response (kube-apiserver's content type)."""
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(), status=status, content_type=_JSON
    )


def _error(err: StatusError) -> web.Response:
    return respond(err.body(), err.code)


def _peer_certificate(request: web.Request) -> bytes | None:
    """The client certificate (DER) of the request's TLS connection, if it sent one."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    if ssl_object is None:
        return None
    der: bytes | None = ssl_object.getpeercert(binary_form=True)
    return der


class SecureServer:
    """One listener: TLS, authentication, then ``handler``.

    ``tls`` None serves plain HTTP (benchmarks and local experiments only). ``authenticator``
    None accepts every request as ``system:anonymous`` and ``authorizer`` None allows every
    request: both are for development and are logged loudly at start. ``component`` names the
    server in log lines; ``serves`` says what it serves in the "serving … on URL" line.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        tls: ServingTls | None,
        authenticator: Authenticator | None,
        authorizer: SubjectAccessReviewer | None,
        component: str = "server",
        serves: str = "HTTPS",
        idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
        handshake_timeout_seconds: float = DEFAULT_HANDSHAKE_TIMEOUT_SECONDS,
        max_line_size: int = DEFAULT_MAX_LINE_SIZE,
        serving_thread: bool = False,
        limits: ConnectionLimits = DEFAULT_LIMITS,
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.component = component
        self.serves = serves
        self.idle_timeout_seconds = idle_timeout_seconds
        self.handshake_timeout_seconds = handshake_timeout_seconds
        self.max_line_size = max_line_size
        self.limits = limits
        self.port = 0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._server: BoundedListener | None = None
        self._in_flight = 0
        #: Accept, TLS and HTTP on a thread of their own (see :mod:`.thread`); the handler,
        #: authentication and authorization still run on the loop that started the server.
        self.thread = ServingThread(f"{component}-serving") if serving_thread else None

    # ------------------------------------------------------------------ lifecycle

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def start(self, host: str, port: int) -> None:
        if self.thread is None:
            await self._listen(host, port)
            return
        await self.thread.start()
        try:
            await self.thread.run(lambda: self._listen(host, port))
        except BaseException:
            await self.thread.stop()
            raise

    async def _listen(self, host: str, port: int) -> None:
        quiet_malformed_requests()  # else: a traceback per bad request, unauthenticated
        if self.authenticator is None:
            log.warning("%s: authentication is OFF; every request is anonymous", self.component)
        if self.authorizer is None:
            log.warning("%s: authorization is OFF; every request is allowed", self.component)
        runner = web.AppRunner(
            self.application(),
            access_log=None,
            keepalive_timeout=self.idle_timeout_seconds,
            max_line_size=self.max_line_size,
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        self._runner = runner
        assert runner.server is not None
        # Our own listener rather than a TCPSite: connection limits before any handshake.
        self._server = BoundedListener(
            runner.server,
            tls=self.tls.listener if self.tls is not None else None,
            handshake_timeout_seconds=self.handshake_timeout_seconds,
            limits=self.limits,
            component=self.component,
        )
        await self._server.start(host, port)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        if sock.family == socket.AF_INET6 and ":" in shown:
            shown = f"[{shown}]"
        self.url = f"{'https' if self.tls is not None else 'http'}://{shown}:{self.port}"
        log.info("%s: serving %s on %s", self.component, self.serves, self.url)

    async def stop(self) -> None:
        if self.thread is None:
            await self._close()
            return
        if self.thread.loop is not None:
            with contextlib.suppress(Exception):
                await self.thread.run(self._close)
        await self.thread.stop()

    @property
    def open_connections(self) -> int:
        """Connections open or handshaking now (read on the serving loop's thread or after it
        stopped; a plain int, so a racy read is merely stale)."""
        return self._server.open_connections if self._server is not None else 0

    @property
    def refused_connections(self) -> int:
        """Connections reset over the limits since the start."""
        return sum(self._server.counts.refused.values()) if self._server is not None else 0

    async def _close(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.close()
            if self._runner is not None and self._runner.server is not None:
                await self._runner.server.shutdown(1.0)
            server.abort_open()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # ------------------------------------------------------------------ request pipeline

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path in _HEALTH_PATHS:
            return web.Response(text="ok", content_type="text/plain")
        try:
            return await handler(request)
        except StatusError as err:
            return _error(err)
        except web.HTTPException as exc:
            return _error(StatusError(exc.status, exc.reason))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "%s: %s %s failed: %s",
                self.component,
                request.method,
                request.path,
                type(exc).__name__,
            )
            log.debug("%s: failure detail", self.component, exc_info=exc)
            return _error(StatusError(500, "internal error while serving the request"))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if self._in_flight >= self.limits.max_in_flight:
            response = _error(StatusError(429, "too many requests, please try again later"))
            response.headers["Retry-After"] = "1"
            return response
        self._in_flight += 1
        try:
            return await self._dispatch_counted(request)
        finally:
            self._in_flight -= 1

    async def _dispatch_counted(self, request: web.Request) -> web.StreamResponse:
        if self.thread is None:
            return await self.handler(request, await self.authenticate(request))
        # On the serving loop: the peer certificate (its connection lives here) and, unless a
        # bearer token needs a TokenReview, the whole authentication (certificates are checked
        # without I/O) — so unauthenticated callers are refused without ever reaching the
        # deciding loop, however many there are.
        der = _peer_certificate(request)
        scheme, _, _ = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            user = await self._user(der, request)
            return await self.thread.call(self._handle_as(request, user))
        return await self.thread.call(self._handle(request, der))

    async def _handle_as(self, request: web.Request, user: UserInfo) -> web.StreamResponse:
        return await self.handler(request, user)

    async def _handle(self, request: web.Request, der: bytes | None) -> web.StreamResponse:
        return await self.handler(request, await self._user(der, request))

    async def authenticate(self, request: web.Request) -> UserInfo:
        """The request's user; :class:`StatusError` 401 when no authenticator recognises it."""
        return await self._user(_peer_certificate(request), request)

    async def _user(self, der: bytes | None, request: web.Request) -> UserInfo:
        if self.authenticator is None:
            return ANONYMOUS
        try:
            return await self.authenticator.authenticate(der, request.headers)
        except Unauthenticated as exc:
            raise StatusError(401, f"Unauthorized: {exc}") from exc

    async def authorize(self, user: UserInfo, attributes: Attributes) -> None:
        """Return when ``user`` may do ``attributes``; :class:`StatusError` 403 when denied, 500
        when the review cannot be made (never an allow by default)."""
        if self.authorizer is None:
            return
        try:
            decision = await self.authorizer.authorize(user, attributes)
        except KubeError as exc:
            log.warning("%s: SubjectAccessReview failed: %s", self.component, type(exc).__name__)
            raise StatusError(500, "authorization could not be checked") from exc
        if not decision.allowed:
            raise StatusError(403, forbidden_message(user, attributes))
