"""Benchmark: the embedded API server at 1,000 nodes and 30,000 pods.

Measures, in one run on this machine:

* memory held by the store for 1,000 nodes + 30,000 pods (RSS delta and tracemalloc);
* LIST of all pods over HTTP (p50 of several runs, client in a separate process, timed until
  the last byte), against a baseline measured in the same run: the raw cost of ``json.dumps``
  of the same list in this process (what any Python server must at least pay once);
* watch delivery latency under 500 writes/s for ~20 s: a writer process PATCHes pods over
  HTTP at a steady 500/s, stamping the send time into an annotation; a watcher process reads
  the watch stream and records receive time minus send time (p50/p99). Targets: LIST < 1 s,
  watch p99 < 50 ms.

Run: ``python -m bench.apiserver`` (``--seconds`` and ``--rate`` to change the load). The figures
are printed and appended to ``bench/RESULTS.md``. ``--managed-fields`` creates every pod with
the ``managedFields`` a REST create gives it (a controller's Update entry), so each write's
ownership bookkeeping has an entry to take the annotation from, as on a real cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import aiohttp

from podscaler.sim.apiserver import managedfields
from podscaler.sim.apiserver.server import ApiServer

NODES = 1_000
PODS = 30_000
NAMESPACES = 10
RESULTS = Path(__file__).with_name("RESULTS.md")
STAMP = "2026-01-01T00:00:00Z"


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def node(i: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"node-{i:04d}",
            "labels": {
                "kubernetes.io/hostname": f"node-{i:04d}",
                "node.kubernetes.io/instance-type": "m5.xlarge",
                "topology.kubernetes.io/zone": f"zone-{i % 3}",
            },
        },
        "spec": {"providerID": f"aws:///zone-{i % 3}/i-{i:012x}"},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0"},
        },
    }


def pod(i: int) -> dict[str, Any]:
    app = f"app-{i % 300}"
    return {
        "metadata": {
            "name": f"{app}-{i:05d}",
            "labels": {"app": app, "pod-template-hash": "5d8f7c9b6"},
            "annotations": {"bench/sent": "0"},
        },
        "spec": {
            "nodeName": f"node-{i % NODES:04d}",
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example.com/app:1.2.3",
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "env": [{"name": "MODE", "value": "production"}],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                    },
                }
            ],
        },
    }


def populate(server: ApiServer, managed_fields: bool = False) -> None:
    table, store = server.table, server.store
    ns_rt = table.get("", "v1", "namespaces")
    node_rt = table.get("", "v1", "nodes")
    pod_rt = table.get("", "v1", "pods")
    assert ns_rt is not None
    assert node_rt is not None
    assert pod_rt is not None
    for n in range(NAMESPACES):
        store.create(ns_rt, {"metadata": {"name": f"bench-{n}"}})
    for i in range(NODES):
        store.create(node_rt, node(i))
    for i in range(PODS):
        obj = pod(i)
        if managed_fields:
            managedfields.record_update(None, obj, "kube-controller-manager", "v1", STAMP)
        store.create(pod_rt, obj, namespace=f"bench-{i % NAMESPACES}")


# --- child processes ---------------------------------------------------------------------


def _list_runs(url: str, runs: int, out: Any) -> None:
    async def main() -> None:
        timings: list[float] = []
        parse: list[float] = []
        size = 0
        async with aiohttp.ClientSession() as session:
            for _ in range(runs):
                t0 = time.perf_counter()
                async with session.get(f"{url}/api/v1/pods") as resp:
                    body = await resp.read()
                timings.append(time.perf_counter() - t0)
                size = len(body)
                t1 = time.perf_counter()
                items = len(json.loads(body)["items"])
                parse.append(time.perf_counter() - t1)
                assert items == PODS, items
        out.send({"timings": timings, "parse": parse, "bytes": size})

    asyncio.run(main())


def _watch(url: str, rv: str, seconds: float, out: Any, ready: Any) -> None:
    async def main() -> None:
        latencies: list[float] = []
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            path = f"{url}/api/v1/pods?watch=true&resourceVersion={rv}"
            async with session.get(path) as resp:
                ready.set()
                deadline = time.time() + seconds + 10
                while time.time() < deadline:
                    try:
                        line = await asyncio.wait_for(resp.content.readline(), 3)
                    except TimeoutError:
                        break
                    if not line:
                        break
                    now = time.time()
                    event = json.loads(line)
                    sent = event["object"]["metadata"].get("annotations", {}).get("bench/sent")
                    if sent and sent != "0":
                        latencies.append(now - float(sent))
        out.send(latencies)

    asyncio.run(main())


def _write(url: str, rate: float, seconds: float, out: Any) -> None:
    async def main() -> None:
        total = int(rate * seconds)
        done = 0
        errors = 0
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

            async def one(i: int) -> None:
                nonlocal done, errors
                ns = f"bench-{i % NAMESPACES}"
                name = pod(i)["metadata"]["name"]
                body = json.dumps({"metadata": {"annotations": {"bench/sent": repr(time.time())}}})
                async with session.patch(
                    f"{url}/api/v1/namespaces/{ns}/pods/{name}",
                    data=body,
                    headers={"Content-Type": "application/merge-patch+json"},
                ) as resp:
                    await resp.read()
                    if resp.status == 200:
                        done += 1
                    else:
                        errors += 1

            loop = asyncio.get_running_loop()
            start = loop.time()
            tasks = []
            for k in range(total):
                delay = start + k / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one((k * 7919) % PODS)))
            await asyncio.gather(*tasks)
            elapsed = loop.time() - start
        out.send({"done": done, "errors": errors, "elapsed": elapsed})

    asyncio.run(main())


# --- the run ----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(
    seconds: float, rate: float, runs: int, managed_fields: bool = False
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    gc.collect()
    rss0 = rss_bytes()
    tracemalloc.start()
    async with ApiServer(install_crds=False, history_size=20_000) as server:
        t0 = time.perf_counter()
        populate(server, managed_fields)
        build_s = time.perf_counter() - t0
        traced, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # What the server's periodic task does after a bulk load (ApiServer.settle_heap).
        server.settle_heap()
        rss1 = rss_bytes()
        pod_rt = server.table.get("", "v1", "pods")
        assert pod_rt is not None
        objs = [e.obj for e in server.store.entries(pod_rt)]
        dumps_runs = []
        for _ in range(3):
            t = time.perf_counter()
            json.dumps({"kind": "PodList", "items": objs}, separators=(",", ":"))
            dumps_runs.append(time.perf_counter() - t)
        del objs

        loop = asyncio.get_running_loop()
        parent, child = ctx.Pipe()
        lister = ctx.Process(target=_list_runs, args=(server.url, runs, child))
        lister.start()
        listing = await loop.run_in_executor(None, parent.recv)
        await loop.run_in_executor(None, lister.join)

        rv = str(server.store.resource_version)
        w_parent, w_child = ctx.Pipe()
        ready = ctx.Event()
        watcher = ctx.Process(target=_watch, args=(server.url, rv, seconds, w_child, ready))
        watcher.start()
        await loop.run_in_executor(None, ready.wait, 30)
        await asyncio.sleep(0.5)
        wr_parent, wr_child = ctx.Pipe()
        writer = ctx.Process(target=_write, args=(server.url, rate, seconds, wr_child))
        writer.start()
        cpu0 = time.process_time()
        writes = await loop.run_in_executor(None, wr_parent.recv)
        # The server's CPU over the write phase (the watcher's fan-out included): how much
        # headroom it keeps when the machine is busy.
        server_cpu_s = time.process_time() - cpu0
        await asyncio.sleep(1.0)
        server.drop_watches()
        latencies = await loop.run_in_executor(None, w_parent.recv)
        for proc in (writer, watcher):
            await loop.run_in_executor(None, proc.join)

    return {
        "build_s": build_s,
        "rss_mb": (rss1 - rss0) / 2**20,
        "traced_mb": traced / 2**20,
        "list_p50_s": statistics.median(listing["timings"]),
        "list_min_s": min(listing["timings"]),
        "list_first_s": listing["timings"][0],
        "list_mb": listing["bytes"] / 2**20,
        "client_parse_p50_s": statistics.median(listing["parse"]),
        "dumps_p50_s": statistics.median(dumps_runs),
        "writes": writes,
        "server_cpu_s": server_cpu_s,
        "events": len(latencies),
        "watch_p50_ms": pct(latencies, 0.50) * 1000 if latencies else float("nan"),
        "watch_p99_ms": pct(latencies, 0.99) * 1000 if latencies else float("nan"),
        "watch_max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "rate": rate,
        "seconds": seconds,
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def report(r: dict[str, Any]) -> str:
    w = r["writes"]
    rows = [
        ("objects", f"{NODES} nodes + {PODS} pods in {NAMESPACES} namespaces", ""),
        ("build (store.create, in process)", f"{r['build_s']:.2f} s", ""),
        ("memory: RSS delta", f"{r['rss_mb']:.0f} MiB", ""),
        ("memory: tracemalloc (store)", f"{r['traced_mb']:.0f} MiB", ""),
        (
            "LIST all pods over HTTP, p50",
            f"{r['list_p50_s'] * 1000:.0f} ms (first {r['list_first_s'] * 1000:.0f} ms)",
            "target < 1000 ms",
        ),
        (
            "  baseline: json.dumps of the same list",
            f"{r['dumps_p50_s'] * 1000:.0f} ms",
            "same run",
        ),
        ("  ratio LIST / json.dumps", f"{r['list_p50_s'] / r['dumps_p50_s']:.2f}x", ""),
        (
            "  response size; client json.loads p50",
            f"{r['list_mb']:.1f} MiB; {r['client_parse_p50_s'] * 1000:.0f} ms",
            "",
        ),
        (
            "writes (HTTP merge PATCH, separate process)",
            f"{w['done']} ok / {w['errors']} errors in {w['elapsed']:.1f} s "
            f"({w['done'] / w['elapsed']:.0f}/s, target {r['rate']:.0f}/s)",
            "",
        ),
        (
            "server CPU per write (process time / writes)",
            f"{r['server_cpu_s'] / max(w['done'], 1) * 1e6:.0f} µs "
            f"({r['server_cpu_s'] / w['elapsed'] * 100:.0f}% of a core)",
            "",
        ),
        ("watch events received (separate process)", f"{r['events']}", ""),
        ("watch latency p50 (send → received)", f"{r['watch_p50_ms']:.1f} ms", ""),
        ("watch latency p99", f"{r['watch_p99_ms']:.1f} ms", "target < 50 ms"),
        ("watch latency max", f"{r['watch_max_ms']:.1f} ms", ""),
    ]
    width = max(len(a) for a, _, _ in rows)
    vwidth = max(len(b) for _, b, _ in rows)
    lines = [
        f"| {'measure'.ljust(width)} | {'value'.ljust(vwidth)} | note |",
        f"|{'-' * (width + 2)}|{'-' * (vwidth + 2)}|------|",
    ]
    lines += [f"| {a.ljust(width)} | {b.ljust(vwidth)} | {c} |" for a, b, c in rows]
    lines.append("")
    lines.append(f"load average at the end of the run: {r['loadavg']}")
    return "\n".join(lines)


HEADING = "## Embedded API server (issue 2)"


def append_results(table: str) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"nproc={os.cpu_count()}, Python {platform.python_version()}, {platform.machine()}"
    entry = f"\n### {stamp} — {machine}\n\n`python -m bench.apiserver`\n\n{table}\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if HEADING not in text:
        text = (
            text.rstrip("\n")
            + f"\n\n{HEADING}\n\nSee `bench/apiserver.py` for what each figure means.\n"
        )
        text += entry
    else:
        head, _, tail = text.partition(HEADING)
        # Insert at the end of this section (before the next "## " heading, if any).
        idx = tail.find("\n## ")
        if idx == -1:
            text = head + HEADING + tail.rstrip("\n") + "\n" + entry
        else:
            text = head + HEADING + tail[:idx].rstrip("\n") + "\n" + entry + tail[idx:]
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument(
        "--managed-fields", action="store_true", help="pods carry a REST create's managedFields"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args.seconds, args.rate, args.runs, args.managed_fields))
    table = report(result)
    print(table)
    if not args.no_record:
        append_results(table)
        print(f"\nappended to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
