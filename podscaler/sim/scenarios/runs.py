"""Running a scenario: the API server, the world and (optionally) the operator, in one loop.

:func:`run_scenario` runs a :class:`~podscaler.sim.scenarios.scenario.Scenario` inside the current
(normally simulated) event loop, all parts sharing the loop's clock. The operator is reached
through the :data:`OperatorRunner` seam — an async callable given the API server's URL, a
kubeconfig path and the clock, which runs until cancelled — so the demo and ``simulate`` can start
``podscaler run``'s controller in-process (``podscaler.commands.simulating.embedded_operator``:
the operator is a higher layer than ``sim``, so the seam is filled from above), and a test can
start anything else that speaks to a Kubernetes API.

Node groups that are ASGs (``cloud: aws``) live on a moto server started here, behind an
:class:`~podscaler.nodes.providers.aws_front.AwsFront` (which records the requests and
injects launch failures); the world turns their instances into Nodes
(:mod:`podscaler.sim.world.asgs`), and an in-process node autoscaler gets the front's address
(``OperatorContext.aws``). Launch failures of simulated groups go through the simulated
cloud.

SQS queues need an endpoint: ``PODSCALER_SQS_ENDPOINT``, a queue's ``endpoint``, or else a moto
server started here on a free localhost port and stopped at the end. Kafka queues likewise need
a broker: ``PODSCALER_KAFKA_BOOTSTRAP``, a queue's ``endpoint``, or else a Tansu broker started
here (:mod:`podscaler.sim.world.brokers`) and stopped at the end; each becomes a topic of its
name with its partitions, and a consumer group that starts committed at the topic's beginning
(a consumer that has run before and was scaled to zero). Object manifests may say
``${sqs.endpoint}``, ``${queues.NAME.url}``, ``${kafka.bootstrapServers}``,
``${queues.NAME.topic}``, ``${queues.NAME.consumerGroup}`` and, with ``appMetrics``,
``${appMetrics.url}`` (the world's Prometheus query API); they are substituted before applying.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr

from podscaler.clock import Clock, WallClock
from podscaler.nodes import NodeAutoscalerOptions
from podscaler.nodes.providers.aws import AwsSettings
from podscaler.nodes.providers.aws_front import AwsFront
from podscaler.nodes.providers.base import NodeGroup
from podscaler.sim.clock import SimulatedEventLoop
from podscaler.sim.scenarios.assertions import AssertionResult
from podscaler.sim.scenarios.forecasts import ForecastSamples, sample_forecasts
from podscaler.sim.scenarios.hpas import install_metrics_api, needs_hpa_controller, pick_port
from podscaler.sim.scenarios.nodegroups import LaunchWindow
from podscaler.sim.scenarios.scenario import (
    Scenario,
    ScenarioError,
    WorkloadChange,
    WorkloadSpec,
    importable,
)
from podscaler.sim.world.appmetrics import AppMetricsServer
from podscaler.sim.world.brokers import BOOTSTRAP_ENV, BrokerError, running_tansu
from podscaler.sim.world.capacity import per_pod_capacity
from podscaler.sim.world.hpa import HpaController
from podscaler.sim.world.kafka_consumers import KafkaTopic
from podscaler.sim.world.profiles import Profiles
from podscaler.sim.world.queues import InMemoryQueue, QueueBackend, QueueHub, SqsQueue
from podscaler.sim.world.timeline import Timeline
from podscaler.sim.world.world import World

__all__ = ["OperatorContext", "OperatorRunner", "RunResult", "run_scenario"]

#: Credentials moto accepts (it checks none); never real ones.
MOTO_ACCESS_KEY_ID = "AKIAPODSCALERSIMULATION"
MOTO_SECRET = "podscaler-simulation-secret"

#: (namespace, name) of the Service the MutatingWebhookConfiguration of a scenario with the
#: ``admission-webhook`` feature names (``manifests/components/vertical-webhook``'s).
WEBHOOK_SERVICE: Final = ("podscaler", "podscaler-webhook")

#: For waits on child processes (moto starting) and the run's real duration.
_WALL = WallClock()


# --------------------------------------------------------------------------- the operator seam


@dataclass(frozen=True)
class OperatorContext:
    """What an in-process operator gets: where the API server is, and the shared clock."""

    url: str
    kubeconfig_path: Path
    clock: Clock
    namespace: str | None = None
    #: the simulated cloud's node groups, for a node autoscaler run in-process
    node_groups: Sequence[NodeGroup] = ()
    #: the scenario's ``nodeAutoscaler:`` options; None when the scenario runs none
    node_autoscaler: NodeAutoscalerOptions | None = None
    #: where the scenario's ASGs are (the AwsFront before moto), when it has some
    aws: AwsSettings | None = None
    #: the scenario's seed (the random expander's, and the operator's own random choices: a
    #: run replays exactly)
    seed: int = 0
    #: where to serve the external metrics API (127.0.0.1), when an HPA reads it; else None
    metrics_api_port: int | None = None
    #: hears the operator's metrics URL once it serves (the run reads forecasts there)
    on_serving: Callable[[str], None] | None = None
    #: where to serve the VerticalScaler admission webhook (127.0.0.1), when the scenario has
    #: the ``admission-webhook`` feature: the API server reaches it as the Service
    #: :data:`WEBHOOK_SERVICE`; else None
    admission_webhook_port: int | None = None


#: An operator started with the run and cancelled at its end.
OperatorRunner = Callable[[OperatorContext], Awaitable[None]]


# --------------------------------------------------------------------------- running


@dataclass
class RunResult:
    scenario: Scenario
    timeline: Timeline
    results: list[AssertionResult]
    operator_ran: bool
    wall_seconds: float
    end_seconds: float
    writes: int
    node_hours_by_group: dict[str, float] = field(default_factory=dict)
    cost: float = 0.0
    #: what the operator's predictive triggers forecast, sampled during the run
    forecasts: ForecastSamples = field(default_factory=ForecastSamples)

    @property
    def passed(self) -> bool:
        return all(r.ok for r in self.results)


@contextlib.contextmanager
def _sqs_endpoint(scenario: Scenario) -> Iterator[str | None]:
    """An SQS endpoint for the scenario's queues: the configured one, or a moto server we
    start (and stop) ourselves on a free localhost port."""
    configured = os.environ.get("PODSCALER_SQS_ENDPOINT") or next(
        (q.endpoint for q in scenario.queues if q.type == "sqs" and q.endpoint), None
    )
    if configured or not any(q.type == "sqs" for q in scenario.queues):
        yield configured
        return
    with _moto("queues: SQS") as url:
        yield url


def _warm_up(url: str) -> None:
    """Load moto's Auto Scaling and EC2 backends now, in real time: moto imports a backend on
    its first request (seconds), and the simulated clock stops waiting for an answer after
    ``reply_patience_seconds`` — a first request inside the simulation would time out in
    simulated time and be sent again."""
    for service, action, version in (
        ("autoscaling", "DescribeAutoScalingGroups", "2011-01-01"),
        ("ec2", "DescribeLaunchTemplates", "2016-11-15"),
        ("ec2", "DescribeInstanceTypes", "2016-11-15"),
    ):
        request = urllib.request.Request(
            url + "/",
            data=f"Action={action}&Version={version}".encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": "AWS4-HMAC-SHA256 Credential=warm/20260101/us-east-1/"
                f"{service}/aws4_request, SignedHeaders=host, Signature=0",
            },
        )
        with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=60):
            pass


@contextlib.contextmanager
def _moto(what: str, *, warm: bool = False) -> Iterator[str]:
    """A moto server on a free localhost port, stopped at the end; ``warm`` loads its Auto
    Scaling and EC2 backends first."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    binary = shutil.which("moto_server")
    if binary is None:
        raise ScenarioError(f"{what} needs moto_server (pip install 'moto[server]')")
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = _WALL.monotonic() + 15.0
        while True:
            try:  # moto answers its own API once its app is up, not when the port opens
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=0.5):
                    break
            except OSError:
                if _WALL.monotonic() > deadline or process.poll() is not None:
                    raise ScenarioError("moto_server did not start") from None
                time.sleep(0.05)
        if warm:
            _warm_up(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _kafka_bootstrap(scenario: Scenario) -> Iterator[str | None]:
    """Bootstrap servers for the scenario's Kafka queues without an ``endpoint`` of their own:
    ``PODSCALER_KAFKA_BOOTSTRAP``, or a Tansu broker we start (and stop) ourselves."""
    configured = os.environ.get(BOOTSTRAP_ENV)
    if configured or not any(q.type == "kafka" and not q.endpoint for q in scenario.queues):
        yield configured
        return
    try:
        with running_tansu() as broker:
            yield broker.bootstrap
    except BrokerError as exc:
        raise ScenarioError(f"queues: Kafka needs a broker: {exc}") from exc


def _take_signals() -> None:
    """Make SIGINT and SIGTERM cancel the run.

    An operator run in-process (``podscaler run``'s loop) installs handlers that stop only
    itself; the world would then go on without it. Installed after it, these win.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is None:
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, task.cancel)


def _substitute(obj: Any, values: Mapping[str, str]) -> Any:
    """``${sqs.endpoint}``, ``${queues.NAME.url}`` in object manifests."""
    if isinstance(obj, str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), m.group(0)), obj)
    if isinstance(obj, list):
        return [_substitute(item, values) for item in obj]
    if isinstance(obj, dict):
        return {key: _substitute(value, values) for key, value in obj.items()}
    return obj


def _resizer(world: World, group: str, size: int) -> Callable[[], None]:
    """A timer callback setting *group*'s target size, as someone resizing the ASG would."""

    def resize() -> None:
        world.timeline.note(world.seconds(), "nodes", "", f"node group {group} resized to {size}")
        world.cloud.groups[group].set_target_size(size)

    return resize


def _observing(
    app_metrics: AppMetricsServer, then: Callable[[World], None] | None
) -> Callable[[World], None]:
    """An ``on_tick`` that records the app metrics, then calls ``then``."""

    def tick(world: World) -> None:
        app_metrics.observe()
        if then is not None:
            then(world)

    return tick


#: Background requests to the front (ending a shortage) until they finish.
_pending: set[asyncio.Future[None]] = set()


def _launch_failure(world: World, front: AwsFront | None, window: LaunchWindow, on: bool) -> Any:
    """A timer callback starting (``on``) or ending a group's launch failures."""

    def start_or_end() -> None:
        state = "fail" if on else "launch again"
        world.timeline.note(
            world.seconds(), "nodes", "", f"node group {window.group}: launches {state}"
        )
        if window.group in world.cloud.groups:
            if on:
                world.cloud.fail_launches(window.group, window.code)
            else:
                world.cloud.restore_launches(window.group)
        elif front is not None:
            if on:
                front.shortage(window.group, window.code)
            else:
                ending = asyncio.ensure_future(front.end_shortage(window.group))
                _pending.add(ending)
                ending.add_done_callback(_pending.discard)

    return start_or_end


@contextlib.contextmanager
def _real_time() -> Iterator[None]:
    """Let simulated time flow at the real pace meanwhile: setting up ASGs is a burst of moto
    calls answered in real time, and a slow first answer (moto loading a backend on a loaded
    machine) must not let an unlimited simulated clock jump to the request's timeout."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, SimulatedEventLoop):
        yield
        return
    previous = loop.speed
    loop.set_speed(1.0)
    try:
        yield
    finally:
        loop.set_speed(previous)


#: How long (real seconds) the simulated clock waits for one answer from moto before it moves
#: on. The loop's default (2 s) suits servers that answer in milliseconds; moto on a loaded
#: machine has been seen to take longer, and a jump then fires the AWS client's read timeout
#: in simulated time.
MOTO_PATIENCE_SECONDS = 60.0


@contextlib.contextmanager
def _patient_with_moto() -> Iterator[None]:
    """While ASGs on moto are in the run, wait for moto's answers however slow they are."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, SimulatedEventLoop):
        yield
        return
    previous = loop.reply_patience_seconds
    loop.reply_patience_seconds = max(previous, MOTO_PATIENCE_SECONDS)
    try:
        yield
    finally:
        loop.reply_patience_seconds = previous


async def _start_asgs(
    world: World, scenario: Scenario, moto_url: str, clock: Clock, stack: contextlib.AsyncExitStack
) -> AwsSettings:
    """Create the scenario's ASGs in moto, start the world's side of them, and return where
    the node autoscaler reaches them (an :class:`AwsFront` before moto)."""
    from podscaler.nodes.providers.aws import AwsCloud
    from podscaler.nodes.providers.aws_world import InstanceNodes
    from podscaler.sim.world.asgs import AsgSync, create_asgs

    regions = {asg.zone[:-1] for asg in scenario.asgs}
    if len(regions) != 1:
        raise ScenarioError(f"nodeGroups: ASGs must share one region, not {sorted(regions)}")
    region = regions.pop()
    direct = AwsSettings(
        region=region,
        endpoint_url=moto_url,
        access_key_id=MOTO_ACCESS_KEY_ID,
        secret_access_key=SecretStr(MOTO_SECRET),
    )
    with _real_time():
        await create_asgs(direct, scenario.asgs, _cluster_name(scenario))
    unix = lambda: clock.now().timestamp()  # noqa: E731 - AWS stamps activities in Unix time
    front = AwsFront(moto_url, clock=unix)
    await front.start()
    stack.push_async_callback(front.close)
    world.front = front
    book = InstanceNodes(
        region=region,
        boot_seconds=60.0,
        boot_seconds_by_group={
            a.name: (a.boot_seconds if a.registers else None) for a in scenario.asgs
        },
    )
    cloud = AwsCloud(direct, clock=unix)
    await cloud.start()
    world.asgs = AsgSync(world.ctx, cloud, book, wake=world.wake)
    world.group_names.update(a.name for a in scenario.asgs)
    with _real_time():
        await world.asgs.seed()
    world.asgs.start()
    return AwsSettings(
        region=region,
        endpoint_url=front.url,
        access_key_id=MOTO_ACCESS_KEY_ID,
        secret_access_key=SecretStr(MOTO_SECRET),
    )


def _has_predictive_trigger(scenario: Scenario) -> bool:
    return any(
        isinstance(trigger, Mapping) and trigger.get("type") == "predictive"
        for obj in scenario.objects
        if obj.get("kind") == "ScaledObject"
        for trigger in (obj.get("spec") or {}).get("triggers") or ()
    )


def _cluster_name(scenario: Scenario) -> str:
    return re.sub(r"[^a-z0-9-]", "-", scenario.name.lower()) or "scenario"


def _node_autoscaler_options(scenario: Scenario) -> NodeAutoscalerOptions:
    """The scenario's options; ASGs are auto-discovered by the tags the run gave them unless
    the scenario names its groups."""
    options = scenario.node_autoscaler or NodeAutoscalerOptions()
    if scenario.asgs and not (options.nodes or options.node_group_auto_discovery):
        cluster = _cluster_name(scenario)
        spec = f"asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{cluster}"
        options = options.with_changes(node_group_auto_discovery=(spec,))
    return options


def _changer(world: World, workload: WorkloadSpec, change: WorkloadChange) -> Callable[[], None]:
    """A timer callback scaling or deleting a workload, as someone with kubectl would."""

    def apply() -> None:
        kinds = world.ctx.kinds
        rt = {"Deployment": kinds.deployments, "StatefulSet": kinds.statefulsets}.get(
            workload.kind, kinds.jobs
        )
        found = world.server.store.find(rt, workload.namespace, workload.name)
        if found is None:
            return
        if change.replicas is None:
            world.timeline.note(
                world.seconds(), "nodes", workload.name, f"{workload.kind} {workload.name} deleted"
            )
            world.ctx.writer.delete(rt, workload.namespace, workload.name)
            return
        current = found.copy()
        current["spec"]["replicas"] = change.replicas
        world.ctx.writer.replace(rt, current)

    return apply


def _apply(world: World, manifest: dict[str, Any]) -> None:
    """Create one manifest through the world's writer (the HTTP write path)."""
    server = world.server
    api_version = str(manifest.get("apiVersion", ""))
    group = api_version.rpartition("/")[0]
    kind = str(manifest.get("kind"))
    rt = server.table.by_kind(group, kind)
    if rt is None:
        raise ScenarioError(f"objects: the API server does not serve {kind} in {api_version}")
    namespace = str(
        (manifest.get("metadata") or {}).get("namespace") or ("default" if rt.namespaced else "")
    )
    world.ctx.writer.create(rt, manifest, namespace if rt.namespaced else "")


def _restarting(
    operator: OperatorRunner, world: World, at_seconds: Sequence[float]
) -> OperatorRunner:
    """*operator*, stopped (cancelled, as SIGTERM stops ``podscaler run``) and started afresh
    at each of *at_seconds* of the run; the timeline notes each restart."""

    async def run(context: OperatorContext) -> None:
        loop = asyncio.get_running_loop()
        for at in at_seconds:
            task = asyncio.ensure_future(operator(context))
            done, _ = await asyncio.wait(
                {task}, timeout=max(0.0, world.origin_seconds + at - loop.time())
            )
            if task in done:
                task.result()  # it stopped on its own: the run says so
                return
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            world.timeline.note(world.seconds(), "operator", "", "operator restarted")
        await operator(context)

    return run


async def run_scenario(
    scenario: Scenario,
    *,
    clock: Clock,
    operator: OperatorRunner | None = None,
    on_tick: Callable[[World], None] | None = None,
    workdir: Path | None = None,
    keep: Callable[[World, RunResult], Awaitable[None]] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: bool = False,
    kubeconfig_path: Path | None = None,
) -> RunResult:
    """Run ``scenario`` in the running loop (normally a simulated one, see ``run_simulated``).

    ``operator`` is started once the cluster is set up and cancelled at the end. ``keep``,
    when given, is awaited after the run with the world still up and the run's result
    (``demo --serve`` prints its summary, then serves).
    """
    from podscaler.sim.apiserver.server import ApiServer

    started_wall = time.perf_counter()
    # ScaledObjects in mode hpa (and plain HPAs) need kube-controller-manager's HPA controller,
    # and their external metrics the aggregation layer in front of the operator's metrics API.
    hpas = needs_hpa_controller(scenario.objects)
    server = ApiServer(
        host=host,
        port=port,
        tls=tls,
        now=clock.now,
        install_crds=importable("podscaler.api.crds"),
        seed=scenario.seed,
        # Not the server's default of 5 s for tests: each bookmark is a wake-up, an HTTP chunk
        # and a decode per watch. kube-apiserver sends one about every minute of *real* time,
        # for clients that may reconnect; at thousands of times real time that minute is days
        # of simulated time, and every minute of simulated time (up to ~18,700 bookmarks in
        # the demo's day, more than all its requests) was the watch timeouts' mistake again (see
        # SIMULATED_WATCH_TIMEOUT_SECONDS). Hourly keeps versions fresh for the rare re-watch.
        bookmark_interval=3600.0,
        aggregation=hpas,
    )
    await server.start()
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="podscaler-scenario-")
        workdir = Path(tmp.name)
    kubeconfig_path = server.write_kubeconfig(kubeconfig_path or workdir / "kubeconfig")
    world: World | None = None
    app_metrics: AppMetricsServer | None = None
    operator_task: asyncio.Task[None] | None = None
    sampler_task: asyncio.Task[None] | None = None
    forecasts = ForecastSamples()
    hpa_controller: HpaController | None = None
    hub: QueueHub | None = None
    # Queue servers (moto, a Kafka broker) outlive everything that talks to them.
    brokers = contextlib.ExitStack()
    fronts = contextlib.AsyncExitStack()
    try:
        endpoint = brokers.enter_context(_sqs_endpoint(scenario))
        bootstrap = brokers.enter_context(_kafka_bootstrap(scenario))
        profiles = Profiles()
        for workload in scenario.workloads:
            profiles.set(workload.namespace, workload.name, workload.profile)
        hub = QueueHub()
        substitutions: dict[str, str] = {}
        if endpoint:
            substitutions["sqs.endpoint"] = endpoint
        if bootstrap:
            substitutions["kafka.bootstrapServers"] = bootstrap
        for queue in scenario.queues:
            backend: QueueBackend
            if queue.type == "sqs":
                assert endpoint is not None
                sqs = await SqsQueue.open(queue.name, queue.endpoint or endpoint)
                substitutions[f"queues.{queue.name}.url"] = sqs.url
                backend = sqs
            elif queue.type == "memory":
                backend = InMemoryQueue(queue.name)
            else:
                servers = queue.endpoint or bootstrap
                assert servers is not None
                topic = await KafkaTopic.open(
                    queue.name,
                    servers,
                    group=queue.group,
                    partitions=queue.partitions,
                    commit_start=True,
                    fetch_when_asked=True,
                )
                substitutions[f"queues.{queue.name}.topic"] = topic.topic
                substitutions[f"queues.{queue.name}.consumerGroup"] = topic.group
                substitutions[f"queues.{queue.name}.bootstrapServers"] = servers
                substitutions.setdefault("kafka.bootstrapServers", servers)
                backend = topic
            hub.add(backend, queue.production)
        world = World(
            server,
            profiles=profiles,
            queues=hub,
            tick_seconds=scenario.tick_seconds,
            node_ready_seconds=scenario.node_ready_seconds,
            seed=scenario.seed,
        )
        for group in scenario.node_groups:
            world.cloud.add_group(group)
        for workload in scenario.workloads:
            template = (workload.manifest.get("spec") or {}).get("template") or {}
            per_pod = per_pod_capacity(template, workload.profile.usage)
            if per_pod is not None:
                world.timeline.capacity_per_pod[workload.name] = per_pod
        for resize in scenario.resizes:
            world.ctx.timers.at(
                world.origin_seconds + resize.at_seconds, _resizer(world, resize.group, resize.size)
            )
        aws: AwsSettings | None = None
        if scenario.asgs:
            moto_url = brokers.enter_context(_moto("nodeGroups: cloud: aws", warm=True))
            brokers.enter_context(_patient_with_moto())
            aws = await _start_asgs(world, scenario, moto_url, clock, fronts)
        for window in scenario.launch_failures:
            world.ctx.timers.at(
                world.origin_seconds + window.start_seconds,
                _launch_failure(world, world.front, window, True),
            )
            if window.end_seconds is not None:
                world.ctx.timers.at(
                    world.origin_seconds + window.end_seconds,
                    _launch_failure(world, world.front, window, False),
                )
        namespaces_rt = world.ctx.kinds.namespaces
        for namespace in scenario.namespaces:
            if server.store.find(namespaces_rt, "", namespace) is None:
                world.ctx.writer.create(namespaces_rt, {"metadata": {"name": namespace}})
        world.start()
        world.step()  # the initial nodes register and turn Ready before workloads arrive
        if scenario.app_metrics:
            app_metrics = AppMetricsServer(world, now=clock.now)
            await app_metrics.start()
            substitutions["appMetrics.url"] = app_metrics.base_url
            if scenario.app_metrics_history_seconds:
                app_metrics.prefill(
                    scenario.app_metrics_history_seconds, scenario.app_metrics_history_step
                )
            on_tick = _observing(app_metrics, on_tick)
        metrics_api_port: int | None = None
        if hpas and operator is not None:
            metrics_api_port = pick_port()
            install_metrics_api(world, metrics_api_port)
        webhook_port: int | None = None
        if "admission-webhook" in scenario.features and operator is not None:
            webhook_port = pick_port()
            server.register_service_endpoint(*WEBHOOK_SERVICE, "127.0.0.1", webhook_port)
        for workload in scenario.workloads:
            _apply(world, _substitute(workload.manifest, substitutions))
        for obj in scenario.objects:
            _apply(world, _substitute(obj, substitutions))
        for workload in scenario.workloads:
            for change in workload.changes:
                world.ctx.timers.at(
                    world.origin_seconds + change.at_seconds, _changer(world, workload, change)
                )
        served: list[str] = []
        if operator is not None:
            context = OperatorContext(
                server.url,
                kubeconfig_path,
                clock,
                node_groups=list(world.cloud.groups.values()),
                node_autoscaler=(
                    _node_autoscaler_options(scenario)
                    if "node-autoscaler" in scenario.features
                    else None
                ),
                aws=aws,
                seed=scenario.seed,
                metrics_api_port=metrics_api_port,
                on_serving=served.append,
                admission_webhook_port=webhook_port,
            )
            if scenario.operator_restarts:
                operator = _restarting(operator, world, scenario.operator_restarts)
            operator_task = asyncio.ensure_future(operator(context))
            if _has_predictive_trigger(scenario):
                sampler_task = asyncio.ensure_future(
                    sample_forecasts(
                        lambda: served[-1] if served else None, world.seconds, forecasts
                    )
                )
            await asyncio.sleep(0)  # let it start (and install its signal handlers)
            _take_signals()
        if hpas:
            hpa_controller = await HpaController.connect_to(server)
            hpa_controller.start()
        await world.run(until_seconds=scenario.duration_seconds, on_tick=on_tick)
        if operator_task is not None and operator_task.done() and operator_task.exception():
            raise ScenarioError(f"the operator stopped: {operator_task.exception()!r}")
        end = world.seconds()
        results = [a.check(world.timeline, end) for a in scenario.assertions]
        node_groups = scenario.groups
        result = RunResult(
            scenario=scenario,
            timeline=world.timeline,
            results=results,
            operator_ran=operator is not None,
            wall_seconds=time.perf_counter() - started_wall,
            end_seconds=end,
            writes=world.ctx.writer.writes,
            forecasts=forecasts,
        )
        result.node_hours_by_group = {
            name: world.timeline.node_hours(name) for name in node_groups.names
        }
        result.cost = sum(
            hours * node_groups.price_per_hour(name)
            for name, hours in result.node_hours_by_group.items()
        )
        if keep is not None:
            await keep(world, result)
        return result
    finally:
        if sampler_task is not None:
            sampler_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sampler_task
        if hpa_controller is not None:
            await hpa_controller.aclose()
        if operator_task is not None:
            operator_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await operator_task
        if app_metrics is not None:
            await app_metrics.stop()
        if world is not None:
            await world.stop()
        elif hub is not None:
            await hub.close()
        await fronts.aclose()
        brokers.close()
        await server.stop()
        if tmp is not None:
            tmp.cleanup()
