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
import contextlib
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web

from podscaler.api.scaledjob import ScalingStrategyName
from podscaler.engine.scaledjob import (
    StrategySettings,
    effective_max_scale,
)
from scalers import ScalerConfigError, ScalerEnvironment, ScalerError, ScaleTrigger
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
from scalers.kafka import KAFKA, KafkaConfig, topic_partitions
from scalers.kafka_lag import (
    LagSettings,
    MissingTopicOffsets,
    OffsetResetPolicy,
    PartitionLimitationError,
    PartitionOffsets,
    find_factors,
    lag_from_latest_offsets,
    next_factor,
    parse_partition_limitation,
    total_lag,
)
from scalers.registry import ScalerRegistry, builtin_factories
from tests.conformance.registry import Vector, adapter

_T = TypeVar("_T")


def _registry() -> ScalerRegistry:
    registry = ScalerRegistry(builtin_factories())
    registry.register("aws-sqs-queue", AWS_SQS_QUEUE)
    registry.register("kafka", KAFKA)
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
        ScaleTrigger(type=trigger_type, metadata=dict(inp.get("metadata") or {})),
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


# ------------------------------------------------------------------------------------- kafka

_KAFKA_FIELDS = {
    "consumerGroup": "consumer_group",
    "topic": "topic",
    "offsetResetPolicy": "offset_reset_policy",
    "allowIdleConsumers": "allow_idle_consumers",
    "excludePersistentLag": "exclude_persistent_lag",
    "limitToPartitionsWithLag": "limit_to_partitions_with_lag",
    "ensureEvenDistributionOfPartitions": "ensure_even_distribution_of_partitions",
    "fullMetadata": "full_metadata",
    "lagThreshold": "lag_threshold",
    "scaleToZeroOnInvalidOffset": "scale_to_zero_on_invalid_offset",
    "activationLagThreshold": "activation_lag_threshold",
}


def _go_int32_list(expected: list[int] | None) -> list[int] | None:
    """The vector generator caught the ``32`` of Go's ``[]int32{…}`` literal as a first
    element of every expected partition list; the list proper follows it."""
    return None if expected is None else list(expected[1:])


@adapter("keda", "kafka.parse")
def kafka_parse(vector: Vector) -> None:
    # KEDA runs each case with and without the SASL auth params; so do we.
    for auth in (vector["input"].get("authParams") or {}, {}):
        case = {**vector, "input": {**vector["input"], "authParams": auth}}
        config = _parse_outcome("kafka", case)
        if config is None:
            continue
        assert isinstance(config, KafkaConfig)
        expected = vector["expected"]
        assert list(config.bootstrap_servers) == expected["bootstrapServers"]
        limitation = config.partition_limitation
        want = _go_int32_list(expected.get("partitionLimitation"))
        assert (None if limitation is None else list(limitation)) == want
        for key, attribute in _KAFKA_FIELDS.items():
            if key in expected and expected[key] is not None:
                got = getattr(config, attribute)
                assert got == expected[key], f"{key}: {got!r} != {expected[key]!r}"


@adapter("keda", "kafka.auth_parse")
def kafka_auth_parse(vector: Vector) -> None:
    config = _parse_outcome("kafka", vector)
    if config is None:
        return
    assert isinstance(config, KafkaConfig)
    if vector["source"].get("test") == "TestKafkaAuthParamsInScaledObject":
        # That upstream table carries an enableTLS column it never asserts (rows with a
        # trimmed "plaintext\n" SASL value say true without any tls setting); the test
        # checks TLS only where the metadata says tls "true". So do we.
        if vector["input"]["metadata"].get("tls") == "true":
            assert config.auth.tls is True
    else:
        assert config.auth.tls is vector["expected"]["enableTLS"]
    for secret in config.auth.secrets():
        if len(secret) >= 6:
            assert secret not in repr(config)


@adapter("keda", "kafka.metric_name")
def kafka_metric_name(vector: Vector) -> None:
    _check_metric_name("kafka", vector)


@adapter("keda", "kafka.partition_limitation")
def kafka_partition_limitation(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    got: list[int] | None = None
    with contextlib.suppress(PartitionLimitationError):
        got = parse_partition_limitation(inp["partitionLimitation"])
    if expected["error"]:
        assert got is None, f"expected an error, got {got}"
        return
    assert got is not None, "unexpected error"
    assert got == _go_int32_list(expected["partitions"])


@adapter("keda", "kafka.topic_partitions")
def kafka_topic_partitions(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    config = _parse("kafka", inp)
    assert isinstance(config, KafkaConfig)
    got = topic_partitions(list(inp["brokerPartitionIds"]), config.partition_limitation)
    assert {config.topic: got} == expected["topicPartitions"]


@adapter("keda", "kafka.find_factors")
def kafka_find_factors(vector: Vector) -> None:
    assert find_factors(int(vector["input"]["n"])) == vector["expected"]["factors"]


@adapter("keda", "kafka.next_factor")
def kafka_next_factor(vector: Vector) -> None:
    inp = vector["input"]
    got = next_factor(int(inp["totalLag"]), int(inp["totalTopicPartitions"]), inp["lagThreshold"])
    assert got == vector["expected"]["factor"]


def _lag_settings(inp: dict[str, Any]) -> LagSettings:
    return LagSettings(
        lag_threshold=int(inp.get("lagThreshold", 10)),
        activation_lag_threshold=int(inp.get("activationLagThreshold", 0)),
        offset_reset_policy=OffsetResetPolicy(inp.get("offsetResetPolicy", "latest")),
        scale_to_zero_on_invalid_offset=bool(inp.get("scaleToZeroOnInvalidOffset", False)),
        exclude_persistent_lag=bool(inp.get("excludePersistentLag", False)),
        allow_idle_consumers=bool(inp.get("allowIdleConsumers", False)),
        limit_to_partitions_with_lag=bool(inp.get("limitToPartitionsWithLag", False)),
        ensure_even_distribution_of_partitions=bool(
            inp.get("ensureEvenDistributionOfPartitions", False)
        ),
    )


@adapter("keda", "kafka.partition_lag")
def kafka_partition_lag(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    latest = {
        topic: {int(p): int(o) for p, o in partitions.items()}
        for topic, partitions in (inp.get("latestOffsets") or {}).items()
    }
    try:
        lag, persistent = lag_from_latest_offsets(
            inp["topic"],
            int(inp["partition"]),
            int(inp["committedOffset"]),
            latest,
            _lag_settings(inp),
            inp.get("previousOffset"),
        )
    except MissingTopicOffsets:
        assert expected["error"], "unexpected error"
        return
    assert not expected["error"], "expected an error"
    assert (lag, persistent) == (expected["lag"], expected["lagWithPersistent"])


@adapter("keda", "kafka.total_lag")
def kafka_total_lag(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    offsets = [
        PartitionOffsets("topic", i, int(p["committedOffset"]), p.get("latestOffset"))
        for i, p in enumerate(inp["partitions"])
    ]
    result = total_lag(offsets, _lag_settings(inp))
    assert [p.lag for p in result.partitions] == expected["perPartitionLag"]
    assert result.metric_value == expected["metricValue"]
    assert result.total_lag_with_persistent == expected["totalLagWithPersistent"]
    assert result.is_active is expected["isActive"]


@adapter("keda", "kafka.persistent_lag")
def kafka_persistent_lag(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    settings = _lag_settings(inp)
    previous: Any = {}
    for poll, want in zip(inp["polls"], expected["polls"], strict=True):
        offsets = [PartitionOffsets("t", 0, int(poll["committedOffset"]), poll["latestOffset"])]
        result = total_lag(offsets, settings, previous)
        previous = result.committed
        [partition] = result.partitions
        assert (partition.lag, partition.lag_with_persistent) == (
            want["lag"],
            want["lagWithPersistent"],
        )


# ------------------------------------------------------------------------------------- scaledjob


@adapter("keda", "scaledjob.strategy")
def scaledjob_strategy(vector: Vector) -> None:
    inp, expected = vector["input"], vector["expected"]
    settings = StrategySettings(
        strategy=ScalingStrategyName(inp.get("strategy") or "default"),
        queue_length_deduction=inp.get("customScalingQueueLengthDeduction"),
        running_job_percentage=inp.get("customScalingRunningJobPercentage"),
    )
    effective, scale_to = effective_max_scale(
        settings,
        int(inp["maxScale"]),
        int(inp["runningJobCount"]),
        int(inp["pendingJobCount"]),
        int(inp["maxReplicaCount"]),
        int(inp.get("scaleTo", 1)),
    )
    assert effective == expected["effectiveMaxScale"]
    if "scaleTo" in expected:
        assert scale_to == expected["scaleTo"]
