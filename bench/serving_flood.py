"""Benchmark: scale-loop lateness at 1,000 ScaledObjects with and without a TLS flood on the
metrics API (issue 17 §6).

The layout is ``bench/scale_loop.py``'s (whose helpers this reuses): a fresh embedded API
server holding N Deployments and N ScaledObjects, a Prometheus-API stand-in, and the operator
under test — the ScaledObject controller with the external metrics API served from it, over
TLS with a self-signed certificate, authenticating callers (an anonymous one gets 401). Three
measurements per round, interleaved in the same run:

* ``quiet``: no flood (the baseline);
* ``flood, thread``: the metrics API as ``podscaler run`` serves it: on its serving thread,
  with the default connection limits (:mod:`podscaler.serving.connections`: the flood comes
  from one address, so all but ``max_per_client`` of its connections are reset at accept);
* ``flood, loop``: the same flood with serving on the deciding loop and no connection limits
  (the behaviour before issue 17 §6).

Each line prints the 1-minute load average at the start and at the end of its measured period
(the machine is shared: figures from a loaded machine are only comparable within one run).

The flood (``--flood``, a process of its own) keeps ``--connections`` concurrent TLS
connections busy for the measured period only: each connects, handshakes, asks
``/apis/external.metrics.k8s.io/v1beta1`` without credentials, reads the 401, closes and starts
over. It is bounded (``--flood-seconds``, default the measured period) so the shared machine
gets its cores back.

Pinning (as scale_loop): the operator process on CPU 1, the API server, the stand-in and the
flood on CPU 0. The serving thread lives in the operator's process, so with pinning it shares
CPU 1 with the scale loops: the figure is what isolation buys on one core.

Usage: ``python bench/serving_flood.py [--objects 1000] [--polling-interval 10] [--periods 2]
[--connections 2000] [--rounds 1] [--no-pin]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import scale_loop

ROOT = Path(__file__).resolve().parents[1]
MODES = ("quiet", "thread", "loop")


async def run_operator(kubeconfig: str, interval: int, periods: int, mode: str) -> None:
    """The operator under test: the controller, the metrics API, one JSON line of figures."""

    from podscaler.controllers.scaledobject.metricsource import ControllerMetricsSource
    from podscaler.metricsapi.server import MetricsApiServer
    from podscaler.serving.authentication import (
        AuthenticationConfig,
        Authenticator,
        TokenReviewer,
    )
    from podscaler.serving.certificates import SelfSignedIssuer
    from podscaler.serving.connections import DEFAULT_LIMITS, ConnectionLimits
    from podscaler.serving.tls import ServingTls

    kube, controller, lateness = await scale_loop.started_controller(kubeconfig)
    samples = lateness.samples
    issuer = SelfSignedIssuer(["127.0.0.1", "localhost"])
    api = MetricsApiServer(
        ControllerMetricsSource(controller),
        tls=ServingTls(issuer.material(), b""),
        authenticator=Authenticator(AuthenticationConfig(), TokenReviewer(kube)),
        authorizer=None,
        serving_thread=mode != "loop",
        limits=DEFAULT_LIMITS if mode != "loop" else ConnectionLimits(10**6, 10**6, 10**6),
    )
    await api.start("127.0.0.1", 0)
    print(json.dumps({"port": api.port}), flush=True)
    await asyncio.sleep(interval + 3.0)  # warm-up: every object polled once
    print(json.dumps({"measuring": True}), flush=True)
    lateness.measuring = True
    evaluations0 = controller.evaluations
    await asyncio.sleep(interval * periods)
    lateness.measuring = False
    evaluations = controller.evaluations - evaluations0
    refused = api.http.refused_connections
    await api.stop()
    await controller.aclose()
    await kube.close()
    pct = scale_loop._percentile
    print(
        json.dumps(
            {
                "evaluations": evaluations,
                "refused": refused,
                "p50_ms": pct(samples, 50) * 1000,
                "p95_ms": pct(samples, 95) * 1000,
                "p99_ms": pct(samples, 99) * 1000,
                "max_ms": max(samples) * 1000 if samples else float("nan"),
            }
        ),
        flush=True,
    )


async def flood(port: int, connections: int, seconds: float) -> None:
    """Keep *connections* unauthenticated TLS requests going for *seconds*; print counts."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + seconds
    done: dict[str, Any] = {"requests": 0, "errors": 0, "error_types": {}}
    request = b"GET /apis/external.metrics.k8s.io/v1beta1 HTTP/1.1\r\nHost: x\r\n\r\n"

    async def one() -> None:
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
                writer.write(request)
                await writer.drain()
                await reader.read(256)
                writer.close()
                done["requests"] += 1
            except (OSError, ssl.SSLError, TimeoutError) as exc:
                done["errors"] += 1
                kinds = done["error_types"]
                kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                await asyncio.sleep(0.05)

    await asyncio.gather(*(one() for _ in range(connections)))
    print(json.dumps(done), flush=True)


async def measure(args: argparse.Namespace, mode: str, prom_url: str, pin: bool) -> dict[str, Any]:
    from podscaler.kube.clients import connect

    workdir = Path(tempfile.mkdtemp(prefix="podscaler-flood-"))
    api_port = harness.free_port()
    kubeconfig = workdir / "kubeconfig"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    quiet = asyncio.subprocess.DEVNULL
    servers_cpu = scale_loop.SERVERS_CPU if pin else None
    api = await asyncio.create_subprocess_exec(
        *scale_loop._pinned(servers_cpu, harness.api_command(api_port, kubeconfig)),
        stdout=quiet,
        stderr=quiet,
        env=env,
    )
    operator: asyncio.subprocess.Process | None = None
    flooder: asyncio.subprocess.Process | None = None
    try:
        await harness.wait_port(api_port)
        for _ in range(300):
            if kubeconfig.exists():
                break
            await asyncio.sleep(0.1)
        kube = await connect(kubeconfig=kubeconfig)
        await harness.populate(kube, args.objects, prom_url, args.polling_interval, restored=True)
        await kube.close()
        await asyncio.sleep(2.0)
        command = [
            sys.executable, __file__, "--run-operator", str(kubeconfig), "--mode", mode,
            "--polling-interval", str(args.polling_interval), "--periods", str(args.periods),
        ]  # fmt: skip
        operator = await asyncio.create_subprocess_exec(
            *scale_loop._pinned(scale_loop.OPERATOR_CPU if pin else None, command),
            stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        assert operator.stdout is not None
        port = json.loads(await operator.stdout.readline())["port"]
        json.loads(await operator.stdout.readline())  # measuring starts
        load = harness.loadavg()
        if mode != "quiet":
            seconds = args.flood_seconds or args.polling_interval * args.periods
            flood_command = [
                sys.executable, __file__, "--flood", str(port),
                "--connections", str(args.connections), "--flood-seconds", str(seconds),
            ]  # fmt: skip
            flooder = await asyncio.create_subprocess_exec(
                *scale_loop._pinned(servers_cpu, flood_command),
                stdout=asyncio.subprocess.PIPE, env=env,
            )  # fmt: skip
        result: dict[str, Any] = json.loads(await operator.stdout.readline())
        await operator.wait()
        if flooder is not None:
            assert flooder.stdout is not None
            line = await flooder.stdout.readline()
            result.update(json.loads(line) if line else {})
        result.update(mode=mode, load=load, load_end=harness.loadavg())
        return result
    finally:
        for process in (flooder, operator, api):
            if process is not None:
                await scale_loop._stop(process)


async def main_async(args: argparse.Namespace) -> None:
    pin = not args.no_pin and scale_loop._can_pin()
    prom_port = harness.free_port()
    prom = await asyncio.create_subprocess_exec(
        *scale_loop._pinned(
            scale_loop.SERVERS_CPU if pin else None,
            harness.prom_command(prom_port),
        ),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    results: list[dict[str, Any]] = []
    try:
        await harness.wait_port(prom_port)
        for round_ in range(args.rounds):
            for mode in MODES:
                result = await measure(args, mode, f"http://127.0.0.1:{prom_port}", pin)
                result["round"] = round_
                results.append(result)
                print(
                    f"round {round_} {mode:>6}: p50 {result['p50_ms']:.1f} ms, "
                    f"p95 {result['p95_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
                    f"max {result['max_ms']:.1f} ms, {result['evaluations']} evaluations, "
                    f"flood requests {result.get('requests', 0)} "
                    f"(errors {result.get('errors', 0)}, reset at accept "
                    f"{result.get('refused', 0)}), load {result['load']}..{result['load_end']}",
                    flush=True,
                )
    finally:
        await scale_loop._stop(prom)
    print(json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--polling-interval", type=int, default=10)
    parser.add_argument("--periods", type=int, default=2)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--flood-seconds", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--run-operator")
    parser.add_argument("--mode", choices=MODES, default="quiet")
    parser.add_argument("--flood", type=int)
    args = parser.parse_args()
    if args.run_operator:
        asyncio.run(run_operator(args.run_operator, args.polling_interval, args.periods, args.mode))
    elif args.flood:
        asyncio.run(flood(args.flood, args.connections, args.flood_seconds))
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
