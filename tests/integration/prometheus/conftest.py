"""Keep the session free of an implicit, never-closed event loop.

looptime's ``pytest_pyfunc_call`` asks the event-loop policy for the current loop before
every test; on a fresh main thread that *creates* a loop which nobody closes, and its
ResourceWarning later fails whichever test happens to trigger garbage collection (warnings
are errors here). Marking the thread's loop as explicitly unset makes the policy raise
instead, which looptime handles. pytest-asyncio runs async tests on loops of its own.
"""

from __future__ import annotations

import asyncio

import pytest

# Until tests/conftest.py lists "tests.fixtures.prometheus" in pytest_plugins.
from tests.fixtures.prometheus import prometheus_server  # noqa: F401


@pytest.fixture(autouse=True, scope="session")
def _no_implicit_event_loop() -> None:
    asyncio.set_event_loop(None)
