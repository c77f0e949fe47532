"""The prometheus trigger against a real Prometheus: live scraped values, backfilled history
queried at an injected time, KEDA's handling of empty, multiple, NaN/Inf and scalar results
as Prometheus really returns them, and failures (bad PromQL, server down, slow, 5xx, garbage)
as ScalerErrors with messages a user can act on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web

from scalers import ScalerEnvironment, ScalerError, ScaleTrigger
from scalers.prometheus import PROMETHEUS, PrometheusScaler
from tests.fixtures.prometheus import PrometheusServer


def _scaler(
    url: str, query: str, *, now: datetime | None = None, **metadata: str
) -> PrometheusScaler:
    meta = {"serverAddress": url, "query": query, "threshold": "10", **metadata}
    config = PROMETHEUS.parse(ScaleTrigger(type="prometheus", metadata=meta), {}, {})
    env = ScalerEnvironment(now=(lambda: now) if now else ScalerEnvironment().now)
    return PROMETHEUS.build(config, env)


async def _value(url: str, query: str, **kwargs: object) -> float:
    scaler = _scaler(url, query, **kwargs)  # type: ignore[arg-type]
    try:
        return await scaler.execute_query()
    finally:
        await scaler.close()


async def test_live_value_and_activity(prometheus_server: PrometheusServer) -> None:
    scaler = _scaler(prometheus_server.url, "podscaler_test_queue_depth", activationThreshold="5")
    values, active = await scaler.get_metrics_and_activity("s0-prometheus")
    assert (values[0].value, active) == (42.0, True)
    # The next scrapes pick up a new value; poll the scaler itself until it sees it.
    prometheus_server.exporter.gauges["podscaler_test_queue_depth"] = 3.0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        values, active = await scaler.get_metrics_and_activity("s0-prometheus")
        if values[0].value == 3.0 or loop.time() > deadline:
            break
        await asyncio.sleep(0.2)
    await scaler.close()
    assert (values[0].value, active) == (3.0, False)
    prometheus_server.exporter.gauges["podscaler_test_queue_depth"] = 42.0


async def test_backfilled_history_at_the_injected_time(
    prometheus_server: PrometheusServer,
) -> None:
    start = prometheus_server.history_start
    # 30 minutes into the history (plus 20 s: inside the 5-minute lookback of that sample).
    at = datetime.fromtimestamp(start + 30 * 60 + 20, UTC)
    query = 'podscaler_test_history{source="backfill"}'
    assert await _value(prometheus_server.url, query, now=at) == 30.0
    rate = f"sum(delta({query}[10m]))"
    assert await _value(prometheus_server.url, rate, now=at) == pytest.approx(10.0, rel=0.2)


async def test_empty_result(prometheus_server: PrometheusServer) -> None:
    assert await _value(prometheus_server.url, "absent_metric_xyz") == 0.0
    with pytest.raises(ScalerError, match="result is empty"):
        await _value(prometheus_server.url, "absent_metric_xyz", ignoreNullValues="false")


async def test_several_series_are_refused(prometheus_server: PrometheusServer) -> None:
    query = (
        'label_replace(vector(1), "x", "a", "", "") or label_replace(vector(2), "x", "b", "", "")'
    )
    with pytest.raises(ScalerError, match="returned multiple elements"):
        await _value(prometheus_server.url, query)


async def test_nan_and_inf_as_keda(prometheus_server: PrometheusServer) -> None:
    url = prometheus_server.url
    assert await _value(url, "vector(0) / 0") == 0.0
    assert await _value(url, "vector(1) / 0") == 0.0
    with pytest.raises(ScalerError, match="returns NaN"):
        await _value(url, "vector(0) / 0", ignoreNullValues="false")
    with pytest.raises(ScalerError, match=r"returns \+Inf"):
        await _value(url, "vector(1) / 0", ignoreNullValues="false")


async def test_scalar_results_are_refused_like_keda(prometheus_server: PrometheusServer) -> None:
    with pytest.raises(ScalerError, match=r"data\.result"):
        await _value(prometheus_server.url, "scalar(vector(3))")


async def test_bad_promql_reports_prometheus_reason(prometheus_server: PrometheusServer) -> None:
    with pytest.raises(ScalerError, match=r"status: 400 \(.*parse error"):
        await _value(prometheus_server.url, "sum(")


async def test_server_down(prometheus_server: PrometheusServer) -> None:
    with pytest.raises(ScalerError, match=r"prometheus query to http://127\.0\.0\.1:1 failed"):
        await _value("http://127.0.0.1:1", "up")


# ---------------------------------------------------------------- broken servers in front


@pytest.fixture
async def broken_server() -> AsyncIterator[dict[str, object]]:
    """A server that misbehaves as told: ``{"status": 500}``, ``{"body": "..."}`` or
    ``{"delay": seconds}``; the rest of the time it proxies nothing and says ``{}``."""
    behaviour: dict[str, object] = {}

    async def handle(request: web.Request) -> web.Response:
        delay = behaviour.get("delay")
        if isinstance(delay, float):
            await asyncio.sleep(delay)
        status = behaviour.get("status", 200)
        body = behaviour.get("body", "{}")
        assert isinstance(status, int)
        assert isinstance(body, str)
        return web.Response(status=status, text=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/query", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    behaviour["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield behaviour
    await runner.cleanup()


async def test_http_500(broken_server: dict[str, object]) -> None:
    broken_server["status"] = 500
    with pytest.raises(ScalerError, match=r"returned error\. status: 500"):
        await _value(str(broken_server["url"]), "up")


async def test_garbage_json(broken_server: dict[str, object]) -> None:
    broken_server["body"] = "<html>502 Bad Gateway</html>"
    with pytest.raises(ScalerError, match="not valid JSON"):
        await _value(str(broken_server["url"]), "up")


async def test_slow_server(broken_server: dict[str, object]) -> None:
    broken_server["delay"] = 2.0
    with pytest.raises(ScalerError, match=r"timed out after 0\.2s"):
        await _value(str(broken_server["url"]), "up", timeout="200ms")
