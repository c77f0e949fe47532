"""Benchmark: the predictive trigger — what a fit and a poll cost, and what it buys.

* ``fit``: CPU time (``time.thread_time``, one thread) of
  :func:`scalers.forecasting.fit_forecaster` on 7 days at 1-minute steps (10,080 samples of a
  noisy business-day series): every candidate fitted on 6 days and backtested on the 7th,
  the winner refitted on all 7. Baseline in the same run, interleaved A/B: one ridge fit of
  the final model alone (what a fixed model without selection would cost). Target < 2 s.
* ``poll``: CPU per poll of the pure part a predictive poll adds (the decision over the
  horizon and the details for explain), against the baseline every prometheus poll already
  pays (decoding the instant-query answer). Target < 1 ms.
* ``loop``: the event loop's worst lateness (a 10 ms ticker) while a refit runs in its worker
  thread, against the same ticker with nothing running: polls never wait for a fit.
* ``scenario``: the headline. The built-in scenario ``web-predictive`` (the same web service
  twice, reactive cpu against cpu + predictive, pods Ready 90 s after start) run in-process:
  overload minutes (demand above what the Ready pods serve) and replica-hours of each. Then
  the same day with today differing from the history the model learned — the morning rush
  30 minutes late, or no rush at all (a holiday) — where predicting costs replicas for
  nothing: those are printed as honestly as the rest. Last, the scenario with the predictive
  trigger replaced by a ``prometheus`` trigger on the same query: how much of the gain is
  the forecast, and how much is scaling on demand rather than on cpu that saturates.
* ``nodes``: predictive node headroom. ``web-predictive-nodes`` (cpu + predictive on nodes
  that boot in 3 minutes, the node autoscaler in the operator) with its ``nodeHorizon`` (the
  forecast over node boot handed to the node planner as placeholder pods) and again without:
  Pending pod-minutes, longest Pending, overload minutes, node-hours.
* ``trace``: the same pair on real traffic: ``web-predictive-nasa`` replays the NASA Kennedy
  Space Center web server's requests of 11 July 1995 (one value a minute, x400) with the 7
  days before it as history. ``--report PATH`` also writes that run's HTML report.

Run: ``python bench/predictive.py [--part fit,poll,loop,scenario,trace] [--hours 24]
[--variant-hours 12] [--rounds 5]``. Pin it to a core for the fit and poll figures
(``taskset -c 1``), and read the load average printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The tree this file belongs to, not whatever podscaler is installed (a fresh clone runs as is).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from podscaler.sim.scenarios.scenario import Scenario, load_scenario
from podscaler.sim.world.capacity import overload_minutes, replica_hours
from podscaler.sim.world.load import Curve, parse_curve
from scalers.forecasting import Candidate, ForecastModel, fit_forecaster
from scalers.predictive import ModelState, decide, decision_details
from scalers.prometheus import parse_query_response

DAY = 86400.0
STEP = 60.0
ORIGIN = 1_767_571_200.0  # a Monday midnight


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def business_day(t: np.ndarray) -> np.ndarray:
    hours = np.mod(t, DAY) / 3600
    rise = 1 / (1 + np.exp(-(hours - 8.5) * 4))
    fall = 1 / (1 + np.exp(-(hours - 19) * 2))
    return 80 + 820 * (rise - fall)


def week(noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    t = ORIGIN + np.arange(int(7 * DAY / STEP)) * STEP
    return t, business_day(t) * (1 + noise * rng.standard_normal(len(t)))


def cpu(action: Callable[[], object]) -> float:
    started = time.thread_time()
    action()
    return time.thread_time() - started


# ------------------------------------------------------------------------------ fit, poll


def bench_fit(rounds: int) -> ForecastModel:
    t, y = week()
    full: list[float] = []
    single: list[float] = []
    model: ForecastModel | None = None
    final = Candidate("ridge-daily-48", daily_harmonics=48)

    def fit() -> None:
        nonlocal model
        found = fit_forecaster(
            t, y, step_seconds=STEP, horizon_seconds=300.0, min_history_seconds=DAY
        )
        assert isinstance(found, ForecastModel)
        model = found

    from threadpoolctl import threadpool_limits

    fit()  # warm-up: imports, first-call costs
    for _ in range(rounds):  # A/B/A/B
        full.append(cpu(fit))
        with threadpool_limits(limits=1):
            single.append(cpu(lambda: final.fit(t, y, STEP)))
    assert model is not None
    print(f"fit, 7 days at 1-minute steps ({len(t):,} samples), {load()}")
    print(
        f"  fit_forecaster (choose by backtest + refit): median {statistics.median(full):.3f} s "
        f"CPU (min {min(full):.3f}, max {max(full):.3f})   target < 2 s"
    )
    print(f"  baseline, one ridge fit of the final model: median {statistics.median(single):.3f} s")
    print(f"  chosen: {model.name}; backtest (held-out day, 5 min ahead):")
    for name, mae in model.backtest.candidates:
        print(f"    {name:26s} MAE {mae:7.2f} req/s")
    mape, persistence = model.backtest.mape or 0.0, model.backtest.persistence_mape or 0.0
    print(
        f"  MAPE {100 * mape:.1f}% against {100 * persistence:.1f}% for the live value alone "
        "(persistence)"
    )
    return model


def bench_poll(model: ForecastModel, rounds: int, calls: int = 20_000) -> None:
    now = ORIGIN + 7 * DAY + 7.8 * 3600
    state = ModelState(outcome=model, fitted_at=datetime.fromtimestamp(ORIGIN + 7 * DAY, UTC))
    moment = datetime.fromtimestamp(now, UTC)
    body = (
        b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},'
        b'"value":[1767600000,"212.5"]}]}}'
    )

    def predictive() -> None:
        for i in range(calls):
            decision = decide(200.0 + (i % 7), model, now + i, 300.0)
            decision_details(decision, state, now=moment, horizon_seconds=300.0)

    def baseline() -> None:
        for _ in range(calls):
            parse_query_response(body, ignore_null_values=True, query="q")

    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        ours.append(cpu(predictive) / calls)
        theirs.append(cpu(baseline) / calls)
    print(f"poll, {calls:,} decisions per round, {load()}")
    print(
        f"  decide + details: median {1e6 * statistics.median(ours):.0f} µs CPU per poll   "
        "target < 1000 µs"
    )
    print(
        f"  baseline, decoding a prometheus answer (every poll pays it): "
        f"median {1e6 * statistics.median(theirs):.0f} µs"
    )


def bench_loop() -> None:
    """Worst event-loop lateness with a refit in its worker thread, and with nothing."""
    t, y = week()

    async def worst_lateness(work: Callable[[], object] | None) -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        worst = 0.0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal worst
            while not done.is_set():
                before = loop.time()
                await asyncio.sleep(0.01)
                worst = max(worst, loop.time() - before - 0.01)

        task = asyncio.create_task(ticker())
        started = time.perf_counter()
        if work is not None:
            await asyncio.to_thread(work)
        else:
            await asyncio.sleep(2.0)
        took = time.perf_counter() - started
        done.set()
        await task
        return worst, took

    def fit() -> None:
        fit_forecaster(t, y, step_seconds=STEP, horizon_seconds=300.0, min_history_seconds=DAY)

    idle, _ = asyncio.run(worst_lateness(None))
    busy, took = asyncio.run(worst_lateness(fit))
    print(f"loop, a 10 ms ticker, {load()}")
    print(
        f"  during a refit in the worker thread ({took:.2f} s wall): worst {1e3 * busy:.1f} ms late"
    )
    print(f"  baseline, nothing running (2 s): worst {1e3 * idle:.1f} ms late")


# ------------------------------------------------------------------------------ scenario


@dataclass(frozen=True)
class TodayDiffers:
    """Demand that follows ``history`` before the run starts (what was pre-filled, what the
    model learned) and ``today`` from the start on."""

    history: Curve
    today: Curve

    def demand_at(self, seconds: float) -> float:
        return (self.history if seconds < 0 else self.today).demand_at(seconds)


#: The scenario's day with the rush (07:55-08:05 in the history) at 08:25-08:35 instead.
LATE_RUSH: list[list[Any]] = [
    [0, 60], ["6h", 50], ["7h", 70], ["8h25m", 100], ["8h35m", 800], ["9h", 900],
    ["12h", 950], ["13h", 1050], ["14h", 900], ["17h", 850], ["18h", 500], ["19h", 250],
    ["21h", 120], ["22h", 90], ["23h", 70],
]  # fmt: skip


def _today(points: list[list[Any]]) -> Curve:
    return parse_curve(
        {
            "type": "sum",
            "of": [
                {"type": "replay", "points": points},
                {"type": "spike", "at": "6h", "duration": "14h", "height": 100},
            ],
        }
    )


def without_forecast(scenario: Scenario) -> Scenario:
    """The scenario with web-predictive's predictive trigger replaced by a ``prometheus``
    trigger on the same query and threshold: scaling on the live request rate, no forecast.
    Separates what the forecast buys from what reading demand (not saturated cpu) buys."""
    objects = []
    for obj in scenario.objects:
        if obj.get("kind") == "ScaledObject" and obj["metadata"]["name"] == "web-predictive":
            obj = copy.deepcopy(obj)
            for trigger in obj["spec"]["triggers"]:
                if trigger["type"] == "predictive":
                    keep = ("serverAddress", "query", "threshold")
                    trigger["type"] = "prometheus"
                    trigger["metadata"] = {k: trigger["metadata"][k] for k in keep}
        objects.append(obj)
    return replace(scenario, objects=tuple(objects))


def variant(scenario: Scenario, hours: float, today: Curve | None) -> Scenario:
    workloads = scenario.workloads
    if today is not None:
        workloads = tuple(
            replace(
                w,
                profile=replace(
                    w.profile,
                    demand=TodayDiffers(w.profile.demand, today)  # type: ignore[arg-type]
                    if w.profile.demand is not None
                    else None,
                ),
            )
            for w in workloads
        )
    return replace(scenario, workloads=workloads, duration_seconds=hours * 3600, assertions=())


def run(
    scenario: Scenario, report: Path | None = None
) -> tuple[dict[str, tuple[float, float]], float]:
    from podscaler.commands.simulating import embedded_operator
    from podscaler.sim.clock import SimulatedEventLoop, run_simulated
    from podscaler.sim.scenarios.runs import run_scenario

    async def main(clock: object) -> Any:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SimulatedEventLoop)
        return await run_scenario(scenario, clock=loop.clock, operator=embedded_operator)

    started = time.perf_counter()
    result = run_simulated(main, start=scenario.start)
    if report is not None:
        from podscaler.sim.scenarios.report import write_report

        write_report(result, report)
    figures = {
        w.name: (overload_minutes(result.timeline, w.name), replica_hours(result.timeline, w.name))
        for w in scenario.workloads
    }
    return figures, time.perf_counter() - started


def bench_scenario(hours: float, variant_hours: float) -> None:
    base = load_scenario("web-predictive")
    cases: list[tuple[str, float, Curve | None]] = [
        ("as the history says (+100 req/s all day)", hours, None),
        ("the rush 30 minutes late today", variant_hours, _today(LATE_RUSH)),
        ("no rush today (a holiday: 150 req/s flat)", variant_hours, parse_curve(150)),
    ]
    print(f"scenario web-predictive: reactive (cpu 80%) vs cpu + predictive (horizon 3m), {load()}")
    print(
        "  | today | hours | overload min: reactive | predictive | replica-hours: reactive "
        "| predictive | extra replica-hours |"
    )
    cases.append(
        ("as the scenario, the predictive trigger replaced by a prometheus one", hours, None)
    )
    for index, (label, span, today) in enumerate(cases):
        scenario = without_forecast(base) if index == len(cases) - 1 else base
        figures, wall = run(variant(scenario, span, today))
        (r_over, r_hours), (p_over, p_hours) = figures["web-reactive"], figures["web-predictive"]
        extra = p_hours - r_hours
        print(
            f"  | {label} | {span:g} | {r_over:.2f} | {p_over:.2f} | {r_hours:.1f} | {p_hours:.1f} "
            f"| {extra:+.1f} ({100 * extra / r_hours:+.1f}%) |   ({wall:.0f} s wall, {load()})"
        )


def without_node_horizon(scenario: Scenario) -> Scenario:
    objects = []
    for obj in scenario.objects:
        obj = copy.deepcopy(obj)
        for trigger in (obj.get("spec") or {}).get("triggers") or ():
            (trigger.get("metadata") or {}).pop("nodeHorizon", None)
        objects.append(obj)
    return replace(scenario, objects=tuple(objects))


def bench_nodes(hours: float) -> None:
    from podscaler.commands.simulating import embedded_operator
    from podscaler.sim.clock import SimulatedEventLoop, run_simulated
    from podscaler.sim.scenarios.runs import run_scenario

    base = load_scenario("web-predictive-nodes")
    base = replace(base, duration_seconds=hours * 3600, assertions=())
    print(f"scenario web-predictive-nodes, {hours:g} h, {load()}")
    print("  | nodeHorizon | Pending pod-min | longest Pending s | overload min | node-hours |")
    for label, scenario in (("6m", base), ("off", without_node_horizon(base))):

        async def main(clock: object, scenario: Scenario = scenario) -> Any:
            loop = asyncio.get_running_loop()
            assert isinstance(loop, SimulatedEventLoop)
            return await run_scenario(scenario, clock=loop.clock, operator=embedded_operator)

        started = time.perf_counter()
        result = run_simulated(main, start=scenario.start)
        timeline = result.timeline
        print(
            f"  | {label} | {timeline.pending_pod_minutes():.1f} | "
            f"{timeline.max_pending_seconds(result.end_seconds):.0f} | "
            f"{overload_minutes(timeline, 'web'):.2f} | {timeline.node_hours():.1f} |"
            f"   ({time.perf_counter() - started:.0f} s wall, {load()})"
        )


def bench_trace(hours: float, report: Path | None) -> None:
    scenario = load_scenario("web-predictive-nasa")
    scenario = replace(scenario, duration_seconds=hours * 3600, assertions=())
    print(f"scenario web-predictive-nasa (NASA KSC 11 Jul 1995 x400), {hours:g} h, {load()}")
    figures, wall = run(scenario, report)
    (r_over, r_hours), (p_over, p_hours) = figures["web-reactive"], figures["web-predictive"]
    extra = p_hours - r_hours
    print(
        f"  overload min: reactive {r_over:.2f}, predictive {p_over:.2f}; replica-hours: "
        f"reactive {r_hours:.1f}, predictive {p_hours:.1f}, extra {extra:+.1f} "
        f"({100 * extra / r_hours:+.1f}%)   ({wall:.0f} s wall, {load()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="fit,poll,loop,scenario")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--variant-hours", type=float, default=12.0)
    parser.add_argument("--nodes-hours", type=float, default=10.0)
    parser.add_argument("--report", type=Path, default=None, help="trace: write its report")
    args = parser.parse_args()
    parts = set(args.part.split(","))
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc={os.cpu_count()}, "
        f"Python {platform.python_version()}, {platform.machine()}, affinity "
        f"{sorted(os.sched_getaffinity(0))}"
    )
    model = bench_fit(args.rounds) if parts & {"fit", "poll"} else None
    if "poll" in parts and model is not None:
        bench_poll(model, args.rounds)
    if "loop" in parts:
        bench_loop()
    if "scenario" in parts:
        bench_scenario(args.hours, args.variant_hours)
    if "nodes" in parts:
        bench_nodes(args.nodes_hours)
    if "trace" in parts:
        bench_trace(args.hours, args.report)


if __name__ == "__main__":
    main()
