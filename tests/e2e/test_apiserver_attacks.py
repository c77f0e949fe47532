"""e2e: ``podscaler cluster serve --tls`` as a process, under the attacks of issue 17.

The original report: a ~400-byte YAML body of nested aliases, POSTed without credentials,
grew the server to 4.2 GB and it answered nothing, ``/healthz`` included, for minutes. Here
the attack bodies (billion laughs, deep JSON and YAML, a body far over 3 MiB) go over real
TLS sockets to the real command — anonymously (401 before a byte of the body is parsed) and
with the kubeconfig's token (a 400 or 413 after bounded work) — while ``/healthz`` is polled
with a tight timeout on its own connections. Every poll must be answered, the process must
stay small, and the server must still serve normal requests afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.integration.sim.test_request_bodies import LAUGHS

ROOT = Path(__file__).resolve().parents[2]
CM = "/api/v1/namespaces/default/configmaps"
HEALTH_TIMEOUT_SECONDS = 1.0


#: Polls ``URL/healthz`` (a new TLS connection each time, as a kubelet probe) every 50 ms
#: until a line arrives on stdin; prints the latencies and failures as JSON.
_POLLER = """
import json, select, ssl, sys, time, urllib.request
url, cafile, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
context = ssl.create_default_context(cafile=cafile)
latencies, failures = [], []
while not select.select([sys.stdin], [], [], 0.05)[0]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=timeout, context=context) as r:
            if r.status != 200:
                failures.append(f"status {r.status}")
    except Exception as exc:
        failures.append(repr(exc))
    latencies.append(time.monotonic() - started)
print(json.dumps({"latencies": latencies, "failures": failures}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, process: asyncio.subprocess.Process, kubeconfig: Path) -> None:
        self.process = process
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        self.url: str = cluster["server"]
        self.token: str = config["users"][0]["user"]["token"]
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        self.ssl = ssl.create_default_context(cadata=ca)
        self.cafile = str(kubeconfig.with_name("ca.crt"))
        Path(self.cafile).write_text(ca)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    kubeconfig = tmp_path / "kubeconfig"
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "podscaler", "cluster", "serve", "--tls",
            "--port", str(_free_port()), "--kubeconfig", str(kubeconfig),
            stdout=sink, stderr=sink, cwd=str(ROOT),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    try:
        async with asyncio.timeout(30):
            while not kubeconfig.exists():
                assert process.returncode is None, log.read_text()
                await asyncio.sleep(0.1)
        yield Served(process, kubeconfig)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
    assert "Authentication required" in log.read_text()


def _attacks() -> list[tuple[str, bytes, str, int]]:
    """(name, body, content type, status expected with a valid token)."""
    return [
        ("billion-laughs", LAUGHS, "application/yaml", 400),
        ("deep-json", b"[" * 200_000 + b"]" * 200_000, "application/json", 400),
        ("deep-yaml", b"- " * 200_000 + b"x", "application/yaml", 400),
        ("deep-yaml-flow", b"[" * 1_000_000, "application/yaml", 400),
        ("50-MB", b'{"data":{"k":"' + b"x" * 50_000_000 + b'"}}', "application/json", 413),
    ]  # fmt: skip


@pytest.mark.timeout(180)
async def test_attack_bodies_leave_the_server_answering(served: Served) -> None:
    statuses: list[tuple[str, bool, int]] = []

    async def attack(name: str, body: bytes, ctype: str, token: str | None) -> None:
        headers = {"Content-Type": ctype}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with aiohttp.ClientSession() as session:
            try:
                async with session.post(
                    served.url + CM, data=_chunks(body), headers=headers, ssl=served.ssl
                ) as resp:
                    await resp.read()
                    statuses.append((name, token is not None, resp.status))
            except aiohttp.ClientError:
                # The server may close a connection whose body it refused before reading it.
                statuses.append((name, token is not None, -1))

    # The health checker is a process of its own, so nothing this test does delays it.
    poller = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _POLLER, served.url, served.cafile, str(HEALTH_TIMEOUT_SECONDS),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    try:
        await asyncio.sleep(0.5)
        attacked_until = loop.time() + 5.0  # rounds of every attack, for at least 5 s
        while loop.time() < attacked_until:
            for name, body, ctype, _ in _attacks():
                for token in (None, served.token):
                    await asyncio.gather(*(attack(name, body, ctype, token) for _ in range(3)))
    finally:
        out, _ = await poller.communicate(b"stop\n")
    report = json.loads(out)
    health: list[float] = report["latencies"]
    failures: list[str] = report["failures"]

    expected = {name: status for name, _b, _c, status in _attacks()}
    for name, authenticated, status in statuses:
        if authenticated:
            assert status == expected[name], (name, status)
        else:
            assert status in (401, -1), (name, status)
    assert not failures, failures
    assert len(health) >= 20
    assert max(health) < HEALTH_TIMEOUT_SECONDS
    assert served.rss_kib() < 400_000, f"RSS {served.rss_kib()} KiB"
    # Still a working API server.
    headers = {"Authorization": f"Bearer {served.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            served.url + CM, json={"metadata": {"name": "after"}}, headers=headers, ssl=served.ssl
        ) as resp:
            assert resp.status == 201
        async with session.get(served.url + CM, headers=headers, ssl=served.ssl) as resp:
            listed: dict[str, Any] = await resp.json()
    assert [i["metadata"]["name"] for i in listed["items"]] == ["after"]


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(body), 1 << 20):
        yield body[i : i + (1 << 20)]
