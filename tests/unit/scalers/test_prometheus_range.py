"""Range queries of the Prometheus client (the predictive trigger's history): the request it
sends, how a ``matrix`` answer is decoded (and which answers are errors), and that a body of
megabytes is read whole, not cut at the first chunk the network delivered."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from scalers import ScalerEnvironment, ScalerError, ScaleTrigger
from scalers.prometheus import PROMETHEUS, PrometheusScaler, parse_range_response

START = datetime(2026, 1, 5, tzinfo=UTC)
END = datetime(2026, 1, 6, tzinfo=UTC)


def matrix(*series: list[list[object]]) -> str:
    result = ",".join(f'{{"metric":{{}},"values":{json.dumps(values)}}}' for values in series)
    return f'{{"status":"success","data":{{"resultType":"matrix","result":[{result}]}}}}'


def test_samples_are_pairs_of_unix_seconds_and_values() -> None:
    body = matrix([[1767571200, "1.5"], [1767571260.5, "2"], [1767571320, "NaN"]])
    samples = parse_range_response(body)
    assert samples[:2] == [(1767571200.0, 1.5), (1767571260.5, 2.0)]
    assert math.isnan(samples[2][1])  # kept: the model drops it


@pytest.mark.parametrize(
    "body", ['{"status":"success","data":{"resultType":"matrix","result":[]}}', "{}", "null"]
)
def test_no_series_is_an_empty_history(body: str) -> None:
    assert parse_range_response(body) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (matrix([[1, "1"]], [[1, "2"]]), "multiple series .2.; aggregate it"),
        ('{"data":{"resultType":"vector","result":[]}}', "expected a matrix"),
        (matrix([[1, "x"]]), "error converting"),
        (matrix([[1, 2]]), "error converting"),
        (matrix([["1", "2"]]), "time must be a number"),
        (matrix([[1]]), r"\[time, value\] pairs"),
        ('{"data":{"result":{}}}', "must be an array"),
        ("<html>", "not valid JSON"),
    ],
)
def test_what_is_an_error(body: str, message: str) -> None:
    with pytest.raises(ScalerError, match=message):
        parse_range_response(body, query="q")


def _scaler(url: str, **metadata: str) -> PrometheusScaler:
    meta = {"serverAddress": url, "query": "sum(rate(x[1m]))", "threshold": "1", **metadata}
    config = PROMETHEUS.parse(ScaleTrigger(type="prometheus", metadata=meta), {}, {})
    return PROMETHEUS.build(config, ScalerEnvironment(now=lambda: END))


def test_the_range_request() -> None:
    scaler = _scaler("http://prom:9090/", namespace="team-a", queryParameters="dedup=false")
    url = scaler.range_request_url(START, END, 60.0)
    assert url.path == "/api/v1/query_range"
    assert parse_qsl(url.raw_query_string) == [
        ("query", "sum(rate(x[1m]))"),
        ("start", "1767571200"),
        ("end", "1767657600"),
        ("step", "60s"),
        ("namespace", "team-a"),
        ("dedup", "false"),
    ]
    fractional = scaler.range_request_url(START.replace(microsecond=250_000), END, 0.5)
    assert ("start", "1767571200.25") in parse_qsl(fractional.raw_query_string)
    assert ("step", "0.5s") in parse_qsl(fractional.raw_query_string)


@pytest.fixture
async def big_history() -> AsyncIterator[str]:
    """A server answering every range query with ~40,000 samples (about 1.3 MB)."""
    values = [[1767571200 + 15 * i, f"{i}.25"] for i in range(40_000)]
    body = matrix(values)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/query_range", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_a_large_answer_is_read_whole(big_history: str) -> None:
    scaler = _scaler(big_history)
    try:
        samples = await scaler.execute_range_query(START, END, 15.0)
    finally:
        await scaler.close()
    assert len(samples) == 40_000
    assert samples[-1] == (1767571200 + 15 * 39_999, 39_999.25)


async def test_a_refused_range_query_names_the_server_and_the_error() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "error", "errorType": "bad_data", "error": "exceeded maximum resolution"},
            status=400,
        )

    app = web.Application()
    app.router.add_get("/api/v1/query_range", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    scaler = _scaler(url)
    try:
        with pytest.raises(ScalerError) as info:
            await scaler.execute_range_query(START, END, 1.0)
    finally:
        await scaler.close()
        await runner.cleanup()
    assert str(info.value) == (
        f"prometheus range query api at {url} returned error. status: 400 "
        "(exceeded maximum resolution)"
    )
