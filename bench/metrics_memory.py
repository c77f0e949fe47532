"""Benchmark: memory and scrape time of the operator's per-object Prometheus series.

``OperatorMetrics`` (``podscaler/observability/metrics.py``) keeps each ScaledObject's series
as plain numbers in one table, rendered by a collector at scrape time. The baseline, in the
same run, is the implementation it replaced: a prometheus_client child per series and a cache
of them per object (``tests/unit/observability/metrics_children.py``, kept as the reference the
unit tests compare the exposition with).

Each of ``--objects`` ScaledObjects (default 10,000) is recorded as the poll loop records a
steady object with one trigger: a trigger poll, an evaluation and the poll's lateness, for
``--polls`` polls (default 3; the first creates the series, the others only update them). The
strings an object's labels are made of (namespace, name, metric name) are built before
measuring: in the operator the informer's objects own them.

Measured, each variant in a fresh process, interleaved (old, new, old, new ...):

* ``tracemalloc``: bytes Python allocated for the metrics and still holds, per object;
* ``rss``: growth of the process's resident memory over the recordings, per object (a process
  of its own, without tracemalloc, whose bookkeeping would count);
* ``record``: CPU time of one object's poll recorded (trigger, evaluated, lateness) once its
  series exist (the polls after the first);
* ``scrape``: CPU time of one ``exposition()`` at that size (median of ``--scrapes``, after a
  first one), the exposition's size, and the peak of what Python held during a scrape above
  what it held before (tracemalloc; the collector's samples and the text being built: a peak
  the allocator may keep as resident memory after the scrape).

Run: ``python bench/metrics_memory.py [--objects 10000] [--rounds 3] [--polls 3]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The tree this file belongs to, not whatever podscaler is installed.
sys.path.insert(0, str(ROOT))

from bench.harness import loadavg, proc_rss_mib  # noqa: E402

VARIANTS = ("old", "new")


def _metrics(variant: str) -> Any:
    # both imported by either variant, before anything is measured
    from podscaler.observability.metrics import OperatorMetrics
    from tests.unit.observability.metrics_children import ChildrenMetrics

    return ChildrenMetrics() if variant == "old" else OperatorMetrics()


def _record(metrics: Any, objects: list[tuple[str, str, str]], poll: int) -> None:
    for i, (namespace, name, metric) in enumerate(objects):
        metrics.trigger(
            namespace,
            name,
            index=0,
            trigger_name="",
            trigger_type="prometheus",
            metric=metric,
            value=float(100 + (i + poll) % 50),
            active=True,
            error=False,
            latency_seconds=0.001 * (1 + poll),
        )
        metrics.evaluated(
            namespace,
            name,
            rule="hpa",
            current=2 + i % 3,
            desired=2 + (i + poll) % 3,
            paused=False,
            duration_seconds=0.002,
        )
        metrics.lateness(namespace, name, 0.0005 * (i % 7))


def child(variant: str, mode: str, count: int, polls: int, scrapes: int) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    objects = [(f"ns-{i % 50}", f"so-{i:05d}", f"s0-prometheus-{i:05d}") for i in range(count)]
    _metrics(variant).exposition()  # imports, and what a first scrape initialises once
    gc.collect()
    out: dict[str, Any] = {"variant": variant, "mode": mode}
    if mode == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        metrics = _metrics(variant)
        for poll in range(polls):
            _record(metrics, objects, poll)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        out["bytes_per_object"] = round(held / count)
        tracemalloc.reset_peak()
        metrics.exposition()
        out["scrape_peak_mib"] = round((tracemalloc.get_traced_memory()[1] - before) / 2**20, 1)
        tracemalloc.stop()
        return out
    rss_before = proc_rss_mib()[0]
    metrics = _metrics(variant)
    _record(metrics, objects, 0)
    start = time.process_time()
    for poll in range(1, polls):
        _record(metrics, objects, poll)
    spent = time.process_time() - start
    gc.collect()
    out["record_us_per_poll"] = round(spent / (count * max(polls - 1, 1)) * 1e6, 2)
    out["rss_bytes_per_object"] = round((proc_rss_mib()[0] - rss_before) * 2**20 / count)
    size = len(metrics.exposition())  # the first scrape, not timed
    times = []
    for _ in range(scrapes):
        start = time.process_time()
        metrics.exposition()
        times.append(time.process_time() - start)
    out["scrape_cpu_ms"] = round(statistics.median(times) * 1000, 1)
    out["exposition_bytes"] = size
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--polls", type=int, default=3)
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "MODE"))
    args = parser.parse_args()
    if args.child:
        variant, mode = args.child
        print(json.dumps(child(variant, mode, args.objects, args.polls, args.scrapes)))
        return
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for mode in ("tracemalloc", "rss"):
            for variant in VARIANTS:
                command = [
                    sys.executable,
                    __file__,
                    "--child",
                    variant,
                    mode,
                    "--objects",
                    str(args.objects),
                    "--polls",
                    str(args.polls),
                    "--scrapes",
                    str(args.scrapes),
                ]
                env = {**os.environ, "PYTHONPATH": str(ROOT)}
                done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
                runs[variant].append(json.loads(done.stdout))
    print(
        f"python {platform.python_version()}, {args.objects} objects x {args.polls} polls "
        f"(1 trigger + evaluated + lateness), {args.rounds} rounds; load {loadavg()}"
    )
    fields = (
        "bytes_per_object",
        "rss_bytes_per_object",
        "record_us_per_poll",
        "scrape_cpu_ms",
        "scrape_peak_mib",
        "exposition_bytes",
    )
    for field in fields:
        print(f"{field} (median; each run)")
        for variant in VARIANTS:
            values = [r[field] for r in runs[variant] if field in r]
            print(f"  {variant:4} {statistics.median(values):>10}   {values}")


if __name__ == "__main__":
    main()
