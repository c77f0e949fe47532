"""Polling for a condition in tests: servers answer asynchronously, fixed sleeps would flake."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(check: Callable[[], bool], timeout_seconds: float = 5.0) -> None:
    """Return once ``check()`` is true; fail with TimeoutError after ``timeout_seconds``."""
    async with asyncio.timeout(timeout_seconds):
        while True:
            if check():
                return
            await asyncio.sleep(0.02)
