"""Benchmark: the managedFields bookkeeping of one REST write (``record_update``), in process.

The embedded API server runs ``managedfields.record_update`` on every create, update and
patch. This measures its CPU time alone (the object copies it works on are made before the
clock starts) for the writes a demo makes most, on a pod that a controller created over REST,
whose status the kubelet writes and whose labels a user changed:

* ``create``: the whole ownership of a new pod;
* ``annotation``: a new manager sets one annotation (``bench/apiserver.py``'s writes);
* ``status``: the kubelet changes the pod IP (it owns status already);
* ``image``: ``kubectl set image`` changes one container's image (another manager's field);
* ``no-op``: a write that changes nothing.

Run it against two checkouts, interleaved, to compare them on a busy machine (process time,
median of several rounds)::

    python bench/managedfields.py --compare /work/main .

Without ``--compare`` it measures the code on ``PYTHONPATH`` and prints one line per write.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

NOW = "2026-01-01T00:00:00Z"


def pod() -> dict[str, Any]:
    container = {
        "name": "app",
        "image": "registry.example.com/app:1.2.3",
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": "MODE", "value": "production"}, {"name": "LEVEL", "value": "info"}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    sidecar = {**copy.deepcopy(container), "name": "proxy", "image": "envoy:1.30"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "app-1",
            "namespace": "default",
            "labels": {"app": "app", "pod-template-hash": "5d8f7c9b6"},
            "annotations": {"bench/sent": "0"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "app-5d8f7c9b6", "uid": "u"}
            ],
        },
        "spec": {
            "nodeName": "node-1",
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "terminationGracePeriodSeconds": 30,
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "containers": [container, sidecar],
        },
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.1",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0}],
        },
    }


def measure(rounds: int, n: int) -> dict[str, float]:
    from podscaler.sim.apiserver import managedfields

    record = managedfields.record_update
    base = pod()
    created = copy.deepcopy(base)
    record(None, created, "kube-controller-manager", "v1", NOW)
    status = copy.deepcopy(created)
    status["status"]["podIP"] = "10.0.0.2"
    record(created, status, "kubelet", "v1", NOW)
    labelled = copy.deepcopy(status)
    labelled["metadata"]["labels"]["tier"] = "web"
    record(status, labelled, "kubectl-label", "v1", NOW)
    current = labelled

    def changed(edit: Any) -> dict[str, Any]:
        new = json.loads(json.dumps(current))
        edit(new)
        return new

    writes: dict[str, tuple[dict[str, Any] | None, Any, str]] = {
        "create": (None, lambda: copy.deepcopy(base), "kube-controller-manager"),
        "annotation": (
            current,
            lambda: changed(lambda o: o["metadata"]["annotations"].update({"bench/sent": "1"})),
            "bench",
        ),
        "status": (
            current,
            lambda: changed(lambda o: o["status"].update({"podIP": "10.0.0.9"})),
            "kubelet",
        ),
        "image": (
            current,
            lambda: changed(lambda o: o["spec"]["containers"][1].update({"image": "envoy:1.31"})),
            "kubectl-set",
        ),
        "no-op": (current, lambda: changed(lambda o: None), "kubelet"),
    }
    out: dict[str, float] = {}
    for name, (old, make, manager) in writes.items():
        samples = []
        for _ in range(rounds):
            objects = [make() for _ in range(n)]
            t0 = time.process_time()
            for new in objects:
                record(old, new, manager, "v1", NOW)
            samples.append((time.process_time() - t0) / n * 1e6)
        out[name] = statistics.median(samples)
    return out


def compare(checkouts: list[str], repeats: int, rounds: int, n: int) -> None:
    results: dict[str, list[dict[str, float]]] = {c: [] for c in checkouts}
    for _ in range(repeats):
        for checkout in checkouts:
            env = {**os.environ, "PYTHONPATH": os.path.abspath(checkout)}
            answer = subprocess.run(
                [sys.executable, __file__, "--json", f"--rounds={rounds}", f"-n={n}"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            results[checkout].append(json.loads(answer.stdout))
    names = list(results[checkouts[0]][0])
    print(f"| write | {' | '.join(checkouts)} |")
    print(f"|---|{'---|' * len(checkouts)}")
    for name in names:
        cells = [f"{statistics.median(r[name] for r in results[c]):.1f} µs" for c in checkouts]
        print(f"| {name} | {' | '.join(cells)} |")
    print(
        f"\nmedians of {repeats} interleaved runs x {rounds} rounds x {n} writes; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--compare", nargs="+", metavar="CHECKOUT")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare, args.repeats, args.rounds, args.n)
        return
    figures = measure(args.rounds, args.n)
    if args.json:
        print(json.dumps(figures))
    else:
        for name, micros in figures.items():
            print(f"{name:12} {micros:8.1f} µs per write")


if __name__ == "__main__":
    main()
