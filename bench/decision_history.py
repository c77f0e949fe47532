"""Benchmark: memory of ``podscaler explain``'s decision history at 10,000 objects.

The operator keeps, per ScaledObject, the last 20 decision records in full and a day of
history folded into spans (``controllers/scaledobject/records.py``). What that costs depends on
how often an object's decision changes, so two day-long shapes are measured, each for every one
of ``--objects`` objects (default 10,000), with records built as the controller builds them
(one cpu trigger through the HPA calculation, facts, summaries with numbers in them):

* ``steady`` — holds its replicas all day (the common case): one span;
* ``busy`` — the web-diurnal story: a diurnal cpu load takes it 2 → 10 → 2 replicas
  (20 changes a day, polled every 15 s), its holds bound now by the tolerance, now by the
  metrics, now by the stabilization window, as noisy cpu makes them: ~40 spans.

Polls that only extend a span allocate nothing that stays, so each object is fed the polls
that start and end its spans plus the last 20 in full — the memory held is the same as after
feeding all 5,760 polls of the day, in a fraction of the time (``--full`` feeds them all; use
a small ``--objects`` with it). Memory is measured with ``tracemalloc`` (what Python allocated
and still holds, for the first 200 objects) and as the growth of the process's resident memory
(all of them), each configuration in a fresh process; the baseline is the same objects with
one span kept (``spans_per_object=1``: about what the operator held before the history, its
20 records and one span).

Run: ``python bench/decision_history.py [--objects 10000] [--full]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The tree this file belongs to, not whatever podscaler is installed (a fresh clone runs as is).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podscaler.controllers.scaledobject.records import (
    DecisionLog,
    DecisionRecord,
    HpaMetricRecord,
    HpaRecord,
    TriggerRecord,
)

START = datetime(2026, 1, 5, tzinfo=UTC)
POLL_SECONDS = 15
POLLS_PER_DAY = 24 * 3600 // POLL_SECONDS
LIMITS = ("Tolerance", "Metrics", "StabilizationWindow")


def _record(
    poll: int, current: int, desired: int, bound_by: str, usage: float, rng: random.Random
) -> DecisionRecord:
    """A record shaped like the controller's for a cpu ScaledObject (fresh objects each)."""
    at = (START + timedelta(seconds=poll * POLL_SECONDS)).isoformat()
    proposal = max(1, math.ceil(current * usage / 0.5))
    hpa_summary = f"{current} -> {desired}: metrics proposed {proposal}; " + (
        "applied the metrics' proposal" if bound_by == "Metrics" else bound_by
    )
    return DecisionRecord(
        at=at,
        generation=1,
        current_replicas=current,
        desired_replicas=desired,
        rule="hpa",
        summary=f"active at {current} replicas; the HPA calculation owns 1..N; {hpa_summary}",
        active=True,
        triggers=(TriggerRecord(0, "cpu", "", "cpu", round(usage * 100, 1), True),),
        hpa=HpaRecord(
            bound_by=bound_by,
            summary=hpa_summary,
            metric_replicas=proposal,
            stabilized_replicas=desired,
            desired_replicas=desired,
            metrics=(
                HpaMetricRecord(
                    "cpu resource utilization (percentage of request)",
                    proposal,
                    round(usage, 3),
                    round(usage / 0.5, 4),
                    "tolerance" if bound_by == "Tolerance" else None,
                ),
            ),
        ),
        scaled=desired != current,
        facts={
            "currentReplicas": current,
            "isActive": True,
            "isError": False,
            "activeTriggers": (),
            "lastActiveSeconds": START.timestamp() + poll * POLL_SECONDS + rng.random(),
            "cooldownPeriodSeconds": 300,
            "hpaMinReplicas": 1,
            "hpaMaxReplicas": 10,
        },
    )


def _day(shape: str, seed: int) -> Iterator[tuple[int, tuple[object, ...]]]:
    """(poll, arguments of :func:`_record`) for a day, minus the RNG."""
    rng = random.Random(seed)
    replicas = 2
    for poll in range(POLLS_PER_DAY):
        if shape == "steady":
            yield poll, (replicas, replicas, "Tolerance", 0.48 + rng.random() * 0.04)
            continue
        hours = poll * POLL_SECONDS / 3600
        wanted = round(6 - 4 * math.cos((hours - 2) / 24 * 2 * math.pi))
        if wanted != replicas and poll % 240 == 0:  # a change at most every hour
            yield poll, (replicas, wanted, "Metrics", 0.5 * wanted / replicas)
            replicas = wanted
            continue
        yield poll, (replicas, replicas, rng.choice(LIMITS), 0.45 + rng.random() * 0.1)


def _feed(
    log: DecisionLog, name: str, plan: list[tuple[int, tuple[object, ...]]], *, full: bool
) -> None:
    """Feed one object's day; only span boundaries and the last 20 polls unless ``full``."""
    rng = random.Random(name)
    keep = set(range(len(plan) - 20, len(plan))) | {0, 1}
    if not full:
        for i in range(1, len(plan)):
            if plan[i - 1][1][:2] != plan[i][1][:2]:
                keep.update((i - 1, i, i + 1))
    for i, (poll, args) in enumerate(plan):
        if full or i in keep:
            current, desired, bound_by, usage = args
            assert isinstance(current, int)
            assert isinstance(desired, int)
            assert isinstance(bound_by, str)
            assert isinstance(usage, float)
            log.add("bench", name, _record(poll, current, desired, bound_by, usage, rng))


def _resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _measure(shape: str, objects: int, spans: int | None, full: bool) -> tuple[float, float, int]:
    """(resident bytes per object, bytes per object tracemalloc saw for the first
    ``min(objects, 200)``, spans of the first object). Run in a fresh process."""
    plan = list(_day(shape, 1))
    gc.collect()
    before = _resident_bytes()
    log = DecisionLog() if spans is None else DecisionLog(spans_per_object=spans)
    for n in range(objects):
        _feed(log, f"o{n}", plan, full=full)
    gc.collect()
    resident = (_resident_bytes() - before) / objects
    count = len(log.history("bench", "o0"))
    del log
    gc.collect()
    sample = min(objects, 200)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    traced_log = DecisionLog() if spans is None else DecisionLog(spans_per_object=spans)
    for n in range(sample):
        _feed(traced_log, f"o{n}", plan, full=full)
    gc.collect()
    traced = (tracemalloc.get_traced_memory()[0] - base) / sample
    tracemalloc.stop()
    return resident, traced, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--full", action="store_true", help="feed all 5,760 polls a day")
    parser.add_argument("--one", nargs=2, metavar=("SHAPE", "SPANS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        shape, spans = args.one
        resident, traced, count = _measure(
            shape, args.objects, None if spans == "day" else int(spans), args.full
        )
        print(json.dumps([resident, traced, count]))
        return
    load = os.getloadavg()
    print(f"# decision history — {platform.machine()}, Python {platform.python_version()}, ")
    print(f"# load {load[0]:.1f}; {args.objects:,} objects polled every {POLL_SECONDS} s for a day")
    print(
        "| shape | history kept | spans / object | KiB / object (RSS) | KiB / object "
        "(tracemalloc) | MiB at this many objects (RSS) |"
    )
    print("|---|---|---|---|---|---|")
    for shape in ("steady", "busy"):
        for label, spans in (("one span (≈ before)", "1"), ("24 h (current)", "day")):
            command = [
                sys.executable,
                __file__,
                "--objects",
                str(args.objects),
                "--one",
                shape,
                spans,
            ] + (["--full"] if args.full else [])
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            resident, traced, count = json.loads(done.stdout)
            print(
                f"| {shape} | {label} | {count} | {resident / 1024:.1f} | {traced / 1024:.1f} | "
                f"{resident * args.objects / 2**20:.0f} |"
            )


if __name__ == "__main__":
    main()
