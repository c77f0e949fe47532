"""``podscaler simulate``: any scenario (a file, or a built-in name) on the embedded cluster,
deterministic for a seed; it exits non-zero when an assertion fails — or with 3 when the
scenario needs a feature this build lacks, naming it — so scenarios double as tests.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import click

from podscaler.commands.failures import check_writable
from podscaler.commands.simulating import Progress, embedded_operator, format_summary, save_report
from podscaler.sim.clock import SimulatedEventLoop, run_simulated
from podscaler.sim.scenarios.report import summarize
from podscaler.sim.scenarios.runs import RunResult, run_scenario
from podscaler.sim.scenarios.scenario import (
    DEFAULT_START,
    OPERATOR_FEATURES,
    ScenarioError,
    describe_missing,
    load_scenario,
    missing_features,
)

__all__ = ["simulate", "simulate_command"]


@click.command()
@click.argument("scenario_file", metavar="SCENARIO.yaml")
@click.option(
    "--speed",
    type=float,
    default=None,
    help="Simulated seconds per real second (default: as fast as possible).",
)
@click.option("--report", type=click.Path(path_type=Path), help="Write an HTML report.")
@click.option("--seed", type=int, default=None, help="Override the scenario's seed.")
@click.option(
    "--no-operator",
    is_flag=True,
    help="Run the world alone, even when the scenario asks for the operator.",
)
def simulate(
    scenario_file: str,
    speed: float | None,
    report: Path | None,
    seed: int | None,
    no_operator: bool,
) -> None:
    """Replay a scenario (a file, or a built-in name) on the embedded cluster.

    Deterministic for a seed. Exit status: 0 when every assertion holds, 1 when one fails,
    2 when the scenario cannot be read, 3 when it needs a feature this build lacks (skipped).
    """
    sys.exit(
        simulate_command(
            scenario_file,
            speed=speed,
            report_path=report,
            seed=seed,
            operator=not no_operator,
        )
    )


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
    # On standard error: the summary on stdout stays clean in a pipe.
    progress = Progress(scenario, sys.stderr if out is None else stream)

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
        save_report(result, report_path)
    stream.write(format_summary(result, summarize(result), report_path, command="simulate") + "\n")
    return 0 if result.passed else 1
