"""Trigger types by name: the built-ins plus whatever is installed under the
``podscaler.scalers`` entry-point group.

Each entry point's name is a trigger type and its object a :class:`ScalerFactory`
(``name = "package.module:FACTORY"``). The built-ins are declared the same way in
pyproject.toml, and are also registered directly, so they work from a source checkout whose
installed metadata is stale.

A third-party entry point that fails to load must not take the operator down (DESIGN.md
principle 5): the failure is remembered, and only triggers of that type get a
:class:`ScalerConfigError` saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points

from scalers.contract import (
    Scaler,
    ScalerConfig,
    ScalerConfigError,
    ScalerEnvironment,
    ScalerFactory,
    ScaleTrigger,
)

__all__ = ["ENTRY_POINT_GROUP", "ScalerRegistry", "builtin_factories", "default_registry"]

ENTRY_POINT_GROUP = "podscaler.scalers"

log = logging.getLogger(__name__)


def builtin_factories() -> dict[str, ScalerFactory]:
    """The trigger types podscaler ships."""
    from scalers.aws_sqs_queue import AWS_SQS_QUEUE
    from scalers.cpu_memory import CPU, MEMORY
    from scalers.cron import CRON
    from scalers.kafka import KAFKA
    from scalers.predictive import PREDICTIVE
    from scalers.prometheus import PROMETHEUS

    factories: dict[str, ScalerFactory] = {}
    for factory in (CPU, MEMORY, CRON, PROMETHEUS, AWS_SQS_QUEUE, KAFKA, PREDICTIVE):
        for trigger_type in factory.trigger_types:
            factories[trigger_type] = factory
    return factories


class ScalerRegistry:
    """Maps trigger types to factories and runs the parse → build steps for a trigger."""

    def __init__(self, factories: Mapping[str, ScalerFactory] | None = None) -> None:
        self._factories: dict[str, ScalerFactory] = dict(factories or {})
        self._broken: dict[str, str] = {}

    def register(self, trigger_type: str, factory: ScalerFactory) -> None:
        """Add or replace the factory for ``trigger_type``."""
        if not isinstance(factory, ScalerFactory):
            raise TypeError(f"{factory!r} does not implement ScalerFactory (parse and build)")
        self._factories[trigger_type] = factory
        self._broken.pop(trigger_type, None)

    def load_entry_points(self, points: Iterable[EntryPoint] | None = None) -> None:
        """Register every entry point of the ``podscaler.scalers`` group (or ``points``).

        Built-ins already registered win over an entry point of the same name only when the
        entry point fails to load; otherwise the installed entry point is authoritative.
        """
        for point in entry_points(group=ENTRY_POINT_GROUP) if points is None else points:
            try:
                factory = point.load()
                self.register(point.name, factory)
            except Exception as exc:  # a broken plugin must not break the other triggers
                reason = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "cannot load trigger type %r from %s: %s", point.name, point.value, reason
                )
                if point.name not in self._factories:
                    self._broken[point.name] = f"failed to load from {point.value}: {reason}"

    @property
    def trigger_types(self) -> list[str]:
        return sorted(self._factories)

    def factory(self, trigger_type: str) -> ScalerFactory:
        """The factory for ``trigger_type``; :class:`ScalerConfigError` when unknown."""
        factory = self._factories.get(trigger_type)
        if factory is not None:
            return factory
        if trigger_type in self._broken:
            raise ScalerConfigError(
                f"trigger type {trigger_type!r} is installed but unusable: "
                f"{self._broken[trigger_type]}",
                parameter="type",
            )
        raise ScalerConfigError(
            f"unknown trigger type {trigger_type!r}; known types: {', '.join(self.trigger_types)}",
            parameter="type",
        )

    def parse(
        self,
        trigger: ScaleTrigger,
        resolved_env: Mapping[str, str] | None = None,
        auth_params: Mapping[str, str] | None = None,
        *,
        trigger_index: int = 0,
        pod_identity_provider: str = "",
    ) -> ScalerConfig:
        """Parse ``trigger`` with its type's factory. Raises only :class:`ScalerConfigError`
        (a factory raising anything else is reported as a config error naming its type)."""
        factory = self.factory(trigger.type)
        try:
            return factory.parse(
                trigger,
                resolved_env or {},
                auth_params or {},
                trigger_index=trigger_index,
                pod_identity_provider=pod_identity_provider,
            )
        except ScalerConfigError:
            raise
        except Exception as exc:
            raise ScalerConfigError(
                f"trigger type {trigger.type!r} failed to parse its metadata: {type(exc).__name__}",
                parameter=None,
            ) from exc

    def check(
        self,
        trigger: ScaleTrigger,
        resolved_env: Mapping[str, str] | None = None,
        auth_params: Mapping[str, str] | None = None,
        *,
        trigger_index: int = 0,
        pod_identity_provider: str = "",
    ) -> ScalerConfig:
        """Everything known about ``trigger`` before a scaler exists, without I/O: :meth:`parse`,
        then the factory's optional ``check_buildable(config)`` (what KEDA accepts but this
        podscaler cannot build yet). The operator builds from this and ``podscaler validate``
        runs it offline, so the two agree. Raises only :class:`ScalerConfigError`."""
        config = self.parse(
            trigger,
            resolved_env,
            auth_params,
            trigger_index=trigger_index,
            pod_identity_provider=pod_identity_provider,
        )
        check_buildable = getattr(self.factory(trigger.type), "check_buildable", None)
        if check_buildable is None:
            return config
        try:
            check_buildable(config)
        except ScalerConfigError:
            raise
        except Exception as exc:
            raise ScalerConfigError(
                f"trigger type {trigger.type!r} failed to check its config: {type(exc).__name__}",
                parameter=None,
            ) from exc
        return config

    def build(self, trigger_type: str, config: ScalerConfig, env: ScalerEnvironment) -> Scaler:
        """Build a scaler from a config parsed by this registry."""
        return self.factory(trigger_type).build(config, env)


_DEFAULT: ScalerRegistry | None = None


def default_registry() -> ScalerRegistry:
    """The process-wide registry: built-ins, then installed entry points (loaded once)."""
    global _DEFAULT
    if _DEFAULT is None:
        registry = ScalerRegistry(builtin_factories())
        registry.load_entry_points()
        _DEFAULT = registry
    return _DEFAULT
