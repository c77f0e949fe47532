"""The VerticalScaler and VerticalScalerCheckpoint CRDs on the embedded API server.

A user applies the hamster VerticalScaler with kubectl and sees upstream's printer columns; a
checkpoint written over HTTP in the v3 format (create, then ``/status``) reads back into the same
history, so a restarted recommender recommends exactly what it did before.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from podscaler.engine.vpa import (
    AggregateContainerState,
    ContainerState,
    checkpoint_name,
    checkpoint_status,
    recommend,
    restore_aggregate,
)
from podscaler.sim.apiserver.server import ApiServer
from tests.conftest import IN_CI
from tests.integration.sim.test_kubectl import Kubectl

ROOT = Path(__file__).resolve().parents[3]
BASE = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/default"


async def _call(
    session: aiohttp.ClientSession, server: ApiServer, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with session.request(
        method,
        server.url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    ) as response:
        return response.status, json.loads(await response.text())


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def test_a_checkpoint_survives_the_server_round_trip(
    apiserver: ApiServer, session: aiohttp.ClientSession
) -> None:
    start = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    state = AggregateContainerState(start)
    container = ContainerState(state)
    for minute in range(2 * 1440):
        container.add_cpu_sample(450 + minute % 100, start + 60 * minute)
        container.add_memory_sample((180 + minute % 40) * 2**20, start + 60 * minute)
    now = start + 2 * 86_400
    name = checkpoint_name("hamster-vpa", "hamster")
    body = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "VerticalScalerCheckpoint",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"vpaObjectName": "hamster-vpa", "containerName": "hamster"},
    }
    status, created = await _call(
        session, apiserver, "POST", f"{BASE}/verticalscalercheckpoints", body
    )
    assert status == 201, created
    created["status"] = checkpoint_status(state, now)
    status, updated = await _call(
        session, apiserver, "PUT", f"{BASE}/verticalscalercheckpoints/{name}/status", created
    )
    assert status == 200, updated
    status, stored = await _call(
        session, apiserver, "GET", f"{BASE}/verticalscalercheckpoints/{name}"
    )
    assert status == 200
    assert stored["status"]["version"] == "v3"
    restored = restore_aggregate(stored["status"], creation_seconds=now)
    before, after = recommend({"hamster": state}), recommend({"hamster": restored})
    assert after.containers[0].target == before.containers[0].target
    assert after.containers[0].upper_bound == before.containers[0].upper_bound


async def test_kubectl_shows_the_vertical_scaler_columns(
    apiserver: ApiServer, kubeconfig: Path
) -> None:
    binary = shutil.which("kubectl")
    if binary is None:
        if IN_CI:
            pytest.fail("kubectl is required in CI but was not found on PATH")
        pytest.skip("kubectl not installed")
    kubectl = Kubectl(binary, kubeconfig)
    example = (ROOT / "manifests" / "examples" / "hamster-vertical.yaml").read_text()
    assert "verticalscaler.autoscaling.podscaler.io/hamster-vpa created" in await kubectl(
        "apply", "-f", "-", stdin=example
    )
    header = (await kubectl("get", "vsc")).splitlines()[0].split()
    assert header == ["NAME", "MODE", "CPU", "MEM", "PROVIDED", "AGE"]
    assert "Recreate" in await kubectl("get", "verticalscaler", "hamster-vpa")
