"""Membership: one Lease per replica, renewed; the live members as this replica sees them.

Each cycle (every ``retry_period_seconds``) renews this replica's Lease and lists the members'
Leases (label ``podscaler.dev/shard-member``). A cycle that completes records when its renewal
request was *sent* (``synced_at``, loop clock): the Lease changed no earlier, and the list
that followed shows every member Lease created before then, so "my view is at most
``renew_deadline`` old" is true while ``now < synced_at + renew_deadline``. Past that the
replica is *fenced*: it owns nothing until a cycle succeeds again. A timer fences it at that
moment whether a cycle is still running or not; a cycle is not cut there (see late renewals).

Live members: a Lease with a holder whose spec (its ``renewTime``) changed less than its
``leaseDurationSeconds`` (L) ago on this replica's loop clock (client-go's way of judging a
Lease: the holders' wall clocks need not agree with ours), *or* whose change our latest list
started too early to follow: a Lease is believed expired only from a list that started at
least ``LISTED_SHARE`` (0.9) L after we saw it change. Without that, a view of ours that is
still fresh but whose cycles have been failing for a while would believe a member expired
one L after seeing its Lease change, though the member renewed later and works on. In steady
state a cycle starts in every retry period, so this delays a takeover only when the retry
period is longer than the last tenth of L (client-go's ratios: by at most 0.5 s of 15). A
deleted Lease is a member that left after stopping its work, so its objects may be taken at
once.

Ownership (:meth:`Membership.owns`) is the rendezvous owner over the live members (this replica
counted only while not fenced), except during a *join*: a replica that finds other live
members when it (re)joins takes no object for one lease duration, because an object that moves
to it belongs to a live member until that member's view shows the joiner (at most a renew
deadline later, or it fenced itself). The answer changes only when :meth:`Membership._publish`
runs (after each cycle and at the next deadline: fence, end of the join wait, a member's
expiry), and each change calls the ``on_change`` callbacks (the poll loop rebalances).

Late renewals. A fenced replica whose renewal is answered less than ``keep_window``
(``KEEP_SHARE`` = 0.8 L) after its previous successful renewal was sent (at ``p``) owns again
at once with the view it just listed, instead of rejoining (a busy node would otherwise leave
its objects idle for a whole L, though nobody could have taken any). Why nobody did: another
member M believes our Lease expired only from a list that started at least 0.9 L after M saw
it change, which was no earlier than ``p``; our late renewal landed before it was answered,
before ``p + 0.8 L``, so that list shows it and M sees us live throughout. (If M last saw an
older renewal of ours, the same holds from that one: every renewal we own by without a join
wait was answered within 0.8 L of the previous one's sending, the renew deadline included,
which the settings check; after a join wait M has seen us anyway.) A joiner we missed while
fenced is in the fresh list, and waits its own lease duration. A renewal answered later
rejoins as above. The margin, 0.2 L (3 s of 15, more than client-go's 2 s retry period): its
first half is where the others' expiring list must start, the second is slack between the
rates of two nodes' monotonic clocks (NTP slews one by at most 0.05 %: 10 % is ample, and
leaves room for a VM whose clock is corrected in bursts). A shorter margin would keep a few
more late renewals; a longer one keeps fewer and gains no safety that matters. Either way
the replica logs which case it was.

Readiness (``/readyz``, :mod:`podscaler.manager.endpoints`) follows :attr:`Membership.state`
and :meth:`Membership.fenced_seconds`: not ready only when fenced for longer than L.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from podscaler import clock
from podscaler.controllers.sharding.rendezvous import owner
from podscaler.kube.clients import Kube
from podscaler.kube.errors import AlreadyExists, Conflict, KubeError, NotFound
from podscaler.kube.events import format_micro_time

__all__ = [
    "ADDRESS_ANNOTATION",
    "KEEP_SHARE",
    "LISTED_SHARE",
    "MEMBER_LABEL",
    "Member",
    "MemberLease",
    "Membership",
    "MembershipSettings",
]

log = logging.getLogger(__name__)

MEMBER_LABEL: Final = "podscaler.dev/shard-member"
ADDRESS_ANNOTATION: Final = "podscaler.dev/address"
_NOT_DNS: Final = re.compile(r"[^a-z0-9-]+")
#: A fenced replica whose renewal is answered within this share of the lease duration after
#: its previous successful renewal was sent takes its objects back at once.
KEEP_SHARE: Final = 0.8
#: A member's Lease is believed expired only from a list that started at least this share of
#: its duration after the Lease was seen to change (later than any kept renewal can land).
LISTED_SHARE: Final = 0.9


@dataclass(frozen=True)
class MembershipSettings:
    """Where the member Leases live and how they are kept (client-go's leader defaults)."""

    namespace: str
    identity: str
    #: ``host:port`` of this replica's metrics API, for forwarded reads ("" when not served).
    address: str = ""
    lease_duration_seconds: float = 15.0
    renew_deadline_seconds: float = 10.0
    retry_period_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration_seconds > self.renew_deadline_seconds > 0:
            raise ValueError("need lease_duration_seconds > renew_deadline_seconds > 0")
        if self.renew_deadline_seconds > self.keep_window_seconds:
            raise ValueError(
                f"need renew_deadline_seconds <= {KEEP_SHARE:g} x lease_duration_seconds "
                "(a replica must stop before the others may believe its Lease expired)"
            )
        if not 0 < self.retry_period_seconds < self.renew_deadline_seconds:
            raise ValueError("need 0 < retry_period_seconds < renew_deadline_seconds")
        if not self.identity:
            raise ValueError("a shard member needs an identity")

    @property
    def keep_window_seconds(self) -> float:
        """How long after its last successful renewal was sent a fenced replica whose next
        renewal is answered may take its objects back at once (no join wait)."""
        return KEEP_SHARE * self.lease_duration_seconds


@dataclass(frozen=True)
class Member:
    """A live member: its identity (pod name) and metrics API address."""

    identity: str
    address: str


@dataclass(frozen=True)
class MemberLease:
    """A live member as this replica last saw its Lease (what ``podscaler status`` shows)."""

    identity: str
    address: str
    #: Loop seconds since its Lease was seen to change (this replica: since its last
    #: successful renewal was sent).
    renewed_seconds_ago: float
    lease_duration_seconds: float


def lease_name(identity: str) -> str:
    """The member Lease's name: ``podscaler-shard-`` and the identity as a DNS-1123 name."""
    name = _NOT_DNS.sub("-", identity.lower()).strip("-") or "member"
    return f"podscaler-shard-{name}"[:253].rstrip("-")


@dataclass
class _Seen:
    spec: dict[str, Any]
    since: float
    member: Member
    duration: float


class Membership:
    """This replica's Lease and its view of the others; :meth:`owns` answers for objects."""

    def __init__(
        self,
        kube: Kube,
        settings: MembershipSettings,
        *,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self._kube = kube
        self.settings = settings
        self.identity = settings.identity
        self.lease_name = lease_name(settings.identity)
        self._now = now
        self._seen: dict[str, _Seen] = {}
        self._lease: dict[str, Any] | None = None
        self._synced_at: float | None = None
        self._take_from: float = 0.0
        self._timer: asyncio.TimerHandle | None = None
        #: What :meth:`owns` answers from: the live identities and whether we may own.
        self._members: tuple[str, ...] = ()
        self._owning = False
        self.on_change: list[Callable[[], object]] = []
        #: Ownership changes published (each one rebalances), for status and tests.
        self.changes = 0
        #: Renewals answered after a fence: kept (objects back at once) and (re)joins.
        self.kept = 0
        self.joins = 0
        self._started_at: float | None = None

    # ---------------------------------------------------------------- answers

    @property
    def members(self) -> tuple[str, ...]:
        """The live members as last published (this replica among them unless fenced)."""
        return self._members

    @property
    def owning(self) -> bool:
        """Whether this replica may own objects now (not fenced, not waiting after a join)."""
        return self._owning

    @property
    def state(self) -> str:
        """``starting`` (no cycle succeeded yet), ``fenced`` (its view is stale: it owns
        nothing), ``joining`` (waiting a lease duration after a join) or ``owning``."""
        if self._synced_at is None:
            return "starting"
        if not self._fresh(asyncio.get_running_loop().time()):
            return "fenced"
        return "owning" if self._owning else "joining"

    def fenced(self) -> bool:
        """Whether this replica is fenced now (its ownership suspended: a late renewal may
        still be kept, see the module docstring)."""
        return self.state == "fenced"

    def fenced_seconds(self) -> float:
        """Loop seconds since this replica's view went stale (since :meth:`run` started when
        no cycle succeeded yet); 0 while it is fresh."""
        now = asyncio.get_running_loop().time()
        if self._fresh(now):
            return 0.0
        if self._synced_at is not None:
            return now - (self._synced_at + self.settings.renew_deadline_seconds)
        return now - self._started_at if self._started_at is not None else 0.0

    def owns(self, key: str) -> bool:
        """Whether this replica works on the object ``namespace/name`` now."""
        return self._owning and owner(key, self._members) == self.identity

    def owner_of(self, key: str) -> Member | None:
        """The live member that owns ``namespace/name`` (for forwarding), or None."""
        found = owner(key, self._members)
        if found is None:
            return None
        if found == self.identity:
            return Member(self.identity, self.settings.address)
        seen = self._seen.get(found)
        return seen.member if seen is not None else None

    def leases(self) -> list[MemberLease]:
        """The members of :attr:`members` with how fresh their Leases are (for status; reads
        only what the last cycles saw)."""
        now = asyncio.get_running_loop().time()
        found: list[MemberLease] = []
        for identity in self._members:
            if identity == self.identity:
                since = self._synced_at if self._synced_at is not None else now
                duration = self.settings.lease_duration_seconds
                found.append(MemberLease(identity, self.settings.address, now - since, duration))
            elif (seen := self._seen.get(identity)) is not None:
                address = seen.member.address
                found.append(MemberLease(identity, address, now - seen.since, seen.duration))
        return found

    # ---------------------------------------------------------------- running

    @property
    def _collection(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.settings.namespace}/leases"

    async def run(self) -> None:
        """Renew and list every retry period until cancelled (the Lease stays: see
        :meth:`leave`)."""
        loop = asyncio.get_running_loop()
        self._started_at = loop.time()
        try:
            while True:
                started = loop.time()
                # A cycle that outlasts the renew deadline fences the replica through
                # _publish's timer, not by being cut: its renewal may still be answered in
                # the keep window. Longer than that, a view it lists is stale anyway. (Cut
                # after a retry period once fenced, a busy node's slower cycles never
                # rejoined.)
                limit = self.settings.renew_deadline_seconds
                if self._synced_at is not None:
                    keep_until = self._synced_at + self.settings.keep_window_seconds
                    limit = max(limit, keep_until - started)
                try:
                    async with asyncio.timeout(limit):
                        await self._cycle()
                except (KubeError, TimeoutError) as exc:
                    log.warning(
                        "shard membership %s: renew and list failed: %s",
                        self.identity,
                        str(exc) or f"no answer within {limit:.1f} s",
                    )
                self._publish()
                pause = started + self.settings.retry_period_seconds - loop.time()
                await asyncio.sleep(max(0.0, pause))
        finally:
            if self._timer is not None:
                self._timer.cancel()

    async def leave(self) -> None:
        """Delete this replica's Lease (after its work stopped): the others take its objects
        at once instead of waiting for the Lease to expire."""
        self._owning = False
        try:
            async with asyncio.timeout(self.settings.renew_deadline_seconds):
                await self._kube.request("DELETE", f"{self._collection}/{self.lease_name}")
            log.info("shard membership %s: left", self.identity)
        except (KubeError, TimeoutError) as exc:
            log.warning("shard membership %s: leaving failed: %s", self.identity, exc)

    # ---------------------------------------------------------------- internals

    def _body(self, old: dict[str, Any] | None) -> dict[str, Any]:
        wall = format_micro_time(self._now())
        spec: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.settings.lease_duration_seconds)),
            "renewTime": wall,
            "acquireTime": wall,
        }
        metadata: dict[str, Any] = {
            "name": self.lease_name,
            "namespace": self.settings.namespace,
            "labels": {MEMBER_LABEL: "true"},
            "annotations": {ADDRESS_ANNOTATION: self.settings.address},
        }
        if old is not None:
            old_spec = old.get("spec") or {}
            if old_spec.get("holderIdentity") == self.identity and self._synced_at is not None:
                spec["acquireTime"] = old_spec.get("acquireTime") or wall
            metadata["resourceVersion"] = (old.get("metadata") or {}).get("resourceVersion")
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec,
        }

    async def _renew(self) -> float:
        """Renew (or create) this replica's Lease; returns the loop time the request that
        succeeded was sent at (the Lease changed no earlier than that)."""
        loop = asyncio.get_running_loop()
        path = f"{self._collection}/{self.lease_name}"
        if self._lease is not None:
            try:
                sent = loop.time()
                self._lease = await self._kube.request("PUT", path, body=self._body(self._lease))
                return sent
            except (Conflict, NotFound):
                self._lease = None
        try:
            current = await self._kube.request("GET", path)
        except NotFound:
            try:
                sent = loop.time()
                self._lease = await self._kube.request(
                    "POST", self._collection, body=self._body(None)
                )
            except AlreadyExists as exc:
                raise KubeError(f"lease {self.lease_name} appeared meanwhile") from exc
            return sent
        sent = loop.time()
        self._lease = await self._kube.request("PUT", path, body=self._body(current))
        return sent

    async def _cycle(self) -> None:
        loop = asyncio.get_running_loop()
        sent = await self._renew()
        answered = loop.time()
        listing = await self._kube.request(
            "GET", self._collection, params={"labelSelector": MEMBER_LABEL}
        )
        now = loop.time()
        seen: dict[str, _Seen] = {}
        for lease in listing.get("items") or []:
            spec = lease.get("spec") or {}
            holder = str(spec.get("holderIdentity") or "")
            if not holder or holder == self.identity:
                continue
            before = self._seen.get(holder)
            since = before.since if before is not None and before.spec == spec else now
            annotations = (lease.get("metadata") or {}).get("annotations") or {}
            seen[holder] = _Seen(
                spec=spec,
                since=since,
                member=Member(holder, str(annotations.get(ADDRESS_ANNOTATION) or "")),
                duration=float(spec.get("leaseDurationSeconds") or 0.0),
            )
        self._seen = seen
        previous, self._synced_at = self._synced_at, sent
        if previous is not None and now < previous + self.settings.renew_deadline_seconds:
            return  # never fenced: nothing changes hands
        late = answered - previous if previous is not None else None
        if late is not None and late < self.settings.keep_window_seconds:
            # Nobody took our objects: see "Late renewals" in the module docstring.
            self.kept += 1
            log.info(
                "shard membership %s: renewal answered %.1f s after the previous one was sent "
                "(within %.1f s): working on objects again at once",
                self.identity,
                late,
                self.settings.keep_window_seconds,
            )
            return
        # (Re)joining: whatever moves to us belongs to a live member until it sees us.
        others = any(self._alive(s, now) for s in seen.values())
        self._take_from = now + (self.settings.lease_duration_seconds if others else 0.0)
        self.joins += 1
        if others or late is not None:
            log.info(
                "shard membership %s: %s; taking objects %s",
                self.identity,
                "joined"
                if late is None
                else f"rejoined (renewal answered {late:.1f} s after the previous one was sent)",
                f"from {self.settings.lease_duration_seconds:.0f} s on" if others else "at once",
            )

    def _fresh(self, at: float) -> bool:
        return (
            self._synced_at is not None
            and at < self._synced_at + self.settings.renew_deadline_seconds
        )

    def _alive(self, seen: _Seen, now: float) -> bool:
        """Whether a member's Lease is live: it changed less than its duration ago, or our
        latest list started too early to have seen a renewal it may still hold objects by."""
        if now < seen.since + seen.duration:
            return True
        return self._synced_at is None or self._synced_at < seen.since + LISTED_SHARE * (
            seen.duration
        )

    def _publish(self) -> None:
        """Recompute what :meth:`owns` answers from; call back when it changed; arm a timer
        for the next moment it changes by itself."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        fresh = self._fresh(now)
        live = sorted(i for i, s in self._seen.items() if self._alive(s, now))
        if fresh:
            live.append(self.identity)
        members = tuple(sorted(live))
        owning = fresh and now >= self._take_from
        if (members, owning) != (self._members, self._owning):
            if self._owning and not fresh:
                log.warning(
                    "shard membership %s: no renewal for %.0f s; stopped working on objects",
                    self.identity,
                    self.settings.renew_deadline_seconds,
                )
            self._members, self._owning = members, owning
            self.changes += 1
            for callback in list(self.on_change):
                try:
                    callback()
                except Exception:
                    log.exception("shard membership %s: change callback failed", self.identity)
        # (A member kept live past its duration by an early list waits for the next cycle.)
        deadlines = [s.since + s.duration for s in self._seen.values()]
        deadlines = [d for d in deadlines if d > now]
        if self._synced_at is not None and fresh:
            deadlines.append(self._synced_at + self.settings.renew_deadline_seconds)
        if self._take_from > now:
            deadlines.append(self._take_from)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadlines:
            self._timer = loop.call_at(min(deadlines) + 1e-3, self._publish)
