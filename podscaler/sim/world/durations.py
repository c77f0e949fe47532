"""Durations as scenarios write them: ``90``, ``90s``, ``15m``, ``1h30m``, ``2d``.

Bare numbers are seconds. Kept apart because scenarios, demand curves and assertions all read
them and must agree.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["DurationError", "parse_seconds"]

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


class DurationError(ValueError):
    """Not a duration; the message names where it was read."""


def parse_seconds(raw: Any, where: str = "duration") -> float:
    if isinstance(raw, bool):
        raise DurationError(f"{where}: {raw!r} is not a duration")
    if isinstance(raw, int | float):
        return float(raw)
    text = str(raw).strip()
    try:
        return float(text)
    except ValueError:
        pass
    position, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise DurationError(f"{where}: {raw!r} is not a duration (like 90s, 15m, 1h30m)")
    return total
