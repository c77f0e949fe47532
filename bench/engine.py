"""Benchmark: decisions per second of the pure engine, on one core.

What an evaluation costs when no I/O is involved: ``engine.keda.decide`` (KEDA's activation,
cooldown, fallback, pause) followed, when the target is active, by ``engine.hpa.decide`` and
``conclude`` (the autoscaling/v2 calculation with behavior and a full stabilization history).
Three shapes, each measured over a few seconds of repeated calls:

* ``external`` — one AverageValue external metric (prometheus, SQS, Kafka: the common case);
* ``cpu-20-pods`` — cpu utilization over 20 pods (readiness rules, per-pod samples);
* ``behavior-history`` — the external case with scale-down policies and a 300 s window already
  full of recommendations (one per 15 s poll, as after five minutes of steady polling).

The baseline, measured in the same run, is what every evaluation pays anyway before the engine
runs: turning the ScaledObject's JSON into its validated model (pydantic), which the
controller does once per generation. A decision should cost a small fraction of a second of
CPU per *thousands* of objects: at 10,000 objects polled every 30 s an operator needs 333
decisions/s.

One core: on a machine with two or more CPUs the benchmark pins itself to CPU 1 (where the
other benchmarks put the code under test), and it prints the load average beside its figures.

Run: ``python bench/engine.py [--seconds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

# The tree this file belongs to, not whatever podscaler is installed (a fresh clone runs as is).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podscaler.api.conditions import Condition, ConditionStatus
from podscaler.api.hpabehavior import Behavior, PolicyType, ScalingPolicy, ScalingRules
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.scaledobject import ScalingSpec
from podscaler.api.validation import validate_scaled_object
from podscaler.engine import hpa, keda

NOW = 100_000.0
LONG_AGO = NOW - 3_600.0


def _pod(name: str) -> hpa.PodFacts:
    return hpa.PodFacts(
        name=name,
        phase=hpa.PodPhase.RUNNING,
        ready=Condition("Ready", ConditionStatus.TRUE, last_transition_seconds=LONG_AGO),
        start_time_seconds=LONG_AGO,
        containers=(hpa.ContainerRequests("app", {"cpu": 200}),),
    )


def _keda_step(spec: ScalingSpec, value: float) -> keda.ScalingDecision:
    observation = keda.TriggerObservation(
        "s0-prometheus",
        trigger_type="prometheus",
        name="requests",
        value=value,
        activation_threshold=5.0,
        target=100.0,
    )
    return keda.decide(spec, (observation,), keda.ScalingState(), 4, NOW)


def external_case(behavior: Behavior | None, history: hpa.HpaHistory) -> Callable[[], int]:
    spec = ScalingSpec(min_replica_count=0, max_replica_count=50, trigger_types=("prom",))
    metric = hpa.ExternalMetric(
        "s0-prometheus",
        hpa.MetricTarget(MetricTargetType.AVERAGE_VALUE, average_value_milli=100_000),
    )
    hpa_spec = hpa.HpaSpec(50, 1, (metric,), behavior)
    observed = hpa.Observed(4, 4, (), (hpa.ExternalReading((730_000,)),))

    def once() -> int:
        _keda_step(spec, 730.0)
        decision = hpa.decide(hpa_spec, observed, history, NOW)
        return hpa.conclude(decision).desired_replicas

    return once


def cpu_case(pods: int) -> Callable[[], int]:
    spec = ScalingSpec(min_replica_count=1, max_replica_count=50, trigger_types=("cpu",))
    metric = hpa.ResourceMetric(
        "cpu", hpa.MetricTarget(MetricTargetType.UTILIZATION, average_utilization=50)
    )
    hpa_spec = hpa.HpaSpec(50, 1, (metric,))
    facts = tuple(_pod(f"web-{i}") for i in range(pods))
    reading = hpa.ResourceReading(
        tuple(
            hpa.PodResourceUsage(f"web-{i}", {"app": {"cpu": 120 + i}}, NOW, 60.0)
            for i in range(pods)
        )
    )
    observed = hpa.Observed(pods, pods, facts, (reading,))

    def once() -> int:
        keda.decide(spec, (), keda.ScalingState(), pods, NOW)
        return hpa.conclude(hpa.decide(hpa_spec, observed, hpa.HpaHistory(), NOW)).desired_replicas

    return once


def full_history() -> tuple[Behavior, hpa.HpaHistory]:
    behavior = Behavior(
        scale_down=ScalingRules(
            stabilization_window_seconds=300,
            policies=(
                ScalingPolicy(PolicyType.PERCENT, 50, 60),
                ScalingPolicy(PolicyType.PODS, 2, 60),
            ),
        )
    )
    history = hpa.HpaHistory()
    metric = hpa.ExternalMetric(
        "s0-prometheus",
        hpa.MetricTarget(MetricTargetType.AVERAGE_VALUE, average_value_milli=100_000),
    )
    spec = hpa.HpaSpec(50, 1, (metric,), behavior)
    # Twenty polls, 15 s apart, fill the 300 s window the way a running controller does.
    for step in range(20):
        at = NOW - 300 + step * 15
        observed = hpa.Observed(8, 8, (), (hpa.ExternalReading((700_000 + step * 1000,)),))
        outcome = hpa.conclude(hpa.decide(spec, observed, history, at))
        history = outcome.history
    return behavior, history


def baseline_case() -> Callable[[], int]:
    document = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "web", "namespace": "shop", "generation": 3},
        "spec": {
            "scaleTargetRef": {"name": "web"},
            "minReplicaCount": 0,
            "maxReplicaCount": 50,
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": {
                        "serverAddress": "http://prometheus:9090",
                        "query": "sum(rate(http_requests_total[1m]))",
                        "threshold": "100",
                        "activationThreshold": "5",
                    },
                }
            ],
        },
    }
    text = json.dumps(document)

    def once() -> int:
        return validate_scaled_object(json.loads(text)).spec.max_replica_count or 0

    return once


def measure(fn: Callable[[], int], seconds: float) -> tuple[float, float]:
    """(calls per second, microseconds per call) of ``fn`` on this core's CPU time."""
    for _ in range(200):
        fn()
    calls = 0
    started = time.process_time()
    deadline = started + seconds
    while True:
        for _ in range(100):
            fn()
        calls += 100
        now = time.process_time()
        if now >= deadline:
            break
    elapsed = now - started
    return calls / elapsed, elapsed / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    behavior, history = full_history()
    cases = [
        ("external", external_case(None, hpa.HpaHistory())),
        ("cpu-20-pods", cpu_case(20)),
        ("behavior-history", external_case(behavior, replace(history))),
        ("baseline: ScaledObject JSON -> validated model", baseline_case()),
    ]
    python = platform.python_version()
    cpu = "unpinned"
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})
        cpu = "pinned to CPU 1"
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"engine decisions on one core ({cpu}) — Python {python}, {args.seconds} s each; "
        f"load average {load}"
    )
    print("| case | decisions/s | µs per decision |")
    print("|---|---|---|")
    for name, fn in cases:
        rate, micros = measure(fn, args.seconds)
        print(f"| {name} | {rate:,.0f} | {micros:,.1f} |")


if __name__ == "__main__":
    main()
