"""Benchmark: the external metrics API with 1,000 ScaledObjects, over TLS and over plain HTTP.

What is measured (issue 5 §6; target p99 < 10 ms at 500 requests/s over TLS):

* **open-loop latency at a fixed rate** (default 500 requests/s for 10 s): an aiohttp client in a
  separate process sends request *i* at ``t0 + i/rate`` whatever happened before, over a pool of
  kept-alive connections as the kube-aggregator does, and latency is measured from the
  *scheduled* send time, so a stalled server cannot hide queueing (no coordinated omission).
  Three ways in: TLS with the aggregator's front-proxy client certificate and user headers (the
  production path), TLS with a bearer token, and plain HTTP with the same bearer token (the
  baseline that makes the cost of TLS visible);
* **closed-loop throughput** with ``wrk`` (Debian's package: 1 thread, 16 connections, 10 s),
  bearer token, TLS vs plain HTTP, when wrk is installed.

The server process is pinned to CPU 0, the load generators to CPU 1 (the machine has two). Every
request is authenticated and authorized for real: TokenReview and SubjectAccessReview are
answered by a small server in the server's process (kube-apiserver's part), whose answers the
metrics API caches as in production (10 s), so they cost one review per (user, metric, namespace)
and not one per request. Metric values come from an in-memory source (dictionary lookups), as
``useCachedMetrics`` values would; a live trigger adds its upstream's latency on top.

Run: ``python -m bench.metricsapi`` (``--record`` appends the table to bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import platform
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import trustme
from aiohttp import web

from podscaler.api.externalmetrics import ExternalMetricSample, ScaledObjectNotFound
from podscaler.kube.clients import connect
from podscaler.metricsapi.server import MetricsApiServer
from podscaler.serving.authentication import (
    AuthenticationConfig,
    Authenticator,
    RequestHeaderConfig,
    TokenReviewer,
)
from podscaler.serving.authorization import SubjectAccessReviewer
from podscaler.serving.certificates import ServingMaterial
from podscaler.serving.tls import ServingTls

SCALED_OBJECTS = 1000
NAMESPACES = 10
TOKEN = "bench-token"
FRONT_PROXY_NAME = "front-proxy-client"
RESULTS = Path(__file__).with_name("RESULTS.md")


def _path(i: int) -> str:
    return (
        f"/apis/external.metrics.k8s.io/v1beta1/namespaces/ns-{i % NAMESPACES}/s0-prometheus"
        f"?labelSelector=scaledobject.keda.sh%2Fname%3Dso-{i}"
    )


# ---------------------------------------------------------------------------- server process


class DictSource:
    """1,000 ScaledObjects with one cached trigger each (a dictionary lookup per request)."""

    def __init__(self) -> None:
        at = dt.datetime.now(dt.UTC)
        self.values = {
            (f"ns-{i % NAMESPACES}", f"so-{i}"): ExternalMetricSample(
                "s0-prometheus", i * 0.125, at
            )
            for i in range(SCALED_OBJECTS)
        }

    async def external_metric(
        self, namespace: str, scaled_object: str, metric_name: str
    ) -> Sequence[ExternalMetricSample]:
        sample = self.values.get((namespace, scaled_object))
        if sample is None or sample.metric_name != metric_name:
            raise ScaledObjectNotFound(f"{scaled_object} not found")
        return [sample]


async def _reviews_app() -> tuple[web.AppRunner, str]:
    async def token_review(request: web.Request) -> web.Response:
        body = await request.json()
        ok = body["spec"]["token"] == TOKEN
        status: dict[str, Any] = {"authenticated": ok}
        if ok:
            status["user"] = {"username": "bench", "groups": ["system:authenticated"]}
        return web.json_response({**body, "status": status}, status=201)

    async def access_review(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({**body, "status": {"allowed": True}}, status=201)

    app = web.Application()
    app.router.add_post("/apis/authentication.k8s.io/v1/tokenreviews", token_review)
    app.router.add_post("/apis/authorization.k8s.io/v1/subjectaccessreviews", access_review)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def _serve(use_tls: bool, pki: Path, conn: Connection) -> None:
    reviews, url = await _reviews_app()
    kube = await connect(server=url)
    tls = None
    if use_tls:
        material = ServingMaterial(
            (pki / "serving.crt").read_bytes(),
            (pki / "serving.key").read_bytes(),
            (pki / "serving-ca.crt").read_bytes(),
        )
        tls = ServingTls(material, (pki / "front-proxy-ca.crt").read_bytes())
    config = AuthenticationConfig(
        requestheader=RequestHeaderConfig(
            client_ca_pem=(pki / "front-proxy-ca.crt").read_bytes(),
            allowed_names=frozenset({FRONT_PROXY_NAME}),
        )
    )
    authorizer = SubjectAccessReviewer(kube)
    server = MetricsApiServer(
        DictSource(),
        tls=tls,
        authenticator=Authenticator(config, TokenReviewer(kube)),
        authorizer=authorizer,
    )
    await server.start("127.0.0.1", 0)
    conn.send(server.url)
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    conn.send({"access_reviews": authorizer.reviews_sent})
    await server.stop()
    await kube.close()
    await reviews.cleanup()


def serve_process(use_tls: bool, pki: str, conn: Connection) -> None:
    os.sched_setaffinity(0, {0})
    asyncio.run(_serve(use_tls, Path(pki), conn))


# ---------------------------------------------------------------------------- load process


@dataclass
class Run:
    label: str
    sent: int
    ok: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def _open_loop(
    base: str, pki: Path, auth: str, rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    ctx: ssl.SSLContext | bool = False
    headers: dict[str, str] = {}
    if base.startswith("https"):
        context = ssl.create_default_context(cafile=str(pki / "serving-ca.crt"))
        if auth == "front-proxy":
            context.load_cert_chain(pki / "front-proxy.crt", pki / "front-proxy.key")
        ctx = context
    if auth == "front-proxy":
        headers = {"X-Remote-User": "system:serviceaccount:kube-system:horizontal-pod-autoscaler"}
    else:
        headers = {"Authorization": f"Bearer {TOKEN}"}
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=connections, ssl=ctx)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(i: int, scheduled: float, record: bool) -> None:
            nonlocal errors
            try:
                async with session.get(base + _path(i)) as resp:
                    await resp.read()
                    good = resp.status == 200
            except (aiohttp.ClientError, OSError):
                good = False
            if record:
                if good:
                    latencies.append(loop.time() - scheduled)
                else:
                    errors += 1

        # Warm up: open the pool and fill the review caches, unrecorded.
        await asyncio.gather(*(one(i, loop.time(), False) for i in range(connections * 4)))
        total = int(rate * seconds)
        tasks = []
        start = loop.time() + 0.05
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i % SCALED_OBJECTS, scheduled, True)))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - start
    latencies.sort()
    return {
        "sent": total,
        "ok": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] if latencies else float("nan")) * 1000,
    }


def load_process(
    base: str, pki: str, auth: str, rate: float, seconds: float, connections: int, conn: Connection
) -> None:
    os.sched_setaffinity(0, {1})
    conn.send(asyncio.run(_open_loop(base, Path(pki), auth, rate, seconds, connections)))


# ---------------------------------------------------------------------------- orchestration


def _write_pki(directory: Path) -> None:
    serving_ca, front_proxy_ca = trustme.CA(), trustme.CA()
    leaf = serving_ca.issue_cert("127.0.0.1", "localhost")
    (directory / "serving-ca.crt").write_bytes(serving_ca.cert_pem.bytes())
    (directory / "serving.crt").write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
    (directory / "serving.key").write_bytes(leaf.private_key_pem.bytes())
    proxy = front_proxy_ca.issue_cert("proxy.example", common_name=FRONT_PROXY_NAME)
    (directory / "front-proxy-ca.crt").write_bytes(front_proxy_ca.cert_pem.bytes())
    (directory / "front-proxy.crt").write_bytes(proxy.cert_chain_pems[0].bytes())
    (directory / "front-proxy.key").write_bytes(proxy.private_key_pem.bytes())


class ServerProcess:
    def __init__(self, use_tls: bool, pki: Path) -> None:
        self.conn, child = mp.Pipe()
        self.process = mp.Process(target=serve_process, args=(use_tls, str(pki), child))

    def __enter__(self) -> str:
        self.process.start()
        if not self.conn.poll(30):
            raise RuntimeError("the metrics API did not start")
        url: str = self.conn.recv()
        return url

    def __exit__(self, *exc: object) -> None:
        self.conn.send("stop")
        if self.conn.poll(10):
            self.stats = self.conn.recv()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


def open_loop(
    label: str, base: str, pki: Path, auth: str, rate: float, seconds: float, connections: int
) -> Run:
    conn, child = mp.Pipe()
    proc = mp.Process(
        target=load_process, args=(base, str(pki), auth, rate, seconds, connections, child)
    )
    proc.start()
    result = conn.recv()
    proc.join()
    return Run(label=label, **result)


@dataclass
class WrkRun:
    label: str
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT_MS[unit]


def wrk(label: str, base: str, seconds: int, directory: Path) -> WrkRun | None:
    binary = shutil.which("wrk")
    if binary is None:
        print(f"{label}: wrk is not installed; closed-loop throughput skipped", flush=True)
        return None
    script = directory / "rotate.lua"
    script.write_text(
        "local i = 0\n"
        "request = function()\n"
        f"  i = (i + 1) % {SCALED_OBJECTS}\n"
        "  local path = '/apis/external.metrics.k8s.io/v1beta1/namespaces/ns-' .. "
        f"(i % {NAMESPACES}) .. '/s0-prometheus?labelSelector=scaledobject.keda.sh%2Fname%3Dso-' "
        ".. i\n"
        f"  return wrk.format('GET', path, {{['Authorization'] = 'Bearer {TOKEN}'}})\n"
        "end\n"
    )
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            binary,
            "-t1",
            "-c16",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return WrkRun(label, rate, p50, p99, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    mp.set_start_method("spawn")
    load_before = os.getloadavg()[0]
    runs: list[Run] = []
    wrk_runs: list[WrkRun] = []
    reviews: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-metricsapi-") as tmp:
        pki = Path(tmp)
        _write_pki(pki)
        for use_tls in (True, False):
            server = ServerProcess(use_tls, pki)
            with server as base:
                kind = "TLS" if use_tls else "plain HTTP"
                auths = ("front-proxy", "token") if use_tls else ("token",)
                for auth in auths:
                    how = "front-proxy cert + headers" if auth == "front-proxy" else "bearer token"
                    label = f"{kind}, {how}"
                    runs.append(
                        open_loop(label, base, pki, auth, args.rate, args.seconds, args.connections)
                    )
                    print(runs[-1], flush=True)
                done = wrk(f"{kind}, bearer token", base + "/", 10, pki)
                if done is not None:
                    wrk_runs.append(done)
                    print(done, flush=True)
            reviews[kind] = server.stats.get("access_reviews", -1)
    loads = (load_before, os.getloadavg()[0])
    table = _table(args, runs, wrk_runs, reviews, loads)
    print(table)
    if args.record:
        RESULTS.write_text(_insert(RESULTS.read_text(), table))


_SECTION = "## External metrics API (issue 5)"


def _insert(text: str, table: str) -> str:
    """Append a run to this benchmark's section (other sections may follow it)."""
    if _SECTION not in text:
        return text.rstrip("\n") + "\n" + table
    run = table.split(f"\n{_SECTION}\n", 1)[1]
    start = text.index(_SECTION) + len(_SECTION)
    following = text.find("\n## ", start)
    end = len(text) if following < 0 else following
    return text[:end].rstrip("\n") + "\n" + run.rstrip("\n") + "\n" + text[end:]


def _table(
    args: argparse.Namespace,
    runs: list[Run],
    wrk_runs: list[WrkRun],
    reviews: dict[str, int],
    loads: tuple[float, float],
) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "",
        _SECTION,
        "",
        f"### {now} — nproc={os.cpu_count()}, Python {platform.python_version()}, "
        f"{platform.machine()}, {ssl.OPENSSL_VERSION}; load average {loads[0]:.1f} before, "
        f"{loads[1]:.1f} after",
        "",
        "`python -m bench.metricsapi` — 1,000 ScaledObjects (in-memory source), server on CPU 0, "
        "load from a separate process on CPU 1; every request authenticated and authorized "
        "(SubjectAccessReview cached). See the module docstring.",
        "",
        f"Open loop at {args.rate:g} requests/s for {args.seconds:g} s over {args.connections} "
        "kept-alive connections (latency from the scheduled send time; "
        "target p99 < 10 ms over TLS):",
        "",
        "| path | ok / sent | errors | achieved req/s | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.label} | {r.ok} / {r.sent} | {r.errors} | {r.rate:.0f} | {r.p50_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.max_ms:.2f} |"
        )
    if wrk_runs:
        lines += [
            "",
            "Closed loop, `wrk -t1 -c16 -d10s` (bearer token), maximum throughput on one core:",
            "",
            "| path | req/s | p50 ms | p99 ms | errors |",
            "|---|---|---|---|---|",
        ]
        for w in wrk_runs:
            lines.append(
                f"| {w.label} | {w.rate:.0f} | {w.p50_ms:.2f} | {w.p99_ms:.2f} | {w.errors} |"
            )
    lines += [
        "",
        "SubjectAccessReviews sent during the whole run: "
        + ", ".join(f"{k} {v}" for k, v in reviews.items())
        + " (cache: 10 s allowed / 5 s denied).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
