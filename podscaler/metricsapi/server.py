"""The external.metrics.k8s.io HTTP server: routes, the metric's authorization, deadlines.

TLS, authentication and the request pipeline come from :mod:`podscaler.serving`
(:class:`~podscaler.serving.server.SecureServer`); what is specific to external metrics is here.
After authentication, in the order kube-apiserver applies them:

1. routing: discovery documents or one metric; anything else ⇒ 404, a verb other than GET ⇒ 405;
2. authorization with the attributes kube-apiserver derives from the path:
   ``GET /apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}`` is verb ``list`` (a
   path without an object name) on resource ``{metric}`` in namespace ``{ns}`` — hence the
   ``resources: ["*"]`` in every external-metrics reader ClusterRole; discovery paths are
   non-resource URLs with verb ``get``. Denied ⇒ 403;
3. the metric from the :class:`~podscaler.api.externalmetrics.MetricsSource`, bounded by the
   request deadline (⇒ 504), its typed errors mapped to 404 and 503.

:func:`serve_metrics_api` is what ``podscaler run`` calls: it checks who owns the APIService,
prepares certificates and authentication (:func:`podscaler.serving.security.prepare`; a
self-signed CA is published in the APIService), serves until cancelled, and keeps both fresh
meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
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
from podscaler.api.flags import flag
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError, NotFound
from podscaler.metricsapi import wire
from podscaler.metricsapi.apiservice import (
    APISERVICE_NAME,
    apiservice_owner,
    publish_ca_bundle,
)
from podscaler.metricsapi.cabundle import guard_ca_bundle
from podscaler.metricsapi.carotation import SharedCaKeeper
from podscaler.metricsapi.forwarding import FORWARDED, FORWARDED_HEADER
from podscaler.pki import Authority
from podscaler.serving.authentication import Authenticator, UserInfo
from podscaler.serving.authorization import Attributes, SubjectAccessReviewer
from podscaler.serving.certificates import SelfSignedIssuer, service_hostnames
from podscaler.serving.connections import DEFAULT_LIMITS, ConnectionLimits
from podscaler.serving.security import (
    DEFAULT_AUTH_REFRESH_SECONDS,
    CertificateOptions,
    prepare,
)
from podscaler.serving.server import (
    DEFAULT_HANDSHAKE_TIMEOUT_SECONDS,
    DEFAULT_IDLE_TIMEOUT_SECONDS,
    SecureServer,
    respond,
)
from podscaler.serving.tls import ServingTls, follow_rotation

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
#: Names this server in log lines.
COMPONENT: Final = "metrics API"
#: Longest request line aiohttp reads; longer ones get aiohttp's plain 400. Above the selector
#: limit, so an oversized selector reaches our check and its clearer Status.
_MAX_LINE_SIZE: Final = 2 * wire.MAX_SELECTOR_LENGTH + 1024


class MetricsApiServer:
    """One listener serving external.metrics.k8s.io from a :class:`MetricsSource`.

    ``tls`` None serves plain HTTP (benchmarks and local experiments only). ``authenticator``
    None accepts every request as ``system:anonymous`` and ``authorizer`` None allows every
    request: both are for development and are logged loudly at start. Connections are
    accepted and spoken on a thread of their own (``serving_thread``, see
    :mod:`podscaler.serving.thread`) so a flood of them cannot delay the scale loops; the
    source is read on the loop that started the server.
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
        serving_thread: bool = True,
        limits: ConnectionLimits = DEFAULT_LIMITS,
    ) -> None:
        self.source = source
        self.request_timeout_seconds = request_timeout_seconds
        self.http = SecureServer(
            self._dispatch,
            tls=tls,
            authenticator=authenticator,
            authorizer=authorizer,
            component=COMPONENT,
            serves=wire.GROUP,
            idle_timeout_seconds=idle_timeout_seconds,
            handshake_timeout_seconds=handshake_timeout_seconds,
            max_line_size=_MAX_LINE_SIZE,
            serving_thread=serving_thread,
            limits=limits,
        )

    @property
    def port(self) -> int:
        return self.http.port

    @property
    def url(self) -> str:
        return self.http.url

    def application(self) -> web.Application:
        return self.http.application()

    async def start(self, host: str = "0.0.0.0", port: int = DEFAULT_PORT) -> None:
        await self.http.start(host, port)

    async def stop(self) -> None:
        await self.http.stop()

    async def __aenter__(self) -> MetricsApiServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _dispatch(self, request: web.Request, user: UserInfo) -> web.StreamResponse:
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
        if discovery is not None:
            await self.http.authorize(user, Attributes(verb="get", path=request.path))
            return respond(discovery())
        namespace, metric_name = parts[4], parts[5]
        parsed = wire.parse_metric_request(
            namespace, metric_name, request.query.get("labelSelector", "")
        )
        await self.http.authorize(
            user,
            Attributes(
                verb="list",
                group=wire.GROUP,
                version=wire.VERSION,
                resource=parsed.metric_name,
                namespace=parsed.namespace,
            ),
        )
        hop = FORWARDED.set(FORWARDED_HEADER in request.headers)  # see forwarding.py
        try:
            return respond(await self._metric(parsed))
        finally:
            FORWARDED.reset(hop)

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
    """Settings of :func:`serve_metrics_api`. The flagged fields are ``podscaler run``'s
    ``--metrics-api-*`` flags (:mod:`podscaler.api.flags`)."""

    #: KEDA's adapter uses 6443 too. (0 here means an ephemeral port, for tests; on the command
    #: line ``--metrics-api-port=0``, the default, means "do not serve", and we are not called.)
    port: int = flag(
        DEFAULT_PORT,
        cli_default=0,
        help="Port of the external.metrics.k8s.io API over TLS (the manifests use 6443; 0: off).",
    )
    host: str = flag("0.0.0.0", name="bind-address", help="Address the metrics API listens on.")
    #: Serve these, reloading them when they are replaced (cert-manager, a mounted Secret).
    cert_file: Path | None = flag(
        None,
        name="tls-cert-file",
        help="Serving certificate (PEM), reloaded when replaced; needs --metrics-api-tls-key-file.",
    )
    key_file: Path | None = flag(None, name="tls-key-file", help="Its private key (PEM).")
    #: A directory holding ``tls.crt`` and ``tls.key`` (a mounted Secret). Without files,
    #: podscaler mints its own CA and patches the APIService caBundle.
    cert_dir: Path | None = flag(
        None,
        help="Directory with tls.crt/tls.key (a mounted Secret); without certificates podscaler "
        "issues its own and publishes its CA in the APIService.",
    )
    #: The Service the APIService routes to (certificate names, caBundle ownership check).
    service: str = flag(
        "podscaler-metrics-apiserver",
        help="The Service the APIService routes to (certificate names, ownership check).",
    )
    namespace: str = flag("podscaler", name="service-namespace", help="Namespace of that Service.")
    #: ``None`` reads ``kube-system/extension-apiserver-authentication`` (and re-reads it every
    #: minute); a path reads the same keys from a YAML/JSON file of that ConfigMap's ``data``
    #: (clusters without the ConfigMap, tests).
    authentication_config_file: Path | None = flag(
        None,
        name="authentication-config",
        help="A file with the data of kube-system/extension-apiserver-authentication, for "
        "clusters without that ConfigMap (default: read the ConfigMap, every minute).",
    )
    #: Off allows every authenticated request; for development only.
    authorization: bool = flag(
        True,
        negatable=True,
        help="Authorize metric reads with SubjectAccessReview (off: development only).",
    )
    #: Patch the APIService with our CA when self-signed.
    publish_ca_bundle: bool = flag(
        True, negatable=True, help="Patch the self-issued CA into the APIService's caBundle."
    )
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    idle_timeout_seconds: float = DEFAULT_IDLE_TIMEOUT_SECONDS
    auth_refresh_seconds: float = DEFAULT_AUTH_REFRESH_SECONDS
    #: Extra names for a self-signed certificate (e.g. ``127.0.0.1`` for local runs).
    extra_hostnames: tuple[str, ...] = field(default=())
    #: Accept and speak TLS on a thread of its own (a flood cannot delay the scale loops);
    #: False only where the loop's clock is faked (looptime cannot fake another thread's).
    serving_thread: bool = True
    #: Watch the APIService and restore our CA when it goes (see :mod:`.cabundle`); False
    #: only where the loop's clock is faked (a watch's read timeout would fire at once).
    guard_ca_bundle: bool = True
    #: Connections kept (in all, per client address) and requests handled at once; over them
    #: a connection is reset before its handshake, a request answered 429 (see
    #: :mod:`podscaler.serving.connections`).
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)


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
    ca: Authority | None = None,
    shared: SharedCaKeeper | None = None,
) -> None:
    """Serve external.metrics.k8s.io until cancelled (``podscaler run`` runs it as a task).

    ``kube`` is the operator's API connection (TokenReview, SubjectAccessReview, the
    authentication ConfigMap, the APIService). ``on_ready`` is called once listening. ``ca``
    is the CA a self-issued certificate comes from (the replicas' shared one, see
    :mod:`.sharedca`); None mints one. ``shared`` keeps that CA current from its Secret
    across rotations (:mod:`.carotation`), and supersedes ``ca``.
    """
    await _check_apiservice(kube, options)

    async def publish(bundle: bytes) -> None:
        try:
            await publish_ca_bundle(
                kube, bundle, namespace=options.namespace, service=options.service
            )
        except (NotFound, KubeError) as exc:
            log.warning("metrics API: caBundle not published: %s", exc)
        else:
            log.info("metrics API: published the CA bundle in APIService %s", APISERVICE_NAME)

    names = [*service_hostnames(options.service, options.namespace), *options.extra_hostnames]
    security = await prepare(
        kube,
        CertificateOptions(
            cert_file=options.cert_file,
            key_file=options.key_file,
            cert_dir=options.cert_dir,
            hostnames=tuple(names),
            ca=shared.state.signing if shared is not None else ca,
        ),
        component=COMPONENT,
        publish_ca_bundle=publish if options.publish_ca_bundle else None,
        authentication_config_file=options.authentication_config_file,
        authorization=options.authorization,
        auth_refresh_seconds=options.auth_refresh_seconds,
    )
    issuer = security.keeper.source
    if shared is not None:
        await follow_rotation(shared, security.keeper, security.tls)
    server = MetricsApiServer(
        source,
        tls=security.tls,
        authenticator=security.authenticator,
        authorizer=security.authorizer,
        request_timeout_seconds=options.request_timeout_seconds,
        idle_timeout_seconds=options.idle_timeout_seconds,
        serving_thread=options.serving_thread,
        limits=options.limits,
    )
    await server.start(options.host, options.port)
    try:
        if on_ready is not None:
            on_ready(server)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(security.keep_fresh())
            if shared is not None and isinstance(issuer, SelfSignedIssuer):
                tasks.create_task(shared.run())
            if options.guard_ca_bundle and security.keeper.publish_ca_bundle is not None:
                # Put our CA back whenever the APIService is re-applied without it.
                tasks.create_task(
                    guard_ca_bundle(
                        kube,
                        lambda: security.keeper.published,
                        namespace=options.namespace,
                        service=options.service,
                    )
                )
    finally:
        await server.stop()
