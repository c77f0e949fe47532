"""Benchmark: how long a ProportionalScaler takes to decide after a change to a 5,000-node cluster.

A cluster change is one Node event: a node joins, leaves, turns NotReady or Ready again, is
cordoned — or, most often on a real cluster, reports a heartbeat that changes nothing counted.
Three ProportionalScalers share the cluster (linear over all nodes, ladder over all nodes,
linear over the half labelled ``pool=general``), as CoreDNS, an ingress controller and a
metrics agent would.

* ``incremental`` (what the controller does): trim the Node, update the per-selector tallies
  (:class:`~podscaler.controllers.proportional.NodeCounts`), and for each scaler whose tally
  moved, decide (:func:`podscaler.engine.cpa.decide`) and compose the status it would write.
* ``recount`` (baseline): count the selected nodes from scratch on every change, with the same
  node reading (cached quantity parsing), then decide — what a poll-based loop pays.
* ``upstream`` (baseline): upstream CPA's way — list the nodes, parse each one's allocatable
  cpu as a quantity and add it up, every time.

Cases run interleaved (A/B/A/B, ``--rounds``) and figures are CPU time of this thread
(``time.thread_time``), printed with the load average. Target: under 10 ms per
ProportionalScaler for a 5,000-node cluster change.

``--follow`` also measures, over HTTP against the embedded API server with 5,000 Node objects,
the wall time from a new Node being created to the add-on's ``/scale`` showing the new count.

Run: ``python bench/proportional.py [--nodes 5000] [--rounds 5] [--follow]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

# The tree this file belongs to, not whatever podscaler is installed (a fresh clone runs as is).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podscaler.api.quantities import Quantity
from podscaler.api.selectors import LabelSelector, parse_label_selector
from podscaler.controllers.proportional import NodeCounts, trim_node
from podscaler.controllers.proportional.status import compose_status
from podscaler.engine.cpa import (
    ClusterStatus,
    LadderParams,
    LinearParams,
    Params,
    cluster_status,
    cores_of,
    decide,
    node_facts,
)

NOW = datetime(2026, 1, 5, tzinfo=UTC)
CPUS = ("3920m", "7910m", "15890m", "2")

SCALERS: list[tuple[str, Params]] = [
    ("", LinearParams(cores_per_replica=256.0, nodes_per_replica=16.0, min=2, max=0)),
    (
        "",
        LadderParams(
            cores_to_replicas=((1, 1), (64, 3), (512, 5), (1024, 7), (2048, 10), (4096, 15)),
            nodes_to_replicas=((1, 1), (2, 2), (100, 5), (1000, 20)),
        ),
    ),
    ("pool=general", LinearParams(nodes_per_replica=10.0, prevent_single_point_failure=True)),
]


def new_node(index: int) -> dict[str, Any]:
    """A Node to create (no server-set metadata)."""
    body = node(index)
    for key in ("uid", "resourceVersion"):
        del body["metadata"][key]
    return body


def node(index: int, *, ready: bool = True, unschedulable: bool = False) -> dict[str, Any]:
    """A Node as the API serves it (the informer's transform trims it)."""
    name = f"ip-10-0-{index // 250}-{index % 250}.ec2.internal"
    cpu = CPUS[index % len(CPUS)]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": f"uid-{index}",
            "resourceVersion": str(1000 + index),
            "labels": {
                "kubernetes.io/hostname": name,
                "node.kubernetes.io/instance-type": "m5.xlarge",
                "topology.kubernetes.io/zone": f"us-east-1{'abc'[index % 3]}",
                "pool": "general" if index % 2 == 0 else "batch",
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"providerID": f"aws:///us-east-1a/i-{index:08x}", "unschedulable": unschedulable},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "58"},
            "allocatable": {"cpu": cpu, "memory": "15Gi", "pods": "58"},
            "conditions": [
                {"type": t, "status": "False", "lastHeartbeatTime": "2026-01-05T00:00:00Z"}
                for t in ("MemoryPressure", "DiskPressure", "PIDPressure")
            ]
            + [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastHeartbeatTime": "2026-01-05T00:00:00Z",
                    "reason": "KubeletReady",
                }
            ],
            "images": [
                {"names": [f"registry/image-{i}:1"], "sizeBytes": 1000 * i} for i in range(8)
            ],
        },
    }


def changes(count: int, nodes: int, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """A mix of cluster changes: joins and leaves, NotReady/Ready, cordons, and heartbeats."""
    out: list[tuple[str, dict[str, Any]]] = []
    for step in range(count):
        kind = step % 5
        if kind == 0:
            out.append(("put", node(nodes + step)))  # a node joins
        elif kind == 1:
            out.append(("remove", node(nodes + step - 1)))  # ... and leaves
        elif kind == 2:
            out.append(("put", node(rng.randrange(nodes), ready=False)))
        elif kind == 3:
            out.append(("put", node(rng.randrange(nodes), unschedulable=True)))
        else:
            beat = node(rng.randrange(nodes))  # a heartbeat: nothing counted moves
            beat["status"]["conditions"][-1]["lastHeartbeatTime"] = "2026-01-05T00:00:10Z"
            out.append(("put", beat))
    return out


def _status(decision: Any) -> dict[str, Any]:
    return compose_status(
        previous=None,
        generation=1,
        decision=decision,
        source="spec",
        parameters_problem=None,
        target_problem=None,
        last_scale_time=None,
        dry_run=False,
        now=NOW,
    )


def incremental(cluster: list[dict[str, Any]]) -> Callable[[str, dict[str, Any]], int]:
    counts = NodeCounts()
    keys = [counts.acquire(parse_label_selector(text)) for text, _ in SCALERS]
    for item in cluster:
        counts.put(trim_node(item))
    by_key: dict[str, list[Params]] = {}
    for key, (_, params) in zip(keys, SCALERS, strict=True):
        by_key.setdefault(key, []).append(params)

    def change(op: str, item: dict[str, Any]) -> int:
        trimmed = trim_node(item)
        moved = counts.put(trimmed) if op == "put" else counts.remove(trimmed)
        decided = 0
        for key in moved:
            for params in by_key[key]:
                _status(decide(params, counts.status(key)))
                decided += 1
        return decided

    return change


def _apply(cluster: dict[str, dict[str, Any]], op: str, item: dict[str, Any]) -> None:
    name = item["metadata"]["name"]
    if op == "put":
        cluster[name] = item
    else:
        cluster.pop(name, None)


def recount(cluster_list: list[dict[str, Any]]) -> Callable[[str, dict[str, Any]], int]:
    cluster = {n["metadata"]["name"]: n for n in cluster_list}
    selectors = [(parse_label_selector(text), params) for text, params in SCALERS]

    def change(op: str, item: dict[str, Any]) -> int:
        _apply(cluster, op, item)
        for selector, params in selectors:
            facts = (
                node_facts(n)
                for n in cluster.values()
                if selector.matches(n["metadata"].get("labels"))
            )
            _status(decide(params, cluster_status(facts)))
        return len(selectors)

    return change


def _upstream_status(nodes: list[dict[str, Any]], selector: LabelSelector) -> ClusterStatus:
    total = schedulable = 0
    total_cpu = schedulable_cpu = Decimal(0)
    for item in nodes:
        if not selector.matches(item["metadata"].get("labels")):
            continue
        cpu = Quantity(item["status"]["allocatable"]["cpu"]).value
        total += 1
        total_cpu += cpu
        ready = any(
            c["type"] == "Ready" and c["status"] == "True" for c in item["status"]["conditions"]
        )
        if not item["spec"].get("unschedulable") and ready:
            schedulable += 1
            schedulable_cpu += cpu
    nano = Decimal(1_000_000_000)
    return ClusterStatus(
        total, schedulable, cores_of(int(total_cpu * nano)), cores_of(int(schedulable_cpu * nano))
    )


def upstream(cluster_list: list[dict[str, Any]]) -> Callable[[str, dict[str, Any]], int]:
    cluster = {n["metadata"]["name"]: n for n in cluster_list}
    selectors = [(parse_label_selector(text), params) for text, params in SCALERS]

    def change(op: str, item: dict[str, Any]) -> int:
        _apply(cluster, op, item)
        listed = list(cluster.values())
        for selector, params in selectors:
            _status(decide(params, _upstream_status(listed, selector)))
        return len(selectors)

    return change


def measure(
    make: Callable[[list[dict[str, Any]]], Callable[[str, dict[str, Any]], int]],
    cluster: list[dict[str, Any]],
    batch: list[tuple[str, dict[str, Any]]],
) -> tuple[float, float]:
    """(CPU µs per change, CPU µs per decision) over *batch*."""
    change = make(cluster)
    started = time.thread_time()
    decided = sum(change(op, item) for op, item in batch)
    spent = time.thread_time() - started
    return spent / len(batch) * 1e6, spent / max(decided, 1) * 1e6


def same_answers(cluster: list[dict[str, Any]], batch: list[tuple[str, dict[str, Any]]]) -> None:
    """The three ways agree on every count (a benchmark of a wrong answer measures nothing)."""
    counts = NodeCounts()
    keys = [counts.acquire(parse_label_selector(text)) for text, _ in SCALERS]
    names = {n["metadata"]["name"]: n for n in cluster}
    for item in cluster:
        counts.put(trim_node(item))
    for op, item in batch:
        (counts.put if op == "put" else counts.remove)(trim_node(item))
        _apply(names, op, item)
        for key, (text, _) in zip(keys, SCALERS, strict=True):
            selector = parse_label_selector(text)
            listed = list(names.values())
            fresh = cluster_status(
                node_facts(n) for n in listed if selector.matches(n["metadata"]["labels"])
            )
            assert counts.status(key) == fresh == _upstream_status(listed, selector)


async def wait_for_replicas(
    replicas: Callable[[], Awaitable[int]], wanted: int, every_seconds: float
) -> None:
    while True:
        if await replicas() == wanted:
            return
        await asyncio.sleep(every_seconds)


async def follow(nodes: int) -> list[float]:
    """Wall seconds from a Node's creation to the add-on's /scale following, over HTTP."""
    from podscaler.controllers.proportional import ProportionalController
    from podscaler.kube.clients import connect
    from podscaler.sim.apiserver.server import ApiServer

    async with ApiServer(install_crds=True) as server, await connect(server=server.url) as kube:
        sem = asyncio.Semaphore(32)

        async def create(index: int) -> None:
            async with sem:
                await kube.request("POST", "/api/v1/nodes", body=new_node(index))

        await asyncio.gather(*(create(i) for i in range(nodes)))
        labels = {"app": "dns"}
        await kube.request(
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            body={
                "metadata": {"name": "dns"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "c", "image": "x"}]},
                    },
                },
            },
        )
        controller = ProportionalController(kube, namespace=None, now=lambda: datetime.now(UTC))
        await controller.start()
        await controller.wait_synced(120)
        await kube.request(
            "POST",
            "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default/proportionalscalers",
            body={
                "apiVersion": "autoscaling.podscaler.io/v1alpha1",
                "kind": "ProportionalScaler",
                "metadata": {"name": "dns"},
                "spec": {"scaleTargetRef": {"name": "dns"}, "linear": {"nodesPerReplica": 1}},
            },
        )
        scale_path = "/apis/apps/v1/namespaces/default/deployments/dns/scale"

        async def replicas() -> int:
            return int((await kube.request("GET", scale_path))["spec"]["replicas"])

        await wait_for_replicas(replicas, nodes, 0.05)
        samples = []
        for extra in range(5):
            started = time.perf_counter()
            await kube.request("POST", "/api/v1/nodes", body=new_node(nodes + extra))
            await wait_for_replicas(replicas, nodes + extra + 1, 0.002)
            samples.append(time.perf_counter() - started)
        await controller.aclose()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--follow", action="store_true")
    args = parser.parse_args()
    rng = random.Random(7)
    cluster = [node(i) for i in range(args.nodes)]
    batch = changes(args.changes, args.nodes, rng)
    same_answers(cluster, batch[:25])
    cases = {"incremental": incremental, "recount": recount, "upstream": upstream}
    sizes = {"incremental": args.changes, "recount": 25, "upstream": 10}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, make in cases.items():  # interleaved: A/B/C, A/B/C, ...
            results[name].append(measure(make, cluster, batch[: sizes[name]]))
    load = os.getloadavg()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC — nproc={os.cpu_count()}, Python "
        f"{platform.python_version()}, {platform.machine()}; load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print(f"{args.nodes} nodes, {len(SCALERS)} ProportionalScalers, {args.rounds} rounds")
    print("| case | CPU per cluster change | CPU per ProportionalScaler decision |")
    print("|---|---|---|")
    for name in cases:
        per_change = statistics.median(r[0] for r in results[name])
        per_decision = statistics.median(r[1] for r in results[name])
        print(f"| {name} | {per_change / 1000:.3f} ms | {per_decision / 1000:.3f} ms |")
    if args.follow:
        samples = asyncio.run(follow(args.nodes))
        print(
            f"follow over HTTP at {args.nodes} nodes: median "
            f"{statistics.median(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms "
            f"from Node created to /scale updated ({len(samples)} samples)"
        )


if __name__ == "__main__":
    main()
