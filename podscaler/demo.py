"""``podscaler demo``, ``podscaler simulate`` and ``podscaler cluster serve --world``: the
commands that run the embedded cluster with its world.

``demo`` is the README's first command — a day of autoscaling in about a minute.

One process runs the embedded API server, the simulated world and the podscaler operator, on
one simulated clock, through a built-in scenario (``web-diurnal`` unless told otherwise): a
CPU-bound web service under a day of traffic, scaled by a cpu ScaledObject. It shows progress
while it runs (one updating line on a terminal, plain lines otherwise), prints a short summary
— how fast new pods were Ready after each scale-up, pod-minutes spent Pending, node-hours —
and writes an HTML report to look at.

``--serve`` keeps the cluster up afterwards in real time (the operator still running), writes a
kubeconfig and says how to explore it with kubectl, until Ctrl-C.

If the operator is not part of this build the demo still runs the world — nothing scales, and
the output says so plainly.

``simulate`` runs any scenario (a file, or a built-in name), deterministic for a seed, and
exits non-zero when an assertion fails — or with 3 when the scenario needs a feature this build
lacks, naming it. ``cluster serve --world`` keeps a world running behind the API server in real
time, for kubectl and an operator in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from podscaler.failures import CommandFailure, check_writable
from podscaler.sim.clock import SimulatedEventLoop, run_simulated
from podscaler.sim.report import Summary, summarize, write_report
from podscaler.sim.scenario import (
    DEFAULT_START,
    OPERATOR_FEATURES,
    Scenario,
    ScenarioError,
    describe_missing,
    load_scenario,
    missing_features,
    parse_scenario,
)
from podscaler.sim.world.appmetrics import AppMetricsServer
from podscaler.sim.world.runs import OperatorContext, OperatorRunner, RunResult, run_scenario
from podscaler.sim.world.world import World

__all__ = [
    "Progress",
    "embedded_operator",
    "format_summary",
    "run_demo",
    "serve_world",
    "serving_banner",
    "simulate_command",
]

DEFAULT_SCENARIO = "web-diurnal"
DEFAULT_REPORT = Path("podscaler-demo.html")


class Progress:
    """Reports a run's progress: a single rewritten line on a TTY, plain lines otherwise
    (every 10% of the simulated duration), so CI logs stay readable."""

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


async def embedded_operator(
    context: OperatorContext, *, on_serving: Callable[[str], None] | None = None
) -> None:
    """``podscaler run`` in this process: the ScaledObject controller against the embedded
    API server, metrics and health on ephemeral localhost ports (*on_serving* hears the
    metrics server's URL, for ``podscaler explain --endpoint``)."""
    from podscaler.operator import RunOptions, run_operator

    stop = asyncio.Event()
    options = RunOptions(
        kubeconfig=str(context.kubeconfig_path),
        namespace=context.namespace,
        metrics_port=0,
        health_port=0,
        bind_address="127.0.0.1",
        identity="podscaler-embedded",
    )
    try:
        await run_operator(options, stop, on_serving=on_serving)
    finally:
        stop.set()


def _duration(seconds: float | None) -> str:
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
        f"podscaler {command} — {scenario.name}: {_duration(result.end_seconds)} simulated in "
        f"{result.wall_seconds:.1f} s ({speedup:,.0f}x real time)",
    ]
    if not result.operator_ran:
        lines.append(
            "  NOTE: the podscaler operator is not available in this build: the world ran "
            "without it, so nothing was autoscaled."
        )
    if summary.scale_ups:
        catch_up = (
            f"new pods Ready a median {_duration(summary.median_catch_up_seconds)} after each "
            f"(max {_duration(summary.max_catch_up_seconds)})"
        )
        if summary.never_caught_up:
            catch_up += f"; {summary.never_caught_up} overtaken by the next decision"
        lines.append(
            f"  scaling:    {summary.scale_ups} scale-ups, peak {summary.peak_desired} replicas; "
            + catch_up
        )
    else:
        lines.append("  scaling:    no scale-ups")
    lines.append(
        f"  pending:    {summary.pending_pod_minutes:.1f} pod-minutes in all; longest "
        f"{_duration(summary.max_pending_seconds)}"
    )
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


def run_demo(
    *,
    serve: bool,
    kubeconfig_path: Path,
    scenario_name: str = DEFAULT_SCENARIO,
    report_path: Path = DEFAULT_REPORT,
    out: TextIO | None = None,
) -> int:
    """Run the demo; the process exit status (0 ok, 1 assertion failed, 2 bad scenario)."""
    stream = out or sys.stdout
    try:
        scenario = load_scenario(scenario_name)
    except ScenarioError as exc:
        print(f"podscaler demo: {exc}", file=sys.stderr)
        return 2
    # Checked now, and shown absolute: a typo must not cost the day, and the paths printed at
    # the end must work from any directory.
    report_path = check_writable(report_path, "--report")
    if serve:
        kubeconfig_path = check_writable(kubeconfig_path, "--kubeconfig")
    missing = missing_features(scenario.features)
    endpoint: list[str] = []
    operator: OperatorRunner | None = functools.partial(
        embedded_operator, on_serving=endpoint.append
    )
    if any(feature in OPERATOR_FEATURES for feature, _ in missing):
        operator = None
        stream.write(
            "The podscaler operator is not available yet "
            f"({describe_missing(missing)}); running the cluster without it.\n"
        )
    # The day ends at the last midnight: timestamps look recent to kubectl (--serve), and the
    # report's clock reads like the curve (a 14:00 peak at 14:00).
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight - timedelta(seconds=scenario.duration_seconds)
    scenario = replace(scenario, start=start)
    stream.write(
        f"Simulating {_duration(scenario.duration_seconds)} of '{scenario.name}': "
        f"{scenario.description}\n"
    )
    progress = Progress(scenario, stream)

    async def keep(world: World, result: RunResult) -> None:
        progress.finish()
        _write_report(result, report_path)
        stream.write(format_summary(result, summarize(result), report_path) + "\n")
        await _serve(
            world,
            kubeconfig_path,
            stream,
            operator_endpoint=endpoint[0] if endpoint else None,
            focus=_focus(scenario),
        )

    async def main(clock: object) -> RunResult:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SimulatedEventLoop)
        return await run_scenario(
            scenario,
            clock=loop.clock,
            operator=operator,
            on_tick=progress,
            keep=keep if serve else None,
        )

    try:
        result = run_simulated(main, start=start, speed=scenario.speed)
    except (asyncio.CancelledError, KeyboardInterrupt):
        progress.finish()
        stream.write("interrupted\n")
        return 130
    except ScenarioError as exc:
        progress.finish()
        print(f"podscaler demo: {exc}", file=sys.stderr)
        return 2
    progress.finish()
    if not serve:  # --serve wrote both before serving
        _write_report(result, report_path)
        stream.write(format_summary(result, summarize(result), report_path) + "\n")
    return 0 if result.passed else 1


def _write_report(result: RunResult, path: Path) -> None:
    notes = (
        [] if result.operator_ran else ["The podscaler operator was not available: no autoscaling."]
    )
    try:
        write_report(result, path, notes=notes)
    except OSError as exc:
        raise CommandFailure(f"cannot write the report to {path}: {exc.strerror or exc}") from exc


def _focus(scenario: Scenario) -> str | None:
    """``NAMESPACE/NAME`` of the scenario's main ScaledObject, for the commands printed."""
    for obj in scenario.objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "ScaledObject" and meta.get("name"):
            namespace = meta.get("namespace") or "default"
            if not scenario.focus or meta["name"] == scenario.focus:
                return f"{namespace}/{meta['name']}"
    return None


def serving_banner(
    *,
    api_server: str,
    kubeconfig_path: Path,
    app_metrics: str,
    operator_endpoint: str | None,
    operator_note: bool = True,
    focus: str | None = None,
) -> str:
    """What ``demo --serve`` and ``cluster serve --world`` print once the cluster stays up:
    every address they serve and a command to try on each."""
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
    lines.append("Ctrl-C to stop.")
    return "\n".join(lines) + "\n"


async def _serve(
    world: World,
    kubeconfig_path: Path,
    stream: TextIO,
    *,
    operator_note: bool = True,
    operator_endpoint: str | None = None,
    focus: str | None = None,
) -> None:
    """Keep the cluster up in real time until Ctrl-C."""
    loop = asyncio.get_running_loop()
    if isinstance(loop, SimulatedEventLoop):
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


def simulate_command(
    scenario_file: str,
    *,
    speed: float | None,
    report_path: Path | None,
    seed: int | None,
    operator: bool = True,
    out: TextIO | None = None,
) -> int:
    """``podscaler simulate``: 0 all assertions hold, 1 one failed, 2 unreadable scenario,
    3 skipped (a needed feature is missing)."""
    stream = out or sys.stdout
    try:
        scenario = load_scenario(scenario_file)
    except ScenarioError as exc:
        print(f"podscaler simulate: {exc}", file=sys.stderr)
        return 2
    if seed is not None:
        scenario = scenario.with_seed(seed)
    if report_path is not None:
        report_path = check_writable(report_path, "--report")
    needed = [f for f in scenario.features if operator or f not in OPERATOR_FEATURES]
    missing = missing_features(needed)
    if missing:
        stream.write(f"SKIPPED {scenario.name}: needs {describe_missing(missing)}\n")
        return 3
    uses_operator = operator and bool(OPERATOR_FEATURES & set(scenario.features))
    start = scenario.start or DEFAULT_START
    scenario = replace(scenario, start=start)
    progress = Progress(scenario, stream)

    async def main(clock: object) -> RunResult:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SimulatedEventLoop)
        return await run_scenario(
            scenario,
            clock=loop.clock,
            operator=embedded_operator if uses_operator else None,
            on_tick=progress,
        )

    try:
        result = run_simulated(main, start=start, speed=speed or scenario.speed)
    except ScenarioError as exc:
        progress.finish()
        print(f"podscaler simulate: {exc}", file=sys.stderr)
        return 2
    progress.finish()
    if report_path is not None:
        _write_report(result, report_path)
    stream.write(format_summary(result, summarize(result), report_path, command="simulate") + "\n")
    return 0 if result.passed else 1


_DEFAULT_WORLD = {
    "name": "cluster",
    "description": "Three m5.large nodes and whatever you apply.",
    "duration": 1,
    "nodeGroups": [{"name": "general", "min": 1, "max": 10, "initial": 3, "pricePerHour": 0.096}],
}


def serve_world(host: str, port: int, tls: bool, kubeconfig_path: Path, scenario_name: str) -> int:
    """``podscaler cluster serve --world [SCENARIO]``: the API server with a world behind it,
    in real time, until Ctrl-C. Without a scenario: three nodes and nothing else."""
    try:
        scenario = (
            parse_scenario(_DEFAULT_WORLD)
            if scenario_name == "default"
            else load_scenario(scenario_name)
        )
    except ScenarioError as exc:
        print(f"podscaler cluster serve: {exc}", file=sys.stderr)
        return 2
    start = datetime.now(UTC)
    scenario = replace(scenario, start=start, duration_seconds=scenario.tick_seconds)

    async def keep(world: World, result: RunResult) -> None:
        await _serve(world, kubeconfig_path, sys.stdout, operator_note=False)

    async def main(clock: object) -> RunResult:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SimulatedEventLoop)
        return await run_scenario(
            scenario,
            clock=loop.clock,
            keep=keep,
            host=host,
            port=port,
            tls=tls,
            kubeconfig_path=kubeconfig_path,
        )

    try:
        run_simulated(main, start=start, speed=1.0)
    except ScenarioError as exc:
        print(f"podscaler cluster serve: {exc}", file=sys.stderr)
        return 2
    return 0
