"""Giving the operator's freed heap back to the OS (glibc's ``malloc_trim``).

Why: a replica's heap peaks while its informers list and decode thousands of objects (each
page's JSON, its decoded dicts and the compacted copies the cache keeps are alive at once) and
while the first round of polls builds every owned object's state. Most of that is freed within
seconds, but glibc keeps freed chunks inside its heap for reuse, so RSS stays at the peak: at
10,000 ScaledObjects a replica's RSS was about three times the Python objects it held
(``bench/sharding.py memory --trace``). ``malloc_trim(0)`` returns the free pages, wherever they
are in the heap, to the OS (``MADV_DONTNEED``); the memory Python's own small-object allocator
keeps (in arenas of 256 KiB that are not entirely free) is not affected.

Called when the heap has settled (:func:`settle_heap_periodically`), after a
full collection, which is when most of the peak is garbage. Without glibc (musl, macOS) it does
nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Callable
from functools import cache

from podscaler.clock import WallClock

__all__ = ["release_free_memory", "settle_heap_periodically"]

log = logging.getLogger(__name__)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_free_memory() -> bool:
    """Return the C heap's free pages to the OS; whether anything could be returned."""
    trim = _malloc_trim()
    if trim is None:
        return False
    released = bool(trim(0))
    log.debug("heap: free memory returned to the OS: %s", released)
    return released


#: Real time, for the heap's housekeeping (see :func:`settle_heap_periodically`).
_WALL = WallClock()


async def settle_heap_periodically(
    first_after_seconds: float = 30.0,
    every_seconds: float = 3600.0,
    *,
    first_round_steps: int = 6,
) -> None:
    """Keep the cycle collector off the operator's long-lived heap.

    Why: at thousands of ScaledObjects the informer caches, scalers and per-object state are
    millions of small objects, and each full (generation 2) collection walks all of them: a
    pause of 0.2 to 0.5 s at 1,000 objects and over a second at 10,000, measured as scale loop
    lateness (bench/RESULTS.md, issue 4). Almost none of it is cyclic garbage, so it is frozen
    (``gc.freeze()``): later collections only look at what was allocated since; frozen objects
    are still freed by reference counting.

    When: at once (call this right after the informers synced: their caches are most of the
    heap), then *first_round_steps* times during the first round of polls, which builds every
    object's scalers and state (at 10,000 objects the collector otherwise ran a dozen full
    collections of up to 1.2 s each in that round), after a young-generation collection each
    time; then, once the first round is over (*first_after_seconds*, one polling interval), a
    full collection of what is not frozen, and a freeze; then the C heap's free pages go back
    to the OS (:mod:`podscaler.heap`).

    Cost: cyclic garbage that is reachable at the moment of freezing (in-flight requests) and
    dies later is not collected while frozen, so every *every_seconds* the heap is unfrozen,
    collected in full (one pause per hour by default) and frozen again. That period is real
    time as well as loop time: garbage comes with work done, not with simulated hours, and a
    simulated day (``podscaler demo``: a day in seconds) would otherwise pay 24 full
    collections.
    """
    gc.collect(1)
    gc.freeze()
    steps = max(first_round_steps, 0)
    step_seconds = first_after_seconds / (steps + 1)
    for _ in range(steps):
        await asyncio.sleep(step_seconds)
        gc.collect(1)
        gc.freeze()
    await asyncio.sleep(step_seconds)
    gc.collect()
    gc.freeze()
    release_free_memory()  # the listing and first-round peak, freed: back to the OS
    settled_at = _WALL.monotonic()
    while True:
        await asyncio.sleep(every_seconds)
        if _WALL.monotonic() - settled_at < every_seconds:
            continue
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        release_free_memory()
        settled_at = _WALL.monotonic()
