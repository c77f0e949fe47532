"""What the benchmarks that run the operator against servers of their own share.

``bench/scale_loop.py`` and ``bench/sharding.py`` both start the embedded API server and a
Prometheus-API stand-in in processes of their own, fill the server with N Deployments and N
ScaledObjects, and read other processes' CPU and memory from ``/proc``. This module holds those
parts once.

It imports nothing of podscaler at module level: ``bench/scale_loop.py --baseline`` puts
another tree first on ``sys.path`` for the operator under test, and the helpers here must use
whichever tree the calling process chose (podscaler is imported inside the functions that
need it, after the caller set its path).

Run as a script it is one of those servers::

    python bench/harness.py --serve-prom PORT [--wave SECONDS]
    python bench/harness.py --serve-api PORT KUBECONFIG --audit FILE
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "DEPLOYMENTS",
    "SCALED_OBJECTS",
    "api_command",
    "free_port",
    "loadavg",
    "populate",
    "previous_status",
    "proc_cpu_seconds",
    "proc_rss_mib",
    "prom_command",
    "serve_prom",
    "wait_port",
]

HERE = Path(__file__).resolve()
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
SCALED_OBJECTS = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default/scaledobjects"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_port(port: int, limit_seconds: float = 60.0) -> None:
    """Until something listens on 127.0.0.1:*port* (TimeoutError after *limit_seconds*)."""
    async with asyncio.timeout(limit_seconds):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                await asyncio.sleep(0.1)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process *pid* (NaN when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mib(pid: int | str = "self") -> tuple[float, float]:
    """``(VmRSS, VmHWM)`` of process *pid* in MiB (NaN when it is gone)."""
    rss = hwm = float("nan")
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return rss, hwm
    for line in lines:
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    return rss, hwm


# ---------------------------------------------------------------------------------- servers


def prom_command(port: int, *, wave_seconds: float = 0.0) -> list[str]:
    """The command line of the Prometheus-API stand-in (see :func:`serve_prom`)."""
    command = [sys.executable, str(HERE), "--serve-prom", str(port)]
    return command + (["--wave", str(wave_seconds)] if wave_seconds else [])


def _wave_value(query: str, now: float, wave_seconds: float) -> int:
    """5, 25 or 45, changing every *wave_seconds*, each object (``name="…"`` in the query)
    at its own phase: with threshold 10 its target goes 1 → 3 → 5 and back down."""
    at = query.find('name="')
    name = query[at + 6 : query.find('"', at + 6)] if at >= 0 else ""
    phase = sum(name.encode()) * 7.919
    return 5 + 20 * (int((now + phase) // wave_seconds) % 3)


def serve_prom(port: int, wave_seconds: float = 0.0) -> None:
    """A Prometheus-API stand-in (a process of its own): every query answers 5, or with
    *wave_seconds* a per-object value that moves (targets then get written now and then)."""
    from aiohttp import web

    def body(value: int) -> bytes:
        return (
            b'{"status":"success","data":{"resultType":"vector",'
            b'"result":[{"metric":{},"value":[0,"%d"]}]}}' % value
        )

    constant = body(5)

    async def query(request: web.Request) -> web.Response:
        if not wave_seconds:
            return web.Response(body=constant, content_type="application/json")
        value = _wave_value(request.query.get("query", ""), time.time(), wave_seconds)
        return web.Response(body=body(value), content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=4096)


def api_command(port: int, kubeconfig: Path, *, audit: Path | None = None) -> list[str]:
    """The embedded API server's command line: ``podscaler cluster serve``, or with *audit*
    this module serving it with the successful ``/scale`` writes appended to that file."""
    if audit is None:
        return [
            sys.executable, "-m", "podscaler", "cluster", "serve", "--port", str(port),
            "--kubeconfig", str(kubeconfig),
        ]  # fmt: skip
    return [
        sys.executable, str(HERE), "--serve-api", str(port), str(kubeconfig),
        "--audit", str(audit),
    ]  # fmt: skip


def serve_api(port: int, kubeconfig: Path, audit: Path) -> None:
    """The embedded API server with an audit of the target writes: one line per successful
    write of a ``/scale`` subresource, ``<unix time> <User-Agent> <path>`` (the operator's
    User-Agent carries its replica identity). Only those are kept, and in a file, not in
    memory: a 30-minute run writes many Leases and statuses."""
    from podscaler.sim.apiserver.audit import AuditLog
    from podscaler.sim.apiserver.server import ApiServer

    sink = audit.open("a", buffering=1)

    class ScaleWrites(AuditLog):
        def record(
            self, now: Callable[[], datetime], method: str, path: str, user_agent: str, status: int
        ) -> None:
            if status < 400 and path.endswith("/scale") and method.upper() not in ("GET", "HEAD"):
                sink.write(f"{now().timestamp():.3f} {user_agent or '-'} {path}\n")

    async def main() -> None:
        server = ApiServer(host="127.0.0.1", port=port, aggregation=True)
        server.audit = ScaleWrites()
        await server.start()
        try:
            server.write_kubeconfig(kubeconfig)
            await asyncio.Event().wait()
        finally:
            await server.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        sink.close()


# ---------------------------------------------------------------------------------- objects


def previous_status(generation: int, at: str) -> dict[str, Any]:
    """A ScaledObject's status as an operator polling it left it (Ready, Active, one
    prometheus trigger at 1 replica), for *generation*, last written at *at*. The last
    decision is in the current tree's words: an operator of another version rewrites it once,
    in the warm-up, as after an upgrade."""

    def condition(kind: str, status: str, reason: str = "", message: str = "") -> dict[str, Any]:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": at,
            "observedGeneration": generation,
        }

    metric = "s0-prometheus"
    return {
        "scaleTargetKind": "apps/v1.Deployment",
        "scaleTargetGVKR": {
            "group": "apps",
            "version": "v1",
            "kind": "Deployment",
            "resource": "deployments",
        },
        "originalReplicaCount": 1,
        "lastActiveTime": at,
        "externalMetricNames": [metric],
        "conditions": [
            condition(
                "Ready",
                "True",
                "ScaledObjectReady",
                "ScaledObject is defined correctly and is ready for scaling",
            ),
            condition(
                "Active", "True", "ScalerActive", "Scaling is performed because triggers are active"
            ),
            condition("Fallback", "Unknown"),
            condition("Paused", "False"),
        ],
        "triggersActivity": {metric: {"isActive": True}},
        "triggersTypes": "prometheus",
        "observedGeneration": generation,
        "lastDecision": {
            "rule": "hpa",
            "summary": "active at 1 replicas; the HPA calculation owns 1..N; 1 -> 1: metrics "
            "proposed 1; applied the metrics' proposal",
            "replicas": 1,
            "boundBy": "Metrics",
        },
    }


async def populate(
    kube: Any, n: int, prom_url: str, interval: int, *, restored: bool = False
) -> None:
    """N Deployments ``w00000``… and N ScaledObjects on them, one prometheus trigger each
    (threshold 10, the query names the object). With *restored*, each also gets the status
    it would have after a restart (the Deployment 1 of 1 ready, the ScaledObject
    :func:`previous_status`), so an operator started now takes them as polled before."""
    from podscaler.kube.clients import MERGE_PATCH

    sem = asyncio.Semaphore(64)
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ready = {
        "observedGeneration": 1,
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
    }

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
            await kube.request("POST", DEPLOYMENTS, body=deployment)
            if restored:
                await kube.request(
                    "PATCH",
                    f"{DEPLOYMENTS}/{name}/status",
                    body={"status": ready},
                    content_type=MERGE_PATCH,
                )
            created = await kube.request("POST", SCALED_OBJECTS, body=so)
            if restored:
                generation = int(created["metadata"].get("generation") or 1)
                await kube.request(
                    "PATCH",
                    f"{SCALED_OBJECTS}/{name}/status",
                    body={"status": previous_status(generation, at)},
                    content_type=MERGE_PATCH,
                )

    await asyncio.gather(*(one(i) for i in range(n)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve-prom", type=int, metavar="PORT")
    parser.add_argument("--wave", type=float, default=0.0)
    parser.add_argument("--serve-api", nargs=2, metavar=("PORT", "KUBECONFIG"))
    parser.add_argument("--audit", type=Path)
    args = parser.parse_args()
    if args.serve_prom:
        serve_prom(args.serve_prom, args.wave)
    elif args.serve_api and args.audit is not None:
        serve_api(int(args.serve_api[0]), Path(args.serve_api[1]), args.audit)
    else:
        parser.error("--serve-prom PORT, or --serve-api PORT KUBECONFIG --audit FILE")


if __name__ == "__main__":
    main()
