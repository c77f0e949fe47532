"""Shared pytest configuration: fixture plugins and the CI rule that missing servers fail."""

from __future__ import annotations

import asyncio
import os

import pytest
from hypothesis import settings

#: No property here is about speed, and a 200 ms deadline fails on a loaded shared CI machine
#: (TESTING.md): every hypothesis test inherits ``deadline=None`` from this profile.
settings.register_profile("podscaler", deadline=None, print_blob=True)
settings.load_profile("podscaler")

pytest_plugins = [
    "tests.fixtures.apiserver",
    "tests.fixtures.delegation",
    "tests.fixtures.kafka",
    "tests.fixtures.moto",
    "tests.fixtures.pki",
    "tests.fixtures.proxy",
    "tests.fixtures.prometheus",
]

#: In CI a missing server or tool is a failure, never a skip (TESTING.md).
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    """Declare "no current event loop" before any test runs.

    pytest-asyncio 1.5 on Python 3.11 asks ``asyncio.get_event_loop()`` for the previous loop
    when a synchronous test precedes an asynchronous one; without this, that call silently
    creates a loop nobody closes, and its ResourceWarning fails a later test under ``-W error``.
    """
    asyncio.set_event_loop(None)
