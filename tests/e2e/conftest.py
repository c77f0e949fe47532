"""The real ``podscaler run`` process against an embedded API server started in the test.

``operator`` is a factory: ``await operator()`` starts ``python -m podscaler run`` with the
test's kubeconfig on free ports, waits until ``/readyz`` says the informers synced, and returns
a handle whose ``stop()`` sends SIGTERM (graceful shutdown) and waits for the exit. Every
process still running at the end of the test is stopped by its PID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from podscaler.kube.clients import Kube, connect
from tests.integration.controllers.promserver import PromServer

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OperatorProcess:
    def __init__(
        self,
        process: asyncio.subprocess.Process,
        metrics_port: int,
        log: Path,
        health_port: int = 0,
    ) -> None:
        self.process = process
        self.metrics_port = metrics_port
        self.health_port = health_port
        self.log = log

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return int(self.process.returncode or 0)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
async def operator(
    kubeconfig: Path, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[OperatorProcess]]]:
    started: list[OperatorProcess] = []

    async def start(*extra: str, wait_ready: bool = True) -> OperatorProcess:
        """*wait_ready* False returns once ``/healthz`` answers (for tests of readiness)."""
        metrics_port, health_port = _free_port(), _free_port()
        log = tmp_path / f"operator-{len(started)}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "podscaler", "run",
                "--kubeconfig", str(kubeconfig),
                "--metrics-port", str(metrics_port),
                "--health-port", str(health_port),
                "--bind-address", "127.0.0.1",
                "--log-level", "debug",
                *extra,
                stdout=sink, stderr=sink, env=env, cwd=str(ROOT),
            )  # fmt: skip
        handle = OperatorProcess(process, metrics_port, log, health_port)
        probe = "readyz" if wait_ready else "healthz"
        started.append(handle)
        async with aiohttp.ClientSession() as session:
            try:
                # Generous: starting Python and importing takes over 15 s at load 10 on 2 cores.
                async with asyncio.timeout(60):
                    while True:
                        if process.returncode is not None:
                            raise RuntimeError(f"operator exited:\n{handle.output()}")
                        try:
                            url = f"http://127.0.0.1:{health_port}/{probe}"
                            async with session.get(url) as response:
                                if response.status == 200:
                                    return handle
                        except aiohttp.ClientError:
                            pass
                        await asyncio.sleep(0.1)
            except TimeoutError:
                raise RuntimeError(f"operator never ready:\n{handle.output()}") from None

    yield start
    for handle in started:
        await handle.stop()


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[Kube]:
    async with await connect(kubeconfig=kubeconfig) as client:
        yield client


@pytest.fixture
async def prom() -> AsyncIterator[PromServer]:
    server = await PromServer().start()
    yield server
    await server.stop()
