"""Fixtures for the ScaledObject controller's integration tests: a fake Prometheus server,
a Kubernetes client of the embedded API server, and a running controller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from podscaler.controllers.scaledobject import ScaledObjectController, Settings
from podscaler.kube.clients import Kube, connect
from podscaler.kube.events import EventRecorder
from tests.integration.controllers.promserver import PromServer


@pytest.fixture
async def prom() -> AsyncIterator[PromServer]:
    server = await PromServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[Kube]:
    async with await connect(kubeconfig=kubeconfig) as client:
        yield client


def wall_now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def controller(kube: Kube) -> AsyncIterator[ScaledObjectController]:
    recorder = EventRecorder(kube, now=wall_now, reporting_instance="test")
    ctl = ScaledObjectController(
        kube,
        namespace=None,
        now=wall_now,
        settings=Settings(start_spread=0.0, trigger_timeout_seconds=2.0),
        recorder=recorder,
    )
    await ctl.start()
    await ctl.wait_synced(10)
    yield ctl
    await ctl.aclose()
    await recorder.aclose()
