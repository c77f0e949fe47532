"""SVG charts for the report: one time axis, drawn from samples, with nothing fetched.

Every chart of a report shares the run's time axis, so a line in one lines up with a line in
the one above. Axes are sized to the data: whole-number axes (replicas, nodes) get whole ticks
and a top just above the largest value; a reference line (a target, a bound) is kept on the
axis only when it is near the data, otherwise the legend says where it is. Values above the
top are drawn at the top (and their hover text says so).

Long series are drawn from the minimum and maximum of each pixel column (plus its first and
last sample), so a spike of one tick survives a day of samples. Coordinates are rounded to a
tenth of a pixel and element ids are numbered per chart, so the same samples give the same
bytes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

__all__ = ["Chart", "legend", "nice_axis"]

WIDTH = 960
LEFT, RIGHT, TOP, BOTTOM = 58, 78, 14, 30

#: Candidate tick steps (times a power of ten) for continuous axes.
_STEPS = (1.0, 2.0, 2.5, 5.0)
_TIME_STEPS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def nice_axis(largest: float, *, whole: bool = False, intervals: int = 6) -> tuple[float, float]:
    """(top, step) of an axis from zero that shows ``largest`` with at most ``intervals``
    gridlines, the top the first tick at or above it (at least 1)."""
    largest = max(largest, 1.0) if math.isfinite(largest) else 1.0
    exponent = math.floor(math.log10(largest / intervals))
    for power in (exponent - 1, exponent, exponent + 1, exponent + 2):
        for step in _STEPS:
            size = step * 10.0**power
            if whole and (size < 1 or size != int(size)):
                continue
            if math.ceil(largest / size - 1e-9) <= intervals:
                return math.ceil(largest / size - 1e-9) * size, size
    return largest, largest / intervals


def _label(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:.3g}"


def _clock(seconds: float, start: datetime | None) -> str:
    if start is not None:
        return (start + timedelta(seconds=seconds)).strftime("%H:%M")
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}"


class Chart:
    """One chart: a time axis, a left value axis, and what is drawn on them, in order."""

    def __init__(
        self,
        t0: float,
        t1: float,
        start: datetime | None,
        *,
        ident: str,
        height: int = 220,
        top: float = 1.0,
        step: float = 0.2,
    ) -> None:
        #: unique in the page: clip paths are found by id across all of its SVGs
        self.ident = ident
        self.t0 = t0
        self.t1 = t1 if t1 > t0 else t0 + 1.0
        self.start = start
        self.height = height
        self.top = top
        self.step = step
        self.parts: list[str] = []
        self._ids = 0
        self._labels: list[tuple[float, str, str]] = []

    # ------------------------------------------------------------------ geometry

    @property
    def plot_width(self) -> float:
        return WIDTH - LEFT - RIGHT

    def x(self, seconds: float) -> float:
        return LEFT + (seconds - self.t0) / (self.t1 - self.t0) * self.plot_width

    def y(self, value: float) -> float:
        value = min(max(value, 0.0), self.top)
        return self.height - BOTTOM - value / self.top * (self.height - TOP - BOTTOM)

    def when(self, seconds: float) -> str:
        return _clock(seconds, self.start)

    # ------------------------------------------------------------------ axes

    def axes(self, label: str) -> None:
        parts = self.parts
        ticks = round(self.top / self.step)
        for k in range(ticks + 1):
            value = self.step * k
            y = self.y(value)
            parts.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                'stroke="#ececec"/>'
            )
            parts.append(
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                f'fill="#666">{_label(value)}</text>'
            )
        middle = (self.height - BOTTOM + TOP) / 2
        parts.append(
            f'<text x="14" y="{middle:.0f}" font-size="11" fill="#666" '
            f'transform="rotate(-90 14 {middle:.0f})" text-anchor="middle">{esc(label)}</text>'
        )
        span = self.t1 - self.t0
        step = next((s for s in _TIME_STEPS if span / s <= 12), 86400 * 7)
        tick = math.ceil(self.t0 / step) * step
        while tick <= self.t1 + 1e-6:
            x = self.x(tick)
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{self.height - BOTTOM}" '
                'stroke="#f3f3f3"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{self.height - BOTTOM + 16}" text-anchor="middle" '
                f'font-size="11" fill="#666">{esc(self.when(tick))}</text>'
            )
            tick += step

    # ------------------------------------------------------------------ shapes

    def band(self, t0: float, t1: float, color: str, opacity: float, title: str) -> None:
        """A shaded stretch of time, the plot's full height."""
        x0, x1 = self.x(t0), self.x(max(t1, t0))
        self.parts.append(
            f'<rect x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 1.0):.1f}" '
            f'height="{self.height - TOP - BOTTOM}" fill="{color}" fill-opacity="{opacity}">'
            f"<title>{esc(title)}</title></rect>"
        )

    def hline(self, value: float, color: str, label: str, *, role: str, dash: str = "6 4") -> None:
        """A reference line across the plot, labelled at its right end. ``role`` and the value
        are kept as ``data-line``/``data-value`` attributes, for tests and tools."""
        y = self.y(value)
        self.parts.append(
            f'<line data-line="{esc(role)}" data-value="{value:g}" x1="{LEFT}" '
            f'x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
            f'stroke-width="1.5" stroke-dasharray="{dash}"><title>{esc(label)}</title></line>'
        )
        self._labels.append((y, color, label))

    def _label_parts(self) -> list[str]:
        """The reference lines' labels at the right edge, in the lines' order, moved apart
        where lines are close (pushed down, then the block back up into the plot)."""
        gap, low = 11.5, self.height - BOTTOM + 2.0
        placed = sorted(self._labels, key=lambda item: item[0])
        spots = [y for y, _, _ in placed]
        for i in range(1, len(spots)):
            spots[i] = max(spots[i], spots[i - 1] + gap)
        for i in range(len(spots) - 1, -1, -1):
            ceiling = low if i == len(spots) - 1 else spots[i + 1] - gap
            spots[i] = min(spots[i], ceiling)
        return [
            f'<text x="{WIDTH - RIGHT + 5}" y="{spot + 4:.1f}" font-size="11" '
            f'fill="{color}">{esc(label)}</text>'
            for spot, (_, color, label) in zip(spots, placed, strict=True)
        ]

    def _keep(self, times: Sequence[float], values: Sequence[float | None]) -> list[int]:
        """Indices worth drawing: per pixel column its first, last, lowest and highest."""
        n = len(times)
        if n <= 2 * self.plot_width:
            return list(range(n))
        keep: list[int] = []
        column = -1
        members: list[int] = []

        def flush() -> None:
            present = [i for i in members if values[i] is not None]
            chosen = {members[0], members[-1]}
            if present:
                chosen.add(min(present, key=lambda i: values[i] or 0.0))
                chosen.add(max(present, key=lambda i: values[i] or 0.0))
            keep.extend(sorted(chosen))

        for i in range(n):
            here = int(self.x(times[i]))
            if here != column and members:
                flush()
                members = []
            column = here
            members.append(i)
        if members:
            flush()
        return keep

    def _runs(
        self, times: Sequence[float], values: Sequence[float | None], *, step: bool
    ) -> list[list[tuple[float, float]]]:
        """Point lists of the drawable stretches (a None value breaks the line)."""
        runs: list[list[tuple[float, float]]] = []
        points: list[tuple[float, float]] = []
        for i in self._keep(times, values):
            value = values[i]
            if value is None:
                if points:
                    runs.append(points)
                points = []
                continue
            x, y = self.x(times[i]), self.y(value)
            if step and points:
                points.append((x, points[-1][1]))
            points.append((x, y))
        if points:
            runs.append(points)
        return runs

    def series(
        self,
        times: Sequence[float],
        values: Sequence[float | None],
        color: str,
        title: str,
        *,
        step: bool = True,
        width: float = 2.0,
        dash: str = "",
        fill: float = 0.0,
    ) -> None:
        """A line through the samples (a step line by default), optionally filled below."""
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        base = self.y(0.0)
        for points in self._runs(times, values, step=step):
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            if fill:
                self.parts.append(
                    f'<polygon points="{points[0][0]:.1f},{base:.1f} {path} '
                    f'{points[-1][0]:.1f},{base:.1f}" fill="{color}" fill-opacity="{fill}" '
                    'stroke="none"/>'
                )
            self.parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" '
                f'stroke-width="{width}" stroke-linejoin="round"{dashing}>'
                f"<title>{esc(title)}</title></polyline>"
            )

    def split_fill(
        self,
        times: Sequence[float],
        values: Sequence[float | None],
        threshold: float,
        above: str,
        below: str,
    ) -> None:
        """Fill between the line and ``threshold``: ``above`` where the values exceed it,
        ``below`` where they fall short (the two halves of one area, clipped at the line)."""
        y_line = self.y(threshold)
        for color, (y0, y1) in (
            (above, (TOP, y_line)),
            (below, (y_line, self.height - BOTTOM)),
        ):
            if y1 - y0 < 0.05:
                continue
            self._ids += 1
            clip = f"{self.ident}-clip{self._ids}"
            self.parts.append(
                f'<clipPath id="{clip}"><rect x="{LEFT}" y="{y0:.1f}" '
                f'width="{self.plot_width:.1f}" height="{y1 - y0:.1f}"/></clipPath>'
            )
            for points in self._runs(times, values, step=True):
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                self.parts.append(
                    f'<polygon clip-path="url(#{clip})" points="{points[0][0]:.1f},'
                    f'{y_line:.1f} {path} {points[-1][0]:.1f},{y_line:.1f}" fill="{color}" '
                    'fill-opacity="0.22" stroke="none"/>'
                )

    def marker(self, seconds: float, value: float, shape: str, color: str, title: str) -> None:
        """``up`` / ``down`` triangle or ``diamond`` at (time, value), with hover text."""
        x, y = self.x(seconds), self.y(value)
        if shape == "up":
            points = f"{x:.1f},{y - 6:.1f} {x - 5:.1f},{y + 3:.1f} {x + 5:.1f},{y + 3:.1f}"
        elif shape == "down":
            points = f"{x:.1f},{y + 6:.1f} {x - 5:.1f},{y - 3:.1f} {x + 5:.1f},{y - 3:.1f}"
        else:
            points = (
                f"{x:.1f},{y - 5:.1f} {x - 4:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x + 4:.1f},{y:.1f}"
            )
        self.parts.append(
            f'<polygon data-marker="{shape}" points="{points}" fill="{color}" stroke="#fff" '
            f'stroke-width="0.8"><title>{esc(title)}</title></polygon>'
        )

    def svg(self, label: str, panel: str) -> str:
        """The chart; ``panel`` (``why``, ``what``, ``capacity``, …) becomes ``data-panel``."""
        body = "\n".join([*self.parts, *self._label_parts()])
        return (
            f'<svg data-panel="{esc(panel)}" viewBox="0 0 {WIDTH} {self.height}" width="100%" '
            f'role="img" aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg">'
            f"{body}</svg>"
        )


def _glyph(kind: str, color: str) -> str:
    """A legend sample, drawn the way the chart draws the item."""
    if kind in ("up", "down", "diamond"):
        shape = {
            "up": "9,1 4,10 14,10",
            "down": "9,10 4,1 14,1",
            "diamond": "9,0 5,5.5 9,11 13,5.5",
        }[kind]
        inner = f'<polygon points="{shape}" fill="{color}"/>'
    elif kind == "band":
        inner = f'<rect x="1" y="0" width="16" height="11" fill="{color}" fill-opacity="0.3"/>'
    elif kind == "area":
        inner = (
            f'<rect x="1" y="3" width="16" height="8" fill="{color}" fill-opacity="0.25"/>'
            f'<line x1="1" x2="17" y1="3" y2="3" stroke="{color}" stroke-width="2"/>'
        )
    else:
        dash = {"dashed": ' stroke-dasharray="4 3"', "dotted": ' stroke-dasharray="1.5 2.5"'}
        inner = (
            f'<line x1="1" x2="17" y1="5.5" y2="5.5" stroke="{color}" stroke-width="2.2"'
            f"{dash.get(kind, '')}/>"
        )
    return f'<svg width="18" height="11" aria-hidden="true">{inner}</svg>'


def legend(items: Sequence[tuple[str, str, str]]) -> str:
    """A legend row: (kind, color, text) per item; kind is ``line``, ``dashed``, ``dotted``,
    ``area``, ``band``, ``up``, ``down`` or ``diamond``."""
    spans = "".join(
        f'<span class="key">{_glyph(kind, color)} {esc(text)}</span>' for kind, color, text in items
    )
    return f'<div class="legend">{spans}</div>'
