"""The pure half of ``podscaler recommend``: history chunks, workload guesses, durations, KRR's
percentile, rows from histories, and the three output formats."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.commands.recommend import parse_duration_seconds, parse_instant
from podscaler.commands.recommending import Report, format_report, recommend_from_history
from podscaler.controllers.vertical.history import (
    MAX_POINTS,
    ContainerHistory,
    Inventory,
    Workload,
    chunks,
    workload_of_pod_name,
)
from podscaler.engine.vpa import RecommenderSettings
from podscaler.engine.vpa.simple import linear_percentile, simple

MIB = 1024 * 1024
START = 1_772_409_600.0


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, 10**9),
    steps=st.integers(0, 20_000),
    step=st.sampled_from([15, 30, 60, 300]),
)
def test_chunks_cover_the_grid_once_and_stay_under_the_point_limit(
    start: int, steps: int, step: int
) -> None:
    end = start + steps * step
    pieces = chunks(start, end, step)
    grid = [t for low, high in pieces for t in range(int(low), int(high) + 1, step)]
    assert grid == list(range(start, end + 1, step))
    assert all((high - low) / step + 1 <= MAX_POINTS for low, high in pieces)


@pytest.mark.parametrize(
    ("pod", "kind", "name"),
    [
        ("web-7c9d8f6b5-x2x7k", "Deployment", "web"),
        ("db-0", "StatefulSet", "db"),
        ("node-exporter-x2x7k", "DaemonSet", "node-exporter"),
        ("standalone", "Pod", "standalone"),
    ],
)
def test_workloads_are_guessed_from_pod_names(pod: str, kind: str, name: str) -> None:
    assert workload_of_pod_name("ns", pod) == Workload("ns", kind, name)


def test_durations_and_instants() -> None:
    assert parse_duration_seconds("8d") == 8 * 86_400
    assert parse_duration_seconds("1h30m") == 5400
    assert parse_instant("2026-03-02T00:00:00Z") == START
    assert parse_instant("1772409600") == START
    assert parse_duration_seconds("90") == 90
    for bad in ("", "d8", "1h 2m", "-1m", "0s", "8w"):
        with pytest.raises(click.BadParameter):
            parse_duration_seconds(bad)
    with pytest.raises(click.BadParameter):
        parse_instant("yesterday")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_any_duration_text_parses_or_is_a_bad_parameter(text: str) -> None:
    with contextlib.suppress(click.BadParameter):
        assert parse_duration_seconds(text) > 0


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50),
    percentile=st.floats(0, 100),
)
def test_linear_percentile_lies_between_its_neighbours(
    values: list[float], percentile: float
) -> None:
    answer = linear_percentile(values, percentile)
    ordered = sorted(values)
    assert ordered[0] <= answer <= ordered[-1]
    assert linear_percentile(values, 0) == ordered[0]
    assert linear_percentile(values, 100) == ordered[-1]


def test_the_simple_strategy() -> None:
    answer = simple([0.1, 0.2, 0.3, 0.4, 0.5], [100.0, 300.0])
    assert answer.requests.cpu_millicores == 480  # p95 of five evenly spaced: 0.48
    assert answer.requests.memory_bytes == 345
    assert answer.limits.cpu_millicores is None
    assert answer.limits.memory_bytes == 345


def _history(cores: float, memory: float, minutes: int) -> ContainerHistory:
    times = [START + 60 * m for m in range(minutes)]
    return ContainerHistory.of([(t, cores) for t in times], [(t, memory) for t in times])


def test_recommend_rounds_as_the_recommender_flags_say() -> None:
    """``podscaler recommend --round-cpu-millicores/--round-memory-bytes``: the same path as
    ``--vertical-round-*`` in ``podscaler run``."""
    found = {("shop", "web-7c9d8f6b5-zzzzz", "app"): _history(0.5, 200 * MIB, 1440)}
    end = START + 1439 * 60
    (plain,) = recommend_from_history(found, Inventory(), start=START, end=end)
    rounding = RecommenderSettings(round_cpu_millicores=50, round_memory_bytes=128 * MIB)
    (row,) = recommend_from_history(found, Inventory(), start=START, end=end, settings=rounding)
    assert plain.recommended_cpu_millicores == 587
    assert row.recommended_cpu_millicores == 600
    assert plain.recommended_memory_bytes is not None
    assert row.recommended_memory_bytes == -(-plain.recommended_memory_bytes // (128 * MIB)) * (
        128 * MIB
    )
    assert row.recommended_memory_bytes % (128 * MIB) == 0


def test_rows_from_histories() -> None:
    found = {
        ("shop", "web-7c9d8f6b5-zzzzz", "app"): _history(0.5, 200 * MIB, 1440),
        ("shop", "web-7c9d8f6b5-xxxxx", "app"): _history(0.5, 200 * MIB, 1440),
    }
    inventory = Inventory(
        requests={("shop", "web-7c9d8f6b5-zzzzz", "app"): {"cpu": 0.1, "memory": 50 * MIB}},
        limits={("shop", "web-7c9d8f6b5-zzzzz", "app"): {"cpu": 0.3}},
    )
    end = START + 1439 * 60
    (row,) = recommend_from_history(found, inventory, start=START, end=end)
    assert (row.kind, row.workload, row.container) == ("Deployment", "web", "app")
    assert row.running_pods == 2
    assert row.cpu_samples == 2 * 1440
    assert row.recommended_cpu_millicores == 587
    assert row.recommended_cpu_limit_millicores == 1761  # the limit was 3x the request
    assert row.recommended_memory_limit_bytes is None  # there was no memory limit
    # 487 millicores and ~187 MiB more, for 2 pods, for 730 hours.
    delta_memory = (row.recommended_memory_bytes or 0) - 50 * MIB
    cost = (0.487 * 0.031611 + delta_memory / 1024**3 * 0.004237) * 730 * 2
    assert row.monthly_cost_change == pytest.approx(cost)
    report = Report(rows=[row])
    table = format_report(report, "table")
    assert "Deployment/web" in table
    assert "100m -> 587m (+487%)" in table
    assert "300m -> 1761m" in table
    document = json.loads(format_report(report, "json"))
    assert document["containers"][0]["recommended_cpu_millicores"] == 587
    (parsed,) = csv.DictReader(io.StringIO(format_report(report, "csv")))
    assert parsed["recommended_cpu_millicores"] == "587"
    assert "no container usage" in format_report(Report(), "table")
