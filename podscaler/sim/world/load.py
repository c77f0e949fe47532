"""The load model of the embedded cluster: demand over simulated time, and what it costs pods.

Autoscaling is only interesting against load that moves, so scenarios describe demand as a
**curve** — a pure function of simulated seconds since the scenario started to demand
(requests per second, messages per second, or any abstract unit the scenario's scalers read):

* ``constant``, ``steps``, ``diurnal`` (a 24-hour sine with its peak at a chosen hour),
  ``spike`` (a rectangle on top of another curve), ``sum`` of curves;
* ``replay`` of a recorded series — CSV ``timestamp,value`` or a Prometheus range-query
  result — linearly interpolated and, by default, looped, so production traffic can be
  played against a what-if configuration.

:func:`parse_curve` reads the YAML-friendly form scenarios use and reports problems as
:class:`CurveError` naming the field (``spike.on.steps[2].at``); it never raises anything
else, whatever it is given.

The **usage model** turns demand into what the kubelet reports: demand is shared evenly by
the Ready pods, and each pod uses ``base + cost per unit * its share`` of cpu and memory, with
deterministic noise (the same seed, pod and second always give the same numbers, in any
process). Simplifications versus real workloads, deliberate: a pod is one container; cpu is
capped at the pod's cpu limit (CFS throttling, reported as ``cpu_throttled``) while memory is
not capped but flagged ``over_memory_limit`` so the kubelet can OOM-kill the pod; there is no
queueing, latency or warm-up; demand with no Ready pod is reported as unserved.

Nothing here does I/O (a replay file is read through the ``read_text`` the caller passes) or
reads a clock: time is an argument.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import json
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from podscaler.api.quantities import QuantityError, parse_quantity
from podscaler.api.timestamps import parse_seconds

__all__ = [
    "Constant",
    "Curve",
    "CurveError",
    "Diurnal",
    "LoadError",
    "PodLimits",
    "PodUsage",
    "Replay",
    "Spike",
    "Steps",
    "Sum",
    "UsageModel",
    "UsageModelError",
    "UsageSample",
    "parse_curve",
    "parse_duration_seconds",
    "parse_usage_model",
    "pod_limits",
    "replay_from_csv",
    "replay_from_prometheus",
]

DAY_SECONDS: Final = 24 * 3600.0
#: Deeper nesting than this is a mistake (or an attack), not a load model.
_MAX_DEPTH: Final = 32


class LoadError(ValueError):
    """A scenario's load section cannot be used; ``field`` is the path to the culprit."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class CurveError(LoadError):
    """A demand curve spec is invalid."""


class UsageModelError(LoadError):
    """A usage model spec is invalid."""


# --- curves ------------------------------------------------------------------------------------


class Curve(Protocol):
    """Demand as a function of simulated seconds since the scenario started."""

    def demand_at(self, seconds: float) -> float: ...


@dataclass(frozen=True)
class Constant:
    value: float

    def demand_at(self, seconds: float) -> float:
        return self.value


@dataclass(frozen=True)
class Steps:
    """``initial`` until the first step, then each step's value from its ``at_seconds`` on.
    ``steps`` must be sorted by time (:func:`parse_curve` sorts them)."""

    steps: tuple[tuple[float, float], ...]
    initial: float = 0.0

    def demand_at(self, seconds: float) -> float:
        index = bisect.bisect_right([at for at, _ in self.steps], seconds)
        return self.initial if index == 0 else self.steps[index - 1][1]


@dataclass(frozen=True)
class Diurnal:
    """``base + amplitude * cos(2π (t - peak) / period)``: highest at ``peak_at_seconds`` into
    each period (for a 24 h period starting at midnight, 14:00 is 50400), lowest half a period
    later. Negative values are possible with ``amplitude > base``; consumers clamp at zero."""

    base: float
    amplitude: float
    period_seconds: float = DAY_SECONDS
    peak_at_seconds: float = 14 * 3600.0

    def demand_at(self, seconds: float) -> float:
        phase = 2 * math.pi * (seconds - self.peak_at_seconds) / self.period_seconds
        return self.base + self.amplitude * math.cos(phase)


@dataclass(frozen=True)
class Spike:
    """``on`` plus ``height`` during ``[at_seconds, at_seconds + duration_seconds)``."""

    on: Curve
    at_seconds: float
    duration_seconds: float
    height: float

    def demand_at(self, seconds: float) -> float:
        inside = self.at_seconds <= seconds < self.at_seconds + self.duration_seconds
        return self.on.demand_at(seconds) + (self.height if inside else 0.0)


@dataclass(frozen=True)
class Sum:
    curves: tuple[Curve, ...]

    def demand_at(self, seconds: float) -> float:
        return math.fsum(curve.demand_at(seconds) for curve in self.curves)


@dataclass(frozen=True)
class Replay:
    """A recorded series, linearly interpolated; times are seconds from the first sample.

    Looping repeats the series with a period of its span plus its last sample interval, and
    interpolates from the last sample back to the first across that interval — so a day
    recorded every 5 minutes (00:00 … 23:55) loops with a period of exactly 24 h. Without
    looping the last value holds; before the start the first value holds.
    """

    points: tuple[tuple[float, float], ...]
    loop: bool = True

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError("a replay needs at least one point")

    @property
    def period_seconds(self) -> float:
        times = [t for t, _ in self.points]
        if len(times) < 2:
            return 0.0
        return times[-1] - times[0] + (times[-1] - times[-2])

    def demand_at(self, seconds: float) -> float:
        points = self.points
        first_t, first_v = points[0]
        last_t, last_v = points[-1]
        t = seconds + first_t
        if len(points) == 1:
            return first_v
        if self.loop:
            t = first_t + math.fmod(t - first_t, self.period_seconds)
            if t < first_t:
                t += self.period_seconds
            if t >= last_t:
                gap = self.period_seconds - (last_t - first_t)
                return last_v + (first_v - last_v) * (t - last_t) / gap
        elif t >= last_t:
            return last_v
        if t <= first_t:
            return first_v
        times = [p[0] for p in points]
        index = bisect.bisect_right(times, t)
        (t0, v0), (t1, v1) = points[index - 1], points[index]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)


# --- reading recorded series --------------------------------------------------------------------


def _timestamp_seconds(text: str) -> float | None:
    """Epoch or relative seconds, or an ISO 8601 date-time (UTC unless it says otherwise);
    None when neither."""
    try:
        value = float(text)
    except ValueError:
        return parse_seconds(text.strip())
    return value if math.isfinite(value) else None


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _points_to_replay(
    raw: Sequence[tuple[float, float]], field: str, *, loop: bool, scale: float
) -> Replay:
    if not raw:
        raise CurveError(field, "the series has no samples")
    origin = min(t for t, _ in raw)
    merged: dict[float, float] = {}
    for t, v in raw:
        # Shift first, then merge: two far-off timestamps may round to one offset. A repeated
        # timestamp keeps the later row.
        merged[t - origin] = v * scale
    return Replay(tuple(sorted(merged.items())), loop=loop)


def replay_from_csv(
    text: str, *, loop: bool = True, scale: float = 1.0, field: str = "csv"
) -> Replay:
    """A replay from ``timestamp,value`` rows (a header row and ``#`` comments are skipped;
    timestamps are seconds — epoch or relative — or ISO 8601)."""
    rows: list[tuple[float, float]] = []
    try:
        table = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise CurveError(field, f"not CSV: {exc}") from None
    for number, row in enumerate(table, start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2:
            raise CurveError(field, f"line {number}: expected 'timestamp,value'")
        t, v = _timestamp_seconds(row[0]), _float(row[1])
        if t is None or v is None:
            if not rows and number == 1:
                continue  # a header
            raise CurveError(field, f"line {number}: cannot read {row[0]!r},{row[1]!r}")
        rows.append((t, v))
    return _points_to_replay(rows, field, loop=loop, scale=scale)


def replay_from_prometheus(
    document: Mapping[str, Any] | str,
    *,
    loop: bool = True,
    scale: float = 1.0,
    field: str = "prometheus",
) -> Replay:
    """A replay from a Prometheus range-query answer (the whole response, its ``data``, or
    the JSON text of either). Several series are summed per timestamp; ``NaN`` and infinite
    samples are skipped."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise CurveError(field, f"not JSON: {exc}") from None
    if not isinstance(document, Mapping):
        raise CurveError(field, "expected a Prometheus query response object")
    data = document.get("data", document)
    if not isinstance(data, Mapping) or data.get("resultType") != "matrix":
        raise CurveError(field, "expected a range query result (data.resultType: matrix)")
    result = data.get("result")
    if not isinstance(result, list):
        raise CurveError(field, "data.result must be a list of series")
    totals: dict[float, float] = {}
    for index, series in enumerate(result):
        values = series.get("values") if isinstance(series, Mapping) else None
        if not isinstance(values, list):
            raise CurveError(field, f"data.result[{index}].values must be a list")
        for sample in values:
            if not isinstance(sample, list | tuple) or len(sample) != 2:
                raise CurveError(field, f"data.result[{index}]: samples are [time, value]")
            t, v = _timestamp_seconds(str(sample[0])), _float(str(sample[1]))
            if t is None:
                raise CurveError(field, f"data.result[{index}]: bad timestamp {sample[0]!r}")
            if v is not None:
                totals[t] = totals.get(t, 0.0) + v
    return _points_to_replay(sorted(totals.items()), field, loop=loop, scale=scale)


# --- parsing specs -----------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _number(raw: Any, field: str, error: type[LoadError] = CurveError) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise error(field, f"must be a number, not {raw!r}")
    try:
        value = float(raw)
    except OverflowError:
        raise error(field, "is too large") from None
    if not math.isfinite(value):
        raise error(field, f"must be finite, not {raw!r}")
    return value


def parse_duration_seconds(raw: Any, field: str = "duration") -> float:
    """Seconds from a number or a duration string (``90``, ``"90s"``, ``"10m"``, ``"1h30m"``,
    ``"1d"``, ``"500ms"``); never negative."""
    if isinstance(raw, str):
        text = raw.strip()
        if _DURATION.fullmatch(text):
            seconds = sum(
                float(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION_PART.findall(text)
            )
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise CurveError(
                    field, f"must be seconds or a duration like '10m' or '1h30m', not {raw!r}"
                ) from None
    else:
        seconds = _number(raw, field)
    if not math.isfinite(seconds) or seconds < 0:
        raise CurveError(field, f"must be a finite, non-negative duration, not {raw!r}")
    return seconds


def _fields(spec: Mapping[Any, Any], path: str, allowed: set[str]) -> None:
    unknown = sorted(str(k) for k in spec if k not in allowed)
    if unknown:
        raise CurveError(
            path, f"unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(allowed))}"
        )


def _required(spec: Mapping[Any, Any], key: str, path: str) -> Any:
    if key not in spec:
        raise CurveError(path, f"missing required field '{key}'")
    return spec[key]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_CURVE_TYPES: Final = ("constant", "steps", "diurnal", "spike", "sum", "replay")


def _parse(spec: Any, path: str, depth: int, read_text: Callable[[str], str] | None) -> Curve:
    if depth > _MAX_DEPTH:
        raise CurveError(path, f"curves nest deeper than {_MAX_DEPTH} levels")
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return Constant(_number(spec, path or "value"))
    if not isinstance(spec, Mapping):
        raise CurveError(path, "a curve must be a mapping with a 'type' (or a plain number)")
    kind = spec.get("type")
    if kind not in _CURVE_TYPES:
        raise CurveError(
            _join(path, "type"), f"must be one of {', '.join(_CURVE_TYPES)}, not {kind!r}"
        )
    here = path or kind

    if kind == "constant":
        _fields(spec, here, {"type", "value"})
        return Constant(_number(_required(spec, "value", here), _join(here, "value")))

    if kind == "steps":
        _fields(spec, here, {"type", "steps", "initial"})
        raw_steps = _required(spec, "steps", here)
        if not isinstance(raw_steps, list):
            raise CurveError(_join(here, "steps"), "must be a list of {at, value}")
        steps: list[tuple[float, float]] = []
        for index, step in enumerate(raw_steps):
            where = f"{here}.steps[{index}]"
            if not isinstance(step, Mapping):
                raise CurveError(where, "must be a mapping with 'at' and 'value'")
            _fields(step, where, {"at", "value"})
            at = parse_duration_seconds(_required(step, "at", where), f"{where}.at")
            steps.append((at, _number(_required(step, "value", where), f"{where}.value")))
        initial = _number(spec.get("initial", 0.0), _join(here, "initial"))
        return Steps(tuple(sorted(steps, key=lambda s: s[0])), initial)

    if kind == "diurnal":
        _fields(spec, here, {"type", "base", "amplitude", "period", "peakHour", "peakAt"})
        if "peakHour" in spec and "peakAt" in spec:
            raise CurveError(here, "give either peakHour or peakAt, not both")
        period = parse_duration_seconds(spec.get("period", DAY_SECONDS), _join(here, "period"))
        if period <= 0:
            raise CurveError(_join(here, "period"), "must be positive")
        if "peakAt" in spec:
            peak = parse_duration_seconds(spec["peakAt"], _join(here, "peakAt"))
        else:
            hour = _number(spec.get("peakHour", 14), _join(here, "peakHour"))
            if not 0 <= hour < 24:
                raise CurveError(_join(here, "peakHour"), "must be within 0..24")
            peak = hour * 3600.0
        return Diurnal(
            base=_number(_required(spec, "base", here), _join(here, "base")),
            amplitude=_number(spec.get("amplitude", 0.0), _join(here, "amplitude")),
            period_seconds=period,
            peak_at_seconds=peak,
        )

    if kind == "spike":
        _fields(spec, here, {"type", "on", "at", "duration", "height"})
        return Spike(
            on=_parse(spec.get("on", 0.0), _join(here, "on"), depth + 1, read_text),
            at_seconds=parse_duration_seconds(_required(spec, "at", here), _join(here, "at")),
            duration_seconds=parse_duration_seconds(
                _required(spec, "duration", here), _join(here, "duration")
            ),
            height=_number(_required(spec, "height", here), _join(here, "height")),
        )

    if kind == "sum":
        _fields(spec, here, {"type", "of"})
        parts = _required(spec, "of", here)
        if not isinstance(parts, list) or not parts:
            raise CurveError(_join(here, "of"), "must be a non-empty list of curves")
        return Sum(
            tuple(
                _parse(part, f"{here}.of[{index}]", depth + 1, read_text)
                for index, part in enumerate(parts)
            )
        )

    _fields(spec, here, {"type", "csv", "prometheus", "points", "file", "format", "loop", "scale"})
    sources = [key for key in ("csv", "prometheus", "points", "file") if key in spec]
    if len(sources) != 1:
        raise CurveError(here, "give exactly one of csv, prometheus, points or file")
    loop = spec.get("loop", True)
    if not isinstance(loop, bool):
        raise CurveError(_join(here, "loop"), "must be true or false")
    scale = _number(spec.get("scale", 1.0), _join(here, "scale"))
    source = sources[0]
    raw = spec[source]
    where = _join(here, source)
    if source == "points":
        if not isinstance(raw, list):
            raise CurveError(where, "must be a list of [seconds, value] pairs")
        points: list[tuple[float, float]] = []
        for index, pair in enumerate(raw):
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise CurveError(f"{where}[{index}]", "must be a [seconds, value] pair")
            points.append(
                (
                    parse_duration_seconds(pair[0], f"{where}[{index}][0]"),
                    _number(pair[1], f"{where}[{index}][1]"),
                )
            )
        return _points_to_replay(points, where, loop=loop, scale=scale)
    if source == "file":
        if not isinstance(raw, str) or not raw:
            raise CurveError(where, "must be a file path")
        if read_text is None:
            raise CurveError(where, "files can only be replayed where the caller reads them")
        fmt = spec.get("format", "prometheus" if raw.endswith(".json") else "csv")
        if fmt not in ("csv", "prometheus"):
            raise CurveError(_join(here, "format"), f"must be csv or prometheus, not {fmt!r}")
        try:
            raw = read_text(raw)
        except (OSError, UnicodeDecodeError) as exc:
            raise CurveError(where, f"cannot read {spec[source]!r}: {exc}") from exc
        source = fmt
    elif "format" in spec:
        raise CurveError(_join(here, "format"), "only applies to file")
    if source == "csv":
        if not isinstance(raw, str):
            raise CurveError(where, "must be the CSV text")
        return replay_from_csv(raw, loop=loop, scale=scale, field=where)
    if not isinstance(raw, Mapping | str):
        raise CurveError(where, "must be a Prometheus query response (object or JSON text)")
    return replay_from_prometheus(raw, loop=loop, scale=scale, field=where)


def parse_curve(spec: Any, *, read_text: Callable[[str], str] | None = None) -> Curve:
    """A curve from its YAML-friendly spec; :class:`CurveError` (naming the field) otherwise.

    ::

        {type: constant, value: 50}                              # or just: 50
        {type: steps, initial: 10, steps: [{at: 10m, value: 80}, {at: 1h, value: 20}]}
        {type: diurnal, base: 100, amplitude: 60, peakHour: 14, period: 24h}
        {type: spike, on: <curve>, at: 2h, duration: 5m, height: 300}
        {type: sum, of: [<curve>, <curve>, ...]}
        {type: replay, csv: "<text>" | prometheus: <response> | points: [[0, 5], [60, 9]]
                       | file: traffic.csv, format: csv|prometheus, loop: true, scale: 0.5}

    Durations are seconds or strings like ``90s``, ``10m``, ``1h30m``, ``1d``. Replay files
    are read with ``read_text`` (the scenario loader passes one); without it they are refused.
    """
    try:
        return _parse(spec, "", 0, read_text)
    except CurveError:
        raise
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise CurveError("", f"cannot read the curve: {exc}") from exc


# --- usage ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PodLimits:
    """What the usage model needs of a pod: its name and (whole-pod) limits, if any."""

    name: str
    cpu_limit_millicores: int | None = None
    memory_limit_bytes: int | None = None


def pod_limits(pod: Mapping[str, Any]) -> PodLimits:
    """The pod's limits summed over its app containers; a resource that any container leaves
    unlimited is unlimited for the pod. Unreadable quantities count as unlimited (the API
    server validates them; the usage model is no place to fail)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    name = str(meta.get("name") or "") if isinstance(meta, Mapping) else ""
    containers = spec.get("containers") if isinstance(spec, Mapping) else None
    totals: dict[str, int | None] = {"cpu": 0, "memory": 0}
    for container in containers if isinstance(containers, list) and containers else [None]:
        resources = container.get("resources") if isinstance(container, Mapping) else None
        limits = resources.get("limits") if isinstance(resources, Mapping) else None
        for resource in ("cpu", "memory"):
            raw = limits.get(resource) if isinstance(limits, Mapping) else None
            current = totals[resource]
            if current is None or raw is None:
                totals[resource] = None
                continue
            try:
                quantity = parse_quantity(raw)
            except (QuantityError, TypeError):
                totals[resource] = None
                continue
            amount = quantity.milli_value() if resource == "cpu" else quantity.int_value()
            totals[resource] = current + amount
    return PodLimits(name, totals["cpu"], totals["memory"])


@dataclass(frozen=True)
class PodUsage:
    cpu_millicores: int
    memory_bytes: int
    #: The pod wanted more cpu than its limit and was held at the limit.
    cpu_throttled: bool
    #: Memory above the limit: the kubelet OOM-kills the pod.
    over_memory_limit: bool


@dataclass(frozen=True)
class UsageSample:
    demand: float
    demand_per_pod: float
    #: Demand nobody served because no pod was Ready.
    unserved_demand: float
    pods: Mapping[str, PodUsage]


def _noise(seed: int, pod: str, resource: str, second: int) -> float:
    """A standard normal draw, clamped to ±3, fixed by (seed, pod, resource, second).

    Derived from a hash rather than ``hash()`` (salted per process) or a shared RNG stream
    (which would make one pod's numbers depend on how many others were sampled first)."""
    digest = hashlib.blake2b(f"{seed}\0{pod}\0{resource}\0{second}".encode(), digest_size=8)
    draw = random.Random(int.from_bytes(digest.digest(), "big")).gauss(0.0, 1.0)
    return max(-3.0, min(3.0, draw))


@dataclass(frozen=True)
class UsageModel:
    """Per-pod usage from demand: ``base + per_unit * demand share``, with relative noise.

    ``cpu_noise_fraction = 0.1`` means a standard deviation of 10% of the noiseless value.
    """

    cpu_base_millicores: float = 0.0
    cpu_millicores_per_unit: float = 0.0
    memory_base_bytes: float = 0.0
    memory_bytes_per_unit: float = 0.0
    cpu_noise_fraction: float = 0.0
    memory_noise_fraction: float = 0.0
    seed: int = 0

    def usage(
        self, demand: float, ready_pods: Sequence[PodLimits], at_seconds: float
    ) -> UsageSample:
        """How much each Ready pod uses at ``at_seconds`` when they share ``demand``
        (negative or non-finite demand counts as none)."""
        demand = demand if math.isfinite(demand) and demand > 0 else 0.0
        if not ready_pods:
            return UsageSample(demand, 0.0, demand, {})
        share = demand / len(ready_pods)
        second = math.floor(at_seconds) if math.isfinite(at_seconds) else 0
        pods: dict[str, PodUsage] = {}
        for pod in ready_pods:
            cpu = self.cpu_base_millicores + self.cpu_millicores_per_unit * share
            memory = self.memory_base_bytes + self.memory_bytes_per_unit * share
            if self.cpu_noise_fraction:
                cpu *= 1 + self.cpu_noise_fraction * _noise(self.seed, pod.name, "cpu", second)
            if self.memory_noise_fraction:
                factor = self.memory_noise_fraction * _noise(self.seed, pod.name, "mem", second)
                memory *= 1 + factor
            cpu_millicores = max(0, round(cpu))
            throttled = (
                pod.cpu_limit_millicores is not None and cpu_millicores > pod.cpu_limit_millicores
            )
            if throttled and pod.cpu_limit_millicores is not None:
                cpu_millicores = pod.cpu_limit_millicores
            memory_bytes = max(0, round(memory))
            pods[pod.name] = PodUsage(
                cpu_millicores=cpu_millicores,
                memory_bytes=memory_bytes,
                cpu_throttled=throttled,
                over_memory_limit=(
                    pod.memory_limit_bytes is not None and memory_bytes > pod.memory_limit_bytes
                ),
            )
        return UsageSample(demand, share, 0.0, pods)


_USAGE_FIELDS: Final = {
    "cpuBase": ("cpu_base_millicores", "cpu"),
    "cpuPerUnit": ("cpu_millicores_per_unit", "cpu"),
    "memoryBase": ("memory_base_bytes", "memory"),
    "memoryPerUnit": ("memory_bytes_per_unit", "memory"),
}


def parse_usage_model(spec: Any, field: str = "usage") -> UsageModel:
    """A usage model from its YAML-friendly spec, quantities as Kubernetes writes them::

    {cpuBase: 50m, cpuPerUnit: 2m, memoryBase: 128Mi, memoryPerUnit: 256Ki,
     cpuNoise: 0.1, memoryNoise: 0.02, seed: 7}
    """
    if not isinstance(spec, Mapping):
        raise UsageModelError(field, "must be a mapping")
    allowed = {*_USAGE_FIELDS, "cpuNoise", "memoryNoise", "seed"}
    unknown = sorted(str(k) for k in spec if k not in allowed)
    if unknown:
        raise UsageModelError(field, f"unknown field(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, (attribute, resource) in _USAGE_FIELDS.items():
        if key not in spec:
            continue
        raw = spec[key]
        if isinstance(raw, bool):
            raise UsageModelError(f"{field}.{key}", f"must be a quantity, not {raw!r}")
        try:
            quantity = parse_quantity(raw)
        except (QuantityError, TypeError) as exc:
            raise UsageModelError(f"{field}.{key}", str(exc)) from None
        if quantity.value < 0:
            raise UsageModelError(f"{field}.{key}", "must not be negative")
        values[attribute] = (
            float(quantity.value * 1000) if resource == "cpu" else float(quantity.value)
        )
    for key, attribute in (
        ("cpuNoise", "cpu_noise_fraction"),
        ("memoryNoise", "memory_noise_fraction"),
    ):
        if key in spec:
            fraction = _number(spec[key], f"{field}.{key}", UsageModelError)
            if not 0 <= fraction <= 1:
                raise UsageModelError(f"{field}.{key}", "must be a fraction within 0..1")
            values[attribute] = fraction
    if "seed" in spec:
        seed = spec["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise UsageModelError(f"{field}.seed", "must be an integer")
        values["seed"] = seed
    return UsageModel(**values)
