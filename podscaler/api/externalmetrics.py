"""The seam between the metrics API and whatever knows the metric values.

The external metrics API does not evaluate triggers itself: the ScaledObject controller already
holds, per ScaledObject, the scalers, the last poll's values and errors, and the fallback state.
The API asks it through :class:`MetricsSource`, one small async method, so the HTTP server can be
tested (and benchmarked) against an in-memory source and the controller can change freely behind
it.

What a source must do for one call, as KEDA's operator does (reference/keda.md §2.6, §2.9):

* find the ScaledObject ``scaled_object`` in ``namespace``; none ⇒ :class:`ScaledObjectNotFound`;
* find the trigger whose metric is ``metric_name`` (``s{i}-...``, or ``composite-metric`` with
  ``scalingModifiers``); none ⇒ :class:`MetricNotFound`;
* if that trigger has ``useCachedMetrics: true``, answer the last poll's record, *including its
  error*; otherwise query the scaler now (live), with the scaler's own timeout;
* on a scaler error, apply ``spec.fallback`` (the fallback value replaces the metric and counts as
  an evaluation for the health counter); when no fallback applies, raise
  :class:`MetricUnavailable` (the HPA then shows ``FailedGetExternalMetric``).

Values are plain floats in the metric's own unit, as ``engine.keda`` keeps them; turning them
into Kubernetes quantities (milli precision, NaN/±Inf/negative as 0) is the API's job
(:mod:`podscaler.metricsapi.wire`). Messages of the errors reach the client in a ``Status``, so
they must never contain secrets (connection strings, tokens): name the trigger, not its metadata.

It lives in ``api``, the bottom layer, because two layers that must not import each other meet
here: ``controllers`` implements the protocol structurally (no inheritance needed) and raises
these errors, and ``metricsapi`` serves what it answers. It imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

__all__ = [
    "ExternalMetricSample",
    "MetricNotFound",
    "MetricUnavailable",
    "MetricsSource",
    "MetricsSourceError",
    "ScaledObjectNotFound",
]


@dataclass(frozen=True, slots=True)
class ExternalMetricSample:
    """One value of an external metric.

    ``timestamp`` is when the value was measured (the poll time for a cached value, now for a
    live one), timezone-aware; the API renders it as RFC 3339 in UTC. ``window_seconds`` is the
    averaging window when the source has one (rare for triggers; KEDA leaves it unset).
    """

    metric_name: str
    value: float
    timestamp: datetime
    window_seconds: int | None = None


class MetricsSourceError(Exception):
    """Base of the errors a :class:`MetricsSource` raises; the message is shown to the client."""


class ScaledObjectNotFound(MetricsSourceError):
    """No ScaledObject of that name in that namespace (or no such namespace): a 404."""


class MetricNotFound(MetricsSourceError):
    """The ScaledObject exists but none of its triggers exposes that metric name: a 404."""


class MetricUnavailable(MetricsSourceError):
    """The trigger is failing and no fallback applies: a 503, so the HPA keeps its replicas."""


@runtime_checkable
class MetricsSource(Protocol):
    """Where the external metrics API gets values (the ScaledObject controller implements it)."""

    async def external_metric(
        self, namespace: str, scaled_object: str, metric_name: str
    ) -> Sequence[ExternalMetricSample]:
        """The current value(s) of ``metric_name`` of one ScaledObject (see the module docstring).

        Usually one sample. Raise :class:`ScaledObjectNotFound`, :class:`MetricNotFound` or
        :class:`MetricUnavailable`; any other exception is reported as a 500 and logged. The API
        cancels the call when the request's deadline passes, so it must be cancellation-safe.
        """
        ...
