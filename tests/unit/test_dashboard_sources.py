"""The dashboards in ``grafana/`` are the rendering of their Python declarations, and every
series they query is one podscaler emits.

The emitted names come from the metric registries themselves (every family the operator can
register), so a metric renamed in the code, or a panel querying a metric nobody reports, fails
here without a Prometheus. That each query also returns data from a running operator is the
integration test's part (``tests/integration/grafana``).
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from podscaler.controllers.vertical.metrics import VerticalCollector
from podscaler.observability.dashboards import BOARDS, rendered_files
from podscaler.observability.dashboards.model import Board, QueryVariable
from podscaler.observability.metrics import OperatorMetrics
from podscaler.observability.nodemetrics import NodeAutoscalerMetrics
from podscaler.observability.proportionalmetrics import ProportionalMetrics

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w$:.])([A-Za-z_:][\w:]*)\s*(\()?")
_KEYWORDS = {"bool", "and", "or", "unless", "offset", "inf", "nan", "by", "without"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, aggregations, label names and
    keywords left out)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _NAME.finditer(text):
        name, call = match.groups()
        if call is None and name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def emitted() -> set[str]:
    """Every series name the operator's registries can expose."""
    registry = CollectorRegistry()
    OperatorMetrics(registry)
    NodeAutoscalerMetrics(registry)
    ProportionalMetrics(registry)
    # The vertical controllers report through a collector over their state; at rest (no
    # VerticalScaler yet) it still yields every family, which is all this reads.
    idle = SimpleNamespace(states={}, samples=0, ooms=0, passes=0, evictions=0, refused=0)
    registry.register(VerticalCollector(idle, idle))  # type: ignore[arg-type]
    names = set()
    for family in registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
        else:
            names.add(family.name)
    return names


def board_exprs(board: Board) -> list[tuple[str, str]]:
    found = []
    for var in board.variables:
        if isinstance(var, QueryVariable):
            selector = var.query.removeprefix("label_values(").rsplit(",", 1)[0]
            found.append((f"variable {var.name}", selector))
    for row in board.rows:
        for panel in row.panels:
            found += [(panel.title, target.expr) for target in panel.targets]
    return found


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le) "
        '(rate(a_bucket{x=~"$v", y="b(c)"}[$__rate_interval])))'
        " / on (job) group_left (z) max without (q) (b_total offset 5m) > bool 0 or vector(0)"
    )
    assert metric_names(expr) == {"a_bucket", "b_total"}
    assert metric_names('label_replace(c{n="1"}, "d", "$1", "e", "(.*)")') == {"c"}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_committed_dashboard_is_the_rendering_of_its_declaration(name: str) -> None:
    committed = (GRAFANA / name).read_text()
    assert committed == rendered_files()[name], (
        f"grafana/{name} differs from its declaration: run "
        "`python -m podscaler.observability.dashboards` and commit the result"
    )


def test_every_file_in_grafana_is_generated() -> None:
    assert {p.name for p in GRAFANA.glob("*.json")} == set(BOARDS)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_metric_a_dashboard_queries_is_emitted(name: str) -> None:
    known = emitted()
    unknown = {
        (where, metric)
        for where, expr in board_exprs(BOARDS[name])
        for metric in metric_names(expr)
        if metric not in known
    }
    assert not unknown, f"queried but never emitted: {sorted(unknown)}"


def test_every_dashboard_queries_something() -> None:
    for board in BOARDS.values():
        assert any(metric_names(expr) for _, expr in board_exprs(board)), board.uid


def test_uids_are_stable_and_distinct() -> None:
    uids = {name: board.uid for name, board in BOARDS.items()}
    assert len(set(uids.values())) == len(uids)
    # Links and bookmarks point at these; changing one breaks every user's.
    assert uids["podscaler.json"] == "podscaler"
    assert uids["keda-compatible.json"] == "podscaler-keda"
