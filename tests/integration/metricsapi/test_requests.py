"""What the HPA gets back: values, useCachedMetrics, failures, and bad input of every kind.

Bad input must get a clear ``Status`` with the right code, never a crash, and never slow down
the requests of others: each test that stalls or abuses a connection also reads a metric on
another one meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from datetime import UTC, datetime

import aiohttp
import pytest

from podscaler.metricsapi.server import MetricsApiServer
from tests.fixtures.delegation import DelegatingApiServer
from tests.fixtures.pki import FRONT_PROXY_NAME, Pki
from tests.integration.metricsapi.conftest import (
    HPA_USER,
    ServerFactory,
    metric_url,
    proxy_headers,
)
from tests.integration.metricsapi.memory import InMemorySource, Trigger, TriggerFailed


@pytest.fixture
def proxy_ctx(pki: Pki) -> ssl.SSLContext:
    return pki.client_context(pki.front_proxy_ca, FRONT_PROXY_NAME)


async def _get(
    session: aiohttp.ClientSession, url: str, ctx: ssl.SSLContext
) -> tuple[int, dict[str, object]]:
    async with session.get(url, ssl=ctx, headers=proxy_headers()) as resp:
        return resp.status, await resp.json(content_type=None)


async def _ok(api: MetricsApiServer, session: aiohttp.ClientSession, ctx: ssl.SSLContext) -> None:
    status, body = await _get(session, metric_url(api, "team-a", "s1-cron", "orders"), ctx)
    assert status == 200, body


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.25, "250m"),
        (35, "35"),
        (35000, "35k"),
        (2147483648, "2147483648"),
        (-4, "0"),
        (float("nan"), "0"),
        (1.0004, "1"),
        (0.0015, "2m"),
    ],
)
async def test_values_are_milli_quantities(
    api: MetricsApiServer,
    source: InMemorySource,
    session: aiohttp.ClientSession,
    proxy_ctx: ssl.SSLContext,
    value: float,
    text: str,
) -> None:
    source.trigger("team-a", "orders", "s0-prometheus").cached = value
    _, body = await _get(session, metric_url(api, "team-a", "s0-prometheus", "orders"), proxy_ctx)
    assert body["items"][0]["value"] == text  # type: ignore[index]


async def test_podscaler_label_names_the_scaled_object_too(
    api: MetricsApiServer, session: aiohttp.ClientSession, proxy_ctx: ssl.SSLContext
) -> None:
    url = (
        f"{api.url}/apis/external.metrics.k8s.io/v1beta1/namespaces/team-a/s1-cron"
        "?labelSelector=autoscaling.podscaler.io%2Fscaledobject-name%3Dorders,app%3Dweb"
    )
    status, body = await _get(session, url, proxy_ctx)
    assert status == 200, body


async def test_live_and_cached_triggers(
    api: MetricsApiServer,
    source: InMemorySource,
    session: aiohttp.ClientSession,
    proxy_ctx: ssl.SSLContext,
) -> None:
    async def live() -> float:
        return 7.5

    source.add(
        "team-a",
        "queue",
        Trigger("s0-aws-sqs-jobs", live=live),
        Trigger("s1-kafka-t", use_cached=True, cached=2, live=live),
    )
    _, body = await _get(session, metric_url(api, "team-a", "s0-aws-sqs-jobs", "queue"), proxy_ctx)
    item = body["items"][0]  # type: ignore[index]
    assert item["value"] == "7500m"
    assert abs(datetime.fromisoformat(item["timestamp"]) - datetime.now(UTC)).total_seconds() < 5
    _, body = await _get(session, metric_url(api, "team-a", "s1-kafka-t", "queue"), proxy_ctx)
    assert body["items"][0]["value"] == "2"  # type: ignore[index]
    assert source.trigger("team-a", "queue", "s0-aws-sqs-jobs").live_queries == 1
    assert source.trigger("team-a", "queue", "s1-kafka-t").live_queries == 0


async def test_failing_trigger_is_503_unless_fallback_applies(
    api: MetricsApiServer,
    source: InMemorySource,
    session: aiohttp.ClientSession,
    proxy_ctx: ssl.SSLContext,
) -> None:
    async def down() -> float:
        raise TriggerFailed("connection refused")

    source.add(
        "team-a",
        "broken",
        Trigger("s0-prometheus", live=down),
        Trigger("s1-prometheus", live=down, fallback_value=12),
        Trigger("s2-cron", use_cached=True, cached=TriggerFailed("cron said no")),
    )
    status, body = await _get(
        session, metric_url(api, "team-a", "s0-prometheus", "broken"), proxy_ctx
    )
    assert status == 503
    assert body["reason"] == "ServiceUnavailable"
    assert body["message"] == "metric:s0-prometheus encountered error: trigger s0-prometheus failed"
    status, body = await _get(
        session, metric_url(api, "team-a", "s1-prometheus", "broken"), proxy_ctx
    )
    assert status == 200
    assert body["items"][0]["value"] == "12"  # type: ignore[index]
    status, _ = await _get(session, metric_url(api, "team-a", "s2-cron", "broken"), proxy_ctx)
    assert status == 503, "a cached error is answered as the error"


@pytest.mark.parametrize(
    ("namespace", "metric", "so", "code", "message"),
    [
        ("nowhere", "s0-prometheus", "orders", 404, "not found"),
        ("team-a", "s9-nothing", "orders", 404, "no metric s9-nothing"),
        ("team-a", "s0-prometheus", "ghost", 404, "not found"),
        ("team-a", "s0-prometheus", None, 400, "scaledObject name is not specified"),
    ],
)
async def test_unknown_things_and_missing_selector(
    api: MetricsApiServer,
    session: aiohttp.ClientSession,
    proxy_ctx: ssl.SSLContext,
    namespace: str,
    metric: str,
    so: str | None,
    code: int,
    message: str,
) -> None:
    status, body = await _get(session, metric_url(api, namespace, metric, so), proxy_ctx)
    assert status == code
    assert body["kind"] == "Status"
    assert body["code"] == code
    assert message in str(body["message"])


@pytest.mark.parametrize(
    "selector",
    [
        "scaledobject.keda.sh/name%3D%3D%3Dorders",
        "scaledobject.keda.sh%2Fname+in+(orders",
        "!!!",
        "scaledobject.keda.sh/name%3Dorders,scaledobject.keda.sh/name%3Dother",
        "scaledobject.keda.sh/name!%3Dorders",
        "scaledobject.keda.sh/name%3D" + "a" * 64,
        "a%3Db," * 1000,
    ],
)
async def test_bad_selectors_are_400(
    api: MetricsApiServer,
    session: aiohttp.ClientSession,
    proxy_ctx: ssl.SSLContext,
    selector: str,
) -> None:
    url = f"{api.url}/apis/external.metrics.k8s.io/v1beta1/namespaces/team-a/s1-cron"
    status, body = await _get(session, f"{url}?labelSelector={selector}", proxy_ctx)
    assert status == 400, body
    assert body["reason"] == "BadRequest"
    await _ok(api, session, proxy_ctx)


async def test_huge_request_line_is_refused_without_harm(
    api: MetricsApiServer, session: aiohttp.ClientSession, proxy_ctx: ssl.SSLContext
) -> None:
    url = metric_url(api, "team-a", "s1-cron", "orders") + ",x%3D" + "y" * 100_000
    async with session.get(url, ssl=proxy_ctx, headers=proxy_headers()) as resp:
        assert resp.status in (400, 414)
    await _ok(api, session, proxy_ctx)


async def test_wrong_paths_and_verbs(
    api: MetricsApiServer, session: aiohttp.ClientSession, proxy_ctx: ssl.SSLContext
) -> None:
    for path in ("/", "/apis/metrics.k8s.io", "/apis/external.metrics.k8s.io/v1beta1/x"):
        status, body = await _get(session, api.url + path, proxy_ctx)
        assert status == 404
        assert body["kind"] == "Status"
    long_metric = "s0-" + "m" * 300
    status, body = await _get(session, metric_url(api, "team-a", long_metric, "orders"), proxy_ctx)
    assert status == 400
    url = metric_url(api, "team-a", "s1-cron", "orders")
    async with session.post(url, ssl=proxy_ctx, headers=proxy_headers(), data=b"{}") as resp:
        assert resp.status == 405


async def test_slow_source_times_out_with_504_and_others_proceed(
    make_server: ServerFactory,
    source: InMemorySource,
    session: aiohttp.ClientSession,
    proxy_ctx: ssl.SSLContext,
    reviews: DelegatingApiServer,
) -> None:
    reviews.policy.allowed_users.add(HPA_USER)
    stuck = asyncio.Event()

    async def forever() -> float:
        await stuck.wait()
        return 1.0

    source.add("team-a", "slow", Trigger("s0-prometheus", live=forever))
    api = await make_server(request_timeout_seconds=0.5)
    slow = asyncio.create_task(
        _get(session, metric_url(api, "team-a", "s0-prometheus", "slow"), proxy_ctx)
    )
    started = asyncio.get_running_loop().time()
    await _ok(api, session, proxy_ctx)
    assert asyncio.get_running_loop().time() - started < 0.4
    status, body = await slow
    assert status == 504
    assert body["message"] == "metric:s0-prometheus was not available within 0.5s"


async def test_slow_clients_are_disconnected_and_do_not_block_others(
    make_server: ServerFactory,
    session: aiohttp.ClientSession,
    proxy_ctx: ssl.SSLContext,
    pki: Pki,
    reviews: DelegatingApiServer,
) -> None:
    reviews.policy.allowed_users.add(HPA_USER)
    api = await make_server(idle_timeout_seconds=0.5, handshake_timeout_seconds=0.5)
    loop = asyncio.get_running_loop()

    # 1. Connects over TCP and never starts the TLS handshake.
    raw_reader, raw_writer = await asyncio.open_connection("127.0.0.1", api.port)
    # 2. Finishes TLS, then dribbles half a request head and stalls.
    tls_reader, tls_writer = await asyncio.open_connection(
        "127.0.0.1", api.port, ssl=pki.client_context(), server_hostname="127.0.0.1"
    )
    tls_writer.write(b"GET /apis HTTP/1.1\r\nHost: x\r\n")
    await tls_writer.drain()
    started = loop.time()
    for _ in range(3):
        await _ok(api, session, proxy_ctx)
    assert loop.time() - started < 0.4

    async def closed(reader: asyncio.StreamReader) -> bytes:
        try:
            return await asyncio.wait_for(reader.read(), 3.0)
        except (ConnectionError, ssl.SSLError):
            return b""

    assert await closed(raw_reader) == b""
    assert await closed(tls_reader) == b""
    assert loop.time() - started < 2.5
    for writer in (raw_writer, tls_writer):
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()
    await _ok(api, session, proxy_ctx)
