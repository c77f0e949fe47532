"""The predictive trigger against a real Prometheus holding 8 days of backfilled request-rate
history (``promtool tsdb create-blocks-from openmetrics``, TESTING.md): the trigger fetches its
history in range queries Prometheus accepts, fits a model off the event loop, and at a moment
just before the daily ramp reports the demand it forecasts over its horizon — with the model's
backtest error, measured against what Prometheus really returned, in its details."""

from __future__ import annotations

import math
import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scalers import ScalerEnvironment, ScaleTrigger
from scalers.predictive import PREDICTIVE, ModelCache, PredictiveScaler
from tests.conftest import IN_CI
from tests.fixtures.prometheus import _free_port, _wait_ready

DAY = 86400
METRIC = "podscaler_test_requests_per_second"
#: The backfilled history ends this long before the wall clock (clear of the head block).
HISTORY_LAG_SECONDS = 600
#: The injected "now": the last backfilled sample, which the shape puts at 07:50.
NOW_HOUR = 7 + 50 / 60


def shape(t: float, end: float) -> float:
    """A business day whose 07:50 falls on ``end``: quiet night, a steep ramp at 08:30."""
    hours = ((t - end) / 3600 + NOW_HOUR) % 24
    rise = 1 / (1 + math.exp(-(hours - 8.5) * 4))
    fall = 1 / (1 + math.exp(-(hours - 19) * 2))
    return 80 + 820 * (rise - fall)


@dataclass
class HistoryPrometheus:
    url: str
    end: int  # Unix seconds of the last sample


def _write_history(path: Path, end: int) -> None:
    rng = random.Random(7)
    lines = [f"# TYPE {METRIC} gauge"]
    for minute in range(8 * 1440, -1, -1):
        t = end - 60 * minute
        for pod in ("a", "b"):  # two series: the trigger's query must aggregate
            value = shape(t, end) / 2 * (1 + 0.04 * rng.gauss(0, 1))
            lines.append(f'{METRIC}{{app="web",pod="{pod}"}} {value:.4f} {t}')
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def history_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HistoryPrometheus]:
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if binary is None or promtool is None:
        message = "prometheus/promtool not installed (apt-get install prometheus)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("prometheus-history")
    end = (int(datetime.now(UTC).timestamp()) - HISTORY_LAG_SECONDS) // 60 * 60
    source = workdir / "history.om"
    _write_history(source, end)
    blocks, data_dir = workdir / "blocks", workdir / "data"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h",
         str(source), str(blocks)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    data_dir.mkdir()
    for block in blocks.iterdir():
        shutil.copytree(block, data_dir / block.name)
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = _free_port()
    log = workdir / "prometheus.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=30d"],
            stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log, timeout=60)
        yield HistoryPrometheus(url, end)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _scaler(prometheus: HistoryPrometheus, **metadata: str) -> PredictiveScaler:
    meta = {
        "serverAddress": prometheus.url,
        "query": f'sum({METRIC}{{app="web"}})',
        "threshold": "95",
        "horizon": "10m",
        "timeout": "20s",
        **metadata,
    }
    config = PREDICTIVE.parse(ScaleTrigger(type="predictive", metadata=meta), {}, {})
    now = datetime.fromtimestamp(prometheus.end, UTC)
    env = ScalerEnvironment(now=lambda: now, extras={"forecast_models": ModelCache()})
    return PREDICTIVE.build(config, env)


@pytest.mark.timeout(300)
async def test_fitted_from_real_history_it_reports_the_coming_ramp(
    history_prometheus: HistoryPrometheus,
) -> None:
    scaler = _scaler(history_prometheus)
    try:
        first, _ = await scaler.get_metrics_and_activity("s0-predictive")
        state = await scaler.refit()
        values, active = await scaler.get_metrics_and_activity("s0-predictive")
    finally:
        await scaler.close()
    end = history_prometheus.end
    assert first[0].details is not None
    assert first[0].details["reason"] == "no model yet"
    assert state.error is None, state.error
    details = values[0].details
    assert details is not None
    # The live value is Prometheus' own sum of the two backfilled series at "now".
    assert details["live"] == pytest.approx(shape(end, end), rel=0.1)
    # Seven days (the default window) of one-minute samples, all of them.
    assert details["historySamples"] == 7 * 1440 + 1
    # 4% noise on each of two series: a good profile errs by ~2-3% at ten minutes ahead.
    assert details["backtestMape"] < 0.05
    assert details["liveValueMape"] > details["backtestMape"]
    assert details["used"] == "forecast"
    expected = shape(end + 600, end)
    assert values[0].raw == pytest.approx(expected, rel=0.1)
    assert values[0].raw > 1.2 * details["live"]
    assert active


@pytest.mark.timeout(300)
async def test_eight_days_at_one_minute_take_two_range_queries(
    history_prometheus: HistoryPrometheus,
) -> None:
    """11,521 points are more than Prometheus answers in one query (11,000)."""
    scaler = _scaler(history_prometheus, historyWindow="8d")
    try:
        end = datetime.fromtimestamp(history_prometheus.end, UTC)
        times, values = await scaler.history(end)
        state = await scaler.refit()
    finally:
        await scaler.close()
    assert len(times) == 8 * 1440 + 1
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert times[0] == history_prometheus.end - 8 * DAY
    assert all(v > 0 for v in values)
    assert state.error is None
