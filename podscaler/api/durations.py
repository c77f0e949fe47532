"""Go's ``time.ParseDuration``, the duration syntax Kubernetes autoscalers take in flags,
annotations and trigger metadata (``30s``, ``1m30s``, ``1.5h``, ``300ms``).

One parser for every layer: KEDA's trigger metadata (``scalers``), Cluster Autoscaler's flags
and the ``pod-scale-up-delay`` annotation (``podscaler.nodes``).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["parse_go_duration"]

_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # Go accepts both micro signs
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART: Final = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]+)")
#: The largest duration Go can hold (int64 nanoseconds), in seconds.
_MAX_SECONDS: Final = (2**63 - 1) / 1e9


def parse_go_duration(text: str) -> float | None:
    """Seconds for ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+`` or ``0``; None when it is not one.

    Negative results are returned as such: whether a negative duration is allowed is the
    caller's rule. Durations beyond Go's int64 nanoseconds are rejected, as Go does.
    """
    sign = 1.0
    if text[:1] in ("-", "+"):
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    if not text:
        return None
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            return None
        whole, frac, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not frac:
            return None
        if unit not in _UNITS:
            return None
        total += float(f"{whole or '0'}.{frac or '0'}") * _UNITS[unit]
        pos = match.end()
    if total > _MAX_SECONDS:
        return None
    return sign * total
