"""Exponential backoff of node groups after failed scale-ups, as Cluster Autoscaler keeps it
(``utils/backoff/exponential_backoff.go``), as an immutable value: every transition returns a
new :class:`Backoff`, and ``now`` is always a parameter.

* The first failure backs a group off for the initial duration (5 min by default).
* A failure *after* the previous backoff expired doubles the duration, up to the maximum
  (30 min); a failure *during* a backoff keeps the duration and only moves the end and the
  error forward, so concurrent failures do not compound.
* A group is backed off at ``now`` unless its backoff ended strictly before ``now``.
* An entry is forgotten once ``reset_timeout`` (3 h) has passed since its last failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

__all__ = ["Backoff", "BackoffEntry", "BackoffParams", "BackoffStatus"]


@dataclass(frozen=True)
class BackoffParams:
    initial_seconds: float = 300.0
    max_seconds: float = 1800.0
    reset_timeout_seconds: float = 10800.0


@dataclass(frozen=True)
class BackoffEntry:
    duration_seconds: float
    until: float
    last_failure: float
    error_code: str
    error_message: str


@dataclass(frozen=True)
class BackoffStatus:
    """Whether a group is backed off now, and the error that put it there (for the status
    ConfigMap's ``backoffInfo`` and the ``in backoff after failed scale-up`` reason)."""

    backed_off: bool
    error_code: str = ""
    error_message: str = ""
    until: float | None = None


_NOT_BACKED_OFF: Final = BackoffStatus(False)


@dataclass(frozen=True)
class Backoff:
    params: BackoffParams = BackoffParams()
    entries: Mapping[str, BackoffEntry] = field(default_factory=lambda: MappingProxyType({}))

    def backoff(self, key: str, now: float, error_code: str, error_message: str = "") -> Backoff:
        """Record a failed scale-up of ``key`` at ``now``."""
        previous = self.entries.get(key)
        duration = self.params.initial_seconds
        if previous is not None:
            if previous.until < now:
                duration = min(previous.duration_seconds * 2, self.params.max_seconds)
            else:
                duration = previous.duration_seconds
        entry = BackoffEntry(duration, now + duration, now, error_code, error_message)
        return Backoff(self.params, MappingProxyType({**self.entries, key: entry}))

    def status(self, key: str, now: float) -> BackoffStatus:
        entry = self.entries.get(key)
        if entry is None or entry.until < now:
            return _NOT_BACKED_OFF
        return BackoffStatus(True, entry.error_code, entry.error_message, entry.until)

    def remove_backoff(self, key: str) -> Backoff:
        """Forget ``key`` (a successful scale-up resets its backoff)."""
        if key not in self.entries:
            return self
        return Backoff(
            self.params, MappingProxyType({k: v for k, v in self.entries.items() if k != key})
        )

    def remove_stale(self, now: float) -> Backoff:
        """Drop entries whose last failure is more than the reset timeout ago."""
        reset = self.params.reset_timeout_seconds
        kept = {k: v for k, v in self.entries.items() if not v.last_failure + reset < now}
        if len(kept) == len(self.entries):
            return self
        return Backoff(self.params, MappingProxyType(kept))
