"""Benchmark: the VPA engine at 50,000 containers, and ``podscaler recommend`` on a real Prometheus.

Part 1 — histograms (issue 12 §6: memory < 1 GiB, one full recommendation pass < 2 s):

* **memory** of 50,000 containers' aggregate histograms (CPU + memory, 176 buckets each, with a
  realistic spread of 20-60 occupied buckets), measured with tracemalloc; baseline in the same
  run: the same history in a naive port that keeps bucket weights in Python lists;
* **one recommendation pass** (percentiles, margin, confidence, minimum, policy) over all of
  them, CPU time; baseline in the same run, interleaved A/B/A/B: upstream's algorithm restated
  literally (one walk per percentile, stage by stage over resource maps);
* **checkpoint build rate**: v3 checkpoint statuses built and serialized to JSON per second;
  baseline: serializing the same, already built, statuses.

Part 2 (``--prometheus``) — ``podscaler recommend`` over N containers x D days backfilled into a
real Prometheus (promtool), end to end, with the time split between waiting for Prometheus and
estimating; baseline in the same run, interleaved: fetching the same ranges with a bare HTTP
client and ``json.loads`` (the floor any client pays).

One core: the code under test is pinned to CPU 1 and Prometheus to CPU 0 where there are two;
the load average is printed beside the figures.

Part 3 (``--controller N``) — the recommender controller itself: N VerticalScalers of 2 pods
each on the embedded API server (in this process), one pass sampling ``metrics.k8s.io``,
resolving each target's ``/scale``, recommending, writing status and a checkpoint per
container; baseline, interleaved: the same requests sent bare, as many in flight, nothing computed.

Part 4 (``--admission N``) — the admission webhook as kube-apiserver calls it: N pod
admissions, each an AdmissionReview POSTed over TLS (one kept-alive connection) to podscaler's
webhook, with 50 VerticalScalers in the pod's namespace on the embedded API server; latency
p50/p95 per admission. Two webhooks serve side by side, called in interleaved batches of 50:
answering from the recommender's memory (what ``podscaler run`` does) against the baseline,
the same webhook reading the namespace's scalers and their targets from the API per pod.

Run: ``python bench/vertical.py [--containers 50000]
[--prometheus --prom-containers 200 --days 8] [--controller 1000 --passes 3]
[--admission 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
import tracemalloc
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podscaler.engine.vpa import (
    AggregateContainerState,
    ContainerState,
    Histogram,
    checkpoint_status,
    recommend,
)

START = 1_772_409_600.0
DAY = 86_400.0


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _pin(cpu: int) -> str:
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "unpinned"


# ------------------------------------------------------------------------------- part 1


def _fill(count: int, seed: int = 12) -> dict[str, AggregateContainerState]:
    """*count* containers, each with a day of usage around its own level: 96 CPU samples (every
    15 minutes, spread ±60 %) and a memory window, as a histogram after a day looks."""
    rng = random.Random(seed)
    aggregates = {}
    for index in range(count):
        state = AggregateContainerState(START)
        container = ContainerState(state)
        level = rng.lognormvariate(-1.5, 1.2)  # cores: median ~0.2
        memory = rng.lognormvariate(19.5, 1.0)  # bytes: median ~300 MB
        for step in range(96):
            at = START + 900 * step
            container.add_cpu_sample(int(level * rng.uniform(0.4, 1.6) * 1000), at)
            container.add_memory_sample(int(memory * rng.uniform(0.8, 1.2)), at)
        aggregates[f"c{index}"] = state
    return aggregates


class _ListHistogram:
    """The naive port: weights in a Python list (one float object per occupied bucket)."""

    def __init__(self, source: Histogram) -> None:
        self.weights = [source.bucket_weight(b) for b in range(source.options.num_buckets)]
        self.total = source.total_weight
        self.min_bucket, self.max_bucket = source.min_bucket, source.max_bucket


def _list_copies(aggregates: dict[str, AggregateContainerState]) -> list[tuple[Any, ...]]:
    return [
        (
            _ListHistogram(s.cpu_usage.histogram),
            _ListHistogram(s.memory_peaks.histogram),
            s.first_sample_seconds,
            s.last_sample_seconds,
            s.total_samples_count,
        )
        for s in aggregates.values()
    ]


def _measure_memory(build: Callable[[], Any]) -> tuple[int, Any]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    built = build()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, built


def _upstream_percentile(histogram: Histogram, p: float) -> float:
    if histogram.is_empty():
        return 0.0
    partial, threshold, bucket = 0.0, p * histogram.total_weight, histogram.min_bucket
    while bucket < histogram.max_bucket:
        partial += histogram.bucket_weight(bucket)
        if partial >= threshold:
            break
        bucket += 1
    last = histogram.options.num_buckets - 1
    return histogram.options.bucket_start(bucket + 1 if bucket < last else bucket)


def _amount(value: float) -> int:
    return 0 if value < 0 else min(int(value), 10**14) if not math.isinf(value) else 10**14


def _upstream_pass(aggregates: dict[str, AggregateContainerState]) -> int:
    """Upstream's recommender restated stage by stage (resource maps, one walk per percentile)."""
    total = 0
    for state in aggregates.values():
        span = ((state.last_sample_seconds or 0) - (state.first_sample_seconds or 0)) / DAY
        conf = min(span, state.total_samples_count / 1440)
        bounds = {"target": 0.9, "lower": 0.5, "upper": 0.95}
        for name, p in bounds.items():
            resources = {
                "cpu": _amount(_upstream_percentile(state.cpu_usage.histogram, p) * 1000),
                "memory": _amount(_upstream_percentile(state.memory_peaks.histogram, p)),
            }
            resources = {k: v + _amount(v * 0.15) for k, v in resources.items()}
            if name != "target":
                m, e = (1.0, 1.0) if name == "upper" else (0.001, -2.0)
                factor = (
                    math.inf if conf == 0 and e > 0 else (0.0 if conf == 0 else (1 + m / conf) ** e)
                )
                resources = {k: _amount(v * factor) for k, v in resources.items()}
            minimum = {"cpu": 25, "memory": 262_144_000}
            resources = {k: max(v, minimum[k]) for k, v in resources.items()}
            total += resources["cpu"]
    return total


def _our_pass(aggregates: dict[str, AggregateContainerState]) -> int:
    total = 0
    for name, state in aggregates.items():
        result = recommend({name: state})
        total += result.containers[0].target.cpu_millicores or 0
    return total


def _cpu_seconds(fn: Callable[[], Any]) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def part_one(count: int, rounds: int) -> None:
    print(f"\n## {count:,} containers' histograms (load average {_load()})")
    started = time.process_time()
    ours_bytes, aggregates = _measure_memory(lambda: _fill(count))
    fill = time.process_time() - started
    naive_bytes, naive = _measure_memory(lambda: _list_copies(aggregates))
    del naive
    print(f"filled in {fill:.1f} s CPU (96 CPU samples and a memory window each)")
    print("| measure | podscaler | baseline | ratio |")
    print("|---|---|---|---|")
    print(
        f"| memory of the histograms | {ours_bytes / 2**20:,.0f} MiB | "
        f"{naive_bytes / 2**20:,.0f} MiB (weights in lists) | {ours_bytes / naive_bytes:.2f} |"
    )
    ours_times, upstream_times = [], []
    for _ in range(rounds):  # A/B/A/B
        ours_times.append(_cpu_seconds(lambda: _our_pass(aggregates)))
        upstream_times.append(_cpu_seconds(lambda: _upstream_pass(aggregates)))
    ours_best, upstream_best = min(ours_times), min(upstream_times)
    print(
        f"| one recommendation pass (CPU, best of {rounds}) | {ours_best:.2f} s | "
        f"{upstream_best:.2f} s (upstream's walk per percentile) | "
        f"{ours_best / upstream_best:.2f} |"
    )
    sample = dict(list(aggregates.items())[: min(count, 10_000)])
    build = _cpu_seconds(
        lambda: [json.dumps(checkpoint_status(s, START + DAY)) for s in sample.values()]
    )
    built = [checkpoint_status(s, START + DAY) for s in sample.values()]
    serialize = _cpu_seconds(lambda: [json.dumps(b) for b in built])
    print(
        f"| checkpoints built + serialized | {len(sample) / build:,.0f}/s | "
        f"{len(sample) / serialize:,.0f}/s (serializing only) | {serialize / build:.2f} |"
    )


# ------------------------------------------------------------------------------- part 2


def _raw_fetch(url: str, namespaces: list[str], start: float, end: float) -> int:
    """The floor: the same day-sized range queries, urllib + json.loads, no grouping."""
    from podscaler.controllers.vertical.history import chunks, cpu_query, memory_query

    samples = 0
    for query in (cpu_query(namespaces, "5m"), memory_query(namespaces)):
        for low, high in chunks(start, end, 60):
            params = urllib.parse.urlencode(
                {"query": query, "start": int(low), "end": int(high), "step": "60s"}
            )
            with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=600) as r:
                for series in json.load(r)["data"]["result"]:
                    samples += len(series["values"])
    return samples


def part_two(containers: int, days: int, rounds: int) -> None:
    from podscaler.commands.recommending import Prices, run_recommend
    from podscaler.controllers.vertical.history import PrometheusSettings
    from tests.fixtures.prometheus_history import (
        MIB,
        ContainerSpec,
        PodSpec,
        binaries,
        prometheus_with_history,
    )

    if binaries() is None:
        print("\n## recommend: skipped — prometheus/promtool not installed")
        return
    minutes = days * 1440
    end = int(START + 30 * DAY) // 3600 * 3600
    start = end - (minutes - 1) * 60
    rng = random.Random(3)
    pods = []
    for index in range(containers):
        level, memory = rng.lognormvariate(-1.5, 1.0), rng.lognormvariate(19.5, 0.8)
        pods.append(
            PodSpec(
                namespace=f"team{index % 10}",
                pod=f"app{index}-7c9d8f6b5-x2x7k",
                owner_kind="ReplicaSet",
                owner_name=f"app{index}-7c9d8f6b5",
                deployment=f"app{index}",
                containers=[
                    ContainerSpec(
                        "main",
                        cpu_cores=lambda m, lv=level: lv * (1 + 0.5 * math.sin(m / 240)),
                        memory_bytes=lambda m, mb=memory: mb + (m % 1440) * MIB / 100,
                        requests={"cpu": 0.5, "memory": 512 * MIB},
                    )
                ],
            )
        )
    print(f"\n## recommend: {containers:,} containers x {days} days (load average {_load()})")
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        _pin(0)  # promtool and Prometheus inherit CPU 0; the code under test goes back to 1
        with prometheus_with_history(Path(workdir), pods, start, minutes) as url:
            _pin(1)
            print(f"backfilled and started in {time.perf_counter() - started:.0f} s")
            settings = PrometheusSettings(url)
            rows_ours, rows_raw = [], []
            for _ in range(rounds):  # A/B/A/B
                wall = time.perf_counter()
                report = asyncio.run(
                    run_recommend(
                        settings,
                        namespaces=[],
                        start=float(start),
                        end=float(end),
                        step_seconds=60,
                        rate_window="5m",
                        strategy="vpa",
                        prices=Prices(),
                    )
                )
                rows_ours.append((time.perf_counter() - wall, report))
                wall = time.perf_counter()
                samples = _raw_fetch(url, [], float(start), float(end))
                rows_raw.append((time.perf_counter() - wall, samples))
            best_wall, report = min(rows_ours, key=lambda row: row[0])
            raw_wall, raw_samples = min(rows_raw, key=lambda row: row[0])
            print("| measure | podscaler recommend | baseline: bare fetch | ratio |")
            print("|---|---|---|---|")
            print(
                f"| wall time, best of {rounds} | {best_wall:.1f} s | {raw_wall:.1f} s | "
                f"{best_wall / raw_wall:.2f} |"
            )
            print(
                f"| of which fetching (wall; {report.prometheus_seconds:.1f} s inside queries "
                f"summed over 2 threads) | {report.fetch_seconds:.1f} s | {raw_wall:.1f} s | "
                f"{report.fetch_seconds / raw_wall:.2f} |"
            )
            print(f"| of which estimating (CPU) | {report.compute_seconds:.1f} s | - | - |")
            print(
                f"| samples | {report.samples:,} in {report.queries} queries | "
                f"{raw_samples:,} | - |"
            )
            print(f"| rows | {len(report.rows):,} | - | - |")


# ------------------------------------------------------------------------------- part 3


async def _controller(scalers: int, passes: int) -> None:
    """The recommender over HTTP against the embedded API server, in this process."""
    from datetime import UTC, datetime, timedelta

    from podscaler.controllers.vertical import VerticalRecommender, VerticalSettings
    from podscaler.controllers.vertical.checkpointing import CHECKPOINTS
    from podscaler.kube.clients import MERGE_PATCH, connect
    from podscaler.sim.apiserver.server import ApiServer

    moment = [datetime(2026, 3, 2, tzinfo=UTC)]

    def now() -> datetime:
        return moment[0]

    base = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default"
    async with ApiServer(now=now, bookmark_interval=60.0) as server:
        with tempfile.TemporaryDirectory() as workdir:
            path = server.write_kubeconfig(Path(workdir) / "kubeconfig")
            async with await connect(kubeconfig=path) as kube:
                pods = []
                for index in range(scalers):
                    name = f"app{index}"
                    labels = {"app": name}
                    template = {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "main", "image": "x"}]},
                    }
                    await kube.request(
                        "POST",
                        "/apis/apps/v1/namespaces/default/deployments",
                        body={
                            "metadata": {"name": name},
                            "spec": {
                                "replicas": 2,
                                "selector": {"matchLabels": labels},
                                "template": template,
                            },
                        },
                    )
                    await kube.request(
                        "POST",
                        f"{base}/verticalscalers",
                        body={
                            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
                            "kind": "VerticalScaler",
                            "metadata": {"name": name},
                            "spec": {
                                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                              "name": name},
                                "updatePolicy": {"updateMode": "Off"},
                            },
                        },
                    )  # fmt: skip
                    for replica in range(2):
                        pod_name = f"{name}-{replica}"
                        created = await kube.request(
                            "POST",
                            "/api/v1/namespaces/default/pods",
                            body={"metadata": {"name": pod_name, "labels": labels},
                                  "spec": template["spec"]},
                        )  # fmt: skip
                        created["status"] = {
                            "phase": "Running",
                            "startTime": "2026-03-01T00:00:00Z",
                        }
                        await kube.request(
                            "PUT", f"/api/v1/namespaces/default/pods/{pod_name}/status",
                            body=created,
                        )  # fmt: skip
                        pods.append(pod_name)
                rng = random.Random(5)

                def publish() -> None:
                    for pod_name in pods:
                        server.set_pod_metrics(
                            "default",
                            pod_name,
                            {"main": {"cpu": f"{rng.randint(50, 900)}m",
                                      "memory": f"{rng.randint(50, 400)}Mi"}},
                        )  # fmt: skip

                publish()
                settings = VerticalSettings(
                    recommender_interval_seconds=1e9, checkpoint_interval_seconds=0.0
                )
                rec = VerticalRecommender(kube, namespace="default", now=now, settings=settings)
                await rec.start()
                await rec.wait_synced(600)
                await rec.wait_pass(600)
                ours: list[tuple[float, float]] = []
                floor: list[tuple[float, float]] = []
                for _ in range(passes):  # A/B/A/B
                    moment[0] += timedelta(seconds=60)
                    publish()
                    wall, cpu = time.perf_counter(), time.process_time()
                    await rec.run_pass()
                    ours.append((time.perf_counter() - wall, time.process_time() - cpu))
                    # The floor: the same requests a pass sends, with nothing computed.
                    wall, cpu = time.perf_counter(), time.process_time()
                    await kube.request(
                        "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods"
                    )
                    gate = asyncio.Semaphore(settings.concurrency)

                    async def bare(name: str, gate: asyncio.Semaphore = gate) -> None:
                        state = rec.states[("default", name)]
                        async with gate:
                            await kube.request(
                                "GET", f"/apis/apps/v1/namespaces/default/deployments/{name}/scale"
                            )
                        async with gate:
                            await kube.request(
                                "PATCH", f"{base}/verticalscalers/{name}/status",
                                body={"status": state.written_status}, content_type=MERGE_PATCH,
                            )  # fmt: skip
                        async with gate:
                            await kube.request(
                                "PATCH", CHECKPOINTS.path("default", f"{name}-main", "status"),
                                body={"status": {"totalSamplesCount": 1}},
                                content_type=MERGE_PATCH,
                            )  # fmt: skip

                    await asyncio.gather(*(bare(f"app{index}") for index in range(scalers)))
                    floor.append((time.perf_counter() - wall, time.process_time() - cpu))
                await rec.aclose()
    best, base_best = min(ours), min(floor)
    print("| measure | recommender pass | baseline: the same requests, nothing computed | ratio |")
    print("|---|---|---|---|")
    print(
        f"| wall, best of {passes} | {best[0]:.2f} s | {base_best[0]:.2f} s | "
        f"{best[0] / base_best[0]:.2f} |"
    )
    print(
        f"| CPU (client and embedded server, one process) | {best[1]:.2f} s | "
        f"{base_best[1]:.2f} s | {best[1] / base_best[1]:.2f} |"
    )
    print(
        f"| checkpoints written per second of pass | {scalers / best[0]:,.0f}/s | "
        f"{scalers / base_best[0]:,.0f}/s | - |"
    )


def part_three(scalers: int, passes: int) -> None:
    print(
        f"\n## recommender pass over HTTP: {scalers:,} VerticalScalers x 2 pods "
        f"(load average {_load()})"
    )
    asyncio.run(_controller(scalers, passes))


async def _admission(admissions: int, scalers: int = 50) -> None:
    """The webhook's latency per admission, from memory and from the API (interleaved)."""
    import base64
    import logging
    import ssl
    from contextlib import suppress
    from datetime import UTC, datetime, timedelta

    import aiohttp

    from podscaler.controllers.vertical import VerticalRecommender, VerticalSettings
    from podscaler.controllers.vertical.admission import WebhookGate, serve_admission_webhook
    from podscaler.kube.clients import connect
    from podscaler.serving.security import CertificateOptions
    from podscaler.serving.server import SecureServer
    from podscaler.sim.apiserver.server import ApiServer

    logging.getLogger("podscaler.serving").setLevel(logging.ERROR)
    moment = [datetime(2026, 3, 2, tzinfo=UTC)]

    def now() -> datetime:
        return moment[0]

    base = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default"
    async with ApiServer(now=now, bookmark_interval=60.0) as server:
        with tempfile.TemporaryDirectory() as workdir:
            path = server.write_kubeconfig(Path(workdir) / "kubeconfig")
            async with await connect(kubeconfig=path) as kube:
                for index in range(scalers):
                    name = f"app{index}"
                    labels = {"app": name}
                    spec = {"containers": [{"name": "main", "image": "x"}]}
                    await kube.request(
                        "POST", "/apis/apps/v1/namespaces/default/deployments",
                        body={"metadata": {"name": name}, "spec": {
                            "replicas": 1, "selector": {"matchLabels": labels},
                            "template": {"metadata": {"labels": labels}, "spec": spec}}},
                    )  # fmt: skip
                    await kube.request(
                        "POST", f"{base}/verticalscalers",
                        body={"apiVersion": "autoscaling.podscaler.io/v1alpha1",
                              "kind": "VerticalScaler", "metadata": {"name": name},
                              "spec": {"targetRef": {"apiVersion": "apps/v1",
                                                     "kind": "Deployment", "name": name},
                                       "updatePolicy": {"updateMode": "Initial"}}},
                    )  # fmt: skip
                    created = await kube.request(
                        "POST", "/api/v1/namespaces/default/pods",
                        body={"metadata": {"name": f"{name}-0", "labels": labels},
                              "spec": spec},
                    )  # fmt: skip
                    created["status"] = {"phase": "Running", "startTime": "2026-03-01T00:00:00Z"}
                    await kube.request(
                        "PUT", f"/api/v1/namespaces/default/pods/{name}-0/status", body=created
                    )
                    server.set_pod_metrics(
                        "default", f"{name}-0", {"main": {"cpu": "400m", "memory": "200Mi"}}
                    )
                settings = VerticalSettings(recommender_interval_seconds=1e9, updater=False)
                rec = VerticalRecommender(kube, namespace="default", now=now, settings=settings)
                await rec.start()
                await rec.wait_synced(600)
                await rec.wait_pass(600)
                moment[0] += timedelta(seconds=60)
                await rec.run_pass()
                gate = WebhookGate()
                gate.recommender = rec
                ready: dict[str, asyncio.Future[SecureServer]] = {}
                tasks = []
                loop = asyncio.get_running_loop()
                for label, source in (("memory", gate), ("api", None)):
                    await kube.request(  # where each publishes its CA, as in a cluster
                        "POST",
                        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
                        body={"metadata": {"name": f"bench-{label}"}, "webhooks": [{
                            "name": f"{label}.bench.podscaler.io",
                            "admissionReviewVersions": ["v1"], "sideEffects": "None",
                            "clientConfig": {"url": "https://127.0.0.1/"}}]},
                    )  # fmt: skip
                    ready[label] = loop.create_future()
                    tasks.append(
                        loop.create_task(
                            serve_admission_webhook(
                                kube,
                                host="127.0.0.1",
                                port=0,
                                certificates=CertificateOptions(),
                                configuration=f"bench-{label}",
                                service=("podscaler", "podscaler-webhook"),
                                on_ready=ready[label].set_result,
                                source=source,
                            )
                        )
                    )
                ports = {label: (await future).port for label, future in ready.items()}
                verified: dict[str, ssl.SSLContext] = {}
                for label in ports:  # kube-apiserver verifies against the published bundle
                    stored = await kube.request(
                        "GET",
                        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/"
                        f"bench-{label}",
                    )
                    bundle = stored["webhooks"][0]["clientConfig"]["caBundle"]
                    verified[label] = ssl.create_default_context(
                        cadata=base64.b64decode(bundle).decode()
                    )
                latencies: dict[str, list[float]] = {"memory": [], "api": []}
                patched = {"memory": 0, "api": 0}
                async with aiohttp.ClientSession() as session:

                    async def admit(label: str, serial: int) -> None:
                        app = f"app{serial % scalers}"
                        review = {
                            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                            "request": {
                                "uid": f"{label}-{serial}", "operation": "CREATE",
                                "namespace": "default",
                                "resource": {"group": "", "version": "v1", "resource": "pods"},
                                "object": {"metadata": {"name": f"{app}-x{serial}",
                                                        "labels": {"app": app}},
                                           "spec": {"containers": [{"name": "main",
                                                                    "image": "x"}]}}}}  # fmt: skip
                        started = time.perf_counter()
                        async with session.post(
                            f"https://127.0.0.1:{ports[label]}/mutate-pods",
                            json=review,
                            ssl=verified[label],
                            server_hostname="podscaler-webhook.podscaler.svc",
                        ) as answer:
                            body = await answer.json()
                        latencies[label].append(time.perf_counter() - started)
                        patched[label] += "patch" in body["response"]

                    for label in ("memory", "api"):  # warm: TLS handshakes, first answers
                        await admit(label, 0)
                    latencies = {"memory": [], "api": []}
                    patched = {"memory": 0, "api": 0}
                    serial = 0
                    while serial < admissions:  # A/B/A/B in batches of 50
                        for label in ("memory", "api"):
                            for offset in range(min(50, admissions - serial)):
                                await admit(label, serial + offset)
                        serial += 50
                for task in tasks:
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
                await rec.aclose()

    def pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)] * 1000

    print("| measure | from the recommender's memory | baseline: read from the API per pod |")
    print("|---|---|---|")
    for name, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        print(
            f"| {name} per admission | {pct(latencies['memory'], p):.2f} ms | "
            f"{pct(latencies['api'], p):.2f} ms |"
        )
    print(f"| admissions (patched) | {len(latencies['memory'])} ({patched['memory']}) | "
          f"{len(latencies['api'])} ({patched['api']}) |")  # fmt: skip


def part_four(admissions: int) -> None:
    print(
        f"\n## admission webhook: {admissions:,} pod admissions over TLS, 50 VerticalScalers in "
        f"the namespace (load average {_load()})"
    )
    asyncio.run(_admission(admissions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--prometheus", action="store_true", help="also run part 2")
    parser.add_argument("--prom-containers", type=int, default=200)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument(
        "--controller", type=int, default=0, help="part 3: this many VerticalScalers over HTTP"
    )
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument(
        "--admission", type=int, default=0, help="part 4: this many webhook admissions"
    )
    parser.add_argument(
        "--only-admission", action="store_true", help="skip part 1 (with --admission)"
    )
    args = parser.parse_args()
    pinned = _pin(1)
    print(
        f"vertical benchmark ({pinned}) — Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    if not args.only_admission:
        part_one(args.containers, args.rounds)
    if args.prometheus:
        part_two(args.prom_containers, args.days, args.rounds)
    if args.controller:
        part_three(args.controller, args.passes)
    if args.admission:
        part_four(args.admission)


if __name__ == "__main__":
    main()
