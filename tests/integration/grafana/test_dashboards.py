"""The Grafana dashboards in ``grafana/``: well-formed, and every query works on real data.

No Grafana is obtainable (TESTING.md), so the checks do what Grafana would:

* structure: valid JSON, unique panel ids, a ``${datasource}`` Prometheus datasource and
  targets on every panel, units on every timeseries and stat, every ``$variable`` defined
  before use;
* parsing: every expression, with its variables substituted, through ``promtool check rules``;
* execution: a real Prometheus scrapes a real ``podscaler run`` (``conftest.py``); each
  variable is resolved as Grafana would (``label_values`` through the label values API, "All"
  as ``(a|b)``), each target runs as Grafana runs it (range queries for timeseries, instant for
  stat and table) and must return a finite value in series carrying the labels its legend
  names. A metric or label renamed in the code therefore fails here. The queries of KEDA's own
  dashboard (``reference/keda.md`` §4.2) run the same way.
* pictures: with Chromium installed, each dashboard's panels are drawn from those answers on
  the dashboard's grid and saved as a PNG (``drawing.py``; in ``$PODSCALER_TEST_ARTIFACTS``
  when set, else the test's temporary directory, printed).

The scenario (``conftest.py``) has ScaledObjects, ProportionalScalers and the node autoscaler
on an Auto Scaling group in moto whose scale-up times out, and a predictive trigger, but no
scale-down (no node ever registers), no ScaledJob and no VerticalScaler. The panels
that are empty for that reason are listed in :data:`EMPTY_HERE` with the reason; their queries
still run (a variable without values is replaced by a match-anything regex), so one that errors
fails, and a listed panel that gains data fails too, so the list stays true.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import pytest

from podscaler.observability.dashboards import BOARDS
from tests.fixtures.servers import missing
from tests.integration.grafana import drawing
from tests.integration.grafana.conftest import ScrapedOperator

GRAFANA = Path(__file__).resolve().parents[3] / "grafana"
DASHBOARDS = tuple(BOARDS)

_NO_SCALE_DOWN = "no node registers in the scenario, so nothing is scaled down or drained"
_NO_JOBS = "the scenario has no ScaledJob"
_NO_VPA = (
    "the scenario has no VerticalScaler: a recommendation needs the usage of running pods "
    "(metrics.k8s.io), and nothing runs pods here (the recommender's and updater's counters "
    "have data)"
)
#: (dashboard, panel title or "*" for all, refId or "*") -> why it has no data here.
EMPTY_HERE: dict[tuple[str, str, str], str] = {
    ("nodes.json", "Scale-ups and scale-downs", "B"): _NO_SCALE_DOWN,
    ("nodes.json", "Evictions and errors", "A"): _NO_SCALE_DOWN,
    ("nodes.json", "Skipped scale events", "A"): (
        "the scenario sets no --cores-total/--memory-total limit to hit"
    ),
    ("overview.json", "ScaledJob errors", "A"): _NO_JOBS + " (reads 0 through `or vector(0)`)",
    **{
        ("vertical.json", panel, "*"): _NO_VPA
        for panel in (
            "variable namespace",
            "variable verticalScaler",
            "variable container",
            "Containers recommended",
            "CPU recommendation",
            "Memory recommendation",
            "Recommendations now",
        )
    },
    ("overview.json", "Errors by kind", "C"): _NO_JOBS,
}
#: What replaces a variable that has no values here, so its panels' queries still run.
MATCH_ANYTHING = ".*"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_TYPES = {"row", "timeseries", "stat", "table"}

#: What Grafana puts for its built-in variables; short windows, as Prometheus scrapes every
#: second here ($__rate_interval is at least four scrape intervals).
BUILTINS = {
    "__rate_interval": "10s",
    "__interval": "2s",
    "__interval_ms": "2000",
    "__range": "20s",
    "__range_s": "20",
    "__range_ms": "20000",
}
RANGE_SECONDS, STEP_SECONDS = 20, 2

#: ``$name``, ``${name}``, ``${name:format}``, ``[[name]]``. A numeric name (``$1`` in
#: ``label_replace``) is no variable: Grafana leaves it alone.
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")
LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+),\s*)?([\w${}]+)\s*\)\s*$", re.DOTALL)
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
OR_ZERO = " or vector(0)"

#: The queries of KEDA's "KEDA" dashboard over keda_* metrics, verbatim (reference/keda.md
#: §4.2), with the variables of keda-compatible.json (the same definitions as KEDA's). Its
#: replica panels query kube-state-metrics' HPA series, which podscaler has no part in.
KEDA_UPSTREAM = {
    "Scaler Total Errors": "sum by(job) (rate(keda_scaler_detail_errors_total{}[5m]))",
    "Scaler Errors": 'sum by(scaler) (rate(keda_scaler_detail_errors_total{exported_namespace=~"$namespace", scaledObject=~"$scaledObject", scaler=~"$scaler"}[5m]))',  # noqa: E501
    "Scaled Object Errors": 'sum by(scaledObject) (rate(keda_scaled_object_errors_total{exported_namespace=~"$namespace", scaledObject=~"$scaledObject"}[5m]))',  # noqa: E501
    "Scaler Metric Value": 'sum by(metric) (keda_scaler_metrics_value{exported_namespace=~"$namespace", metric=~"$metric", scaledObject=~"$scaledObject"})',  # noqa: E501
}


@dataclass(frozen=True)
class Query:
    """One target of one panel."""

    dashboard: str
    panel: str
    ref: str
    expr: str
    legend: str
    instant: bool

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} [{self.ref}]"


def load(name: str) -> dict[str, Any]:
    board: dict[str, Any] = json.loads((GRAFANA / name).read_text())
    return board


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def variables(board: dict[str, Any]) -> list[dict[str, Any]]:
    return list(board.get("templating", {}).get("list", []))


def variable_query(var: dict[str, Any]) -> str:
    query = var.get("query")
    return str(query.get("query", "")) if isinstance(query, dict) else str(query or "")


def queries(name: str, board: dict[str, Any]) -> list[Query]:
    found = []
    for panel in panels(board):
        if panel.get("type") == "row":
            continue
        for target in panel.get("targets", []):
            instant = bool(target.get("instant")) and not target.get("range")
            found.append(
                Query(
                    name,
                    str(panel.get("title")),
                    str(target.get("refId")),
                    str(target.get("expr", "")),
                    str(target.get("legendFormat", "")),
                    instant,
                )
            )
    return found


def used_names(text: str) -> set[str]:
    names = {next(g for g in m.groups() if g) for m in VARIABLE.finditer(text)}
    return {n for n in names if not n.isdigit()}


def substitute(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        return values.get(name, BUILTINS.get(name, match.group(0)))

    return VARIABLE.sub(one, text)


def formatted(var: dict[str, Any], found: list[str]) -> str:
    """A variable's value as Grafana puts it into a Prometheus query: "All" (the dashboards'
    default) becomes a regex of every value."""
    if var.get("includeAll") or var.get("multi"):
        return found[0] if len(found) == 1 else "(" + "|".join(found) + ")"
    return found[0]


# ------------------------------------------------------------------------------ structure


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_structure(name: str) -> None:
    board = load(name)
    assert board["title"]
    assert board["uid"]
    assert board["schemaVersion"] >= 36
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(ids)}"
    titles = [panel["title"] for panel in panels(board) if panel["type"] != "row"]
    assert len(titles) == len(set(titles)), f"duplicate panel titles: {sorted(titles)}"
    for panel in panels(board):
        title = panel.get("title")
        assert title, panel
        assert panel["type"] in PANEL_TYPES, (title, panel["type"])
        pos = panel["gridPos"]
        assert pos["w"] > 0, (title, pos)
        assert pos["h"] > 0, (title, pos)
        assert pos["x"] + pos["w"] <= 24, (title, pos)
        if panel["type"] == "row":
            continue
        assert panel.get("datasource") == DATASOURCE, title
        targets = panel.get("targets")
        assert targets, f"{title}: no targets"
        refs = [target["refId"] for target in targets]
        assert len(refs) == len(set(refs)), f"{title}: duplicate refIds {refs}"
        for target in targets:
            assert target.get("datasource") == DATASOURCE, (title, target["refId"])
            assert target.get("expr", "").strip(), (title, target["refId"])
        if panel["type"] in ("timeseries", "stat"):
            assert panel["fieldConfig"]["defaults"].get("unit"), f"{title}: no unit"


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_variable_is_defined_before_use(name: str) -> None:
    board = load(name)
    defined: set[str] = set()
    datasource = [v for v in variables(board) if v["type"] == "datasource"]
    assert datasource, "no datasource variable"
    assert datasource[0]["name"] == "datasource"
    assert datasource[0]["query"] == "prometheus"
    for var in variables(board):
        unknown = used_names(variable_query(var)) - defined - BUILTINS.keys()
        assert not unknown, f"variable {var['name']} uses {unknown} before their definition"
        if var["type"] == "query":
            assert var.get("datasource") == DATASOURCE, var["name"]
            assert LABEL_VALUES.match(variable_query(var)), var["name"]
        defined.add(var["name"])
    for panel in panels(board):
        texts = [str(panel.get("title", ""))]
        texts += [
            str(t.get(k, "")) for t in panel.get("targets", []) for k in ("expr", "legendFormat")
        ]
        for text in texts:
            unknown = used_names(text) - defined - BUILTINS.keys()
            assert not unknown, f"{panel.get('title')}: undefined {unknown} in {text!r}"


def test_dashboards_have_distinct_uids() -> None:
    uids = [load(name)["uid"] for name in DASHBOARDS]
    assert len(uids) == len(set(uids))


# ------------------------------------------------------------------------------ parsing


def test_every_expression_parses_with_promtool(tmp_path: Path) -> None:
    """``promtool check rules`` with each expression as a recording rule (one group each, so
    an error names its panel), every variable replaced by one of its possible values."""
    promtool = shutil.which("promtool")
    if promtool is None:
        missing("promtool not installed (apt-get install prometheus)")
    groups: list[dict[str, Any]] = []

    def add(label: str, expr: str, values: dict[str, str]) -> None:
        record = f"grafana:check_{len(groups)}"
        rule = {"record": record, "expr": substitute(expr, values)}
        groups.append({"name": f"#{len(groups)} {label}", "rules": [rule]})

    for name in DASHBOARDS:
        board = load(name)
        for values in _placeholder_assignments(board):
            suffix = ", ".join(f"{k}={v}" for k, v in values.items())
            for var in variables(board):
                match = LABEL_VALUES.match(variable_query(var))
                if match and match.group(1):
                    add(f"{name} / variable {var['name']} ({suffix})", match.group(1), values)
            for query in queries(name, board):
                add(f"{query} ({suffix})", query.expr, values)
    keda_values = dict.fromkeys(("namespace", "scaledObject", "scaler", "metric"), "(a|b)")
    for title, expr in KEDA_UPSTREAM.items():
        add(f"KEDA upstream / {title}", expr, keda_values)
    rules = tmp_path / "dashboards.rules.yml"
    rules.write_text(json.dumps({"groups": groups}, indent=1))  # YAML is a superset of JSON
    checked = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(groups)} rules found" in checked.stdout


def _placeholder_assignments(board: dict[str, Any]) -> list[dict[str, str]]:
    """Every combination of the custom variables' options; query variables as a two-value
    regex (what "All" gives) or a single value."""
    fixed: dict[str, str] = {}
    options: dict[str, list[str]] = {}
    for var in variables(board):
        if var["type"] == "custom":
            options[var["name"]] = [o.strip() for o in variable_query(var).split(",")]
        elif var["type"] == "query":
            fixed[var["name"]] = formatted(var, ["a", "b"])
    names = list(options)
    return [
        {**fixed, **dict(zip(names, combo, strict=True))}
        for combo in product(*(options[n] for n in names))
    ] or [fixed]


# ------------------------------------------------------------------------------ execution


def _why_empty(dashboard: str, panel: str, ref: str) -> str | None:
    for key in ((dashboard, panel, ref), (dashboard, panel, "*"), (dashboard, "*", "*")):
        if key in EMPTY_HERE:
            return EMPTY_HERE[key]
    return None


async def test_every_expression_returns_data_from_a_scraped_operator(
    scraped_operator: ScrapedOperator, tmp_path: Path
) -> None:
    """Polls until every query of every dashboard (and KEDA's) answers as it should — the
    first scrape lands seconds after Prometheus starts — and fails listing those that never
    did. The queries of :data:`EMPTY_HERE` run too and must return nothing, without error."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 40
    while True:
        problems: list[str] = []
        empty: dict[tuple[str, str, str], str] = {}
        for name in DASHBOARDS:
            for (panel, ref), problem in (await _problems(scraped_operator, name)).items():
                if _why_empty(name, panel, ref) is not None and problem.endswith(": no data"):
                    empty[(name, panel, ref)] = problem
                else:
                    problems.append(problem)
        if not problems:
            break
        if loop.time() > deadline:
            pytest.fail("dashboard queries without data:\n" + "\n".join(problems))
        await asyncio.sleep(1)
    print("\nempty in this scenario:")  # shown with -s; the reasons are EMPTY_HERE's
    for name, panel, ref in sorted(empty):
        print(f"  {name} / {panel} [{ref}]: {_why_empty(name, panel, ref)}")
    for key in EMPTY_HERE:
        assert any(_matches(key, seen) for seen in empty), f"{key} has data now: unlist it"

    # The same operator's /debug/status (``podscaler status``) tells what the nodes panels show.
    async with scraped_operator.session.get(f"{scraped_operator.endpoint}/debug/status") as got:
        status = await got.json()
    (group,) = status["nodes"]["groups"]
    assert (group["name"], group["min"], group["max"], group["registered"]) == ("workers", 0, 3, 0)
    assert group["backoff"]
    assert status["objects"]["ScaledObject"]["total"] == 5
    assert status["objects"]["ProportionalScaler"]["notReady"] == 1

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is not None:
        artifacts = Path(os.environ.get("PODSCALER_TEST_ARTIFACTS") or tmp_path) / "dashboards"
        artifacts.mkdir(parents=True, exist_ok=True)
        for name in DASHBOARDS:
            png = await _draw(scraped_operator, name, chromium, artifacts)
            print(f"  drew {png}")


async def _draw(prometheus: ScrapedOperator, name: str, chromium: str, out: Path) -> Path:
    """The dashboard drawn from what its queries return now, as a PNG; checks that every panel
    with data got its lines, value or rows, and that the picture is not blank."""
    board = load(name)
    values = (await _assignments(prometheus, name, board, {}))[0]
    drawn: list[drawing.PanelData] = []
    now = int(time.time())
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        data = drawing.PanelData(panel)
        for target in panel["targets"]:
            expr = substitute(target["expr"], values)
            if panel["type"] == "timeseries":
                params = {
                    "query": expr,
                    "start": str(now - 120),
                    "end": str(now),
                    "step": str(STEP_SECONDS),
                }
                answer = await prometheus.api("/api/v1/query_range", params)
                for series in answer["result"]:
                    points = [(float(t), float(v)) for t, v in series["values"]]
                    legend = drawing.legend_of(target.get("legendFormat", ""), series["metric"])
                    data.series.append(drawing.Series(legend, points))
            else:
                answer = await prometheus.api("/api/v1/query", {"query": expr, "time": str(now)})
                data.rows += [(s["metric"], float(s["value"][1])) for s in answer["result"]]
        drawn.append(data)
    rows = [p for p in board["panels"] if p["type"] == "row"]
    text, height = drawing.page(board, drawn, rows)
    page_path = out / name.replace(".json", ".html")
    page_path.write_text(text)
    lines = sum(len(d.series) for d in drawn if d.panel["type"] == "timeseries")
    assert text.count("<polyline") == lines, "a series without its line"
    png = out / name.replace(".json", ".png")
    await asyncio.to_thread(drawing.screenshot, chromium, page_path, png, height)
    width, tall, colours = drawing.png_size_and_colours(png)
    assert (width, tall) == (24 * drawing.COLUMN, height)
    assert colours > 16, f"{png} looks blank"
    return png


def _matches(key: tuple[str, str, str], seen: tuple[str, str, str]) -> bool:
    return all(k in ("*", s) for k, s in zip(key, seen, strict=True))


async def _problems(prometheus: ScrapedOperator, name: str) -> dict[tuple[str, str], str]:
    """(panel, refId) -> what is wrong with that query's answer (one per query: the first);
    a variable without values is keyed ("variable NAME", "")."""
    board = load(name)
    checks = queries(name, board)
    if name == "keda-compatible.json":
        checks += [
            Query("KEDA upstream", title, "A", expr, "", instant=False)
            for title, expr in KEDA_UPSTREAM.items()
        ]
    problems: dict[tuple[str, str], str] = {}
    for values in await _assignments(prometheus, name, board, problems):
        for query in checks:
            expr = substitute(query.expr, values)
            # ``X or vector(0)`` always answers; X itself must, or a rename would hide.
            exprs = [expr, expr.removesuffix(OR_ZERO)] if expr.endswith(OR_ZERO) else [expr]
            for one in exprs:
                problem = await _run(prometheus, one, query)
                if problem:
                    problems.setdefault((query.panel, query.ref), f"{query} {one}: {problem}")
    return problems


async def _assignments(
    prometheus: ScrapedOperator,
    name: str,
    board: dict[str, Any],
    problems: dict[tuple[str, str], str],
) -> list[dict[str, str]]:
    """Each combination of custom-variable options, with the query variables resolved in
    order through Prometheus, as Grafana resolves them with "All" selected; a variable without
    values is a problem, and :data:`MATCH_ANYTHING` stands in for it."""
    assignments = []
    for base in _placeholder_assignments(board):
        values = {k: v for k, v in base.items() if k not in _query_variable_names(board)}
        for var in variables(board):
            if var["type"] != "query":
                continue
            found = await _label_values(prometheus, substitute(variable_query(var), values))
            if not found:
                key = (f"variable {var['name']}", "")
                problems.setdefault(key, f"{name} / variable {var['name']} ({values}): no data")
                found = [MATCH_ANYTHING]
            values[var["name"]] = formatted(var, found)
        assignments.append(values)
    return assignments


def _query_variable_names(board: dict[str, Any]) -> set[str]:
    return {v["name"] for v in variables(board) if v["type"] == "query"}


async def _label_values(prometheus: ScrapedOperator, query: str) -> list[str]:
    match = LABEL_VALUES.match(query)
    assert match, query
    selector, label = match.groups()
    now = int(time.time())
    params = [("start", str(now - 300)), ("end", str(now))]
    if selector:
        params.append(("match[]", selector))
    found: list[str] = await prometheus.api(f"/api/v1/label/{label}/values", params)
    return sorted(found)


async def _run(prometheus: ScrapedOperator, expr: str, query: Query) -> str | None:
    """What is wrong with the answer to *expr*, as the panel runs it; None when nothing."""
    now = int(time.time())
    if query.instant:
        data = await prometheus.api("/api/v1/query", {"query": expr, "time": str(now)})
        samples = {i: [s["value"]] for i, s in enumerate(data["result"])}
    else:
        params = {
            "query": expr,
            "start": str(now - RANGE_SECONDS),
            "end": str(now),
            "step": str(STEP_SECONDS),
        }
        data = await prometheus.api("/api/v1/query_range", params)
        samples = {i: s["values"] for i, s in enumerate(data["result"])}
    result = data["result"]
    if not result:
        return "no data"
    if not any(math.isfinite(float(v)) for values in samples.values() for _, v in values):
        return "no finite value"
    wanted = set(LEGEND_LABEL.findall(query.legend))
    for series in result:
        absent = wanted - series["metric"].keys()
        if absent:
            return f"legend labels {sorted(absent)} absent from {series['metric']}"
    return None
