"""The report of a simulated run: one self-contained HTML file with inline SVG charts.

A person should rather look at this than read a log, so the page leads with the outcome (the
assertions, passed or failed, and the run's figures) and then shows, on one time axis per
chart: demand against desired and Ready replicas per workload with every scaling decision
marked (hover a marker for the operator's reason), nodes and Pending pods, and queue depths.

No JavaScript and nothing fetched: charts are SVG written here, hover text is SVG ``<title>``,
styles are inline, so the file can be attached to a ticket or opened offline years later.
Long runs are drawn from at most :data:`MAX_POINTS` points per series (min/max preserving
decimation would be nicer; every n-th sample plus each change is enough for step series).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from podscaler.sim.world.timeline import Annotation, Timeline

if TYPE_CHECKING:
    from podscaler.sim.world.runs import RunResult

__all__ = ["Summary", "render_report", "summarize", "write_report"]

MAX_POINTS = 1500
MAX_WORKLOAD_CHARTS = 8
WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 64, 18, 34

COLORS = {
    "demand": "#f2b134",
    "desired": "#3b6fd8",
    "ready": "#1f9d6b",
    "nodes": "#7b4fc9",
    "pending": "#d6453d",
    "queue": "#2d8fb3",
    "event": "#555",
}

CSS = """
body{font:14px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1000px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 6px}
.sub{color:#666;margin-bottom:16px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:#fff;border:1px solid #e3e3e3;border-radius:8px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:20px}
.card span{color:#666;font-size:12px}
.ok{color:#1f9d6b} .fail{color:#d6453d} .skip{color:#999}
ul.asserts{list-style:none;padding:0} ul.asserts li{margin:3px 0}
svg{background:#fff;border:1px solid #e3e3e3;border-radius:8px}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:4px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:12px}
td,th{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}
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


def summarize(result: RunResult) -> Summary:
    timeline = result.timeline
    catch_ups = timeline.scale_up_catch_up_seconds()
    done = sorted(c for _, _, c in catch_ups if c is not None)
    focus = result.scenario.focus
    peak = max(timeline.series(focus, "desired"), default=0.0) if focus else 0.0
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
    )


# --------------------------------------------------------------------------- drawing


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _count_max(value: float) -> float:
    """An axis top for whole counts (replicas, nodes, pods): four gridlines at whole numbers."""
    step = _nice_max(max(value, 1.0) / 4)
    return 4 * float(max(1, math.ceil(step)))


def _clock(seconds: float, start: datetime | None) -> str:
    if start is not None:
        return (start + timedelta(seconds=seconds)).strftime("%H:%M")
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}"


def _indices(times: Sequence[float], series: Sequence[Sequence[float]]) -> list[int]:
    """Which samples to draw: every n-th, plus every sample where a series changes."""
    n = len(times)
    if n <= MAX_POINTS:
        return list(range(n))
    stride = math.ceil(n / MAX_POINTS)
    keep = set(range(0, n, stride))
    keep.add(n - 1)
    for values in series:
        for i in range(1, n):
            if values[i] != values[i - 1]:
                keep.add(i - 1)
                keep.add(i)
        if len(keep) > 4 * MAX_POINTS:
            break
    return sorted(keep)


class _Chart:
    def __init__(self, times: Sequence[float], start: datetime | None) -> None:
        self.times = times
        self.start = start
        self.t0 = times[0] if times else 0.0
        self.t1 = times[-1] if times and times[-1] > self.t0 else self.t0 + 1.0
        self.parts: list[str] = []

    def x(self, seconds: float) -> float:
        return LEFT + (seconds - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)

    @staticmethod
    def y(value: float, top: float) -> float:
        return HEIGHT - BOTTOM - value / top * (HEIGHT - TOP - BOTTOM)

    def axes(
        self, left_top: float, left_label: str, right_top: float | None, right_label: str
    ) -> None:
        parts = self.parts
        for k in range(5):
            value = left_top * k / 4
            y = self.y(value, left_top)
            parts.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            )
            parts.append(
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                f'fill="#666">{value:g}</text>'
            )
            if right_top is not None:
                right = right_top * k / 4
                parts.append(
                    f'<text x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}" font-size="11" '
                    f'fill="{COLORS["demand"]}">{right:g}</text>'
                )
        parts.append(
            f'<text x="14" y="{HEIGHT / 2:.0f}" font-size="11" fill="#666" '
            f'transform="rotate(-90 14 {HEIGHT / 2:.0f})" text-anchor="middle">'
            f"{_esc(left_label)}</text>"
        )
        if right_top is not None:
            parts.append(
                f'<text x="{WIDTH - 12}" y="{HEIGHT / 2:.0f}" font-size="11" '
                f'fill="{COLORS["demand"]}" '
                f'transform="rotate(90 {WIDTH - 12} {HEIGHT / 2:.0f})" text-anchor="middle">'
                f"{_esc(right_label)}</text>"
            )
        span = self.t1 - self.t0
        step = next(
            (
                s
                for s in (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
                if span / s <= 12
            ),
            86400 * 7,
        )
        tick = math.ceil(self.t0 / step) * step
        while tick <= self.t1:
            x = self.x(tick)
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
                'stroke="#f3f3f3"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="11" fill="#666">{_clock(tick, self.start)}</text>'
            )
            tick += step

    def line(
        self,
        values: Sequence[float],
        top: float,
        color: str,
        *,
        step: bool,
        width: float = 2,
        fill: bool = False,
        label: str = "",
    ) -> None:
        idx = _indices(self.times, [values])
        if not idx:
            return
        points: list[str] = []
        previous_y: float | None = None
        for i in idx:
            x, y = self.x(self.times[i]), self.y(values[i], top)
            if step and previous_y is not None:
                points.append(f"{x:.1f},{previous_y:.1f}")
            points.append(f"{x:.1f},{y:.1f}")
            previous_y = y
        path = " ".join(points)
        if fill:
            base = self.y(0, top)
            first_x = self.x(self.times[idx[0]])
            last_x = self.x(self.times[idx[-1]])
            self.parts.append(
                f'<polygon points="{first_x:.1f},{base:.1f} {path} {last_x:.1f},{base:.1f}" '
                f'fill="{color}" fill-opacity="0.18" stroke="none"/>'
            )
        self.parts.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="{width}" '
            f'stroke-linejoin="round"><title>{_esc(label)}</title></polyline>'
        )

    def markers(self, annotations: Sequence[Annotation], top: float) -> None:
        for note in annotations:
            x = self.x(note.seconds)
            y = self.y(note.after, top) if note.kind == "scale" else TOP + 4
            color = COLORS["desired"] if note.kind == "scale" else COLORS["event"]
            if note.kind == "scale":
                tag = "circle"
                attributes = (
                    f'cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#fff" stroke="{color}" '
                    'stroke-width="1.5"'
                )
            else:
                tag = "rect"
                attributes = (
                    f'x="{x - 2:.1f}" y="{y - 2:.1f}" width="4" height="8" fill="{color}" '
                    'fill-opacity="0.5"'
                )
            when = _clock(note.seconds, self.start)
            title = f"<title>{_esc(when)} {_esc(note.text)}</title>"
            self.parts.append(f"<{tag} {attributes}>{title}</{tag}>")

    def svg(self, title: str) -> str:
        body = "\n".join(self.parts)
        return (
            f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
            f'aria-label="{_esc(title)}" '
            f'xmlns="http://www.w3.org/2000/svg">{body}</svg>'
        )


def _legend(items: Sequence[tuple[str, str]]) -> str:
    spans = "".join(
        f'<span><i style="background:{color}"></i>{_esc(label)}</span>' for label, color in items
    )
    return f'<div class="legend">{spans}</div>'


def _workload_chart(timeline: Timeline, name: str, start: datetime | None) -> str:
    times = list(timeline.times.values)
    demand = timeline.series(name, "demand")
    desired = timeline.series(name, "desired")
    ready = timeline.series(name, "ready")
    top = _count_max(max([*desired, *ready, 1.0]) * 1.15)
    demand_top = _nice_max(max([*demand, 0.0]) * 1.1)
    chart = _Chart(times, start)
    chart.axes(top, "replicas", demand_top if any(demand) else None, "demand")
    if any(demand):
        scaled = [v / demand_top * top for v in demand]
        chart.line(scaled, top, COLORS["demand"], step=False, width=1.5, fill=True, label="demand")
    chart.line(desired, top, COLORS["desired"], step=True, label="desired replicas")
    chart.line(ready, top, COLORS["ready"], step=True, width=1.5, label="Ready replicas")
    notes = [a for a in timeline.annotations if a.workload == name and a.kind in ("scale", "event")]
    chart.markers(notes, top)
    legend = _legend(
        [
            ("demand (right axis)", COLORS["demand"]),
            ("desired replicas", COLORS["desired"]),
            ("Ready", COLORS["ready"]),
        ]
    )
    return f"<h2>{_esc(name)}</h2>{legend}{chart.svg(name)}"


def _cluster_chart(timeline: Timeline, start: datetime | None) -> str:
    times = list(timeline.times.values)
    nodes = list(timeline.nodes.values)
    pending = list(timeline.pending.values)
    top = _count_max(max([*nodes, *pending, 1.0]) * 1.15)
    chart = _Chart(times, start)
    chart.axes(top, "count", None, "")
    chart.line(
        pending, top, COLORS["pending"], step=True, width=1.5, fill=True, label="Pending pods"
    )
    chart.line(nodes, top, COLORS["nodes"], step=True, label="nodes")
    chart.line(
        list(timeline.nodes_ready.values),
        top,
        COLORS["nodes"],
        step=True,
        width=1,
        label="Ready nodes",
    )
    chart.markers([a for a in timeline.annotations if a.kind == "nodes"][:400], top)
    legend = _legend([("nodes", COLORS["nodes"]), ("Pending pods", COLORS["pending"])])
    return f"<h2>Nodes and Pending pods</h2>{legend}{chart.svg('nodes and pending pods')}"


def _queue_chart(timeline: Timeline, start: datetime | None) -> str:
    if not timeline.queues:
        return ""
    times = list(timeline.times.values)
    out = []
    for name, series in timeline.queues.items():
        values = list(series.values) + [0.0] * (len(times) - len(series.values))
        top = _count_max(max([*values, 1.0]) * 1.15)
        chart = _Chart(times, start)
        chart.axes(top, "messages", None, "")
        chart.line(values, top, COLORS["queue"], step=True, fill=True, label=f"queue {name}")
        out.append(f"<h2>Queue {_esc(name)}</h2>{chart.svg('queue ' + name)}")
    return "".join(out)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def render_report(result: RunResult, *, notes: Sequence[str] = ()) -> str:
    scenario = result.scenario
    timeline = result.timeline
    summary = summarize(result)
    start = scenario.start
    cards = [
        (f"{summary.scale_ups}", "scale-ups"),
        (_duration(summary.median_catch_up_seconds), "median time to Ready after a scale-up"),
        (f"{summary.pending_pod_minutes:.1f}", "pod-minutes Pending"),
        (_duration(summary.max_pending_seconds), "longest Pending"),
        (
            f"{summary.node_hours:.1f}",
            "node-hours" + (f" (${summary.cost:.2f})" if summary.cost else ""),
        ),
        (_duration(result.end_seconds), f"simulated in {result.wall_seconds:.1f} s"),
    ]
    card_html = "".join(
        f'<div class="card"><b>{_esc(v)}</b><span>{_esc(k)}</span></div>' for v, k in cards
    )
    asserts = "".join(
        f'<li class="{"ok" if r.ok else "fail"}">{"✔" if r.ok else "✘"} '
        f"<code>{_esc(r.text)}</code> — {_esc(r.detail)}</li>"
        for r in result.results
    )
    verdict = (
        '<b class="ok">all assertions passed</b>'
        if result.passed and result.results
        else ('<b class="fail">assertions failed</b>' if result.results else "no assertions")
    )
    names = [scenario.focus] if scenario.focus else []
    names += [n for n in timeline.workloads if n not in names]
    charts = "".join(_workload_chart(timeline, n, start) for n in names[:MAX_WORKLOAD_CHARTS] if n)
    events = [a for a in timeline.annotations if a.kind in ("scale", "event")]
    rows = "".join(
        f"<tr><td>{_esc(_clock(a.seconds, start))}</td><td>{_esc(a.workload)}</td>"
        f"<td>{_esc(a.text)}</td></tr>"
        for a in events[:500]
    )
    note_html = "".join(f"<p class='sub'>{_esc(n)}</p>" for n in notes)
    when = f"starting {start.isoformat()}" if start else ""
    operator_ran = "with" if result.operator_ran else "without"
    simulated = _duration(result.end_seconds)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>podscaler — {_esc(scenario.name)}</title>
<style>{CSS}</style></head><body>
<h1>{_esc(scenario.name)}</h1>
<div class="sub">{_esc(scenario.description)}<br>{_esc(simulated)} simulated {_esc(when)},
seed {scenario.seed}, {operator_ran} the podscaler operator — {verdict}</div>
{note_html}
<div class="cards">{card_html}</div>
<ul class="asserts">{asserts}</ul>
{charts}
{_cluster_chart(timeline, start)}
{_queue_chart(timeline, start)}
<h2>Scaling events</h2>
<table><tr><th>time</th><th>object</th><th>what happened</th></tr>{rows}</table>
<p class="sub">Generated by podscaler from a simulated run. Hover the markers for details.</p>
</body></html>
"""


def write_report(result: RunResult, path: Path, *, notes: Sequence[str] = ()) -> Path:
    path.write_text(render_report(result, notes=notes), encoding="utf-8")
    return path
