"""A small Prometheus query API over the simulated applications' own metrics.

The ``prometheus`` and ``predictive`` triggers ask Prometheus' HTTP API; a run at simulated
speed cannot be scraped by a real Prometheus (it stamps samples with its own wall clock), so
the world answers the same API itself, from the samples it recorded each tick
(:class:`AppSeries`), on the run's clock:

* ``GET|POST /api/v1/query`` (``query``, ``time``) and ``/api/v1/query_range`` (``query``,
  ``start``, ``end``, ``step``), answered in Prometheus' JSON shapes (``vector``, ``matrix``,
  ``{"status": "error", "errorType": "bad_data", ...}`` with HTTP 400);
* PromQL, minimally: one selector ``name{label="v", label!="v", label=~"re", label!~"re"}``,
  optionally inside ``sum``, ``max``, ``min``, ``avg`` or ``count`` (no ``by``); anything else
  is a ``bad_data`` error naming what is supported;
* Prometheus' own rules where they matter to a trigger: a sample counts for five minutes
  (lookback), a range query of more than 11,000 points is refused.

History before the run started can be **pre-filled** (:meth:`AppSeries.prefill`): a scenario
with ``appMetrics: {history: 7d}`` gets that many days of each workload's demand curve,
recorded as if Prometheus had scraped it every ``historyStep``, so a trigger that learns from
history (``predictive``) has something to learn from at the first poll.

Pure bookkeeping and parsing: no I/O, no clock (times are arguments).
"""

from __future__ import annotations

import bisect
import math
import re
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

__all__ = [
    "LOOKBACK_SECONDS",
    "MAX_POINTS",
    "AppSeries",
    "QueryError",
    "Selector",
    "parse_query",
    "parse_step",
    "parse_time",
]

#: How long a sample answers for (Prometheus' default ``--query.lookback-delta``).
LOOKBACK_SECONDS: Final = 300.0
#: Prometheus refuses range queries of more points than this.
MAX_POINTS: Final = 11_000

Labels = tuple[tuple[str, str], ...]


class QueryError(ValueError):
    """A query the API answers with ``bad_data`` (HTTP 400)."""


# ------------------------------------------------------------------------------ storage


@dataclass
class _Samples:
    times: array[float] = field(default_factory=lambda: array("d"))
    values: array[float] = field(default_factory=lambda: array("d"))

    def add(self, t: float, value: float) -> None:
        if self.times and t <= self.times[-1]:
            if t == self.times[-1]:
                self.values[-1] = value
                return
            index = bisect.bisect_left(self.times, t)
            if index < len(self.times) and self.times[index] == t:
                self.values[index] = value
            else:
                self.times.insert(index, t)
                self.values.insert(index, value)
            return
        self.times.append(t)
        self.values.append(value)

    def at(self, t: float) -> float | None:
        """The latest sample in ``(t - lookback, t]``."""
        index = bisect.bisect_right(self.times, t) - 1
        if index < 0 or self.times[index] <= t - LOOKBACK_SECONDS:
            return None
        return self.values[index]


class AppSeries:
    """Samples per series (metric name + labels), in time order."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, Labels], _Samples] = {}

    def record(self, t: float, metric: str, labels: Mapping[str, str], value: float) -> None:
        key = (metric, tuple(sorted(labels.items())))
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = _Samples()
        found.add(t, value)

    def prefill(
        self,
        metric: str,
        labels: Mapping[str, str],
        value_at: Callable[[float], float],
        *,
        end: float,
        seconds: float,
        step: float,
    ) -> int:
        """Record ``value_at(t)`` every ``step`` over ``[end - seconds, end)`` (times in the
        same unit as ``end``); the number of samples written."""
        if step <= 0 or seconds <= 0:
            return 0
        count = math.floor(seconds / step)
        for i in range(count, 0, -1):
            t = end - i * step
            self.record(t, metric, labels, value_at(t))
        return count

    def __len__(self) -> int:
        return len(self._series)

    def samples(self) -> int:
        return sum(len(s.times) for s in self._series.values())

    def select(self, selector: Selector) -> list[tuple[dict[str, str], _Samples]]:
        out = []
        for (metric, labels), samples in self._series.items():
            if metric != selector.metric:
                continue
            found = dict(labels)
            if all(m.matches(found.get(m.label, "")) for m in selector.matchers):
                out.append(({"__name__": metric, **found}, samples))
        return out

    # -------------------------------------------------------------------------- queries

    def instant(self, query: str, t: float) -> dict[str, Any]:
        """The ``data`` of an instant query at ``t``."""
        parsed = parse_query(query)
        result = []
        for labels, value in _evaluate(parsed, self.select(parsed.selector), t):
            result.append({"metric": labels, "value": [_stamp(t), _format(value)]})
        return {"resultType": "vector", "result": result}

    def range(self, query: str, start: float, end: float, step: float) -> dict[str, Any]:
        """The ``data`` of a range query over ``[start, end]`` every ``step``."""
        if end < start:
            raise QueryError("end timestamp must not be before start time")
        if step <= 0:
            raise QueryError(
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer"
            )
        points = math.floor((end - start) / step) + 1
        if points > MAX_POINTS:
            raise QueryError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        parsed = parse_query(query)
        selected = self.select(parsed.selector)
        series: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[list[Any]]]] = {}
        for i in range(points):
            t = start + i * step
            for labels, value in _evaluate(parsed, selected, t):
                key = tuple(sorted(labels.items()))
                entry = series.get(key)
                if entry is None:
                    entry = series[key] = (labels, [])
                entry[1].append([_stamp(t), _format(value)])
        result = [{"metric": labels, "values": values} for labels, values in series.values()]
        return {"resultType": "matrix", "result": result}


def _evaluate(
    parsed: Query, selected: list[tuple[dict[str, str], _Samples]], t: float
) -> list[tuple[dict[str, str], float]]:
    found = []
    for labels, samples in selected:
        value = samples.at(t)
        if value is not None:
            found.append((labels, value))
    if parsed.aggregate is None:
        return found
    if not found:
        return []
    return [({}, _AGGREGATES[parsed.aggregate]([v for _, v in found]))]


_AGGREGATES: Final[dict[str, Callable[[list[float]], float]]] = {
    "sum": math.fsum,
    "max": max,
    "min": min,
    "avg": lambda values: math.fsum(values) / len(values),
    "count": lambda values: float(len(values)),
}


def _stamp(t: float) -> float | int:
    return int(t) if t == int(t) else round(t, 3)


def _format(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


# ------------------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def matches(self, actual: str) -> bool:
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        matched = re.fullmatch(self.value, actual) is not None
        return matched if self.op == "=~" else not matched


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...] = ()


@dataclass(frozen=True)
class Query:
    selector: Selector
    aggregate: str | None = None


_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_AGGREGATE = re.compile(rf"\s*({'|'.join(_AGGREGATES)})\s*\((.*)\)\s*", re.DOTALL)
_SELECTOR = re.compile(rf"\s*({_NAME})\s*(?:\{{(.*)\}})?\s*", re.DOTALL)
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_SUPPORTED = (
    'this simulated Prometheus supports one selector, name{label="value", ...}, '
    "optionally inside sum(), max(), min(), avg() or count()"
)


def parse_query(query: str) -> Query:
    """The supported PromQL subset; :class:`QueryError` for anything else."""
    aggregate = None
    text = query
    match = _AGGREGATE.fullmatch(text)
    if match is not None:
        aggregate, text = match.group(1), match.group(2)
    selector = _SELECTOR.fullmatch(text)
    if selector is None:
        raise QueryError(f"cannot parse {query!r}: {_SUPPORTED}")
    matchers: list[Matcher] = []
    body = selector.group(2)
    if body is not None and body.strip():
        for part in _split_matchers(body):
            found = _MATCHER.fullmatch(part)
            if found is None:
                raise QueryError(f"cannot parse label matcher {part.strip()!r}: {_SUPPORTED}")
            value = bytes(found.group(3), "utf-8").decode("unicode_escape")
            if found.group(2) in ("=~", "!~"):
                try:
                    re.compile(value)
                except re.error as exc:
                    raise QueryError(f"invalid regular expression {value!r}: {exc}") from exc
            matchers.append(Matcher(found.group(1), found.group(2), value))
    return Query(Selector(selector.group(1), tuple(matchers)), aggregate)


def _split_matchers(body: str) -> Iterable[str]:
    """Split on commas outside quoted values; a trailing comma is allowed."""
    parts, current, quoted, escaped = [], "", False, False
    for char in body:
        if escaped:
            current += char
            escaped = False
            continue
        if char == "\\" and quoted:
            current += char
            escaped = True
            continue
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
    if current.strip():
        parts.append(current)
    return parts


_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")
_UNITS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_time(text: str, name: str) -> float:
    """A time parameter: Unix seconds (a float) or RFC 3339."""
    try:
        value = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(f'invalid parameter "{name}": cannot parse {text!r}') from None
        if moment.tzinfo is None:
            raise QueryError(f'invalid parameter "{name}": {text!r} has no time zone') from None
        return moment.timestamp()
    if not math.isfinite(value):
        raise QueryError(f'invalid parameter "{name}": cannot parse {text!r}')
    return value


def parse_step(text: str) -> float:
    """``step``: seconds as a float, or a Prometheus duration (``1m``, ``1h30m``)."""
    try:
        value = float(text)
    except ValueError:
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(a + u for a, u in parts) != text:
            raise QueryError(f'invalid parameter "step": cannot parse {text!r}') from None
        return sum(int(amount) * _UNITS[unit] for amount, unit in parts)
    if not math.isfinite(value):
        raise QueryError(f'invalid parameter "step": cannot parse {text!r}')
    return value
