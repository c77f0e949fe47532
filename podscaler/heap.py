"""Giving the operator's freed heap back to the OS (glibc's ``malloc_trim``).

Why: a replica's heap peaks while its informers list and decode thousands of objects (each
page's JSON, its decoded dicts and the compacted copies the cache keeps are alive at once) and
while the first round of polls builds every owned object's state. Most of that is freed within
seconds, but glibc keeps freed chunks inside its heap for reuse, so RSS stays at the peak: at
10,000 ScaledObjects a replica's RSS was about three times the Python objects it held
(``bench/sharding.py memory --trace``). ``malloc_trim(0)`` returns the free pages, wherever they
are in the heap, to the OS (``MADV_DONTNEED``); the memory Python's own small-object allocator
keeps (in arenas of 256 KiB that are not entirely free) is not affected.

Called when the heap has settled (:func:`podscaler.operator.settle_heap_periodically`), after a
full collection, which is when most of the peak is garbage. Without glibc (musl, macOS) it does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from functools import cache

__all__ = ["release_free_memory"]

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
