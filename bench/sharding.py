"""Benchmark: memory per ScaledObject, and ScaledObjects sharded over 1, 2 and 3 replicas.

Two parts, each in fresh processes (``podscaler cluster serve``, a Prometheus-API stand-in
answering a constant, and the operator under test), so nothing measured shares a heap or a
tracer with this driver:

``memory`` — where the bytes per ScaledObject go. The operator under test is the ScaledObject
controller (what ``podscaler run`` runs, with its heap settling). With ``--trace`` it runs
under ``tracemalloc`` (25 frames) from its first import, and after one warm-up interval every
live allocation is charged to an *owner*: the innermost frame in podscaler's or the scalers'
code on its stack, grouped (informer cache, decision records, metric children, trigger clients,
per-object context and task, …). Two sizes give the per-object slope, free of the fixed cost of
the interpreter and the imports. Without ``--trace`` (tracemalloc's own bookkeeping doubles
the heap and slows the operator too much to reach a steady state) it reports the RSS, what
CPython's small-object allocator holds (live blocks, free blocks: fragmentation would show as
the second), how many kept decision records are packed, and the MiB reachable from each owner
(``gc.get_referents`` from the informer, the records, the metrics, each per-object context
field, the poll tasks; each byte charged to the first owner that reaches it). ``--settle S``
keeps the operator running until S seconds after its informer synced, sampling the RSS each
minute: the steady state is in time (records, HPA history, spans fill up over minutes), not in
polls. ``--share 1/3`` makes the controller poll only the objects a rendezvous owner would give
it among three members (the informer still caches every object): what one replica of three
holds.

``replicas`` — N objects, ``podscaler run --shard`` processes started one after the other (1,
then 2, then 3), then the third SIGKILLed. After each change: objects that changed owner
(compared with the ideal share, from ``/debug/shard``), seconds until the replicas agree again,
then over a measured window per replica the CPU seconds per second (``/proc/PID/stat``), RSS
(``/proc/PID/status``) and the scale-loop lateness p95 (from the
``podscaler_scale_loop_lateness_seconds`` histogram: the upper bound of the bucket holding the
95th percentile, a coarse but honest figure).

``steady`` — three replicas for ``--seconds`` (30 minutes by default) with a change every
``--churn`` seconds, in turn: a fourth joins, it leaves (SIGTERM), one of the three is
SIGKILLed and replaced. Targets are written all along (the stand-in's value moves), and the
API server (``bench/harness.py --serve-api``) appends every ``/scale`` write to an audit file.
Reports the RSS of the two replicas that live throughout (start, end, max), their CPU and
lateness p95, objects moved per change and how long the replicas took to agree, and the target
writes made by two replicas in the same second (must be 0).

Usage::

    python bench/sharding.py memory --sizes 1000,3000 --trace
    python bench/sharding.py memory --sizes 10000 --polling-interval 30 --settle 1800 [--share 1/3]
    python bench/sharding.py replicas --objects 3000 --polling-interval 10
    python bench/sharding.py steady --objects 1200 --polling-interval 15 --seconds 1800

Runs are bounded: every process is stopped at the end (SIGTERM, then SIGKILL after 10 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import (  # noqa: E402  (bench/, beside this file)
    api_command,
    free_port,
    loadavg,
    populate,
    proc_cpu_seconds,
    proc_rss_mib,
    prom_command,
    wait_port,
)

#: Owners of allocations, by the path of the innermost podscaler/scalers frame (first match).
OWNERS: list[tuple[str, str]] = [
    ("podscaler/kube/informers.py", "informer cache (objects as listed/watched)"),
    ("podscaler/kube/clients.py", "API client (decoding, connections)"),
    ("podscaler/kube/", "kube (other)"),
    ("podscaler/controllers/scaledobject/records.py", "decision records"),
    ("podscaler/observability/", "metric children (prometheus_client)"),
    ("scalers/", "trigger clients (scalers)"),
    ("podscaler/controllers/triggers/", "trigger building and auth"),
    ("podscaler/controllers/loop.py", "poll loop (a task per object)"),
    ("podscaler/controllers/scaledobject/controller.py", "per-object context"),
    ("podscaler/controllers/scaledobject/context.py", "per-object context"),
    ("podscaler/controllers/scaledobject/", "evaluation state (status, HPA history, specs)"),
    ("podscaler/api/", "parsed specs (api models)"),
    ("podscaler/engine/", "engine state"),
]


async def _stop(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> None:
    if process.returncode is not None:
        return
    process.send_signal(sig)
    try:
        async with asyncio.timeout(10):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


class Cluster:
    """A fresh embedded API server and Prometheus stand-in, populated with N objects. With
    *audit*, the server appends every successful ``/scale`` write to ``audit.log`` (time,
    User-Agent = replica identity, path); with *wave_seconds*, the stand-in's value moves so
    that targets get written (see :mod:`harness`)."""

    def __init__(self, *, audit: bool = False, wave_seconds: float = 0.0) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="podscaler-bench-sharding-"))
        self.kubeconfig = self.workdir / "kubeconfig"
        self.audit = self.workdir / "audit.log" if audit else None
        self.wave_seconds = wave_seconds
        self.processes: list[asyncio.subprocess.Process] = []
        self.api: asyncio.subprocess.Process | None = None
        self.prom_url = ""

    async def start(self, n: int, interval: int) -> float:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        quiet = asyncio.subprocess.DEVNULL
        api_port, prom_port = free_port(), free_port()
        self.api = await asyncio.create_subprocess_exec(
            *api_command(api_port, self.kubeconfig, audit=self.audit),
            stdout=quiet, stderr=quiet, env=env, cwd=ROOT,
        )  # fmt: skip
        prom = await asyncio.create_subprocess_exec(
            *prom_command(prom_port, wave_seconds=self.wave_seconds),
            stdout=quiet, stderr=quiet, env=env, cwd=ROOT,
        )  # fmt: skip
        self.processes += [self.api, prom]
        self.prom_url = f"http://127.0.0.1:{prom_port}"
        await wait_port(api_port)
        await wait_port(prom_port)
        for _ in range(300):
            if self.kubeconfig.exists():
                break
            await asyncio.sleep(0.1)
        from podscaler.kube.clients import connect

        kube = await connect(kubeconfig=self.kubeconfig)
        t0 = time.perf_counter()
        try:
            await kube.request(
                "POST", "/api/v1/namespaces", body={"metadata": {"name": "podscaler"}}
            )
            await populate(kube, n, self.prom_url, interval)
        finally:
            await kube.close()
        return time.perf_counter() - t0

    async def stop(self) -> None:
        for process in reversed(self.processes):
            await _stop(process)


# ---------------------------------------------------------------------------------- memory


def _owner_of_file(path: str) -> str | None:
    """The owner an allocation made in *path* is charged to; None outside our code."""
    path = path.replace("\\", "/")
    for marker in ("/podscaler/", "/scalers/"):
        at = path.rfind(marker)
        if at >= 0:
            relative = path[at + 1 :]
            for prefix, owner in OWNERS:
                if relative.startswith(prefix):
                    return owner
            return relative
    return None


def _by_owner(snapshot: tracemalloc.Snapshot) -> dict[str, int]:
    """Live bytes per owner: the innermost frame of ours on each allocation's stack.
    (``Snapshot.statistics("traceback")`` hashes every 25-frame traceback: minutes here.)"""
    owners: dict[str, str | None] = {}
    totals: dict[str, int] = defaultdict(int)
    for trace in snapshot.traces:
        found = "outside podscaler (event loop, libraries)"
        for frame in reversed(trace.traceback):  # innermost first
            filename = frame.filename
            if filename not in owners:
                owners[filename] = _owner_of_file(filename)
            owner = owners[filename]
            if owner is not None:
                found = owner
                break
        totals[found] += trace.size
    return totals


def _pymalloc_summary() -> dict[str, float]:
    """What CPython's small-object allocator holds, in MiB (``sys._debugmallocstats``, which
    writes to the C stderr): the arenas it has taken from the OS, the bytes live objects use
    in them and the free bytes it keeps. The rest of the RSS is the C heap (malloc: extension
    modules, buffers, large objects) and the interpreter's own."""
    wanted = {
        "arenas allocated current": "arenas",
        "bytes in allocated blocks": "allocated",
        "bytes in available blocks": "available",
    }
    found: dict[str, float] = {}
    with tempfile.TemporaryFile(mode="w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        for line in out:
            label, _, value = line.partition("=")
            name = wanted.get(label.strip("# ").strip())
            if name is not None:
                found[name] = int(value.strip().replace(",", ""))
    # An arena is 1 MiB (CPython 3.10+): the count is its MiB.
    return {k: v if k == "arenas" else round(v / 2**20, 1) for k, v in found.items()}


def _deep_sizes(roots: dict[str, object], fences: list[object]) -> dict[str, float]:
    """MiB reachable from each root that no earlier root reached (``gc.get_referents``,
    stopping at modules, classes, functions, code, the event loop and the *fences*, shared
    things that would otherwise pull everything into the first root that reaches them):
    where the live bytes are, without tracemalloc (which slows the operator so much that a
    steady state is never reached)."""
    import gc
    import types

    stop = (
        type,
        types.ModuleType,
        types.FunctionType,
        types.CodeType,
        types.BuiltinFunctionType,
        asyncio.AbstractEventLoop,
    )
    seen: set[int] = {id(f) for f in fences} - {id(r) for r in roots.values()}
    sizes: dict[str, float] = {}
    for name, root in roots.items():
        total = 0
        stack = [root]
        while stack:
            obj = stack.pop()
            if id(obj) in seen or isinstance(obj, stop):
                continue
            seen.add(id(obj))
            total += sys.getsizeof(obj, 0)
            stack.extend(gc.get_referents(obj))
        sizes[name] = round(total / 2**20, 2)
    return sizes


def _records_summary(decisions: Any) -> dict[str, Any]:
    """How many kept decision records are packed repeats, and for the others which fields
    differ from the record before (what kept them whole)."""
    from dataclasses import fields

    kept = packed = 0
    differing: dict[str, int] = defaultdict(int)
    for records in decisions._records.values():
        previous = None
        for entry in records:
            kept += 1
            if not hasattr(entry, "at"):  # a packed repeat (``_Repeat``; none on older trees)
                packed += 1
                previous = None
                continue
            if previous is not None:
                for f in fields(entry):
                    if f.name != "at" and getattr(entry, f.name) != getattr(previous, f.name):
                        differing[f.name] += 1
            previous = entry
    return {"kept": kept, "packed": packed, "whole, differing from the one before": differing}


async def probe(kubeconfig: str, interval: int, share: str, trace: bool, settle: float) -> None:
    """The operator under test (``--probe``): one JSON line."""
    from podscaler.controllers.scaledobject import ScaledObjectController, Settings
    from podscaler.controllers.sharding.rendezvous import owner
    from podscaler.heap import settle_heap_periodically
    from podscaler.kube.clients import connect

    fraction = Fraction(share)
    members = [f"m{i}" for i in range(round(1 / fraction))] if fraction < 1 else None
    owns = (lambda key: owner(key, members) == "m0") if members else None
    if trace:  # after the imports: their bytes are the same at every size
        tracemalloc.start(25)
    kube = await connect(kubeconfig=Path(kubeconfig))
    controller = ScaledObjectController(
        kube,
        namespace="default",
        now=lambda: datetime.now(UTC),
        settings=Settings(start_spread=1.0),
        owns=owns,
    )
    await controller.start()
    await controller.wait_synced(600)
    synced = asyncio.get_running_loop().time()
    settling = asyncio.get_running_loop().create_task(settle_heap_periodically(interval))
    # Steady state: every owned object polled twice (trigger clients built, status written),
    # then one more interval; bounded, and the JSON says how far it got.
    loop = asyncio.get_running_loop()
    give_up = loop.time() + interval * 20
    while controller.evaluations < 2 * len(controller.loop.polled):
        if loop.time() > give_up:
            break
        await asyncio.sleep(1.0)
    await asyncio.sleep(interval)
    # --settle: steady state in time, not in polls (the HPA history window, the decision
    # records per object, the heap): RSS sampled every minute until *settle* seconds after sync.
    samples: list[float] = []
    while loop.time() < synced + settle:
        await asyncio.sleep(min(60.0, synced + settle - loop.time()))
        samples.append(round(proc_rss_mib()[0], 1))
    result: dict[str, Any] = {
        "objects": len(controller.objects),
        "polled": len(controller.loop.polled),
        "evaluations": controller.evaluations,
        "samples": samples,
    }
    result["rss_mib"], result["hwm_mib"] = proc_rss_mib()
    result["pymalloc"] = _pymalloc_summary()
    result["records"] = _records_summary(controller.decisions)
    contexts = list(controller.loop.objects.values())
    decisions = controller.decisions
    result["reachable_mib"] = _deep_sizes(
        {
            "decision records (recent)": decisions._records,
            "decision history (spans)": decisions._spans,
            "informer (ScaledObjects)": controller.informer._objects,
            "targets (cache)": controller.targets,
            "metrics": controller.metrics,
            **{
                f"context.{field}": [getattr(c, field) for c in contexts]
                for field in (
                    "spec_cache",
                    "triggers",
                    "hpa_history",
                    "scaling_state",
                    "last_poll",
                    "status",
                    "target",
                    "wake",
                )
            },
            "contexts (the rest)": contexts,
            "poll tasks": controller.loop._tasks,
            "rest of the controller": controller,
        },
        fences=[kube, controller, controller.loop, controller.evaluator, controller.informer],
    )
    if trace:
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        by_owner = _by_owner(snapshot)
        result["traced_mib"] = sum(by_owner.values()) / 2**20
        result["by_owner"] = dict(sorted(by_owner.items(), key=lambda kv: -kv[1]))
    settling.cancel()
    await controller.aclose()
    await kube.close()
    print(json.dumps(result), flush=True)


async def memory(
    sizes: list[int], interval: int, share: str, trace: bool, settle: float = 0.0
) -> None:
    results: dict[int, dict[str, Any]] = {}
    for n in sizes:
        cluster = Cluster()
        try:
            populate_s = await cluster.start(n, interval)
            command = [
                sys.executable, __file__, "--probe", str(cluster.kubeconfig),
                "--polling-interval", str(interval), "--share", share, "--settle", str(settle),
            ] + (["--trace"] if trace else [])  # fmt: skip
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            operator = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.PIPE, env=env, cwd=ROOT
            )
            cluster.processes.append(operator)
            assert operator.stdout is not None
            line = await operator.stdout.readline()
            await operator.wait()
            if not line:
                raise RuntimeError("the operator under test reported nothing")
            result = json.loads(line)
            results[n] = result
            print(
                f"{n:,} objects (share {share}: {result['polled']:,} polled, "
                f"{result['evaluations']:,} evaluations; populated in {populate_s:.0f} s): "
                f"RSS {result['rss_mib']:.0f} MiB, peak {result['hwm_mib']:.0f} MiB"
                + (f", traced {result['traced_mib']:.0f} MiB" if trace else "")
                + f"; load {loadavg()}"
                + f"\n  pymalloc (MiB): {result['pymalloc']}"
                + f"\n  decision records: {result['records']}"
                + f"\n  reachable (MiB, each from its first root): {result['reachable_mib']}"
                + (
                    f"\n  RSS each minute after sync: {result['samples']}"
                    if result["samples"]
                    else ""
                ),
                flush=True,
            )
        finally:
            await cluster.stop()
    if trace and len(results) >= 2:
        small, large = min(results), max(results)
        span = large - small
        owners = set(results[small]["by_owner"]) | set(results[large]["by_owner"])
        rows = []
        for name in owners:
            delta = results[large]["by_owner"].get(name, 0) - results[small]["by_owner"].get(
                name, 0
            )
            rows.append((delta / span, name, results[large]["by_owner"].get(name, 0)))
        rows.sort(reverse=True)
        total = sum(r[0] for r in rows)
        print(
            f"\nbytes per object by owner (slope {small:,} -> {large:,}; "
            f"total {total / 1024:.1f} KiB):"
        )
        for per_object, name, at_large in rows:
            if abs(per_object) >= 64:
                print(
                    f"  {per_object / 1024:7.2f} KiB  {name}  "
                    f"({at_large / 2**20:.1f} MiB at {large:,})"
                )
        rss_slope = (results[large]["rss_mib"] - results[small]["rss_mib"]) * 1024 / span
        print(f"RSS slope (under tracemalloc, which adds its own): {rss_slope:.1f} KiB per object")


# ---------------------------------------------------------------------------------- replicas


class Replica:
    def __init__(self, process: asyncio.subprocess.Process, metrics_port: int, log: Path) -> None:
        self.process = process
        self.metrics_port = metrics_port
        self.log = log

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"


_BUCKET = re.compile(
    r'^podscaler_scale_loop_lateness_seconds_bucket\{[^}]*le="([^"]+)"[^}]*type="scaledobject"[^}]*\}\s+(\S+)$'
    r'|^podscaler_scale_loop_lateness_seconds_bucket\{[^}]*type="scaledobject"[^}]*le="([^"]+)"[^}]*\}\s+(\S+)$'
)


def _buckets(text: str) -> dict[float, float]:
    found: dict[float, float] = {}
    for line in text.splitlines():
        m = _BUCKET.match(line)
        if m:
            le, count = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            found[float("inf") if le == "+Inf" else float(le)] = float(count)
    return found


def _p95(before: dict[float, float], after: dict[float, float]) -> float:
    diff = sorted((le, after.get(le, 0) - before.get(le, 0)) for le in after)
    total = diff[-1][1] if diff else 0
    if total <= 0:
        return float("nan")
    for le, cumulative in diff:
        if cumulative >= 0.95 * total:
            return le
    return float("inf")


class Fleet:
    """``podscaler run --shard`` processes against one :class:`Cluster`, and what they say
    about themselves (``/debug/shard``, ``/metrics``)."""

    def __init__(self, cluster: Cluster, session: Any, n: int, lease: float) -> None:
        self.cluster = cluster
        self.session = session
        self.n = n
        self.lease = lease
        self.running: list[Replica] = []
        self.started = 0

    async def start(self) -> Replica:
        """One more replica (appended to :attr:`running` once it serves its metrics)."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        metrics_port, health_port = free_port(), free_port()
        log = self.cluster.workdir / f"replica-{self.started}.log"
        self.started += 1
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "podscaler", "run", "--shard",
                "--shard-lease-duration", str(self.lease),
                "--kubeconfig", str(self.cluster.kubeconfig),
                "--metrics-port", str(metrics_port), "--health-port", str(health_port),
                "--bind-address", "127.0.0.1", "--namespace", "default",
                stdout=sink, stderr=sink, env=env, cwd=ROOT,
            )  # fmt: skip
        self.cluster.processes.append(process)
        replica = Replica(process, metrics_port, log)
        await wait_port(metrics_port, 120)
        self.running.append(replica)
        return replica

    async def view(self, r: Replica) -> dict[str, Any]:
        async with self.session.get(f"{r.endpoint}/debug/shard") as response:
            found: dict[str, Any] = await response.json()
            return found

    async def scrape(self, r: Replica) -> str:
        async with self.session.get(f"{r.endpoint}/metrics") as response:
            text: str = await response.text()
            return text

    async def settled(self, limit: float) -> tuple[float, list[set[str]]]:
        """Seconds until every running replica owns, all agree on the members and every
        object has exactly one owner; the owned sets then."""
        t0 = time.perf_counter()
        async with asyncio.timeout(limit):
            while True:
                views = [await self.view(r) for r in self.running]
                sets = [set(v["owned"]) for v in views]
                if (
                    all(v["owning"] and len(v["members"]) == len(self.running) for v in views)
                    and sum(map(len, sets)) == len(set().union(*sets)) == self.n
                ):
                    return time.perf_counter() - t0, sets
                await asyncio.sleep(0.25)

    async def remove(self, r: Replica, sig: int) -> None:
        self.running.remove(r)
        await _stop(r.process, sig)


async def replicas(n: int, interval: int, lease: float, window: float) -> None:
    import aiohttp

    cluster = Cluster()
    try:
        populate_s = await cluster.start(n, interval)
        print(f"{n:,} ScaledObjects, pollingInterval {interval} s, lease {lease:g} s "
              f"(populated in {populate_s:.0f} s); load {loadavg()}", flush=True)  # fmt: skip
        async with aiohttp.ClientSession() as session:
            fleet = Fleet(cluster, session, n, lease)
            running = fleet.running

            async def measure(label: str) -> None:
                cpu0 = [proc_cpu_seconds(r.process.pid) for r in running]
                b0 = [_buckets(await fleet.scrape(r)) for r in running]
                t0 = time.perf_counter()
                await asyncio.sleep(window)
                elapsed = time.perf_counter() - t0
                for i, r in enumerate(running):
                    cpu = (proc_cpu_seconds(r.process.pid) - cpu0[i]) / elapsed
                    rss, hwm = proc_rss_mib(r.process.pid)
                    p95 = _p95(b0[i], _buckets(await fleet.scrape(r)))
                    print(f"  {label} replica {i}: CPU {cpu:.2f} s/s, RSS {rss:.0f} MiB "
                          f"(peak {hwm:.0f}), lateness p95 <= {p95 * 1000:.0f} ms",
                          flush=True)  # fmt: skip

            before: list[set[str]] = []
            for k in (1, 2, 3):
                await fleet.start()
                took, sets = await fleet.settled(lease * 4 + interval * 4 + 120)
                if before:
                    moved = len(sets[-1])
                    ideal = n / k
                    print(f"{k} replicas: join moved {moved:,} objects (ideal {ideal:,.0f}: "
                          f"{moved / ideal:.2f}x), all agreed after {took:.1f} s",
                          flush=True)  # fmt: skip
                else:
                    print(f"1 replica: owning all after {took:.1f} s", flush=True)
                await asyncio.sleep(2 * interval)  # two rounds of polls by the new owners
                await measure(f"{k} replicas")
                before = sets
            orphans = before[-1]
            await fleet.remove(running[-1], signal.SIGKILL)
            took, sets = await fleet.settled(lease * 4 + 60)
            print(f"SIGKILL of one of 3: {len(orphans):,} objects moved (ideal {n / 3:,.0f}: "
                  f"{len(orphans) / (n / 3):.2f}x), all reassigned after {took:.1f} s "
                  f"(lease {lease:g} s)", flush=True)  # fmt: skip
    finally:
        await cluster.stop()


# ---------------------------------------------------------------------------------- steady


def _audit_report(audit: Path, since: float) -> tuple[int, dict[str, int], list[str]]:
    """Target writes in the audit after *since* (unix time): how many, per writer, and the
    (target, second) pairs written by two replicas."""
    writers: dict[tuple[str, int], set[str]] = defaultdict(set)
    per_agent: dict[str, int] = defaultdict(int)
    total = 0
    for line in audit.read_text().splitlines():
        at, agent, path = line.split(" ", 2)
        if float(at) < since:
            continue
        total += 1
        per_agent[agent] += 1
        writers[(path.split("/")[-2], int(float(at)))].add(agent)
    double = [f"{t}@{sec}: {sorted(a)}" for (t, sec), a in writers.items() if len(a) > 1]
    return total, dict(per_agent), double


async def steady(n: int, interval: int, lease: float, seconds: float, churn: float) -> None:
    """3 replicas for *seconds* with a change every *churn* seconds, in turn: a fourth joins,
    the fourth leaves (SIGTERM: it deletes its Lease), one of the three is SIGKILLed and a new
    one started. Replicas 0 and 1 live throughout: their RSS growth is the steady-state
    figure. Targets are written all along (the stand-in's value moves every 90 s per object),
    and the API server's audit of ``/scale`` writes says whether two replicas ever wrote one
    target in the same second."""
    import aiohttp

    cluster = Cluster(audit=True, wave_seconds=90.0)
    try:
        populate_s = await cluster.start(n, interval)
        print(f"steady: {n:,} ScaledObjects, pollingInterval {interval} s, lease {lease:g} s, "
              f"{seconds:.0f} s with a change every {churn:.0f} s (populated in "
              f"{populate_s:.0f} s); load {loadavg()}", flush=True)  # fmt: skip
        async with aiohttp.ClientSession() as session:
            fleet = Fleet(cluster, session, n, lease)
            limit = lease * 4 + interval * 4 + 120
            for _ in range(3):
                await fleet.start()
            took, sets = await fleet.settled(limit)
            print(f"3 replicas agreed after {took:.1f} s", flush=True)
            await asyncio.sleep(3 * interval)  # warm: every owned object polled a few times
            keepers = fleet.running[:2]
            start_wall, t0 = time.time(), time.perf_counter()
            rss0 = [proc_rss_mib(r.process.pid)[0] for r in keepers]
            cpu0 = [proc_cpu_seconds(r.process.pid) for r in keepers]
            b0 = [_buckets(await fleet.scrape(r)) for r in keepers]
            samples: list[tuple[float, list[float]]] = [(0.0, rss0)]
            events: list[str] = []
            moved_total = 0
            fourth: Replica | None = None
            step = 0

            async def change() -> None:
                nonlocal fourth, sets, moved_total, step
                kind = ("join", "leave", "kill")[step % 3]
                step += 1
                before = {key: i for i, owned in enumerate(sets) for key in owned}
                members_before = list(fleet.running)
                at = time.perf_counter() - t0
                if kind == "join":
                    fourth = await fleet.start()
                    took, sets = await fleet.settled(limit)
                    detail = f"agreed after {took:.1f} s"
                elif kind == "leave":
                    assert fourth is not None
                    await fleet.remove(fourth, signal.SIGTERM)
                    fourth = None
                    took, sets = await fleet.settled(limit)
                    detail = f"agreed after {took:.1f} s"
                else:
                    orphans = len(sets[2])
                    await fleet.remove(fleet.running[2], signal.SIGKILL)
                    took, sets = await fleet.settled(limit)
                    await fleet.start()
                    took2, sets = await fleet.settled(limit)
                    detail = (
                        f"the killed one's {orphans:,} reassigned after {took:.1f} s (counted "
                        f"above with the new replica's), a new replica agreed {took2:.1f} s later"
                    )
                # An object moved when its owner (a process) differs before and after.
                index = {id(r): i for i, r in enumerate(members_before)}
                moved = 0
                for i, owned in enumerate(sets):
                    r = fleet.running[i]
                    for key in owned:
                        if before.get(key) != index.get(id(r)):
                            moved += 1
                moved_total += moved
                line = f"  t={at:6.0f} s {kind:5s}: {moved:,} objects moved, {detail}"
                events.append(line)
                print(line, flush=True)

            next_change = churn
            while (elapsed := time.perf_counter() - t0) < seconds:
                if elapsed >= next_change:
                    await change()
                    next_change += churn
                    continue
                await asyncio.sleep(min(30.0, next_change - elapsed, seconds - elapsed))
                rss = [proc_rss_mib(r.process.pid)[0] for r in keepers]
                samples.append((time.perf_counter() - t0, rss))
                print(f"  t={samples[-1][0]:6.0f} s RSS of replicas 0, 1: "
                      f"{rss[0]:.0f}, {rss[1]:.0f} MiB; load {loadavg()}", flush=True)  # fmt: skip
            elapsed = time.perf_counter() - t0
            print(f"\nsteady summary over {elapsed:.0f} s ({len(events)} changes; load "
                  f"{loadavg()}):", flush=True)  # fmt: skip
            for i, r in enumerate(keepers):
                rss_series = [rss[i] for _, rss in samples]
                cpu = (proc_cpu_seconds(r.process.pid) - cpu0[i]) / elapsed
                p95 = _p95(b0[i], _buckets(await fleet.scrape(r)))
                view = await fleet.view(r)
                _, hwm = proc_rss_mib(r.process.pid)
                print(f"  replica {i} (lived throughout): RSS {rss_series[0]:.0f} -> "
                      f"{rss_series[-1]:.0f} MiB (growth {rss_series[-1] - rss_series[0]:+.0f}, "
                      f"max {max(rss_series):.0f}, peak {hwm:.0f}), CPU {cpu:.2f} s/s, "
                      f"lateness p95 <= {p95 * 1000:.0f} ms, handovers: released "
                      f"{view['released']:,}, taken {view['taken']:,}", flush=True)  # fmt: skip
            assert cluster.audit is not None
            total, per_agent, double = _audit_report(cluster.audit, start_wall)
            print(f"  objects moved over all changes: {moved_total:,}", flush=True)
            print(f"  target writes: {total:,} by {len(per_agent)} replicas; written by two "
                  f"replicas in the same second: {len(double)}", flush=True)  # fmt: skip
            for item in double[:20]:
                print(f"    {item}", flush=True)
    finally:
        await cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", metavar="KUBECONFIG", help=argparse.SUPPRESS)
    parser.add_argument("part", nargs="?", choices=("memory", "replicas", "steady"))
    parser.add_argument("--sizes", default="1000,3000")
    parser.add_argument("--objects", type=int, default=3000)
    parser.add_argument("--polling-interval", type=int, default=10)
    parser.add_argument("--share", default="1")
    parser.add_argument("--trace", action="store_true")
    parser.add_argument(
        "--settle", type=float, default=0.0, help="memory: measure this long after sync at least"
    )
    parser.add_argument("--lease", type=float, default=15.0)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=1800.0, help="steady: how long")
    parser.add_argument("--churn", type=float, default=300.0, help="steady: between changes")
    args = parser.parse_args()
    if args.probe:
        asyncio.run(probe(args.probe, args.polling_interval, args.share, args.trace, args.settle))
        return
    print(f"# podscaler sharding bench — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — "
          f"{platform.node()} {os.cpu_count()} cpus, Python {platform.python_version()}; "
          f"load {loadavg()}", flush=True)  # fmt: skip
    if args.part == "memory":
        sizes = [int(s) for s in args.sizes.split(",")]
        asyncio.run(memory(sizes, args.polling_interval, args.share, args.trace, args.settle))
    elif args.part == "replicas":
        asyncio.run(replicas(args.objects, args.polling_interval, args.lease, args.window))
    elif args.part == "steady":
        asyncio.run(
            steady(args.objects, args.polling_interval, args.lease, args.seconds, args.churn)
        )
    else:
        parser.error("choose memory, replicas or steady")


if __name__ == "__main__":
    main()
