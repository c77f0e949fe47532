"""Benchmark: a simulated day of a 50-node, 100-workload cluster (~2,000 pods, 15-second ticks).

Target (issue 3): under 60 s of wall time on one core. Two cases run, each in its own process
(so peak memory is its own; pinned to CPU 1 on a machine with two or more CPUs and
``taskset``, the load average printed beside each), on the unlimited simulated clock:

* ``load-only`` (the baseline): the same cluster with fixed replicas — what the load model,
  metrics publishing and timeline cost by themselves;
* ``scaling``: every minute a scripted autoscaler sets each Deployment's replicas from its
  demand (the way an operator's ``/scale`` writes would), so ReplicaSets create and delete
  pods, the scheduler binds them, the kubelet starts and stops them all day.

No operator runs here (it has its own benchmarks); the world is what is measured. Figures:
wall seconds, simulated seconds per wall second, store writes, pod starts, peak RSS.

    python bench/world.py                 # both cases, 24 h
    python bench/world.py --hours 1       # quicker
    python bench/world.py --record        # also append the results to bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NODES = 50
WORKLOADS = 100
PODS_PER_WORKLOAD = 20
TICK_SECONDS = 15.0
SCALE_EVERY_SECONDS = 60.0
TARGET_WALL_SECONDS = 60.0


def _deployment(index: int, replicas: int) -> dict[str, Any]:
    name = f"app-{index:03d}"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": f"team-{index % 10}"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.k8s.io/pause:3.10",
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "500m", "memory": "512Mi"},
                            },
                        }
                    ]
                },
            },
        },
    }


async def _run_case(case: str, hours: float) -> dict[str, Any]:
    from podscaler.nodes.providers.sim import NodeGroupSpec
    from podscaler.sim.apiserver.server import ApiServer
    from podscaler.sim.clock import SimulatedEventLoop
    from podscaler.sim.world.load import Diurnal, UsageModel
    from podscaler.sim.world.profiles import Profiles, WorkloadProfile
    from podscaler.sim.world.world import World

    loop = __import__("asyncio").get_running_loop()
    assert isinstance(loop, SimulatedEventLoop)
    server = ApiServer(now=loop.clock.now, install_crds=False)
    profiles = Profiles()
    curves = []
    for index in range(WORKLOADS):
        # Each workload peaks at its own hour; 20 pods' worth on average, 10..30 over the day.
        curve = Diurnal(base=200.0, amplitude=100.0, peak_at_seconds=(index % 24) * 3600.0)
        curves.append(curve)
        profiles.set(
            f"team-{index % 10}",
            f"app-{index:03d}",
            WorkloadProfile(
                demand=curve,
                usage=UsageModel(
                    cpu_base_millicores=5, cpu_millicores_per_unit=5, memory_base_bytes=64 * 2**20
                ),
            ),
        )
    world = World(server, profiles=profiles, tick_seconds=TICK_SECONDS, seed=1)
    world.cloud.add_group(
        NodeGroupSpec(
            name="general",
            capacity={"cpu": "16", "memory": "64Gi", "pods": "110"},
            min_size=NODES,
            max_size=NODES,
            initial_size=NODES,
        )
    )
    namespaces = world.ctx.kinds.namespaces
    for team in range(10):
        world.ctx.writer.create(namespaces, {"metadata": {"name": f"team-{team}"}})
    world.start()
    world.step()
    for index in range(WORKLOADS):
        world.ctx.writer.create(
            world.ctx.kinds.deployments, _deployment(index, PODS_PER_WORKLOAD), f"team-{index % 10}"
        )
    deployments = world.ctx.kinds.deployments
    store = server.store
    scale_writes = 0

    async def autoscale() -> None:
        nonlocal scale_writes
        while True:
            await __import__("asyncio").sleep(SCALE_EVERY_SECONDS)
            seconds = world.seconds()
            for index, curve in enumerate(curves):
                want = max(1, math.ceil(curve.demand_at(seconds) / 10.0))
                entry = store.get(deployments, f"team-{index % 10}", f"app-{index:03d}")
                if entry.obj["spec"]["replicas"] != want:
                    new = dict(entry.obj)
                    new["metadata"] = dict(entry.obj["metadata"])
                    new["spec"] = {**entry.obj["spec"], "replicas": want}
                    world.ctx.writer.replace(deployments, new)
                    scale_writes += 1

    scaler = loop.create_task(autoscale()) if case == "scaling" else None
    started = time.perf_counter()
    await world.run(until_seconds=hours * 3600.0)
    wall = time.perf_counter() - started
    if scaler is not None:
        scaler.cancel()
    pods = len(world.ctx.state.pods)
    figures = {
        "case": case,
        "simulated_seconds": world.seconds(),
        "wall_seconds": wall,
        "simulated_per_wall": world.seconds() / wall,
        "ticks": world.ticks,
        "writes": world.ctx.writer.writes,
        "scale_writes": scale_writes,
        "scheduling_attempts": world.scheduler.attempts,
        "usage_samples": world.load.published,
        "pods_at_end": pods,
        "nodes": len(world.ctx.state.nodes),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    await world.stop()
    return figures


def _child(case: str, hours: float) -> None:
    from podscaler.sim.clock import run_simulated

    figures = run_simulated(_run_case(case, hours))
    print(json.dumps(figures))


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _measure(case: str, hours: float) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", case, "--hours", str(hours)]
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        command = ["taskset", "-c", "1", *command]
    load_before = _loadavg()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = f"{load_before} → {_loadavg()}"
    return result


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def _table(rows: list[dict[str, Any]], hours: float) -> str:
    lines = [
        "| case | simulated | wall | sim-s per wall-s | store writes | scale writes | "
        "usage samples | pods at end | peak RSS | load average before → after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {hours:g} h | {r['wall_seconds']:.1f} s | "
            f"{r['simulated_per_wall']:,.0f} | {r['writes']:,} | {r['scale_writes']:,} | "
            f"{r['usage_samples']:,} | {r['pods_at_end']:,} | {r['peak_rss_mib']:.0f} MiB "
            f"| {r['load']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.hours)
        return
    rows = [_measure("load-only", args.hours), _measure("scaling", args.hours)]
    table = _table(rows, args.hours)
    print(table)
    full = rows[1]
    verdict = (
        f"target: {args.hours:g} h in < {TARGET_WALL_SECONDS * args.hours / 24:.3g} s wall — "
        + ("met" if full["wall_seconds"] < TARGET_WALL_SECONDS * args.hours / 24 else "NOT met")
        + f"; scaling costs {full['wall_seconds'] / rows[0]['wall_seconds']:.1f}x the load-only "
        "baseline"
    )
    print(verdict)
    if args.record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        section = (
            f"\n## Simulated world (issue 3)\n\n"
            f"{stamp} — {_machine()}. `python bench/world.py` — {NODES} nodes, {WORKLOADS} "
            f"Deployments (~{NODES * 0 + WORKLOADS * PODS_PER_WORKLOAD:,} pods, 10..30 each over "
            f"a day), {TICK_SECONDS:g} s ticks, unlimited simulated clock, one process per case. "
            f"`scaling` rescales every Deployment from its demand each simulated minute "
            f"(controllers, scheduler and kubelet busy all day); `load-only` is the baseline "
            f"with fixed replicas.\n\n{table}\n\n{verdict}.\n"
        )
        results = ROOT / "bench" / "RESULTS.md"
        with results.open("a", encoding="utf-8") as handle:
            handle.write(section)
        print(f"appended to {results}")


if __name__ == "__main__":
    main()
