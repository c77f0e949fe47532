"""Fixtures for Kubernetes I/O tests over HTTP, and a pytest-asyncio workaround.

Work around a pytest-asyncio 1.5 leak that turns into an error under ``-W error``.

When a synchronous test runs before an asynchronous one, pytest-asyncio asks
``asyncio.get_event_loop()`` for the "old" loop, which on Python 3.11 silently creates a loop
that nobody closes; its ResourceWarning then fails a later test. Declaring "no current loop"
once, before any test runs, makes that call raise (which pytest-asyncio handles) instead.
This belongs in ``tests/conftest.py``; it lives here until it does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from podscaler.kube.clients import Kube, connect
from podscaler.kube.resources import Discovery


def pytest_configure(config: pytest.Config) -> None:
    asyncio.set_event_loop(None)


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[Kube]:
    """A client connected through the kubeconfig the embedded API server wrote."""
    async with await connect(kubeconfig=kubeconfig) as client:
        yield client


@pytest.fixture
def discovery(kube: Kube) -> Discovery:
    return Discovery(kube)
