"""Scenario assertions: one-line claims about a run, checked against its timeline.

So that scenarios double as end-to-end tests, each states what must have happened, in words a
reader can check against the report::

    replicas(web) >= 8 within 180s after 600s   # some sample in [600s, 780s] has it
    ready(web) == 1 at 20m                       # the last sample at or before 20m
    replicas(web) <= 10 always                   # every sample (optionally from/until)
    nodes() >= 4 eventually after 1h             # some sample from 1h on
    nodes(general) == 5 within 5m after 10m      # one node group's registered nodes
    events(TriggeredScaleUp) >= 1                # Events of a reason seen so far (any source)
    unschedulable() == 0 eventually              # pods the scheduler found no node for
    replicas(web) == 1                           # the last sample of the run
    max(replicas(web)) <= 10                     # aggregates: max, min, avg over the run
    max_pending_seconds < 120                    # run figures: max_pending_seconds,
    pending_pod_minutes < 30                     #   pending_pod_minutes, node_hours
    overload_minutes(web) < 5                    # per workload: overload_minutes (demand
    replica_hours(web) < 120                     #   above what Ready pods serve), replica_hours
    queue(orders) == 0 at 50m

Series: ``replicas(w)`` (desired replicas: the workload's ``spec.replicas``), ``ready(w)``,
``demand(w)``, ``queue(q)`` (messages waiting), ``nodes()`` or ``nodes(group)`` (Nodes, all or
of one node group), ``pending()`` (pods Pending), ``unschedulable()`` (pods the scheduler
could not place) and ``events(Reason)`` (Events of that reason so far, repeats included).
Operators: ``< <= > >= == !=``. Durations: seconds or ``90s``, ``15m``, ``1h30m``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from podscaler.sim.world.capacity import overload_minutes, replica_hours
from podscaler.sim.world.load import LoadError, parse_duration_seconds
from podscaler.sim.world.timeline import Timeline

__all__ = ["Assertion", "AssertionResult", "BadAssertion", "parse_assertion"]

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_SERIES = ("replicas", "ready", "demand", "queue", "nodes", "pending", "unschedulable", "events")
_FIGURES = ("max_pending_seconds", "pending_pod_minutes", "node_hours")
#: Figures of one workload over the run (see :mod:`podscaler.sim.world.capacity`).
_WORKLOAD_FIGURES = ("overload_minutes", "replica_hours")
_AGGREGATES = ("max", "min", "avg")
_DURATION = r"[0-9.]+(?:ms|s|m|h|d)?(?:[0-9.]+(?:ms|s|m|h|d))*"

_PATTERN = re.compile(
    rf"""^\s*
    (?:(?P<aggregate>{"|".join(_AGGREGATES)})\(\s*)?
    (?:(?P<series>{"|".join(_SERIES)})\(\s*(?P<arg>[A-Za-z0-9._/-]*)\s*\)
      |(?P<wfigure>{"|".join(_WORKLOAD_FIGURES)})\(\s*(?P<warg>[A-Za-z0-9._/-]*)\s*\)
      |(?P<figure>{"|".join(_FIGURES)}))
    (?(aggregate)\s*\))
    \s*(?P<op><=|>=|==|!=|<|>)\s*(?P<number>-?[0-9.]+)
    \s*(?P<window>
        within\s+(?P<within>{_DURATION})\s+after\s+(?P<after>{_DURATION})
      | at\s+(?P<at>{_DURATION})
      | always(?:\s+from\s+(?P<from>{_DURATION}))?(?:\s+until\s+(?P<until>{_DURATION}))?
      | eventually(?:\s+after\s+(?P<eventually_after>{_DURATION}))?
    )?\s*$""",
    re.VERBOSE,
)


class BadAssertion(ValueError):
    """An assertion line that cannot be read."""


@dataclass(frozen=True)
class AssertionResult:
    text: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Assertion:
    text: str
    series: str | None
    arg: str
    figure: str | None
    aggregate: str | None
    op: str
    number: float
    #: "end" | "within" | "at" | "always" | "eventually"
    mode: str
    start_seconds: float = 0.0
    end_seconds: float | None = None

    def check(self, timeline: Timeline, end_seconds: float) -> AssertionResult:
        compare = _OPERATORS[self.op]
        if self.figure in _WORKLOAD_FIGURES:
            measure = overload_minutes if self.figure == "overload_minutes" else replica_hours
            value = measure(timeline, self.arg)
            return self._result(
                compare(value, self.number), f"{self.figure}({self.arg}) = {value:.3g}"
            )
        if self.figure is not None:
            value = {
                "max_pending_seconds": lambda: timeline.max_pending_seconds(end_seconds),
                "pending_pod_minutes": timeline.pending_pod_minutes,
                "node_hours": timeline.node_hours,
            }[self.figure]()
            return self._result(compare(value, self.number), f"{self.figure} = {value:.3g}")
        times = list(timeline.times.values)
        values = self._values(timeline)
        if not times:
            return self._result(False, "no samples were recorded")
        label = f"{self.series}({self.arg})"
        if self.aggregate is not None:
            if self.aggregate == "max":
                value = max(values)
            elif self.aggregate == "min":
                value = min(values)
            else:
                value = sum(values) / len(values)
            return self._result(compare(value, self.number), f"{self.aggregate} = {value:g}")
        if self.mode == "end":
            return self._result(
                compare(values[-1], self.number), f"{label} = {values[-1]:g} at the end"
            )
        if self.mode == "at":
            index = max((i for i, t in enumerate(times) if t <= self.start_seconds), default=0)
            return self._result(
                compare(values[index], self.number),
                f"{label} = {values[index]:g} at {times[index]:g}s",
            )
        end = self.end_seconds if self.end_seconds is not None else float("inf")
        window = [
            (t, v) for t, v in zip(times, values, strict=True) if self.start_seconds <= t <= end
        ]
        if not window:
            return self._result(False, f"no samples between {self.start_seconds:g}s and {end:g}s")
        if self.mode == "always":
            bad = next(((t, v) for t, v in window if not compare(v, self.number)), None)
            if bad is None:
                return self._result(True, f"held at all {len(window)} samples")
            return self._result(False, f"{label} = {bad[1]:g} at {bad[0]:g}s")
        good = next(((t, v) for t, v in window if compare(v, self.number)), None)
        if good is not None:
            return self._result(True, f"{label} = {good[1]:g} at {good[0]:g}s")
        low, high = min(v for _, v in window), max(v for _, v in window)
        return self._result(
            False,
            f"{label} stayed within [{low:g}, {high:g}] between {window[0][0]:g}s and "
            f"{window[-1][0]:g}s",
        )

    def _values(self, timeline: Timeline) -> list[float]:
        if self.series in ("replicas", "ready", "demand"):
            what = "desired" if self.series == "replicas" else self.series
            return timeline.series(self.arg, what)
        if self.series == "queue":
            found = timeline.queues.get(self.arg)
            values = list(found.values) if found is not None else []
            return values + [0.0] * (len(timeline) - len(values))
        if self.series == "nodes":
            if self.arg:
                return timeline.group_series(self.arg)
            return list(timeline.nodes.values)
        if self.series == "unschedulable":
            return list(timeline.unschedulable.values)
        if self.series == "events":
            return timeline.event_series(self.arg)
        return list(timeline.pending.values)

    def _result(self, ok: bool, detail: str) -> AssertionResult:
        return AssertionResult(self.text, ok, detail)


def parse_assertion(text: str) -> Assertion:
    match = _PATTERN.match(text)
    if match is None:
        raise BadAssertion(
            f"cannot read assertion {text!r}: expected e.g. 'replicas(web) >= 8 within 180s "
            "after 600s' or 'max_pending_seconds < 120'"
        )
    groups = match.groupdict()

    def seconds(name: str) -> float:
        try:
            return parse_duration_seconds(groups[name], f"assertion {text!r}")
        except LoadError as exc:
            raise BadAssertion(str(exc)) from exc

    series, arg = groups["series"], groups["arg"] or ""
    if series in ("replicas", "ready", "demand", "queue") and not arg:
        raise BadAssertion(f"assertion {text!r}: {series}() needs a workload or queue name")
    figure = groups["figure"] or groups["wfigure"]
    if groups["wfigure"]:
        arg = groups["warg"] or ""
        if not arg:
            raise BadAssertion(f"assertion {text!r}: {figure}() needs a workload name")
    if figure and groups["window"]:
        raise BadAssertion(f"assertion {text!r}: {figure} is a figure of the whole run")
    if series == "events" and not arg:
        raise BadAssertion(f"assertion {text!r}: events() needs an Event reason")
    if series in ("pending", "unschedulable") and arg:
        raise BadAssertion(f"assertion {text!r}: {series}() takes no argument")
    if groups["aggregate"] and groups["window"]:
        raise BadAssertion(f"assertion {text!r}: an aggregate covers the whole run")
    mode, start, end = "end", 0.0, None
    if groups["within"]:
        mode, start = "within", seconds("after")
        end = start + seconds("within")
    elif groups["at"]:
        mode, start = "at", seconds("at")
    elif groups["window"] and groups["window"].startswith("always"):
        mode = "always"
        start = seconds("from") if groups["from"] else 0.0
        end = seconds("until") if groups["until"] else None
    elif groups["window"] and groups["window"].startswith("eventually"):
        mode = "eventually"
        start = seconds("eventually_after") if groups["eventually_after"] else 0.0
    try:
        number = float(groups["number"])
    except ValueError as exc:
        raise BadAssertion(f"assertion {text!r}: {groups['number']!r} is not a number") from exc
    return Assertion(
        text=text.strip(),
        series=series,
        arg=arg,
        figure=figure,
        aggregate=groups["aggregate"],
        op=groups["op"],
        number=number,
        mode=mode,
        start_seconds=start,
        end_seconds=end,
    )
