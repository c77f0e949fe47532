"""``podscaler recommend``: KRR's one-shot report, with the VerticalScaler's numbers.

No operator and no cluster change: usage history comes from the user's Prometheus
(``controllers.vertical.history``), each workload's containers are estimated by the same engine
a VerticalScaler uses (``--strategy vpa``: decaying histograms, p90 target + 15 %, confidence
bounds, the pod minimum split over the containers) or by KRR's simple strategy (``--strategy
simple``: CPU p95, memory peak + 15 %), and the result is printed as a table, JSON or CSV:
current requests and limits, the recommendation, the change, and what it is worth per month.

The VPA path feeds samples exactly as the recommender does — one ``ContainerState`` per pod's
container (memory peaks per window of *that* container), all of a workload's pods into one
aggregate per container name — so the same samples give the same numbers as a VerticalScaler.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from podscaler.controllers.vertical.history import (
    ContainerHistory,
    Inventory,
    ProgressFn,
    PrometheusSettings,
    Workload,
    fetch_history,
    group_by_workload,
)
from podscaler.engine.vpa import (
    AggregateContainerState,
    ContainerState,
    RecommenderSettings,
    Resources,
    cpu_millicores_from_cores,
    proportional_limit,
    recommend,
)
from podscaler.engine.vpa.amounts import amount_from_float
from podscaler.engine.vpa.simple import SimpleSettings, simple

__all__ = [
    "HOURS_PER_MONTH",
    "Prices",
    "Report",
    "Row",
    "format_report",
    "recommend_from_history",
    "run_recommend",
]

Strategy = Literal["vpa", "simple"]
#: 730 hours: the month cloud price lists use.
HOURS_PER_MONTH: Final = 730.0
_GIB: Final = 1024**3
#: A pod counts as running if it had a sample this close to the end of the history.
_RUNNING_WITHIN_SECONDS: Final = 600.0


@dataclass(frozen=True)
class Prices:
    """Per-hour prices (Kubecost's default custom pricing: $0.031611 per core-hour, $0.004237
    per GiB-hour), used only for the cost column."""

    cpu_per_core_hour: float = 0.031611
    memory_per_gib_hour: float = 0.004237


@dataclass
class Row:
    """One container of one workload."""

    namespace: str
    kind: str
    workload: str
    container: str
    running_pods: int
    cpu_samples: int
    strategy: str
    cpu_request_millicores: int | None
    memory_request_bytes: int | None
    cpu_limit_millicores: int | None
    memory_limit_bytes: int | None
    recommended_cpu_millicores: int | None
    recommended_memory_bytes: int | None
    recommended_cpu_limit_millicores: int | None
    recommended_memory_limit_bytes: int | None
    lower_cpu_millicores: int | None = None
    lower_memory_bytes: int | None = None
    upper_cpu_millicores: int | None = None
    upper_memory_bytes: int | None = None
    confidence: float | None = None
    monthly_cost_change: float = 0.0


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    start_seconds: float = 0.0
    end_seconds: float = 0.0
    #: Wall time of the fetch phase (queries, decoding, grouping).
    fetch_seconds: float = 0.0
    #: Time spent inside Prometheus queries, summed over the worker threads.
    prometheus_seconds: float = 0.0
    compute_seconds: float = 0.0
    queries: int = 0
    samples: int = 0
    kube_state_metrics: bool = False

    @property
    def monthly_cost_change(self) -> float:
        return sum(row.monthly_cost_change for row in self.rows)


def _current(
    values: Mapping[tuple[str, str, str], Mapping[str, float]],
    workload: Workload,
    pods: Mapping[str, ContainerHistory],
    container: str,
) -> tuple[int | None, int | None]:
    """The largest value any of the workload's pods has for the container (they normally agree)."""
    cpu: int | None = None
    memory: int | None = None
    for pod in pods:
        found = values.get((workload.namespace, pod, container), {})
        if "cpu" in found:
            millicores = amount_from_float(round(found["cpu"] * 1000, 6))
            cpu = millicores if cpu is None else max(cpu, millicores)
        if "memory" in found:
            amount = amount_from_float(found["memory"])
            memory = amount if memory is None else max(memory, amount)
    return cpu, memory


def _aggregate(pods: Mapping[str, ContainerHistory], start: float) -> AggregateContainerState:
    """All pods' samples of one container name, fed as the recommender feeds them."""
    state = AggregateContainerState(start)
    for history in pods.values():
        container = ContainerState(state)
        container.add_cpu_samples(
            [(at, cpu_millicores_from_cores(cores)) for at, cores in history.cpu_cores.pairs()]
        )
        add_memory = container.add_memory_sample
        for at, memory in history.memory_bytes.pairs():
            add_memory(amount_from_float(memory), at)
    return state


def _running(pods: Mapping[str, ContainerHistory], end: float) -> int:
    return sum(
        1
        for history in pods.values()
        if any(
            samples.times and samples.times[-1] >= end - _RUNNING_WITHIN_SECONDS
            for samples in (history.cpu_cores, history.memory_bytes)
        )
    )


def _cost(row: Row, prices: Prices) -> float:
    cpu_delta = 0.0
    if row.recommended_cpu_millicores is not None and row.cpu_request_millicores is not None:
        cpu_delta = (row.recommended_cpu_millicores - row.cpu_request_millicores) / 1000.0
    memory_delta = 0.0
    if row.recommended_memory_bytes is not None and row.memory_request_bytes is not None:
        memory_delta = (row.recommended_memory_bytes - row.memory_request_bytes) / _GIB
    hourly = cpu_delta * prices.cpu_per_core_hour + memory_delta * prices.memory_per_gib_hour
    return hourly * HOURS_PER_MONTH * row.running_pods


def recommend_from_history(
    found: Mapping[tuple[str, str, str], ContainerHistory],
    inventory: Inventory,
    *,
    start: float,
    end: float,
    strategy: Strategy = "vpa",
    prices: Prices | None = None,
    settings: RecommenderSettings | None = None,
    simple_settings: SimpleSettings | None = None,
) -> list[Row]:
    """Rows for every workload container in *found* (pure: no I/O)."""
    prices = prices or Prices()
    settings = settings or RecommenderSettings()
    rows: list[Row] = []
    for workload, containers in sorted(group_by_workload(found, inventory).items()):
        aggregates = {name: _aggregate(pods, start) for name, pods in containers.items()}
        vpa = recommend(aggregates, None, settings) if strategy == "vpa" else None
        for name in sorted(containers):
            pods = containers[name]
            request_cpu, request_memory = _current(inventory.requests, workload, pods, name)
            limit_cpu, limit_memory = _current(inventory.limits, workload, pods, name)
            row = Row(
                namespace=workload.namespace,
                kind=workload.kind,
                workload=workload.name,
                container=name,
                running_pods=_running(pods, end),
                cpu_samples=aggregates[name].total_samples_count,
                strategy=strategy,
                cpu_request_millicores=request_cpu,
                memory_request_bytes=request_memory,
                cpu_limit_millicores=limit_cpu,
                memory_limit_bytes=limit_memory,
                recommended_cpu_millicores=None,
                recommended_memory_bytes=None,
                recommended_cpu_limit_millicores=None,
                recommended_memory_limit_bytes=None,
            )
            if vpa is not None:
                container = vpa.for_container(name)
                if container is not None:
                    target = container.target
                    row.recommended_cpu_millicores = target.cpu_millicores
                    row.recommended_memory_bytes = target.memory_bytes
                    row.lower_cpu_millicores = container.lower_bound.cpu_millicores
                    row.lower_memory_bytes = container.lower_bound.memory_bytes
                    row.upper_cpu_millicores = container.upper_bound.cpu_millicores
                    row.upper_memory_bytes = container.upper_bound.memory_bytes
                    row.confidence = container.estimate.confidence
                    # Limits keep their ratio to requests (controlledValues RequestsAndLimits).
                    if target.cpu_millicores is not None:
                        row.recommended_cpu_limit_millicores = proportional_limit(
                            limit_cpu, request_cpu, target.cpu_millicores
                        )
                    if target.memory_bytes is not None:
                        row.recommended_memory_limit_bytes = proportional_limit(
                            limit_memory, request_memory, target.memory_bytes
                        )
            else:
                answer = simple(
                    [value for history in pods.values() for value in history.cpu_cores.values],
                    [value for history in pods.values() for value in history.memory_bytes.values],
                    simple_settings or SimpleSettings(),
                )
                row.recommended_cpu_millicores = answer.requests.cpu_millicores
                row.recommended_memory_bytes = answer.requests.memory_bytes
                row.recommended_memory_limit_bytes = answer.limits.memory_bytes
            row.monthly_cost_change = _cost(row, prices)
            rows.append(row)
    return rows


async def run_recommend(
    prometheus: PrometheusSettings,
    *,
    namespaces: list[str],
    start: float,
    end: float,
    step_seconds: int,
    rate_window: str,
    strategy: Strategy,
    prices: Prices,
    selector: Any = None,
    concurrency: int = 2,
    progress: ProgressFn | None = None,
    settings: RecommenderSettings | None = None,
) -> Report:
    """Fetch, estimate, and time both halves.

    The cyclic garbage collector is off while fetching: decoding day-sized responses allocates
    millions of small lists and strings that hold no cycles, and the full collections they set
    off (walking everything decoded so far) cost more than the decoding (measured, 4 in flight:
    24 s → 14 s for 100 containers x 8 days). It is back on before anything else runs.
    """
    fetch_started = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()
    try:
        found, inventory, source = await fetch_history(
            prometheus,
            namespaces=namespaces,
            start=start,
            end=end,
            step_seconds=step_seconds,
            rate_window=rate_window,
            selector=selector,
            concurrency=concurrency,
            progress=progress,
        )
    finally:
        if collecting:
            gc.enable()
    fetched = time.perf_counter() - fetch_started
    started = time.process_time()
    rows = recommend_from_history(
        found, inventory, start=start, end=end, strategy=strategy, prices=prices, settings=settings
    )
    return Report(
        rows=rows,
        start_seconds=start,
        end_seconds=end,
        fetch_seconds=fetched,
        prometheus_seconds=source.seconds_waiting,
        compute_seconds=time.process_time() - started,
        queries=source.queries,
        samples=sum(len(h.cpu_cores) + len(h.memory_bytes) for h in found.values()),
        kube_state_metrics=inventory.has_kube_state_metrics,
    )


# ------------------------------------------------------------------------------- output


def _cpu(millicores: int | None) -> str:
    return "-" if millicores is None else f"{millicores}m"


def _memory(amount: int | None) -> str:
    if amount is None:
        return "-"
    for unit, size in (("Gi", _GIB), ("Mi", 1024**2), ("Ki", 1024)):
        if amount >= size:
            return f"{amount / size:.4g}{unit}"
    return str(amount)


def _change(old: int | None, new: int | None, show: Any) -> str:
    if new is None:
        return "-"
    if old is None:
        return f"(unset) -> {show(new)}"
    if old == new:
        return f"{show(new)} (=)"
    percent = f" ({(new - old) / old:+.0%})" if old else ""
    return f"{show(old)} -> {show(new)}{percent}"


def _table(report: Report) -> str:
    headers = [
        "NAMESPACE",
        "WORKLOAD",
        "CONTAINER",
        "PODS",
        "CPU REQUEST",
        "CPU LIMIT",
        "MEMORY REQUEST",
        "MEMORY LIMIT",
        "$/MONTH",
    ]
    lines = [headers]
    for row in report.rows:
        lines.append(
            [
                row.namespace,
                f"{row.kind}/{row.workload}",
                row.container,
                str(row.running_pods),
                _change(row.cpu_request_millicores, row.recommended_cpu_millicores, _cpu),
                _change(row.cpu_limit_millicores, row.recommended_cpu_limit_millicores, _cpu),
                _change(row.memory_request_bytes, row.recommended_memory_bytes, _memory),
                _change(row.memory_limit_bytes, row.recommended_memory_limit_bytes, _memory),
                f"{row.monthly_cost_change:+.2f}",
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    text = "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
    return text + f"\n\ntotal change: {report.monthly_cost_change:+.2f} $/month"


def format_report(report: Report, output: Literal["table", "json", "csv"]) -> str:
    if output == "json":
        document = {
            "start": report.start_seconds,
            "end": report.end_seconds,
            "kubeStateMetrics": report.kube_state_metrics,
            "monthlyCostChange": report.monthly_cost_change,
            "containers": [asdict(row) for row in report.rows],
        }
        return json.dumps(document, indent=2)
    if output == "csv":
        buffer = io.StringIO()
        names = list(Row.__dataclass_fields__)
        writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        for row in report.rows:
            writer.writerow(asdict(row))
        return buffer.getvalue().rstrip("\n")
    if not report.rows:
        return "no container usage found in that Prometheus for those namespaces and times"
    return _table(report)


def resources_of_row(row: Row) -> Resources:
    """The recommended requests of a row, as the engine's record (for comparisons)."""
    return Resources(row.recommended_cpu_millicores, row.recommended_memory_bytes)
