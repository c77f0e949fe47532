"""An in-memory :class:`~podscaler.api.externalmetrics.MetricsSource` for the tests.

A real implementation of the protocol (not a mock): ScaledObjects hold triggers, each either
cached (``useCachedMetrics: true``: the last poll's value *or error* is answered) or live (a
coroutine is awaited per request, like a scaler query), with an optional fallback value applied
when the trigger fails. It counts live queries so tests can tell the two modes apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from podscaler.api.externalmetrics import (
    ExternalMetricSample,
    MetricNotFound,
    MetricUnavailable,
    ScaledObjectNotFound,
)

LiveQuery = Callable[[], Awaitable[float]]


class TriggerFailed(Exception):
    """What a scaler raises when its source is down."""


@dataclass
class Trigger:
    metric_name: str
    #: ``useCachedMetrics``: answer the last poll's record instead of querying.
    use_cached: bool = False
    #: The last poll's record: a value or the error it ended with.
    cached: float | Exception = 0.0
    polled_at: datetime = field(default_factory=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    live: LiveQuery | None = None
    #: ``spec.fallback`` already resolved to a value (target x replicas); None: no fallback.
    fallback_value: float | None = None
    live_queries: int = 0


class InMemorySource:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], list[Trigger]] = {}

    def add(self, namespace: str, name: str, *triggers: Trigger) -> None:
        self.objects[(namespace, name)] = list(triggers)

    def trigger(self, namespace: str, name: str, metric_name: str) -> Trigger:
        return next(t for t in self.objects[(namespace, name)] if t.metric_name == metric_name)

    async def external_metric(
        self, namespace: str, scaled_object: str, metric_name: str
    ) -> Sequence[ExternalMetricSample]:
        triggers = self.objects.get((namespace, scaled_object))
        if triggers is None:
            raise ScaledObjectNotFound(
                f'scaledobjects.autoscaling.podscaler.io "{scaled_object}" not found'
            )
        trigger = next((t for t in triggers if t.metric_name == metric_name), None)
        if trigger is None:
            raise MetricNotFound(f"no metric {metric_name} in ScaledObject {scaled_object}")
        outcome: float | Exception
        at = trigger.polled_at
        if trigger.use_cached or trigger.live is None:
            outcome = trigger.cached
        else:
            trigger.live_queries += 1
            at = datetime.now(UTC)
            try:
                outcome = await trigger.live()
            except asyncio.CancelledError:
                raise
            except TriggerFailed as exc:
                outcome = exc
        if isinstance(outcome, Exception):
            if trigger.fallback_value is None:
                raise MetricUnavailable(f"trigger {metric_name} failed") from outcome
            outcome = trigger.fallback_value
        return [ExternalMetricSample(metric_name, outcome, at)]
