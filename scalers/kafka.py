"""The ``kafka`` trigger: a consumer group's lag, one replica per ``lagThreshold`` messages.

As KEDA's ``pkg/scalers/kafka_scaler.go`` (metadata, defaults, validation messages, metric
name ``s{i}-kafka-{topic}`` or ``s{i}-kafka-{group}-topics``); the lag arithmetic and the
partition cap are the pure functions of :mod:`scalers.kafka_lag`.

Each poll asks the brokers three things, naming partitions explicitly (both the brokers we
test against refuse a group-wide OffsetFetch, and naming them is what makes a partition added
since the last poll count at once): the topics' partitions (Metadata), the group's committed
offsets for those partitions (OffsetFetch, at the group coordinator, remembered between
polls), and their latest offsets (ListOffsets, one request per leader). With no ``topic``,
the group's topics are those where it has committed an offset.

Why a shared connection (:class:`KafkaConnections`): an aiokafka client holds TCP
connections (and SASL sessions) to every broker it talks to; creating one per poll costs a
bootstrap, a metadata round trip and the SASL handshake each time. Triggers with the same
bootstrap servers and security settings share one admin client plus one group-less consumer
(for ListOffsets), reference counted; the pool key holds a keyed digest of the secrets,
never the secrets.

SASL ``plaintext``, ``scram_sha256``, ``scram_sha512``, ``oauthbearer`` with KEDA's ``bearer``
token provider (client-credentials grant, :mod:`scalers.kafka_oauth`) and TLS (``ca``,
``cert``/``key``, ``keyPassword`` for an encrypted key, ``unsafeSsl``) are supported.
``oauthbearer`` with ``saslTokenProvider: aws_msk_iam`` signs MSK IAM tokens with the AWS
credentials KEDA would use (:mod:`scalers.kafka_msk`). ``gssapi`` parses and validates as KEDA's
does, so manifests are checked, but building such a trigger (and ``podscaler validate``) says
plainly that podscaler cannot speak it yet.

When the client cannot bootstrap, aiokafka reports only "Unable to bootstrap"; the connection
then opens one plain connection to each bootstrap server with the same settings to learn why
(refused SASL credentials, a TLS failure), so the trigger's error says it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, SecretStr

from podscaler.api.metrictarget import MetricTargetType
from scalers.aws_credentials import AWSAuth, parse_aws_auth
from scalers.contract import (
    ExternalMetricSpec,
    MetricSpec,
    MetricValue,
    ScalerConfig,
    ScalerConfigError,
    ScalerEnvironment,
    ScalerError,
    ScalerFactoryBase,
    SharedClients,
    TriggerInput,
    exported_metric_value,
)
from scalers.http_auth import AuthMode, HTTPAuth, ssl_context
from scalers.kafka_diagnosis import first_failure
from scalers.kafka_lag import (
    INVALID_OFFSET,
    LagResult,
    LagSettings,
    OffsetResetPolicy,
    PartitionLimitationError,
    PartitionOffsets,
    parse_partition_limitation,
    total_lag,
)
from scalers.metadata import (
    AUTH_PARAMS,
    MetadataReader,
    Source,
    external_metric_target,
    external_target_type,
    metric_name,
    normalize_metric_name,
)

__all__ = [
    "KAFKA",
    "UNSUPPORTED_SASL",
    "ConnectionIdentity",
    "KafkaAuth",
    "KafkaConfig",
    "KafkaConnection",
    "KafkaConnections",
    "KafkaFactory",
    "KafkaScaler",
    "SaslMode",
    "parse_kafka_auth",
]

log = logging.getLogger(__name__)

_META_THEN_ENV = (Source.TRIGGER_METADATA, Source.RESOLVED_ENV)
_META_THEN_AUTH = (Source.TRIGGER_METADATA, Source.AUTH_PARAMS)
_SARAMA_VERSION = re.compile(r"(?:0\.[0-9]+\.[0-9]+\.[0-9]+|[1-9][0-9]*\.[0-9]+\.[0-9]+)")
#: Per request to a broker; a poll makes three, and the controller's own timeout is above.
REQUEST_TIMEOUT_MS = 5000
#: The most a failed bootstrap spends finding out why (TLS or SASL settings only).
DIAGNOSIS_TIMEOUT_SECONDS = 3.0


class SaslMode(StrEnum):
    """Values of ``sasl`` (KEDA's spelling)."""

    NONE = "none"
    PLAINTEXT = "plaintext"
    SCRAM_SHA256 = "scram_sha256"
    SCRAM_SHA512 = "scram_sha512"
    OAUTHBEARER = "oauthbearer"
    GSSAPI = "gssapi"


#: ``sasl`` mechanisms KEDA's kafka trigger speaks and podscaler's cannot yet.
UNSUPPORTED_SASL: Final = (SaslMode.GSSAPI,)


_AIOKAFKA_MECHANISM = {
    SaslMode.PLAINTEXT: "PLAIN",
    SaslMode.SCRAM_SHA256: "SCRAM-SHA-256",
    SaslMode.SCRAM_SHA512: "SCRAM-SHA-512",
}


class KafkaAuth(BaseModel):
    """SASL and TLS settings of one trigger. Secrets are :class:`SecretStr`."""

    model_config = ConfigDict(frozen=True)

    sasl: SaslMode = SaslMode.NONE
    username: str = ""
    password: SecretStr | None = None
    tls: bool = False
    ca: str = ""
    cert: SecretStr | None = None
    key: SecretStr | None = None
    key_password: SecretStr | None = None
    unsafe_ssl: bool = False
    token_provider: str = ""
    oauth_token_endpoint_uri: str = ""
    scopes: tuple[str, ...] = ()
    oauth_extensions: dict[str, str] = {}
    keytab: str = ""
    realm: str = ""
    kerberos_config: str = ""
    kerberos_service_name: str = ""
    kerberos_disable_fast: bool = False
    #: ``aws_msk_iam``: the region and KEDA's AWS authorization.
    aws_region: str = ""
    aws: AWSAuth | None = None

    def secrets(self) -> list[str]:
        return [
            s.get_secret_value()
            for s in (self.password, self.key, self.key_password, self.cert)
            if s is not None and s.get_secret_value()
        ] + (self.aws.secrets() if self.aws is not None else [])


def parse_kafka_auth(reader: MetadataReader, pod_identity_provider: str = "") -> KafkaAuth:
    """KEDA's ``parseKafkaAuthParams``: ``sasl`` and ``tls`` from the trigger metadata, else
    from the TriggerAuthentication; everything else from the TriggerAuthentication. Pure."""

    def auth(name: str) -> str:
        return reader.string(name, AUTH_PARAMS, required=False) or ""

    def secret(name: str) -> SecretStr | None:
        value = auth(name)
        return SecretStr(value) if value else None

    sasl = reader.enum(
        "sasl", [m.value for m in SaslMode], _META_THEN_AUTH, default="none", required=False
    )
    mode = SaslMode(sasl or "none")
    fields: dict[str, Any] = {"sasl": mode}
    if mode in (SaslMode.PLAINTEXT, SaslMode.SCRAM_SHA256, SaslMode.SCRAM_SHA512):
        fields["username"] = _required(auth("username"), "username")
        fields["password"] = SecretStr(_required(auth("password"), "password"))
    elif mode is SaslMode.OAUTHBEARER:
        provider = reader.enum(
            "saslTokenProvider", ("bearer", "aws_msk_iam"), AUTH_PARAMS, default="bearer"
        )
        fields["token_provider"] = provider
        if provider == "bearer":
            fields["username"] = _required(auth("username"), "username")
            fields["password"] = SecretStr(_required(auth("password"), "password"))
            fields["oauth_token_endpoint_uri"] = _required(
                auth("oauthTokenEndpointUri"), "oauthTokenEndpointUri"
            )
            fields["scopes"] = tuple(
                s for s in (reader.string_list("scopes", AUTH_PARAMS) or []) if s
            )
            fields["oauth_extensions"] = reader.mapping("oauthExtensions", AUTH_PARAMS) or {}
    elif mode is SaslMode.GSSAPI:
        fields["username"] = _required(auth("username"), "username")
        password, keytab = auth("password"), auth("keytab")
        if password and keytab:
            raise ScalerConfigError(
                "cannot be set both password and keytab for sasl gssapi", parameter="keytab"
            )
        if not password and not keytab:
            raise ScalerConfigError(
                "no password or keytab given for sasl gssapi",
                parameter="password",
                missing_from=(Source.AUTH_PARAMS.value,),
            )
        fields["password"] = SecretStr(password) if password else None
        fields["keytab"] = keytab
        fields["realm"] = _required(auth("realm"), "realm")
        fields["kerberos_config"] = _required(auth("kerberosConfig"), "kerberosConfig")
        fields["kerberos_service_name"] = auth("kerberosServiceName")
        fields["kerberos_disable_fast"] = bool(
            reader.boolean("kerberosDisableFAST", AUTH_PARAMS, default=False)
        )
    tls = reader.enum("tls", ("enable", "disable"), _META_THEN_AUTH, default="disable")
    if tls == "enable":
        cert, key = secret("cert"), secret("key")
        if cert is not None and key is None:
            raise ScalerConfigError("key must be provided with cert", parameter="key")
        if key is not None and cert is None:
            raise ScalerConfigError("cert must be provided with key", parameter="cert")
        fields.update(
            tls=True,
            ca=auth("ca"),
            cert=cert,
            key=key,
            key_password=secret("keyPassword"),
            unsafe_ssl=bool(reader.boolean("unsafeSsl", _META_THEN_AUTH, default=False)),
        )
    if mode is SaslMode.OAUTHBEARER and fields.get("token_provider") == "aws_msk_iam":
        if tls != "enable":
            raise ScalerConfigError(
                "TLS is required for sasl oauthbearer with the aws_msk_iam token provider",
                parameter="tls",
            )
        fields["aws_region"] = reader.required_string("awsRegion", _META_THEN_AUTH)
        fields["aws"] = parse_aws_auth(reader, pod_identity_provider)
    return KafkaAuth(**fields)


def _required(value: str, name: str) -> str:
    """An auth parameter that must be given (KEDA's message)."""
    if not value:
        raise ScalerConfigError(
            f"no {name} given", parameter=name, missing_from=(Source.AUTH_PARAMS.value,)
        )
    return value


# -------------------------------------------------------------------------------- the config


class KafkaConfig(ScalerConfig):
    """A validated ``kafka`` trigger."""

    model_config = ConfigDict(frozen=True)

    bootstrap_servers: tuple[str, ...]
    consumer_group: str
    topic: str = ""
    partition_limitation: tuple[int, ...] | None = None
    lag_threshold: int = 10
    activation_lag_threshold: int = 0
    offset_reset_policy: OffsetResetPolicy = OffsetResetPolicy.LATEST
    allow_idle_consumers: bool = False
    exclude_persistent_lag: bool = False
    scale_to_zero_on_invalid_offset: bool = False
    limit_to_partitions_with_lag: bool = False
    ensure_even_distribution_of_partitions: bool = False
    full_metadata: bool = True
    version: str = "1.0.0"
    auth: KafkaAuth = KafkaAuth()
    metric_type: MetricTargetType = MetricTargetType.AVERAGE_VALUE

    @property
    def metric_name(self) -> str:
        name = f"kafka-{self.topic}" if self.topic else f"kafka-{self.consumer_group}-topics"
        return metric_name(self.trigger_index, normalize_metric_name(name))

    def lag_settings(self) -> LagSettings:
        return LagSettings(
            lag_threshold=self.lag_threshold,
            activation_lag_threshold=self.activation_lag_threshold,
            offset_reset_policy=self.offset_reset_policy,
            scale_to_zero_on_invalid_offset=self.scale_to_zero_on_invalid_offset,
            exclude_persistent_lag=self.exclude_persistent_lag,
            allow_idle_consumers=self.allow_idle_consumers,
            limit_to_partitions_with_lag=self.limit_to_partitions_with_lag,
            ensure_even_distribution_of_partitions=self.ensure_even_distribution_of_partitions,
        )

    def identity(self) -> ConnectionIdentity:
        return ConnectionIdentity.of(self.bootstrap_servers, self.auth)


class KafkaFactory(ScalerFactoryBase[KafkaConfig]):
    """Parses and builds ``kafka`` triggers."""

    trigger_types: tuple[str, ...] = ("kafka",)
    config_type = KafkaConfig

    def parse_input(self, given: TriggerInput) -> KafkaConfig:
        trigger = given.trigger
        r = MetadataReader.for_input(given, "kafka")
        servers = r.required_string("bootstrapServers", _META_THEN_ENV)
        group = r.required_string("consumerGroup", _META_THEN_ENV)
        topic = r.string("topic", _META_THEN_ENV, required=False) or ""
        limitation: tuple[int, ...] | None = None
        pattern = r.string("partitionLimitation", required=False)
        if pattern and topic:
            try:
                limitation = tuple(parse_partition_limitation(pattern))
            except PartitionLimitationError as exc:
                raise ScalerConfigError(
                    f"error parsing in partitionLimitation {pattern!r}: {exc}",
                    parameter="partitionLimitation",
                ) from exc
        policy = r.enum(
            "offsetResetPolicy", ("latest", "earliest"), default="latest", required=False
        )
        lag_threshold = r.integer("lagThreshold", default=10)
        assert lag_threshold is not None
        if lag_threshold <= 0:
            raise ScalerConfigError(
                f"lagThreshold must be a positive number, got {lag_threshold}",
                parameter="lagThreshold",
            )
        activation = r.integer("activationLagThreshold", default=0)
        assert activation is not None
        if activation < 0:
            raise ScalerConfigError(
                f"activationLagThreshold must be a positive number, got {activation}",
                parameter="activationLagThreshold",
            )
        auth = parse_kafka_auth(r, given.pod_identity_provider)
        flags = {
            name: bool(r.boolean(name, default=False))
            for name in (
                "allowIdleConsumers",
                "excludePersistentLag",
                "scaleToZeroOnInvalidOffset",
                "limitToPartitionsWithLag",
                "ensureEvenDistributionOfPartitions",
            )
        }
        if flags["allowIdleConsumers"] and flags["limitToPartitionsWithLag"]:
            raise ScalerConfigError(
                "allowIdleConsumers and limitToPartitionsWithLag cannot be set simultaneously",
                parameter="limitToPartitionsWithLag",
            )
        if flags["limitToPartitionsWithLag"] and not topic:
            raise ScalerConfigError(
                "topic must be specified when using limitToPartitionsWithLag",
                parameter="topic",
            )
        if flags["ensureEvenDistributionOfPartitions"] and not topic:
            raise ScalerConfigError(
                "topic must be specified when using ensureEvenDistributionOfPartitions",
                parameter="topic",
            )
        if flags["ensureEvenDistributionOfPartitions"] and flags["limitToPartitionsWithLag"]:
            raise ScalerConfigError(
                "limitToPartitionsWithLag and ensureEvenDistributionOfPartitions cannot be set "
                "simultaneously",
                parameter="ensureEvenDistributionOfPartitions",
            )
        full_metadata = bool(r.boolean("fullMetadata", default=True))
        if not full_metadata and not topic:
            raise ScalerConfigError("fullMetadata false requires a topic", parameter="fullMetadata")
        version = r.string("version", default="1.0.0") or "1.0.0"
        if not _SARAMA_VERSION.fullmatch(version):
            raise ScalerConfigError(
                f"error parsing kafka version {version!r}: expected x.y.z", parameter="version"
            )
        r.mark_known("commitOffset")
        return KafkaConfig(
            **given.base_fields(r.unexpected(), r.known()),
            bootstrap_servers=tuple(s.strip() for s in servers.split(",") if s.strip()),
            consumer_group=group,
            topic=topic,
            partition_limitation=limitation,
            lag_threshold=lag_threshold,
            activation_lag_threshold=activation,
            offset_reset_policy=OffsetResetPolicy(policy or "latest"),
            allow_idle_consumers=flags["allowIdleConsumers"],
            exclude_persistent_lag=flags["excludePersistentLag"],
            scale_to_zero_on_invalid_offset=flags["scaleToZeroOnInvalidOffset"],
            limit_to_partitions_with_lag=flags["limitToPartitionsWithLag"],
            ensure_even_distribution_of_partitions=flags["ensureEvenDistributionOfPartitions"],
            full_metadata=full_metadata,
            version=version,
            auth=auth,
            metric_type=external_target_type(trigger.metric_type),
        )

    def check_buildable(self, config: ScalerConfig) -> None:
        """What parses (KEDA accepts it) but podscaler cannot build yet; pure, so ``podscaler
        validate`` reports it offline exactly as the operator does."""
        checked = self.config_of(config)
        auth = checked.auth
        if auth.sasl in UNSUPPORTED_SASL:
            raise ScalerConfigError(
                f"sasl {auth.sasl.value} is not supported by podscaler's kafka trigger "
                "yet; use plaintext, scram_sha256, scram_sha512 or oauthbearer",
                parameter="sasl",
            )

    def build(self, config: ScalerConfig, env: ScalerEnvironment) -> KafkaScaler:
        checked = self.config_of(config)
        self.check_buildable(checked)
        pool = env.extras.get("kafka_connections")
        if pool is not None and not isinstance(pool, KafkaConnections):
            raise TypeError("extras['kafka_connections'] must be a KafkaConnections")
        return KafkaScaler(checked, env, pool)


def topic_partitions(
    broker_partition_ids: list[int], limitation: tuple[int, ...] | None
) -> list[int]:
    """The partitions a topic's lag is read from: all of them, or those ``partitionLimitation``
    names that exist (in the broker's order). Pure."""
    if limitation is None:
        return list(broker_partition_ids)
    wanted = set(limitation)
    return [p for p in broker_partition_ids if p in wanted]


# -------------------------------------------------------------------------------- connections


_FINGERPRINT_KEY = os.urandom(32)


@dataclass(frozen=True)
class ConnectionIdentity:
    """The pool key: bootstrap servers and security settings; secrets only as a keyed digest
    (left out of the repr with the user name)."""

    bootstrap_servers: tuple[str, ...]
    sasl: SaslMode
    tls: bool
    username: str = field(default="", repr=False)
    fingerprint: str = field(default="", repr=False)

    @classmethod
    def of(cls, servers: tuple[str, ...], auth: KafkaAuth) -> ConnectionIdentity:
        material = "\0".join(
            (
                auth.username, auth.ca, str(auth.unsafe_ssl), auth.token_provider,
                auth.oauth_token_endpoint_uri, " ".join(auth.scopes), auth.aws_region,
                repr(auth.aws.model_dump(exclude={"secret_access_key", "session_token"}))
                if auth.aws is not None else "",
                repr(sorted(auth.oauth_extensions.items())), *auth.secrets(),
            )
        ).encode()  # fmt: skip
        digest = hmac.new(_FINGERPRINT_KEY, material, hashlib.sha256).hexdigest()[:32]
        return cls(servers, auth.sasl, auth.tls, auth.username, digest)


class KafkaConnection:
    """One admin client and one group-less consumer to a cluster, started on first use.

    aiokafka reconnects to brokers by itself; a client that never managed to bootstrap (the
    cluster was down) is started again on the next call.
    """

    def __init__(self, identity: ConnectionIdentity, auth: KafkaAuth) -> None:
        self.identity = identity
        self._kwargs = _client_kwargs(identity, auth)
        self._admin: Any = None
        self._consumer: Any = None
        self._start_lock = asyncio.Lock()
        self.coordinators: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"KafkaConnection({self.identity!r})"

    async def clients(self) -> tuple[Any, Any]:
        async with self._start_lock:
            if self._admin is None:
                from aiokafka.admin import AIOKafkaAdminClient

                admin = AIOKafkaAdminClient(**self._kwargs)
                try:
                    await admin.start()
                except BaseException as exc:
                    await _quietly(admin.close())
                    await self._explain(exc)
                    raise
                self._admin = admin
            if self._consumer is None:
                from aiokafka import AIOKafkaConsumer

                consumer = AIOKafkaConsumer(enable_auto_commit=False, group_id=None, **self._kwargs)
                try:
                    await consumer.start()
                except BaseException:
                    await _quietly(consumer.stop())
                    raise
                self._consumer = consumer
        return self._admin, self._consumer

    async def _explain(self, exc: BaseException) -> None:
        """Replace aiokafka's "Unable to bootstrap" (and the ``KeyError`` its SCRAM client
        raises when the broker ends the exchange with an error) by what went wrong with the
        first server: a :class:`ScalerError` naming SASL or TLS, never a secret."""
        from aiokafka.errors import KafkaConnectionError

        if isinstance(exc, KeyError):
            raise ScalerError(
                f"SASL authentication failed (sasl {self.identity.sasl.value}): the broker ended "
                "the SCRAM exchange without a server signature (a wrong username or password?)"
            ) from None
        if not isinstance(exc, KafkaConnectionError) or self._kwargs["security_protocol"] == (
            "PLAINTEXT"
        ):
            return  # nothing to explain beyond "unreachable"
        try:
            async with asyncio.timeout(DIAGNOSIS_TIMEOUT_SECONDS):
                reason = await first_failure(self._kwargs)
        except TimeoutError:
            return
        if reason is not None:
            raise ScalerError(reason) from exc

    async def close(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        if consumer is not None:
            await _quietly(consumer.stop())
        if admin is not None:
            await _quietly(admin.close())


def _client_kwargs(identity: ConnectionIdentity, auth: KafkaAuth) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "bootstrap_servers": list(identity.bootstrap_servers),
        "client_id": "podscaler",
        "request_timeout_ms": REQUEST_TIMEOUT_MS,
        "retry_backoff_ms": 100,
    }
    context: ssl.SSLContext | None = None
    if auth.tls:
        http = HTTPAuth(modes=(AuthMode.TLS,), ca=auth.ca, cert=auth.cert, key=auth.key)
        context = (
            ssl_context(http, unsafe_ssl=auth.unsafe_ssl, key_password=auth.key_password)
            or ssl.create_default_context()
        )
        kwargs["ssl_context"] = context
    mechanism = _AIOKAFKA_MECHANISM.get(auth.sasl)
    if auth.sasl is SaslMode.OAUTHBEARER:
        from scalers.kafka_msk import MskIamTokenProvider
        from scalers.kafka_oauth import ClientCredentialsTokenProvider

        kwargs["security_protocol"] = "SASL_SSL" if auth.tls else "SASL_PLAINTEXT"
        kwargs["sasl_mechanism"] = "OAUTHBEARER"
        if auth.aws is not None:
            kwargs["sasl_oauth_token_provider"] = MskIamTokenProvider(auth.aws_region, auth.aws)
        else:
            kwargs["sasl_oauth_token_provider"] = ClientCredentialsTokenProvider(
                auth.oauth_token_endpoint_uri,
                auth.username,
                auth.password or SecretStr(""),
                auth.scopes,
                auth.oauth_extensions,
            )
    elif mechanism is not None:
        kwargs["security_protocol"] = "SASL_SSL" if auth.tls else "SASL_PLAINTEXT"
        kwargs["sasl_mechanism"] = mechanism
        kwargs["sasl_plain_username"] = auth.username
        kwargs["sasl_plain_password"] = auth.password.get_secret_value() if auth.password else ""
    else:
        kwargs["security_protocol"] = "SSL" if auth.tls else "PLAINTEXT"
    return kwargs


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        log.debug("closing a kafka client failed", exc_info=True)


class KafkaConnections(SharedClients[ConnectionIdentity, KafkaConnection]):
    """Shared :class:`KafkaConnection` objects by :class:`ConnectionIdentity`, reference
    counted, one pool per event loop (:class:`~scalers.contract.SharedClients`)."""

    def acquire(self, identity: ConnectionIdentity, auth: KafkaAuth) -> KafkaConnection:
        """The connection for ``identity`` (created, not yet connected, on first use)."""
        connection = self._reuse(identity)
        if connection is None:
            connection = self._keep(identity, KafkaConnection(identity, auth))
        return connection

    async def close_client(self, client: KafkaConnection) -> None:
        await client.close()


# -------------------------------------------------------------------------------- the scaler


class KafkaScaler:
    """A built ``kafka`` trigger."""

    def __init__(
        self, config: KafkaConfig, env: ScalerEnvironment, pool: KafkaConnections | None
    ) -> None:
        self.config = config
        self._env = env
        self._pool = pool
        self._identity = config.identity()
        self._connection: KafkaConnection | None = None
        self._acquired_from: KafkaConnections | None = None
        self._settings = config.lag_settings()
        self._previous: Mapping[tuple[str, int], int] = {}
        self._redactions = [s for s in config.auth.secrets() if len(s) >= 3]
        #: The last poll's working, for explanations (``None`` before the first).
        self.last_result: LagResult | None = None

    def __repr__(self) -> str:
        return f"KafkaScaler(group={self.config.consumer_group!r}, {self._identity!r})"

    def metric_specs(self) -> list[MetricSpec]:
        target = external_metric_target(self.config.metric_type, self.config.lag_threshold)
        return [ExternalMetricSpec(metric_name=self.config.metric_name, target=target)]

    async def get_metrics_and_activity(self, metric_name: str) -> tuple[list[MetricValue], bool]:
        now = self._env.now()
        result = await self.lag()
        value = MetricValue(
            metric_name=metric_name,
            value=exported_metric_value(float(result.metric_value)),
            raw=float(result.metric_value),
            timestamp=now,
        )
        return [value], result.is_active

    async def lag(self) -> LagResult:
        """One poll: offsets from the brokers, then the pure lag rules."""
        from aiokafka.errors import KafkaError

        try:
            offsets = await self._offsets()
        except (KafkaError, OSError, TimeoutError) as exc:
            reason = self._redact(str(exc) or type(exc).__name__)[:300]
            raise ScalerError(
                f"kafka lag of group {self.config.consumer_group} "
                f"({','.join(self.config.bootstrap_servers)}): {type(exc).__name__}: {reason}"
            ) from exc
        result = total_lag(offsets, self._settings, self._previous)
        if self.config.exclude_persistent_lag:
            self._previous = result.committed
        self.last_result = result
        return result

    async def _offsets(self) -> list[PartitionOffsets]:
        from aiokafka.structs import TopicPartition

        connection = self._ensure_connection()
        admin, consumer = await connection.clients()
        partitions = await self._partitions(admin)
        if not partitions:
            where = self.config.topic or f"the topics of group {self.config.consumer_group}"
            raise ScalerError(f"no partitions found for {where}")
        tps = [TopicPartition(t, p) for t, p in partitions]
        committed = await self._committed(admin, connection, tps)
        if not self.config.topic:
            consumed = {tp.topic for tp, offset in committed.items() if offset != INVALID_OFFSET}
            tps = [tp for tp in tps if tp.topic in consumed]
            if not tps:
                raise ScalerError(
                    f"consumer group {self.config.consumer_group} has no committed offsets"
                )
        async with asyncio.timeout(REQUEST_TIMEOUT_MS / 1000):
            latest: dict[Any, int] = await consumer.end_offsets(tps)
        out: list[PartitionOffsets] = []
        for tp in tps:
            if tp not in committed:
                raise ScalerError(f"error finding offset block for topic {tp.topic} partition "
                                  f"{tp.partition}")  # fmt: skip
            out.append(PartitionOffsets(tp.topic, tp.partition, committed[tp], latest.get(tp)))
        return out

    async def _partitions(self, admin: Any) -> list[tuple[str, int]]:
        from aiokafka.errors import for_code
        from aiokafka.protocol.metadata import MetadataRequest

        topics = [self.config.topic] if self.config.topic else None
        # As admin.describe_topics, but reading a metric must never create a topic: brokers
        # with auto-creation on would otherwise make a deleted topic reappear, empty.
        request = MetadataRequest(topics, allow_auto_topic_creation=False)
        described = (await admin._send_request(request)).to_object()["topics"]
        out: list[tuple[str, int]] = []
        for topic in described:
            name = topic["topic"]
            if topic.get("is_internal") or name.startswith("__"):
                continue
            if topic["error_code"]:
                error = for_code(topic["error_code"])
                raise ScalerError(f"error describing topic {name}: {error.__name__}")
            ids = sorted(p["partition"] for p in topic["partitions"])
            if self.config.topic:
                ids = topic_partitions(ids, self.config.partition_limitation)
                if not ids:
                    raise ScalerError(f"no partitions of topic {name} match partitionLimitation")
            out.extend((name, p) for p in ids)
        return out

    async def _committed(
        self, admin: Any, connection: KafkaConnection, tps: list[Any]
    ) -> dict[Any, int]:
        from aiokafka.errors import KafkaError

        group = self.config.consumer_group
        coordinator = connection.coordinators.get(group)
        if coordinator is None:
            coordinator = connection.coordinators[group] = await admin.find_coordinator(group)
        try:
            answer = await admin.list_consumer_group_offsets(
                group, group_coordinator_id=coordinator, partitions=tps
            )
        except KafkaError:
            connection.coordinators.pop(group, None)  # it may have moved; ask again next time
            raise
        return {tp: meta.offset for tp, meta in answer.items()}

    def _ensure_connection(self) -> KafkaConnection:
        if self._connection is None:
            pool = self._pool if self._pool is not None else KafkaConnections.for_running_loop()
            self._connection = pool.acquire(self._identity, self.config.auth)
            self._acquired_from = pool
        return self._connection

    async def close(self) -> None:
        pool, self._acquired_from = self._acquired_from, None
        self._connection = None
        if pool is not None:
            await pool.release(self._identity)

    def _redact(self, text: str) -> str:
        for secret in self._redactions:
            text = text.replace(secret, "***")
        return text


KAFKA = KafkaFactory()
