"""The trigger contract: what every scaler module provides and what the controller may rely on.

KEDA's scaler interface is the model (``pkg/scalers/scaler.go``): trigger metadata is parsed
*without I/O* into a typed config, and only fetching metric values touches the network. Keeping
the two apart is what lets admission, ``podscaler validate`` and the conformance vectors check
a trigger without a cluster, and what lets the controller rebuild a scaler (fresh clients,
refreshed credentials) from an already-validated config after a fetch fails.

A trigger type is one :class:`ScalerFactory` (``parse`` then ``build``); a built scaler is one
:class:`Scaler`. Both are protocols, so third-party triggers registered through the
``podscaler.scalers`` entry-point group need not inherit from anything of ours.

Errors::

    TriggerError                 anything a trigger raises on purpose
     ├── ScalerConfigError       the trigger is misconfigured; names the parameter; retrying
     │                           the same spec cannot help (status condition, Warning Event)
     └── ScalerError             fetching failed (server down, timeout, HTTP 5xx, garbage
                                 body); transient, counts towards fallback

Both carry the original exception as ``__cause__``. Neither ever contains a secret: config
fields holding secrets are :class:`pydantic.SecretStr`, and messages are built from parameter
names and non-secret values only.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Generic,
    Literal,
    Protocol,
    Self,
    TypeVar,
    runtime_checkable,
)

from pydantic import BaseModel, ConfigDict, Field, field_validator

from podscaler import clock
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.sharedfields import SharedFieldsSet
from podscaler.api.triggers import AuthenticationRef, ScaleTrigger

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "AuthenticationRef",
    "ContainerResourceMetricSpec",
    "ExternalMetricSpec",
    "HTTPSessionPool",
    "MetricSpec",
    "MetricTarget",
    "MetricTargetType",
    "MetricValue",
    "ResourceMetricSpec",
    "ScaleTrigger",
    "Scaler",
    "ScalerConfig",
    "ScalerConfigError",
    "ScalerEnvironment",
    "ScalerError",
    "ScalerFactory",
    "ScalerFactoryBase",
    "SharedClients",
    "TriggerError",
    "TriggerInput",
    "exported_metric_value",
    "shared_names",
    "wall_clock",
]


# --------------------------------------------------------------------------------------------
# Errors


class TriggerError(Exception):
    """Base of every error a scaler raises on purpose."""


class ScalerConfigError(TriggerError, ValueError):
    """The trigger's metadata, auth params or metric type are invalid.

    ``parameter`` names the offending parameter (``None`` when the problem is the combination,
    e.g. an unknown trigger type). ``missing_from`` is set when the parameter is required and
    absent: the sources it was looked for in (``triggerMetadata``, ``authParams``,
    ``resolvedEnv``), so an offline check knows whether the cluster could still supply it. The
    message never contains the value of a secret.
    """

    def __init__(
        self,
        message: str,
        *,
        parameter: str | None = None,
        missing_from: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.missing_from = missing_from


class ScalerError(TriggerError):
    """Fetching the metric failed in a way a later poll may not (network, timeout, 5xx, bad
    body). The controller counts these towards ``fallback.failureThreshold`` and rebuilds the
    scaler before retrying, as KEDA does."""


# --------------------------------------------------------------------------------------------
# The trigger as written in a ScaledObject / ScaledJob is api's ScaleTrigger (validated before
# a scaler sees it); its authenticationRef is api's AuthenticationRef.


#: One tuple object per distinct tuple of parameter names (``read_parameters``).
_NAME_TUPLES: dict[tuple[str, ...], tuple[str, ...]] = {}


def shared_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """*names* as the one tuple object holding them (triggers of a type read the same names)."""
    return _NAME_TUPLES.setdefault(names, names)


class ScalerConfig(SharedFieldsSet):
    """Fields every parsed trigger config has, whatever its type.

    ``unexpected_parameters`` lists metadata keys the trigger type does not read. KEDA ignores
    them (it only reports them when ``KEDA_CHECK_UNEXPECTED_SCALERS_PARAMS`` is set), so a
    manifest that works with KEDA keeps working here; the controller should surface them as a
    Warning Event so typos do not go unnoticed.
    """

    model_config = ConfigDict(frozen=True)

    trigger_index: int = 0
    trigger_name: str = ""
    unexpected_parameters: tuple[str, ...] = ()
    #: The parameter names the parser looked for: what a misspelt key is compared with.
    read_parameters: tuple[str, ...] = ()

    @field_validator("read_parameters")
    @classmethod
    def _shared_read_parameters(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return shared_names(names)


# --------------------------------------------------------------------------------------------
# What a scaler reports


class MetricValue(BaseModel):
    """One sample for the external metrics API (``ExternalMetricValue``).

    ``value`` is already in the exported form (see :func:`exported_metric_value`); ``raw`` is
    what the source returned, kept for explanations and the ``keda_scaler_metrics_value``
    gauge. ``timestamp`` is the time the scaler asked for the sample (injected clock).
    ``details`` is what a trigger wants ``podscaler explain`` to show beside the value (the
    predictive trigger's live value, forecast and model error): JSON values under camelCase
    keys, never a secret; ``details["summary"]`` is one line for people.
    """

    model_config = ConfigDict(frozen=True)

    metric_name: str
    value: float
    raw: float
    timestamp: datetime
    details: dict[str, Any] | None = None

    @property
    def milli_value(self) -> int:
        """The value in thousandths, as a Kubernetes quantity ``"{milli}m"`` carries it."""
        return round(self.value * 1000)


def exported_metric_value(value: float) -> float:
    """The value KEDA exports for a raw metric (``GenerateMetricInMili``).

    KEDA formats the float with ``%.3f`` and parses it as a quantity, refusing NaN, ±Inf and
    negatives (the HPA cannot use them) by exporting 0. Activity is decided on the raw value,
    not on this one.
    """
    if math.isnan(value) or math.isinf(value) or value < 0:
        return 0.0
    return float(f"{value:.3f}")


class MetricTarget(BaseModel):
    """autoscaling/v2 ``MetricTarget``; exactly the field matching ``type`` is set."""

    model_config = ConfigDict(frozen=True)

    type: MetricTargetType
    value: float | None = None
    average_value: float | None = None
    average_value_quantity: str | None = None
    average_utilization: int | None = None

    def to_hpa(self) -> dict[str, Any]:
        """The ``target`` object of an autoscaling/v2 HPA metric."""
        out: dict[str, Any] = {"type": self.type.value}
        if self.type is MetricTargetType.UTILIZATION:
            out["averageUtilization"] = self.average_utilization
        elif self.type is MetricTargetType.AVERAGE_VALUE:
            out["averageValue"] = self.average_value_quantity or _quantity(self.average_value)
        else:
            out["value"] = _quantity(self.value)
        return out


def _quantity(value: float | None) -> str:
    """A float target as a canonical-enough quantity string (milli when fractional)."""
    if value is None:
        return "0"
    milli = round(value * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


class ExternalMetricSpec(BaseModel):
    """An ``External`` metric served by podscaler's external.metrics.k8s.io API."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["External"] = "External"
    metric_name: str
    target: MetricTarget

    def to_hpa(self, scaled_object: str) -> dict[str, Any]:
        """The HPA ``metrics[]`` entry KEDA generates (selector names the ScaledObject)."""
        return {
            "type": "External",
            "external": {
                "metric": {
                    "name": self.metric_name,
                    "selector": {"matchLabels": {"scaledobject.keda.sh/name": scaled_object}},
                },
                "target": self.target.to_hpa(),
            },
        }


class ResourceMetricSpec(BaseModel):
    """A ``Resource`` metric (cpu/memory of whole pods) read from metrics.k8s.io."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["Resource"] = "Resource"
    resource: Literal["cpu", "memory"]
    target: MetricTarget

    def to_hpa(self, scaled_object: str) -> dict[str, Any]:
        return {
            "type": "Resource",
            "resource": {"name": self.resource, "target": self.target.to_hpa()},
        }


class ContainerResourceMetricSpec(BaseModel):
    """A ``ContainerResource`` metric: cpu/memory of one named container of each pod."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["ContainerResource"] = "ContainerResource"
    resource: Literal["cpu", "memory"]
    container: str
    target: MetricTarget

    def to_hpa(self, scaled_object: str) -> dict[str, Any]:
        return {
            "type": "ContainerResource",
            "containerResource": {
                "name": self.resource,
                "container": self.container,
                "target": self.target.to_hpa(),
            },
        }


MetricSpec = Annotated[
    ExternalMetricSpec | ResourceMetricSpec | ContainerResourceMetricSpec,
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------------------------
# What a scaler needs from its surroundings


def wall_clock() -> datetime:
    """The running loop's time, in UTC (:func:`podscaler.clock.now`: simulated under a
    simulated loop). Only the default :class:`ScalerEnvironment` uses it, never a decision
    function."""
    return clock.now()


@dataclass(frozen=True)
class ScalerEnvironment:
    """Collaborators injected into scalers when they are built.

    ``now`` is the clock (the simulator and tests pass their own); ``http_timeout_seconds``
    is the default per-request timeout of HTTP scalers (KEDA's ``KEDA_HTTP_DEFAULT_TIMEOUT``,
    3 s) when a trigger sets none; ``extras`` carries trigger-specific collaborators such as
    the pod-metrics fetcher of the cpu/memory triggers, keyed by name.
    """

    now: Callable[[], datetime] = wall_clock
    http_timeout_seconds: float = 3.0
    extras: Mapping[str, Any] = field(default_factory=dict)


class HTTPSessionPool:
    """One :class:`aiohttp.ClientSession` shared by every HTTP trigger of an event loop.

    Why: a session per trigger means, at 10,000 ScaledObjects, 10,000 connectors, cookie jars
    and connection pools (a large share of the operator's memory) and, with polls 30 s apart
    and aiohttp's 15 s keep-alive, a new TCP connection for nearly every poll. Triggers that
    query the same server share its kept-alive connections through one session instead.

    What is *not* shared: anything secret. The session has no default headers, auth or
    cookies worth keeping (``cookie_jar`` is a dummy) and does not read the environment
    (``trust_env=False``: no ``.netrc`` lookup and proxy resolution in a thread on every
    request); each trigger passes its own headers, TLS context and proxy with every request.
    aiohttp keys pooled connections by host, port *and* TLS context, so a connection opened
    with one trigger's client certificate is never lent to another trigger.

    Sessions belong to the loop they were created on, so the process-wide pool is one per
    loop (:meth:`for_running_loop`); a controller may pass its own through
    ``ScalerEnvironment.extras["http_sessions"]``. Users are counted: the session is created
    by the first :meth:`acquire` and closed when the last user releases it, so no
    session outlives the triggers that used it.
    """

    _per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HTTPSessionPool] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, *, connection_limit: int = 100) -> None:
        self._limit = connection_limit
        self._session: aiohttp.ClientSession | None = None
        self._users = 0

    @classmethod
    def for_running_loop(cls) -> HTTPSessionPool:
        loop = asyncio.get_running_loop()
        pool = cls._per_loop.get(loop)
        if pool is None:
            pool = cls._per_loop[loop] = HTTPSessionPool()
        return pool

    def __repr__(self) -> str:
        return f"HTTPSessionPool({self._users} users)"

    @property
    def users(self) -> int:
        return self._users

    def acquire(self) -> aiohttp.ClientSession:
        """The shared session (created in the running loop on first use); pair with
        :meth:`release`."""
        import aiohttp

        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
            )
        self._users += 1
        return self._session

    def reacquire(self) -> aiohttp.ClientSession:
        """The session again for a user that already holds it (it was closed by
        :meth:`aclose` meanwhile); not counted twice."""
        self._users = max(0, self._users - 1)
        return self.acquire()

    async def release(self) -> None:
        """One user less; the last one closes the session."""
        self._users = max(0, self._users - 1)
        if self._users == 0 and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def aclose(self) -> None:
        """Close the session whoever still uses it (the owner shuts down)."""
        self._users = 0
        session, self._session = self._session, None
        if session is not None:
            await session.close()


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _Shared(Generic[V]):
    client: V
    users: int


class SharedClients(Generic[K, V]):
    """Clients shared by identity (credentials digest, servers, TLS settings), reference
    counted, one pool per event loop (clients belong to the loop their connections are on).

    The SQS and Kafka triggers share their clients this way: the last user to
    :meth:`release` a client closes it (:meth:`close_client`), and :meth:`close` closes
    them all. Subclasses add ``acquire`` (creating a client is theirs to know) on top of
    :meth:`_reuse` and :meth:`_keep`.
    """

    _per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._per_loop = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self._entries: dict[K, _Shared[V]] = {}

    @classmethod
    def for_running_loop(cls) -> Self:
        """The running loop's pool of this kind."""
        loop = asyncio.get_running_loop()
        pool = cls._per_loop.get(loop)
        if pool is None:
            pool = cls._per_loop[loop] = cls()
        assert isinstance(pool, cls)
        return pool

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._entries)} clients)"

    def _reuse(self, identity: K) -> V | None:
        """The client for *identity* with one user more, or ``None`` if there is none."""
        entry = self._entries.get(identity)
        if entry is None:
            return None
        entry.users += 1
        return entry.client

    def _keep(self, identity: K, client: V) -> V:
        """Remember a new *client* for *identity*, with its first user."""
        self._entries[identity] = _Shared(client, 1)
        return client

    async def release(self, identity: K, *, discard: bool = False) -> None:
        """Give a client back; it is closed when its last user leaves (or at once with
        ``discard``, for a client that should be rebuilt)."""
        entry = self._entries.get(identity)
        if entry is None:
            return
        entry.users -= 1
        if entry.users <= 0 or discard:
            del self._entries[identity]
            await self.close_client(entry.client)

    async def close(self) -> None:
        """Close every client, whoever still uses it (the owner shuts down)."""
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            await self.close_client(entry.client)

    async def close_client(self, client: V) -> None:
        """Close one client; failures are the subclass's to swallow."""
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# The protocols


@runtime_checkable
class Scaler(Protocol):
    """A built trigger: fetches values and activity for the metrics it declared."""

    def metric_specs(self) -> list[MetricSpec]:
        """The HPA metric specs this trigger contributes (External name + target, or a
        Resource/ContainerResource spec for cpu/memory), exactly as KEDA builds them."""
        ...

    async def get_metrics_and_activity(self, metric_name: str) -> tuple[list[MetricValue], bool]:
        """Current value(s) of ``metric_name`` and whether the trigger is active.

        Raises :class:`ScalerError` when the source cannot be read; never returns a made-up
        value instead (KEDA: errors never scale to zero; fallback decides).
        """
        ...

    async def close(self) -> None:
        """Release connections; safe to call more than once."""
        ...


@runtime_checkable
class ScalerFactory(Protocol):
    """A trigger type: pure parsing plus building. Registered under its trigger type name.

    A factory may also define ``check_buildable(config) -> None``, raising
    :class:`ScalerConfigError` for a config that parses (KEDA accepts it) but that this
    factory cannot build; pure, so ``podscaler validate`` runs it offline through
    :meth:`ScalerRegistry.check <scalers.registry.ScalerRegistry.check>`. It is optional (not
    part of the protocol) so plugins written before it keep working.
    """

    @property
    def trigger_types(self) -> tuple[str, ...]:
        """Trigger type names this factory serves (``cpu``; ``prometheus`` …)."""
        ...

    def parse(
        self,
        trigger: ScaleTrigger,
        resolved_env: Mapping[str, str],
        auth_params: Mapping[str, str],
        *,
        trigger_index: int = 0,
        pod_identity_provider: str = "",
    ) -> ScalerConfig:
        """Validate ``trigger`` into a typed config, without any I/O.

        ``resolved_env`` is the env of the scale target's container (for ``…FromEnv``),
        ``auth_params`` the parameters resolved from the TriggerAuthentication,
        ``trigger_index`` the trigger's position (metric names are ``s{index}-…``) and
        ``pod_identity_provider`` the TriggerAuthentication's ``podIdentity.provider``.
        Raises :class:`ScalerConfigError`, and nothing else, on bad input.
        """
        ...

    def build(self, config: ScalerConfig, env: ScalerEnvironment) -> Scaler:
        """A scaler for a config this factory parsed. May raise :class:`ScalerConfigError`
        for problems only visible when materialising (e.g. an unreadable certificate)."""
        ...


# --------------------------------------------------------------------------------------------
# What the built-in factories share

C = TypeVar("C", bound=ScalerConfig)


@dataclass(frozen=True)
class TriggerInput:
    """The arguments of :meth:`ScalerFactory.parse`, together: one trigger and what it is
    resolved against."""

    trigger: ScaleTrigger
    resolved_env: Mapping[str, str]
    auth_params: Mapping[str, str]
    trigger_index: int = 0
    pod_identity_provider: str = ""

    def base_fields(
        self, unexpected_parameters: tuple[str, ...], read_parameters: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """The :class:`ScalerConfig` fields every parsed config starts from."""
        return {
            "trigger_index": self.trigger_index,
            "trigger_name": self.trigger.name or "",
            "unexpected_parameters": unexpected_parameters,
            "read_parameters": read_parameters,
        }


class ScalerFactoryBase(Generic[C]):
    """The protocol's boilerplate, once: :meth:`parse` bundles its arguments into a
    :class:`TriggerInput` for :meth:`parse_input`, and :meth:`config_of` checks that a config
    handed to ``build`` is this factory's. Plugins may use it or implement the protocol
    directly."""

    trigger_types: tuple[str, ...] = ()
    config_type: type[C]

    def parse(
        self,
        trigger: ScaleTrigger,
        resolved_env: Mapping[str, str],
        auth_params: Mapping[str, str],
        *,
        trigger_index: int = 0,
        pod_identity_provider: str = "",
    ) -> C:
        """Validate ``trigger`` into this factory's config, without any I/O."""
        given = TriggerInput(
            trigger, resolved_env, auth_params, trigger_index, pod_identity_provider
        )
        return self.parse_input(given)

    def parse_input(self, given: TriggerInput) -> C:
        """:meth:`parse`, for subclasses; raises :class:`ScalerConfigError` on bad input."""
        raise NotImplementedError

    def config_of(self, config: ScalerConfig) -> C:
        """*config* as this factory's config type; ``TypeError`` for another factory's."""
        if not isinstance(config, self.config_type):
            name = self.trigger_types[0] if self.trigger_types else type(self).__name__
            raise TypeError(f"{name} cannot build from {type(config).__name__}")
        return config
