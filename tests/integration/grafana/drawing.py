"""Draw a dashboard's panels from the answers Prometheus gave to their queries, and take a
PNG of it with headless Chromium.

No Grafana is obtainable here, so this is not Grafana's rendering: a page laid out on the
dashboard's own grid (24 columns, ``gridPos``), each timeseries panel an SVG with one line per
series Prometheus returned, each stat its last value, each table its rows. What it proves is
what a person looking at the PNG checks: which panels have data, what shape it has, and that
titles, legends and layout read sensibly. Nothing here is invented: every line is a series
from the range query the panel runs.
"""

from __future__ import annotations

import html
import math
import re
import struct
import subprocess
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Pixels per grid column and per grid row unit (Grafana's grid is 24 columns of ~30 px rows).
COLUMN, ROW = 60, 30
PALETTE = ("#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#fade2a")
LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass
class Series:
    legend: str
    points: list[tuple[float, float]]


@dataclass
class PanelData:
    """What one panel's queries returned."""

    panel: dict[str, Any]
    series: list[Series] = field(default_factory=list)
    #: Instant answers (stat, table): (labels, value) per series.
    rows: list[tuple[dict[str, str], float]] = field(default_factory=list)


def legend_of(template: str, labels: dict[str, str]) -> str:
    if not template:
        return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"
    return LEGEND.sub(lambda m: labels.get(m.group(1), ""), template)


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "NaN"
    suffix = {"s": " s", "cps": "/s", "ops": " ops/s", "wps": " wps", "percentunit": ""}.get(
        unit, ""
    )
    if unit == "percentunit":
        return f"{value * 100:.1f}%"
    if abs(value) >= 1000:
        return f"{value:,.0f}{suffix}"
    return f"{value:.3g}{suffix}"


def _timeseries(data: PanelData, width: int, height: int) -> str:
    plot_w, plot_h = width - 60, height - 70
    points = [p for s in data.series for p in s.points if math.isfinite(p[1])]
    if not points:
        return '<div class="empty">No data</div>'
    times = [t for t, _ in points]
    values = [v for _, v in points]
    t0, t1 = min(times), max(times)
    low = min(0.0, min(values))
    high = max(values)
    if high <= low:
        high = low + 1
    span_t = (t1 - t0) or 1.0

    def xy(t: float, v: float) -> str:
        x = 50 + (t - t0) / span_t * plot_w
        y = 8 + plot_h - (v - low) / (high - low) * plot_h
        return f"{x:.1f},{y:.1f}"

    unit = data.panel["fieldConfig"]["defaults"].get("unit", "")
    parts = [
        f'<svg width="{width}" height="{plot_h + 20}">',
        f'<line x1="50" y1="8" x2="50" y2="{8 + plot_h}" class="axis"/>',
        f'<line x1="50" y1="{8 + plot_h}" x2="{50 + plot_w}" y2="{8 + plot_h}" class="axis"/>',
        f'<text x="46" y="16" class="tick">{html.escape(_number(high, unit))}</text>',
        f'<text x="46" y="{8 + plot_h}" class="tick">{html.escape(_number(low, unit))}</text>',
    ]
    for index, series in enumerate(data.series):
        finite = [(t, v) for t, v in series.points if math.isfinite(v)]
        if not finite:
            continue
        color = PALETTE[index % len(PALETTE)]
        drawn = " ".join(xy(t, v) for t, v in finite)
        parts.append(f'<polyline points="{drawn}" stroke="{color}" class="line"/>')
    parts.append("</svg>")
    legend = "".join(
        f'<span style="color:{PALETTE[i % len(PALETTE)]}">&#9632;</span> '
        f"{html.escape(s.legend)} &nbsp;"
        for i, s in enumerate(data.series[:8])
    )
    more = f" (+{len(data.series) - 8} more)" if len(data.series) > 8 else ""
    return "".join(parts) + f'<div class="legend">{legend}{more}</div>'


def _stat(data: PanelData) -> str:
    if not data.rows:
        return '<div class="empty">No data</div>'
    unit = data.panel["fieldConfig"]["defaults"].get("unit", "")
    return f'<div class="stat">{html.escape(_number(data.rows[0][1], unit))}</div>'


def _table(data: PanelData) -> str:
    if not data.rows:
        return '<div class="empty">No data</div>'
    cells = "".join(
        "<tr><td>"
        + html.escape(", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
        + f"</td><td>{value:.3g}</td></tr>"
        for labels, value in data.rows[:12]
    )
    return f"<table>{cells}</table>"


STYLE = """
body { margin: 0; background: #111217; color: #ccccdc; font: 12px sans-serif; }
.panel { position: absolute; box-sizing: border-box; border: 1px solid #2c3235;
         background: #181b1f; padding: 4px 6px; overflow: hidden; }
.row { position: absolute; font-weight: bold; font-size: 14px; padding: 6px; }
.title { font-weight: bold; margin-bottom: 4px; white-space: nowrap; }
.empty { color: #8e8e8e; text-align: center; padding-top: 20px; }
.stat { font-size: 32px; color: #73bf69; text-align: center; padding-top: 8px; }
.axis { stroke: #444; } .tick { fill: #8e8e8e; font-size: 10px; text-anchor: end; }
.line { fill: none; stroke-width: 1.5; } .legend { font-size: 10px; white-space: nowrap; }
table { font-size: 10px; border-collapse: collapse; } td { padding: 1px 4px; }
"""


def page(
    board: dict[str, Any], panels: list[PanelData], rows: list[dict[str, Any]]
) -> tuple[str, int]:
    """The dashboard as an HTML page on its own grid, and the page's height in pixels."""
    bottom = 0
    body = []
    for row in rows:
        pos = row["gridPos"]
        bottom = max(bottom, pos["y"] + pos["h"])
        body.append(
            f'<div class="row" style="left:0;top:{pos["y"] * ROW}px;width:{24 * COLUMN}px">'
            f"{html.escape(row['title'])}</div>"
        )
    for data in panels:
        pos = data.panel["gridPos"]
        bottom = max(bottom, pos["y"] + pos["h"])
        width, height = pos["w"] * COLUMN, pos["h"] * ROW
        kind = data.panel["type"]
        if kind == "timeseries":
            content = _timeseries(data, width, height)
        elif kind == "stat":
            content = _stat(data)
        else:
            content = _table(data)
        body.append(
            f'<div class="panel" style="left:{pos["x"] * COLUMN}px;top:{pos["y"] * ROW}px;'
            f'width:{width}px;height:{height}px">'
            f'<div class="title">{html.escape(data.panel["title"])}</div>{content}</div>'
        )
    title = html.escape(board["title"])
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body style='height:{bottom * ROW}px'>"
        + "".join(body)
        + "</body></html>"
    ), bottom * ROW


def screenshot(chromium: str, html_path: Path, png_path: Path, height: int) -> None:
    subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--window-size={24 * COLUMN},{height}", f"--screenshot={png_path}",
            html_path.as_uri(),
        ],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct pixel bytes of an 8-bit RGB(A) PNG (enough to
    tell a drawn page from a blank one without an imaging library)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    offset, idat = 8, b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            idat += data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    raw = zlib.decompress(idat)
    return width, height, len(set(raw))
