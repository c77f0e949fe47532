"""``podscaler run``: the operator process, wired from its parts.

What runs:

* the ScaledObject controller (direct and hpa modes), over one namespace or all, and the
  ScaledJob controller beside it (not under ``--dry-run``: it creates Jobs);
* the ProportionalScaler controller (``podscaler.controllers.proportional``) when its CRD is
  installed (``--proportional/--no-proportional`` force it), and for CPA's own
  ``--configmap/--target`` flags;
* the VerticalScaler recommender and updater (``podscaler.controllers.vertical``) when their
  CRD is installed (``--vertical/--no-vertical`` force it);
* with ``--metrics-api-port`` (the manifests pass 6443), the external.metrics.k8s.io server
  over TLS (``podscaler.metricsapi``), answering from the ScaledObject controller's live state
  (:class:`~podscaler.controllers.scaledobject.metricsource.ControllerMetricsSource`; 503 on a
  standby replica; under ``--shard`` a read for an object another replica owns is forwarded
  to it, :mod:`podscaler.metricsapi.forwarding`), with a certificate issued from the one CA the
  replicas share (:mod:`podscaler.metricsapi.sharedca`); at start it says who owns the
  ``v1beta1.external.metrics.k8s.io`` APIService when another adapter (KEDA,
  prometheus-adapter) holds it, served or not;
* beside both, :class:`~podscaler.controllers.triggers.refresh.AuthRefresher`: triggers are rebuilt
  when a referenced TriggerAuthentication changes (watched) or a referenced Secret/ConfigMap
  does (re-read by name every ``auth_refresh_seconds``, and at once after an authentication
  failure);
* an HTTP server on the **metrics port** (default 8080): ``/metrics`` (Prometheus text format),
  ``/debug/shard`` (with ``--shard``: members, owned objects, handovers) and
  ``/debug/decisions`` (the recent decision records per object as JSON, optionally
  ``?namespace=&name=``; this is what ``podscaler explain --endpoint`` reads);
* with Cluster Autoscaler's flags (``--nodes``, ``--node-group-auto-discovery``,
  ``--cloud-provider=aws``), the node autoscaler (:mod:`podscaler.controllers.nodes`), under
  its own Lease ``podscaler-node-autoscaler`` with ``--leader-elect``; its metrics
  (``cluster_autoscaler_*``) join ``/metrics`` and its last pass's reasons per node and pod are
  served at ``/debug/nodes``;
* ``/debug/status`` on the metrics port: what the operator manages (objects per kind by
  condition, the not-Ready ones, loop lateness, node groups and their backoff, VerticalScalers
  and the updater's work, the shard's members, owners and handovers) and its health, as JSON
  (:mod:`podscaler.observability.status`; what ``podscaler status`` prints);
* an HTTP server on the **health port** (default 8081): ``/healthz`` answers 200 while the
  process runs its loop and no poll loop is stuck (a loop with objects whose poll count has not
  moved for three polling intervals, at least a minute; the node autoscaler without a pass for
  ``--max-inactivity``, 10 minutes by default, as Cluster Autoscaler's health check);
  ``/readyz`` answers 200 only once every running controller's informers have synced and the
  metrics API and the admission webhook, when configured, serve (a standby replica under
  ``--leader-elect`` is ready too: it can take over).

``--leader-elect`` campaigns for a Lease and runs the controller only while holding it
(active/standby). ``--shard`` makes the replicas active/active instead
(:mod:`podscaler.controllers.sharding`): each holds its own Lease in the operator namespace and
polls only the ScaledObjects that rendezvous hashing gives it; work that must run once
(ScaledJobs, which create Jobs; ProportionalScalers; the node autoscaler) runs under the one
Lease ``podscaler-singletons`` on whichever replica holds it. ``--shard-selector`` is static
sharding instead: this replica sees only the ScaledObjects with the label (no Leases). The three
modes exclude each other.

``--dry-run`` decides and explains every object, writes status, Events and metrics, but never
writes a target's ``/scale``.

Time: timestamps come from the running loop's clock (:func:`podscaler.clock.clock_of`), so a
simulated loop moves the operator's notion of "now" with it; intervals use ``loop.time()``.
SIGTERM and SIGINT stop the controller, flush Events and close connections before exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.metadata
import logging
import os
import random
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from podscaler.api.externalmetrics import MetricsSource
from podscaler.api.flags import flag
from podscaler.api.triggers import DEFAULT_POLLING_INTERVAL_SECONDS
from podscaler.clock import WallClock, clock_of
from podscaler.controllers.nodes import NodeAutoscaler, NodeAutoscalerSettings
from podscaler.controllers.nodes.settings import NodeAutoscalerConfig, start_provider
from podscaler.controllers.proportional import (
    CpaFlags,
    ProportionalController,
    ProportionalSettings,
    start_proportional_controller,
)
from podscaler.controllers.scaledjob import JobSettings, ScaledJobController
from podscaler.controllers.scaledobject import ScaledObjectController, Settings
from podscaler.controllers.scaledobject.metricsource import ControllerMetricsSource
from podscaler.controllers.sharding import Membership, MembershipSettings
from podscaler.controllers.sharding.status import ShardView
from podscaler.controllers.triggers.refresh import AuthRefresher
from podscaler.controllers.vertical import (
    VerticalControllers,
    VerticalSettings,
    start_vertical_controllers,
)
from podscaler.controllers.vertical.admission import (
    WebhookGate,
    WebhookOptions,
    run_admission_webhook,
)
from podscaler.controllers.vertical.resize import PodResizer
from podscaler.controllers.vertical.running import attach_updater, detach_updater
from podscaler.controllers.vertical.summary import vertical_summary
from podscaler.heap import release_free_memory
from podscaler.kube.clients import ConnectOptions, Kube, connect
from podscaler.kube.errors import KubeError
from podscaler.kube.events import EventRecorder
from podscaler.kube.leases import LeaderElector
from podscaler.metricsapi.apiservice import APISERVICE_NAME, apiservice_owner
from podscaler.metricsapi.carotation import SharedCa, SharedCaKeeper
from podscaler.metricsapi.forwarding import LOCAL, ForwardingSource
from podscaler.metricsapi.server import MetricsApiOptions, serve_metrics_api
from podscaler.metricsapi.sharedca import SharedCaError, shared_authority
from podscaler.observability.metrics import CONTENT_TYPE_LATEST, OperatorMetrics
from podscaler.observability.nodemetrics import NodeAutoscalerMetrics
from podscaler.observability.proportionalmetrics import ProportionalMetrics
from podscaler.observability.status import (
    LoopWatchdog,
    condition_counts,
    lateness_summary,
)
from podscaler.serving.loopback import loopback_only
from podscaler.serving.security import CertificateOptions

__all__ = ["ListenFailed", "RunOptions", "run_operator", "settle_heap_periodically"]

log = logging.getLogger("podscaler.operator")


def _version() -> str:
    try:
        return importlib.metadata.version("podscaler")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


#: Real time, for the heap's housekeeping (see :func:`settle_heap_periodically`).
_WALL = WallClock()


@dataclass(frozen=True)
class RunOptions:
    """The operator's settings; each flagged field is a ``podscaler run`` flag (and its
    ``PODSCALER_RUN_*`` variable), declared here once (:mod:`podscaler.api.flags`)."""

    namespace: str | None = flag(None, help="Watch only this namespace (default: all).")
    metrics_port: int = flag(8080, help="Port of /metrics and /debug/decisions.")
    health_port: int = flag(8081, help="Port of /healthz and /readyz.")
    bind_address: str = flag("0.0.0.0", help="Address the ports listen on.")
    debug_endpoints: str = flag(
        "local",
        choices=("local", "any"),
        help="Who may read /debug/* on the metrics port: local (loopback peers, e.g. through "
        "kubectl port-forward) or any.",
    )
    leader_elect: bool = flag(
        False,
        negatable=True,
        help="Run the controller only while holding a Lease (active/standby).",
    )
    shard: bool = flag(
        False,
        help="Share the ScaledObjects with the other replicas run with --shard "
        "(a Lease each, rendezvous hashing; singletons under one leader Lease).",
    )
    shard_selector: str | None = flag(
        None,
        help="Work only on ScaledObjects matching this label selector (static sharding).",
    )
    shard_lease_duration_seconds: float = flag(
        15.0,
        name="shard-lease-duration",
        minimum=1.0,
        help="Seconds a --shard member Lease lasts unrenewed (renewed every 2/15 of it, "
        "a member stops working 2/3 of it after its last renewal).",
    )
    shard_address: str = flag(
        "",
        help="host:port other --shard replicas reach this one's metrics API at "
        "(default: $POD_IP or the bind address, and --metrics-api-port).",
    )
    dry_run: bool = flag(False, help="Decide and explain, never write a target's /scale.")
    operator_namespace: str = flag(
        "podscaler", help="Namespace of the Lease and of ClusterTriggerAuthentication Secrets."
    )
    trigger_timeout_seconds: float = flag(
        5.0, name="trigger-timeout", help="Seconds a trigger may take per poll."
    )
    #: How often referenced Secrets/ConfigMaps are re-read to notice rotations (0: never).
    auth_refresh_seconds: float = flag(
        60.0,
        name="auth-refresh-interval",
        help="Seconds between re-reads of the Secrets/ConfigMaps triggers use (0: never).",
    )
    identity: str = ""
    #: Where the API server is (``--kubeconfig``, ``--context``, ``--server``).
    cluster: ConnectOptions = field(default_factory=ConnectOptions)
    #: The external metrics API; ``None`` does not serve it (``--metrics-api-port=0``).
    metrics_api: MetricsApiOptions | None = None
    #: The VerticalScaler admission webhook; ``None`` does not serve it.
    admission_webhook: WebhookOptions | None = None
    #: ProportionalScalers: None watches them when their CRD is installed; True/False forces.
    proportional: bool | None = None
    #: cluster-proportional-autoscaler's own flags (--configmap/--target/...), or None.
    cpa_flags: CpaFlags | None = None
    #: How often proportional targets' /scale is re-checked (CPA's --poll-period-seconds).
    proportional_resync_seconds: float = 10.0
    #: VerticalScalers: None runs the recommender and updater when their CRD is installed.
    vertical: bool | None = None
    vertical_settings: VerticalSettings = field(default_factory=VerticalSettings)
    #: The node autoscaler (Cluster Autoscaler's flags), or None when it does not run.
    nodes: NodeAutoscalerConfig | None = None
    #: Seeds the operator's random choices (the phases of the polls); a simulation passes its
    #: scenario's seed so that a run replays exactly. None: seeded from the OS.
    seed: int | None = None


class ListenFailed(Exception):
    """One of the operator's HTTP servers could not listen (a port in use, a bad address);
    ``server`` is ``metrics`` or ``health``."""

    def __init__(self, server: str, host: str, port: int, cause: OSError) -> None:
        super().__init__(f"the {server} server cannot listen on {host}:{port}: {cause}")
        self.server = server
        self.host = host
        self.port = port
        self.cause = cause


def _http(host: str, port: int) -> str:
    """A URL a person can paste: a wildcard bind address is reached as localhost."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class _Servers:
    """The metrics and health HTTP servers."""

    def __init__(self, options: RunOptions, metrics: OperatorMetrics) -> None:
        self.options = options
        self.metrics = metrics
        self.controller: ScaledObjectController | None = None
        self.jobs: ScaledJobController | None = None
        self.proportional: ProportionalController | None = None
        self.nodes: NodeAutoscaler | None = None
        self.membership: Membership | None = None
        #: ``--shard``: members, objects per member, handovers (status).
        self.shard_view: ShardView | None = None
        self.forwarding: ForwardingSource | None = None
        self.vertical: VerticalControllers | None = None
        self.resizer: PodResizer | None = None
        self.standby = False
        #: The external metrics API: "off" (not configured), "starting", "serving", "failed".
        self.metrics_api = "off" if options.metrics_api is None else "starting"
        #: Whether the admission webhook serves (listening, certificate loaded), and whether
        #: it stopped for good.
        self.webhook_gate = WebhookGate()
        self.webhook_failed = False
        self._watchdogs: dict[str, LoopWatchdog] = {}
        self._runners: list[web.AppRunner] = []
        #: ``(host, port)`` of the metrics and the health server once started (the ports
        #: really bound: 0 in the options picks a free one).
        self.addresses: list[tuple[str, int]] = []

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _decisions(self, request: web.Request) -> web.Response:
        if self.controller is None:
            return web.json_response({"objects": []})
        return web.json_response(
            self.controller.decisions.to_json(
                request.query.get("namespace"), request.query.get("name")
            )
        )

    async def _nodes(self, request: web.Request) -> web.Response:
        """The node autoscaler's last pass: why each node stays or goes, what became of
        each pending pod (what ``podscaler explain node/NAME --endpoint`` reads)."""
        if self.nodes is None:
            return web.json_response({"error": "the node autoscaler does not run here"}, status=404)
        return web.json_response(
            {
                "passes": self.nodes.passes,
                "nodes": self.nodes.explanation["nodes"],
                "pods": self.nodes.explanation["pods"],
            }
        )

    def _watchdog(self, name: str, limit_seconds: float) -> LoopWatchdog:
        dog = self._watchdogs.get(name)
        if dog is None or dog.limit_seconds != limit_seconds:
            dog = self._watchdogs[name] = LoopWatchdog(name, limit_seconds)
        return dog

    def not_live(self) -> list[str]:
        """Why the process should be restarted: a poll loop that has work and does not move."""
        now = asyncio.get_running_loop().time()
        problems = []
        for name, controller in (
            ("ScaledObject poll loop", self.controller),
            ("ScaledJob poll loop", self.jobs),
        ):
            if controller is None or not controller.synced:
                continue
            # Only objects this replica polls (under --shard the others are cached, not polled).
            polled = [controller.objects.get(key) for key in controller.loop.polled]
            intervals = [c.polling_interval_seconds for c in polled if c is not None]
            limit = max(60.0, 3 * max(intervals, default=0.0))
            # Polls finished (scheduled or woken): a loop with objects that finishes none is
            # stuck; one object stuck in its poll leaves the others counting.
            count = controller.loop.evaluations
            problems.append(self._watchdog(name, limit).check(now, count, has_work=bool(intervals)))
        if self.nodes is not None and self.nodes.synced:
            # Cluster Autoscaler's own rule: unhealthy after --max-inactivity without a pass.
            limit = self.nodes.options.max_inactivity_seconds
            dog = self._watchdog("node autoscaler loop", limit)
            problems.append(dog.check(now, self.nodes.passes, has_work=True))
        return [p for p in problems if p is not None]

    @property
    def admission_webhook(self) -> str:
        """The admission webhook: "off" (not configured), "starting", "serving", "failed"."""
        if self.options.admission_webhook is None:
            return "off"
        if self.webhook_gate.serving:
            return "serving"
        return "failed" if self.webhook_failed else "starting"

    def not_ready(self) -> list[str]:
        """Why the process should get no traffic yet."""
        problems = []
        if self.metrics_api in ("starting", "failed"):
            problems.append(f"metrics API {self.metrics_api}")
        if self.admission_webhook in ("starting", "failed"):
            problems.append(f"admission webhook {self.admission_webhook}")
        if self.standby:
            return problems
        parts: list[tuple[str, Any]] = [
            ("ScaledObject", self.controller),
            ("ScaledJob", self.jobs),
            ("ProportionalScaler", self.proportional),
            ("node autoscaler", self.nodes),
        ]
        if self.controller is None:
            problems.append("ScaledObject controller not started")
        problems += [
            f"{name} informers not synced" for name, c in parts if c is not None and not c.synced
        ]
        return problems

    def status(self) -> dict[str, Any]:
        """The ``/debug/status`` document (:mod:`podscaler.observability.status`)."""
        objects: dict[str, Any] = {}
        if self.controller is not None:
            objects["ScaledObject"] = condition_counts(
                "ScaledObject",
                (
                    (c.namespace, c.name, c.status or c.obj.get("status"))
                    for c in self.controller.objects.values()
                ),
            )
        if self.jobs is not None:
            objects["ScaledJob"] = condition_counts(
                "ScaledJob",
                (
                    (c.namespace, c.name, c.status or c.obj.get("status"))
                    for c in self.jobs.objects.values()
                ),
            )
        if self.proportional is not None:
            objects["ProportionalScaler"] = condition_counts(
                "ProportionalScaler",
                (
                    (*s.key, s.written_status or (s.obj or {}).get("status"))
                    for s in self.proportional.states.values()
                ),
            )
        vertical = None
        if self.vertical is not None:
            objects["VerticalScaler"], vertical = vertical_summary(self.vertical, self.resizer)
        not_live, not_ready = self.not_live(), self.not_ready()
        nodes = None
        if self.nodes is not None:
            nodes = {"passes": self.nodes.passes, "groups": self.nodes.group_summary()}
        return {
            "version": _version(),
            "role": "standby" if self.standby else "active",
            "health": {
                "live": not not_live,
                "ready": not not_ready,
                "problems": not_live + not_ready,
                "metricsApi": self.metrics_api,
                "admissionWebhook": self.admission_webhook,
            },
            "objects": objects,
            "lateness": lateness_summary(self.metrics.last_lateness()),
            "nodes": nodes,
            "vertical": vertical,
            "shard": self._shard_status(),
        }

    def _shard_status(self) -> dict[str, Any] | None:
        controller = self.controller
        if self.shard_view is None:
            return None
        return self.shard_view.summary(
            # every object this replica knows: those it owns and the dormant ones (no context)
            [f"{ns}/{name}" for ns, name in (controller.loop.keys() if controller else ())],
            polling=len(controller.loop.polled) if controller is not None else 0,
            forwarded=self.forwarding.forwarded if self.forwarding is not None else 0,
        )

    def rebalanced(self) -> tuple[int, int]:
        """The poll loop's objects released to and taken from other replicas so far."""
        loop = self.controller.loop if self.controller is not None else None
        return (loop.released, loop.taken) if loop is not None else (0, 0)

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(self.status())

    async def _shard(self, request: web.Request) -> web.Response:
        """This replica's view of the shard (``--shard``): the live members, whether it may
        own objects now, the ScaledObjects it polls, and the handovers it made."""
        membership, controller = self.membership, self.controller
        if membership is None:
            return web.json_response({"error": "this replica does not run --shard"}, status=404)
        loop = controller.loop if controller is not None else None
        owned = sorted(f"{ns}/{name}" for ns, name in (loop.polled if loop is not None else ()))
        return web.json_response(
            {
                "identity": membership.identity,
                "members": list(membership.members),
                "owning": membership.owning,
                "objects": controller.loop.size if controller is not None else 0,
                "owned": owned,
                "released": loop.released if loop is not None else 0,
                "taken": loop.taken if loop is not None else 0,
                "forwarded": self.forwarding.forwarded if self.forwarding is not None else 0,
            }
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        problems = self.not_live()
        if problems:
            return web.Response(status=503, text="\n".join(problems))
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        problems = self.not_ready()
        if problems:
            return web.Response(status=503, text="\n".join(problems))
        return web.Response(text="ok")

    async def start(self) -> None:
        local = self.options.debug_endpoints == "local"
        metrics_app = web.Application(middlewares=[loopback_only()] if local else [])
        metrics_app.router.add_get("/metrics", self._metrics)
        metrics_app.router.add_get("/debug/decisions", self._decisions)
        metrics_app.router.add_get("/debug/nodes", self._nodes)
        metrics_app.router.add_get("/debug/status", self._status)
        metrics_app.router.add_get("/debug/shard", self._shard)
        health_app = web.Application()
        health_app.router.add_get("/healthz", self._healthz)
        health_app.router.add_get("/readyz", self._readyz)
        host = self.options.bind_address
        for app, port, server in (
            (metrics_app, self.options.metrics_port, "metrics"),
            (health_app, self.options.health_port, "health"),
        ):
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            self._runners.append(runner)
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError as exc:
                await self.stop()
                raise ListenFailed(server, host, port, exc) from exc
            host_bound, port_bound = runner.addresses[0][:2]
            self.addresses.append((str(host_bound), int(port_bound)))

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()


async def _serve_admission_webhook(
    kube: Kube,
    options: WebhookOptions | None,
    servers: _Servers,
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


async def _serve_external_metrics(
    source: MetricsSource,
    kube: Kube,
    options: MetricsApiOptions | None,
    servers: _Servers,
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


async def settle_heap_periodically(
    first_after_seconds: float = 30.0,
    every_seconds: float = 3600.0,
    *,
    first_round_steps: int = 6,
) -> None:
    """Keep the cycle collector off the operator's long-lived heap.

    Why: at thousands of ScaledObjects the informer caches, scalers and per-object state are
    millions of small objects, and each full (generation 2) collection walks all of them: a
    pause of 0.2 to 0.5 s at 1,000 objects and over a second at 10,000, measured as scale loop
    lateness (bench/RESULTS.md, issue 4). Almost none of it is cyclic garbage, so it is frozen
    (``gc.freeze()``): later collections only look at what was allocated since; frozen objects
    are still freed by reference counting.

    When: at once (call this right after the informers synced: their caches are most of the
    heap), then *first_round_steps* times during the first round of polls, which builds every
    object's scalers and state (at 10,000 objects the collector otherwise ran a dozen full
    collections of up to 1.2 s each in that round), after a young-generation collection each
    time; then, once the first round is over (*first_after_seconds*, one polling interval), a
    full collection of what is not frozen, and a freeze; then the C heap's free pages go back
    to the OS (:mod:`podscaler.heap`).

    Cost: cyclic garbage that is reachable at the moment of freezing (in-flight requests) and
    dies later is not collected while frozen, so every *every_seconds* the heap is unfrozen,
    collected in full (one pause per hour by default) and frozen again. That period is real
    time as well as loop time: garbage comes with work done, not with simulated hours, and a
    simulated day (``podscaler demo``: a day in seconds) would otherwise pay 24 full
    collections.
    """
    gc.collect(1)
    gc.freeze()
    steps = max(first_round_steps, 0)
    step_seconds = first_after_seconds / (steps + 1)
    for _ in range(steps):
        await asyncio.sleep(step_seconds)
        gc.collect(1)
        gc.freeze()
    await asyncio.sleep(step_seconds)
    gc.collect()
    gc.freeze()
    release_free_memory()  # the listing and first-round peak, freed: back to the OS
    settled_at = _WALL.monotonic()
    while True:
        await asyncio.sleep(every_seconds)
        if _WALL.monotonic() - settled_at < every_seconds:
            continue
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        release_free_memory()
        settled_at = _WALL.monotonic()


def _forwarding(
    source: MetricsSource,
    membership: Membership,
    kube: Kube,
    api: MetricsApiOptions,
    shared_ca: asyncio.Future[SharedCaKeeper | None],
) -> ForwardingSource:
    """The metrics API's source under ``--shard``: owned objects from this replica, the
    others forwarded to their owner (:mod:`podscaler.metricsapi.forwarding`)."""

    def route(key: str) -> str | None:
        if membership.owns(key):
            return LOCAL
        owner = membership.owner_of(key)
        if owner is None:
            return None
        return LOCAL if owner.identity == membership.identity else owner.address or None

    def ca_pem() -> bytes:
        keeper = shared_ca.result() if shared_ca.done() else None
        if keeper is None and api.cert_dir is not None and (api.cert_dir / "ca.crt").exists():
            return (api.cert_dir / "ca.crt").read_bytes()
        return keeper.trust_bundle() if keeper is not None else b""

    return ForwardingSource(
        source,
        route=route,
        ca_pem=ca_pem,
        server_name=f"{api.service}.{api.namespace}.svc",
        credentials=kube.credentials,
    )


def shard_settings(options: RunOptions, identity: str) -> MembershipSettings:
    """The member Lease of ``--shard``: client-go's 15/10/2 ratios of the lease duration;
    the address others forward metric reads to."""
    duration = options.shard_lease_duration_seconds
    address = options.shard_address
    if not address and options.metrics_api is not None:
        host = os.environ.get("POD_IP") or options.metrics_api.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        address = f"{host}:{options.metrics_api.port}"
    return MembershipSettings(
        namespace=options.operator_namespace,
        identity=identity,
        address=address,
        lease_duration_seconds=duration,
        renew_deadline_seconds=duration * 2 / 3,
        retry_period_seconds=duration * 2 / 15,
    )


async def run_operator(
    options: RunOptions,
    stop: asyncio.Event | None = None,
    *,
    on_serving: Callable[[str], None] | None = None,
) -> None:
    """Run until *stop* is set (or SIGTERM/SIGINT arrives), then shut down gracefully.

    *on_serving* is called with the metrics server's URL (what ``podscaler explain
    --endpoint`` takes) once it listens. A configuration that cannot work fails before
    anything runs: :func:`~podscaler.kube.clients.connect`'s errors, and
    :class:`ListenFailed` for a port that cannot be listened on."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    now = clock_of(loop).now
    identity = options.identity or f"{socket.gethostname()}-{os.getpid()}"
    metrics = OperatorMetrics()
    kube = await connect(
        kubeconfig=options.cluster.kubeconfig,
        server=options.cluster.server,
        context=options.cluster.context,
        watch_timeout_seconds=options.cluster.watch_timeout_seconds,
    )
    kube.user_agent = f"podscaler/{identity}"
    servers = _Servers(options, metrics)
    servers.resizer = PodResizer(kube, now)
    try:
        await servers.start()
    except BaseException:
        await kube.close()
        raise
    metrics_host, metrics_port = servers.addresses[0]
    health_host, health_port = servers.addresses[1]
    log.info(
        "serving /metrics and /debug/decisions on %s, /healthz and /readyz on %s; API server %s",
        _http(metrics_host, metrics_port),
        _http(health_host, health_port),
        kube.host,
    )
    if on_serving is not None:
        on_serving(_http(metrics_host, metrics_port))
    recorder = EventRecorder(kube, now=now, reporting_instance=identity)
    settings = Settings(
        dry_run=options.dry_run,
        operator_namespace=options.operator_namespace,
        trigger_timeout_seconds=options.trigger_timeout_seconds,
    )

    source = ControllerMetricsSource(now=now)
    membership: Membership | None = None
    lease_kube: Kube | None = None
    if options.shard:
        # A connection of its own: renewals must not queue behind thousands of polls' requests
        # in the shared pool (a renewal that waits past the renew deadline fences the replica).
        lease_kube = await connect(
            kubeconfig=options.cluster.kubeconfig,
            server=options.cluster.server,
            context=options.cluster.context,
            pool_size=4,
        )
        lease_kube.user_agent = kube.user_agent
        membership = Membership(lease_kube, shard_settings(options, identity), now=now)
        servers.membership = membership
        servers.shard_view = ShardView(membership, servers.rebalanced, now)

    async def singletons() -> None:
        """ScaledJobs (they create Jobs), VerticalScalers and ProportionalScalers: work that one
        replica does."""
        jobs = None
        refresher = None
        if not options.dry_run:  # ScaledJobs create Jobs: nothing of theirs under --dry-run.
            refresher = AuthRefresher(
                kube, namespace=options.namespace, period_seconds=options.auth_refresh_seconds
            )
            jobs = ScaledJobController(
                kube,
                namespace=options.namespace,
                now=now,
                settings=JobSettings(
                    trigger_timeout_seconds=options.trigger_timeout_seconds,
                    operator_namespace=options.operator_namespace,
                ),
                recorder=recorder,
                metrics=metrics,
            )
            jobs.refresher = refresher
            servers.jobs = jobs
            await refresher.start()
            await jobs.start()
        proportional: ProportionalController | None = None
        vertical: VerticalControllers | None = None
        sharded: VerticalControllers | None = None
        try:
            if options.shard:  # the recommender runs sharded on every replica: see control()
                sharded = await sharded_vertical
                if sharded is not None and options.vertical_settings.updater:
                    await attach_updater(
                        sharded,
                        admission=webhook_gate if options.admission_webhook is not None else None,
                        resizer=servers.resizer,
                    )
            vertical = (
                None
                if options.shard
                else await start_vertical_controllers(
                    kube,
                    namespace=options.namespace,
                    now=now,
                    recorder=recorder,
                    enabled=options.vertical,
                    settings=options.vertical_settings,
                    admission=webhook_gate if options.admission_webhook is not None else None,
                    resizer=servers.resizer,
                    registry=metrics.registry,
                )
            )
            if vertical is not None:
                servers.vertical = vertical
                # the webhook answers from the recommender's memory, not the API server
                webhook_gate.recommender = vertical.recommender
            proportional = await start_proportional_controller(
                kube,
                namespace=options.namespace,
                now=now,
                recorder=recorder,
                enabled=options.proportional,
                settings=ProportionalSettings(
                    dry_run=options.dry_run,
                    resync_seconds=options.proportional_resync_seconds,
                    flags=options.cpa_flags,
                ),
                metrics=proportional_metrics,
            )
            servers.proportional = proportional
            await asyncio.Event().wait()
        finally:
            servers.jobs = servers.proportional = None
            if vertical is not None:
                servers.vertical = None
                webhook_gate.recommender = None
            if sharded is not None:
                await detach_updater(sharded)
            if vertical is not None:
                await vertical.aclose()
            if proportional is not None:
                await proportional.aclose()
            if jobs is not None:
                await jobs.aclose()
            if refresher is not None:
                await refresher.aclose()

    #: Ready while this process serves the admission webhook (the updater may evict).
    webhook_gate = servers.webhook_gate
    #: Under --shard: this replica's VerticalScaler recommender (None: not run), for the
    #: updater, which runs under the singletons' Lease beside it.
    sharded_vertical: asyncio.Future[VerticalControllers | None] = loop.create_future()

    async def control() -> None:
        controller = ScaledObjectController(
            kube,
            namespace=options.namespace,
            now=now,
            settings=settings,
            metrics=metrics,
            recorder=recorder,
            rng=random.Random(options.seed),
            owns=membership.owns if membership is not None else None,
            label_selector=options.shard_selector,
        )
        refresher = AuthRefresher(
            kube, namespace=options.namespace, period_seconds=options.auth_refresh_seconds
        )
        controller.evaluator.refresher = refresher
        servers.controller = controller
        servers.standby = False
        source.controller = controller
        if membership is not None:
            membership.on_change.append(controller.rebalance)
        await refresher.start()
        await controller.start()
        recommender: VerticalControllers | None = None
        if membership is not None:  # VerticalScalers are sharded like ScaledObjects
            recommender = await start_vertical_controllers(
                kube,
                namespace=options.namespace,
                now=now,
                recorder=recorder,
                enabled=options.vertical,
                settings=replace(options.vertical_settings, updater=False),
                registry=metrics.registry,
                owns=membership.owns,
            )
            if not sharded_vertical.done():
                sharded_vertical.set_result(recommender)
            if recommender is not None:
                servers.vertical = recommender
                # every replica's webhook answers from its recommender's memory: it resolves
                # every scaler, and the recommendations are the statuses any owner wrote
                webhook_gate.recommender = recommender.recommender
        # Without --shard the singletons run beside the controller, in this replica.
        local = None if options.shard else loop.create_task(singletons(), name="singletons")
        try:
            await controller.wait_synced()
            log.info(
                "ScaledObject controller synced: %d objects (namespace: %s%s%s)",
                controller.loop.size,
                options.namespace or "all",
                ", dry run" if options.dry_run else "",
                f", selector {options.shard_selector}" if options.shard_selector else "",
            )
            first_round = max(
                (c.polling_interval_seconds for c in controller.objects.values()),
                default=DEFAULT_POLLING_INTERVAL_SECONDS,
            )
            settling = loop.create_task(
                settle_heap_periodically(min(first_round, 300.0)), name="settle-heap"
            )
            try:
                if local is not None:
                    await local  # runs until cancelled; re-raises if it failed
                await asyncio.Event().wait()
            finally:
                settling.cancel()
        finally:
            source.controller = None
            servers.controller = None
            if membership is not None:
                membership.on_change.remove(controller.rebalance)
            if local is not None:
                local.cancel()
                await asyncio.gather(local, return_exceptions=True)
            if recommender is not None:
                servers.vertical = webhook_gate.recommender = None
                await recommender.aclose()
            await controller.aclose()
            await refresher.aclose()

    async def autoscale_nodes() -> None:
        assert options.nodes is not None
        try:
            provider = await start_provider(options.nodes, lambda: now().timestamp())
        except Exception as exc:
            log.error("the node autoscaler cannot start: %s", exc)
            return
        autoscaler = NodeAutoscaler(
            kube,
            provider,
            now=now,
            settings=NodeAutoscalerSettings(
                options=options.nodes.options,
                namespace=options.operator_namespace,
                dry_run=options.dry_run,
                seed=options.nodes.seed,
            ),
            recorder=recorder,
            metrics=node_metrics,
        )
        await autoscaler.start()
        servers.nodes = autoscaler
        try:
            await asyncio.Event().wait()
        finally:
            servers.nodes = None
            await autoscaler.aclose()

    node_metrics = NodeAutoscalerMetrics(metrics.registry) if options.nodes else None
    proportional_metrics = ProportionalMetrics(metrics.registry)
    node_work: asyncio.Task[None] | None = None
    elect_singletons = options.leader_elect or options.shard
    if options.nodes is not None and elect_singletons:
        node_elector = LeaderElector(
            kube,
            namespace=options.operator_namespace,
            name="podscaler-node-autoscaler",
            identity=identity,
            now=now,
        )
        node_work = loop.create_task(node_elector.run(autoscale_nodes), name="node-autoscaler")
    elif options.nodes is not None:
        node_work = loop.create_task(autoscale_nodes(), name="node-autoscaler")

    #: Who steps the shared serving CA's rotation: the Lease holder (any replica otherwise).
    lease_holder: LeaderElector | None = None
    if options.leader_elect:
        servers.standby = True
        elector = lease_holder = LeaderElector(
            kube,
            namespace=options.operator_namespace,
            name="podscaler-scaledobjects",
            identity=identity,
            now=now,
        )
        work = loop.create_task(elector.run(control), name="leader-election")
    else:
        work = loop.create_task(control(), name="scaledobject-controller")
    shard_tasks: list[asyncio.Task[None]] = []
    if membership is not None:
        singleton_elector = lease_holder = LeaderElector(
            lease_kube or kube,
            namespace=options.operator_namespace,
            name="podscaler-singletons",
            identity=identity,
            now=now,
        )
        shard_tasks = [
            loop.create_task(membership.run(), name="shard-membership"),
            loop.create_task(singleton_elector.run(singletons), name="singletons"),
        ]
    stopper = loop.create_task(stop.wait(), name="stop")

    def ca_leader() -> bool:
        return lease_holder is None or lease_holder.is_leader

    api_source: MetricsSource = source
    forwarding: ForwardingSource | None = None
    shared_ca: asyncio.Future[SharedCaKeeper | None] = loop.create_future()
    if membership is not None and options.metrics_api is not None:
        forwarding = api_source = _forwarding(
            source, membership, kube, options.metrics_api, shared_ca
        )
        servers.forwarding = forwarding
    serving = loop.create_task(
        _serve_external_metrics(
            api_source, kube, options.metrics_api, servers, shared_ca, leading=ca_leader
        ),
        name="metrics-api",
    )
    webhook = loop.create_task(
        _serve_admission_webhook(
            kube,
            options.admission_webhook,
            servers,
            shared_ca if options.metrics_api is not None else None,
        ),
        name="admission-webhook",
    )
    try:
        await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        log.info("shutting down")
        tasks = [work, stopper, serving, webhook, *shard_tasks]
        tasks += [node_work] if node_work is not None else []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if membership is not None:
            await membership.leave()  # after the work stopped: the others take over at once
        if node_work is not None and not node_work.cancelled() and node_work.exception():
            log.error("node autoscaler stopped: %s", node_work.exception())
        if work.done() and not work.cancelled() and work.exception() is not None:
            log.error("controller stopped: %s", work.exception())
        if forwarding is not None:
            await forwarding.aclose()
        await recorder.aclose()
        await servers.stop()
        if lease_kube is not None:
            await lease_kube.close()
        await kube.close()
