"""The recent records of an object are kept packed when a poll repeats the one before in all
but its numbers and time, and are always read back exactly as they were added."""

from __future__ import annotations

import gc
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.controllers.scaledobject.records import (
    DecisionLog,
    DecisionRecord,
    HpaMetricRecord,
    HpaRecord,
    TriggerRecord,
)

START = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)

values = st.one_of(
    st.none(),
    st.floats(allow_nan=False),
    st.sampled_from([0.0, -0.0, 1e-300, 5e300, 0.1, 40.0]),
    st.integers(-3, 3),  # an int where a float is usual: kept in full, never read back as float
)


@st.composite
def records(draw: st.DrawFn, at: str) -> DecisionRecord:
    current = draw(st.integers(0, 3))
    desired = draw(st.integers(0, 3))
    triggers = tuple(
        TriggerRecord(
            i,
            "prometheus",
            "",
            f"s{i}-prometheus",
            draw(values),
            draw(st.booleans()),
            draw(st.sampled_from([None, "timed out"])),
            draw(st.sampled_from([0.0, 0.25, 0.001])),
            draw(st.sampled_from([None, {"summary": "forecast 3"}, {"summary": "forecast 4"}])),
        )
        for i in range(draw(st.integers(0, 2)))
    )
    hpa = draw(
        st.sampled_from([None, "Tolerance", "Metrics"]).map(
            lambda bound: (
                None
                if bound is None
                else HpaRecord(
                    bound,
                    f"{current} -> {desired}: {bound}",
                    desired,
                    desired,
                    desired,
                    tuple(
                        HpaMetricRecord(t.metric, desired, draw(values), draw(values))
                        for t in triggers
                    ),
                )
            )
        )
    )
    facts: dict[str, object] = {
        "currentReplicas": draw(st.sampled_from([current, float(current), True])),
        "isActive": draw(st.booleans()),
        "lastActiveSeconds": draw(values),
        "activeTriggers": ("s0-prometheus",),
    }
    return DecisionRecord(
        at=at,
        generation=draw(st.sampled_from([1, 2, None])),
        current_replicas=current,
        desired_replicas=desired,
        rule=draw(st.sampled_from(["hpa", "cooldown"])),
        summary=draw(st.sampled_from(["same", "other"])),
        scaled=draw(st.booleans()),
        active=bool(facts["isActive"]),
        triggers=triggers,
        hpa=hpa,
        facts=facts,
    )


times = st.one_of(
    st.integers(0, 10**12).map(lambda us: (START + timedelta(microseconds=us)).isoformat()),
    st.integers(0, 10**6).map(lambda s: (START + timedelta(seconds=s)).isoformat()),
    st.just("2026-12-07T09:30:00+01:00"),
    st.just(START.astimezone(timezone(timedelta(hours=-5))).isoformat()),
    st.just("2026-12-07T09:30:00"),
    st.just("not a time"),
    st.just("2026-12-07T09:30:00.5Z"),
)


#: One field of a record changed to another value of the same or another type: what a
#: packed repeat must not hide.
TWEAKS: list[tuple[str, Any]] = [
    ("generation", 7),
    ("summary", "other words"),
    ("rule", "fallback"),
    ("error", "status not written"),
    ("scaled", True),
    ("current_replicas", 9),
]
FACT_TWEAKS: list[Any] = [True, 1, 1.0, "1", None, 2.5]


@st.composite
def repeats(draw: st.DrawFn, previous: DecisionRecord, at: str) -> DecisionRecord:
    """*previous* with new moving numbers (what a steady object's next poll is), sometimes with
    one other field changed as well."""
    triggers = tuple(
        replace(t, value=draw(values), duration_seconds=draw(st.sampled_from([0.0, 0.5])))
        for t in previous.triggers
    )
    hpa = previous.hpa
    if hpa is not None:
        metrics = tuple(replace(m, usage=draw(values), ratio=draw(values)) for m in hpa.metrics)
        hpa = replace(hpa, metrics=metrics)
    facts = dict(previous.facts, lastActiveSeconds=draw(values))
    record = replace(previous, at=at, triggers=triggers, hpa=hpa, facts=facts)
    tweak = draw(st.integers(0, len(TWEAKS) + 3))
    if tweak < len(TWEAKS):
        name, value = TWEAKS[tweak]
        record = replace(record, **{name: value})
    elif tweak == len(TWEAKS):
        facts["currentReplicas"] = draw(st.sampled_from(FACT_TWEAKS))
    elif tweak == len(TWEAKS) + 1 and triggers:
        changed = replace(triggers[0], active=not triggers[0].active, details={"summary": "x"})
        record = replace(record, triggers=(changed, *triggers[1:]))
    return record


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_records_read_back_exactly_as_added(data: st.DataObject) -> None:
    log = DecisionLog(per_object=data.draw(st.integers(1, 6)))
    added: list[DecisionRecord] = []
    for _ in range(data.draw(st.integers(1, 15))):
        at = data.draw(times)
        if added and data.draw(st.integers(0, 4)):  # mostly a repeat of the poll before
            record = data.draw(repeats(added[-1], at))
        else:
            record = data.draw(records(at))
        log.add("shop", "web", record)
        added.append(record)
    kept = added[-log.per_object :]
    recent = log.recent("shop", "web")
    assert recent == kept
    for got, want in zip(recent, kept, strict=True):
        assert got.to_dict() == want.to_dict()
        assert [type(v) for v in got.facts.values()] == [type(v) for v in want.facts.values()]
        assert [type(t.value) for t in got.triggers] == [type(t.value) for t in want.triggers]
    assert log.latest("shop", "web") == added[-1]
    assert log.to_json()["objects"][0]["decisions"] == [r.to_dict() for r in kept]


def steady(seconds: float, value: float) -> DecisionRecord:
    """A steady cpu object's poll as the controller records it (fresh objects each)."""
    return DecisionRecord(
        at=(START + timedelta(seconds=seconds)).isoformat(),
        generation=1,
        current_replicas=3,
        desired_replicas=3,
        rule="hpa",
        summary="active at 3 replicas; 3 -> 3: every metric is within tolerance of its target",
        active=True,
        triggers=(TriggerRecord(0, "cpu", "", "cpu", value, True, None, 0.0021),),
        hpa=HpaRecord(
            "Tolerance",
            "3 -> 3: every metric is within tolerance of its target",
            3,
            3,
            3,
            (HpaMetricRecord("cpu resource utilization", 3, value / 100, value / 50),),
        ),
        facts={
            "currentReplicas": 3,
            "isActive": True,
            "isError": False,
            "activeTriggers": ("s0-cpu",),
            "lastActiveSeconds": START.timestamp() + seconds - 30,
            "cooldownPeriodSeconds": 300,
            "hpaMinReplicas": 1,
            "hpaMaxReplicas": 10,
        },
    )


def test_a_steady_object_keeps_its_twenty_records_in_a_few_kib() -> None:
    """What the packing is for: at 10,000 objects the recent records were half a GiB."""
    objects = 50
    gc.collect()
    tracemalloc.start()
    try:
        log = DecisionLog(spans_per_object=1)
        before = tracemalloc.get_traced_memory()[0]
        for poll in range(40):
            for n in range(objects):
                log.add("ns", f"o{n}", steady(poll * 30.0 + n / 1000, 48.0 + (poll * n) % 5))
        gc.collect()
        per_object = (tracemalloc.get_traced_memory()[0] - before) / objects
    finally:
        tracemalloc.stop()
    assert len(log.recent("ns", "o7")) == 20
    assert log.recent("ns", "o7")[-1] == steady(39 * 30.0 + 0.007, 48.0 + (39 * 7) % 5)
    # 6.2 KiB measured (a full record, 19 packed, their deque, one span); 28 KiB before
    # (each record whole, and every poll's time in the shared timestamp cache)
    assert per_object < 9 * 1024, per_object


@pytest.mark.parametrize(
    ("fact", "before", "after"),
    [
        ("currentReplicas", True, 1),  # equal, but another type: kept whole
        ("currentReplicas", 1, 1.0),
        ("lastActiveSeconds", 1.5, 2),  # a moving number that became an int
        ("lastActiveSeconds", None, "soon"),
        ("isActive", False, 0),
    ],
)
def test_a_fact_of_another_type_is_read_back_with_its_type(
    fact: str, before: object, after: object
) -> None:
    log = DecisionLog()
    first = steady(0.0, 40.0)
    first = replace(first, facts={**first.facts, fact: before})
    second = steady(30.0, 41.0)
    second = replace(second, facts={**second.facts, fact: after})
    log.add("ns", "o", first)
    log.add("ns", "o", second)
    got = log.recent("ns", "o")[-1].facts[fact]
    assert type(got) is type(after)
    assert got == after


def test_a_steady_poll_is_packed_and_read_back_as_it_was() -> None:
    log = DecisionLog()
    for poll in range(3):
        log.add("ns", "o", steady(poll * 30.0, 40.0 + poll))
    assert [type(kept).__name__ for kept in log._records[("ns", "o")]] == [
        "DecisionRecord",
        "_Repeat",
        "_Repeat",
    ]
    assert log.recent("ns", "o") == [steady(p * 30.0, 40.0 + p) for p in range(3)]
