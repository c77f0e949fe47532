"""``podscaler explain`` keeps a day of decisions per object, in bounded memory.

Consecutive polls that decided the same fold into one span (its first poll in full, the count,
the last time, each trigger's value range, which limits held the replicas); spans go when
their last poll is more than 24 h behind the newest, and beyond a count. Served on
``/debug/decisions`` as ``history`` and printed by ``explain`` one line per span.
"""

from __future__ import annotations

import gc
import socket
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from podscaler.commands.explain import endpoint_url, explain_from_endpoint
from podscaler.controllers.scaledobject.records import (
    DEFAULT_HISTORY_SECONDS,
    DecisionLog,
    DecisionRecord,
    HpaMetricRecord,
    HpaRecord,
    TriggerRecord,
    render_history,
)

START = datetime(2026, 1, 5, tzinfo=UTC)


def record(
    seconds: float,
    current: int,
    desired: int,
    *,
    bound_by: str = "Tolerance",
    value: float = 50.0,
    rule: str = "hpa",
) -> DecisionRecord:
    """A record as the controller writes it for a cpu ScaledObject (fresh objects each)."""
    hpa_summary = f"{current} -> {desired}: metrics proposed {desired}; {bound_by}"
    return DecisionRecord(
        at=(START + timedelta(seconds=seconds)).isoformat(),
        generation=1,
        current_replicas=current,
        desired_replicas=desired,
        rule=rule,
        summary=f"active at {current} replicas; {hpa_summary}",
        active=True,
        triggers=(TriggerRecord(0, "cpu", "", "cpu", value, True),),
        hpa=HpaRecord(
            bound_by=bound_by,
            summary=hpa_summary,
            metric_replicas=desired,
            stabilized_replicas=desired,
            desired_replicas=desired,
            metrics=(HpaMetricRecord("cpu", desired, value / 100, value / 50),),
        ),
        scaled=desired != current,
        facts={"currentReplicas": current, "lastActiveSeconds": seconds},
    )


def test_steady_polls_fold_into_one_span_with_value_ranges_and_holding_limits() -> None:
    log = DecisionLog()
    limits = ["Tolerance", "Metrics", "Tolerance", "StabilizationWindow", "Tolerance"]
    for i, limit in enumerate(limits):
        log.add("shop", "web", record(i * 15.0, 3, 3, bound_by=limit, value=45.0 + i))
    (span,) = log.history("shop", "web")
    assert span.polls == 5
    assert span.first.at == START.isoformat()
    assert span.last_at == (START + timedelta(seconds=60)).isoformat()
    assert span.ranges == [45.0, 49.0]
    assert span.held == {"Tolerance": 3, "Metrics": 1, "StabilizationWindow": 1}
    assert span.first.facts == {}  # facts stay with the recent records only
    document = span.to_dict()
    assert document["heldBy"] == {"Tolerance": 3, "Metrics": 1, "StabilizationWindow": 1}
    assert document["values"] == [{"metric": "cpu", "min": 45.0, "max": 49.0}]
    # The day's history is served for one object asked by name, not for a whole fleet.
    assert "history" not in log.to_json()["objects"][0]
    assert len(log.to_json("shop", "web")["objects"][0]["history"]) == 1


def test_a_change_of_decision_starts_a_span_that_keeps_the_decision_in_full() -> None:
    log = DecisionLog()
    log.add("shop", "web", record(0, 9, 9, value=52.0))
    log.add("shop", "web", record(15, 9, 10, bound_by="MaxReplicas", value=61.0))
    log.add("shop", "web", record(30, 10, 10, value=55.0))
    spans = log.history("shop", "web")
    assert [(s.first.current_replicas, s.first.desired_replicas) for s in spans] == [
        (9, 9),
        (9, 10),
        (10, 10),
    ]
    change = spans[1]
    assert change.first.scaled
    assert change.first.hpa is not None
    assert change.first.hpa.bound_by == "MaxReplicas"
    assert change.first.triggers[0].value == 61.0
    text = render_history(s.to_dict() for s in spans)
    assert "replicas 9 -> 10 rule=hpa (bound by MaxReplicas) scaled" in text
    assert "replicas 10 -> 10 rule=hpa held by Tolerance (1)" in text


def test_a_day_of_hourly_changes_polled_every_15_s_is_kept_whole() -> None:
    """24 h at a 15 s poll with a change every hour: every span of the day survives, and the
    oldest is at least 24 h behind the newest (the promise ``explain`` makes)."""
    log = DecisionLog()
    replicas = 2
    polls = 24 * 3600 // 15 + 1
    for poll in range(polls):
        if poll and poll % 240 == 0:
            wanted = 2 + (poll // 240) % 8
            log.add("shop", "web", record(poll * 15.0, replicas, wanted, bound_by="Metrics"))
            replicas = wanted
            continue
        log.add("shop", "web", record(poll * 15.0, replicas, replicas))
    spans = log.history("shop", "web")
    assert sum(s.polls for s in spans) == polls
    oldest = datetime.fromisoformat(spans[0].first.at)
    newest = datetime.fromisoformat(spans[-1].last_at)
    assert newest - oldest >= timedelta(hours=24)
    assert len(log.recent("shop", "web")) == 20


def test_spans_older_than_a_day_behind_the_newest_go() -> None:
    log = DecisionLog()
    log.add("shop", "web", record(0, 1, 2))  # a one-poll span at 00:00
    log.add("shop", "web", record(15, 2, 2))  # held from 00:00:15 ...
    log.add("shop", "web", record(3600, 2, 2))  # ... to 01:00
    log.add("shop", "web", record(DEFAULT_HISTORY_SECONDS + 3000, 2, 3))
    kept = log.history("shop", "web")
    # The first span ended more than 24 h before the newest poll; the hold ended within it.
    assert [s.first.desired_replicas for s in kept] == [2, 3]
    assert kept[0].first.current_replicas == 2


def test_the_count_bounds_an_object_that_changes_its_decision_every_poll() -> None:
    log = DecisionLog(spans_per_object=50)
    for poll in range(500):
        log.add("shop", "web", record(poll * 15.0, 1 + poll % 2, 2 - poll % 2))
    spans = log.history("shop", "web")
    assert len(spans) == 50
    assert spans[-1].last_at == (START + timedelta(seconds=499 * 15)).isoformat()


def test_forget_drops_the_history_too() -> None:
    log = DecisionLog()
    log.add("shop", "web", record(0, 1, 1))
    log.forget("shop", "web")
    assert log.history("shop", "web") == []
    assert log.to_json()["objects"] == []


def memory_per_object(objects: int = 8) -> tuple[float, float, int]:
    """Bytes one object holds without and with its day of history, and its span count."""

    def feed(log: DecisionLog, name: str) -> None:
        replicas = 2
        for poll in range(24 * 3600 // 15):
            if poll % 240 == 120:  # one change an hour, 24 holds between
                wanted = 2 + (poll // 240) % 8
                log.add("ns", name, record(poll * 15.0, replicas, wanted, bound_by="Metrics"))
                replicas = wanted
            elif poll % 240 in (0, 121, 239) or poll >= 24 * 240 - 20:
                # the polls that start and end spans, and the last 20: the rest only extend
                log.add("ns", name, record(poll * 15.0, replicas, replicas, value=40.0 + poll % 7))

    held: dict[bool, float] = {}
    spans = 0
    for history in (False, True):
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        log = DecisionLog() if history else DecisionLog(spans_per_object=1)
        for n in range(objects):
            feed(log, f"o{n}")
        gc.collect()
        held[history] = (tracemalloc.get_traced_memory()[0] - base) / objects
        tracemalloc.stop()
        spans = len(log.history("ns", "o0"))
        del log
    return held[False], held[True], spans


def test_memory_per_span_and_per_day() -> None:
    """What ``records.py`` promises: about 1 KB a span, a busy day (a change every hour, so
    ~48 spans) well under 100 KB on top of the 20 recent records.

    Measured in a fresh interpreter: tracemalloc counts every thread's allocations, and in the
    whole suite threads left by earlier tests (executors, servers) allocated during the
    measurement and pushed a span to 1.8 KB in CI."""
    probe = (
        "from tests.unit.controllers.test_decision_history import memory_per_object;"
        "print(*memory_per_object())"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    without, with_history, spans = done.stdout.split()
    assert int(spans) >= 47
    added = float(with_history) - float(without)
    per_span = added / (int(spans) - 1)
    assert 200 < per_span < 1600, per_span
    assert added < 75_000


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, DecisionLog]]:
    """The operator's ``/debug/decisions`` served from a DecisionLog on a free port."""
    log = DecisionLog()

    async def decisions(request: web.Request) -> web.Response:
        query = request.query
        return web.json_response(log.to_json(query.get("namespace"), query.get("name")))

    app = web.Application()
    app.router.add_get("/debug/decisions", decisions)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        await runner.cleanup()


async def test_explain_prints_the_day_then_the_recent_polls(
    endpoint: tuple[str, DecisionLog],
) -> None:
    url, log = endpoint
    for poll in range(40):
        log.add("shop", "web", record(poll * 15.0, 9, 9, value=50.0))
    log.add("shop", "web", record(12.0 * 3600, 9, 10, bound_by="MaxReplicas", value=63.5))
    for poll in range(30):
        log.add("shop", "web", record(12.0 * 3600 + 15 * (poll + 1), 10, 10))
    text = await explain_from_endpoint(endpoint_url(url), "shop", "web", "text")
    lines = text.splitlines()
    assert lines[0] == "ScaledObject shop/web"
    assert lines[1] == "History (3 decisions held, oldest first):"
    assert "2026-01-05T00:00:00+00:00 .. 00:09:45 (40 polls) replicas 9 -> 9" in lines[2]
    assert "2026-01-05T12:00:00+00:00 .. 12:00:00 (1 poll) replicas 9 -> 10" in text
    assert "(bound by MaxReplicas) scaled" in text
    assert "cpu 63.5" in text
    assert "Recent polls in full:" in text
    assert text.count("  why: ") == 3 + 20
