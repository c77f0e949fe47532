"""The world's Prometheus query API over the simulated apps' metrics: the PromQL subset it
reads (and what it refuses, in Prometheus' error shape), lookback and range semantics,
pre-filled history; served over HTTP on the run's clock to the real Prometheus client of the
triggers; and the run figures built on the same timeline (overload minutes, replica-hours)."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from podscaler.sim.clock import SimulatedClock
from podscaler.sim.scenarios.assertions import BadAssertion, parse_assertion
from podscaler.sim.scenarios.scenario import ScenarioError, load_scenario, parse_scenario
from podscaler.sim.world.appmetrics import AppMetricsServer
from podscaler.sim.world.appqueries import (
    AppSeries,
    QueryError,
    parse_query,
    parse_step,
    parse_time,
)
from podscaler.sim.world.capacity import overload_minutes, per_pod_capacity, replica_hours
from podscaler.sim.world.load import Diurnal, UsageModel
from podscaler.sim.world.profiles import Profiles, WorkloadProfile
from podscaler.sim.world.timeline import Timeline
from scalers import ScalerEnvironment, ScaleTrigger
from scalers.prometheus import PROMETHEUS
from tests.unit.sim.world.conftest import deployment, make_world, simulate

DAY = 86400.0


# ------------------------------------------------------------------------------ PromQL


def test_selectors_and_aggregations() -> None:
    query = parse_query('sum( rps{ns="shop", app=~"web-.*",tier!="db", x!~"a|b",} )')
    assert query.aggregate == "sum"
    assert query.selector.metric == "rps"
    assert [(m.label, m.op, m.value) for m in query.selector.matchers] == [
        ("ns", "=", "shop"),
        ("app", "=~", "web-.*"),
        ("tier", "!=", "db"),
        ("x", "!~", "a|b"),
    ]
    assert parse_query("up").selector.matchers == ()
    assert parse_query('m{a="say \\"hi\\", ok"}').selector.matchers[0].value == 'say "hi", ok'


@pytest.mark.parametrize(
    "query",
    ["rate(x[1m])", "sum by (a) (x)", "x + 1", "x{a=b}", 'x{a~"b"}', 'x{a=~"("}', "", "1x"],
)
def test_what_it_does_not_read_is_bad_data(query: str) -> None:
    with pytest.raises(QueryError):
        parse_query(query)


def test_times_and_steps() -> None:
    assert parse_time("1767571200.5", "time") == 1767571200.5
    assert parse_time("2026-01-05T00:00:00Z", "time") == 1767571200.0
    assert parse_step("60s") == parse_step("1m") == parse_step("60") == 60.0
    assert parse_step("1h30m") == 5400.0
    for bad in ("soon", "2026-01-05T00:00:00"):
        with pytest.raises(QueryError):
            parse_time(bad, "time")
    with pytest.raises(QueryError):
        parse_step("1x")


def _series() -> AppSeries:
    series = AppSeries()
    for t in range(0, 600, 15):
        series.record(1000.0 + t, "rps", {"workload": "a"}, float(t))
        series.record(1000.0 + t, "rps", {"workload": "b"}, 1.0)
    return series


def test_an_instant_query_sees_the_latest_sample_within_five_minutes() -> None:
    series = _series()
    data = series.instant('rps{workload="a"}', 1100.0)
    assert data["resultType"] == "vector"
    assert data["result"] == [
        {"metric": {"__name__": "rps", "workload": "a"}, "value": [1100, "90.0"]}
    ]
    assert series.instant('rps{workload="a"}', 1585.0 + 299)["result"][0]["value"][1] == "585.0"
    assert series.instant('rps{workload="a"}', 1585.0 + 300)["result"] == []  # too old
    assert series.instant('rps{workload="a"}', 999.0)["result"] == []  # before the first
    assert series.instant("sum(rps)", 1100.0)["result"] == [{"metric": {}, "value": [1100, "91.0"]}]
    assert series.instant("count(rps)", 1100.0)["result"][0]["value"][1] == "2.0"


def test_a_range_query_is_a_matrix_of_instant_evaluations() -> None:
    data = _series().range('rps{workload=~"a"}', 1000.0, 1120.0, 60.0)
    assert data["resultType"] == "matrix"
    (only,) = data["result"]
    assert only["values"] == [[1000, "0.0"], [1060, "60.0"], [1120, "120.0"]]
    with pytest.raises(QueryError, match="exceeded maximum resolution of 11,000 points"):
        _series().range("rps", 0.0, 11_000.0, 1.0)
    with pytest.raises(QueryError, match="end timestamp must not be before start"):
        _series().range("rps", 10.0, 5.0, 1.0)


def test_prefill_writes_history_before_the_end() -> None:
    series = AppSeries()
    written = series.prefill(
        "rps", {"w": "x"}, lambda t: t / 60, end=6000.0, seconds=600.0, step=60.0
    )
    assert written == 10
    data = series.range("rps", 5400.0, 5940.0, 60.0)
    assert [v for _, v in data["result"][0]["values"]] == [
        repr(t / 60) for t in range(5400, 6000, 60)
    ]
    series.record(6000.0, "rps", {"w": "x"}, -1.0)  # the run's first tick follows on
    assert series.instant("rps", 6000.0)["result"][0]["value"][1] == "-1.0"


# ------------------------------------------------------------------------------ over HTTP


def test_the_world_answers_the_prometheus_client_on_the_runs_clock() -> None:
    async def body(clock: SimulatedClock) -> None:
        profiles = Profiles()
        curve = Diurnal(base=300.0, amplitude=200.0, peak_at_seconds=14 * 3600)
        profiles.set("default", "web", WorkloadProfile(demand=curve))
        world = make_world(clock, profiles=profiles)
        server = AppMetricsServer(world, now=clock.now)
        await server.start()
        scaler = None
        try:
            assert server.prefill(2 * DAY, 60.0) == 2 * 1440
            world.ctx.writer.create(world.ctx.kinds.deployments, deployment("web", 1), "default")
            await world.run(until_seconds=120, on_tick=lambda _: server.observe())
            meta = {
                "serverAddress": server.base_url,
                "query": 'sim_app_requests_per_second{namespace="default",workload="web"}',
                "threshold": "10",
            }
            config = PROMETHEUS.parse(ScaleTrigger(type="prometheus", metadata=meta), {}, {})
            scaler = PROMETHEUS.build(config, ScalerEnvironment(now=clock.now))
            live = await scaler.execute_query()
            now = clock.now()
            history = await scaler.execute_range_query(now - timedelta(days=1), now, 60.0)
            async with aiohttp.ClientSession() as session:
                bad = await session.get(f"{server.base_url}/api/v1/query", params={"query": "1+"})
                refused = await bad.json()
                posted = await session.post(
                    f"{server.base_url}/api/v1/query",
                    data={"query": "sim_app_ready_pods", "time": str(now.timestamp())},
                )
                ready = await posted.json()
        finally:
            if scaler is not None:
                await scaler.close()
            await server.stop()
            await world.stop()
        seconds = world.seconds()
        # The query's time is whole seconds: it sees the last tick at or before it.
        ticks = [curve.demand_at(seconds - back) for back in (0.0, 15.0)]
        assert min(abs(live - tick) for tick in ticks) < 1e-6
        assert len(history) == 1441
        # Yesterday's samples are the curve a day before the start, as if scraped then.
        t0, v0 = history[0]
        assert t0 == pytest.approx(now.timestamp() - DAY)
        assert v0 == pytest.approx(curve.demand_at(seconds - DAY), abs=3.0)
        assert bad.status == 400
        assert refused["status"] == "error"
        assert refused["errorType"] == "bad_data"
        assert ready["data"]["result"][0]["value"][1] == "1.0"

    simulate(body)


# ------------------------------------------------------------------------------ run figures


def _timeline(per_pod: float | None = 100.0) -> Timeline:
    timeline = Timeline()
    if per_pod is not None:
        timeline.capacity_per_pod["web"] = per_pod
    # (demand, desired, ready) one minute apart: overloaded at minutes 1 and 2; at minute 4
    # nothing is Ready (unserved, not overloaded).
    for minute, sample in enumerate(
        [(50, 1, 1), (150, 2, 1), (250, 3, 2), (250, 3, 3), (90, 3, 0)]
    ):
        timeline.record(
            minute * 60.0, {"web": (float(sample[0]), sample[1], sample[2])}, 1, 1, 0, {}
        )
    timeline.record(300.0, {"web": (0.0, 1, 1)}, 1, 1, 0, {})
    return timeline


def test_overload_minutes_count_demand_above_ready_capacity() -> None:
    assert overload_minutes(_timeline(), "web") == 2.0
    assert overload_minutes(_timeline(per_pod=None), "web") == 0.0
    assert overload_minutes(_timeline(), "other") == 0.0


def test_replica_hours_integrate_the_replicas_asked_for() -> None:
    assert replica_hours(_timeline(), "web") == pytest.approx((1 + 2 + 3 + 3 + 3) / 60)


def test_per_pod_capacity_is_where_cpu_reaches_its_limit() -> None:
    template = deployment("web", 1)["spec"]["template"]
    template["spec"]["containers"][0]["resources"]["limits"] = {"cpu": "500m"}
    usage = UsageModel(cpu_base_millicores=20, cpu_millicores_per_unit=4)
    assert per_pod_capacity(template, usage) == 120.0
    assert per_pod_capacity(deployment("web", 1)["spec"]["template"], usage) is None
    assert per_pod_capacity(template, UsageModel()) is None


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("overload_minutes(web) == 2", True),
        ("overload_minutes(web) < 2", False),
        ("replica_hours(web) < 0.3", True),
    ],
)
def test_the_figures_as_assertions(text: str, ok: bool) -> None:
    assert parse_assertion(text).check(_timeline(), 360.0).ok is ok


@pytest.mark.parametrize("text", ["overload_minutes() < 3", "replica_hours(web) < 3 at 5m"])
def test_figure_assertions_need_a_workload_and_no_window(text: str) -> None:
    with pytest.raises(BadAssertion):
        parse_assertion(text)


# ------------------------------------------------------------------------------ scenarios


def test_app_metrics_history_in_a_scenario() -> None:
    scenario = parse_scenario({"tick": "30s", "appMetrics": {"history": "7d"}})
    assert scenario.app_metrics
    assert scenario.app_metrics_history_seconds == 7 * DAY
    assert scenario.app_metrics_history_step == 30.0  # the tick, unless historyStep says
    assert parse_scenario({"appMetrics": True}).app_metrics_history_seconds == 0.0
    with pytest.raises(ScenarioError, match=r"^appMetrics: unknown field"):
        parse_scenario({"appMetrics": {"histroy": "7d"}})
    with pytest.raises(ScenarioError, match=r"^appMetrics.history"):
        parse_scenario({"appMetrics": {"history": "a week"}})


def test_the_builtin_predictive_scenario_wires_its_trigger_to_the_world() -> None:
    scenario = load_scenario("web-predictive")
    assert {w.name for w in scenario.workloads} == {"web-reactive", "web-predictive"}
    reactive, predictive = scenario.workloads
    assert reactive.profile.demand == predictive.profile.demand
    assert reactive.profile.start_seconds + reactive.profile.ready_seconds == 90.0
    (so,) = [o for o in scenario.objects if o["metadata"]["name"] == "web-predictive"]
    trigger = so["spec"]["triggers"][1]
    assert trigger["type"] == "predictive"
    assert trigger["metadata"]["serverAddress"] == "${appMetrics.url}"
    assert scenario.app_metrics_history_seconds == 7 * DAY
