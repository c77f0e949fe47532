"""The operator's Prometheus metrics: ``podscaler_*`` and the ``keda_*`` names dashboards query.

Two families, on one registry served at ``/metrics`` on the metrics port:

* ``podscaler_*`` in base units (seconds), ``_total`` for counters: desired and current
  replicas per ScaledObject, decisions by the rule that bound them, trigger values and errors,
  the evaluation duration and the scale loop's lateness.
* KEDA's names with KEDA's labels (``reference/keda.md`` §4.1), so the KEDA Grafana dashboard
  and alerts keep working unchanged: ``keda_scaler_metrics_value``, ``keda_scaler_active``,
  ``keda_scaler_detail_errors_total`` (and the older ``keda_scaler_errors_total`` that
  dashboards built before KEDA 2.16 still query), ``keda_scaled_object_errors_total``,
  ``keda_scaled_job_errors_total``, ``keda_scaled_object_paused`` and
  ``keda_internal_scale_loop_latency_seconds``.

The poll loop (``podscaler.controllers.loop``) reports for every kind it polls, told apart the
way KEDA tells them apart: the lateness gauge ``keda_internal_scale_loop_latency_seconds`` and
the histogram ``podscaler_scale_loop_lateness_seconds`` carry ``type`` (``scaledobject``,
``scaledjob``); errors go to the kind's own KEDA family (``keda_scaled_object_errors_total``:
an invalid object, a missing target, a failed ``/scale`` write, a failed poll;
``keda_scaled_job_errors_total``: an invalid ScaledJob, a Job that could not be created, a
failed poll).

Labels are bounded: per object (namespace, name) and per trigger (index, name, metric name),
never a value, an error message or anything a user can make unbounded at run time. Histograms
carry no per-object labels (10,000 objects x buckets would be a cardinality problem of our own
making). Series of a deleted object are removed (:meth:`OperatorMetrics.forget`).

The per-object series are not prometheus_client children: a labelled child carries a lock, a
value object with its own lock and its label tuple, and the ~10 series of a ScaledObject with
one trigger (with the cache of them the poll path needed) held 8 KiB (80 MiB at 10,000
objects; ``bench/metrics_memory.py``). They are plain numbers in one table, ``(namespace,
name) → _ObjectSeries`` (``__slots__``; a trigger's series share one ``_TriggerSeries``),
rendered at scrape time by one collector into the same families, with the same names, help,
label names and values: 0.64 KiB an object, and a poll's recording a quarter of the CPU.
:meth:`OperatorMetrics.exposition` writes those families' text straight from the table
(:class:`_TableFamily`): a scrape at 10,000 objects holds the event loop for 0.19 s of CPU
(1.0 s with the children) and peaks at 27 MiB above the heap (120 MiB with the children).
Counters rendered from the table carry no ``_created`` sample (when a series was first written:
no dashboard or alert reads it). The histograms and ``podscaler_scaledobjects`` have no
per-object labels and stay prometheus_client metrics, collected through the same collector so
the families keep their order.

Writes and scrapes both run on the event loop's thread (``/metrics`` is an aiohttp handler on
that loop). The collector still reads copies of the table and of each object's containers
(each copy one step the interpreter does not interrupt), so a scrape from another thread
(``registry.collect()`` anywhere) never sees a container change size under it; it may see one
object's series mid-poll, as prometheus_client's own series could.

Each :class:`OperatorMetrics` owns its own :class:`~prometheus_client.CollectorRegistry`, so
tests and benchmarks can run several operators in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import Any, Final

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

__all__ = ["CONTENT_TYPE_LATEST", "SCALED_JOB", "SCALED_OBJECT", "OperatorMetrics"]

#: KEDA's ``type`` label value for ScaledObjects.
SCALED_OBJECT: Final = "scaledobject"
#: KEDA's ``type`` label value for ScaledJobs.
SCALED_JOB: Final = "scaledjob"

#: KEDA's common scaler labels (``pkg/metricscollector/prommetrics.go``: metricLabels).
KEDA_SCALER_LABELS: Final = (
    "namespace",
    "metric",
    "scaledObject",
    "scaler",
    "triggerIndex",
    "type",
)

#: Numeric ``MetricValue.details`` keys exported as gauges, with their metric name and help.
#: Fixed here (never taken from a trigger), so the series stay bounded.
TRIGGER_DETAIL_GAUGES: Final = {
    "forecast": (
        "podscaler_predictive_forecast",
        "Largest forecast of a predictive trigger over its horizon, at the last poll.",
    ),
    "backtestMape": (
        "podscaler_predictive_backtest_mape_ratio",
        "Mean absolute percentage error of a predictive trigger's model on its held-out day, "
        "forecasting one horizon ahead (0.05 is 5%).",
    ),
    "liveValueMape": (
        "podscaler_predictive_live_value_mape_ratio",
        "The same error for the live value alone (a reactive trigger's assumption), to compare.",
    ),
    "modelAgeSeconds": (
        "podscaler_predictive_model_age_seconds",
        "Time since the history a predictive trigger's model was fitted on ended.",
    ),
    "fitSeconds": (
        "podscaler_predictive_fit_seconds",
        "CPU time a predictive trigger's last model fit took (history already fetched).",
    ),
}

_LOOP_BUCKETS_SECONDS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


_OBJECT_LABELS: Final = ("namespace", "scaledobject")
_TRIGGER_LABELS: Final = ("namespace", "scaledobject", "trigger_index", "trigger", "metric")
_KEDA_OBJECT_LABELS: Final = ("namespace", "scaledObject")

#: (name, help) of the families rendered from the per-object table.
_DESIRED: Final = (
    "podscaler_scaledobject_desired_replicas",
    "Replicas podscaler decided for the target at the last evaluation.",
)
_CURRENT: Final = (
    "podscaler_scaledobject_current_replicas",
    "The target's /scale spec.replicas seen at the last evaluation.",
)
_DECISIONS: Final = (
    "podscaler_scaledobject_decisions",
    "Evaluations by the rule that bound the result (hpa, cooldown, fallback, pause ...).",
)
_WRITES: Final = (
    "podscaler_scaledobject_scale_writes",
    "Writes of the target's /scale, by outcome (success, error).",
)
_TRIGGER_VALUE: Final = (
    "podscaler_trigger_value",
    "Last value of a trigger metric (raw, in the metric's own unit).",
)
_TRIGGER_ERRORS: Final = (
    "podscaler_trigger_errors",
    "Failed trigger evaluations (errors and timeouts).",
)
_KEDA_VALUE: Final = (
    "keda_scaler_metrics_value",
    "The current value for each scaler's metric that would be used by the HPA.",
)
_KEDA_LATENCY: Final = (
    "keda_scaler_metrics_latency_seconds",
    "The latency of retrieving current metric from each scaler.",
)
_KEDA_ACTIVE: Final = (
    "keda_scaler_active",
    "Activity of a scaler metric (1 active, 0 inactive).",
)
_KEDA_DETAIL_ERRORS: Final = (
    "keda_scaler_detail_errors",
    "The number of errors that have occurred for each scaler.",
)
_KEDA_ERRORS: Final = (
    "keda_scaler_errors",
    "The number of errors for each scaler (KEDA before 2.16; kept for old dashboards).",
)
_KEDA_OBJECT_ERRORS: Final = (
    "keda_scaled_object_errors",
    "The number of errors that have occurred for each ScaledObject.",
)
_KEDA_JOB_ERRORS: Final = (
    "keda_scaled_job_errors",
    "The number of errors that have occurred for each ScaledJob.",
)
_KEDA_PAUSED: Final = (
    "keda_scaled_object_paused",
    "Whether a ScaledObject is paused (1) or not (0).",
)
_KEDA_LOOP_LATENCY: Final = (
    "keda_internal_scale_loop_latency_seconds",
    "Lateness of the last scale loop run compared with its schedule.",
)


class _TriggerSeries:
    """One trigger metric of one ScaledObject: the values behind its series in both families.

    ``keda_scaler_detail_errors``, ``keda_scaler_errors`` and ``podscaler_trigger_errors`` are
    always counted together, so one count stands for the three; 0 means no error yet (no
    series, as a counter child appears with its first increment). ``keda_scaler_metrics_value``
    is ``value`` floored at 0, ``podscaler_trigger_value`` the raw value.
    """

    __slots__ = ("active", "details", "errors", "index", "latency", "metric", "scaler", "value")

    def __init__(self, index: int, scaler: str, metric: str) -> None:
        self.index = index
        self.scaler = scaler
        self.metric = metric
        self.active = False
        self.latency = 0.0
        self.value: float | None = None
        self.errors = 0
        #: key of :data:`TRIGGER_DETAIL_GAUGES` → last value (None: no detail yet).
        self.details: dict[str, float] | None = None


class _ObjectSeries:
    """One ScaledObject's series (None / 0: not written yet, so not exposed)."""

    __slots__ = (
        "current",
        "decisions",
        "desired",
        "errors",
        "lateness",
        "paused",
        "triggers",
        "writes_failed",
        "writes_ok",
    )

    def __init__(self) -> None:
        self.desired: float | None = None
        self.current: float | None = None
        self.paused: bool | None = None
        self.errors = 0
        self.lateness: float | None = None
        self.writes_ok = 0
        self.writes_failed = 0
        #: rule → evaluations it bound.
        self.decisions: dict[str, int] | None = None
        #: A tuple, not a list (48 bytes for one trigger, not 88): it grows only when a
        #: trigger is first seen.
        self.triggers: tuple[_TriggerSeries, ...] = ()


class _KindSeries:
    """An object of another kind (a ScaledJob): its errors and its last lateness."""

    __slots__ = ("errors", "lateness")

    def __init__(self) -> None:
        self.errors = 0
        self.lateness: float | None = None


class OperatorMetrics:
    """Every metric the ScaledObject and ScaledJob controllers report, on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        # Not registered themselves: the collector below yields them in their place.
        self.evaluation_duration = Histogram(
            "podscaler_scaledobject_evaluation_duration_seconds",
            "Time one ScaledObject evaluation took, triggers to status write.",
            buckets=_LOOP_BUCKETS_SECONDS,
            registry=None,
        )
        self.loop_lateness = Histogram(
            "podscaler_scale_loop_lateness_seconds",
            "How late an evaluation started compared with its schedule (all objects of a type).",
            ("type",),
            buckets=_LOOP_BUCKETS_SECONDS,
            registry=None,
        )
        self.objects = Gauge(
            "podscaler_scaledobjects",
            "ScaledObjects the controller evaluates.",
            registry=None,
        )
        #: (namespace, name) of a ScaledObject → its series.
        self._objects: dict[tuple[str, str], _ObjectSeries] = {}
        #: (kind, namespace, name) of an object of another kind (a ScaledJob) → its series.
        self._kinds: dict[tuple[str, str, str], _KindSeries] = {}
        self._lateness_of_type: dict[str, Any] = {}
        self.registry.register(_OperatorCollector(self))

    def _object(self, namespace: str, name: str) -> _ObjectSeries:
        series = self._objects.get((namespace, name))
        if series is None:
            series = self._objects[(namespace, name)] = _ObjectSeries()
        return series

    def _kind(self, kind: str, namespace: str, name: str) -> _KindSeries:
        series = self._kinds.get((kind, namespace, name))
        if series is None:
            series = self._kinds[(kind, namespace, name)] = _KindSeries()
        return series

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
        owner = self._object(namespace, name)
        for series in owner.triggers:
            if series.index == index and series.scaler == scaler and series.metric == metric:
                break
        else:
            series = _TriggerSeries(index, scaler, metric)
            owner.triggers = (*owner.triggers, series)
        series.active = active
        series.latency = float(latency_seconds)
        if error:
            series.errors += 1
        elif value is not None:
            series.value = float(value)
        if details and not error:
            for key, number in details.items():
                if key in TRIGGER_DETAIL_GAUGES and isinstance(number, int | float):
                    if series.details is None:
                        series.details = {}
                    series.details[key] = float(number)

    def object_error(self, namespace: str, name: str, *, kind: str = SCALED_OBJECT) -> None:
        """One error of a ScaledObject (or, by *kind*, a ScaledJob)."""
        if kind == SCALED_OBJECT:
            self._object(namespace, name).errors += 1
        elif kind == SCALED_JOB:
            self._kind(kind, namespace, name).errors += 1
        else:
            raise ValueError(f"no error family for objects of type {kind!r}")

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
        series = self._object(namespace, name)
        decisions = series.decisions
        if decisions is None:
            decisions = series.decisions = {}
        decisions[rule] = decisions.get(rule, 0) + 1
        if current is not None:
            series.current = float(current)
        if desired is not None:
            series.desired = float(desired)
        series.paused = paused
        self.evaluation_duration.observe(duration_seconds)

    def lateness(
        self, namespace: str, name: str, seconds: float, *, kind: str = SCALED_OBJECT
    ) -> None:
        """How late a scheduled poll of a ScaledObject (or, by *kind*, a ScaledJob) started."""
        histogram = self._lateness_of_type.get(kind)
        if histogram is None:
            histogram = self._lateness_of_type[kind] = self.loop_lateness.labels(kind)
        late = float(max(seconds, 0.0))
        histogram.observe(late)
        if kind == SCALED_OBJECT:
            self._object(namespace, name).lateness = late
        else:
            self._kind(kind, namespace, name).lateness = late

    def last_lateness(self) -> list[tuple[str, float]]:
        """(loop type, seconds) of each object's last scheduled poll (``podscaler status``)."""
        found = [
            (SCALED_OBJECT, series.lateness)
            for series in list(self._objects.values())
            if series.lateness is not None
        ]
        found += [
            (kind, series.lateness)
            for (kind, _, _), series in list(self._kinds.items())
            if series.lateness is not None
        ]
        return found

    def scale_write(self, namespace: str, name: str, *, ok: bool) -> None:
        series = self._object(namespace, name)
        if ok:
            series.writes_ok += 1
        else:
            series.writes_failed += 1

    def forget(self, namespace: str, name: str, *, kind: str = SCALED_OBJECT) -> None:
        """Remove a deleted object's series, so they do not linger at their last value."""
        if kind == SCALED_OBJECT:
            self._objects.pop((namespace, name), None)
        else:
            self._kinds.pop((kind, namespace, name), None)

    def exposition(self) -> bytes:
        """The text exposition format of every metric on the registry (what
        ``generate_latest(registry)`` writes, byte for byte): the table's families written
        straight from the table (see :class:`_TableFamily`), the others by prometheus_client.
        """
        parts = []
        for family in self.registry.collect():
            if isinstance(family, _TableFamily):
                parts.append(family.text().encode())
            else:
                parts.append(generate_latest(_Just(family)))
        return b"".join(parts)


_Objects = list[tuple[tuple[str, str], _ObjectSeries]]
#: (namespace, name, trigger) of every trigger of every ScaledObject.
_Triggers = list[tuple[str, str, _TriggerSeries]]
_Kinds = list[tuple[tuple[str, str, str], _KindSeries]]
#: One series: its label values (in the family's label order) and its value.
_Row = tuple[tuple[str, ...], float]


class _TableFamily(Metric):
    """A family rendered from the table, from a function that yields its rows.

    Its samples are built when first read (by ``registry.collect()``'s readers:
    ``get_sample_value``, prometheus_client's ``generate_latest``). :meth:`OperatorMetrics.
    exposition` asks for :meth:`text` instead, written straight from the rows in the text
    format prometheus_client writes, byte for byte: about 6 times less CPU than building the
    samples and formatting them (which checks and escapes each label name of each sample), and
    no sample objects alive at the peak of a scrape.
    """

    def __init__(
        self,
        spec: tuple[str, str],
        typ: str,
        labelnames: tuple[str, ...],
        rows: Callable[[], Iterable[_Row]],
    ) -> None:
        name, documentation = spec
        super().__init__(name, documentation, typ)
        self._built: list[Sample] | None = None  # after Metric set self.samples = []
        self._labelnames = labelnames
        self._rows = rows
        self._sample_name = f"{name}_total" if typ == "counter" else name

    @property
    def samples(self) -> list[Sample]:
        if self._built is None:
            name, labelnames = self._sample_name, self._labelnames
            self._built = [
                Sample(name, dict(zip(labelnames, values, strict=True)), value)
                for values, value in self._rows()
            ]
        return self._built

    @samples.setter
    def samples(self, samples: list[Sample]) -> None:
        self._built = samples

    def text(self) -> str:
        """The family in the text format (as ``generate_latest`` writes it: HELP, TYPE, then
        one line per series with the labels sorted by name and the values escaped)."""
        name, labelnames = self._sample_name, self._labelnames
        help_text = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        order = sorted(range(len(labelnames)), key=labelnames.__getitem__)
        pairs = ",".join(f'{labelnames[i]}="{{{i}}}"' for i in order)
        template = f"{name}{{{{{pairs}}}}} {{{len(labelnames)}}}\n"
        lines = [f"# HELP {name} {help_text}\n# TYPE {name} {self.type}\n"]
        for values, value in self._rows():
            lines.append(template.format(*map(_escaped, values), _float_text(value)))
        return "".join(lines)


#: prometheus_client's float formatting (Go's: ``+Inf``, ``NaN``, exponents past 1e+06), typed.
_float_text: Callable[[float], str] = floatToGoString


def _escaped(value: str) -> str:
    """A label value as the text format writes it."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


class _Just:
    """A collector of one family (to format a family of another collector on its own)."""

    def __init__(self, family: Metric) -> None:
        self._family = family

    def collect(self) -> list[Metric]:
        return [self._family]


class _OperatorCollector:
    """Renders :class:`OperatorMetrics`' tables into the families, in the order they were
    registered when each was a prometheus_client metric of its own.

    Each family from its own pass over a copy of the tables, when it is read: the text format
    is written family by family, so one family at a time is alive during a scrape.
    """

    def __init__(self, metrics: OperatorMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterator[Metric]:
        """The families without samples, so the registry refuses a clashing name."""
        return self._families([], [], [], describe=True)

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        objects = list(m._objects.items())
        triggers = [
            (namespace, name, trigger)
            for (namespace, name), series in objects
            for trigger in series.triggers
        ]
        return self._families(objects, triggers, list(m._kinds.items()), describe=False)

    def _families(
        self, objects: _Objects, triggers: _Triggers, kinds: _Kinds, *, describe: bool
    ) -> Iterator[Metric]:
        m = self._metrics
        obj, trig, keda = _OBJECT_LABELS, _TRIGGER_LABELS, KEDA_SCALER_LABELS
        yield _TableFamily(_DESIRED, "gauge", obj, partial(_object_rows, objects, _desired))
        yield _TableFamily(_CURRENT, "gauge", obj, partial(_object_rows, objects, _current))
        rules = (*obj, "rule")
        yield _TableFamily(_DECISIONS, "counter", rules, partial(_decision_rows, objects))
        outcomes = (*obj, "outcome")
        yield _TableFamily(_WRITES, "counter", outcomes, partial(_write_rows, objects))
        rows = partial(_trigger_rows, triggers, _value)
        yield _TableFamily(_TRIGGER_VALUE, "gauge", trig, rows)
        rows = partial(_trigger_rows, triggers, _errors)
        yield _TableFamily(_TRIGGER_ERRORS, "counter", trig, rows)
        for metric in (m.evaluation_duration, m.loop_lateness):
            yield from metric.describe() if describe else metric.collect()
        for key, detail in TRIGGER_DETAIL_GAUGES.items():
            yield _TableFamily(detail, "gauge", trig, partial(_detail_rows, triggers, key))
        yield from m.objects.describe() if describe else m.objects.collect()
        for spec, typ, value in (
            (_KEDA_VALUE, "gauge", _floored),
            (_KEDA_LATENCY, "gauge", _latency),
            (_KEDA_ACTIVE, "gauge", _active),
            (_KEDA_DETAIL_ERRORS, "counter", _errors),
            (_KEDA_ERRORS, "counter", _errors),
        ):
            rows = partial(_trigger_rows, triggers, value, keda=True)
            yield _TableFamily(spec, typ, keda, rows)
        rows = partial(_object_rows, objects, _object_errors)
        yield _TableFamily(_KEDA_OBJECT_ERRORS, "counter", _KEDA_OBJECT_LABELS, rows)
        jobs = ("namespace", "scaledJob")
        yield _TableFamily(_KEDA_JOB_ERRORS, "counter", jobs, partial(_job_error_rows, kinds))
        rows = partial(_object_rows, objects, _paused)
        yield _TableFamily(_KEDA_PAUSED, "gauge", _KEDA_OBJECT_LABELS, rows)
        latency = ("namespace", "type", "resource")
        rows = partial(_lateness_rows, objects, kinds)
        yield _TableFamily(_KEDA_LOOP_LATENCY, "gauge", latency, rows)


# ---------------------------------------------------------------- rows of each family


def _object_rows(
    objects: _Objects, value: Callable[[_ObjectSeries], float | None]
) -> Iterator[_Row]:
    for obj, series in objects:
        number = value(series)
        if number is not None:
            yield obj, number


def _decision_rows(objects: _Objects) -> Iterator[_Row]:
    for (namespace, name), series in objects:
        for rule, count in list((series.decisions or {}).items()):
            yield (namespace, name, rule), float(count)


def _write_rows(objects: _Objects) -> Iterator[_Row]:
    for (namespace, name), series in objects:
        if series.writes_ok:
            yield (namespace, name, "success"), float(series.writes_ok)
        if series.writes_failed:
            yield (namespace, name, "error"), float(series.writes_failed)


def _trigger_rows(
    triggers: _Triggers,
    value: Callable[[_TriggerSeries], float | None],
    *,
    keda: bool = False,
) -> Iterator[_Row]:
    """A row for each trigger *value* has one, labelled as podscaler labels a trigger or,
    with *keda*, as KEDA labels a scaler (:data:`KEDA_SCALER_LABELS`)."""
    for namespace, name, trigger in triggers:
        number = value(trigger)
        if number is None:
            continue
        index = str(trigger.index)
        if keda:
            yield (namespace, trigger.metric, name, trigger.scaler, index, SCALED_OBJECT), number
        else:
            yield (namespace, name, index, trigger.scaler, trigger.metric), number


def _detail_rows(triggers: _Triggers, key: str) -> Iterator[_Row]:
    for namespace, name, trigger in triggers:
        number = trigger.details.get(key) if trigger.details is not None else None
        if number is not None:
            yield (namespace, name, str(trigger.index), trigger.scaler, trigger.metric), number


def _job_error_rows(kinds: _Kinds) -> Iterator[_Row]:
    for (kind, namespace, name), other in kinds:
        if other.errors and kind == SCALED_JOB:
            yield (namespace, name), float(other.errors)


def _lateness_rows(objects: _Objects, kinds: _Kinds) -> Iterator[_Row]:
    for (namespace, name), series in objects:
        if series.lateness is not None:
            yield (namespace, SCALED_OBJECT, f"{namespace}/{name}"), series.lateness
    for (kind, namespace, name), other in kinds:
        if other.lateness is not None:
            yield (namespace, kind, f"{namespace}/{name}"), other.lateness


def _desired(series: _ObjectSeries) -> float | None:
    return series.desired


def _current(series: _ObjectSeries) -> float | None:
    return series.current


def _paused(series: _ObjectSeries) -> float | None:
    return None if series.paused is None else 1.0 if series.paused else 0.0


def _object_errors(series: _ObjectSeries) -> float | None:
    return float(series.errors) if series.errors else None


def _value(trigger: _TriggerSeries) -> float | None:
    return trigger.value


def _errors(trigger: _TriggerSeries) -> float | None:
    return float(trigger.errors) if trigger.errors else None


def _floored(trigger: _TriggerSeries) -> float | None:
    return None if trigger.value is None else max(trigger.value, 0.0)


def _latency(trigger: _TriggerSeries) -> float | None:
    return trigger.latency


def _active(trigger: _TriggerSeries) -> float | None:
    return 1.0 if trigger.active else 0.0
