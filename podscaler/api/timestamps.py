"""Kubernetes timestamps (``metav1.Time``): RFC 3339 in UTC, second precision, ``Z``.

Every layer reads and writes them (statuses, pod conditions, Events, the embedded API
server, the metrics API, a Prometheus query's ``time``), so the one reader and the one
writer live here, at the bottom. Reading is lenient the way clients must be: ``Z`` or an
offset, fractional seconds, and a time without a zone taken as UTC; anything else is
"absent" (``None``), never an exception, because a malformed time in someone's status must
not stop a poll. Writing is strict: always UTC, whole seconds, ``Z``.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

__all__ = ["format_seconds", "format_time", "parse_seconds", "parse_time"]

_LAYOUT = "%Y-%m-%dT%H:%M:%SZ"


def parse_time(text: object, *, cached: bool = True) -> datetime | None:
    """An aware datetime from an RFC 3339 string, ``None`` when absent or malformed.

    Cached by default (datetimes are immutable): a pod's start and Ready times are read on
    every poll. A caller whose every text is new (a decision record's time) passes
    ``cached=False`` rather than flush the cache for the others."""
    if not isinstance(text, str) or not text:
        return None
    return _parse_cached(text) if cached else _parse(text)


def _parse(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_parse_cached = functools.lru_cache(maxsize=4096)(_parse)


def parse_seconds(text: object, *, cached: bool = True) -> float | None:
    """:func:`parse_time` as Unix seconds (the engines' clock), ``None`` when absent."""
    moment = parse_time(text, cached=cached)
    return None if moment is None else moment.timestamp()


def format_time(moment: datetime) -> str:
    """*moment* as ``metav1.Time`` marshals it; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_LAYOUT)


def format_seconds(seconds: float) -> str:
    """Unix *seconds* as :func:`format_time` writes them."""
    return datetime.fromtimestamp(seconds, UTC).strftime(_LAYOUT)
