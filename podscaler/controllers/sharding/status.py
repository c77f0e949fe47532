"""The shard as ``podscaler status`` shows it (``--shard``): members, what each owns, handovers.

One replica answers for the whole shard without asking the others: every replica caches every
ScaledObject (it polls only its own), and ownership is rendezvous hashing over the live members
(:mod:`podscaler.controllers.sharding.rendezvous`), so the objects each member owns are counted
here from this replica's member list, as the members themselves compute them. The members and
their Leases' freshness are what this replica's last renew-and-list cycles saw
(:meth:`~podscaler.controllers.sharding.membership.Membership.leases`).

Handovers: :class:`HandoverLog` is a membership ``on_change`` callback. It keeps the last few
changes this replica saw (members before and after, whether it may own objects, the poll
loop's released/taken counters at that moment). What moved is worked out when status is asked
for, never in the callback: the callback runs just before the poll loop rebalances, and
hashing every object there would delay that. Each change's ``released``/``taken`` are this
replica's counters from that change to the next one (the rebalance it triggered).

Counting owners hashes every object once per member: 23-42 ms of CPU at 10,000 objects and 3
members (measured on the shared 2-core machine), paid by the status request and cached while
the members and the object count stay; a handover's moved count, 40-60 ms there, is worked out
once, by the first status request after it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from podscaler.controllers.sharding.membership import MemberLease, Membership
from podscaler.controllers.sharding.rendezvous import moved, owner

__all__ = ["Handover", "HandoverLog", "OwnerCounts", "ShardView", "shard_summary"]

#: Membership changes kept (the status shows them newest first).
KEPT: Final = 10


@dataclass
class Handover:
    """One membership change as this replica saw it."""

    at: datetime
    before: tuple[str, ...]
    after: tuple[str, ...]
    owning: bool
    #: The poll loop's cumulative released/taken counters when the change was seen.
    released_at: int
    taken_at: int
    #: Objects whose owner changed, over the objects known when first shown (lazily).
    moved: int | None = None


@dataclass
class HandoverLog:
    """The membership changes (``on_change`` callback: :meth:`record`)."""

    #: The members and whether this replica may own objects now.
    view: Callable[[], tuple[tuple[str, ...], bool]]
    #: The poll loop's (released, taken) counters; (0, 0) without a controller.
    counters: Callable[[], tuple[int, int]]
    now: Callable[[], datetime]
    entries: deque[Handover] = field(default_factory=lambda: deque(maxlen=KEPT))
    _last: tuple[str, ...] = ()

    def record(self) -> None:
        members, owning = self.view()
        released, taken = self.counters()
        self.entries.append(Handover(self.now(), self._last, members, owning, released, taken))
        self._last = members

    def to_json(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """Newest first; ``released``/``taken``: what this replica gave away and took from
        that change to the next."""
        released_now, taken_now = self.counters()
        found: list[dict[str, Any]] = []
        after: tuple[int, int] = (released_now, taken_now)
        for entry in reversed(self.entries):
            if entry.moved is None:
                # An empty list is this replica without a view (fenced, or not yet joined):
                # nothing moved between members then.
                both = entry.before and entry.after
                entry.moved = moved(keys, entry.before, entry.after) if both else 0
            found.append(
                {
                    "at": entry.at.isoformat(),
                    "joined": sorted(set(entry.after) - set(entry.before)),
                    "left": sorted(set(entry.before) - set(entry.after)),
                    "members": len(entry.after),
                    "owning": entry.owning,
                    "moved": entry.moved,
                    "released": max(0, after[0] - entry.released_at),
                    "taken": max(0, after[1] - entry.taken_at),
                }
            )
            after = (entry.released_at, entry.taken_at)
        return found


@dataclass
class OwnerCounts:
    """Objects per member by rendezvous hashing, cached while the members and the number of
    objects stay the same."""

    _key: tuple[tuple[str, ...], int] | None = None
    _counts: dict[str, int] = field(default_factory=dict)

    def count(self, keys: Collection[str], members: tuple[str, ...]) -> dict[str, int]:
        cache_key = (members, len(keys))
        if cache_key != self._key:
            counts = dict.fromkeys(members, 0)
            for key in keys:
                found = owner(key, members)
                if found is not None:
                    counts[found] += 1
            self._key, self._counts = cache_key, counts
        return self._counts


def shard_summary(
    *,
    identity: str,
    owning: bool,
    leases: Iterable[MemberLease],
    owns: Mapping[str, int],
    polling: int,
    objects: int,
    handovers: list[dict[str, Any]],
    forwarded: int,
) -> dict[str, Any]:
    """The ``shard`` part of ``/debug/status``. *owns*: objects per member; *polling*: what
    this replica polls now (differs from its share while it waits after a join)."""
    members = [
        {
            "identity": lease.identity,
            "self": lease.identity == identity,
            "address": lease.address,
            "owns": owns.get(lease.identity, 0),
            "renewedSecondsAgo": round(lease.renewed_seconds_ago, 3),
            "leaseDurationSeconds": lease.lease_duration_seconds,
        }
        for lease in leases
    ]
    return {
        "identity": identity,
        "owning": owning,
        "objects": objects,
        "polling": polling,
        "members": members,
        "handovers": handovers,
        "forwarded": forwarded,
    }


class ShardView:
    """What ``/debug/status`` says of the shard, kept beside one replica's membership: the
    handover log (registered on ``on_change`` here, before the poll loop's rebalance) and the
    owner counts."""

    def __init__(
        self,
        membership: Membership,
        counters: Callable[[], tuple[int, int]],
        now: Callable[[], datetime],
    ) -> None:
        self.membership = membership
        self.handovers = HandoverLog(lambda: (membership.members, membership.owning), counters, now)
        self.owner_counts = OwnerCounts()
        membership.on_change.append(self.handovers.record)

    def summary(self, keys: Sequence[str], *, polling: int, forwarded: int) -> dict[str, Any]:
        """*keys*: every ScaledObject this replica caches (``namespace/name``)."""
        membership = self.membership
        return shard_summary(
            identity=membership.identity,
            owning=membership.owning,
            leases=membership.leases(),
            owns=self.owner_counts.count(keys, membership.members),
            polling=polling,
            objects=len(keys),
            handovers=self.handovers.to_json(keys),
            forwarded=forwarded,
        )
