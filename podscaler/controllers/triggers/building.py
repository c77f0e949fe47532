"""An object's triggers (a ScaledObject's or a ScaledJob's): built through the scaler registry,
polled concurrently.

Building (:func:`build_triggers`) resolves each trigger's inputs (container env for
``xxxFromEnv``, the TriggerAuthentication's parameters), parses the metadata with the trigger
type's factory and builds the scaler. Parsing is pure and its errors (:class:`ScalerConfigError`)
make the object not Ready with a message naming the trigger and parameter; they are not retried
until the spec changes.

Polling (:meth:`TriggerSet.poll`) asks every external metric of every trigger at once, each
under its own timeout, so one slow source cannot delay the others past their deadline. A
failed scaler is rebuilt from its (already validated) config before the next poll, as KEDA
refreshes its scalers cache after an error — a new HTTP session, fresh connections.

A scaler's error text is the one place an upstream's words enter the operator's state (an
echoing server may quote the request's credentials back). :meth:`BuiltTrigger.error_text` is
where it enters: redacted of the trigger's secrets in every derived form and of anything shaped
like a credential, and cut to a short excerpt, so status, Events, decision records,
``podscaler explain`` and the metrics API hold only that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from podscaler.api.metrictarget import MetricTargetType
from podscaler.controllers.triggers.auth import (
    AuthError,
    container_of,
    resolve_auth,
    resolve_container_env,
)
from podscaler.engine.keda import TriggerObservation
from podscaler.kube.clients import Kube
from podscaler.observability.redaction import Redactor, excerpt
from scalers.contract import (
    ContainerResourceMetricSpec,
    ExternalMetricSpec,
    MetricSpec,
    ResourceMetricSpec,
    Scaler,
    ScalerConfig,
    ScalerConfigError,
    ScalerEnvironment,
    ScaleTrigger,
)
from scalers.offline import unread_key_message
from scalers.registry import ScalerRegistry

__all__ = [
    "BuiltTrigger",
    "TriggerConfigError",
    "TriggerPoll",
    "TriggerRecord",
    "TriggerSet",
    "build_triggers",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TriggerRecord:
    """One trigger metric on one poll."""

    index: int
    type: str
    name: str
    metric: str
    value: float | None
    active: bool
    error: str | None = None
    duration_seconds: float = 0.0
    #: what the trigger explains beside its value (``MetricValue.details``: the predictive
    #: trigger's forecast and model), JSON values; ``summary`` is one line for people
    details: Mapping[str, Any] | None = None


class TriggerConfigError(Exception):
    """A trigger cannot be built; the message names it and never carries a secret."""


@dataclass
class BuiltTrigger:
    index: int
    type: str
    name: str
    config: ScalerConfig
    scaler: Scaler
    specs: list[MetricSpec]
    needs_rebuild: bool = False
    #: the trigger's secrets (auth params from Secrets and env, and what its config derives
    #: from them) and credential-shaped text, for :meth:`error_text`
    redactor: Redactor = field(default_factory=Redactor)

    def error_text(self, exc: BaseException) -> str:
        """*exc* as the trigger's error: redacted, one line, a short excerpt."""
        return excerpt(str(exc) or type(exc).__name__, self.redactor)

    @property
    def is_resource(self) -> bool:
        return self.type in ("cpu", "memory")

    def resource_specs(self) -> list[ResourceMetricSpec | ContainerResourceMetricSpec]:
        return [
            s for s in self.specs if isinstance(s, ResourceMetricSpec | ContainerResourceMetricSpec)
        ]

    def resource_metric_name(self) -> str:
        """The engine's key for a cpu/memory trigger (no external metric name exists)."""
        return f"s{self.index}-{self.type}"


@dataclass(frozen=True)
class TriggerPoll:
    """What one poll of all triggers returned, for the engine and for the record."""

    observations: tuple[TriggerObservation, ...]
    records: tuple[TriggerRecord, ...]


def _target_of(spec: ExternalMetricSpec) -> tuple[MetricTargetType, float | None]:
    target = spec.target
    if target.type is MetricTargetType.VALUE:
        return MetricTargetType.VALUE, target.value
    return MetricTargetType.AVERAGE_VALUE, target.average_value


class TriggerSet:
    """The built triggers of one object's generation."""

    def __init__(
        self,
        triggers: list[BuiltTrigger],
        registry: ScalerRegistry,
        env: ScalerEnvironment,
        auth_kinds: Sequence[str] = (),
    ) -> None:
        self.triggers = triggers
        self._registry = registry
        self._env = env
        self.auth_kinds = tuple(auth_kinds)

    def ignored_metadata_note(self) -> str | None:
        """The metadata keys the triggers' types do not read, one clause per trigger, for the
        Warning Event (``None`` when every key is read), each said as ``podscaler validate``
        says it (retired, misplaced, or the parameter it is closest to). Keys only, never
        values."""
        clauses = []
        for t in self.triggers:
            keys = t.config.unexpected_parameters
            if keys:
                label = f"trigger {t.index} ({t.name or t.type})"
                why = [unread_key_message(t.type, k, t.config.read_parameters) for k in keys]
                clauses.append(f"{label}: {'; '.join(why)}")
        return "; ".join(clauses) if clauses else None

    @property
    def external_metric_names(self) -> list[str]:
        return [
            s.metric_name
            for t in self.triggers
            for s in t.specs
            if isinstance(s, ExternalMetricSpec)
        ]

    @property
    def resource_metric_names(self) -> list[str]:
        names: list[str] = []
        for t in self.triggers:
            for s in t.resource_specs():
                if s.resource not in names:
                    names.append(s.resource)
        return names

    @property
    def needs_pods(self) -> bool:
        """cpu/memory triggers and Value targets need the target's pods (see ``pods``)."""
        for t in self.triggers:
            if t.is_resource:
                return True
            for s in t.specs:
                if isinstance(s, ExternalMetricSpec) and s.target.type is MetricTargetType.VALUE:
                    return True
        return False

    async def poll(self, timeout_seconds: float, loop_time: Any) -> TriggerPoll:
        """Poll every trigger metric concurrently; never raises for a trigger's failure."""
        self._rebuild_failed()
        jobs = []
        for trigger in self.triggers:
            if trigger.is_resource:
                continue
            for spec in trigger.specs:
                if isinstance(spec, ExternalMetricSpec):
                    jobs.append(self._poll_one(trigger, spec, timeout_seconds, loop_time))
        polled = await asyncio.gather(*jobs)
        observations: list[TriggerObservation] = []
        records: list[TriggerRecord] = []
        results = iter(polled)
        for trigger in self.triggers:
            if trigger.is_resource:
                for spec in trigger.resource_specs():
                    metric_type = (
                        MetricTargetType.UTILIZATION
                        if spec.target.type is MetricTargetType.UTILIZATION
                        else MetricTargetType.AVERAGE_VALUE
                    )
                    name = trigger.resource_metric_name()
                    observations.append(
                        TriggerObservation(
                            metric_name=name,
                            trigger_type=trigger.type,
                            name=trigger.name,
                            metric_type=metric_type,
                        )
                    )
                    records.append(
                        TriggerRecord(trigger.index, trigger.type, trigger.name, name, None, True)
                    )
                continue
            for spec in trigger.specs:
                if isinstance(spec, ExternalMetricSpec):
                    observation, record = next(results)
                    observations.append(observation)
                    records.append(record)
        return TriggerPoll(tuple(observations), tuple(records))

    async def _poll_one(
        self,
        trigger: BuiltTrigger,
        spec: ExternalMetricSpec,
        timeout_seconds: float,
        loop_time: Any,
    ) -> tuple[TriggerObservation, TriggerRecord]:
        metric_type, target = _target_of(spec)
        started = loop_time()
        error: str | None = None
        value: float | None = None
        raw: float | None = None
        details: dict[str, Any] | None = None
        active = False
        try:
            async with asyncio.timeout(timeout_seconds):
                samples, active = await trigger.scaler.get_metrics_and_activity(spec.metric_name)
            value = sum(s.value for s in samples) if samples else 0.0
            raw = sum(s.raw for s in samples) if samples else 0.0
            details = next((s.details for s in samples if s.details), None)
        except TimeoutError:
            error = f"timed out after {timeout_seconds:g}s"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a scaler's failure is data for fallback, never fatal
            error = trigger.error_text(exc)
        took = loop_time() - started
        if error is not None:
            trigger.needs_rebuild = True
            observation = TriggerObservation(
                metric_name=spec.metric_name,
                trigger_type=trigger.type,
                name=trigger.name,
                error=error,
                metric_type=metric_type,
                target=target,
            )
            record = TriggerRecord(
                trigger.index, trigger.type, trigger.name, spec.metric_name, None, False, error,
                took,
            )  # fmt: skip
            return observation, record
        observation = TriggerObservation(
            metric_name=spec.metric_name,
            trigger_type=trigger.type,
            name=trigger.name,
            value=value,
            is_active=active,
            metric_type=metric_type,
            target=target,
        )
        record = TriggerRecord(
            trigger.index, trigger.type, trigger.name, spec.metric_name, raw, active, None, took,
            details,
        )  # fmt: skip
        return observation, record

    def _rebuild_failed(self) -> None:
        for trigger in self.triggers:
            if not trigger.needs_rebuild:
                continue
            trigger.needs_rebuild = False
            old = trigger.scaler
            try:
                trigger.scaler = self._registry.build(trigger.type, trigger.config, self._env)
            except Exception:
                log.warning("rebuilding trigger %d (%s) failed", trigger.index, trigger.type)
                continue
            asyncio.get_running_loop().create_task(_close_quietly(old))

    async def close(self) -> None:
        for trigger in self.triggers:
            await _close_quietly(trigger.scaler)


async def _close_quietly(scaler: Scaler) -> None:
    try:
        await scaler.close()
    except Exception:
        log.debug("closing a scaler failed", exc_info=True)


#: ``Authorization`` schemes: the word before the credential, kept in redacted text.
_SCHEMES = frozenset({"basic", "bearer", "digest", "negotiate", "token"})


def trigger_redactor(config: ScalerConfig, auth_secrets: Sequence[str]) -> Redactor:
    """The redactor for one trigger's error texts: the auth params that came from Secrets or
    env, the secrets its parsed config holds (``config.auth.secrets()``, which covers
    ``xxxFromEnv`` metadata too), the headers it sends (a Basic header is base64 of
    ``user:password``, which neither value alone matches) and the user/password pair."""
    secrets = list(auth_secrets)
    pairs: list[tuple[str, str]] = []
    auth = getattr(config, "auth", None)
    listed = getattr(auth, "secrets", None)
    if callable(listed):
        secrets.extend(str(s) for s in listed())
    headers = getattr(auth, "headers", None)
    if callable(headers):
        for value in map(str, headers().values()):
            # "Basic <credential>": the scheme is worth keeping in a message, the rest is not
            scheme, _, credential = value.partition(" ")
            secrets.append(credential if scheme.lower() in _SCHEMES and credential else value)
    username, password = getattr(auth, "username", None), getattr(auth, "password", None)
    if isinstance(username, str) and isinstance(password, SecretStr):
        pairs.append((username, password.get_secret_value()))
    return Redactor.for_secrets(secrets, pairs)


async def build_triggers(
    kube: Kube,
    registry: ScalerRegistry,
    env: ScalerEnvironment,
    *,
    namespace: str,
    triggers: Sequence[ScaleTrigger],
    workload: Mapping[str, Any] | None,
    env_source_container: str | None,
    operator_namespace: str,
) -> TriggerSet:
    """Resolve, parse and build every trigger; :class:`TriggerConfigError` on the first bad one
    (already-built scalers are closed)."""
    container = container_of(workload, env_source_container) if workload is not None else None
    try:
        container_env = await resolve_container_env(kube, namespace, container)
    except AuthError as exc:
        raise TriggerConfigError(f"cannot resolve the target's environment: {exc}") from exc
    built: list[BuiltTrigger] = []
    auth_kinds: list[str] = []
    try:
        for index, spec in enumerate(triggers):
            label = f"trigger {index} ({spec.name or spec.type})"
            try:
                auth = await resolve_auth(
                    kube,
                    namespace,
                    spec.authentication_ref,
                    container_env=container_env,
                    workload=workload,
                    operator_namespace=operator_namespace,
                )
            except AuthError as exc:
                raise TriggerConfigError(f"{label}: {exc}") from exc
            if auth.kind and auth.kind not in auth_kinds:
                auth_kinds.append(auth.kind)
            redactor = Redactor.for_secrets(auth.secrets)
            try:
                config = registry.check(
                    spec,
                    container_env,
                    auth.params,
                    trigger_index=index,
                    pod_identity_provider=auth.pod_identity_provider,
                )
                redactor = trigger_redactor(config, auth.secrets)
                scaler = registry.build(spec.type, config, env)
            except ScalerConfigError as exc:
                raise TriggerConfigError(f"{label}: {excerpt(str(exc), redactor)}") from exc
            built.append(
                BuiltTrigger(
                    index,
                    spec.type,
                    spec.name or "",
                    config,
                    scaler,
                    scaler.metric_specs(),
                    redactor=redactor,
                )
            )
    except BaseException:
        for trigger in built:
            await _close_quietly(trigger.scaler)
        raise
    return TriggerSet(built, registry, env, auth_kinds)
