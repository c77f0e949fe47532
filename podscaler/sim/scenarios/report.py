"""The report of a simulated run: one self-contained HTML file with inline SVG charts.

A person should rather look at this than read a log, and should see *why* replicas moved, not
only that they did. So the page leads with the outcome (the assertions, passed or failed, and
the run's figures, scale-ups and scale-downs counted apart) and then, for each workload an
autoscaler scales (:mod:`podscaler.sim.scenarios.drivers`), three charts on one time axis:

1. **why** — each trigger's metric against its target, as the ScaledObject states it (above the
   dashed line the autoscaler adds replicas, below it removes them), with the activation
   threshold and, for a cron trigger, the schedule's windows;
2. **what** — desired and Ready replicas between the min and max bounds, the replicas the
   metric asked for, and a marker on each change (hover it for the decision that made it);
3. **capacity against demand** — what the Ready pods can serve against what arrives, overload
   shaded.

Then the cluster (nodes, Pending pods), the queues, and a table with each replica change once:
the ``/scale`` write and the autoscaler's decision in one row
(:mod:`podscaler.sim.scenarios.changes`).

No JavaScript and nothing fetched: charts are SVG written here
(:mod:`podscaler.sim.scenarios.charts`), hover text is SVG ``<title>``, styles are inline, so
the file can be attached to a ticket or opened offline years later. The page holds nothing but
what the run computed — no wall-clock time, no timings of the machine — so the same scenario and
seed give the same bytes.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from podscaler.engine.cpa import INT32_MAX, LadderParams
from podscaler.sim.scenarios.changes import Change, OtherEvent, pair_changes
from podscaler.sim.scenarios.charts import Chart, esc, legend, nice_axis
from podscaler.sim.scenarios.drivers import (
    Autoscaler,
    Driver,
    Supply,
    autoscalers,
    drivers,
    format_figure,
    overload_spans,
    proposals,
    supply,
)
from podscaler.sim.world.timeline import Timeline

if TYPE_CHECKING:
    from podscaler.sim.scenarios.runs import RunResult

__all__ = ["Summary", "render_report", "summarize", "write_report"]

MAX_WORKLOAD_CHARTS = 8
TIMES = "\u00d7"
EN_DASH = "\u2013"
MAX_TABLE_ROWS = 1000

COLORS = {
    "demand": "#e8a33d",
    "capacity": "#137a52",
    "desired": "#3b6fd8",
    "ready": "#1f9d6b",
    "asks": "#8e44ad",
    "bound": "#6b6b6b",
    "metric": "#0f6e8c",
    "target": "#c0392b",
    "activation": "#b07d2b",
    "above": "#e4572e",
    "below": "#4a90d9",
    "up": "#1d4ed8",
    "down": "#d97706",
    "event": "#777777",
    "overload": "#d6453d",
    "idle": "#9a9a9a",
    "window": "#3b6fd8",
    "nodes": "#7b4fc9",
    "pending": "#d6453d",
    "queue": "#2d8fb3",
    "forecast": "#c2185b",
}

CSS = """
body{font:14px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1000px;color:#222;background:#fafafa;padding:0 12px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:34px 0 2px}
h3{font-size:14px;margin:16px 0 4px;color:#333}
.sub{color:#666;margin-bottom:10px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:#fff;border:1px solid #e3e3e3;border-radius:8px;padding:10px 14px;min-width:130px}
.card b{display:block;font-size:20px}
.card span{color:#666;font-size:12px}
.ok{color:#1f9d6b} .fail{color:#d6453d}
ul.asserts{list-style:none;padding:0} ul.asserts li{margin:3px 0}
svg[role=img]{background:#fff;border:1px solid #e3e3e3;border-radius:8px}
.legend{margin:2px 0 4px}
.key{display:inline-block;margin-right:14px;font-size:12px;color:#333;white-space:nowrap}
.key svg{vertical-align:middle}
.howto{background:#fff;border-left:3px solid #3b6fd8;padding:8px 12px;color:#444;font-size:13px}
.note{color:#666;font-size:12px;margin:2px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:12px}
td,th{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}
td.num{white-space:nowrap} .up{color:#1d4ed8} .down{color:#d97706}
"""


@dataclass(frozen=True)
class Summary:
    """The run in a few figures (the demo prints them; the report shows them as cards)."""

    scale_ups: int
    median_catch_up_seconds: float | None
    max_catch_up_seconds: float | None
    never_caught_up: int
    pending_pod_minutes: float
    max_pending_seconds: float
    node_hours: float
    cost: float
    peak_desired: int
    peak_nodes: int
    scale_downs: int = 0
    #: minutes the focus workload's demand exceeded what its Ready pods serve (None: unknown)
    overloaded_minutes: float | None = None


def _overloaded_minutes(found: Supply | None, timeline: Timeline, end: float) -> float | None:
    if found is None or found.capacity is None:
        return None
    spans = overload_spans(timeline.times.values, found.overloaded(), end)
    return sum(b - a for a, b in spans) / 60.0


def summarize(result: RunResult) -> Summary:
    timeline = result.timeline
    catch_ups = timeline.scale_up_catch_up_seconds()
    done = sorted(c for _, _, c in catch_ups if c is not None)
    focus = result.scenario.focus
    peak = max(timeline.series(focus, "desired"), default=0.0) if focus else 0.0
    overloaded = (
        _overloaded_minutes(supply(focus, timeline, result.scenario), timeline, result.end_seconds)
        if focus
        else None
    )
    return Summary(
        scale_ups=len(catch_ups),
        median_catch_up_seconds=done[len(done) // 2] if done else None,
        max_catch_up_seconds=done[-1] if done else None,
        never_caught_up=sum(1 for _, _, c in catch_ups if c is None),
        pending_pod_minutes=timeline.pending_pod_minutes(),
        max_pending_seconds=timeline.max_pending_seconds(result.end_seconds),
        node_hours=timeline.node_hours(),
        cost=result.cost,
        peak_desired=int(peak),
        peak_nodes=int(max(timeline.nodes.values, default=0.0)),
        scale_downs=timeline.scale_downs(),
        overloaded_minutes=overloaded,
    )


# --------------------------------------------------------------------------- pieces


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _most(replicas: int) -> str:
    """A maximum as people read it (a ProportionalScaler without one has Go's int32 max)."""
    return "no max" if replicas >= INT32_MAX else str(replicas)


def _at_or_before(times: Sequence[float], seconds: float) -> int | None:
    index = bisect.bisect_right(times, seconds + 1e-9) - 1
    return index if index >= 0 else None


@dataclass
class _Page:
    """What every section of one page shares."""

    result: RunResult
    timeline: Timeline
    times: list[float]
    start: datetime | None
    end: float
    charts: int = 0

    def chart(self, *, height: int, top: float, step: float) -> Chart:
        self.charts += 1
        return Chart(
            0.0,
            max(self.end, self.times[-1] if self.times else 0.0),
            self.start,
            ident=f"c{self.charts}",
            height=height,
            top=top,
            step=step,
        )

    def when(self, seconds: float) -> str:
        return Chart(0.0, 1.0, self.start, ident="").when(seconds)


def _change_title(page: _Page, change: Change) -> str:
    head = f"{page.when(change.seconds)} {change.workload}: {change.before} → {change.after}"
    return f"{head} — {change.decision}" if change.decision else f"{head} (no autoscaler Event)"


def _change_markers(
    page: _Page, chart: Chart, changes: Sequence[Change], value_at: Sequence[float | None] | None
) -> None:
    """A marker per change: at the new replica count (``value_at`` None), or on a metric at
    the sample before the change (what the decision saw)."""
    for change in changes:
        value: float | None = float(change.after)
        if value_at is not None:
            index = _at_or_before(page.times, change.seconds)
            value = value_at[index] if index is not None and index < len(value_at) else None
        chart.marker(
            change.seconds,
            value if value is not None else 0.0,
            "up" if change.up else "down",
            COLORS["up"] if change.up else COLORS["down"],
            _change_title(page, change),
        )


def _why_chart(page: _Page, driver: Driver, changes: Sequence[Change]) -> str:
    trigger = driver.trigger
    steps = (
        [(float(n), r) for n, r in trigger.params.nodes_to_replicas]
        if isinstance(trigger.params, LadderParams)
        else []
    )
    if steps:
        heading = f"<h3>Why: {esc(driver.title)} against the ladder's steps (nodesToReplicas)</h3>"
    elif trigger.source == "cron" and trigger.target is not None:
        heading = (
            f"<h3>Why: the cron schedule asks for {esc(driver.target_text())} inside its "
            "windows, 0 outside</h3>"
        )
    elif trigger.target is not None:
        heading = f"<h3>Why: {esc(driver.title)} against {esc(driver.target_text())}</h3>"
    else:
        heading = f"<h3>Why: {esc(driver.title)}</h3>"
    note = f'<p class="note">{esc(driver.note)}</p>' if driver.note else ""
    present = [v for v in driver.values if v is not None]
    if not present:
        return (
            f'{heading}<p class="note">{esc(driver.note or "no samples")}; the decisions are '
            "listed below.</p>"
        )
    target = trigger.target
    activation = trigger.activation if trigger.activation else None
    largest = max([*present, (target or 0.0) * 1.25, activation or 0.0])
    # The ladder's steps up to the first one above the data.
    shown = [s for s in steps if s[0] <= largest] + [s for s in steps if s[0] > largest][:1]
    largest = max([largest, *(n for n, _ in shown)])
    top, step = nice_axis(largest, whole=trigger.source in ("cron", "nodes"))
    chart = page.chart(height=210, top=top, step=step)
    axis = {"cron": "replicas", "nodes": "nodes" if steps else "nodes per replica"}
    chart.axes(driver.unit or axis.get(trigger.source, "per replica"))
    items: list[tuple[str, str, str]] = []
    if trigger.source == "cron":
        for t0, t1 in overload_spans(page.times, [bool(v) for v in driver.values], page.end):
            chart.band(t0, t1, COLORS["window"], 0.10, "inside the schedule's window")
        items.append(("band", COLORS["window"], "inside the schedule's window"))
        chart.series(page.times, driver.values, COLORS["metric"], driver.title, width=2.0)
        items.append(("line", COLORS["metric"], driver.title))
    else:
        if target is not None:
            chart.split_fill(page.times, driver.values, target, COLORS["above"], COLORS["below"])
            items.append(("band", COLORS["above"], "above target: scale up"))
            later = "" if trigger.source == "nodes" else " (after the window)"
            items.append(("band", COLORS["below"], f"below target: scale down{later}"))
        chart.series(page.times, driver.values, COLORS["metric"], driver.title, width=1.6)
        items.insert(0, ("line", COLORS["metric"], driver.title))
    for nodes, replicas in shown:
        chart.hline(nodes, COLORS["target"], f"{nodes:g} → {replicas}", role="step", dash="3 3")
    if shown:
        items.append(("dashed", COLORS["target"], "a ladder step: from N nodes, R replicas"))
    if target is not None:
        chart.hline(target, COLORS["target"], f"target {format_figure(target)}", role="target")
        items.append(("dashed", COLORS["target"], driver.target_text()))
    if activation is not None:
        chart.hline(
            activation,
            COLORS["activation"],
            f"activ. {format_figure(activation)}",
            role="activation",
        )
        items.append(
            (
                "dashed",
                COLORS["activation"],
                f"{trigger.activation_name} {format_figure(activation)} (from zero: active above)",
            )
        )
    _change_markers(page, chart, changes, driver.values)
    items += _marker_items(changes)
    return heading + legend(items) + chart.svg(driver.title, "why") + note


def _marker_items(changes: Sequence[Change]) -> list[tuple[str, str, str]]:
    items: list[tuple[str, str, str]] = []
    if any(c.up for c in changes):
        items.append(("up", COLORS["up"], "scale-up (hover: the decision)"))
    if any(not c.up for c in changes):
        items.append(("down", COLORS["down"], "scale-down"))
    return items


def _what_chart(
    page: _Page,
    scaler: Autoscaler,
    found: Sequence[Driver],
    changes: Sequence[Change],
    others: Sequence[OtherEvent],
) -> str:
    name = scaler.target_name
    desired = page.timeline.series(name, "desired")
    ready = page.timeline.series(name, "ready")
    asks = proposals(found, len(page.times))
    asked = [a for a in asks if a is not None]
    data = max([*desired, *ready, float(scaler.min_replicas), 1.0])
    cap = min((t.cap for t in scaler.triggers if t.cap), default=None)
    bounds_near = scaler.max_replicas <= 2 * data
    reach = max([data, *(min(a, scaler.max_replicas * 1.5) for a in asked)])
    if bounds_near:
        reach = max(reach, float(scaler.max_replicas))
    top, step = nice_axis(reach, whole=True)
    chart = page.chart(height=230, top=top, step=step)
    chart.axes("replicas")
    items: list[tuple[str, str, str]] = []
    if bounds_near:
        chart.hline(scaler.max_replicas, COLORS["bound"], f"max {scaler.max_replicas}", role="max")
    if scaler.min_replicas > 0:
        chart.hline(scaler.min_replicas, COLORS["bound"], f"min {scaler.min_replicas}", role="min")
    bounds = f"min {scaler.min_replicas}, max {_most(scaler.max_replicas)}"
    if not bounds_near:
        bounds += (
            " (no maximum)"
            if scaler.max_replicas >= INT32_MAX
            else f" (max {scaler.max_replicas} is far above this chart)"
        )
    items.append(("dashed", COLORS["bound"], bounds))
    if cap is not None and cap <= top:
        chart.hline(cap, COLORS["asks"], f"cap {cap}", role="cap", dash="8 3")
        items.append(("dashed", COLORS["asks"], f"cap: {cap} partitions"))
    if asked:
        chart.series(
            page.times, asks, COLORS["asks"], "replicas the metric asks for", width=1.2, dash="2 3"
        )
        label = "the metric asks for (before tolerance, windows, bounds)"
        if max(asked) > top:
            label += f"; up to {format_figure(max(asked))}, above the chart"
        items.append(("dotted", COLORS["asks"], label))
    chart.series(page.times, ready, COLORS["ready"], "Ready pods", width=1.2, fill=0.16)
    chart.series(page.times, desired, COLORS["desired"], "desired replicas (spec.replicas)")
    items.append(("line", COLORS["desired"], "desired replicas (spec.replicas)"))
    items.append(("area", COLORS["ready"], "Ready pods"))
    _change_markers(page, chart, changes, None)
    items += _marker_items(changes)
    if others:
        for event in others:
            chart.marker(
                event.seconds,
                top,
                "diamond",
                COLORS["event"],
                f"{page.when(event.seconds)} {event.about}: {event.text}"
                + (f" ({TIMES}{event.times})" if event.times > 1 else ""),
            )
        items.append(("diamond", COLORS["event"], "other Event of the autoscaler"))
    return "<h3>What: replicas</h3>" + legend(items) + chart.svg(f"{name} replicas", "what")


def _forecast_of(page: _Page, scaler: Autoscaler) -> list[float | None] | None:
    """The operator's forecast for a ScaledObject with a predictive trigger, at each tick
    (sampled during the run from its ``/metrics``; None when there is none)."""
    if scaler.kind != "ScaledObject" or not any(t.type == "predictive" for t in scaler.triggers):
        return None
    forecast, _ = page.result.forecasts.at_ticks(f"{scaler.namespace}/{scaler.name}", page.times)
    return forecast if any(v is not None for v in forecast) else None


#: The zoomed chart: this long before the forecast's largest lead over the demand, and after.
ZOOM_BEFORE_SECONDS = 30 * 60.0
ZOOM_AFTER_SECONDS = 45 * 60.0


def _forecast_zoom(page: _Page, found: Supply, forecast: list[float | None]) -> str:
    """A day squeezes a few minutes' lead into a pixel: the stretch around the forecast's
    largest lead over the demand, wide enough to see the forecast rise first."""
    leads = [(f - d, i) for i, (f, d) in enumerate(zip(forecast, found.demand, strict=False)) if f]
    if not leads:
        return ""
    lead, first = max(leads, key=lambda pair: (pair[0], -pair[1]))  # the earliest largest
    if lead <= 0:
        return ""
    at = page.times[first]
    t0, t1 = max(0.0, at - ZOOM_BEFORE_SECONDS), min(page.end, at + ZOOM_AFTER_SECONDS)
    keep = [i for i, t in enumerate(page.times) if t0 <= t <= t1]
    times = [page.times[i] for i in keep]
    demand = [found.demand[i] for i in keep]
    ahead = [forecast[i] for i in keep]
    capacity = [found.capacity[i] for i in keep] if found.capacity is not None else None
    shown = [*demand, *(v for v in ahead if v is not None), *(capacity or [])]
    top, step = nice_axis(max([*shown, 0.0]) * 1.05)
    page.charts += 1
    chart = Chart(t0, t1, page.start, ident=f"c{page.charts}", height=190, top=top, step=step)
    chart.axes(found.unit)
    chart.series(times, demand, COLORS["demand"], found.demand_label, step=False, fill=0.2)
    items = [("area", COLORS["demand"], found.demand_label)]
    chart.series(times, ahead, COLORS["forecast"], "forecast", width=1.8, dash="6 3")
    items.append(("dashed", COLORS["forecast"], "forecast (the most expected within the horizon)"))
    if capacity is not None:
        chart.series(times, capacity, COLORS["capacity"], "capacity of the Ready pods", width=1.8)
        items.append(("line", COLORS["capacity"], "capacity of the Ready pods"))
    heading = (
        f"<h3>Zoomed: {esc(page.when(t0))}{EN_DASH}{esc(page.when(t1))}, around the forecast's "
        f"largest lead over the demand (+{format_figure(lead)} {esc(found.unit)} at "
        f"{esc(page.when(at))})</h3>"
    )
    return heading + legend(items) + chart.svg("forecast against demand, zoomed", "forecast")


def _supply_chart(
    page: _Page, name: str, found: Supply | None, forecast: list[float | None] | None = None
) -> str:
    if found is None:
        return ""
    heading = f"<h3>Capacity against demand ({esc(found.unit)})</h3>"
    ahead = [v for v in forecast or () if v is not None]
    top, step = nice_axis(max([*found.demand, *(found.capacity or []), *ahead, 0.0]) * 1.05)
    chart = page.chart(height=190, top=top, step=step)
    chart.axes(found.unit)
    items: list[tuple[str, str, str]] = []
    for flags, color, opacity, what in (
        (found.overloaded(), COLORS["overload"], 0.18, "overload: demand above capacity"),
        (found.unserved(), COLORS["idle"], 0.22, "demand but no Ready pod"),
    ):
        spans = overload_spans(page.times, flags, page.end)
        for t0, t1 in spans:
            chart.band(t0, t1, color, opacity, f"{page.when(t0)}{EN_DASH}{page.when(t1)}: {what}")
        if spans:
            items.append(("band", color, f"{what} ({_duration(sum(b - a for a, b in spans))})"))
    chart.series(
        page.times, found.demand, COLORS["demand"], found.demand_label, step=False, fill=0.2
    )
    items.insert(0, ("area", COLORS["demand"], found.demand_label))
    if forecast is not None:
        label = "forecast: the most demand the predictive trigger expects within its horizon"
        chart.series(page.times, forecast, COLORS["forecast"], label, width=1.6, dash="6 3")
        items.insert(1, ("dashed", COLORS["forecast"], label))
    if found.capacity is not None and found.per_pod is not None:
        label = f"capacity: Ready pods {TIMES} {format_figure(found.per_pod)} {found.unit} each"
        chart.series(page.times, found.capacity, COLORS["capacity"], label, width=1.8)
        items.insert(1, ("line", COLORS["capacity"], label))
    if found.at_target is not None and found.per_pod_at_target is not None:
        label = (
            f"at the target: Ready pods {TIMES} {format_figure(found.per_pod_at_target)} "
            f"{found.unit} ({found.target_text})"
        )
        chart.series(page.times, found.at_target, COLORS["capacity"], label, width=1.4, dash="5 3")
        items.insert(2, ("dashed", COLORS["capacity"], label))
    note = f'<p class="note">{esc(found.note)}</p>' if found.note else ""
    if found.capacity is not None and found.unit == "req/s":
        note += (
            '<p class="note">A pod serves until its cpu reaches its limit '
            f"(usage = cpuBase + cpuPerUnit {TIMES} its share of demand)"
            + (
                "; the autoscaler keeps demand near the capacity at the target."
                if found.at_target is not None
                else "."
            )
            + "</p>"
        )
    return heading + legend(items) + chart.svg(f"{name} capacity and demand", "capacity") + note


def _workload_section(
    page: _Page,
    scaler: Autoscaler,
    found: Sequence[Driver],
    changes: Sequence[Change],
    others: Sequence[OtherEvent],
) -> str:
    name = scaler.target_name
    timeline, scenario = page.timeline, page.result.scenario
    cpu_target = next(
        (
            d.target
            for d in found
            if d.trigger.source == "cpu" and d.trigger.metric_type == "Utilization"
        ),
        None,
    )
    capacity = supply(name, timeline, scenario, cpu_target)
    mine = [c for c in changes if c.workload == name]
    ups = sum(1 for c in mine if c.up)
    downs = len(mine) - ups
    what = "mode" if scaler.kind == "ProportionalScaler" else "trigger"
    targets = "; ".join(
        f"{d.trigger.type} {what}, {d.target_text()}"
        if d.target is not None
        else f"{d.trigger.type} {what}"
        for d in found
    )
    overloaded = _overloaded_minutes(capacity, timeline, page.end)
    facts = [
        f"scaled by {scaler.label} ({targets})",
        f"replicas {scaler.min_replicas}..{_most(scaler.max_replicas)}",
        scaler.timing(),
        f"{ups} scale-up{'s' * (ups != 1)}, {downs} scale-down{'s' * (downs != 1)}",
    ]
    if overloaded is not None:
        facts.append(f"overloaded {_duration(overloaded * 60.0)}")
    if capacity is not None and capacity.capacity is not None:
        waiting = overload_spans(page.times, capacity.unserved(), page.end)
        if waiting:
            facts.append(f"demand with no Ready pod {_duration(sum(b - a for a, b in waiting))}")
    sub = f'<div class="sub">{esc(" · ".join(facts))}</div>'
    about = [o for o in others if o.about == scaler.label]
    body = "".join(_why_chart(page, d, mine) for d in found)
    body += _what_chart(page, scaler, found, mine, about)
    forecast = _forecast_of(page, scaler)
    body += _supply_chart(page, name, capacity, forecast)
    if forecast is not None and capacity is not None:
        body += _forecast_zoom(page, capacity, forecast)
        body += (
            '<p class="note">The forecast is the operator\'s own '
            "(<code>podscaler_predictive_forecast</code>, read once a simulated minute): where "
            "the dashed line rises before the demand, capacity was ordered ahead of the load."
            "</p>"
        )
    return (
        f'<section class="workload" data-workload="{esc(name)}" '
        f'data-scaled-by="{esc(scaler.label)}"><h2>{esc(name)}</h2>{sub}{body}</section>'
    )


def _plain_workload_chart(page: _Page, name: str) -> str:
    """A workload no autoscaler of the scenario scales: demand, desired and Ready."""
    demand = page.timeline.series(name, "demand")
    desired = page.timeline.series(name, "desired")
    ready = page.timeline.series(name, "ready")
    top, step = nice_axis(max([*desired, *ready, 1.0]), whole=True)
    chart = page.chart(height=200, top=top, step=step)
    chart.axes("replicas")
    items: list[tuple[str, str, str]] = []
    if any(demand):
        demand_top = max(demand)
        scaled = [v / demand_top * top for v in demand]
        chart.series(page.times, scaled, COLORS["demand"], "demand (scaled)", step=False, fill=0.2)
        items.append(("area", COLORS["demand"], f"demand, scaled (peak {demand_top:.0f})"))
    chart.series(page.times, desired, COLORS["desired"], "desired replicas")
    chart.series(page.times, ready, COLORS["ready"], "Ready", width=1.5)
    items += [("line", COLORS["desired"], "desired replicas"), ("line", COLORS["ready"], "Ready")]
    return (
        f'<h2>{esc(name)}</h2><div class="sub">not scaled by an autoscaler of the scenario</div>'
        + legend(items)
        + chart.svg(name, "workload")
    )


def _cluster_chart(page: _Page) -> str:
    timeline = page.timeline
    nodes = list(timeline.nodes.values)
    pending = list(timeline.pending.values)
    top, step = nice_axis(max([*nodes, *pending, 1.0]), whole=True)
    chart = page.chart(height=190, top=top, step=step)
    chart.axes("count")
    chart.series(page.times, pending, COLORS["pending"], "Pending pods", width=1.5, fill=0.18)
    chart.series(page.times, nodes, COLORS["nodes"], "nodes")
    chart.series(
        page.times, list(timeline.nodes_ready.values), COLORS["nodes"], "Ready nodes", width=1,
        dash="4 3",
    )  # fmt: skip
    items = [
        ("line", COLORS["nodes"], "nodes"),
        ("dashed", COLORS["nodes"], "Ready nodes"),
        ("area", COLORS["pending"], "Pending pods"),
    ]
    joined = sorted(
        (a for a in timeline.annotations if a.kind == "nodes"), key=lambda a: (a.seconds, a.text)
    )[:400]
    for note in joined:
        up = note.text.endswith("joined")
        chart.marker(
            note.seconds,
            top,
            "up" if up else "down",
            COLORS["nodes"],
            f"{page.when(note.seconds)} {note.text}",
        )
    if any(a.text.endswith("joined") for a in joined):
        items.append(("up", COLORS["nodes"], "a node joined"))
    if any(not a.text.endswith("joined") for a in joined):
        items.append(("down", COLORS["nodes"], "a node left"))
    return (
        "<h2>Nodes and Pending pods</h2>"
        + legend(items)
        + chart.svg("nodes and pending pods", "cluster")
    )


def _queue_charts(page: _Page) -> str:
    out = []
    for name, series in page.timeline.queues.items():
        values = list(series.values) + [0.0] * (len(page.times) - len(series.values))
        top, step = nice_axis(max([*values, 1.0]), whole=True)
        chart = page.chart(height=170, top=top, step=step)
        chart.axes("messages")
        chart.series(page.times, values, COLORS["queue"], f"queue {name}", fill=0.2)
        out.append(
            f"<h2>Queue {esc(name)}</h2>"
            + legend([("area", COLORS["queue"], "messages waiting")])
            + chart.svg("queue " + name, "queue")
        )
    return "".join(out)


def _metric_cell(page: _Page, found: Sequence[Driver], seconds: float) -> str:
    index = _at_or_before(page.times, seconds)
    parts = []
    for driver in found:
        if driver.target is None or index is None:
            continue
        value = driver.values[index] if index < len(driver.values) else None
        if value is None:
            continue
        parts.append(f"{driver.value_text(value)} (target {driver.value_text(driver.target)})")
    return "; ".join(parts)


def _changes_table(page: _Page, changes: Sequence[Change], found: dict[str, list[Driver]]) -> str:
    catch_up = {
        (w, s): c for w, s, c in page.timeline.scale_up_catch_up_seconds()
    }  # fmt: skip
    rows = []
    for change in changes[:MAX_TABLE_ROWS]:
        arrow = "▲" if change.up else "▼"
        css = "up" if change.up else "down"
        ready = _duration(catch_up.get((change.workload, change.seconds))) if change.up else ""
        decision = change.decision or "no autoscaler Event (written by someone else)"
        metric = _metric_cell(page, found.get(change.workload, []), change.seconds)
        rows.append(
            f'<tr data-change="{esc(change.workload)}" data-before="{change.before}" '
            f'data-after="{change.after}" data-seconds="{change.seconds:.3f}" '
            f'data-decided="{"yes" if change.decision else "no"}">'
            f"<td class=num>{esc(page.when(change.seconds))}</td>"
            f"<td>{esc(change.workload)}</td>"
            f'<td class="num {css}">{arrow} {change.before} → {change.after}</td>'
            f"<td class=num>{esc(metric)}</td>"
            f"<td>{esc(decision)}</td><td class=num>{esc(ready)}</td></tr>"
        )
    more = (
        f'<p class="note">… and {len(changes) - MAX_TABLE_ROWS} more changes.</p>'
        if len(changes) > MAX_TABLE_ROWS
        else ""
    )
    if not rows:
        return "<h2>Replica changes</h2><p class='note'>No workload changed its replicas.</p>"
    return (
        "<h2>Replica changes</h2>"
        '<p class="note">Each change once: the write of <code>spec.replicas</code> and the '
        "autoscaler's Event that decided it. <i>Metric</i> is the trigger's value at the sample "
        "before the change; <i>Ready after</i> is how long the new pods took.</p>"
        "<table><tr><th>time</th><th>workload</th><th>replicas</th><th>metric</th>"
        f"<th>decision (the autoscaler's Event)</th><th>Ready after</th></tr>{''.join(rows)}"
        f"</table>{more}"
    )


def _others_table(page: _Page, others: Sequence[OtherEvent]) -> str:
    if not others:
        return ""
    rows = "".join(
        f"<tr><td class=num>{esc(page.when(o.seconds))}</td><td>{esc(o.about)}</td>"
        f"<td>{esc(o.text)}{f' ({TIMES}{o.times} in a row)' if o.times > 1 else ''}</td></tr>"
        for o in others[:MAX_TABLE_ROWS]
    )
    return (
        "<h2>Other Events of the autoscalers</h2>"
        "<table><tr><th>time</th><th>object</th><th>Event</th></tr>"
        f"{rows}</table>"
    )


def render_report(result: RunResult, *, notes: Sequence[str] = ()) -> str:
    scenario = result.scenario
    timeline = result.timeline
    summary = summarize(result)
    page = _Page(
        result,
        timeline,
        list(timeline.times.values),
        scenario.start,
        max(result.end_seconds, timeline.times.values[-1] if len(timeline) else 0.0),
    )
    scalers = autoscalers(scenario)
    changes, others = pair_changes(timeline.annotations, scalers)
    cards = [
        (f"{summary.scale_ups}", "scale-ups"),
        (f"{summary.scale_downs}", "scale-downs"),
        (_duration(summary.median_catch_up_seconds), "median time to Ready after a scale-up"),
    ]
    if summary.overloaded_minutes is not None:
        cards.append((_duration(summary.overloaded_minutes * 60.0), f"{scenario.focus} overloaded"))
    cards += [
        (f"{summary.pending_pod_minutes:.1f}", "pod-minutes Pending"),
        (_duration(summary.max_pending_seconds), "longest Pending"),
        (
            f"{summary.node_hours:.1f}",
            "node-hours" + (f" (${summary.cost:.2f})" if summary.cost else ""),
        ),
    ]
    card_html = "".join(
        f'<div class="card" data-card="{esc(k)}"><b>{esc(v)}</b><span>{esc(k)}</span></div>'
        for v, k in cards
    )
    asserts = "".join(
        f'<li class="{"ok" if r.ok else "fail"}">{"✔" if r.ok else "✘"} '
        f"<code>{esc(r.text)}</code> — {esc(r.detail)}</li>"
        for r in result.results
    )
    verdict = (
        '<b class="ok">all assertions passed</b>'
        if result.passed and result.results
        else ('<b class="fail">assertions failed</b>' if result.results else "no assertions")
    )
    # The focus workload first, then the others in the order the scenario scales them.
    scaled: dict[str, Autoscaler] = {}
    for scaler in sorted(scalers, key=lambda s: s.target_name != scenario.focus):
        scaled.setdefault(scaler.target_name, scaler)
    found = {s.target_name: drivers(s, timeline, scenario) for s in scaled.values()}
    sections = [
        _workload_section(page, scaler, found[scaler.target_name], changes, others)
        for scaler in list(scaled.values())[:MAX_WORKLOAD_CHARTS]
    ]
    plain = [n for n in timeline.workloads if n not in scaled]
    if scenario.focus in plain:
        plain.remove(scenario.focus)
        plain.insert(0, scenario.focus)
    sections += [
        _plain_workload_chart(page, n) for n in plain[: max(0, MAX_WORKLOAD_CHARTS - len(scaled))]
    ]
    howto = (
        '<p class="howto">For each scaled workload: <b>Why</b> is the metric its trigger '
        "compared with the target the ScaledObject sets (above the dashed line the autoscaler "
        "adds replicas, below it removes them once the stabilization window allows); "
        "<b>What</b> is the replicas it decided, between the min and max bounds, with a marker "
        "on each change — hover a marker for the decision; <b>Capacity</b> is what the Ready "
        "pods can serve against what arrives, overload shaded.</p>"
        if scaled
        else ""
    )
    note_html = "".join(f"<p class='sub'>{esc(n)}</p>" for n in notes)
    when = f"starting {scenario.start.isoformat()}" if scenario.start else ""
    operator_ran = "with" if result.operator_ran else "without"
    simulated = _duration(result.end_seconds)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>podscaler — {esc(scenario.name)}</title>
<style>{CSS}</style></head><body>
<h1>{esc(scenario.name)}</h1>
<div class="sub">{esc(scenario.description)}<br>{esc(simulated)} simulated {esc(when)},
seed {scenario.seed}, {operator_ran} the podscaler operator — {verdict}</div>
{note_html}
<div class="cards">{card_html}</div>
<ul class="asserts">{asserts}</ul>
{howto}
{"".join(sections)}
{_cluster_chart(page)}
{_queue_charts(page)}
{_changes_table(page, changes, found)}
{_others_table(page, others)}
<p class="sub">Generated by podscaler from a simulated run. Hover the markers for details.</p>
</body></html>
"""


def write_report(result: RunResult, path: Path, *, notes: Sequence[str] = ()) -> Path:
    path.write_text(render_report(result, notes=notes), encoding="utf-8")
    return path
