"""``podscaler run``'s wiring: the controllers, the servers and the Leases of one operator
process, started and stopped together (what runs is listed in :mod:`podscaler.manager`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
from collections.abc import Callable
from dataclasses import replace

from podscaler.api.externalmetrics import MetricsSource
from podscaler.api.triggers import DEFAULT_POLLING_INTERVAL_SECONDS
from podscaler.clock import clock_of
from podscaler.controllers.nodes import NodeAutoscaler, NodeAutoscalerSettings
from podscaler.controllers.nodes.settings import start_provider
from podscaler.controllers.proportional import (
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
    start_vertical_controllers,
)
from podscaler.controllers.vertical.resize import PodResizer
from podscaler.controllers.vertical.running import attach_updater, detach_updater
from podscaler.heap import settle_heap_periodically
from podscaler.kube.clients import Kube, connect
from podscaler.kube.events import EventRecorder
from podscaler.kube.leases import LeaderElector
from podscaler.manager.endpoints import Servers, http_url
from podscaler.manager.options import RunOptions
from podscaler.manager.servers import serve_metrics, serve_webhook
from podscaler.metricsapi.carotation import SharedCaKeeper
from podscaler.metricsapi.forwarding import LOCAL, ForwardingSource
from podscaler.metricsapi.server import MetricsApiOptions
from podscaler.observability.metrics import OperatorMetrics
from podscaler.observability.nodemetrics import NodeAutoscalerMetrics
from podscaler.observability.proportionalmetrics import ProportionalMetrics

log = logging.getLogger("podscaler.manager")


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
    servers = Servers(options, metrics)
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
        http_url(metrics_host, metrics_port),
        http_url(health_host, health_port),
        kube.host,
    )
    if on_serving is not None:
        on_serving(http_url(metrics_host, metrics_port))
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
            held=membership.fenced if membership is not None else None,
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
        serve_metrics(api_source, kube, options.metrics_api, servers, shared_ca, leading=ca_leader),
        name="metrics-api",
    )
    webhook = loop.create_task(
        serve_webhook(
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
