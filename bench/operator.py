"""Benchmark: the ScaledObject controller's scale loop at 100, 1,000 and 10,000 objects.

Setup, three processes so the operator's own CPU and memory are measured alone:

1. the embedded API server (``podscaler cluster serve``), holding N Deployments and N
   ScaledObjects;
2. a minimal **Prometheus-API-compatible endpoint** (an aiohttp app answering
   ``/api/v1/query`` with a constant sample, started by this script with ``--serve-prom``):
   a real Prometheus cannot serve 10,000 queries per 30 s beside the operator on a 2-core
   machine, and the scale loop is what is measured here, not PromQL;
3. this process: the ScaledObject controller (the same code ``podscaler run`` runs), with a
   hook on each evaluation's lateness.

Each ScaledObject has one prometheus trigger (threshold 10, activationThreshold 0, the
endpoint answers 5) and ``minReplicaCount: 1``: every poll is active, queries its source and
refreshes ``lastActiveTime`` (one status write per poll, as KEDA does), and the replica count
stays at 1, so no ``/scale`` writes happen in the steady state.

Measured over ``--periods`` polling intervals after one warm-up interval:

* **lateness** of each evaluation against its schedule, what ``keda_internal_scale_loop_
  latency_seconds`` reports: p50 / p95 / p99 / max;
* **CPU seconds per evaluation** of this process (user + system, ``getrusage``);
* **RSS** of this process (``VmRSS``, and the peak ``VmHWM``).

Baselines printed beside the figures: KEDA's own performance harness (kedacore/keda-
performance) accepts p95 < 20 ms at 100 and < 75 ms at 1,000 objects; podscaler's targets are
p95 < 20 ms at 1,000, < 75 ms at 10,000 and RSS < 500 MiB at 10,000.

Usage: ``python bench/operator.py [--sizes 100,1000,10000] [--polling-interval 30]
[--periods 2]``. A shorter interval is a proportionally heavier load (same objects, more polls
per second).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEDA_ANCHOR_P95_MS = {100: 20.0, 1000: 75.0}
TARGET_P95_MS = {1000: 20.0, 10000: 75.0}
TARGET_RSS_MIB = {10000: 500.0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_prom(port: int) -> None:
    """The Prometheus-API-compatible endpoint (a second process)."""
    from aiohttp import web

    body = (
        b'{"status":"success","data":{"resultType":"vector",'
        b'"result":[{"metric":{},"value":[0,"5"]}]}}'
    )

    async def query(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=4096)


def _rss_mib() -> tuple[float, float]:
    rss = hwm = 0.0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _wait_port(port: int, limit_seconds: float = 30.0) -> None:
    async with asyncio.timeout(limit_seconds):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                await asyncio.sleep(0.1)


async def _populate(kube: Any, n: int, prom_url: str, interval: int) -> None:
    sem = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        name = f"w{i:05d}"
        labels = {"app": name}
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "x"}]},
                },
            },
        }
        so = {
            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": name},
            "spec": {
                "scaleTargetRef": {"name": name},
                "pollingInterval": interval,
                "minReplicaCount": 1,
                "maxReplicaCount": 10,
                "triggers": [
                    {
                        "type": "prometheus",
                        "metadata": {
                            "serverAddress": prom_url,
                            "query": f'sum(queue{{name="{name}"}})',
                            "threshold": "10",
                        },
                    }
                ],
            },
        }
        async with sem:
            await kube.request(
                "POST", "/apis/apps/v1/namespaces/default/deployments", body=deployment
            )
            await kube.request(
                "POST",
                "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default/scaledobjects",
                body=so,
            )

    await asyncio.gather(*(one(i) for i in range(n)))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def measure(n: int, interval: int, periods: int) -> dict[str, Any]:
    from podscaler.controllers.scaledobject import ScaledObjectController
    from podscaler.kube.clients import connect

    workdir = Path(tempfile.mkdtemp(prefix="podscaler-bench-"))
    api_port, prom_port = _free_port(), _free_port()
    kubeconfig = workdir / "kubeconfig"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    quiet = asyncio.subprocess.DEVNULL
    api = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "podscaler", "cluster", "serve", "--port", str(api_port),
        "--kubeconfig", str(kubeconfig), stdout=quiet, stderr=quiet, env=env, cwd=ROOT,
    )  # fmt: skip
    prom = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-prom", str(prom_port),
        stdout=quiet, stderr=quiet, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        await _wait_port(api_port)
        await _wait_port(prom_port)
        for _ in range(300):
            if kubeconfig.exists():
                break
            await asyncio.sleep(0.1)
        kube = await connect(kubeconfig=kubeconfig)
        t0 = time.perf_counter()
        await _populate(kube, n, f"http://127.0.0.1:{prom_port}", interval)
        populate_s = time.perf_counter() - t0
        await kube.close()

        kube = await connect(kubeconfig=kubeconfig)
        controller = ScaledObjectController(
            kube, namespace="default", now=lambda: datetime.now(UTC)
        )
        samples: list[float] = []
        measuring = False

        def on_lateness(seconds: float) -> None:
            if measuring:
                samples.append(seconds)

        controller.on_lateness = on_lateness
        await controller.start()
        await controller.wait_synced(120)
        await asyncio.sleep(interval)  # warm-up: every object polls once, sources connect
        measuring = True
        evaluations0, cpu0 = controller.evaluations, _cpu_seconds()
        await asyncio.sleep(interval * periods)
        measuring = False
        evaluations = controller.evaluations - evaluations0
        cpu = _cpu_seconds() - cpu0
        rss, hwm = _rss_mib()
        errors = sum(
            1
            for key in controller.objects
            if (latest := controller.decisions.latest(*key)) is not None and latest.error
        )
        await controller.aclose()
        await kube.close()
        return {
            "objects": n,
            "interval_s": interval,
            "populate_s": populate_s,
            "evaluations": evaluations,
            "expected": n * periods,
            "p50_ms": _percentile(samples, 50) * 1000,
            "p95_ms": _percentile(samples, 95) * 1000,
            "p99_ms": _percentile(samples, 99) * 1000,
            "max_ms": max(samples) * 1000 if samples else float("nan"),
            "mean_ms": statistics.fmean(samples) * 1000 if samples else float("nan"),
            "cpu_ms_per_eval": cpu / evaluations * 1000 if evaluations else float("nan"),
            "cpu_share": cpu / (interval * periods),
            "rss_mib": rss,
            "hwm_mib": hwm,
            "objects_in_error": errors,
        }
    finally:
        for process in (api, prom):
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


def _verdict(n: int, result: dict[str, Any]) -> str:
    notes = []
    if n in KEDA_ANCHOR_P95_MS:
        notes.append(f"KEDA harness p95 < {KEDA_ANCHOR_P95_MS[n]:g} ms")
    if n in TARGET_P95_MS:
        ok = result["p95_ms"] < TARGET_P95_MS[n]
        notes.append(f"target p95 < {TARGET_P95_MS[n]:g} ms: {'met' if ok else 'MISSED'}")
    if n in TARGET_RSS_MIB:
        ok = result["hwm_mib"] < TARGET_RSS_MIB[n]
        notes.append(f"target RSS < {TARGET_RSS_MIB[n]:g} MiB: {'met' if ok else 'MISSED'}")
    return "; ".join(notes)


async def main_async(sizes: list[int], interval: int, periods: int) -> None:
    print(f"# podscaler operator scale loop — {datetime.now(UTC):%Y-%m-%d} — "
          f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus, Python "
          f"{platform.python_version()}")  # fmt: skip
    print(f"pollingInterval {interval} s, {periods} measured periods after one warm-up period")
    print(
        "| objects | evaluations (expected) | lateness p50 / p95 / p99 / max (ms) "
        "| CPU ms / evaluation | CPU share | RSS / peak (MiB) | baseline |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        r = await measure(n, interval, periods)
        print(
            f"| {n:,} | {r['evaluations']:,} ({r['expected']:,}) "
            f"| {r['p50_ms']:.1f} / {r['p95_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} "
            f"| {r['cpu_ms_per_eval']:.2f} | {r['cpu_share']:.0%} "
            f"| {r['rss_mib']:.0f} / {r['hwm_mib']:.0f} | {_verdict(n, r)} |",
            flush=True,
        )
        if r["objects_in_error"]:
            print(f"  ({r['objects_in_error']} objects ended with an error)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve-prom", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--polling-interval", type=int, default=30)
    parser.add_argument("--periods", type=int, default=2)
    args = parser.parse_args()
    if args.serve_prom:
        serve_prom(args.serve_prom)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    asyncio.run(main_async(sizes, args.polling_interval, args.periods))


if __name__ == "__main__":
    main()
