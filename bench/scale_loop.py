"""Benchmark: the ScaledObject controller's scale loop at 100, 1,000 and 10,000 objects.

Setup, four processes so the operator's own CPU and memory are measured alone:

1. the embedded API server (``podscaler cluster serve``), holding N Deployments and N
   ScaledObjects — a fresh one for every measurement, so no run inherits another's status;
2. a minimal **Prometheus-API-compatible endpoint** (an aiohttp app answering
   ``/api/v1/query`` with a constant sample, ``bench/harness.py --serve-prom``):
   a real Prometheus cannot serve 10,000 queries per 30 s beside the operator on a 2-core
   machine, and the scale loop is what is measured here, not PromQL;
3. the **operator under test** (``--run-operator``): the ScaledObject controller (the same
   code ``podscaler run`` runs, including its heap settling), with a hook on each
   evaluation's lateness; it reports its figures as one JSON line;
4. this process: creates the objects, starts and stops the others, and reads the CPU time
   the API server and the Prometheus endpoint used (to show they were not the bottleneck).

``--baseline REF`` measures, in the same run, the operator of an earlier commit (``git archive
REF`` unpacked to a temporary directory and put first on the operator process's
``PYTHONPATH``) beside the current tree: for each size the two alternate, ``--rounds`` times,
each in the same process layout, the order turning round every round (A/B, B/A, A/B …: with an
even number of rounds, A/B/B/A/A/B/B/A), so a change of machine load during the run shows in
both and a load that keeps rising or falling cannot favour the one measured first (on a shared
machine, three A/B pairs during a rising load gave the current tree, measured second each
time, 1.24x the baseline's p95 at the same CPU per evaluation). The summary per size
gives the medians over the rounds and the ratio current / baseline. Each row also gives the
operator's run-queue wait per evaluation (``/proc/self/task/*/schedstat``): time it was ready
to run while other processes held its core, the part of the lateness its own code did not
cause.

**Cores.** The targets are for an operator on one core. On a machine with two or more CPUs
(and ``taskset``), the operator process is pinned to CPU 1 and everything else — the API
server, the Prometheus stand-in and this driver — to CPU 0, so the operator has a core to
itself and the servers it talks to cannot take it (``--no-pin`` turns this off; the layout is
printed). The load average is printed beside every figure: on a shared machine it says how
much of the other core, and of the operator's, other work took.

Each ScaledObject has one prometheus trigger (threshold 10, activationThreshold 0, the
endpoint answers 5) and ``minReplicaCount: 1``: every poll is active and queries its source,
and the replica count stays at 1, so no ``/scale`` writes happen in the steady state. (KEDA
would also write ``lastActiveTime`` on every one of those polls; podscaler since issue 4 §7
only when activity changes or the persisted value is R old — see
``podscaler/controllers/scaledobject/status.py``; a ``--baseline`` before that commit shows
the difference.) The objects exist before the operator starts, as after a restart, and carry
what the cluster would hold then (:func:`harness.previous_status`): each Deployment's status (1 of 1
replicas ready) and each ScaledObject's status as the previous operator left it, written for
its current generation (``observedGeneration``). Without it every object looks new to an
operator that decides from the status whether nobody has polled an object yet (the current
one, since issue 10: :func:`podscaler.controllers.loop.status_is_current`); such objects are
polled at once, so the warm-up begins with 1,000 evaluations and status writes in the same
moment and a later schedule, compared with a baseline that spread them from
``creationTimestamp``, measured that artefact (p95 1.18x) instead of the loop.

Measured over ``--periods`` polling intervals after one warm-up interval:

* **lateness** of each evaluation against its schedule, what ``keda_internal_scale_loop_
  latency_seconds`` reports: p50 / p95 / p99 / max;
* **CPU seconds per evaluation** of this process (user + system, ``getrusage``);
* **RSS** of this process (``VmRSS``, and the peak ``VmHWM``).

Baselines printed beside the figures: KEDA's own performance harness (kedacore/keda-
performance) accepts p95 < 20 ms at 100 and < 75 ms at 1,000 objects; podscaler's targets are
p95 < 20 ms at 1,000, < 75 ms at 10,000 and RSS < 500 MiB at 10,000.

Usage: ``python bench/scale_loop.py [--sizes 100,1000,10000] [--polling-interval 30]
[--periods 2] [--baseline REF] [--rounds 2] [--no-pin]``. A shorter interval is a
proportionally heavier load (same objects, more polls per second); ``--sizes 20
--polling-interval 2 --periods 1`` checks the setup in seconds.

(This file was ``bench/operator.py`` until it was found shadowing the standard library's
``operator`` for every script run from ``bench/``.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: The tree whose operator is measured (``--baseline`` points the operator process elsewhere).
TREE = Path(os.environ.get("PODSCALER_BENCH_TREE") or ROOT)
sys.path.insert(0, str(TREE))

from harness import (  # noqa: E402  (bench/, beside this file; imports no podscaler)
    api_command,
    free_port,
    loadavg,
    populate,
    proc_cpu_seconds,
    prom_command,
    wait_port,
)

KEDA_ANCHOR_P95_MS = {100: 20.0, 1000: 75.0}
TARGET_P95_MS = {1000: 20.0, 10000: 75.0}
TARGET_RSS_MIB = {10000: 500.0}


#: CPU of the operator under test, and of everything else, when pinning (see the docstring).
OPERATOR_CPU = 1
SERVERS_CPU = 0


def _pinned(cpu: int | None, command: list[str]) -> list[str]:
    """``command`` run on ``cpu`` only (``taskset -c``), or as is when not pinning."""
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


def _can_pin() -> bool:
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def _rss_mib() -> tuple[float, float]:
    rss = hwm = 0.0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def _runqueue_wait_seconds() -> float:
    """Time this process's threads spent runnable but waiting for a CPU (``schedstat``): on a
    shared machine, the share of lateness that other processes caused, whatever our code does."""
    total = 0
    for stat in Path("/proc/self/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


class Lateness:
    """The controller's loop lateness, kept only while ``measuring`` (after the warm-up)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.measuring = False

    def __call__(self, seconds: float) -> None:
        if self.measuring:
            self.samples.append(seconds)


async def started_controller(kubeconfig: str) -> tuple[Any, Any, Lateness]:
    """The ScaledObject controller of the measured tree, started and synced over every
    namespace's objects in ``default``, with its lateness recorder (kube, controller, lateness).
    Imports happen here: the measured tree (a baseline's or this one) is on ``sys.path`` only in
    the operator's process."""
    import dataclasses

    from podscaler.controllers.scaledobject import ScaledObjectController, Settings
    from podscaler.kube.clients import connect

    kube = await connect(kubeconfig=Path(kubeconfig))
    known = {f.name for f in dataclasses.fields(Settings)}
    settings = Settings(**{k: v for k, v in {"start_spread": 1.0}.items() if k in known})
    controller = ScaledObjectController(
        kube, namespace="default", now=lambda: datetime.now(UTC), settings=settings
    )
    lateness = Lateness()
    controller.on_lateness = lateness
    await controller.start()
    await controller.wait_synced(300)
    return kube, controller, lateness


async def run_operator(kubeconfig: str, interval: int, periods: int) -> None:
    """The operator under test (``--run-operator``): one JSON line with its figures."""
    import json

    kube, controller, lateness = await started_controller(kubeconfig)
    samples = lateness.samples
    settle = None
    settling = None
    for home in ("podscaler.heap", "podscaler.operator"):  # where the measured tree has it
        with contextlib.suppress(ImportError, AttributeError):
            settling = importlib.import_module(home).settle_heap_periodically
            break
    if settling is not None:  # what ``podscaler run`` does for its heap
        settle = asyncio.get_running_loop().create_task(settling(interval))
    # Warm-up: every object polls once, sources connect, the heap is settled at its end.
    await asyncio.sleep(interval + 3.0)
    lateness.measuring = True
    evaluations0, cpu0, wait0 = controller.evaluations, _cpu_seconds(), _runqueue_wait_seconds()
    await asyncio.sleep(interval * periods)
    lateness.measuring = False
    evaluations = controller.evaluations - evaluations0
    cpu = _cpu_seconds() - cpu0
    waited = _runqueue_wait_seconds() - wait0
    rss, hwm = _rss_mib()
    errors = sum(
        1
        for key in controller.objects
        if (latest := controller.decisions.latest(*key)) is not None and latest.error
    )
    if settle is not None:
        settle.cancel()
    await controller.aclose()
    await kube.close()
    result = {
        "evaluations": evaluations,
        "samples": len(samples),
        "p50_ms": _percentile(samples, 50) * 1000,
        "p95_ms": _percentile(samples, 95) * 1000,
        "p99_ms": _percentile(samples, 99) * 1000,
        "max_ms": max(samples) * 1000 if samples else float("nan"),
        "mean_ms": statistics.fmean(samples) * 1000 if samples else float("nan"),
        "cpu_ms_per_eval": cpu / evaluations * 1000 if evaluations else float("nan"),
        "cpu_share": cpu / (interval * periods),
        "runqueue_wait_ms_per_eval": waited / evaluations * 1000 if evaluations else float("nan"),
        "rss_mib": rss,
        "hwm_mib": hwm,
        "objects_in_error": errors,
    }
    print(json.dumps(result), flush=True)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        async with asyncio.timeout(10):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


async def measure(
    n: int, interval: int, periods: int, prom_url: str, tree: Path, *, pin: bool
) -> dict[str, Any]:
    """One measurement: a fresh API server with N objects, then the operator of *tree*."""
    import json

    from podscaler.kube.clients import connect

    workdir = Path(tempfile.mkdtemp(prefix="podscaler-bench-"))
    api_port = free_port()
    kubeconfig = workdir / "kubeconfig"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    quiet = asyncio.subprocess.DEVNULL
    api = await asyncio.create_subprocess_exec(
        *_pinned(SERVERS_CPU if pin else None, api_command(api_port, kubeconfig)),
        stdout=quiet, stderr=quiet, env=env, cwd=ROOT,
    )  # fmt: skip
    operator: asyncio.subprocess.Process | None = None
    try:
        await wait_port(api_port)
        for _ in range(300):
            if kubeconfig.exists():
                break
            await asyncio.sleep(0.1)
        kube = await connect(kubeconfig=kubeconfig)
        t0 = time.perf_counter()
        await populate(kube, n, prom_url, interval, restored=True)
        populate_s = time.perf_counter() - t0
        await kube.close()
        await asyncio.sleep(2.0)  # objects exist before the operator starts, as after a restart
        load_before = loadavg()
        operator_env = {**os.environ, "PYTHONPATH": str(tree), "PODSCALER_BENCH_TREE": str(tree)}
        operator_command = [
            sys.executable, __file__, "--run-operator", str(kubeconfig),
            "--polling-interval", str(interval), "--periods", str(periods),
        ]  # fmt: skip
        operator = await asyncio.create_subprocess_exec(
            *_pinned(OPERATOR_CPU if pin else None, operator_command),
            stdout=asyncio.subprocess.PIPE, env=operator_env, cwd=tree,
        )  # fmt: skip
        api_cpu0 = proc_cpu_seconds(api.pid)
        assert operator.stdout is not None
        line = await operator.stdout.readline()
        api_cpu = proc_cpu_seconds(api.pid) - api_cpu0
        await operator.wait()
        if not line:
            raise RuntimeError(f"the operator under test ({tree}) reported nothing")
        result: dict[str, Any] = json.loads(line)
        result.update(
            objects=n,
            interval_s=interval,
            populate_s=populate_s,
            expected=n * periods,
            api_cpu_share=api_cpu / (interval * (periods + 1)),
            load_before=load_before,
            load_after=loadavg(),
        )
        return result
    finally:
        if operator is not None:
            await _stop(operator)
        await _stop(api)


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


def _baseline_tree(ref: str) -> Path:
    """The operator of commit *ref*, unpacked from ``git archive`` (no worktree, no checkout)."""
    import subprocess

    target = Path(tempfile.mkdtemp(prefix="podscaler-baseline-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _row(n: int, label: str, r: dict[str, Any]) -> str:
    return (
        f"| {n:,} | {label} | {r['evaluations']:,} ({r['expected']:,}) "
        f"| {r['p50_ms']:.1f} / {r['p95_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} "
        f"| {r['cpu_ms_per_eval']:.2f} | {r['runqueue_wait_ms_per_eval']:.2f} "
        f"| {r['cpu_share']:.0%} "
        f"| {r['rss_mib']:.0f} / {r['hwm_mib']:.0f} | {r['api_cpu_share']:.0%} "
        f"| {r['load_before']} → {r['load_after']} | {_verdict(n, r)} |"
    )


def _summary(n: int, runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Medians over the rounds per variant, and current / baseline when both ran."""
    lines = []
    medians: dict[str, dict[str, float]] = {}
    for label, results in runs.items():
        loads = [float(r[key].split()[0]) for r in results for key in ("load_before", "load_after")]
        medians[label] = {
            key: statistics.median(r[key] for r in results)
            for key in (
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "cpu_ms_per_eval",
                "hwm_mib",
                "runqueue_wait_ms_per_eval",
            )
        }
        m = medians[label]
        lines.append(
            f"  {n:,} {label}: median of {len(results)} — lateness p50 {m['p50_ms']:.1f} / "
            f"p95 {m['p95_ms']:.1f} / p99 {m['p99_ms']:.1f} ms, CPU {m['cpu_ms_per_eval']:.2f} "
            f"ms/evaluation, run-queue wait {m['runqueue_wait_ms_per_eval']:.2f} ms/evaluation, "
            f"peak RSS {m['hwm_mib']:.0f} MiB; 1-min load average "
            f"{min(loads):.2f} to {max(loads):.2f}"
        )
    labels = list(runs)
    if len(labels) == 2:
        base, current = medians[labels[0]], medians[labels[1]]
        ratios = ", ".join(
            f"{name} {current[key] / base[key]:.2f}x" if base[key] else f"{name} n/a"
            for name, key in (
                ("p95", "p95_ms"),
                ("CPU/evaluation", "cpu_ms_per_eval"),
                ("peak RSS", "hwm_mib"),
            )
        )
        lines.append(f"  {n:,} current / {labels[0]}: {ratios}")
    return lines


async def main_async(
    sizes: list[int],
    interval: int,
    periods: int,
    baseline: str | None,
    rounds: int,
    pin: bool,
) -> None:
    print(f"# podscaler operator scale loop — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — "
          f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus, Python "
          f"{platform.python_version()}; load average {loadavg()}")  # fmt: skip
    print(f"pollingInterval {interval} s, {periods} measured periods after one warm-up period")
    if pin:
        # The driver joins the servers: the operator's core is the operator's alone.
        os.sched_setaffinity(0, {SERVERS_CPU})
        print(
            f"cores: operator on CPU {OPERATOR_CPU}; API server, Prometheus stand-in and "
            f"driver on CPU {SERVERS_CPU} (taskset)"
        )
    else:
        print("cores: not pinned (one CPU, no taskset, or --no-pin)")
    variants: list[tuple[str, Path]] = []
    if baseline:
        variants.append((f"baseline {baseline}", _baseline_tree(baseline)))
        order = [
            ("baseline", "current") if i % 2 == 0 else ("current", "baseline")
            for i in range(rounds)
        ]
        print(f"interleaved: {' / '.join(label for pair in order for label in pair)} per size")
    variants.append(("current", ROOT))
    print(
        "| objects | operator | evaluations (expected) | lateness p50 / p95 / p99 / max (ms) "
        "| CPU ms / evaluation | run-queue wait ms / evaluation | CPU share | RSS / peak (MiB) "
        "| API server CPU share | load avg before → after | baseline |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    prom_port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    quiet = asyncio.subprocess.DEVNULL
    prom = await asyncio.create_subprocess_exec(
        *_pinned(SERVERS_CPU if pin else None, prom_command(prom_port)),
        stdout=quiet, stderr=quiet, env=env, cwd=ROOT,
    )  # fmt: skip
    summaries: list[str] = []
    try:
        await wait_port(prom_port)
        prom_url = f"http://127.0.0.1:{prom_port}"
        for n in sizes:
            runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in variants}
            for round_ in range(rounds):
                for label, tree in variants if round_ % 2 == 0 else variants[::-1]:
                    prom_cpu0 = proc_cpu_seconds(prom.pid)
                    r = await measure(n, interval, periods, prom_url, tree, pin=pin)
                    prom_cpu = proc_cpu_seconds(prom.pid) - prom_cpu0
                    runs[label].append(r)
                    print(_row(n, label, r), flush=True)
                    notes = [f"prometheus endpoint CPU {prom_cpu:.1f} s"]
                    if r["objects_in_error"]:
                        notes.append(f"{r['objects_in_error']} objects ended with an error")
                    print(f"  ({'; '.join(notes)})", flush=True)
            summaries.extend(_summary(n, runs))
    finally:
        await _stop(prom)
    print()
    print("\n".join(summaries))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--polling-interval", type=int, default=30)
    parser.add_argument("--periods", type=int, default=2)
    parser.add_argument("--baseline", help="also measure the operator of this git commit")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="measurements per variant and size, interleaved (baseline, current, ...)",
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin the operator and the servers to cores"
    )
    parser.add_argument("--run-operator", metavar="KUBECONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_operator:
        asyncio.run(run_operator(args.run_operator, args.polling_interval, args.periods))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    pin = not args.no_pin and _can_pin()
    asyncio.run(
        main_async(sizes, args.polling_interval, args.periods, args.baseline, args.rounds, pin)
    )


if __name__ == "__main__":
    main()
