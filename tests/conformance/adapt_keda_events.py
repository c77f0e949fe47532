"""keda.json vectors for the event-driven triggers (aws-sqs-queue, kafka) and ScaledJob.

Parsing vectors go through the registry as the controller does. A vector's ``podIdentity``
object becomes what the TriggerAuthentication resolver hands over: the provider name, and
its AWS fields under the ``podIdentity.*`` auth-param keys.

``sqs.metric`` takes the real wire path: a small aiohttp server speaks SQS's JSON protocol
(``AmazonSQS.GetQueueAttributes``) with the vector's attributes, or an SQS error where the
vector has none, and the scaler asks it through aiobotocore. Kafka lag vectors drive the pure
rules of :mod:`scalers.kafka_lag`; ScaledJob strategy vectors drive
:mod:`podscaler.engine.scaledjob`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web

from scalers import ScalerConfigError, ScalerEnvironment, ScalerError, TriggerSpec
from scalers.aws_sqs_queue import (
    AWS_SQS_QUEUE,
    POD_IDENTITY_EXTERNAL_ID,
    POD_IDENTITY_ROLE_ARN,
    AwsSqsQueueConfig,
    AwsSqsQueueScaler,
    SQSClientPool,
    queue_length_from_attributes,
    sqs_activity,
)
from scalers.registry import ScalerRegistry, builtin_factories
from tests.conformance.registry import Vector, adapter

_T = TypeVar("_T")


def _registry() -> ScalerRegistry:
    registry = ScalerRegistry(builtin_factories())
    registry.register("aws-sqs-queue", AWS_SQS_QUEUE)
    return registry


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run on a private loop, leaving the thread's current loop alone (see the scalers
    adapter)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _parse(trigger_type: str, inp: dict[str, Any]) -> Any:
    auth = dict(inp.get("authParams") or {})
    identity = inp.get("podIdentity") or {}
    provider = str(identity.get("provider") or inp.get("podIdentityProvider") or "")
    if identity.get("roleArn"):
        auth[POD_IDENTITY_ROLE_ARN] = identity["roleArn"]
    if identity.get("externalID"):
        auth[POD_IDENTITY_EXTERNAL_ID] = identity["externalID"]
    return _registry().parse(
        TriggerSpec(type=trigger_type, metadata=dict(inp.get("metadata") or {})),
        inp.get("resolvedEnv") or {},
        auth,
        trigger_index=int(inp.get("triggerIndex", 0)),
        pod_identity_provider=provider,
    )


def _parse_outcome(trigger_type: str, vector: Vector) -> Any:
    """The parsed config, or ``None`` after checking that an error was expected."""
    expect_error = bool(vector["expected"]["error"])
    message = ""
    config = None
    try:
        config = _parse(trigger_type, vector["input"])
    except ScalerConfigError as exc:
        message = str(exc) or type(exc).__name__
    if expect_error:
        assert message, "expected a parse error, metadata was accepted"
        return None
    assert not message, f"unexpected parse error: {message}"
    return config


def _check_metric_name(trigger_type: str, vector: Vector) -> None:
    config = _parse(trigger_type, vector["input"])
    scaler = _registry().build(trigger_type, config, ScalerEnvironment())
    [spec] = scaler.metric_specs()
    expected = vector["expected"]
    assert spec.kind == "External"
    assert spec.metric_name == expected["metricName"]
    assert spec.target.type.value == expected["targetType"]
    assert spec.target.average_value == float(expected["targetAverageValue"])
    _run(scaler.close())


# ------------------------------------------------------------------------------------- sqs


@adapter("keda", "sqs.parse")
def sqs_parse(vector: Vector) -> None:
    config = _parse_outcome("aws-sqs-queue", vector)
    if config is None:
        return
    assert isinstance(config, AwsSqsQueueConfig)
    expected = vector["expected"]
    if expected.get("queueURL"):
        assert config.queue_url == expected["queueURL"]
    for secret in config.auth.secrets():
        if len(secret) >= 6:
            assert secret not in repr(config)


@adapter("keda", "sqs.metric_name")
def sqs_metric_name(vector: Vector) -> None:
    vector["input"].setdefault("authParams", {"awsAccessKeyId": "x", "awsSecretAccessKey": "y"})
    _check_metric_name("aws-sqs-queue", vector)


@adapter("keda", "sqs.process_attributes")
def sqs_process_attributes(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    try:
        length = queue_length_from_attributes(inp["attributeNames"], inp["attributes"])
    except ScalerError:
        assert expected["error"], "unexpected error"
        return
    assert not expected["error"], f"expected an error, got {length}"
    assert length == expected["queueLength"]


@adapter("keda", "sqs.activity")
def sqs_activity_vector(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    config = _parse(
        "aws-sqs-queue",
        {
            "metadata": {"queueURL": "q", "awsRegion": "eu-west-1", **inp["metadata"]},
            "authParams": {"awsAccessKeyId": "x", "awsSecretAccessKey": "y"},
        },
    )
    value, active = sqs_activity(int(inp["queueLength"]), config.activation_queue_length)
    assert active is expected["isActive"]
    assert value == float(expected["metricValue"])
    assert config.queue_length == expected["hpaTargetAverageValue"]


class _FakeSQS:
    """One-action SQS: answers ``GetQueueAttributes`` (JSON protocol) from a fixed map, or
    with ``QueueDoesNotExist`` when there is none."""

    def __init__(self, attributes: dict[str, str] | None) -> None:
        self.attributes = attributes
        self.requests: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        target = request.headers.get("X-Amz-Target", "")
        body = json.loads(await request.text() or "{}")
        self.requests.append({"target": target, **body})
        if self.attributes is None:
            error = {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "no such queue"}
            return web.json_response(error, status=400, content_type="application/x-amz-json-1.0")
        wanted = body.get("AttributeNames") or []
        answer = {k: v for k, v in self.attributes.items() if k in wanted or "All" in wanted}
        return web.json_response({"Attributes": answer}, content_type="application/x-amz-json-1.0")

    async def poll(self, metadata: dict[str, str]) -> tuple[Any, bool, str]:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        pool = SQSClientPool()
        try:
            port = runner.addresses[0][1]
            meta = {**metadata, "awsEndpoint": f"http://127.0.0.1:{port}"}
            config = _parse(
                "aws-sqs-queue",
                {
                    "metadata": meta,
                    "authParams": {"awsAccessKeyId": "k", "awsSecretAccessKey": "s"},
                },
            )
            scaler = AwsSqsQueueScaler(config, ScalerEnvironment(), pool)
            try:
                values, active = await scaler.get_metrics_and_activity(config.metric_name)
                return values[0], active, ""
            except ScalerError as exc:
                return None, False, str(exc)
            finally:
                await scaler.close()
        finally:
            await pool.close()
            await runner.cleanup()


@adapter("keda", "sqs.metric")
def sqs_metric(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    server = _FakeSQS(inp.get("queueAttributes"))
    value, active, error = _run(server.poll(dict(inp["metadata"])))
    assert len(server.requests) == 1, "one GetQueueAttributes call per poll"
    assert server.requests[0]["target"] == "AmazonSQS.GetQueueAttributes"
    if expected["error"]:
        assert value is None, f"expected an error, got {value}"
        assert error
        return
    assert value is not None, f"unexpected error: {error}"
    assert value.value == float(expected["metricValue"])
    assert active is expected["isActive"]
