"""What ``podscaler demo``, ``podscaler simulate`` and ``podscaler cluster serve --world``
share: the embedded cluster with its world, run on the simulated clock and shown to a person.

* :class:`Progress`: a run's progress, one updating line on a terminal, plain lines (every 10 %
  of the simulated duration) otherwise, so CI logs stay readable;
* :func:`embedded_operator`: ``podscaler run`` in the same process, plugged into the run seam
  (:class:`~podscaler.sim.scenarios.runs.OperatorContext`); it tells where its metrics server
  listens, for ``podscaler explain --endpoint``;
* :func:`format_summary` and :func:`save_report`: what a run did — how fast new pods were Ready
  after each scale-up, pod-minutes spent Pending, node-hours — and the HTML report;
* :func:`keep_serving` and :func:`serving_banner`: the cluster kept up in real time after a
  run (``demo --serve``, ``cluster serve --world``), with every address it serves printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from podscaler.clock import WallClock
from podscaler.commands.failures import CommandFailure
from podscaler.sim.clock import SimulatedEventLoop
from podscaler.sim.scenarios.report import Summary, write_report
from podscaler.sim.scenarios.runs import WEBHOOK_SERVICE, OperatorContext, RunResult
from podscaler.sim.scenarios.scenario import (
    Scenario,
)
from podscaler.sim.world.appmetrics import AppMetricsServer
from podscaler.sim.world.world import World

__all__ = [
    "DEFAULT_REPORT",
    "DEFAULT_SCENARIO",
    "Progress",
    "duration_text",
    "embedded_operator",
    "format_summary",
    "keep_serving",
    "node_story",
    "save_report",
    "serving_banner",
]

DEFAULT_SCENARIO = "web-diurnal"
DEFAULT_REPORT = Path("podscaler-demo.html")


class Progress:
    """Reports a run's progress: a single rewritten line on a TTY, plain lines otherwise
    (every 10% of the simulated duration), so CI logs stay readable. ``demo`` and ``simulate``
    write it to standard error, so their summary on standard output stays clean in a pipe."""

    def __init__(self, scenario: Scenario, out: TextIO, *, tty: bool | None = None) -> None:
        self.scenario = scenario
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.started = time.perf_counter()
        self._last_draw = 0.0
        self._next_decile = 1

    def line(self, world: World) -> str:
        seconds = world.seconds()
        fraction = min(1.0, seconds / self.scenario.duration_seconds)
        filled = int(fraction * 24)
        bar = "#" * filled + "." * (24 - filled)
        start = self.scenario.start
        clock = (
            (start + timedelta(seconds=seconds)).strftime("%H:%M")
            if start
            else f"{seconds / 3600:.1f}h"
        )
        parts = []
        focus = self.scenario.focus
        timeline = world.timeline
        if focus and focus in timeline.workloads:
            series = timeline.workloads[focus]
            parts.append(
                f"{focus}: demand {series.demand.values[-1]:.0f}, "
                f"{series.ready.values[-1]:.0f}/{series.desired.values[-1]:.0f} Ready"
            )
        if len(timeline):
            parts.append(f"nodes {timeline.nodes.values[-1]:.0f}")
            parts.append(f"pending {timeline.pending.values[-1]:.0f}")
        return f"[{bar}] {clock}  " + " · ".join(parts)

    def __call__(self, world: World) -> None:
        now = time.perf_counter()
        if self.tty:
            if now - self._last_draw >= 0.1:
                self._last_draw = now
                self.out.write("\r\x1b[2K" + self.line(world))
                self.out.flush()
            return
        fraction = world.seconds() / self.scenario.duration_seconds
        while self._next_decile <= 10 and fraction >= self._next_decile / 10:
            self._next_decile += 1
            self.out.write(self.line(world) + "\n")
            self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\r\x1b[2K")
            self.out.flush()


#: The operator's watch timeout in a simulation. A watch timeout stands for minutes of *real*
#: time (client-go asks for 5 to 10); the simulated clock runs thousands of times faster, where
#: those minutes are weeks. Measured on the simulated clock as they are, 5 to 10 minutes reopened
#: every informer's watch every few simulated minutes — ~3,000 watches (and proofs of
#: continuity) in the demo's day. So a simulation asks for 12 to 24 simulated hours.
SIMULATED_WATCH_TIMEOUT_SECONDS = 12 * 3600.0


async def embedded_operator(
    context: OperatorContext, *, on_serving: Callable[[str], None] | None = None
) -> None:
    """``podscaler run`` in this process: the ScaledObject controller against the embedded
    API server, metrics and health on ephemeral localhost ports (*on_serving* hears the
    metrics server's URL, for ``podscaler explain --endpoint``) — and, when the scenario runs
    one, the node autoscaler over its node groups: the simulated cloud's through the
    ``sim`` provider, ASGs on moto through the AWS provider."""
    from podscaler.controllers.nodes import SimProvider
    from podscaler.controllers.nodes.settings import NodeAutoscalerConfig
    from podscaler.controllers.vertical.admission import WebhookOptions
    from podscaler.kube.clients import ConnectOptions
    from podscaler.manager import RunOptions, run_operator
    from podscaler.metricsapi.server import MetricsApiOptions
    from podscaler.nodes.providers.sim import SimNodeGroup

    nodes: NodeAutoscalerConfig | None = None
    if context.node_autoscaler is not None:
        simulated = [g for g in context.node_groups if isinstance(g, SimNodeGroup)]
        nodes = NodeAutoscalerConfig(
            options=context.node_autoscaler,
            aws=context.aws,
            provider=SimProvider(simulated) if context.aws is None else None,
            seed=context.seed,
        )
    stop = asyncio.Event()
    options = RunOptions(
        nodes=nodes,
        cluster=ConnectOptions(
            kubeconfig=str(context.kubeconfig_path),
            watch_timeout_seconds=SIMULATED_WATCH_TIMEOUT_SECONDS,
        ),
        namespace=context.namespace,
        metrics_port=0,
        health_port=0,
        bind_address="127.0.0.1",
        identity="podscaler-embedded",
        seed=context.seed,
        # The HPAs of ScaledObjects in mode hpa read external metrics here, through the
        # embedded aggregator (the run installed the APIService and Endpoints for this port).
        metrics_api=(
            None
            if context.metrics_api_port is None
            else MetricsApiOptions(port=context.metrics_api_port, host="127.0.0.1")
        ),
        admission_webhook=(
            None
            if context.admission_webhook_port is None
            else WebhookOptions(
                port=context.admission_webhook_port,
                host="127.0.0.1",
                namespace=WEBHOOK_SERVICE[0],
                service=WEBHOOK_SERVICE[1],
            )
        ),
    )
    try:
        await run_operator(options, stop, on_serving=_both(on_serving, context.on_serving))
    finally:
        stop.set()


def _both(
    first: Callable[[str], None] | None, second: Callable[[str], None] | None
) -> Callable[[str], None] | None:
    """Both listeners of the operator's metrics URL (the caller's and the run's)."""
    if first is None or second is None:
        return first or second

    def tell(url: str) -> None:
        first(url)
        second(url)

    return tell


def duration_text(seconds: float | None) -> str:
    """``45 s``, ``12.5 min``, ``3.0 h``: a duration as the summary prints it."""
    if seconds is None:
        return "n/a"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_summary(
    result: RunResult, summary: Summary, report: Path | None, *, command: str = "demo"
) -> str:
    scenario = result.scenario
    speedup = result.end_seconds / result.wall_seconds if result.wall_seconds > 0 else 0.0
    lines = [
        f"podscaler {command} — {scenario.name}: {duration_text(result.end_seconds)} simulated in "
        f"{result.wall_seconds:.1f} s ({speedup:,.0f}x real time)",
    ]
    if not result.operator_ran:
        lines.append(
            "  NOTE: the podscaler operator is not available in this build: the world ran "
            "without it, so nothing was autoscaled."
        )
    if summary.scale_ups:
        catch_up = (
            f"new pods Ready a median {duration_text(summary.median_catch_up_seconds)} after each "
            f"(max {duration_text(summary.max_catch_up_seconds)})"
        )
        if summary.never_caught_up:
            catch_up += f"; {summary.never_caught_up} overtaken by the next decision"
        lines.append(
            f"  scaling:    {summary.scale_ups} scale-ups, {summary.scale_downs} scale-downs, "
            f"peak {summary.peak_desired} replicas; " + catch_up
        )
    else:
        lines.append("  scaling:    no scale-ups")
    lines.append(
        f"  pending:    {summary.pending_pod_minutes:.1f} pod-minutes in all; longest "
        f"{duration_text(summary.max_pending_seconds)}"
    )
    if "node-autoscaler" in scenario.features and result.operator_ran:
        lines.append(f"  nodes:      {node_story(result)}")
    cost = f" (${summary.cost:.2f})" if summary.cost else ""
    lines.append(
        f"  cost:       {summary.node_hours:.1f} node-hours{cost}, peak {summary.peak_nodes} nodes"
    )
    if result.results:
        passed = sum(1 for r in result.results if r.ok)
        lines.append(f"  assertions: {passed}/{len(result.results)} passed")
        for r in result.results:
            if not r.ok:
                lines.append(f"    FAILED {r.text} — {r.detail}")
    if report is not None:
        lines.append(f"  report:     {report}")
    return "\n".join(lines)


def node_story(result: RunResult) -> str:
    """What the node autoscaler did, in one line: ``3 → peak 5 → 3; 2 added, 2 removed; 6
    pods triggered a scale-up``."""
    timeline = result.timeline
    nodes = list(timeline.nodes.values)
    if not nodes:
        return "no samples"
    changes = [a for a in timeline.annotations if a.kind == "nodes" and a.seconds > 0]
    joined = sum(1 for a in changes if a.text.endswith(" joined"))
    left = sum(1 for a in changes if a.text.endswith(" left"))
    triggered = len(timeline.event_times.get("TriggeredScaleUp", ()))
    failed = len(timeline.event_times.get("ScaleUpFailed", ())) + len(
        timeline.event_times.get("ScaleUpTimedOut", ())
    )
    text = (
        f"{nodes[0]:.0f} → peak {max(nodes):.0f} → {nodes[-1]:.0f}; {joined} added, {left} "
        f"removed; {triggered} pods triggered a scale-up"
    )
    if failed:
        text += f"; {failed} failed scale-ups backed off"
    return text


def save_report(result: RunResult, path: Path) -> None:
    """Write the HTML report; a failure is a :class:`CommandFailure` naming the path."""
    notes = (
        [] if result.operator_ran else ["The podscaler operator was not available: no autoscaling."]
    )
    try:
        write_report(result, path, notes=notes)
    except OSError as exc:
        raise CommandFailure(f"cannot write the report to {path}: {exc.strerror or exc}") from exc


def serving_banner(
    *,
    api_server: str,
    kubeconfig_path: Path,
    app_metrics: str,
    operator_endpoint: str | None,
    operator_note: bool = True,
    focus: str | None = None,
    security_note: str | None = None,
) -> str:
    """What ``demo --serve`` and ``cluster serve --world`` print once the cluster stays up:
    every address they serve, a command to try on each, and who may use the API server."""
    kubeconfig = kubeconfig_path.absolute()
    if not operator_note:
        headline = "The embedded cluster is up, with its world (scheduler, kubelet, controllers)."
    elif operator_endpoint is not None:
        headline = "The cluster stays up (real time now; the operator keeps scaling)."
    else:
        headline = "The cluster stays up (real time now; no operator runs in this build)."
    rows = [("API server", api_server), ("kubeconfig", str(kubeconfig))]
    if operator_endpoint is not None:
        rows += [
            ("operator", f"{operator_endpoint}  (for podscaler explain --endpoint)"),
            ("operator metrics", f"{operator_endpoint}/metrics"),
        ]
    rows.append(("app metrics", app_metrics))
    tries = [
        f"kubectl --kubeconfig {kubeconfig} get pods,nodes -A",
        f"kubectl --kubeconfig {kubeconfig} get scaledobjects -A",
    ]
    if operator_endpoint is not None:
        tries.append(
            f"podscaler explain --endpoint {operator_endpoint} {focus or 'NAMESPACE/NAME'}"
        )
    elif not operator_note:
        tries.append(f"podscaler run --kubeconfig {kubeconfig}")
    rows += [("try" if i == 0 else "", command) for i, command in enumerate(tries)]
    lines = ["", headline]
    for label, value in rows:
        lines.append(f"  {label + ':' if label else '':<18}{value}")
    if security_note:
        lines.append(security_note)
    lines.append("Ctrl-C to stop.")
    return "\n".join(lines) + "\n"


async def keep_serving(
    world: World,
    kubeconfig_path: Path,
    stream: TextIO,
    *,
    operator_note: bool = True,
    operator_endpoint: str | None = None,
    focus: str | None = None,
) -> None:
    """Keep the cluster up in real time until Ctrl-C.

    Served, the cluster's clock is the wall's: kubectl computes ages (``kubectl get``,
    ``describe``, ``get events``) from its own clock, so the simulated clock first moves up to
    the wall's (over the time simulating took, when the simulated day ended at launch) and
    then runs at its pace."""
    loop = asyncio.get_running_loop()
    if isinstance(loop, SimulatedEventLoop):
        behind = (WallClock().now() - loop.clock.now()).total_seconds()
        if behind > 0:
            loop.advance(behind)
        loop.set_speed(1.0)
    try:
        world.server.write_kubeconfig(kubeconfig_path)
    except OSError as exc:
        raise CommandFailure(
            f"cannot write the kubeconfig to {kubeconfig_path}: {exc.strerror or exc}"
        ) from exc
    app_metrics = AppMetricsServer(world)
    await app_metrics.start()
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
    stream.write(
        serving_banner(
            api_server=world.server.url,
            kubeconfig_path=kubeconfig_path,
            app_metrics=app_metrics.url,
            operator_endpoint=operator_endpoint,
            operator_note=operator_note,
            focus=focus,
            security_note=world.server.security_note,
        )
    )
    stream.flush()
    runner = asyncio.ensure_future(world.run())
    try:
        await stop.wait()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await app_metrics.stop()
