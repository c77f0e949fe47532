"""``podscaler recommend`` against a real Prometheus holding eight days of container history.

The history (cAdvisor's usage series and kube-state-metrics' owners, labels, requests and
limits) is backfilled with promtool before Prometheus starts. The command runs as a user runs
it, as a subprocess, and its numbers are held to:

- the story-5 figures for a container using half a core (587m), with its limit kept in ratio;
- the engine fed, pod by pod, with the very samples Prometheus serves, fetched here with a plain
  HTTP client — the same inputs a VerticalScaler would see give the same numbers;
- KRR's simple strategy (CPU p95, memory peak + 15 %);
- namespace and label-selector filters, the three output formats, and a clear failure when
  Prometheus cannot be reached.
"""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podscaler.engine.vpa import (
    AggregateContainerState,
    ContainerState,
    cpu_millicores_from_cores,
    recommend,
)
from tests.conftest import IN_CI
from tests.fixtures.prometheus_history import (
    MIB,
    ContainerSpec,
    PodSpec,
    binaries,
    prometheus_with_history,
)

ROOT = Path(__file__).resolve().parents[3]
DAYS = 8
MINUTES = DAYS * 1440
#: A fixed past instant (whole hours): history ends here, far inside the 30-day retention.
END = 1_780_000_000 // 3600 * 3600
START = END - (MINUTES - 1) * 60


def _web(pod: str) -> PodSpec:
    return PodSpec(
        namespace="shop",
        pod=pod,
        owner_kind="ReplicaSet",
        owner_name="web-7c9d8f6b5",
        deployment="web",
        labels={"app": "web"},
        containers=[
            ContainerSpec(
                "app",
                cpu_cores=lambda m: 0.5,
                memory_bytes=lambda m: 200 * MIB,
                requests={"cpu": 0.1, "memory": 50 * MIB},
                limits={"cpu": 0.2, "memory": 100 * MIB},
            ),
            ContainerSpec(
                "sidecar",
                cpu_cores=lambda m: 0.02,
                memory_bytes=lambda m: 30 * MIB + (m % 60) * MIB,
                requests={"cpu": 0.01, "memory": 20 * MIB},
            ),
        ],
    )


PODS = [
    _web("web-7c9d8f6b5-abcde"),
    _web("web-7c9d8f6b5-fghij"),
    PodSpec(
        namespace="shop",
        pod="db-0",
        owner_kind="StatefulSet",
        owner_name="db",
        labels={"app": "db"},
        containers=[
            ContainerSpec(
                "postgres",
                cpu_cores=lambda m: 0.6 + 0.4 * math.sin(m / 90.0),
                memory_bytes=lambda m: 1024 * MIB + (m % 1440) * 100_000,
                requests={"cpu": 1.0, "memory": 2048 * MIB},
            )
        ],
    ),
    PodSpec(
        namespace="other",
        pod="batch-x2x7k",
        owner_kind="DaemonSet",
        owner_name="batch",
        containers=[ContainerSpec("run", lambda m: 0.1, lambda m: 50 * MIB)],
    ),
]


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if binaries() is None:
        message = "prometheus/promtool not installed (apt-get install prometheus)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with prometheus_with_history(tmp_path_factory.mktemp("history"), PODS, START, MINUTES) as url:
        yield url


def _recommend(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podscaler", "recommend", "--prometheus-url", url,
         "--end", str(END), "--history", f"{DAYS}d", *args],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=600,
    )  # fmt: skip


def _json(url: str, *args: str) -> dict[str, Any]:
    result = _recommend(url, "-o", "json", *args)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _row(document: dict[str, Any], workload: str, container: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = document["containers"]
    for row in rows:
        if f"{row['kind']}/{row['workload']}" == workload and row["container"] == container:
            return row
    raise AssertionError(f"no row for {workload} {container}: {document['containers']}")


def test_half_a_core_is_recommended_as_587m(prometheus_url: str) -> None:
    document = _json(prometheus_url, "-n", "shop")
    app = _row(document, "Deployment/web", "app")
    assert app["running_pods"] == 2
    assert app["cpu_request_millicores"] == 100
    assert app["memory_request_bytes"] == 50 * MIB
    assert app["recommended_cpu_millicores"] == 587
    # The 200m limit was twice the request: so is the new one.
    assert app["recommended_cpu_limit_millicores"] == 1174
    assert app["recommended_memory_limit_bytes"] == 2 * app["recommended_memory_bytes"]
    # Two pods for eight days: confidence is the span in days, the upper bound 1 + 1/8 of p95.
    assert app["confidence"] == pytest.approx(8.0, abs=0.01)
    assert app["cpu_samples"] > 2 * (MINUTES - 10)
    # More CPU for 2 pods costs money; the sign says so.
    assert app["monthly_cost_change"] > 0
    assert {(r["namespace"], r["workload"]) for r in document["containers"]} == {
        ("shop", "web"),
        ("shop", "db"),
    }


def _raw(url: str, query: str, start: int, end: int) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": query, "start": start, "end": end, "step": "60s"})
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=60) as response:
        result: list[dict[str, Any]] = json.load(response)["data"]["result"]
        return result


def test_the_same_samples_give_the_verticalscalers_numbers(prometheus_url: str) -> None:
    """Fetch the samples independently and feed the engine as the recommender does."""
    aggregates: dict[str, AggregateContainerState] = {}
    pods = 'namespace="shop",pod=~"web-.*"'
    cpu = f"max by (pod, container) (rate(container_cpu_usage_seconds_total{{{pods}}}[5m]))"
    memory = f"max by (pod, container) (container_memory_working_set_bytes{{{pods}}})"
    start = END - DAYS * 86_400
    pieces = []
    cursor = start
    while cursor <= END:
        stop = min(cursor + 1439 * 60, END)
        pieces.append((cursor, stop))
        cursor = stop + 60
    feeds: dict[tuple[str, str], ContainerState] = {}
    for query, is_cpu in ((cpu, True), (memory, False)):
        series: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for low, high in pieces:
            for item in _raw(prometheus_url, query, low, high):
                key = (item["metric"]["pod"], item["metric"]["container"])
                series.setdefault(key, []).extend((float(t), float(v)) for t, v in item["values"])
        for (pod, container), values in series.items():
            state = aggregates.setdefault(container, AggregateContainerState(float(start)))
            feed = feeds.setdefault((pod, container), ContainerState(state))
            for at, value in sorted(values):
                if is_cpu:
                    feed.add_cpu_sample(cpu_millicores_from_cores(value), at)
                else:
                    feed.add_memory_sample(int(value), at)
    expected = recommend(aggregates)
    document = _json(prometheus_url, "-n", "shop", "-l", "app=web")
    assert {row["workload"] for row in document["containers"]} == {"web"}
    for wanted in expected.containers:
        row = _row(document, "Deployment/web", wanted.container_name)
        assert row["recommended_cpu_millicores"] == wanted.target.cpu_millicores
        assert row["recommended_memory_bytes"] == wanted.target.memory_bytes
        assert row["lower_cpu_millicores"] == wanted.lower_bound.cpu_millicores
        assert row["upper_memory_bytes"] == wanted.upper_bound.memory_bytes
        assert row["confidence"] == pytest.approx(wanted.estimate.confidence)


def test_krrs_simple_strategy(prometheus_url: str) -> None:
    document = _json(prometheus_url, "-n", "shop", "--strategy", "simple")
    app = _row(document, "Deployment/web", "app")
    assert app["recommended_cpu_millicores"] == 500
    assert app["recommended_memory_bytes"] == math.ceil(200 * MIB * 1.15)
    assert app["recommended_memory_limit_bytes"] == app["recommended_memory_bytes"]
    assert app["recommended_cpu_limit_millicores"] is None
    postgres = _row(document, "StatefulSet/db", "postgres")
    # p95 of 0.6 + 0.4 sin: close to the top of the wave, well above the mean.
    assert 950 <= postgres["recommended_cpu_millicores"] <= 1000


def test_table_and_csv_and_progress(prometheus_url: str) -> None:
    result = _recommend(prometheus_url, "-n", "shop", "-n", "other")
    assert result.returncode == 0, result.stderr
    assert "Deployment/web" in result.stdout
    assert "100m -> 587m (+487%)" in result.stdout
    assert "DaemonSet/batch" in result.stdout
    assert "total change:" in result.stdout
    assert "fetched 1/" in result.stderr
    assert "waiting for Prometheus" in result.stderr
    csv_result = _recommend(prometheus_url, "-n", "shop", "-o", "csv", "-q")
    assert csv_result.returncode == 0, csv_result.stderr
    assert csv_result.stderr == ""
    rows = list(csv.DictReader(io.StringIO(csv_result.stdout)))
    assert {row["container"] for row in rows} == {"app", "sidecar", "postgres"}


def test_an_unreachable_prometheus_fails_clearly(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t-token\n")
    result = _recommend("http://127.0.0.1:9", "--bearer-token-file", str(token), "-q")
    assert result.returncode == 1
    assert "Prometheus at http://127.0.0.1:9 is unreachable" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout
