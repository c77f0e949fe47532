"""keda.json vectors for the cpu/memory, cron and prometheus triggers, run against ``scalers``.

Parsing vectors go through the registry exactly as the controller will (ScaleTrigger +
resolved env + auth params + trigger index + pod identity). Cron activity runs the built
scaler with the vector's pinned *now* as its clock. Prometheus response and request vectors
take the real HTTP path: a small aiohttp server answers with the vector's status and body
(or records the request), and the scaler queries it with its own client session.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web

from scalers import (
    ScalerConfigError,
    ScalerEnvironment,
    ScalerError,
    ScaleTrigger,
    default_registry,
)
from scalers.cron import CronScaler
from scalers.prometheus import PrometheusScaler, prometheus_activity
from tests.conformance.registry import REL_TOL, Vector, adapter

_REGISTRY = default_registry()
_T = TypeVar("_T")


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coroutine`` on a private loop, leaving the thread's current loop alone (the
    vector test is synchronous; ``asyncio.run`` would replace and orphan pytest's loop)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _trigger(trigger_type: str, inp: dict[str, Any]) -> ScaleTrigger:
    return ScaleTrigger(
        type=trigger_type,
        metadata=dict(inp.get("metadata") or {}),
        metricType=inp.get("metricType") or "",
    )


def _parse(trigger_type: str, inp: dict[str, Any]) -> Any:
    return _REGISTRY.parse(
        _trigger(trigger_type, inp),
        inp.get("resolvedEnv") or {},
        inp.get("authParams") or {},
        trigger_index=int(inp.get("triggerIndex", 0)),
        pod_identity_provider=inp.get("podIdentityProvider") or "",
    )


def _check_parse(trigger_type: str, vector: Vector) -> None:
    expect_error = bool(vector["expected"]["error"])
    message = ""
    try:
        _parse(trigger_type, vector["input"])
    except ScalerConfigError as exc:
        message = str(exc) or type(exc).__name__
    if expect_error:
        assert message, "expected a parse error, metadata was accepted"
    else:
        assert not message, f"unexpected parse error: {message}"


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)


# ------------------------------------------------------------------------------------- cron


@adapter("keda", "cron.parse")
def cron_parse(vector: Vector) -> None:
    _check_parse("cron", vector)


@adapter("keda", "cron.metric_name", "prometheus.metric_name")
def metric_name(vector: Vector) -> None:
    trigger_type = vector["category"].split(".")[0]
    config = _parse(trigger_type, vector["input"])
    scaler = _REGISTRY.build(trigger_type, config, ScalerEnvironment())
    specs = scaler.metric_specs()
    assert len(specs) == 1
    spec = specs[0]
    expected = vector["expected"]
    assert spec.kind == "External"
    assert spec.metric_name == expected["metricName"]
    if "targetType" in expected:
        assert spec.target.type.value == expected["targetType"]
    if "targetAverageValue" in expected:
        assert spec.target.average_value is not None
        assert _close(spec.target.average_value, float(expected["targetAverageValue"]))
    if "targetValue" in expected:
        assert spec.target.value is not None
        assert _close(spec.target.value, float(expected["targetValue"]))
    _run(scaler.close())


@adapter("keda", "cron.activity")
def cron_activity(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    now = datetime.fromisoformat(inp["now"])
    config = _parse("cron", inp)
    scaler = _REGISTRY.build("cron", config, ScalerEnvironment(now=lambda: now))
    assert isinstance(scaler, CronScaler)
    values, active = _run(scaler.get_metrics_and_activity(config.metric_name))
    assert active is expected["isActive"]
    assert len(values) == 1
    assert _close(values[0].value, float(expected["metricValue"]))
    decision = scaler.decide()
    for key, got in (("nextStart", decision.next_start), ("nextEnd", decision.next_end)):
        if key in expected:
            want = expected[key]
            if want is None:
                assert got is None, f"{key}: expected no occurrence, got {got}"
            else:
                assert got == datetime.fromisoformat(want), f"{key}: {got} != {want}"


# ------------------------------------------------------------------------------------- cpu/memory


@adapter("keda", "cpu_memory.parse")
def cpu_memory_parse(vector: Vector) -> None:
    _check_parse(vector["input"].get("type") or "cpu", vector)


@adapter("keda", "cpu_memory.metric_spec")
def cpu_memory_metric_spec(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    trigger_type = inp.get("type") or "cpu"
    config = _parse(trigger_type, inp)
    [spec] = _REGISTRY.build(trigger_type, config, ScalerEnvironment()).metric_specs()
    assert spec.kind == expected["hpaMetricSourceType"]
    assert spec.kind != "External"
    assert spec.resource == expected["resourceName"]
    if "container" in expected:
        assert getattr(spec, "container", None) == expected["container"]
    assert spec.target.type.value == expected["targetType"]
    if "averageUtilization" in expected:
        assert spec.target.average_utilization == expected["averageUtilization"]
    if "averageValue" in expected:
        want = expected["averageValue"]
        if isinstance(want, str):
            assert spec.target.to_hpa()["averageValue"] == want
        else:
            assert spec.target.average_value is not None
            assert _close(spec.target.average_value, float(want))


# ------------------------------------------------------------------------------------- prometheus


@adapter("keda", "prometheus.parse")
def prometheus_parse(vector: Vector) -> None:
    _check_parse("prometheus", vector)


@adapter("keda", "prometheus.auth_parse")
def prometheus_auth_parse(vector: Vector) -> None:
    _check_parse("prometheus", vector)
    inp = vector["input"]
    if vector["expected"]["error"]:
        return
    config = _parse("prometheus", inp)
    modes = {m.value for m in config.auth.modes}
    written = {m.strip() for m in (inp["metadata"].get("authModes") or "").split(",")}
    assert modes == written - {""}, f"auth modes {modes} != {written}"
    for secret in config.auth.secrets():
        # Short test secrets ("pass") occur in field names ("password"); check the rest.
        if len(secret) >= 6:
            assert secret not in repr(config), "a secret leaked into the config's repr"


@adapter("keda", "prometheus.activity")
def prometheus_activity_vector(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    value, active = prometheus_activity(
        float(inp["queryValue"]), float(inp.get("activationThreshold", 0.0))
    )
    assert _close(value, float(expected["metricValue"]))
    assert active is expected["isActive"]


class _FakePrometheus:
    """A one-route Prometheus: answers ``/api/v1/query`` with a fixed status and body and
    records what it was asked."""

    def __init__(self, status: int, body: str) -> None:
        self.status, self.body = status, body
        self.requests: list[web.Request] = []
        self.headers: list[dict[str, str]] = []
        self.queries: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.methods: list[str] = []
        self.query_pairs: list[list[tuple[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        self.queries.append(dict(request.query))
        self.query_pairs.append(list(request.query.items()))
        self.paths.append(request.path)
        self.methods.append(request.method)
        return web.Response(status=self.status, text=self.body, content_type="application/json")

    async def run(
        self, metadata: dict[str, str], path: str = "", *, now: datetime | None = None
    ) -> tuple[float | None, str]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)  # record any method
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            meta = {"query": "up", "threshold": "1", **metadata}
            meta["serverAddress"] = f"http://127.0.0.1:{port}{path}"
            config = _parse("prometheus", {"metadata": meta})
            env = ScalerEnvironment() if now is None else ScalerEnvironment(now=lambda: now)
            scaler = _REGISTRY.build("prometheus", config, env)
            assert isinstance(scaler, PrometheusScaler)
            try:
                return await scaler.execute_query(), ""
            except ScalerError as exc:
                return None, str(exc)
            finally:
                await scaler.close()
        finally:
            await runner.cleanup()


@adapter("keda", "prometheus.response")
def prometheus_response(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    server = _FakePrometheus(int(inp["httpStatus"]), inp["body"])
    metadata = {"ignoreNullValues": "true" if inp.get("ignoreNullValues", True) else "false"}
    if inp.get("unsafeSsl"):
        metadata["unsafeSsl"] = "true"
    value, error = _run(server.run(metadata))
    assert len(server.paths) == 1, "the scaler must query the server exactly once"
    if expected["error"]:
        assert value is None, f"expected an error, got value {value}"
        assert error
    else:
        assert value is not None, f"unexpected error: {error}"
        assert _close(value, float(expected["value"]))


def _kv(mapping: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in mapping.items())


#: The evaluation time the scaler is given in request vectors, and how KEDA writes it
#: (``time.Now().UTC().Format(time.RFC3339)``).
REQUEST_NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
REQUEST_NOW_TEXT = "2026-03-04T05:06:07Z"
_NOW_PLACEHOLDER = "<now UTC RFC3339>"


def _query_pairs(want: dict[str, str] | list[Any] | str) -> list[tuple[str, str]]:
    """Expected query parameters, given as a mapping, pairs or a query string."""
    if isinstance(want, str):
        return parse_qsl(want.lstrip("?"), keep_blank_values=True)
    if isinstance(want, dict):
        return [(str(k), str(v)) for k, v in want.items()]
    return [(str(k), str(v)) for k, v in want]


@adapter("keda", "prometheus.request")
def prometheus_request(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    metadata: dict[str, str] = {}
    if inp.get("customHeaders"):
        metadata["customHeaders"] = _kv(inp["customHeaders"])
    if inp.get("queryParameters"):
        metadata["queryParameters"] = _kv(inp["queryParameters"])
    for key in ("query", "namespace"):
        if inp.get(key):
            metadata[key] = inp[key]
    path = ""
    if inp.get("serverAddressPath"):
        path = inp["serverAddressPath"]
    server = _FakePrometheus(200, inp.get("body", '{"data":{"result":[]}}'))
    value, error = _run(server.run(metadata, path, now=REQUEST_NOW))
    assert value is not None, f"unexpected error: {error}"
    [headers], [pairs], [got_path], [method] = (
        server.headers,
        server.query_pairs,
        server.paths,
        server.methods,
    )
    query = dict(pairs)
    unknown = set(expected) - {"requestHeaders", "method", "path", "queryString"}
    assert not unknown, f"unhandled expectations: {sorted(unknown)}"
    for name, header_value in (expected.get("requestHeaders") or {}).items():
        assert headers.get(name) == header_value, f"header {name}"
    if "method" in expected:
        assert method == expected["method"]
    if "path" in expected:
        assert got_path == expected["path"]
    if "queryString" in expected:
        want = [
            (k, REQUEST_NOW_TEXT if v == _NOW_PLACEHOLDER else v)
            for k, v in _query_pairs(expected["queryString"])
        ]
        # every parameter, each once; the order of distinct names is not part of the contract
        assert sorted(pairs) == sorted(want), (pairs, want)
    assert query.get("time") == REQUEST_NOW_TEXT, "KEDA always sends the evaluation time"
