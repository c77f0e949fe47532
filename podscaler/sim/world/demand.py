"""Demand curves: how much work a workload is asked to do at a moment of simulated time.

Demand is in the workload's own unit (requests per second for a web service, messages per
second for a queue producer). A curve is a pure function of seconds since the scenario
started; noise, when asked for, comes from a seeded generator keyed by the time, so a scenario
replays identically for a seed whatever order the curve is sampled in.

Kinds (the scenario format's ``demand.type``):

* ``constant`` — ``value``;
* ``steps`` — ``steps: [{at: 0, value: 10}, {at: 10m, value: 100}]``, held until the next;
* ``diurnal`` — a sine between ``min`` and ``max`` over ``period`` (default 24h) peaking at
  ``peakAt`` (default half the period);
* ``spikes`` — ``base`` plus rectangular ``spikes: [{at, duration, value}]`` (value replaces
  the base while the spike lasts);
* ``replay`` — a recorded series: ``points: [[t, value], ...]`` or ``file:`` a CSV of
  ``seconds,value`` lines (a header line is skipped) or a Prometheus range-query JSON
  (``data.result[0].values``), interpolated linearly and held at the ends.

Any kind accepts ``noise`` (a fraction, e.g. 0.05 = ±5% uniform) and ``scale`` (a factor).
"""

from __future__ import annotations

import bisect
import csv
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podscaler.sim.world.durations import parse_seconds

__all__ = ["DemandCurve", "DemandError", "parse_demand"]


class DemandError(ValueError):
    """A demand block that cannot be read; the message names the field."""


@dataclass(frozen=True)
class DemandCurve:
    """A demand curve: ``value(seconds)`` ≥ 0."""

    kind: str
    shape: Callable[[float], float]
    noise: float = 0.0
    scale: float = 1.0
    seed: int = 0

    def value(self, seconds: float) -> float:
        base = self.shape(seconds) * self.scale
        if self.noise:
            # A hash of the time, not a generator's next draw: the same instant always gets
            # the same noise, however often and in whatever order the curve is sampled.
            x = math.sin(seconds * 12.9898 + self.seed * 78.233) * 43758.5453
            jitter = 2.0 * (x - math.floor(x)) - 1.0
            base *= 1.0 + self.noise * jitter
        return max(0.0, base)


def _number(raw: Mapping[str, Any], key: str, default: float | None = None) -> float:
    value = raw.get(key, default)
    if value is None:
        raise DemandError(f"demand.{key} is required")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise DemandError(f"demand.{key} must be a number, not {value!r}") from exc


def _steps(raw: Mapping[str, Any]) -> Callable[[float], float]:
    items = raw.get("steps")
    if not isinstance(items, list) or not items:
        raise DemandError("demand.steps must be a non-empty list of {at, value}")
    points = sorted(
        (parse_seconds(item.get("at", 0), "demand.steps[].at"), _number(item, "value"))
        for item in items
        if isinstance(item, Mapping)
    )
    times = [t for t, _ in points]

    def shape(seconds: float) -> float:
        i = bisect.bisect_right(times, seconds) - 1
        return points[i][1] if i >= 0 else 0.0

    return shape


def _diurnal(raw: Mapping[str, Any]) -> Callable[[float], float]:
    low, high = _number(raw, "min"), _number(raw, "max")
    period = parse_seconds(raw.get("period", "24h"), "demand.period")
    if period <= 0:
        raise DemandError("demand.period must be positive")
    peak = parse_seconds(raw.get("peakAt", period / 2), "demand.peakAt")
    middle, amplitude = (high + low) / 2, (high - low) / 2

    def shape(seconds: float) -> float:
        return middle + amplitude * math.cos(2 * math.pi * (seconds - peak) / period)

    return shape


def _spikes(raw: Mapping[str, Any]) -> Callable[[float], float]:
    base = _number(raw, "base", 0.0)
    spikes: list[tuple[float, float, float]] = []
    for item in raw.get("spikes") or []:
        if not isinstance(item, Mapping):
            raise DemandError("demand.spikes must be a list of {at, duration, value}")
        start = parse_seconds(item.get("at", 0), "demand.spikes[].at")
        length = parse_seconds(item.get("duration", 60), "demand.spikes[].duration")
        spikes.append((start, start + length, _number(item, "value")))

    def shape(seconds: float) -> float:
        for start, end, value in spikes:
            if start <= seconds < end:
                return value
        return base

    return shape


def _read_series(path: Path) -> list[tuple[float, float]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        document = json.loads(text)
        values = document["data"]["result"][0]["values"]
        first = float(values[0][0]) if values else 0.0
        return [(float(t) - first, float(v)) for t, v in values]
    points: list[tuple[float, float]] = []
    for row in csv.reader(text.splitlines()):
        if len(row) < 2:
            continue
        try:
            points.append((float(row[0]), float(row[1])))
        except ValueError:
            continue  # a header line
    return points


def _replay(raw: Mapping[str, Any], base_dir: Path | None) -> Callable[[float], float]:
    points: list[tuple[float, float]]
    if raw.get("file"):
        path = Path(str(raw["file"]))
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            points = _read_series(path)
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise DemandError(f"demand.file {path}: cannot read a series: {exc}") from exc
    else:
        items = raw.get("points")
        if not isinstance(items, list):
            raise DemandError("demand.replay needs points: [[t, value], ...] or file:")
        points = [(parse_seconds(p[0], "demand.points"), float(p[1])) for p in items]
    if not points:
        raise DemandError("demand.replay: the series is empty")
    points.sort()
    times = [t for t, _ in points]

    def shape(seconds: float) -> float:
        i = bisect.bisect_right(times, seconds)
        if i == 0:
            return points[0][1]
        if i == len(points):
            return points[-1][1]
        (t0, v0), (t1, v1) = points[i - 1], points[i]
        return v0 + (v1 - v0) * (seconds - t0) / (t1 - t0) if t1 > t0 else v1

    return shape


_KINDS: dict[str, Callable[[Mapping[str, Any]], Callable[[float], float]]] = {
    "steps": _steps,
    "diurnal": _diurnal,
    "spikes": _spikes,
}


def parse_demand(raw: Any, *, seed: int = 0, base_dir: Path | None = None) -> DemandCurve:
    """Read a scenario's ``demand`` block (a number is shorthand for ``constant``)."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        constant = float(raw)
        return DemandCurve("constant", lambda _seconds: constant)
    if not isinstance(raw, Mapping):
        raise DemandError(f"demand must be a number or a mapping, not {raw!r}")
    kind = str(raw.get("type", "constant"))
    if kind == "constant":
        value = _number(raw, "value")
        shape: Callable[[float], float] = lambda _s: value  # noqa: E731
    elif kind == "replay":
        shape = _replay(raw, base_dir)
    elif kind in _KINDS:
        shape = _KINDS[kind](raw)
    else:
        known = ", ".join(["constant", "replay", *_KINDS])
        raise DemandError(f"demand.type {kind!r} is not one of: {known}")
    return DemandCurve(
        kind,
        shape,
        noise=_number(raw, "noise", 0.0),
        scale=_number(raw, "scale", 1.0),
        seed=seed,
    )


def sample(curve: DemandCurve, seconds: Sequence[float]) -> list[float]:
    """The curve at each instant (for reports and tests)."""
    return [curve.value(s) for s in seconds]
