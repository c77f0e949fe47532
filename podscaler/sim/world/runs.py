"""Running a scenario: the API server, the world and (optionally) the operator, in one loop.

:func:`run_scenario` runs a :class:`~podscaler.sim.scenario.Scenario` inside the current
(normally simulated) event loop, all parts sharing the loop's clock. The operator is reached
through the :data:`OperatorRunner` seam — an async callable given the API server's URL, a
kubeconfig path and the clock, which runs until cancelled — so the demo and ``simulate`` can start
``podscaler run``'s controller in-process (``podscaler.commands.simulating.embedded_operator``:
the operator is a higher layer than ``sim``, so the seam is filled from above), and a test can
start anything else that speaks to a Kubernetes API.

SQS queues need an endpoint: ``PODSCALER_SQS_ENDPOINT``, a queue's ``endpoint``, or else a moto
server started here on a free localhost port and stopped at the end. Kafka queues likewise need
a broker: ``PODSCALER_KAFKA_BOOTSTRAP``, a queue's ``endpoint``, or else a Tansu broker started
here (:mod:`podscaler.sim.world.brokers`) and stopped at the end; each becomes a topic of its
name with its partitions, and a consumer group that starts committed at the topic's beginning
(a consumer that has run before and was scaled to zero). Object manifests may say
``${sqs.endpoint}``, ``${queues.NAME.url}``, ``${kafka.bootstrapServers}``,
``${queues.NAME.topic}`` and ``${queues.NAME.consumerGroup}``; they are substituted before
applying.
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
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podscaler.clock import Clock, WallClock
from podscaler.nodes.providers.base import NodeGroup
from podscaler.sim.scenario import Scenario, ScenarioError, importable
from podscaler.sim.world.appmetrics import AppMetricsServer
from podscaler.sim.world.assertions import AssertionResult
from podscaler.sim.world.brokers import BOOTSTRAP_ENV, BrokerError, running_tansu
from podscaler.sim.world.kafka_consumers import KafkaTopic
from podscaler.sim.world.profiles import Profiles
from podscaler.sim.world.queues import InMemoryQueue, QueueBackend, QueueHub, SqsQueue
from podscaler.sim.world.timeline import Timeline
from podscaler.sim.world.world import World

__all__ = ["OperatorContext", "OperatorRunner", "RunResult", "run_scenario"]

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
    #: the scenario's seed, for the operator's own random choices (a run replays exactly)
    seed: int = 0


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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    binary = shutil.which("moto_server")
    if binary is None:
        raise ScenarioError("queues: SQS needs moto_server (pip install 'moto[server]')")
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = _WALL.monotonic() + 15.0
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if _WALL.monotonic() > deadline or process.poll() is not None:
                    raise ScenarioError("moto_server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
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
    from podscaler.sim.apiserver import ApiServer

    started_wall = time.perf_counter()
    server = ApiServer(
        host=host,
        port=port,
        tls=tls,
        now=clock.now,
        install_crds=importable("podscaler.api.crds"),
        seed=scenario.seed,
        # As kube-apiserver (about a minute), not the server's default of 5 s for tests: each
        # bookmark is a wake-up, an HTTP chunk and a decode per watch, which over a simulated
        # day outnumbered everything else the operator did.
        bookmark_interval=60.0,
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
    hub: QueueHub | None = None
    # Queue servers (moto, a Kafka broker) outlive everything that talks to them.
    brokers = contextlib.ExitStack()
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
        for resize in scenario.resizes:
            world.ctx.timers.at(
                world.origin_seconds + resize.at_seconds, _resizer(world, resize.group, resize.size)
            )
        namespaces_rt = world.ctx.kinds.namespaces
        for namespace in scenario.namespaces:
            if server.store.find(namespaces_rt, "", namespace) is None:
                world.ctx.writer.create(namespaces_rt, {"metadata": {"name": namespace}})
        world.start()
        world.step()  # the initial nodes register and turn Ready before workloads arrive
        if scenario.app_metrics:
            app_metrics = AppMetricsServer(world)
            await app_metrics.start()
        for workload in scenario.workloads:
            _apply(world, _substitute(workload.manifest, substitutions))
        for obj in scenario.objects:
            _apply(world, _substitute(obj, substitutions))
        if operator is not None:
            context = OperatorContext(
                server.url,
                kubeconfig_path,
                clock,
                node_groups=list(world.cloud.groups.values()),
                seed=scenario.seed,
            )
            operator_task = asyncio.ensure_future(operator(context))
            await asyncio.sleep(0)  # let it start (and install its signal handlers)
            _take_signals()
        await world.run(until_seconds=scenario.duration_seconds, on_tick=on_tick)
        if operator_task is not None and operator_task.done() and operator_task.exception():
            raise ScenarioError(f"the operator stopped: {operator_task.exception()!r}")
        end = world.seconds()
        results = [a.check(world.timeline, end) for a in scenario.assertions]
        groups = {g.name: g for g in scenario.node_groups}
        result = RunResult(
            scenario=scenario,
            timeline=world.timeline,
            results=results,
            operator_ran=operator is not None,
            wall_seconds=time.perf_counter() - started_wall,
            end_seconds=end,
            writes=world.ctx.writer.writes,
        )
        result.node_hours_by_group = {name: world.timeline.node_hours(name) for name in groups}
        result.cost = sum(
            hours * groups[name].price_per_hour
            for name, hours in result.node_hours_by_group.items()
        )
        if keep is not None:
            await keep(world, result)
        return result
    finally:
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
        brokers.close()
        await server.stop()
        if tmp is not None:
            tmp.cleanup()
