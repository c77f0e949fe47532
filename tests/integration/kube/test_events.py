"""Events over HTTP: events.k8s.io/v1 fields, deduplication into a series (the count grows on
the one Event), a new Event after the series window, rate limiting, and never raising."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podscaler.api.reasons import Reason
from podscaler.kube.clients import Kube, connect
from podscaler.kube.events import EventRecorder

Obj = dict[str, Any]
EVENTS = "/apis/events.k8s.io/v1/namespaces/shop/events"
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

TARGET: Obj = {
    "apiVersion": "autoscaling.podscaler.io/v1alpha1",
    "kind": "ScaledObject",
    "metadata": {"name": "orders", "namespace": "shop", "uid": "uid-1"},
}


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 6, 1, 8, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


async def events(kube: Kube) -> list[Obj]:
    answer = await kube.request("GET", EVENTS)
    return sorted(answer["items"], key=lambda e: e["eventTime"])


async def make_namespace(kube: Kube) -> None:
    await kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "shop"}})


async def test_event_fields(kube: Kube) -> None:
    await make_namespace(kube)
    recorder = EventRecorder(kube, now=Clock(), reporting_instance="podscaler-0")
    recorder.record(TARGET, Reason.TriggerError, "trigger q: queue not found", action="GetMetrics")
    await recorder.flush()
    await recorder.aclose()
    [event] = await events(kube)
    assert event["reason"] == "TriggerError"
    assert event["type"] == "Warning"
    assert event["note"] == "trigger q: queue not found"
    assert event["action"] == "GetMetrics"
    assert event["reportingController"] == "podscaler"
    assert event["reportingInstance"] == "podscaler-0"
    assert event["eventTime"] == "2026-06-01T08:00:00.123456Z"
    assert MICRO_TIME.match(event["eventTime"])
    assert event["regarding"] == {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledObject",
        "name": "orders",
        "namespace": "shop",
        "uid": "uid-1",
    }
    assert "series" not in event


async def test_repeats_grow_the_series_of_one_event(kube: Kube) -> None:
    await make_namespace(kube)
    clock = Clock()
    recorder = EventRecorder(kube, now=clock, reporting_instance="podscaler-0")
    recorder.record(TARGET, Reason.TriggerError, "boom")
    await recorder.flush()
    for _ in range(3):
        clock.advance(30)
        recorder.record(TARGET, Reason.TriggerError, "boom")
    await recorder.flush()
    [event] = await events(kube)
    assert event["series"]["count"] == 4
    assert event["series"]["lastObservedTime"] == "2026-06-01T08:01:30.123456Z"

    clock.advance(30)
    recorder.record(TARGET, Reason.TriggerError, "boom")
    await recorder.flush()
    [event] = await events(kube)
    assert event["series"]["count"] == 5

    # A different note is a different Event.
    recorder.record(TARGET, Reason.TriggerError, "another failure")
    await recorder.flush()
    assert [e["note"] for e in await events(kube)] == ["boom", "another failure"]

    # After the series window without a repeat, the same Event starts afresh.
    clock.advance(400)
    recorder.record(TARGET, Reason.TriggerError, "boom")
    await recorder.flush()
    await recorder.aclose()
    notes = [(e["note"], (e.get("series") or {}).get("count")) for e in await events(kube)]
    assert notes == [("boom", 5), ("another failure", None), ("boom", None)]


async def test_series_after_the_event_vanished_creates_it_again(kube: Kube) -> None:
    await make_namespace(kube)
    recorder = EventRecorder(kube, now=Clock(), reporting_instance="p")
    recorder.record(TARGET, Reason.Paused, "paused by annotation")
    await recorder.flush()
    [event] = await events(kube)
    await kube.request("DELETE", f"{EVENTS}/{event['metadata']['name']}")
    recorder.record(TARGET, Reason.Paused, "paused by annotation")
    await recorder.flush()
    await recorder.aclose()
    [again] = await events(kube)
    assert again["series"]["count"] == 2
    assert again["type"] == "Normal"


async def test_rate_limit_per_object(kube: Kube) -> None:
    await make_namespace(kube)
    recorder = EventRecorder(
        kube, now=Clock(), reporting_instance="p", burst=2, refill_seconds=3600
    )
    for i in range(4):
        recorder.record(TARGET, Reason.ScaledTargetScaled, f"scaled to {i}")
    await recorder.flush()
    await recorder.aclose()
    assert [e["note"] for e in await events(kube)] == ["scaled to 0", "scaled to 1"]
    assert recorder.dropped == 2


async def test_a_refused_event_is_logged_and_later_events_still_land(
    kube: Kube, caplog: pytest.LogCaptureFixture
) -> None:
    await make_namespace(kube)
    recorder = EventRecorder(kube, now=Clock(), reporting_instance="p")
    elsewhere = {**TARGET, "metadata": {**TARGET["metadata"], "namespace": "nowhere"}}
    with caplog.at_level(logging.WARNING, logger="podscaler.kube.events"):
        assert recorder.record(elsewhere, Reason.TriggerError, "its namespace is gone") is None
        await recorder.flush()
    assert [r.getMessage() for r in caplog.records] == [
        'could not write event TriggerError: 404 NotFound: namespaces "nowhere" not found'
    ]
    recorder.record(TARGET, Reason.TriggerError, "still recording")
    await recorder.flush()
    await recorder.aclose()
    assert [e["note"] for e in await events(kube)] == ["still recording"]
    assert recorder.dropped == 0, "a failed write is not a rate-limit drop"


async def test_an_unreachable_server_is_logged_never_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with await connect(server="http://127.0.0.1:9", request_timeout_seconds=1) as kube:
        recorder = EventRecorder(kube, now=Clock(), reporting_instance="p")
        with caplog.at_level(logging.WARNING, logger="podscaler.kube.events"):
            recorder.record(TARGET, Reason.TriggerError, "nobody listens")
            recorder.record({"no": "metadata"}, "weird", "still fine")
            async with asyncio.timeout(10):
                await recorder.flush()
            await recorder.aclose()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("could not write event TriggerError: ")
    assert messages[1].startswith("could not write event weird: ")
    assert all(r.levelno == logging.WARNING for r in caplog.records)
