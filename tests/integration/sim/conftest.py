"""The real kubectl (1.32) as a fixture, for tests that drive the embedded API server with it.

kubectl runs as a subprocess driven from the event loop that also serves the API, so it never
blocks the server it talks to. Without kubectl the tests that use it skip, except in CI
(``CI=true``) where a missing kubectl is a failure.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.conftest import IN_CI

KUBECTL = shutil.which("kubectl")


@pytest.fixture
def kubectl_bin() -> str:
    if KUBECTL is None:
        if IN_CI:
            pytest.fail("kubectl is required in CI but was not found on PATH")
        pytest.skip("kubectl not installed")
    return KUBECTL


class Kubectl:
    def __init__(self, binary: str, kubeconfig: Path) -> None:
        self.argv = [binary, f"--kubeconfig={kubeconfig}", "--request-timeout=10s"]
        # A private discovery/OpenAPI cache per test: servers come and go on new ports.
        self.cache = kubeconfig.parent / "kube-cache"

    async def __call__(self, *args: str, stdin: str | None = None, ok: bool = True) -> str:
        """kubectl's stdout; with ``ok=False`` the exit status is not checked and stderr is
        appended (where kubectl prints server errors)."""
        proc = await asyncio.create_subprocess_exec(
            *self.argv,
            f"--cache-dir={self.cache}",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin else None), timeout=60
        )
        if ok:
            assert proc.returncode == 0, f"kubectl {' '.join(args)} failed: {err.decode()}"
        return out.decode() + (err.decode() if not ok else "")


@pytest.fixture
def kubectl(kubectl_bin: str, kubeconfig: Path) -> Kubectl:
    return Kubectl(kubectl_bin, kubeconfig)
