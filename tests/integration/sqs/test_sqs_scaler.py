"""The aws-sqs-queue trigger against moto server: what a poll reports and how it fails.

Covers the metric (visible, in flight, delayed, as configured), activation, one client per
credential set reused across polls and scalers, assume-role and web-identity credentials
through STS, a deleted queue and an unreachable endpoint (ScalerError with a clear message and
no secret in it), and recovery when the queue comes back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import AioSession

from scalers import ScalerEnvironment, ScalerError, ScaleTrigger
from scalers.aws_sqs_queue import (
    AWS_SQS_QUEUE,
    POD_IDENTITY_ROLE_ARN,
    AwsSqsQueueScaler,
    SQSClientPool,
)
from tests.fixtures.moto import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

AUTH = {"awsAccessKeyID": ACCESS_KEY_ID, "awsSecretAccessKey": SECRET_ACCESS_KEY}


@pytest.fixture
async def sqs(moto: str) -> AsyncIterator[Any]:
    session = AioSession()
    async with session.create_client(
        "sqs",
        region_name=REGION,
        endpoint_url=moto,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    ) as client:
        yield client


@pytest.fixture
async def pool() -> AsyncIterator[SQSClientPool]:
    pool = SQSClientPool()
    yield pool
    await pool.close()


def build(
    endpoint: str,
    queue_url: str,
    pool: SQSClientPool,
    *,
    auth: dict[str, str] | None = None,
    provider: str = "",
    **metadata: str,
) -> AwsSqsQueueScaler:
    meta = {"queueURL": queue_url, "awsRegion": REGION, "awsEndpoint": endpoint, **metadata}
    config = AWS_SQS_QUEUE.parse(
        ScaleTrigger(type="aws-sqs-queue", metadata=meta),
        {},
        AUTH if auth is None else auth,
        pod_identity_provider=provider,
    )
    return AwsSqsQueueScaler(config, ScalerEnvironment(), pool)


async def fill(sqs: Any, url: str, visible: int, in_flight: int = 0, delayed: int = 0) -> None:
    for _ in range(visible + in_flight):
        await sqs.send_message(QueueUrl=url, MessageBody="m")
    received = 0
    while received < in_flight:
        answer = await sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=min(10, in_flight - received), VisibilityTimeout=600
        )
        received += len(answer.get("Messages", []))
    for _ in range(delayed):
        await sqs.send_message(QueueUrl=url, MessageBody="d", DelaySeconds=600)


async def test_metric_counts_visible_in_flight_and_delayed_as_configured(
    moto: str, sqs: Any, pool: SQSClientPool
) -> None:
    url = (await sqs.create_queue(QueueName="orders"))["QueueUrl"]
    await fill(sqs, url, visible=7, in_flight=3, delayed=2)
    default = build(moto, url, pool)
    visible_only = build(moto, url, pool, scaleOnInFlight="false")
    everything = build(moto, url, pool, scaleOnDelayed="true")
    try:
        assert await default.queue_length() == 10
        assert await visible_only.queue_length() == 7
        assert await everything.queue_length() == 12
        [value], active = await default.get_metrics_and_activity(default.config.metric_name)
        assert (value.value, active) == (10.0, True)
        assert default.config.metric_name == "s0-aws-sqs-orders"
    finally:
        for scaler in (default, visible_only, everything):
            await scaler.close()


async def test_activation_is_strictly_greater(moto: str, sqs: Any, pool: SQSClientPool) -> None:
    url = (await sqs.create_queue(QueueName="quiet"))["QueueUrl"]
    await fill(sqs, url, visible=3)
    scaler = build(moto, url, pool, activationQueueLength="3")
    try:
        [value], active = await scaler.get_metrics_and_activity("m")
        assert (value.value, active) == (3.0, False)
        await fill(sqs, url, visible=1)
        [value], active = await scaler.get_metrics_and_activity("m")
        assert (value.value, active) == (4.0, True)
    finally:
        await scaler.close()


async def test_scalers_with_one_credential_set_share_one_client(
    moto: str, sqs: Any, pool: SQSClientPool
) -> None:
    urls = [(await sqs.create_queue(QueueName=f"q{i}"))["QueueUrl"] for i in range(5)]
    scalers = [build(moto, url, pool) for url in urls]
    other = build(moto, urls[0], pool, auth={**AUTH, "awsSecretAccessKey": "another-secret"})
    try:
        await asyncio.gather(*(s.queue_length() for s in [*scalers, other]))
        await asyncio.gather(*(s.queue_length() for s in scalers))
        assert len(pool) == 2, "one client per credential set"
        assert scalers[0]._client is scalers[4]._client
        assert other._client is not scalers[0]._client
        for text in (repr(pool), repr(scalers[0]), repr(other), repr(other.config)):
            assert SECRET_ACCESS_KEY not in text
            assert "another-secret" not in text
    finally:
        for scaler in [*scalers, other]:
            await scaler.close()
    assert len(pool) == 0, "the last user closes the client"


async def test_deleted_queue_fails_clearly_and_recovers(
    moto: str, sqs: Any, pool: SQSClientPool
) -> None:
    url = (await sqs.create_queue(QueueName="jobs"))["QueueUrl"]
    scaler = build(moto, url, pool)
    try:
        assert await scaler.queue_length() == 0
        await sqs.delete_queue(QueueUrl=url)
        with pytest.raises(ScalerError, match=r"jobs.*(NonExistentQueue|QueueDoesNotExist)"):
            await scaler.queue_length()
        await sqs.create_queue(QueueName="jobs")
        await fill(sqs, url, visible=2)
        assert await scaler.queue_length() == 2
    finally:
        await scaler.close()


async def test_unreachable_endpoint_is_a_scaler_error_without_secrets(pool: SQSClientPool) -> None:
    from tests.fixtures.servers import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    scaler = build(endpoint, f"{endpoint}/123456789012/gone", pool)
    try:
        with pytest.raises(ScalerError) as caught:
            await scaler.queue_length()
        assert "gone" in str(caught.value)
        assert SECRET_ACCESS_KEY not in str(caught.value)
    finally:
        await scaler.close()


async def test_role_arn_is_assumed_through_sts(
    moto: str, sqs: Any, pool: SQSClientPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator's own identity (env) assumes the role; STS is moto too.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto)
    url = (await sqs.create_queue(QueueName="assumed"))["QueueUrl"]
    await fill(sqs, url, visible=4)
    role = "arn:aws:iam::123456789012:role/podscaler-reader"
    by_param = build(moto, url, pool, auth={"awsRoleArn": role})
    by_identity = build(moto, url, pool, auth={POD_IDENTITY_ROLE_ARN: role}, provider="aws")
    try:
        assert await by_param.queue_length() == 4
        assert await by_identity.queue_length() == 4
        credentials = await by_param._client._request_signer._credentials.get_frozen_credentials()
        assert credentials.access_key != ACCESS_KEY_ID, "the assumed role's keys sign requests"
    finally:
        await by_param.close()
        await by_identity.close()


async def test_pod_identity_uses_the_web_identity_environment(
    moto: str, sqs: Any, pool: SQSClientPool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJwb2RzY2FsZXIifQ.")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/podscaler-irsa")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    url = (await sqs.create_queue(QueueName="irsa"))["QueueUrl"]
    await fill(sqs, url, visible=1)
    scaler = build(moto, url, pool, auth={}, provider="aws")
    try:
        assert await scaler.queue_length() == 1
        credentials = await scaler._client._request_signer._credentials.get_frozen_credentials()
        assert credentials.token, "web identity gives temporary credentials"
    finally:
        await scaler.close()
