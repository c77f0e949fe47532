"""Exponential backoff with jitter, as a pure schedule plus a small stateful wrapper.

When the API server fails, every informer and elector of every operator replica retries; if
they all wait the same time they all come back at once. Each delay is therefore drawn from
``[base*(1-jitter), base]`` where ``base`` doubles from ``initial_seconds`` up to
``max_seconds``. Jittering *downwards* keeps ``max_seconds`` a true upper bound. The random
draw is injected so tests can pin the schedule.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Backoff", "backoff_delay_seconds"]


def backoff_delay_seconds(
    attempt: int,
    *,
    initial_seconds: float,
    max_seconds: float,
    factor: float,
    jitter: float,
    random_fraction: float,
) -> float:
    """Delay before retry number ``attempt`` (0-based); ``random_fraction`` is in [0, 1)."""
    base = min(max_seconds, initial_seconds * factor ** min(attempt, 64))
    return base * (1.0 - jitter * random_fraction)


@dataclass(slots=True)
class Backoff:
    """Successive delays for one retrying loop; :meth:`reset` after a success.

    Defaults follow the informer reflector of client-go (0.8 s doubling to 30 s).
    """

    initial_seconds: float = 0.8
    max_seconds: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    random_fraction: Callable[[], float] = field(default=random.random)
    attempt: int = 0

    def next_delay_seconds(self) -> float:
        delay = backoff_delay_seconds(
            self.attempt,
            initial_seconds=self.initial_seconds,
            max_seconds=self.max_seconds,
            factor=self.factor,
            jitter=self.jitter,
            random_fraction=self.random_fraction(),
        )
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
