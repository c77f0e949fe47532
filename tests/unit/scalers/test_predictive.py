"""The predictive trigger: its metadata (defaults, durations with days, the prometheus trigger's
parameters and auth reused, clear errors; a property over arbitrary metadata), the pure
decision (never below the live value, whatever the model says), and the scaler against a fake
Prometheus *server*: the first poll does not wait for the model, the fit happens in the
background from range queries, a rebuilt scaler reuses the model, a failing history keeps the
live value flowing and says why, and a missing scikit-learn is a clear configuration error."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.metrictarget import MetricTargetType
from scalers import ScalerConfigError, ScalerEnvironment, ScaleTrigger, default_registry
from scalers.contract import ExternalMetricSpec
from scalers.forecasting import ForecastModel, ShortHistory, fit_forecaster
from scalers.predictive import (
    PREDICTIVE,
    ModelCache,
    PredictiveConfig,
    PredictiveScaler,
    decide,
    parse_window_seconds,
)

ROOT = Path(__file__).resolve().parents[3]
DAY = 86400.0
NOW = datetime(2026, 1, 12, 7, 50, tzinfo=UTC)  # a Monday, ten minutes before the ramp


def demand(t: float) -> float:
    hours = (t % DAY) / 3600
    rise = 1 / (1 + math.exp(-(hours - 8.5) * 4))
    fall = 1 / (1 + math.exp(-(hours - 19) * 2))
    return 80 + 820 * (rise - fall)


def parse(**metadata: str) -> PredictiveConfig:
    meta = {"serverAddress": "http://prom:9090", "query": "sum(rate(x[1m]))", "threshold": "100"}
    meta.update(metadata)
    return PREDICTIVE.parse(ScaleTrigger(type="predictive", metadata=meta), {}, {})


# ------------------------------------------------------------------------------ metadata


def test_defaults() -> None:
    config = parse()
    assert config.history_window_seconds == 7 * DAY
    assert config.query_step_seconds == 60.0
    assert config.horizon_seconds == 300.0
    assert config.model_refresh_seconds == 3600.0
    assert config.min_history_seconds == DAY
    assert config.threshold == 100.0
    assert config.activation_threshold == 0.0
    assert config.metric_name == "s0-predictive"
    assert config.unexpected_parameters == ()


def test_everything_set() -> None:
    config = PREDICTIVE.parse(
        ScaleTrigger(
            type="predictive",
            metricType="Value",
            metadata={
                "serverAddress": "http://prom:9090",
                "query": "q",
                "threshold": "95.5",
                "activationThreshold": "5",
                "historyWindow": "14d",
                "queryStep": "30s",
                "horizon": "4m30s",
                "modelRefresh": "2h",
                "minHistory": "1d12h",
                "namespace": "tenant",
                "typo": "x",
            },
        ),
        {},
        {},
        trigger_index=3,
    )
    assert config.history_window_seconds == 14 * DAY
    assert config.query_step_seconds == 30.0
    assert config.horizon_seconds == 270.0
    assert config.model_refresh_seconds == 7200.0
    assert config.min_history_seconds == 1.5 * DAY
    assert config.prometheus.namespace == "tenant"
    assert config.metric_name == "s3-predictive"
    assert config.unexpected_parameters == ("typo",)  # historyWindow & co. are not "unexpected"
    scaler = PREDICTIVE.build(config, ScalerEnvironment())
    (spec,) = scaler.metric_specs()
    assert isinstance(spec, ExternalMetricSpec)
    assert spec.metric_name == "s3-predictive"
    assert spec.target.type is MetricTargetType.VALUE
    assert spec.target.value == 95.5


def test_the_prometheus_triggers_auth_is_reused_and_secrets_stay_secret() -> None:
    config = PREDICTIVE.parse(
        ScaleTrigger(
            type="predictive",
            metadata={"serverAddress": "http://p", "query": "q", "threshold": "1"},
        ),
        {},
        {"authModes": "bearer", "bearerToken": "s3cr3t-token"},
    )
    assert config.prometheus.auth.headers() == {"Authorization": "Bearer s3cr3t-token"}
    assert "s3cr3t" not in repr(config)
    assert "s3cr3t" not in config.model_key()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 7 * DAY),
        ("1d12h", 1.5 * DAY),
        ("0.5d", 0.5 * DAY),
        ("90s", 90.0),
        ("1h30m", 5400.0),
        ("60000", 60.0),  # KEDA's integer milliseconds
        ("1d-2h", None),
        ("1d500", None),
        ("d", None),
        ("soon", None),
        ("", None),
    ],
)
def test_durations(text: str, seconds: float | None) -> None:
    assert parse_window_seconds(text) == seconds


@pytest.mark.parametrize(
    ("metadata", "parameter", "message"),
    [
        ({"threshold": ""}, "threshold", "missing required parameter 'threshold'"),
        ({"query": ""}, "query", "missing required parameter 'query'"),
        ({"horizon": "soon"}, "horizon", "expected a duration"),
        ({"horizon": "0s"}, "horizon", "out of range"),
        ({"horizon": "2d"}, "horizon", "out of range"),
        ({"queryStep": "100ms"}, "queryStep", "out of range"),
        ({"modelRefresh": "10s"}, "modelRefresh", "out of range"),
        ({"historyWindow": "90d", "queryStep": "30s"}, "historyWindow", "raise queryStep"),
        ({"minHistory": "8d"}, "minHistory", "longer than historyWindow"),
        ({"historyWindow": "1h"}, "historyWindow", r"shorter than minHistory \(1d, the default\)"),
        ({"threshold": "many"}, "threshold", "expected a number"),
    ],
)
def test_bad_metadata_names_the_parameter(
    metadata: dict[str, str], parameter: str, message: str
) -> None:
    with pytest.raises(ScalerConfigError, match=message) as info:
        parse(**metadata)
    assert info.value.parameter == parameter


_KEYS = st.sampled_from(
    ["historyWindow", "queryStep", "horizon", "modelRefresh", "minHistory", "threshold", "x"]
)
_VALUES = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"[0-9]{1,4}(\.[0-9])?(d|h|m|s|ms)?([0-9]{1,2}(h|m|s))?", fullmatch=True),
)


@settings(deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_any_metadata_parses_or_fails_with_a_config_error(extra: dict[str, str]) -> None:
    meta = {"serverAddress": "http://p", "query": "q", "threshold": "10", **extra}
    failure: ScalerConfigError | None = None
    try:
        config = PREDICTIVE.parse(ScaleTrigger(type="predictive", metadata=meta), {}, {})
    except ScalerConfigError as exc:
        failure = exc
    if failure is not None:
        # A short queryStep makes the default historyWindow too many points, and a long
        # minHistory outgrows the default window: the default is named, as the fix.
        windows = (
            {"historyWindow", "minHistory"} if set(extra) & {"queryStep", "minHistory"} else set()
        )
        assert failure.parameter in set(extra) | {"threshold"} | windows
        return
    assert 1 <= config.query_step_seconds <= 3600
    assert 0 < config.horizon_seconds <= DAY
    assert config.min_history_seconds <= config.history_window_seconds
    assert config.history_window_seconds / config.query_step_seconds <= 100_000


def test_it_is_a_registered_trigger_type() -> None:
    assert default_registry().factory("predictive") is PREDICTIVE


def test_without_scikit_learn_the_trigger_says_what_to_install() -> None:
    """A fresh interpreter in which ``sklearn`` cannot be imported, as on an install without
    the ``ml`` extra; the rest of the scalers package must still load."""
    program = textwrap.dedent(
        """
        import sys

        class NoScikitLearn:
            def find_spec(self, name, path=None, target=None):
                if name == "sklearn" or name.startswith("sklearn."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, NoScikitLearn())
        from scalers import ScalerConfigError, ScaleTrigger, default_registry

        meta = {"serverAddress": "http://p", "query": "q", "threshold": "1"}
        try:
            default_registry().parse(ScaleTrigger(type="predictive", metadata=meta))
        except ScalerConfigError as exc:
            print("ERROR", exc.parameter, exc)
        try:
            import scalers.forecasting
        except ImportError as exc:
            print("IMPORT", exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "ERROR type the predictive trigger needs scikit-learn" in done.stdout
    assert "pip install 'podscaler[ml]'" in done.stdout
    assert "IMPORT predictive scaling needs scikit-learn" in done.stdout


# ------------------------------------------------------------------------------ the decision


def _fitted(noise: float = 0.03) -> ForecastModel:
    rng = np.random.default_rng(5)
    t = NOW.timestamp() - 7 * DAY + np.arange(7 * 1440) * 60.0
    y = np.array([demand(x) for x in t]) * (1 + noise * rng.standard_normal(len(t)))
    model = fit_forecaster(t, y, step_seconds=60.0, horizon_seconds=300.0, min_history_seconds=DAY)
    assert isinstance(model, ForecastModel)
    return model


MODEL = _fitted()
FLAT = fit_forecaster(
    np.arange(2 * 1440) * 60.0,
    np.full(2 * 1440, 7.0),
    step_seconds=60.0,
    horizon_seconds=300.0,
    min_history_seconds=DAY,
)
SHORT = ShortHistory(observed_seconds=3 * 3600, needed_seconds=DAY, samples=180)


@settings(deadline=None)
@given(
    live=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
    model=st.sampled_from([None, SHORT, FLAT, MODEL]),
    offset=st.floats(min_value=0, max_value=14 * DAY),
    horizon=st.floats(min_value=1, max_value=DAY),
)
def test_the_reported_value_is_never_below_the_live_value(
    live: float, model: ForecastModel | ShortHistory | None, offset: float, horizon: float
) -> None:
    decision = decide(live, model, NOW.timestamp() + offset, horizon)
    assert decision.value >= live
    assert decision.live == live
    if decision.source == "live":
        assert decision.value == live


def test_ahead_of_the_ramp_the_forecast_is_reported() -> None:
    live = demand(NOW.timestamp())
    decision = decide(live, MODEL, NOW.timestamp(), 600.0)
    assert decision.source == "forecast"
    assert decision.value == pytest.approx(demand(NOW.timestamp() + 600), rel=0.06)
    assert decision.value > 1.3 * live
    assert "forecast" in decision.reason


def test_the_live_value_wins_when_it_is_higher() -> None:
    evening = NOW.timestamp() + 12 * 3600  # 19:50, demand falling
    decision = decide(demand(evening), MODEL, evening, 300.0)
    assert decision.source == "live"
    assert decision.reason == "the live value is at or above the forecast"


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (None, "no model yet"),
        (SHORT, "history too short: 3h of samples, minHistory is 1d"),
        (FLAT, "the model did not beat the live value on its held-out day"),
    ],
)
def test_without_a_useful_model_the_live_value_is_reported_and_why(
    model: ForecastModel | ShortHistory | None, reason: str
) -> None:
    decision = decide(42.0, model, NOW.timestamp(), 300.0)
    assert (decision.value, decision.source) == (42.0, "live")
    assert decision.reason.startswith(reason)


# ------------------------------------------------------------------------------ the scaler


@dataclass
class FakePrometheus:
    """Prometheus' query API over ``demand``: instant queries and range queries, recording
    what was asked; ``range_status`` makes range queries fail."""

    url: str = ""
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    range_status: int = 200
    history_days: float = 30.0
    now: Callable[[], datetime] = lambda: NOW

    async def query(self, request: web.Request) -> web.Response:
        self.requests.append(("query", dict(request.query), dict(request.headers)))
        # The instant query's time is RFC 3339 (as KEDA sends it).
        t = datetime.fromisoformat(request.query["time"].replace("Z", "+00:00")).timestamp()
        result = [{"metric": {}, "value": [t, repr(demand(t))]}]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    async def query_range(self, request: web.Request) -> web.Response:
        self.requests.append(("range", dict(request.query), dict(request.headers)))
        if self.range_status != 200:
            return web.json_response(
                {"status": "error", "errorType": "internal", "error": "tsdb on fire"},
                status=self.range_status,
            )
        start, end = float(request.query["start"]), float(request.query["end"])
        step = float(request.query["step"].rstrip("s"))
        oldest = self.now().timestamp() - self.history_days * DAY
        values = [
            [t, repr(demand(t))] for t in np.arange(start, end + step / 2, step) if t >= oldest
        ]
        result = [{"metric": {}, "values": values}] if values else []
        return web.json_response(
            {"status": "success", "data": {"resultType": "matrix", "result": result}}
        )


@pytest.fixture
async def prometheus() -> AsyncIterator[FakePrometheus]:
    fake = FakePrometheus()
    app = web.Application()
    app.router.add_get("/api/v1/query", fake.query)
    app.router.add_get("/api/v1/query_range", fake.query_range)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield fake
    await runner.cleanup()


def _scaler(
    prometheus: FakePrometheus, cache: ModelCache | None = None, **metadata: str
) -> PredictiveScaler:
    meta = {"serverAddress": prometheus.url, "query": 'rps{app="web"}', "threshold": "100"}
    meta.update(metadata)
    config = PREDICTIVE.parse(ScaleTrigger(type="predictive", metadata=meta), {}, {})
    extras: dict[str, Any] = {"forecast_models": cache if cache is not None else ModelCache()}
    return PREDICTIVE.build(config, ScalerEnvironment(now=prometheus.now, extras=extras))


async def test_the_first_poll_reports_live_then_the_background_fit_brings_the_forecast(
    prometheus: FakePrometheus,
) -> None:
    scaler = _scaler(prometheus, horizon="10m", namespace="tenant")
    try:
        values, active = await scaler.get_metrics_and_activity("s0-predictive")
        live = demand(NOW.timestamp())
        assert values[0].value == pytest.approx(live, abs=0.001)
        assert active
        details = values[0].details
        assert details is not None
        assert (details["used"], details["reason"]) == ("live", "no model yet")
        assert "refitting" in details["summary"]
        state = await scaler.refit()
        assert state.error is None
        values, _ = await scaler.get_metrics_and_activity("s0-predictive")
    finally:
        await scaler.close()
    details = values[0].details
    assert details is not None
    assert details["used"] == "forecast"
    assert values[0].raw == pytest.approx(demand(NOW.timestamp() + 600), rel=0.05)
    assert details["live"] == pytest.approx(live)
    assert details["fittedAt"] == "2026-01-12T07:50:00Z"
    assert 0 <= details["backtestMape"] < 0.02
    assert details["liveValueMape"] > details["backtestMape"]
    assert details["historySamples"] == 7 * 1440 + 1
    assert details["model"].startswith(("ridge", "boosted"))
    assert "backtest MAE " in details["summary"]
    assert ", MAPE " in details["summary"]
    assert details["liveValueMae"] > details["backtestMae"]
    # The fit's CPU time, the forecast over the horizon and the status part.
    assert 0 < details["fitSeconds"] < 60
    points = details["forecastOverHorizon"]
    assert [p["inSeconds"] for p in points] == [0.0, 120.0, 300.0, 480.0, 600.0]
    assert points[-1]["value"] == pytest.approx(details["forecastAtHorizon"])
    assert max(p["value"] for p in points) <= details["forecast"] + 1e-9
    assert "; forecast over the horizon: " in details["summary"]
    assert " now, " in details["summary"]
    assert " at +10m — " in details["summary"]
    assert f" in {details['fitSeconds']:.2f}s" in details["summary"]
    status = details["forecastStatus"]
    assert status == {
        "model": details["model"],
        "used": True,
        "historySamples": 7 * 1440 + 1,
        "backtestMape": float(f"{details['backtestMape']:.4g}"),
        "backtestMae": float(f"{details['backtestMae']:.4g}"),
        "liveValueMape": float(f"{details['liveValueMape']:.4g}"),
        "fittedAt": "2026-01-12T07:50:00Z",
        "fitSeconds": round(details["fitSeconds"], 3),
    }
    json.dumps(details)  # served as JSON by /debug/decisions
    # History came in range queries of at most 11,000 points, with the trigger's namespace.
    ranges = [params for kind, params, _ in prometheus.requests if kind == "range"]
    assert len(ranges) == 2
    for params in ranges:
        points = (float(params["end"]) - float(params["start"])) / 60 + 1
        assert points <= 11_000
        assert params["namespace"] == "tenant"
        assert params["step"] == "60s"
    assert float(ranges[0]["start"]) == NOW.timestamp() - 7 * DAY
    assert float(ranges[-1]["end"]) == NOW.timestamp()


async def test_polls_never_wait_for_a_fit(prometheus: FakePrometheus) -> None:
    """A slow history (each range query held until released) does not slow the polls."""
    release = asyncio.Event()
    original = prometheus.query_range

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return await original(request)

    prometheus.query_range = slow  # type: ignore[method-assign]
    scaler = _scaler(prometheus)
    try:
        for _ in range(5):
            async with asyncio.timeout(5):
                values, _ = await scaler.get_metrics_and_activity("s0-predictive")
            assert values[0].details is not None
            assert values[0].details["reason"] == "no model yet"
        assert scaler.model_state().fitting
    finally:
        release.set()
        await scaler.close()


async def test_a_rebuilt_scaler_reuses_the_model(prometheus: FakePrometheus) -> None:
    cache = ModelCache()
    first = _scaler(prometheus, cache)
    await first.refit()
    await first.close()
    asked = len(prometheus.requests)
    second = _scaler(prometheus, cache)
    try:
        values, _ = await second.get_metrics_and_activity("s0-predictive")
    finally:
        await second.close()
    assert values[0].details is not None
    assert "model" in values[0].details
    assert len(prometheus.requests) == asked + 1  # the live query only: no refit
    assert len(cache) == 1


async def test_refits_follow_model_refresh(prometheus: FakePrometheus) -> None:
    clock = {"now": NOW}
    prometheus.now = lambda: clock["now"]
    scaler = _scaler(prometheus, modelRefresh="30m")
    try:
        await scaler.refit()
        fitted = scaler.model_state().fitted_at
        clock["now"] = NOW + timedelta(minutes=29)
        await scaler.get_metrics_and_activity("s0-predictive")
        assert not scaler.model_state().fitting
        clock["now"] = NOW + timedelta(minutes=30)
        await scaler.get_metrics_and_activity("s0-predictive")
        assert scaler.model_state().fitting
        await scaler.refit()
    finally:
        await scaler.close()
    assert scaler.model_state().fitted_at == NOW + timedelta(minutes=30) != fitted


async def test_a_failing_history_keeps_the_live_value_and_says_why(
    prometheus: FakePrometheus,
) -> None:
    prometheus.range_status = 503
    scaler = _scaler(prometheus)
    try:
        state = await scaler.refit()
        values, _ = await scaler.get_metrics_and_activity("s0-predictive")
    finally:
        await scaler.close()
    assert state.error is not None
    assert "status: 503" in state.error
    assert "tsdb on fire" in state.error
    assert values[0].raw == pytest.approx(demand(NOW.timestamp()))
    details = values[0].details
    assert details is not None
    assert details["used"] == "live"
    assert "last refit failed: history: prometheus range query api" in details["summary"]
    assert details["forecastStatus"]["lastError"] == state.error
    assert "fitSeconds" not in details


async def test_short_history_reports_live_and_says_how_much(prometheus: FakePrometheus) -> None:
    prometheus.history_days = 0.25
    scaler = _scaler(prometheus)
    try:
        await scaler.refit()
        values, _ = await scaler.get_metrics_and_activity("s0-predictive")
    finally:
        await scaler.close()
    details = values[0].details
    assert details is not None
    assert details["used"] == "live"
    assert details["reason"] == "history too short: 6h1m of samples, minHistory is 1d"


async def test_auth_headers_go_with_every_query(prometheus: FakePrometheus) -> None:
    meta = {"serverAddress": prometheus.url, "query": "q", "threshold": "1"}
    config = PREDICTIVE.parse(
        ScaleTrigger(type="predictive", metadata=meta),
        {},
        {"authModes": "bearer", "bearerToken": "tok-123"},
    )
    scaler = PREDICTIVE.build(
        config, ScalerEnvironment(now=lambda: NOW, extras={"forecast_models": ModelCache()})
    )
    try:
        await scaler.get_metrics_and_activity("s0-predictive")
        await scaler.refit()
    finally:
        await scaler.close()
    assert {kind for kind, _, _ in prometheus.requests} == {"query", "range"}
    for _, _, headers in prometheus.requests:
        assert headers["Authorization"] == "Bearer tok-123"
