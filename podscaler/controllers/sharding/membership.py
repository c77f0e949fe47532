"""Membership: one Lease per replica, renewed; the live members as this replica sees them.

Each cycle (every ``retry_period_seconds``) renews this replica's Lease and lists the members'
Leases (label ``podscaler.dev/shard-member``). A cycle that completes records when it
*started* (``synced_at``): a member Lease created after that moment is in the next cycle's
list, so "my view is at most ``renew_deadline`` old" is true while
``now < synced_at + renew_deadline``. Past that the replica is *fenced*: it owns nothing
until a cycle succeeds again, and it then rejoins like a newcomer.

Live members: a Lease with a holder whose spec (its ``renewTime``) changed less than its
``leaseDurationSeconds`` ago on this replica's loop clock (client-go's way of judging a Lease:
the holders' wall clocks need not agree with ours). A deleted Lease is a member that left after
stopping its work, so its objects may be taken at once.

Ownership (:meth:`Membership.owns`) is the rendezvous owner over the live members (this replica
counted only while not fenced), except during a *join*: a replica that finds other live
members when it (re)joins takes no object for one lease duration, because an object that moves
to it belongs to a live member until that member's view shows the joiner (at most a renew
deadline later, or it fenced itself). The answer changes only when :meth:`Membership._publish`
runs (after each cycle and at the next deadline: fence, end of the join wait, a member's
expiry), and each change calls the ``on_change`` callbacks (the poll loop rebalances).
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
        if not 0 < self.retry_period_seconds < self.renew_deadline_seconds:
            raise ValueError("need 0 < retry_period_seconds < renew_deadline_seconds")
        if not self.identity:
            raise ValueError("a shard member needs an identity")


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
    #: successful renew-and-list cycle started).
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

    # ---------------------------------------------------------------- answers

    @property
    def members(self) -> tuple[str, ...]:
        """The live members as last published (this replica among them unless fenced)."""
        return self._members

    @property
    def owning(self) -> bool:
        """Whether this replica may own objects now (not fenced, not waiting after a join)."""
        return self._owning

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
        try:
            while True:
                started = loop.time()
                # A slow cycle may run until the view would go stale anyway (then it fences).
                limit = self.settings.renew_deadline_seconds
                if self._synced_at is not None:
                    limit = max(
                        self.settings.retry_period_seconds, self._synced_at + limit - started
                    )
                try:
                    async with asyncio.timeout(limit):
                        await self._cycle(started)
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

    async def _renew(self) -> None:
        path = f"{self._collection}/{self.lease_name}"
        if self._lease is not None:
            try:
                self._lease = await self._kube.request("PUT", path, body=self._body(self._lease))
                return
            except (Conflict, NotFound):
                self._lease = None
        try:
            current = await self._kube.request("GET", path)
        except NotFound:
            try:
                self._lease = await self._kube.request(
                    "POST", self._collection, body=self._body(None)
                )
            except AlreadyExists as exc:
                raise KubeError(f"lease {self.lease_name} appeared meanwhile") from exc
            return
        self._lease = await self._kube.request("PUT", path, body=self._body(current))

    async def _cycle(self, started: float) -> None:
        await self._renew()
        listing = await self._kube.request(
            "GET", self._collection, params={"labelSelector": MEMBER_LABEL}
        )
        loop = asyncio.get_running_loop()
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
        if not self._fresh(now):
            # (Re)joining: whatever moves to us belongs to a live member until it sees us.
            others = any(self._alive(s, now) for s in seen.values())
            self._take_from = now + (self.settings.lease_duration_seconds if others else 0.0)
            if others:
                log.info(
                    "shard membership %s: joined; taking objects from %.0f s on",
                    self.identity,
                    self.settings.lease_duration_seconds,
                )
        self._synced_at = started

    def _fresh(self, at: float) -> bool:
        return (
            self._synced_at is not None
            and at < self._synced_at + self.settings.renew_deadline_seconds
        )

    @staticmethod
    def _alive(seen: _Seen, now: float) -> bool:
        return now < seen.since + seen.duration

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
        deadlines = [s.since + s.duration for s in self._seen.values() if self._alive(s, now)]
        if self._synced_at is not None and fresh:
            deadlines.append(self._synced_at + self.settings.renew_deadline_seconds)
        if self._take_from > now:
            deadlines.append(self._take_from)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadlines:
            self._timer = loop.call_at(min(deadlines) + 1e-3, self._publish)
