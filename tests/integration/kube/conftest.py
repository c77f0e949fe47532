"""Fixtures for Kubernetes I/O tests over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podscaler.kube.clients import Kube, connect
from podscaler.kube.resources import Discovery


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[Kube]:
    """A client connected through the kubeconfig the embedded API server wrote."""
    async with await connect(kubeconfig=kubeconfig) as client:
        yield client


@pytest.fixture
def discovery(kube: Kube) -> Discovery:
    return Discovery(kube)
