"""The operator's plain HTTP endpoints: ``/metrics`` and ``/debug/*`` on the metrics port,
``/healthz`` and ``/readyz`` on the health port, and what they report."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from podscaler.controllers.nodes import NodeAutoscaler
from podscaler.controllers.proportional import (
    ProportionalController,
)
from podscaler.controllers.scaledjob import ScaledJobController
from podscaler.controllers.scaledobject import ScaledObjectController
from podscaler.controllers.sharding import Membership
from podscaler.controllers.sharding.status import ShardView
from podscaler.controllers.vertical import (
    VerticalControllers,
)
from podscaler.controllers.vertical.admission import (
    WebhookGate,
)
from podscaler.controllers.vertical.resize import PodResizer
from podscaler.controllers.vertical.summary import vertical_summary
from podscaler.manager.options import RunOptions, version
from podscaler.metricsapi.forwarding import ForwardingSource
from podscaler.observability.metrics import CONTENT_TYPE_LATEST, OperatorMetrics
from podscaler.observability.status import (
    LoopWatchdog,
    condition_counts,
    lateness_summary,
)
from podscaler.serving.loopback import loopback_only

log = logging.getLogger("podscaler.manager")


class ListenFailed(Exception):
    """One of the operator's HTTP servers could not listen (a port in use, a bad address);
    ``server`` is ``metrics`` or ``health``."""

    def __init__(self, server: str, host: str, port: int, cause: OSError) -> None:
        super().__init__(f"the {server} server cannot listen on {host}:{port}: {cause}")
        self.server = server
        self.host = host
        self.port = port
        self.cause = cause


def http_url(host: str, port: int) -> str:
    """A URL a person can paste: a wildcard bind address is reached as localhost."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class Servers:
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
        """Why the process should get no traffic (the Service in front of the replicas'
        metrics API and webhook then sends it to the others)."""
        problems = []
        if self.metrics_api in ("starting", "failed"):
            problems.append(f"metrics API {self.metrics_api}")
        if self.admission_webhook in ("starting", "failed"):
            problems.append(f"admission webhook {self.admission_webhook}")
        if (fenced := self._fenced_too_long()) is not None:
            problems.append(fenced)
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

    def _fenced_too_long(self) -> str | None:
        """Under ``--shard``: a replica fenced for longer than a lease duration is not ready.

        Why that and no more: a replica that owns nothing still answers the metrics API (it
        forwards reads to the owners) and the webhook (from the VerticalScalers' status), like
        KEDA's and controller-runtime's non-leaders, which are ready; so is a replica waiting
        out a join. A fence of a few seconds (a busy node, a slow renewal) is common under
        load and ends by itself: readiness that followed it would flap and move traffic onto
        the replicas that are just as busy. Fenced for longer than a lease, its renewals have
        failed for that long (most likely its API server does not answer it): its informers,
        the statuses it answers from and the owners it forwards to are stale (the others have
        taken its objects by then), so the Service should send its requests to the others.
        """
        membership = self.membership
        if membership is None:
            return None
        fenced = membership.fenced_seconds()
        if fenced <= membership.settings.lease_duration_seconds:
            return None
        return (
            f"shard member fenced for {fenced:.0f} s (its Lease renewals fail; "
            "what it answers is stale)"
        )

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
            "version": version(),
            "role": "standby" if self.standby else "active",
            "health": {
                "live": not not_live,
                "ready": not not_ready,
                "problems": not_live + not_ready,
                "metricsApi": self.metrics_api,
                "admissionWebhook": self.admission_webhook,
                # --shard: starting, fenced, joining or owning (None without --shard)
                "shardMember": self.membership.state if self.membership is not None else None,
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
