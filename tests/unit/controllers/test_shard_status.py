"""What ``podscaler status`` says of the shard (:mod:`podscaler.controllers.sharding.status`):
objects per member as rendezvous hashing gives them, and the handovers a replica saw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.controllers.sharding.membership import MemberLease
from podscaler.controllers.sharding.rendezvous import owner
from podscaler.controllers.sharding.status import HandoverLog, OwnerCounts, shard_summary

KEYS = [f"ns{i % 7}/so-{i}" for i in range(600)]


@settings(deadline=None, max_examples=30)
@given(st.sets(st.from_regex(r"[a-z]{1,6}-[0-9]", fullmatch=True), min_size=1, max_size=5))
def test_owner_counts_cover_every_object_once_as_rendezvous_assigns(members: set[str]) -> None:
    ordered = tuple(sorted(members))
    counts = OwnerCounts().count(KEYS, ordered)
    assert set(counts) == members
    assert sum(counts.values()) == len(KEYS)
    for member in ordered:
        assert counts[member] == sum(1 for k in KEYS if owner(k, ordered) == member)


def test_owner_counts_are_recomputed_when_the_members_or_the_objects_change() -> None:
    counts = OwnerCounts()
    two = dict(counts.count(KEYS, ("a", "b")))
    three = counts.count(KEYS, ("a", "b", "c"))
    assert sum(three.values()) == len(KEYS)
    assert "c" in three
    fewer = counts.count(KEYS[:300], ("a", "b", "c"))
    assert sum(fewer.values()) == 300
    assert counts.count(KEYS, ("a", "b")) == two


@dataclass
class _State:
    members: tuple[str, ...] = ("a",)
    counters: tuple[int, int] = (0, 0)


def test_handovers_newest_first_with_what_moved_and_what_this_replica_did() -> None:
    start = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    clock = [start]
    state = _State()
    log = HandoverLog(lambda: (state.members, True), lambda: state.counters, lambda: clock[0])
    log.record()  # a alone
    state.members = ("a", "b")
    clock[0] = start + timedelta(minutes=1)
    log.record()  # b joins; a's rebalance then gives objects away
    state.counters = (290, 0)
    state.members = ("a",)
    clock[0] = start + timedelta(minutes=2)
    log.record()  # b leaves; a takes them back
    state.counters = (290, 290)
    entries = log.to_json(KEYS)
    assert [e["at"] for e in entries] == [
        (start + timedelta(minutes=m)).isoformat() for m in (2, 1, 0)
    ]
    left, joined, first = entries
    to_b = sum(1 for k in KEYS if owner(k, ("a", "b")) == "b")
    assert (left["left"], left["joined"], left["moved"]) == (["b"], [], to_b)
    assert (left["released"], left["taken"]) == (0, 290)
    assert (joined["joined"], joined["moved"]) == (["b"], to_b)
    assert (joined["released"], joined["taken"]) == (290, 0)
    assert (first["joined"], first["moved"], first["members"]) == (["a"], 0, 1)
    state.members = ()  # fenced: no view, so nothing counted as moved
    assert log.to_json(KEYS)[0]["moved"] == to_b
    log.record()
    assert (log.to_json(KEYS)[0]["left"], log.to_json(KEYS)[0]["moved"]) == (["a"], 0)


def test_the_log_keeps_the_last_ten() -> None:
    members = [("a",), ("a", "b")]
    turn = [0]
    log = HandoverLog(
        lambda: (members[turn[0] % 2], True), lambda: (0, 0), lambda: datetime.now(UTC)
    )
    for turn[0] in range(25):
        log.record()
    assert len(log.to_json(KEYS)) == 10


def test_summary_marks_this_replica() -> None:
    summary = shard_summary(
        identity="b",
        owning=False,
        leases=[MemberLease("a", "10.0.0.1:6443", 0.5, 15.0), MemberLease("b", "", 1.0, 15.0)],
        owns={"a": 4, "b": 6},
        polling=0,
        objects=10,
        handovers=[],
        forwarded=3,
    )
    assert [(m["identity"], m["self"], m["owns"]) for m in summary["members"]] == [
        ("a", False, 4),
        ("b", True, 6),
    ]
    assert (summary["owning"], summary["polling"], summary["forwarded"]) == (False, 0, 3)
