"""Rendezvous (highest-random-weight) hashing: which member owns which object. Pure.

Every member gets a pseudo-random weight per object key (a keyed hash of both); the owner is
the member with the highest weight. All replicas compute the same owner from the same member
set without talking to each other, and when a member joins only the objects whose new highest
weight is the joiner's move (to it); when one leaves only its objects move (each to its own
runner-up). Both are the ideal 1/N on average, which a modulo or a sorted ring without virtual
nodes does not give.

The hash is BLAKE2b (8 bytes) of ``member NUL key``: stable across processes, Python versions
and machines (``hash()`` is salted per process and would make replicas disagree).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import blake2b

__all__ = ["moved", "owner", "weight"]


def weight(member: str, key: str) -> int:
    """The member's weight for *key*: 64 bits, the same in every process."""
    digest = blake2b(f"{member}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(key: str, members: Iterable[str]) -> str | None:
    """The member owning *key* (ties, which need a hash collision, go to the smaller name);
    ``None`` when there are no members."""
    best: str | None = None
    best_weight = -1
    for member in members:
        w = weight(member, key)
        if w > best_weight or (w == best_weight and best is not None and member < best):
            best, best_weight = member, w
    return best


def moved(keys: Sequence[str], before: Iterable[str], after: Iterable[str]) -> int:
    """How many of *keys* change owner when the members go from *before* to *after*."""
    old, new = list(before), list(after)
    return sum(1 for key in keys if owner(key, old) != owner(key, new))
