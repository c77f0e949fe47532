"""The ``aws-sqs-queue`` trigger: messages waiting in an SQS queue, per replica.

As KEDA's ``pkg/scalers/aws_sqs_queue_scaler.go``: one ``GetQueueAttributes`` call per poll
asking for ``ApproximateNumberOfMessages``, plus ``…NotVisible`` (in flight, on by default:
a message being worked on still needs a consumer) and ``…Delayed`` (off by default); the sum
drives an ``AverageValue`` External metric ``s{i}-aws-sqs-{queueName}`` with target
``queueLength``; active when the sum is strictly greater than ``activationQueueLength``.

Credentials (:class:`AWSAuth`) follow KEDA's ``GetAwsAuthorization``; see
:mod:`scalers.aws_credentials`.

Why a shared client pool (:class:`SQSClientPool`): an aiobotocore client owns an HTTP
connection pool and, for assumed roles, an STS session; building one per poll costs a TLS
handshake and an STS call each time, which at a thousand queues is most of the work
(bench/events.py measures it). Scalers with the same region, endpoint and credential set
share one client, counted by reference and closed with its last user. The pool key holds a
keyed digest of the secret, never the secret itself, and its repr shows neither.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import ConfigDict

from podscaler.api.gostrconv import parse_int
from podscaler.api.metrictarget import MetricTargetType
from scalers.aws_credentials import (
    POD_IDENTITY_EXTERNAL_ID,
    POD_IDENTITY_IDENTITY_OWNER,
    POD_IDENTITY_ROLE_ARN,
    AWSAuth,
    AWSCredentialKind,
    install_assume_role,
    parse_aws_auth,
)
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
from scalers.metadata import (
    MetadataReader,
    Source,
    external_metric_target,
    external_target_type,
    metric_name,
    normalize_metric_name,
)

__all__ = [
    "AWS_SQS_QUEUE",
    "POD_IDENTITY_EXTERNAL_ID",
    "POD_IDENTITY_IDENTITY_OWNER",
    "POD_IDENTITY_ROLE_ARN",
    "AWSAuth",
    "AWSCredentialKind",
    "AwsSqsQueueConfig",
    "AwsSqsQueueFactory",
    "AwsSqsQueueScaler",
    "CredentialIdentity",
    "SQSClientPool",
    "parse_aws_auth",
    "queue_length_from_attributes",
    "queue_name_from_url",
    "sqs_activity",
]

log = logging.getLogger(__name__)

VISIBLE = "ApproximateNumberOfMessages"
IN_FLIGHT = "ApproximateNumberOfMessagesNotVisible"
DELAYED = "ApproximateNumberOfMessagesDelayed"

_META_THEN_AUTH = (Source.TRIGGER_METADATA, Source.AUTH_PARAMS)


# -------------------------------------------------------------------------------- credentials


#: Per-process key of the credential fingerprints: a pool key can be compared, never reversed
#: or matched against a guessed secret outside this process.
_FINGERPRINT_KEY = os.urandom(32)


@dataclass(frozen=True)
class CredentialIdentity:
    """The pool key: one client per (region, endpoint, credential set).

    ``fingerprint`` is an HMAC of the secret material under a per-process key; it and the
    access key id are left out of the repr so that logging a key shows nothing sensitive.
    """

    region: str
    endpoint: str
    kind: AWSCredentialKind
    role_arn: str = ""
    external_id: str = field(default="", repr=False)
    access_key_id: str = field(default="", repr=False)
    fingerprint: str = field(default="", repr=False)

    @classmethod
    def of(cls, region: str, endpoint: str, auth: AWSAuth) -> CredentialIdentity:
        material = "\0".join(
            (auth.access_key_id, *(s or "" for s in auth.secrets()), auth.external_id)
        )
        digest = hmac.new(_FINGERPRINT_KEY, material.encode(), hashlib.sha256).hexdigest()[:32]
        return cls(
            region=region,
            endpoint=endpoint,
            kind=auth.kind,
            role_arn=auth.role_arn,
            external_id=auth.external_id,
            access_key_id=auth.access_key_id,
            fingerprint=digest,
        )


# -------------------------------------------------------------------------------- the config


class AwsSqsQueueConfig(ScalerConfig):
    """A validated ``aws-sqs-queue`` trigger."""

    model_config = ConfigDict(frozen=True)

    queue_url: str
    queue_name: str
    queue_length: int = 5
    activation_queue_length: int = 0
    aws_region: str
    aws_endpoint: str = ""
    scale_on_in_flight: bool = True
    scale_on_delayed: bool = False
    auth: AWSAuth
    metric_type: MetricTargetType = MetricTargetType.AVERAGE_VALUE

    @property
    def metric_name(self) -> str:
        return metric_name(self.trigger_index, normalize_metric_name(f"aws-sqs-{self.queue_name}"))

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """The attributes asked for, in KEDA's order."""
        names = [VISIBLE]
        if self.scale_on_in_flight:
            names.append(IN_FLIGHT)
        if self.scale_on_delayed:
            names.append(DELAYED)
        return tuple(names)

    def identity(self) -> CredentialIdentity:
        return CredentialIdentity.of(self.aws_region, self.aws_endpoint, self.auth)


def queue_name_from_url(queue_url: str) -> str:
    """The queue name in ``queueURL``, as KEDA derives it.

    A value Go's ``url.ParseRequestURI`` refuses (no scheme and not an absolute path, e.g.
    ``my-queue``) *is* the name; a URL must have the path ``/{account}/{name}``.
    """
    is_request_uri = queue_url.startswith("/") or bool(
        re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", queue_url)
    )
    if not is_request_uri:
        return queue_url
    try:
        path = urlsplit(queue_url).path
    except ValueError as exc:
        raise ScalerConfigError("cannot get queueName from queueURL", parameter="queueURL") from exc
    parts = path.split("/")
    if len(parts) != 3 or not parts[2]:
        raise ScalerConfigError("cannot get queueName from queueURL", parameter="queueURL")
    return parts[2]


class AwsSqsQueueFactory(ScalerFactoryBase[AwsSqsQueueConfig]):
    """Parses and builds ``aws-sqs-queue`` triggers."""

    trigger_types: tuple[str, ...] = ("aws-sqs-queue",)
    config_type = AwsSqsQueueConfig

    def parse_input(self, given: TriggerInput) -> AwsSqsQueueConfig:
        trigger = given.trigger
        r = MetadataReader.for_input(given, "aws-sqs-queue")
        queue_url = r.required_string("queueURL", (Source.TRIGGER_METADATA, Source.RESOLVED_ENV))
        queue_length = r.integer("queueLength", default=5)
        activation = r.integer("activationQueueLength", default=0)
        region = r.required_string("awsRegion", _META_THEN_AUTH)
        endpoint = r.string("awsEndpoint", required=False) or ""
        in_flight = r.boolean("scaleOnInFlight", default=True)
        delayed = r.boolean("scaleOnDelayed", default=False)
        auth = parse_aws_auth(r, given.pod_identity_provider)
        metric_type = external_target_type(trigger.metric_type)
        assert queue_length is not None
        assert activation is not None
        assert in_flight is not None
        assert delayed is not None
        return AwsSqsQueueConfig(
            **given.base_fields(r.unexpected(), r.known()),
            queue_url=queue_url,
            queue_name=queue_name_from_url(queue_url),
            queue_length=queue_length,
            activation_queue_length=activation,
            aws_region=region,
            aws_endpoint=endpoint,
            scale_on_in_flight=in_flight,
            scale_on_delayed=delayed,
            auth=auth,
            metric_type=metric_type,
        )

    def build(self, config: ScalerConfig, env: ScalerEnvironment) -> AwsSqsQueueScaler:
        checked = self.config_of(config)
        pool = env.extras.get("sqs_client_pool")
        if pool is not None and not isinstance(pool, SQSClientPool):
            raise TypeError("extras['sqs_client_pool'] must be an SQSClientPool")
        return AwsSqsQueueScaler(checked, env, pool)


# -------------------------------------------------------------------------------- pure rules


def queue_length_from_attributes(
    attribute_names: tuple[str, ...] | list[str], attributes: Mapping[str, str]
) -> int:
    """The sum of the requested attributes, as KEDA's ``processQueueLengthFromSqsQueue
    AttributesOutput``: each must be present and a base-10 int64. Pure.

    Raises :class:`ScalerError` (a bad answer is the source's fault, not the spec's).
    """
    total = 0
    for name in attribute_names:
        raw = attributes.get(name)
        if raw is None:
            raise ScalerError(f"SQS did not return the requested attribute {name}")
        count = parse_int(raw)
        if count is None:
            raise ScalerError(f"SQS attribute {name} is not an integer: {raw[:32]!r}")
        total += count
    return total


def sqs_activity(queue_length: int, activation_queue_length: int) -> tuple[float, bool]:
    """Exported value and activity: active iff strictly more than the activation length."""
    return exported_metric_value(float(queue_length)), queue_length > activation_queue_length


# -------------------------------------------------------------------------------- the pool


class SQSClientPool(SharedClients[CredentialIdentity, Any]):
    """Shared aiobotocore SQS clients, one per :class:`CredentialIdentity`, reference counted
    (:class:`~scalers.contract.SharedClients`). The caller says how to create a client it
    does not find, so the pool itself never holds a credential."""

    def __init__(self) -> None:
        super().__init__()
        self._creating: dict[CredentialIdentity, asyncio.Future[None]] = {}

    async def acquire(
        self, identity: CredentialIdentity, create: Callable[[], Awaitable[Any]]
    ) -> Any:
        """The client for ``identity``, made with ``create`` on first use; pair with
        :meth:`release`. Concurrent first users wait for one creation."""
        while True:
            client = self._reuse(identity)
            if client is not None:
                return client
            pending = self._creating.get(identity)
            if pending is None:
                break
            await asyncio.shield(pending)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._creating[identity] = done
        try:
            return self._keep(identity, await create())
        finally:
            self._creating.pop(identity, None)
            done.set_result(None)

    async def close_client(self, client: Any) -> None:
        try:
            await client.close()
        except Exception:
            log.debug("closing an SQS client failed", exc_info=True)


async def create_sqs_client(identity: CredentialIdentity, auth: AWSAuth) -> Any:
    """A new aiobotocore SQS client for ``identity`` with the credentials of ``auth``."""
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession

    session = AioSession()
    kwargs: dict[str, Any] = {"region_name": identity.region}
    if identity.endpoint:
        kwargs["endpoint_url"] = identity.endpoint
    if auth.kind is AWSCredentialKind.STATIC:
        kwargs["aws_access_key_id"] = auth.access_key_id
        kwargs["aws_secret_access_key"] = (
            auth.secret_access_key.get_secret_value() if auth.secret_access_key else ""
        )
        if auth.session_token is not None:
            kwargs["aws_session_token"] = auth.session_token.get_secret_value()
    elif auth.kind is AWSCredentialKind.ASSUME_ROLE:
        install_assume_role(session, identity.region, auth)
    # Few retries: a poll that fails is retried by the next poll, and fallback counts it.
    config = AioConfig(
        connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}
    )
    context = session.create_client("sqs", config=config, **kwargs)
    return await context.__aenter__()


# -------------------------------------------------------------------------------- the scaler


class AwsSqsQueueScaler:
    """A built ``aws-sqs-queue`` trigger."""

    def __init__(
        self, config: AwsSqsQueueConfig, env: ScalerEnvironment, pool: SQSClientPool | None
    ) -> None:
        self.config = config
        self._env = env
        self._pool = pool
        self._identity = config.identity()
        self._client: Any = None
        self._acquired_from: SQSClientPool | None = None
        self._redactions = [s for s in config.auth.secrets() if len(s) >= 3]

    def __repr__(self) -> str:
        return f"AwsSqsQueueScaler(queue={self.config.queue_name!r}, {self._identity!r})"

    def metric_specs(self) -> list[MetricSpec]:
        target = external_metric_target(self.config.metric_type, self.config.queue_length)
        return [ExternalMetricSpec(metric_name=self.config.metric_name, target=target)]

    async def queue_length(self) -> int:
        """One ``GetQueueAttributes`` call; the sum of the configured attributes."""
        from botocore.exceptions import (  # type: ignore[import-untyped]
            BotoCoreError,
            ClientError,
        )

        client = await self._ensure_client()
        try:
            answer = await client.get_queue_attributes(
                QueueUrl=self.config.queue_url, AttributeNames=list(self.config.attribute_names)
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code") or "ClientError"
            message = self._redact(str(error.get("Message") or ""))[:200]
            raise ScalerError(
                f"GetQueueAttributes for queue {self.config.queue_name} failed: {code}"
                + (f": {message}" if message else "")
            ) from exc
        except (BotoCoreError, OSError) as exc:
            reason = self._redact(str(exc) or type(exc).__name__)[:200]
            raise ScalerError(
                f"GetQueueAttributes for queue {self.config.queue_name} failed: {reason}"
            ) from exc
        return queue_length_from_attributes(
            self.config.attribute_names, answer.get("Attributes") or {}
        )

    async def get_metrics_and_activity(self, metric_name: str) -> tuple[list[MetricValue], bool]:
        now = self._env.now()
        length = await self.queue_length()
        value, active = sqs_activity(length, self.config.activation_queue_length)
        return [
            MetricValue(metric_name=metric_name, value=value, raw=float(length), timestamp=now)
        ], active

    async def close(self) -> None:
        pool, self._acquired_from = self._acquired_from, None
        self._client = None
        if pool is not None:
            await pool.release(self._identity)

    async def _ensure_client(self) -> Any:
        if self._client is None:
            pool = self._pool if self._pool is not None else SQSClientPool.for_running_loop()
            identity, auth = self._identity, self.config.auth
            self._client = await pool.acquire(identity, lambda: create_sqs_client(identity, auth))
            self._acquired_from = pool
        return self._client

    def _redact(self, text: str) -> str:
        for secret in self._redactions:
            text = text.replace(secret, "***")
        return text


AWS_SQS_QUEUE = AwsSqsQueueFactory()
