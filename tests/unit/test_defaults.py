"""Every default of the custom resources (KEDA's, the HPA's, podscaler's) is resolved in ``api``.

The models resolve them once (``ScaledObject.resolved()``, ``ScaledJobSpec.resolved()``,
``api.hpabehavior.resolve_behavior``, the ``DEFAULT_*`` constants) and every other layer reads
the resolved value. Before, ``pollingInterval`` was read from the JSON with a literal 30 in two
controllers and the operator while the model had its own default: three places to keep equal.
This test reads every module outside ``api`` (with ``ast``) and fails, naming the line, when a
known default value comes back as a fallback (``x or 30``, ``30 if x is None else x``,
``.get(key, 30)``, ``max(..., default=30)``) or a defaulted field is read from an object's JSON
(``spec.get("pollingInterval")``) instead of from the model.

The embedded cluster (``sim``) is not scanned: it plays upstream's components (the kubelet's
30 s grace period, its HPA controller parsing HorizontalPodAutoscaler JSON as
kube-controller-manager does), whose defaults are theirs; where they are the HPA's, it takes
them from ``api`` too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from podscaler.api.hpabehavior import (
    DEFAULT_CPU_UTILIZATION_PERCENT,
    DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
    DEFAULT_TOLERANCE,
    SelectPolicy,
)
from podscaler.api.meta import DEFAULT_TARGET_API_VERSION, DEFAULT_TARGET_KIND
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.scaledjob import (
    DEFAULT_FAILED_JOBS_HISTORY_LIMIT,
    DEFAULT_MULTIPLE_SCALERS_CALCULATION,
    DEFAULT_SCALED_JOB_MAX_REPLICAS,
    DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT,
)
from podscaler.api.scaledobject import (
    DEFAULT_COOLDOWN_PERIOD_SECONDS,
    DEFAULT_MAX_REPLICA_COUNT,
    DEFAULT_MODE,
    FallbackBehavior,
    ScaledObject,
)
from podscaler.api.triggers import DEFAULT_POLLING_INTERVAL_SECONDS, polling_interval_of

ROOT = Path(__file__).resolve().parents[2]

#: Values distinctive enough that a fallback to one of them is a default written again. (0 and
#: 1, also defaults, are left out: they are every counter's start.)
DEFAULT_VALUES: frozenset[object] = frozenset(
    {
        DEFAULT_POLLING_INTERVAL_SECONDS,
        DEFAULT_COOLDOWN_PERIOD_SECONDS,
        DEFAULT_MAX_REPLICA_COUNT,
        DEFAULT_SCALED_JOB_MAX_REPLICAS,
        DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT,
        DEFAULT_FAILED_JOBS_HISTORY_LIMIT,
        DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
        DEFAULT_TOLERANCE,
        DEFAULT_CPU_UTILIZATION_PERCENT,
        DEFAULT_MODE,
        DEFAULT_TARGET_API_VERSION,
        DEFAULT_TARGET_KIND,
        FallbackBehavior.STATIC.value,
        MetricTargetType.AVERAGE_VALUE.value,
        SelectPolicy.MAX.value,
        DEFAULT_MULTIPLE_SCALERS_CALCULATION.value,
    }
)

#: Manifest fields that have a default: read them from the model, which applies it.
DEFAULTED_FIELDS = frozenset(
    {
        "pollingInterval",
        "cooldownPeriod",
        "initialCooldownPeriod",
        "minReplicaCount",
        "maxReplicaCount",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
        "rolloutStrategy",
        "scalingStrategy",
        "multipleScalersCalculation",
        "stabilizationWindowSeconds",
        "selectPolicy",
        "minReplicas",
        "metricType",
        "fallback",
    }
)

#: Where the defaults live, and the embedded cluster (see the module docstring).
NOT_SCANNED = ("podscaler/api/", "podscaler/sim/")


def _sources() -> list[Path]:
    paths = [*(ROOT / "podscaler").rglob("*.py"), *(ROOT / "scalers").rglob("*.py")]
    return sorted(p for p in paths if not p.relative_to(ROOT).as_posix().startswith(NOT_SCANNED))


def _literal(node: ast.AST) -> object:
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        return node.value
    return None


def _fallbacks(tree: ast.AST) -> list[tuple[int, object]]:
    """``(line, value)`` of every literal a fallback expression falls back to."""
    found: list[tuple[int, object]] = []
    for node in ast.walk(tree):
        candidates: list[ast.AST] = []
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            candidates = node.values[1:]
        elif isinstance(node, ast.IfExp):
            candidates = [node.body, node.orelse]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ("get", "pop") and node.args:
                candidates = node.args[1:2]
            candidates += [k.value for k in node.keywords if k.arg == "default"]
        for candidate in candidates:
            value = _literal(candidate)
            if value is not None:
                found.append((candidate.lineno, value))
    return found


def _field_reads(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        key: object = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("get", "pop") and node.args:
                key = _literal(node.args[0])
        elif isinstance(node, ast.Subscript):
            key = _literal(node.slice)
        if isinstance(key, str) and key in DEFAULTED_FIELDS:
            found.append((node.lineno, key))
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_default_is_written_again_outside_api(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(ROOT).as_posix()
    problems = [
        f"{where}:{line}: falls back to {value!r}, a default that api resolves"
        for line, value in _fallbacks(tree)
        if value in DEFAULT_VALUES
    ]
    problems += [
        f"{where}:{line}: reads {key!r} from JSON; take the model's resolved value"
        for line, key in _field_reads(tree)
    ]
    assert not problems, "\n".join(problems)


def test_the_scan_finds_what_it_is_for() -> None:
    """The two rules catch the shapes the defaults used to be written in."""
    before = ast.parse(
        "interval = float(v) if isinstance(v, int) else 30.0\n"
        "cooldown = spec.cooldown_period or 300\n"
        'limit = status.get("limit", 100)\n'
        "first = max(intervals, default=30.0)\n"
        'raw = spec.get("pollingInterval")\n'
    )
    assert sorted(v for _, v in _fallbacks(before)) == [30.0, 30.0, 100, 300]
    assert [k for _, k in _field_reads(before)] == ["pollingInterval"]


def test_the_schedule_and_the_model_agree_on_polling_interval() -> None:
    """The controllers schedule by :func:`polling_interval_of` (no parse); for any object the
    model accepts it is the model's resolved value."""
    for raw in (None, 1, 5, 30, 600):
        spec = {"scaleTargetRef": {"name": "web"}, "triggers": [{"type": "cron", "metadata": {}}]}
        if raw is not None:
            spec["pollingInterval"] = raw
        so = ScaledObject.model_validate({"metadata": {"name": "x"}, "spec": spec})
        assert polling_interval_of(spec) == so.resolved().polling_interval_seconds
    assert polling_interval_of({"pollingInterval": 0}) == DEFAULT_POLLING_INTERVAL_SECONDS
    assert polling_interval_of(None) == DEFAULT_POLLING_INTERVAL_SECONDS
