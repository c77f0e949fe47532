"""The reference for ``podscaler.observability.metrics``: ``OperatorMetrics`` as it was before
its per-object series moved to a table (a prometheus_client child per series, and a cache of
them per object), kept verbatim but for its name.

``test_metrics_series`` checks that the table renders what this renders for the same calls, and
``bench/metrics_memory.py`` measures both. Not used by the operator.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from podscaler.observability.metrics import (
    _LOOP_BUCKETS_SECONDS,
    KEDA_SCALER_LABELS,
    SCALED_JOB,
    SCALED_OBJECT,
    TRIGGER_DETAIL_GAUGES,
)

__all__ = ["ChildrenMetrics"]


class ChildrenMetrics:
    """``OperatorMetrics`` as it was: a prometheus_client metric per family, a labelled child
    per series."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        obj = ("namespace", "scaledobject")
        trig = ("namespace", "scaledobject", "trigger_index", "trigger", "metric")
        self.desired_replicas = Gauge(
            "podscaler_scaledobject_desired_replicas",
            "Replicas podscaler decided for the target at the last evaluation.",
            obj,
            registry=r,
        )
        self.current_replicas = Gauge(
            "podscaler_scaledobject_current_replicas",
            "The target's /scale spec.replicas seen at the last evaluation.",
            obj,
            registry=r,
        )
        self.decisions = Counter(
            "podscaler_scaledobject_decisions",
            "Evaluations by the rule that bound the result (hpa, cooldown, fallback, pause ...).",
            (*obj, "rule"),
            registry=r,
        )
        self.scale_writes = Counter(
            "podscaler_scaledobject_scale_writes",
            "Writes of the target's /scale, by outcome (success, error).",
            (*obj, "outcome"),
            registry=r,
        )
        self.trigger_value = Gauge(
            "podscaler_trigger_value",
            "Last value of a trigger metric (raw, in the metric's own unit).",
            trig,
            registry=r,
        )
        self.trigger_errors = Counter(
            "podscaler_trigger_errors",
            "Failed trigger evaluations (errors and timeouts).",
            trig,
            registry=r,
        )
        self.evaluation_duration = Histogram(
            "podscaler_scaledobject_evaluation_duration_seconds",
            "Time one ScaledObject evaluation took, triggers to status write.",
            buckets=_LOOP_BUCKETS_SECONDS,
            registry=r,
        )
        self.loop_lateness = Histogram(
            "podscaler_scale_loop_lateness_seconds",
            "How late an evaluation started compared with its schedule (all objects of a type).",
            ("type",),
            buckets=_LOOP_BUCKETS_SECONDS,
            registry=r,
        )
        # ---- what triggers explain beside their value (MetricValue.details), by key
        self.trigger_details: dict[str, Gauge] = {
            key: Gauge(name, help_text, trig, registry=r)
            for key, (name, help_text) in TRIGGER_DETAIL_GAUGES.items()
        }
        self.objects = Gauge(
            "podscaler_scaledobjects",
            "ScaledObjects the controller evaluates.",
            registry=r,
        )
        # ---- KEDA's names and labels
        self.keda_metrics_value = Gauge(
            "keda_scaler_metrics_value",
            "The current value for each scaler's metric that would be used by the HPA.",
            KEDA_SCALER_LABELS,
            registry=r,
        )
        self.keda_metrics_latency = Gauge(
            "keda_scaler_metrics_latency_seconds",
            "The latency of retrieving current metric from each scaler.",
            KEDA_SCALER_LABELS,
            registry=r,
        )
        self.keda_active = Gauge(
            "keda_scaler_active",
            "Activity of a scaler metric (1 active, 0 inactive).",
            KEDA_SCALER_LABELS,
            registry=r,
        )
        self.keda_detail_errors = Counter(
            "keda_scaler_detail_errors",
            "The number of errors that have occurred for each scaler.",
            KEDA_SCALER_LABELS,
            registry=r,
        )
        self.keda_errors = Counter(
            "keda_scaler_errors",
            "The number of errors for each scaler (KEDA before 2.16; kept for old dashboards).",
            KEDA_SCALER_LABELS,
            registry=r,
        )
        self.keda_object_errors = Counter(
            "keda_scaled_object_errors",
            "The number of errors that have occurred for each ScaledObject.",
            ("namespace", "scaledObject"),
            registry=r,
        )
        self.keda_job_errors = Counter(
            "keda_scaled_job_errors",
            "The number of errors that have occurred for each ScaledJob.",
            ("namespace", "scaledJob"),
            registry=r,
        )
        self._object_errors = {
            SCALED_OBJECT: self.keda_object_errors,
            SCALED_JOB: self.keda_job_errors,
        }
        self.keda_paused = Gauge(
            "keda_scaled_object_paused",
            "Whether a ScaledObject is paused (1) or not (0).",
            ("namespace", "scaledObject"),
            registry=r,
        )
        self.keda_loop_latency = Gauge(
            "keda_internal_scale_loop_latency_seconds",
            "Lateness of the last scale loop run compared with its schedule.",
            ("namespace", "type", "resource"),
            registry=r,
        )
        self._trigger_labels: dict[tuple[str, str], set[tuple[str, ...]]] = {}
        #: (namespace, name) of a ScaledObject, or (type, namespace, name) of another kind →
        #: {cache key → labelled child}; see the module docstring.
        self._children: dict[tuple[str, ...], dict[tuple[Any, ...], Any]] = {}
        self._lateness_of_type: dict[str, Any] = {}

    def _child(
        self,
        namespace: str,
        name: str,
        metric: Gauge | Counter,
        labels: tuple[str, ...],
        kind: str = SCALED_OBJECT,
    ) -> Any:
        owner = (namespace, name) if kind == SCALED_OBJECT else (kind, namespace, name)
        children = self._children.get(owner)
        if children is None:
            children = self._children[owner] = {}
        key = (id(metric), labels)
        child = children.get(key)
        if child is None:
            child = children[key] = metric.labels(*labels)
        return child

    # ---------------------------------------------------------------- recording

    def trigger(
        self,
        namespace: str,
        name: str,
        *,
        index: int,
        trigger_name: str,
        trigger_type: str,
        metric: str,
        value: float | None,
        active: bool,
        error: bool,
        latency_seconds: float,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one trigger metric's poll under both families (and its numeric details
        named in :data:`TRIGGER_DETAIL_GAUGES`)."""
        scaler = trigger_name or trigger_type
        keda = (namespace, metric, name, scaler, str(index), SCALED_OBJECT)
        ours = (namespace, name, str(index), scaler, metric)
        self._trigger_labels.setdefault((namespace, name), set()).add(keda)
        self._child(namespace, name, self.keda_active, keda).set(1.0 if active else 0.0)
        self._child(namespace, name, self.keda_metrics_latency, keda).set(latency_seconds)
        if error:
            self._child(namespace, name, self.keda_detail_errors, keda).inc()
            self._child(namespace, name, self.keda_errors, keda).inc()
            self._child(namespace, name, self.trigger_errors, ours).inc()
        elif value is not None:
            self._child(namespace, name, self.keda_metrics_value, keda).set(max(value, 0.0))
            self._child(namespace, name, self.trigger_value, ours).set(value)
        for key, number in (details or {}).items():
            gauge = self.trigger_details.get(key)
            if gauge is not None and isinstance(number, int | float) and not error:
                self._child(namespace, name, gauge, ours).set(float(number))

    def object_error(self, namespace: str, name: str, *, kind: str = SCALED_OBJECT) -> None:
        """One error of a ScaledObject (or, by *kind*, a ScaledJob)."""
        self._object_errors[kind].labels(namespace, name).inc()

    def evaluated(
        self,
        namespace: str,
        name: str,
        *,
        rule: str,
        current: int | None,
        desired: int | None,
        paused: bool,
        duration_seconds: float,
    ) -> None:
        obj = (namespace, name)
        self._child(namespace, name, self.decisions, (namespace, name, rule)).inc()
        if current is not None:
            self._child(namespace, name, self.current_replicas, obj).set(current)
        if desired is not None:
            self._child(namespace, name, self.desired_replicas, obj).set(desired)
        self._child(namespace, name, self.keda_paused, obj).set(1.0 if paused else 0.0)
        self.evaluation_duration.observe(duration_seconds)

    def lateness(
        self, namespace: str, name: str, seconds: float, *, kind: str = SCALED_OBJECT
    ) -> None:
        """How late a scheduled poll of a ScaledObject (or, by *kind*, a ScaledJob) started."""
        histogram = self._lateness_of_type.get(kind)
        if histogram is None:
            histogram = self._lateness_of_type[kind] = self.loop_lateness.labels(kind)
        histogram.observe(max(seconds, 0.0))
        labels = (namespace, kind, f"{namespace}/{name}")
        self._child(namespace, name, self.keda_loop_latency, labels, kind).set(max(seconds, 0.0))

    def last_lateness(self) -> list[tuple[str, float]]:
        """(loop type, seconds) of each object's last scheduled poll (``podscaler status``)."""
        return [
            (sample.labels["type"], sample.value)
            for family in self.keda_loop_latency.collect()
            for sample in family.samples
        ]

    def scale_write(self, namespace: str, name: str, *, ok: bool) -> None:
        self.scale_writes.labels(namespace, name, "success" if ok else "error").inc()

    def forget(self, namespace: str, name: str, *, kind: str = SCALED_OBJECT) -> None:
        """Remove a deleted object's series, so they do not linger at their last value."""
        if kind != SCALED_OBJECT:
            self._children.pop((kind, namespace, name), None)
            _remove(self._object_errors[kind], (namespace, name))
            _remove(self.keda_loop_latency, (namespace, kind, f"{namespace}/{name}"))
            return
        self._children.pop((namespace, name), None)
        for keda in self._trigger_labels.pop((namespace, name), set()):
            ours = (namespace, name, keda[4], keda[3], keda[1])
            for metric in (
                self.keda_active,
                self.keda_metrics_latency,
                self.keda_metrics_value,
                self.keda_detail_errors,
                self.keda_errors,
            ):
                _remove(metric, keda)
            for metric in (self.trigger_value, self.trigger_errors):
                _remove(metric, ours)
            for detail in self.trigger_details.values():
                _remove(detail, ours)
        for gauge in (self.current_replicas, self.desired_replicas):
            _remove(gauge, (namespace, name))
        _remove(self.keda_paused, (namespace, name))
        _remove(self.keda_object_errors, (namespace, name))
        _remove(self.keda_loop_latency, (namespace, SCALED_OBJECT, f"{namespace}/{name}"))
        for labels in list(_label_sets(self.decisions)):
            if labels[:2] == (namespace, name):
                _remove(self.decisions, labels)
        for labels in list(_label_sets(self.scale_writes)):
            if labels[:2] == (namespace, name):
                _remove(self.scale_writes, labels)

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)


def _remove(metric: Gauge | Counter, labels: tuple[str, ...]) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)


def _label_sets(metric: Gauge | Counter) -> list[tuple[str, ...]]:
    # prometheus_client keeps children in ``_metrics``; read-only use, for cleanup only.
    children: dict[tuple[str, ...], object] = getattr(metric, "_metrics", {})
    return list(children)
