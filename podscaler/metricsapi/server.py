"""The external.metrics.k8s.io HTTP server: routing, authentication, authorization, deadlines.

Every request goes through the same steps, in the order kube-apiserver applies them, so a
request that fails one step never reaches the next:

1. ``/healthz``, ``/livez``, ``/readyz`` answer ``ok`` to anyone (kubelet probes carry no
   credentials);
2. authentication (:mod:`~podscaler.metricsapi.authentication`): none recognised ⇒ 401;
3. routing: discovery documents or one metric; anything else ⇒ 404, a verb other than GET ⇒ 405;
4. authorization (:mod:`~podscaler.metricsapi.authorization`): denied ⇒ 403;
5. the metric from the :class:`~podscaler.api.externalmetrics.MetricsSource`, bounded by the
   request deadline (⇒ 504), its typed errors mapped to 404 and 503.

Every error is a ``metav1.Status`` document. Slow or stuck clients cannot pin resources: the TLS
handshake has its own timeout, and a connection that does not deliver a complete request head
within ``idle_timeout_seconds`` (new or kept alive) is closed by aiohttp's keep-alive timer,
which in aiohttp ≥ 3.10 also runs before the first request.

:func:`serve_metrics_api` is what ``podscaler run`` calls: it reads the cluster's authentication
configuration, sets up certificates (files, reloaded; or self-signed, renewed and published in
the APIService), serves until cancelled, and keeps both fresh meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from podscaler.api.externalmetrics import (
    MetricNotFound,
    MetricsSource,
    MetricUnavailable,
    ScaledObjectNotFound,
)
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError, NotFound
from podscaler.metricsapi import wire
from podscaler.metricsapi.apiservice import (
    APISERVICE_NAME,
    apiservice_owner,
    publish_ca_bundle,
)
from podscaler.metricsapi.authentication import (
    AuthenticationConfig,
    Authenticator,
    TokenReviewer,
    Unauthenticated,
    UserInfo,
    read_authentication_config,
)
from podscaler.metricsapi.authorization import Attributes, SubjectAccessReviewer
from podscaler.metricsapi.certificates import (
    CertificateFiles,
    SelfSignedIssuer,
    service_hostnames,
)
from podscaler.metricsapi.tls import CertificateKeeper, ServingTls

__all__ = [
    "DEFAULT_PORT",
    "MetricsApiOptions",
    "MetricsApiServer",
    "serve_metrics_api",
]

log = logging.getLogger(__name__)

DEFAULT_PORT: Final = 6443
#: The aggregator gives up on a backend after 30 s by default; answer (504) well before that so
#: the HPA sees a clear Status instead of a proxy error.
DEFAULT_REQUEST_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_IDLE_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_HANDSHAKE_TIMEOUT_SECONDS: Final = 10.0
#: How often the extension-apiserver-authentication ConfigMap is re-read (kube-apiserver
#: rewrites it when its CAs rotate).
DEFAULT_AUTH_REFRESH_SECONDS: Final = 60.0
#: Longest request line aiohttp reads; longer ones get aiohttp's plain 400. Above the selector
#: limit, so an oversized selector reaches our check and its clearer Status.
_MAX_LINE_SIZE: Final = 2 * wire.MAX_SELECTOR_LENGTH + 1024

#: Where the pipeline leaves the authenticated user for the handler.
_USER: Final = web.RequestKey("podscaler_user", UserInfo)
_HEALTH_PATHS: Final = frozenset({"/healthz", "/livez", "/readyz"})
_JSON: Final = "application/json"


def _respond(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(), status=status, content_type=_JSON
    )


def _error(err: wire.StatusError) -> web.Response:
    return _respond(err.body(), err.code)


class MetricsApiServer:
    """One listener serving external.metrics.k8s.io from a :class:`MetricsSource`.

    ``tls`` None serves plain HTTP (benchmarks and local experiments only). ``authenticator``
    None accepts every request as ``system:anonymous`` and ``authorizer`` None allows every
    request: both are for development and are logged loudly at start.
    """

    def __init__(
        self,
        source: MetricsSource,
        *,
        tls: ServingTls | None,
        authenticator: Authenticator | None,
        authorizer: SubjectAccessReviewer | None,
        request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
        idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
        handshake_timeout_seconds: float = DEFAULT_HANDSHAKE_TIMEOUT_SECONDS,
    ) -> None:
        self.source = source
        self.tls = tls
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.request_timeout_seconds = request_timeout_seconds
        self.idle_timeout_seconds = idle_timeout_seconds
        self.handshake_timeout_seconds = handshake_timeout_seconds
        self.port = 0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None

    # ------------------------------------------------------------------ lifecycle

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def start(self, host: str = "0.0.0.0", port: int = DEFAULT_PORT) -> None:
        if self.authenticator is None:
            log.warning("metrics API: authentication is OFF; every request is anonymous")
        if self.authorizer is None:
            log.warning("metrics API: authorization is OFF; every request is allowed")
        runner = web.AppRunner(
            self.application(),
            access_log=None,
            keepalive_timeout=self.idle_timeout_seconds,
            max_line_size=_MAX_LINE_SIZE,
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        self._runner = runner
        assert runner.server is not None
        loop = asyncio.get_running_loop()
        # Our own listener rather than a TCPSite: only create_server takes a handshake timeout.
        self._server = await loop.create_server(
            runner.server,
            host,
            port,
            ssl=self.tls.listener if self.tls is not None else None,
            ssl_handshake_timeout=self.handshake_timeout_seconds if self.tls is not None else None,
            reuse_address=True,
            backlog=1024,
        )
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        if sock.family == socket.AF_INET6 and ":" in shown:
            shown = f"[{shown}]"
        self.url = f"{'https' if self.tls is not None else 'http'}://{shown}:{self.port}"
        log.info("metrics API: serving external.metrics.k8s.io on %s", self.url)

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            if self._runner is not None and self._runner.server is not None:
                await self._runner.server.shutdown(1.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> MetricsApiServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ request pipeline

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path in _HEALTH_PATHS:
            return web.Response(text="ok", content_type="text/plain")
        try:
            request[_USER] = await self._authenticate(request)
            return await handler(request)
        except wire.StatusError as err:
            return _error(err)
        except web.HTTPException as exc:
            return _error(wire.StatusError(exc.status, exc.reason))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "metrics API: %s %s failed: %s", request.method, request.path, type(exc).__name__
            )
            log.debug("metrics API: failure detail", exc_info=exc)
            return _error(wire.StatusError(500, "internal error while serving the request"))

    async def _authenticate(self, request: web.Request) -> UserInfo:
        if self.authenticator is None:
            return UserInfo(name="system:anonymous", groups=("system:unauthenticated",))
        der: bytes | None = None
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        if ssl_object is not None:
            der = ssl_object.getpeercert(binary_form=True)
        try:
            return await self.authenticator.authenticate(der, request.headers)
        except Unauthenticated as exc:
            raise wire.StatusError(401, f"Unauthorized: {exc}") from exc

    async def _authorize(self, user: UserInfo, attributes: Attributes) -> None:
        if self.authorizer is None:
            return
        try:
            decision = await self.authorizer.authorize(user, attributes)
        except KubeError as exc:
            log.warning("metrics API: SubjectAccessReview failed: %s", type(exc).__name__)
            raise wire.StatusError(500, "authorization could not be checked") from exc
        if not decision.allowed:
            if attributes.path:
                what = f'get path "{attributes.path}"'
            else:
                what = (
                    f'{attributes.verb} resource "{attributes.resource}" in API group '
                    f'"{attributes.group}" in the namespace "{attributes.namespace}"'
                )
            raise wire.StatusError(403, f'User "{user.name}" cannot {what}')

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        discovery = {
            ("apis",): wire.api_group_list,
            ("apis", wire.GROUP): wire.api_group,
            ("apis", wire.GROUP, wire.VERSION): wire.api_resource_list,
        }.get(tuple(parts))
        is_metric = (len(parts) == 6 and parts[:3] == ["apis", wire.GROUP, wire.VERSION]) and parts[
            3
        ] == "namespaces"
        if discovery is None and not is_metric:
            raise wire.StatusError(404, "the server could not find the requested resource")
        if request.method not in ("GET", "HEAD"):
            raise wire.StatusError(405, f"the server does not allow method {request.method}")
        user = request[_USER]
        if discovery is not None:
            await self._authorize(user, Attributes(verb="get", path=request.path))
            return _respond(discovery())
        namespace, metric_name = parts[4], parts[5]
        parsed = wire.parse_metric_request(
            namespace, metric_name, request.query.get("labelSelector", "")
        )
        await self._authorize(
            user,
            Attributes(
                verb="list",
                group=wire.GROUP,
                version=wire.VERSION,
                resource=parsed.metric_name,
                namespace=parsed.namespace,
            ),
        )
        return _respond(await self._metric(parsed))

    async def _metric(self, parsed: wire.MetricRequest) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.request_timeout_seconds):
                samples = await self.source.external_metric(
                    parsed.namespace, parsed.scaled_object, parsed.metric_name
                )
        except TimeoutError as exc:
            raise wire.StatusError(
                504,
                f"metric:{parsed.metric_name} was not available within "
                f"{self.request_timeout_seconds:g}s",
            ) from exc
        except (ScaledObjectNotFound, MetricNotFound) as exc:
            raise wire.StatusError(404, str(exc)) from exc
        except MetricUnavailable as exc:
            raise wire.StatusError(
                503, f"metric:{parsed.metric_name} encountered error: {exc}"
            ) from exc
        return wire.value_list(samples)


@dataclass(frozen=True)
class MetricsApiOptions:
    """Settings of :func:`serve_metrics_api`; each maps to one ``podscaler run`` flag."""

    #: ``--metrics-api-port``; KEDA's adapter uses 6443 too. (0 here means an ephemeral port, for
    #: tests; the CLI should treat ``--metrics-api-port=0`` as "do not serve" and not call us.)
    port: int = DEFAULT_PORT
    #: ``--metrics-api-bind-address``.
    host: str = "0.0.0.0"
    #: ``--metrics-api-tls-cert-file`` / ``--metrics-api-tls-key-file``: serve these, reloading
    #: them when they are replaced (cert-manager, a mounted Secret).
    cert_file: Path | None = None
    key_file: Path | None = None
    #: ``--metrics-api-cert-dir``: a directory holding ``tls.crt`` and ``tls.key`` (a mounted
    #: Secret). Without files, podscaler mints its own CA and patches the APIService caBundle.
    cert_dir: Path | None = None
    #: The Service the APIService routes to (certificate names, caBundle ownership check).
    service: str = "podscaler-metrics-apiserver"
    namespace: str = "podscaler"
    #: ``--metrics-api-authentication-config``: ``None`` reads
    #: ``kube-system/extension-apiserver-authentication`` (and re-reads it every minute); a path
    #: reads the same keys from a YAML/JSON file of that ConfigMap's ``data`` (clusters without
    #: the ConfigMap, tests).
    authentication_config_file: Path | None = None
    #: ``--metrics-api-authorization`` (default on): off allows every authenticated request;
    #: for development only.
    authorization: bool = True
    #: ``--metrics-api-publish-ca-bundle`` (default on): patch the APIService with our CA when
    #: self-signed.
    publish_ca_bundle: bool = True
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_SECONDS
    auth_refresh_seconds: float = DEFAULT_AUTH_REFRESH_SECONDS
    #: Extra names for a self-signed certificate (e.g. ``127.0.0.1`` for local runs).
    extra_hostnames: tuple[str, ...] = field(default=())


def _certificate_source(options: MetricsApiOptions) -> CertificateFiles | SelfSignedIssuer:
    if options.cert_file is not None or options.key_file is not None:
        if options.cert_file is None or options.key_file is None:
            raise ValueError("the metrics API needs both a certificate file and a key file")
        return CertificateFiles(options.cert_file, options.key_file)
    if options.cert_dir is not None:
        cert, key = options.cert_dir / "tls.crt", options.cert_dir / "tls.key"
        if cert.exists() and key.exists():
            ca = options.cert_dir / "ca.crt"
            return CertificateFiles(cert, key, ca if ca.exists() else None)
    names = [*service_hostnames(options.service, options.namespace), *options.extra_hostnames]
    return SelfSignedIssuer(names)


def _authentication_from_file(path: Path) -> AuthenticationConfig:
    import yaml

    loaded = yaml.safe_load(path.read_text()) or {}
    data = loaded.get("data", loaded) if isinstance(loaded, dict) else {}
    return AuthenticationConfig.from_configmap_data({str(k): str(v) for k, v in data.items()})


async def _load_authentication(kube: Kube, options: MetricsApiOptions) -> AuthenticationConfig:
    if options.authentication_config_file is not None:
        return _authentication_from_file(options.authentication_config_file)
    return await read_authentication_config(kube)


async def _keep_authentication_fresh(
    kube: Kube, options: MetricsApiOptions, authenticator: Authenticator, tls: ServingTls
) -> None:
    while True:
        await asyncio.sleep(options.auth_refresh_seconds)
        try:
            config = await _load_authentication(kube, options)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # RBAC, a network blip, a broken file: keep what works
            log.warning("metrics API: keeping the authentication configuration: %r", exc)
            continue
        if config != authenticator.config:
            authenticator.configure(config)
            try:
                tls.update(client_ca_pem=config.trusted_pem)
            except (ssl.SSLError, ValueError) as exc:
                log.warning("metrics API: new client CAs do not load: %s", type(exc).__name__)
            log.info("metrics API: authentication configuration changed; adopted")


async def _check_apiservice(kube: Kube, options: MetricsApiOptions) -> None:
    try:
        owner = await apiservice_owner(kube)
    except KubeError as exc:
        log.warning("metrics API: cannot read APIService %s: %r", APISERVICE_NAME, exc)
        return
    if owner is None:
        log.warning(
            "metrics API: APIService %s does not exist; the HPA cannot reach podscaler's "
            "external metrics until manifests/metricsapi is applied",
            APISERVICE_NAME,
        )
    elif not owner.is_ours(options.namespace, options.service):
        log.error(
            "metrics API: APIService %s is owned by %s, not by podscaler's Service %s/%s. Only "
            "one external metrics adapter can serve a cluster: HPAs will keep reading the other "
            "one (KEDA? prometheus-adapter?) until that APIService is changed.",
            APISERVICE_NAME,
            owner.describe(),
            options.namespace,
            options.service,
        )


async def serve_metrics_api(
    source: MetricsSource,
    kube: Kube,
    options: MetricsApiOptions = MetricsApiOptions(),
    *,
    on_ready: Callable[[MetricsApiServer], None] | None = None,
) -> None:
    """Serve external.metrics.k8s.io until cancelled (``podscaler run`` runs it as a task).

    ``kube`` is the operator's API connection (TokenReview, SubjectAccessReview, the
    authentication ConfigMap, the APIService). ``on_ready`` is called once listening.
    """
    await _check_apiservice(kube, options)
    try:
        config = await _load_authentication(kube, options)
    except (KubeError, OSError, ValueError) as exc:
        # Missing RBAC must not take the operator down: serve (tokens only) and keep retrying.
        log.error(
            "metrics API: cannot read the authentication configuration (%r); front-proxy and "
            "client certificates are refused until it can be read",
            exc,
        )
        config = AuthenticationConfig()
    cert_source = _certificate_source(options)

    async def publish(bundle: bytes) -> None:
        try:
            await publish_ca_bundle(
                kube, bundle, namespace=options.namespace, service=options.service
            )
        except (NotFound, KubeError) as exc:
            log.warning("metrics API: caBundle not published: %s", exc)
        else:
            log.info("metrics API: published the CA bundle in APIService %s", APISERVICE_NAME)

    keeper = CertificateKeeper(
        cert_source,
        publish_ca_bundle=publish
        if options.publish_ca_bundle and isinstance(cert_source, SelfSignedIssuer)
        else None,
    )
    tls = ServingTls(await keeper.initial(), config.trusted_pem)
    authenticator = Authenticator(config, TokenReviewer(kube))
    authorizer = SubjectAccessReviewer(kube) if options.authorization else None
    server = MetricsApiServer(
        source,
        tls=tls,
        authenticator=authenticator,
        authorizer=authorizer,
        request_timeout_seconds=options.request_timeout_seconds,
        idle_timeout_seconds=options.idle_timeout_seconds,
    )
    await server.start(options.host, options.port)
    try:
        if on_ready is not None:
            on_ready(server)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(keeper.run(tls))
            tasks.create_task(_keep_authentication_fresh(kube, options, authenticator, tls))
    finally:
        await server.stop()
