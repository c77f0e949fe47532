"""The operator's TLS servers behind kube-apiserver: the external metrics API and the
VerticalScaler admission webhook, each with certificates from the CA the replicas share."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from podscaler.api.externalmetrics import MetricsSource
from podscaler.clock import WallClock
from podscaler.controllers.vertical.admission import (
    WebhookOptions,
    run_admission_webhook,
)
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError
from podscaler.manager.endpoints import Servers
from podscaler.metricsapi.apiservice import APISERVICE_NAME, apiservice_owner
from podscaler.metricsapi.carotation import SharedCa, SharedCaKeeper
from podscaler.metricsapi.server import MetricsApiOptions, serve_metrics_api
from podscaler.metricsapi.sharedca import SharedCaError, shared_authority
from podscaler.serving.security import CertificateOptions

log = logging.getLogger("podscaler.manager")


#: Real time, for certificates: their validity is a wall-clock fact, even in a simulation.
_WALL = WallClock()


async def serve_webhook(
    kube: Kube,
    options: WebhookOptions | None,
    servers: Servers,
    shared_ca: asyncio.Future[SharedCaKeeper | None] | None = None,
) -> None:
    """The VerticalScaler admission webhook, when asked for. It failing is logged and leaves
    the controllers running: its configuration's failurePolicy Ignore lets pods through; but
    the operator is not ready then (``/readyz``). Self-issued certificates come from the CA
    the replicas share (the metrics API's Secret), so all of them publish one caBundle; when
    this replica serves the metrics API too, the webhook follows that CA's rotation
    (*shared_ca*, resolved once the metrics API has read the Secret)."""
    if options is None:
        return
    certificates: CertificateOptions | None = None
    keeper: SharedCaKeeper | None = None
    if options.cert_file is None and options.key_file is None and options.cert_dir is None:
        if shared_ca is not None:
            keeper = await shared_ca
        if keeper is not None:
            certificates = CertificateOptions(ca=keeper.signing)
        else:
            certificates = await _webhook_authority(kube, options)
    try:
        await run_admission_webhook(
            kube, options, servers.webhook_gate, certificates=certificates, shared=keeper
        )
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("admission webhook stopped: %s: %s", type(exc).__name__, exc)
    servers.webhook_failed = True


async def _webhook_authority(kube: Kube, options: WebhookOptions) -> CertificateOptions | None:
    """The shared CA without the metrics API's keeper (the metrics API is off): read or minted
    once through its Secret, not rotated by this replica."""
    try:
        ca = await shared_authority(
            kube, options.namespace, now=_WALL.now(), common_name=f"{options.service}-ca"
        )
    except (KubeError, SharedCaError) as exc:
        log.warning(
            "admission webhook: no shared CA (%s); this replica mints its own, which "
            "other replicas' caBundle will not trust",
            exc,
        )
        return None
    return CertificateOptions(ca=ca)


async def serve_metrics(
    source: MetricsSource,
    kube: Kube,
    options: MetricsApiOptions | None,
    servers: Servers,
    shared_ca: asyncio.Future[SharedCaKeeper | None] | None = None,
    leading: Callable[[], bool] = lambda: True,
) -> None:
    """The metrics API for the operator's lifetime. It failing (a port taken, unreadable
    certificates) is logged and leaves the controllers running: direct mode needs no API; but
    the operator is not ready then (``/readyz``), as HPAs in mode hpa get no metrics."""
    if options is None:
        try:
            owner = await apiservice_owner(kube)
        except KubeError:
            return
        if owner is not None:
            log.info(
                "metrics API not served (--metrics-api-port=0); APIService %s routes to %s, "
                "so HPAs of ScaledObjects in mode hpa read their metrics there",
                APISERVICE_NAME,
                owner.describe(),
            )
        return

    def serving(_: object) -> None:
        servers.metrics_api = "serving"

    keeper: SharedCaKeeper | None = None
    if options.cert_file is None and options.cert_dir is None:
        # Self-issued certificates: every replica issues from the one CA in a Secret, so the
        # APIService's caBundle trusts all of them (issue 17 item 10).
        try:
            ca = await shared_authority(
                kube, options.namespace, now=_WALL.now(), common_name=f"{options.service}-ca"
            )
            # Rotated through the Secret by the Lease holder; every replica follows it.
            keeper = SharedCaKeeper(
                kube,
                options.namespace,
                SharedCa(ca),
                now=_WALL.now,
                leading=leading,
                common_name=f"{options.service}-ca",
            )
            await keeper.check()  # a rotation under way: its next or previous CA too
        except (KubeError, SharedCaError) as exc:
            log.warning(
                "metrics API: no shared CA (%s); this replica mints its own, which other "
                "replicas' caBundle will not trust",
                exc,
            )
    if shared_ca is not None and not shared_ca.done():
        shared_ca.set_result(keeper)
    try:
        await serve_metrics_api(source, kube, options, on_ready=serving, shared=keeper)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("metrics API stopped: %s: %s", type(exc).__name__, exc)
    servers.metrics_api = "failed"
