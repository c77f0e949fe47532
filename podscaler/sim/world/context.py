"""What every part of the world shares: the server and its writer, the caches, the timers,
the event writer, the profiles, the seeded random generator, the clock and the pod creator."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podscaler.sim.world.admitting import PodCreations
from podscaler.sim.world.events import EventWriter
from podscaler.sim.world.profiles import Profiles
from podscaler.sim.world.state import ClusterState, Timers
from podscaler.sim.world.writing import ApiWriter, Kinds

if TYPE_CHECKING:
    from podscaler.sim.apiserver.server import ApiServer

__all__ = ["WorldContext"]

_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class WorldContext:
    server: ApiServer
    writer: ApiWriter
    kinds: Kinds
    state: ClusterState
    timers: Timers
    events: EventWriter
    profiles: Profiles
    rng: random.Random
    monotonic: Callable[[], float]
    #: how the workload controllers create pods (through the webhooks when configured)
    creations: PodCreations

    def suffix(self, length: int = 5) -> str:
        """A generateName-style suffix from the seeded generator (replays identically)."""
        return "".join(self.rng.choice(_SUFFIX_ALPHABET) for _ in range(length))
