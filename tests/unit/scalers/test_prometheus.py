"""The prometheus trigger: response decoding as KEDA's ExecutePromQuery, the request it sends
(URL, parameters, headers, auth) to a fake Prometheus *server*, failures as ScalerErrors with
clear messages, TLS client auth, session reuse, and secrets kept out of reprs and errors."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import trustme
from aiohttp import web

from scalers import ScalerConfigError, ScalerEnvironment, ScalerError, ScaleTrigger
from scalers.contract import HTTPSessionPool
from scalers.prometheus import (
    PROMETHEUS,
    PrometheusConfig,
    PrometheusScaler,
    parse_go_float,
    parse_query_response,
)

NOW = datetime(2026, 8, 20, 10, 30, 15, tzinfo=UTC)
OK_BODY = '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"42.5"]}]}}'  # noqa: E501


def parse(body: str, ignore: bool = True) -> float:
    return parse_query_response(body.encode(), ignore_null_values=ignore, query="q")


# ------------------------------------------------------------------------------ decoding


@pytest.mark.parametrize(
    ("body", "ignore", "value"),
    [
        ("{}", True, 0.0),
        ("null", True, 0.0),
        ('{"data":null}', True, 0.0),
        ('{"data":{"result":[]}}', True, 0.0),
        ('{"data":{"result":[{"value":[]}]}}', True, 0.0),
        ('{"data":{"result":[{"value":["1","2"]}]}}', True, 2.0),
        ('{"data":{"result":[{"value":["1","2","3"]}]}}', True, 2.0),
        ('{"data":{"result":[{"value":["1",null]}]}}', True, -1.0),
        ('{"data":{"result":[{"value":["1",null]}]}}', False, -1.0),
        ('{"data":{"result":[{"value":["1","+Inf"]}]}}', True, 0.0),
        ('{"data":{"result":[{"value":["1","NaN"]}]}}', True, 0.0),
        ('{"data":{"result":[{"value":["1","-3.5"]}]}}', False, -3.5),
        ('{"data":{"result":[{"value":["1","1e3"]}]}}', False, 1000.0),
        ('{"DATA":{"Result":[{"VALUE":["1","7"]}]}}', False, 7.0),  # Go matches keys loosely
        (OK_BODY, False, 42.5),
    ],
)
def test_values_as_keda_computes_them(body: str, ignore: bool, value: float) -> None:
    assert parse(body, ignore) == value


@pytest.mark.parametrize(
    ("body", "ignore", "message"),
    [
        ('{"data":{"result":[]}}', False, "result is empty"),
        ('{"data":{"result":[{"value":[]}]}}', False, "value list is empty"),
        ('{"data":{"result":[{"value":["1"]}]}}', True, "didn't return enough values"),
        ('{"data":{"result":[{},{}]}}', True, "returned multiple elements"),
        ('{"data":{"result":[{"value":["1","+Inf"]}]}}', False, r"returns \+Inf"),
        ('{"data":{"result":[{"value":["1","NaN"]}]}}', False, "returns NaN"),
        ('{"data":{"result":[{"value":["1","abc"]}]}}', True, "error converting"),
        ('{"data":{"result":[{"value":["1","1e400"]}]}}', True, "error converting"),
        ('{"data":{"result":[{"value":["1",2]}]}}', True, "must be a string"),
        ('{"data":{"result":{}}}', True, "must be an array"),
        ('{"data":"x"}', True, "must be an object"),
        ('{"status":1}', True, "must be a string"),
        ("[]", True, "must be an object"),
        ("<html>bad gateway</html>", True, "not valid JSON"),
        ('{"data": NaN}', True, "not valid JSON"),
        ("", True, "not valid JSON"),
    ],
)
def test_bad_responses_are_scaler_errors(body: str, ignore: bool, message: str) -> None:
    with pytest.raises(ScalerError, match=message):
        parse(body, ignore)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1.0), ("+Inf", float("inf")), ("-inf", float("-inf")), (".5", 0.5), ("5.", 5.0),
     ("0x1p-2", 0.25), ("1E3", 1000.0), ("1e-400", 0.0)],
)  # fmt: skip
def test_go_parse_float(text: str, value: float) -> None:
    assert parse_go_float(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1_000", "0x10", "+nan", "1e400", "one", "1,5"])
def test_go_parse_float_refuses(text: str) -> None:
    assert parse_go_float(text) is None


# ------------------------------------------------------------------------------ fake server


@dataclass
class FakePrometheus:
    """A tiny Prometheus HTTP API: answers with ``status``/``body`` after ``delay``."""

    status: int = 200
    body: str = OK_BODY
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    connections: set[tuple[str, int]] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.connections.add(tuple(peer[:2]))
        self.requests.append(
            {"path": request.path, "query": dict(request.query), "headers": dict(request.headers)}
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.status, text=self.body, content_type="application/json")


async def _serve(
    fake: FakePrometheus, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[FakePrometheus]:
    app = web.Application()
    app.router.add_get("/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
async def prom() -> AsyncIterator[FakePrometheus]:
    async for fake in _serve(FakePrometheus()):
        yield fake


def _config(
    address: str, auth: dict[str, str] | None = None, metric_type: str = "", **metadata: str
) -> PrometheusConfig:
    meta = {"serverAddress": address, "query": 'sum(rate(x{a="b & c"}[1m]))', "threshold": "10"}
    meta.update(metadata)
    trigger = ScaleTrigger(type="prometheus", metadata=meta, metricType=metric_type)
    return PROMETHEUS.parse(trigger, {}, auth or {}, trigger_index=2)


def _scaler(
    config: PrometheusConfig, now: Callable[[], datetime] = lambda: NOW
) -> PrometheusScaler:
    return PROMETHEUS.build(config, ScalerEnvironment(now=now, http_timeout_seconds=2.0))


# ------------------------------------------------------------------------------ requests


async def test_request_carries_query_time_namespace_and_parameters(prom: FakePrometheus) -> None:
    config = _config(
        prom.url + "/prom/",
        namespace="team-a",
        queryParameters="dedup=true, partial_response=false",
        customHeaders="X-Scope-OrgID=tenant-1",
    )
    scaler = _scaler(config)
    values, active = await scaler.get_metrics_and_activity("s2-prometheus")
    await scaler.close()
    assert active
    assert [(v.metric_name, v.value, v.raw) for v in values] == [("s2-prometheus", 42.5, 42.5)]
    [request] = prom.requests
    assert request["path"] == "/prom/api/v1/query"
    assert request["query"] == {
        "query": 'sum(rate(x{a="b & c"}[1m]))',
        "time": "2026-08-20T10:30:15Z",
        "namespace": "team-a",
        "dedup": "true",
        "partial_response": "false",
    }
    assert request["headers"]["X-Scope-OrgID"] == "tenant-1"
    assert "Authorization" not in request["headers"]


@pytest.mark.parametrize(
    ("modes", "auth", "header"),
    [
        ("bearer", {"bearerToken": "tok-123456"}, "Bearer tok-123456"),
        ("basic", {"username": "u", "password": "p@ss-word"},
         "Basic " + base64.b64encode(b"u:p@ss-word").decode()),
        ("basic", {"username": "u"}, "Basic " + base64.b64encode(b"u:").decode()),
    ],
)  # fmt: skip
async def test_auth_headers(
    prom: FakePrometheus, modes: str, auth: dict[str, str], header: str
) -> None:
    scaler = _scaler(_config(prom.url, auth, authModes=modes))
    await scaler.execute_query()
    await scaler.close()
    assert prom.requests[0]["headers"]["Authorization"] == header


async def test_custom_auth_header(prom: FakePrometheus) -> None:
    auth = {"customAuthHeader": "X-Api-Token", "customAuthValue": "v-123456"}
    scaler = _scaler(_config(prom.url, auth, authModes="custom"))
    await scaler.execute_query()
    await scaler.close()
    assert prom.requests[0]["headers"]["X-Api-Token"] == "v-123456"


async def test_one_session_reused_across_polls_and_closed(prom: FakePrometheus) -> None:
    scaler = _scaler(_config(prom.url))
    for _ in range(3):
        assert await scaler.execute_query() == 42.5
    assert len(prom.requests) == 3
    assert len(prom.connections) == 1, "keep-alive: one connection for three polls"
    await scaler.close()
    await scaler.close()  # idempotent


async def test_triggers_share_one_session_with_their_own_headers(prom: FakePrometheus) -> None:
    pool = HTTPSessionPool()
    env = ScalerEnvironment(now=lambda: NOW, extras={"http_sessions": pool})
    bearer = PROMETHEUS.build(
        _config(prom.url, {"bearerToken": "tok-secret-1"}, authModes="bearer"), env
    )
    plain = PROMETHEUS.build(_config(prom.url), env)
    for _ in range(2):
        await bearer.execute_query()
        await plain.execute_query()
    assert len(prom.connections) == 1, "one kept-alive connection for both triggers"
    auth = [r["headers"].get("Authorization") for r in prom.requests]
    assert auth == ["Bearer tok-secret-1", None, "Bearer tok-secret-1", None]
    assert pool.users == 2
    assert "tok-secret" not in repr(pool)
    await bearer.close()
    await bearer.close()  # idempotent: released once
    assert pool.users == 1
    await plain.execute_query()
    await plain.close()
    assert pool.users == 0


async def test_activation_is_strictly_greater_and_exported_value_clamped(
    prom: FakePrometheus,
) -> None:
    prom.body = '{"data":{"result":[{"value":[1,"5"]}]}}'
    scaler = _scaler(_config(prom.url, activationThreshold="5"))
    values, active = await scaler.get_metrics_and_activity("s2-prometheus")
    assert not active
    assert values[0].value == 5.0
    prom.body = '{"data":{"result":[{"value":[1,"-2"]}]}}'
    values, active = await scaler.get_metrics_and_activity("s2-prometheus")
    assert (values[0].value, values[0].raw, active) == (0.0, -2.0, False)
    await scaler.close()


def test_metric_spec_is_milli_target_of_the_trigger_metric_type() -> None:
    [spec] = _scaler(_config("http://p:9090", threshold="100.5")).metric_specs()
    assert spec.kind == "External"
    assert spec.metric_name == "s2-prometheus"
    assert spec.to_hpa("so")["external"]["target"] == {
        "type": "AverageValue",
        "averageValue": "100500m",
    }
    [spec] = _scaler(_config("http://p:9090", metric_type="Value")).metric_specs()
    assert spec.target.to_hpa() == {"type": "Value", "value": "10"}


# ------------------------------------------------------------------------------ failures


async def test_http_500_is_a_scaler_error_with_prometheus_reason(prom: FakePrometheus) -> None:
    prom.status = 500
    prom.body = '{"status":"error","errorType":"internal","error":"query timed out in eval"}'
    scaler = _scaler(_config(prom.url))
    with pytest.raises(ScalerError, match=r"status: 500 \(query timed out in eval\)"):
        await scaler.execute_query()
    await scaler.close()


async def test_garbage_json_is_a_scaler_error(prom: FakePrometheus) -> None:
    prom.body = "this is not json"
    scaler = _scaler(_config(prom.url))
    with pytest.raises(ScalerError, match="not valid JSON"):
        await scaler.execute_query()
    await scaler.close()


async def test_slow_server_times_out_per_request(prom: FakePrometheus) -> None:
    prom.delay = 1.0
    scaler = _scaler(_config(prom.url, timeout="100ms"))
    with pytest.raises(ScalerError, match=r"timed out after 0\.1s") as info:
        await scaler.execute_query()
    assert isinstance(info.value.__cause__, TimeoutError)
    await scaler.close()


async def test_server_down_is_a_scaler_error() -> None:
    scaler = _scaler(_config("http://127.0.0.1:9"))
    with pytest.raises(ScalerError, match=r"prometheus query to http://127\.0\.0\.1:9 failed"):
        await scaler.execute_query()
    await scaler.close()


# ------------------------------------------------------------------------------ secrets


def test_secrets_stay_out_of_reprs_and_config_errors() -> None:
    auth = {"bearerToken": "tok-very-secret", "password": "pw-very-secret", "key": "k-secret!"}
    config = _config("http://p:9090", auth, authModes="bearer")
    text = repr(config) + str(config) + config.model_dump_json()
    for secret in auth.values():
        assert secret not in text
    with pytest.raises(ScalerConfigError) as info:
        _config("http://p:9090", {"bearerToken": "tok-very-secret"}, authModes="bearer,basic")
    assert "tok-very-secret" not in str(info.value)


async def test_secrets_in_the_address_are_not_echoed(prom: FakePrometheus) -> None:
    prom.status = 503
    address = prom.url.replace("http://", "http://admin:hunter2-secret@")
    scaler = _scaler(_config(address))
    with pytest.raises(ScalerError) as info:
        await scaler.execute_query()
    await scaler.close()
    assert "hunter2-secret" not in str(info.value)
    assert "status: 503" in str(info.value)


# ------------------------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_tls_with_ca_and_client_certificate(ca: trustme.CA) -> None:
    server_cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(server_ctx)
    ca.configure_trust(server_ctx)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_cert = ca.issue_cert("podscaler-client")
    auth = {
        "ca": ca.cert_pem.bytes().decode(),
        "cert": client_cert.cert_chain_pems[0].bytes().decode(),
        "key": client_cert.private_key_pem.bytes().decode(),
    }
    async for fake in _serve(FakePrometheus(), server_ctx):
        scaler = _scaler(_config(fake.url, auth, authModes="tls"))
        assert await scaler.execute_query() == 42.5
        await scaler.close()
        # Without the client certificate the server refuses the handshake.
        bare = _scaler(_config(fake.url, {"ca": auth["ca"]}, unsafeSsl="false"))
        with pytest.raises(ScalerError):
            await bare.execute_query()
        await bare.close()
        # unsafeSsl skips verification of an untrusted server certificate.
        unsafe = _scaler(
            _config(fake.url, {"cert": auth["cert"], "key": auth["key"]}, authModes="tls",
                    unsafeSsl="true")
        )  # fmt: skip
        assert await unsafe.execute_query() == 42.5
        await unsafe.close()


def test_bad_pem_is_a_config_error_at_build() -> None:
    config = _config("https://p", {"cert": "nope", "key": "k-material"}, authModes="tls")
    with pytest.raises(ScalerConfigError, match="not a valid PEM") as info:
        _scaler(config)
    assert "k-material" not in str(info.value)


def test_unsupported_auth_is_refused_at_build() -> None:
    config = _config("http://p:9090")
    azure = config.model_copy(update={"pod_identity_provider": "azure-workload"})
    with pytest.raises(ScalerConfigError, match="azure-workload"):
        _scaler(azure)
