"""Shard membership over member Leases on the embedded API server, on the loop clock.

Covers: members split the objects disjointly and about evenly; a killed member's objects are
taken once its Lease expired (not before, and within the lease duration plus a retry); a member
that leaves gracefully is replaced at once; a joiner takes its share only after a lease duration
while the old owners give it up at once; a partitioned member (its API server unreachable)
stops owning before its Lease can expire for the others, and rejoins like a newcomer. A watcher
checks every member's answer at every change any member publishes (and every 0.25 s of loop
time) throughout: no object ever has two owners. Durations are client-go's leader defaults
(15/10/2 s); ``looptime`` makes a minute of membership take milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from podscaler.controllers.sharding import Membership, MembershipSettings
from podscaler.controllers.sharding.membership import ADDRESS_ANNOTATION, MEMBER_LABEL
from podscaler.kube.clients import Kube, connect
from tests.fixtures.proxy import GatedProxy
from tests.integration.kube.waiting import eventually

pytestmark = pytest.mark.looptime

LEASE, RENEW, RETRY = 15.0, 10.0, 2.0
EPSILON = 0.3
KEYS = [f"ns-{i % 7}/so-{i}" for i in range(150)]


def wall_clock() -> datetime:
    return datetime(2026, 6, 1, tzinfo=UTC) + timedelta(seconds=asyncio.get_running_loop().time())


def member(kube: Kube, identity: str) -> Membership:
    return Membership(
        kube,
        MembershipSettings(
            namespace="default",
            identity=identity,
            address=f"{identity}.example:6443",
            lease_duration_seconds=LEASE,
            renew_deadline_seconds=RENEW,
            retry_period_seconds=RETRY,
        ),
        now=wall_clock,
    )


def owned(m: Membership) -> set[str]:
    return {k for k in KEYS if m.owns(k)}


class Watcher:
    """Checks who owns what at every change any member publishes (answers change only then)
    and every 0.25 s; records any object owned by two members at once."""

    def __init__(self, members: Callable[[], list[Membership]]) -> None:
        self.members = members
        self.double: list[tuple[float, str]] = []
        self.checks = 0

    def check(self) -> None:
        self.checks += 1
        now = asyncio.get_running_loop().time()
        seen: dict[str, str] = {}
        for m in self.members():
            for key in owned(m):
                if key in seen:
                    self.double.append((now, key))
                seen[key] = m.identity

    async def run(self) -> None:
        while True:
            self.check()
            await asyncio.sleep(0.25)


class Members:
    def __init__(self, on_change: Callable[[], object] | None = None) -> None:
        self.running: dict[str, tuple[Membership, asyncio.Task[None]]] = {}
        self.on_change = on_change

    def __iter__(self) -> Iterator[Membership]:
        return iter(m for m, _ in self.running.values())

    def start(self, m: Membership) -> Membership:
        if self.on_change is not None:
            m.on_change.append(self.on_change)
        task = asyncio.get_running_loop().create_task(m.run())
        self.running[m.identity] = (m, task)
        return m

    async def kill(self, identity: str) -> None:
        _, task = self.running.pop(identity)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def members() -> AsyncIterator[tuple[Members, Watcher]]:
    watcher = Watcher(lambda: list(group))
    group = Members(watcher.check)
    watching = asyncio.get_running_loop().create_task(watcher.run())
    try:
        yield group, watcher
    finally:
        watching.cancel()
        for identity in list(group.running):
            await group.kill(identity)
        await asyncio.gather(watching, return_exceptions=True)
    assert not watcher.double, f"objects with two owners: {watcher.double[:5]}"


def all_owned_once(ms: list[Membership]) -> bool:
    counts = [sum(1 for m in ms if m.owns(k)) for k in KEYS]
    return all(c == 1 for c in counts)


async def test_members_split_the_objects_and_a_killed_one_is_replaced_after_expiry(
    kube: Kube,
) -> None:
    loop = asyncio.get_running_loop()
    async with members() as (group, _):
        a = group.start(member(kube, "a"))
        await eventually(lambda: owned(a) == set(KEYS), timeout_seconds=RETRY * 2)
        b, c = group.start(member(kube, "b")), group.start(member(kube, "c"))
        # The joiners find a live member: they take nothing for a lease duration...
        await asyncio.sleep(LEASE - RETRY)
        assert not owned(b)
        assert not owned(c)
        assert a.members == ("a", "b", "c")  # ...while a already gave their objects up
        assert len(owned(a)) < len(KEYS) / 2
        await eventually(lambda: all_owned_once([a, b, c]), timeout_seconds=RETRY * 2)
        for m in (a, b, c):
            assert 0.2 * len(KEYS) <= len(owned(m)) <= 0.47 * len(KEYS)
        # Each Lease names its holder and carries its address.
        leases = await kube.request(
            "GET",
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            params={"labelSelector": MEMBER_LABEL},
        )
        holders = {
            item["spec"]["holderIdentity"]: item["metadata"]["annotations"][ADDRESS_ANNOTATION]
            for item in leases["items"]
        }
        assert holders == {i: f"{i}.example:6443" for i in "abc"}

        theirs = owned(c)
        killed_at = loop.time()
        await group.kill("c")  # SIGKILL: no goodbye, the Lease stays
        await eventually(lambda: all_owned_once([a, b]), timeout_seconds=LEASE * 2)
        waited = loop.time() - killed_at
        assert LEASE - RETRY <= waited <= LEASE + RETRY + EPSILON
        assert theirs <= owned(a) | owned(b)


async def test_a_member_that_leaves_is_replaced_at_once(kube: Kube) -> None:
    loop = asyncio.get_running_loop()
    async with members() as (group, _):
        a = group.start(member(kube, "a"))
        await eventually(lambda: a.owning, timeout_seconds=RETRY * 2)
        b = group.start(member(kube, "b"))
        await eventually(lambda: b.owning, timeout_seconds=LEASE + 2 * RETRY)
        assert all_owned_once([a, b])
        await group.kill("b")
        left_at = loop.time()
        await b.leave()  # graceful: its work stopped first, then its Lease goes
        await eventually(lambda: owned(a) == set(KEYS), timeout_seconds=LEASE)
        assert loop.time() - left_at <= RETRY + EPSILON


async def test_a_partitioned_member_stops_before_its_lease_expires(
    kube: Kube, apiserver_proxy: GatedProxy
) -> None:
    loop = asyncio.get_running_loop()
    async with await connect(server=apiserver_proxy.url) as cut_off:
        async with members() as (group, watcher):
            a = group.start(member(kube, "a"))
            await eventually(lambda: a.owning, timeout_seconds=RETRY * 2)
            b = group.start(member(cut_off, "b"))
            await eventually(lambda: b.owning, timeout_seconds=LEASE + 2 * RETRY)
            assert all_owned_once([a, b])
            assert owned(b)
            apiserver_proxy.gate.clear()  # b's API server is unreachable from now on
            cut_at = loop.time()
            await eventually(lambda: not owned(b), timeout_seconds=LEASE)
            stopped = loop.time() - cut_at
            assert stopped <= RENEW + EPSILON  # its view is at most a renew deadline old
            assert not b.owning
            await eventually(lambda: owned(a) == set(KEYS), timeout_seconds=LEASE * 2)
            taken = loop.time() - cut_at
            assert taken > stopped + (LEASE - RENEW) - RETRY - EPSILON
            # The partition heals: b rejoins like a newcomer (a lease duration without work).
            apiserver_proxy.gate.set()
            await eventually(lambda: b.members == ("a", "b"), timeout_seconds=RENEW)
            healed_at = loop.time()
            await eventually(lambda: b.owning, timeout_seconds=LEASE * 2)
            assert all_owned_once([a, b])
            assert loop.time() - healed_at >= LEASE - RETRY - EPSILON
        assert not watcher.double


def test_settings_refuse_what_cannot_fence() -> None:
    with pytest.raises(ValueError, match="lease_duration_seconds > renew_deadline_seconds"):
        MembershipSettings(
            namespace="x", identity="a", lease_duration_seconds=5, renew_deadline_seconds=5
        )
    # The others may believe a Lease expired from a list that started 0.9 of it after the
    # change they saw: a replica must have stopped well before (see the module docstring).
    with pytest.raises(ValueError, match=r"renew_deadline_seconds <= 0\.8"):
        MembershipSettings(
            namespace="x", identity="a", lease_duration_seconds=10, renew_deadline_seconds=8.5
        )
    assert MembershipSettings(namespace="x", identity="a").keep_window_seconds == 12.0
    with pytest.raises(ValueError, match="identity"):
        MembershipSettings(namespace="x", identity="")
