"""Grafana dashboards declared as data: panels, rows, variables, rendered to Grafana's JSON.

Why a model instead of hand-edited JSON: every podscaler dashboard shares the same datasource
variable, the same per-type panel settings (legends as tables, multi tooltips, thresholds on
stats) and the same namespace-label handling; declared once here, a dashboard module only says
what is specific to it — titles, descriptions, queries, units — and the layout (ids, grid
positions) is computed. ``grafana/*.json`` is this module's output, committed and checked equal
to a fresh generation by a test (``python -m podscaler.observability.dashboards`` writes it).

The JSON is what Grafana 10/11 exports for schema version 39, so the files import unchanged
and a diff after an edit in Grafana's UI shows only what was changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "DATASOURCE",
    "Board",
    "Column",
    "Panel",
    "QueryVariable",
    "Row",
    "Target",
    "choice",
    "datasource_variable",
    "stat",
    "table",
    "timeseries",
]

#: Every panel and target asks the datasource the ``datasource`` variable names.
DATASOURCE: Final = {"type": "prometheus", "uid": "${datasource}"}
#: Grafana's grid is 24 columns wide.
GRID_WIDTH: Final = 24
#: The value mapping of a 0/1 series.
YES_NO: Final = {
    "options": {
        "0": {"color": "text", "index": 0, "text": "no"},
        "1": {"color": "green", "index": 1, "text": "yes"},
    },
    "type": "value",
}
SCHEMA_VERSION: Final = 39

Kind = Literal["stat", "timeseries", "table"]


@dataclass(frozen=True)
class Target:
    """One query of a panel; *legend* is Grafana's legend format (``{{label}}``)."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Column:
    """One column of a table panel: its header, its query, and a unit when not the table's."""

    name: str
    expr: str
    unit: str | None = None


@dataclass(frozen=True)
class Panel:
    """A stat, timeseries or table panel. Use :func:`stat`, :func:`timeseries`, :func:`table`."""

    kind: Kind
    title: str
    description: str
    targets: tuple[Target, ...]
    unit: str
    width: int
    height: int
    minimum: float | None = None
    maximum: float | None = None
    decimals: int | None = None
    #: (color, from value) steps of a stat; the first starts at None (minus infinity).
    thresholds: tuple[tuple[str, float | None], ...] = (("green", None),)
    #: A timeseries of counts or states is drawn in steps; rates and values as lines.
    steps: bool = False
    stacked: bool = False
    #: A 0/1 series shown as no/yes in legends and tooltips.
    yes_no: bool = False
    columns: tuple[Column, ...] = ()


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class QueryVariable:
    """A variable filled from ``label_values(...)``; "All" selected by default when *multi*."""

    name: str
    label: str
    query: str
    multi: bool = True


@dataclass(frozen=True)
class CustomVariable:
    """A variable with fixed options; the first is the default."""

    name: str
    label: str
    options: tuple[str, ...]
    description: str = ""


Variable = QueryVariable | CustomVariable


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    description: str
    tags: tuple[str, ...]
    variables: tuple[Variable, ...]
    rows: tuple[Row, ...]
    #: The file under ``grafana/``.
    filename: str = ""
    refresh: str = "30s"
    time_from: str = "now-1h"
    links: tuple[dict[str, Any], ...] = field(default=())


# ------------------------------------------------------------------------------ constructors


def stat(
    title: str,
    expr: str,
    description: str,
    *,
    unit: str = "none",
    decimals: int | None = 0,
    thresholds: Sequence[tuple[str, float | None]] = (("green", None),),
    width: int = 4,
    height: int = 4,
) -> Panel:
    """A single number: the last value of *expr*, coloured by *thresholds*."""
    return Panel(
        "stat",
        title,
        description,
        (Target(expr),),
        unit,
        width,
        height,
        decimals=decimals,
        thresholds=tuple(thresholds),
    )


def timeseries(
    title: str,
    description: str,
    *targets: Target,
    unit: str,
    width: int = 12,
    height: int = 8,
    minimum: float | None = 0,
    maximum: float | None = None,
    decimals: int | None = None,
    steps: bool = False,
    stacked: bool = False,
    yes_no: bool = False,
) -> Panel:
    return Panel(
        "timeseries",
        title,
        description,
        tuple(targets),
        unit,
        width,
        height,
        minimum=minimum,
        maximum=maximum,
        decimals=decimals,
        steps=steps,
        stacked=stacked,
        yes_no=yes_no,
    )


def table(
    title: str,
    description: str,
    *columns: Column,
    unit: str = "none",
    width: int = 12,
    height: int = 8,
) -> Panel:
    """One row per series, one column per query (merged on their labels)."""
    return Panel(
        "table",
        title,
        description,
        tuple(Target(c.expr) for c in columns),
        unit,
        width,
        height,
        columns=tuple(columns),
    )


def choice(name: str, label: str, options: Sequence[str], description: str = "") -> CustomVariable:
    return CustomVariable(name, label, tuple(options), description)


def datasource_variable() -> dict[str, Any]:
    return {
        "current": {},
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": "datasource",
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "type": "datasource",
    }


# ------------------------------------------------------------------------------ rendering


def render(board: Board) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model."""
    panels: list[dict[str, Any]] = []
    y = 0
    for row in board.rows:
        panels.append(_row(row, len(panels) + 1, y))
        y += 1
        x, line_height = 0, 0
        for panel in row.panels:
            if x + panel.width > GRID_WIDTH:
                x, y, line_height = 0, y + line_height, 0
            pos = {"h": panel.height, "w": panel.width, "x": x, "y": y}
            panels.append(_panel(panel, len(panels) + 1, pos))
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": board.description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [dict(link) for link in board.links],
        "panels": panels,
        "refresh": board.refresh,
        "schemaVersion": SCHEMA_VERSION,
        "tags": list(board.tags),
        "templating": {"list": [datasource_variable(), *(_variable(v) for v in board.variables)]},
        "time": {"from": board.time_from, "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": board.title,
        "uid": board.uid,
        "version": 1,
        "weekStart": "",
    }


def _row(row: Row, panel_id: int, y: int) -> dict[str, Any]:
    return {
        "collapsed": False,
        "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
        "id": panel_id,
        "panels": [],
        "title": row.title,
        "type": "row",
    }


def _variable(var: Variable) -> dict[str, Any]:
    if isinstance(var, CustomVariable):
        first = var.options[0]
        return {
            "current": {"selected": True, "text": first, "value": first},
            "description": var.description,
            "hide": 0,
            "includeAll": False,
            "label": var.label,
            "multi": False,
            "name": var.name,
            "options": [
                {"selected": option == first, "text": option, "value": option}
                for option in var.options
            ],
            "query": ",".join(var.options),
            "skipUrlSync": False,
            "type": "custom",
        }
    current: dict[str, Any] = (
        {"selected": True, "text": ["All"], "value": ["$__all"]} if var.multi else {}
    )
    return {
        "current": current,
        "datasource": dict(DATASOURCE),
        "definition": var.query,
        "description": "",
        "hide": 0,
        "includeAll": var.multi,
        "label": var.label,
        "multi": var.multi,
        "name": var.name,
        "options": [],
        "query": {"query": var.query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "type": "query",
    }


def _ref(index: int) -> str:
    return chr(ord("A") + index)


def _target(target: Target, index: int, kind: Kind) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "datasource": dict(DATASOURCE),
        "editorMode": "code",
        "expr": target.expr,
        "legendFormat": target.legend,
        "refId": _ref(index),
    }
    if kind == "timeseries":
        rendered.update(instant=False, range=True)
    else:
        rendered.update(
            instant=True, range=False, format="table" if kind == "table" else "time_series"
        )
    return rendered


def _defaults(panel: Panel) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    if panel.kind == "stat":
        defaults["color"] = {"mode": "thresholds"}
    elif panel.kind == "timeseries":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {
            "axisLabel": "",
            "axisPlacement": "auto",
            "drawStyle": "line",
            "fillOpacity": 20 if panel.stacked else 10,
            "gradientMode": "none",
            "lineInterpolation": "stepAfter" if panel.steps else "linear",
            "lineWidth": 1,
            "pointSize": 4,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"group": "A", "mode": "normal" if panel.stacked else "none"},
            "thresholdsStyle": {"mode": "off"},
        }
    else:
        defaults["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}}
    defaults["mappings"] = [YES_NO] if panel.yes_no else []
    if panel.kind == "stat":
        defaults["thresholds"] = {
            "mode": "absolute",
            "steps": [{"color": color, "value": value} for color, value in panel.thresholds],
        }
    defaults["unit"] = panel.unit
    for key, value in (("min", panel.minimum), ("max", panel.maximum)):
        if value is not None and panel.kind == "timeseries":
            defaults[key] = value
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    return defaults


def _options(panel: Panel) -> dict[str, Any]:
    if panel.kind == "stat":
        return {
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
        }
    if panel.kind == "timeseries":
        return {
            "legend": {
                "calcs": ["lastNotNull", "max"],
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    return {"cellHeight": "sm", "showHeader": True, "footer": {"show": False}}


def _panel(panel: Panel, panel_id: int, pos: dict[str, int]) -> dict[str, Any]:
    overrides = [
        {
            "matcher": {"id": "byName", "options": column.name},
            "properties": [{"id": "unit", "value": column.unit}],
        }
        for column in panel.columns
        if column.unit is not None
    ]
    rendered: dict[str, Any] = {
        "datasource": dict(DATASOURCE),
        "description": panel.description,
        "fieldConfig": {"defaults": _defaults(panel), "overrides": overrides},
        "gridPos": pos,
        "id": panel_id,
        "options": _options(panel),
        "targets": [_target(t, i, panel.kind) for i, t in enumerate(panel.targets)],
        "title": panel.title,
    }
    if panel.kind == "table":
        rendered["transformations"] = [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": {},
                    "renameByName": {
                        f"Value #{_ref(i)}": column.name for i, column in enumerate(panel.columns)
                    },
                },
            },
        ]
    rendered["type"] = panel.kind
    return rendered
