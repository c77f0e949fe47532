"""``podscaler demo``: the README's first command — a day of autoscaling in about a minute.

One process runs the embedded API server, the simulated world and the podscaler operator, on
one simulated clock, through a built-in scenario (``web-diurnal`` unless told otherwise): a
CPU-bound web service under a day of traffic, scaled by a cpu ScaledObject. It shows progress
while it runs, prints a short summary and writes an HTML report to look at
(:mod:`.simulating`).

``--serve`` keeps the cluster up afterwards in real time (the operator still running): it
writes the report and prints the summary first, then every address it serves, until Ctrl-C.

If the operator is not part of this build the demo still runs the world — nothing scales, and
the output says so plainly.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TextIO

import click

from podscaler.clock import WallClock
from podscaler.commands.failures import check_writable
from podscaler.commands.simulating import (
    DEFAULT_REPORT,
    DEFAULT_SCENARIO,
    Progress,
    duration_text,
    embedded_operator,
    format_summary,
    keep_serving,
    save_report,
)
from podscaler.sim.clock import SimulatedEventLoop, run_simulated
from podscaler.sim.scenarios.report import summarize
from podscaler.sim.scenarios.runs import OperatorRunner, RunResult, run_scenario
from podscaler.sim.scenarios.scenario import (
    OPERATOR_FEATURES,
    Scenario,
    ScenarioError,
    describe_missing,
    load_scenario,
    missing_features,
)
from podscaler.sim.world.world import World

__all__ = ["demo", "run_demo"]


@click.command()
@click.option("--serve", is_flag=True, help="Keep the cluster up afterwards for kubectl.")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path),
    default=Path("podscaler-demo.kubeconfig"),
    show_default=True,
    help="Where --serve writes a kubeconfig for the cluster.",
)
@click.option(
    "--scenario",
    default="web-diurnal",
    show_default=True,
    help="A built-in scenario name or a scenario file.",
)
@click.option(
    "--report",
    type=click.Path(path_type=Path),
    default=Path("podscaler-demo.html"),
    show_default=True,
    help="Where to write the HTML report.",
)
def demo(serve: bool, kubeconfig: Path, scenario: str, report: Path) -> None:
    """Run a day of autoscaling on the embedded cluster in accelerated time: the API server,
    the simulated world and the operator in one process. Prints a summary and writes a
    report; --serve keeps the cluster up afterwards for kubectl."""
    sys.exit(
        run_demo(
            serve=serve,
            kubeconfig_path=kubeconfig,
            scenario_name=scenario,
            report_path=report,
        )
    )


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
    # The day ends at the last midnight, so the report's clock reads like the curve (a 14:00
    # peak at 14:00). Served, it ends now instead: kubectl measures ages against the wall
    # clock, and the served cluster's clock is the wall's (keep_serving), so what the day did
    # must have happened in the last day, not up to a day before the last midnight.
    wall = WallClock().now()
    end = wall if serve else wall.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(seconds=scenario.duration_seconds)
    scenario = replace(scenario, start=start)
    stream.write(
        f"Simulating {duration_text(scenario.duration_seconds)} of '{scenario.name}': "
        f"{scenario.description}\n"
    )
    # On standard error: the summary on stdout stays clean in a pipe.
    progress = Progress(scenario, sys.stderr if out is None else stream)

    async def keep(world: World, result: RunResult) -> None:
        progress.finish()
        save_report(result, report_path)
        stream.write(format_summary(result, summarize(result), report_path) + "\n")
        await keep_serving(
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
        save_report(result, report_path)
        stream.write(format_summary(result, summarize(result), report_path) + "\n")
    return 0 if result.passed else 1


def _focus(scenario: Scenario) -> str | None:
    """``NAMESPACE/NAME`` of the scenario's main ScaledObject, for the commands printed."""
    for obj in scenario.objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "ScaledObject" and meta.get("name"):
            namespace = meta.get("namespace") or "default"
            if not scenario.focus or meta["name"] == scenario.focus:
                return f"{namespace}/{meta['name']}"
    return None
