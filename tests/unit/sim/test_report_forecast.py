"""The report draws a predictive trigger's forecast beside the demand: samples read from the
operator's own metrics exposition (what :mod:`podscaler.sim.scenarios.forecasts` scrapes
during a run), aligned to the run's ticks, drawn on the capacity chart and zoomed where the
forecast leads the demand most."""

from __future__ import annotations

from podscaler.observability.metrics import OperatorMetrics
from podscaler.sim.scenarios.forecasts import ForecastSamples
from podscaler.sim.scenarios.report import render_report
from podscaler.sim.scenarios.runs import RunResult
from podscaler.sim.scenarios.scenario import load_scenario
from podscaler.sim.world.timeline import Timeline

TICK = 15.0


def _exposition(forecast: float, value: float) -> str:
    metrics = OperatorMetrics()
    for name, index, kind, metric, reported, details in (
        ("web-reactive", 0, "cpu", "cpu", 80.0, None),
        ("web-predictive", 1, "predictive", "s1-predictive", value, {"forecast": forecast}),
    ):
        metrics.trigger(
            "shop",
            name,
            index=index,
            trigger_name="",
            trigger_type=kind,
            metric=metric,
            value=reported,
            active=True,
            error=False,
            latency_seconds=0.0,
            details=details,
        )
    return metrics.exposition().decode()


def test_samples_come_from_the_exposition_and_follow_the_ticks() -> None:
    samples = ForecastSamples()
    samples.add_exposition(60.0, _exposition(300.0, 300.0))
    samples.add_exposition(120.0, _exposition(250.0, 410.0))
    assert samples.by_object == {
        "shop/web-predictive": [(60.0, 300.0, 300.0), (120.0, 250.0, 410.0)]
    }
    forecast, value = samples.at_ticks("shop/web-predictive", [0.0, 60.0, 90.0, 120.0, 135.0])
    assert forecast == [None, 300.0, 300.0, 250.0, 250.0]
    assert value == [None, 300.0, 300.0, 410.0, 410.0]
    assert samples.at_ticks("shop/web-reactive", [0.0]) == ([None], [None])


def _run(samples: ForecastSamples) -> RunResult:
    scenario = load_scenario("web-predictive")
    timeline = Timeline()
    end = 4 * 3600.0
    for i in range(int(end // TICK) + 1):
        seconds = i * TICK
        # A ramp at 2h from 100 to 800 req/s; the forecast rises 3 minutes before it.
        demand = 100.0 if seconds < 7200 else 800.0
        ready = 2 if seconds < 7200 + 90 else 8
        workloads = dict.fromkeys(("web-reactive", "web-predictive"), (demand, ready, ready))
        timeline.record(seconds, workloads, 2, 2, 0, {})
    for minute in range(1, int(end // 60) + 1):
        seconds = minute * 60.0
        ahead = 800.0 if seconds >= 7200 - 180 else 100.0
        samples.add_exposition(seconds, _exposition(ahead, ahead))
    return RunResult(
        scenario=scenario,
        timeline=timeline,
        results=[],
        operator_ran=True,
        wall_seconds=1.0,
        end_seconds=end,
        writes=0,
        forecasts=samples,
    )


def _section(page: str, workload: str) -> str:
    start = page.index(f'data-workload="{workload}"')
    return page[start : page.index("</section>", start)]


def test_the_forecast_is_drawn_beside_the_demand_and_zoomed_where_it_leads() -> None:
    page = render_report(_run(ForecastSamples()))
    predictive = _section(page, "web-predictive")
    assert "forecast: the most demand the predictive trigger expects" in predictive
    assert 'stroke="#c2185b"' in predictive  # the forecast's line
    # The zoom: 30 minutes before the largest lead (at 01:57, +700 req/s) to 45 after.
    assert "<h3>Zoomed: 01:27" in predictive
    assert "(+700 req/s at 01:57)" in predictive
    reactive = _section(page, "web-reactive")
    assert "forecast" not in reactive
    assert "Zoomed" not in reactive


def test_without_samples_there_is_no_forecast_to_draw() -> None:
    empty = RunResult(**{**_run(ForecastSamples()).__dict__, "forecasts": ForecastSamples()})
    page = render_report(empty)
    assert "forecast: the most demand" not in page
    assert "Zoomed" not in page
