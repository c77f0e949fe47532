"""Forecast headroom across replicas: the offer published in the ScaledObject's status.

Under ``--shard`` a ScaledObject, and its predictive trigger, is polled on the replica that owns
it, while the node autoscaler runs on the one replica holding the singletons' Lease. The
in-process :class:`~podscaler.controllers.triggers.headroom.HeadroomBoard` of the owner never
reaches that replica, so the owner also writes its offer into ``status.forecastHeadroom``:

* ``replicas``: the replicas the forecast over ``nodeHorizon`` needs beyond the current ones
  (what :func:`~podscaler.controllers.triggers.headroom.extra_replicas` gives the board);
* ``selector``: the target's pod selector (from ``/scale``), so the placeholders copy its pods;
* ``expiresAt``: when the offer lapses unless renewed. It is set a validity window ahead
  (:data:`~podscaler.controllers.triggers.headroom.OFFER_POLLS` polling intervals, as the
  board's offers) and rewritten only when less than half of the window is left, so an offer
  costs a status write every half window, and a steady object without one costs none.

Every replica's ScaledObject informer sees every object's status (the slim copies kept for
objects owned elsewhere keep this field), and the node autoscaler's board reads the offers
from it (:meth:`HeadroomBoard.add_source`). An offer whose owner died lapses at its
``expiresAt``: nothing else renews it. A replica's own in-process offer for an object wins
over the published one (it is the same or fresher). Without ``--shard`` nothing is published
and the board's in-process path is unchanged.

The decided-replicas hand-over (``decided``) is not published: those pods are created within
a poll and turn unschedulable, which wakes the node autoscaler anyway. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from podscaler.api.timestamps import format_time, parse_time
from podscaler.controllers.triggers.headroom import HeadroomOffer

__all__ = ["STATUS_KEY", "headroom_status", "published_offers"]

#: The status key the owner writes (podscaler addition).
STATUS_KEY: Final = "forecastHeadroom"


def headroom_status(
    previous: Mapping[str, Any] | None,
    *,
    replicas: int,
    selector: str,
    now: datetime,
    window_seconds: float,
) -> dict[str, Any] | None:
    """The ``status.forecastHeadroom`` to write now (None: no offer), keeping *previous*
    (the one in the status) while it says the same and more than half its window is left."""
    if replicas <= 0 or not selector:
        return None
    if (
        isinstance(previous, Mapping)
        and previous.get("replicas") == replicas
        and previous.get("selector") == selector
    ):
        expires = parse_time(previous.get("expiresAt"))
        if expires is not None and (expires - now).total_seconds() > window_seconds / 2:
            return dict(previous)
    expires_at = format_time(now + timedelta(seconds=window_seconds))
    return {"replicas": replicas, "selector": selector, "expiresAt": expires_at}


def published_offers(
    objects: Iterable[Mapping[str, Any]], now: datetime, loop_now: float
) -> list[HeadroomOffer]:
    """The unexpired offers in *objects*' statuses, as board offers lapsing at the same moment
    on the loop's clock (*loop_now* is the loop's time at *now*). Malformed ones are skipped."""
    out: list[HeadroomOffer] = []
    for obj in objects:
        status = obj.get("status")
        if not isinstance(status, Mapping):
            continue
        published = status.get(STATUS_KEY)
        if not isinstance(published, Mapping):
            continue
        replicas, selector = published.get("replicas"), published.get("selector")
        expires = parse_time(published.get("expiresAt"))
        if (
            isinstance(replicas, bool)
            or not isinstance(replicas, int)
            or replicas <= 0
            or not isinstance(selector, str)
            or not selector
            or expires is None
        ):
            continue
        left = (expires - now).total_seconds()
        if left <= 0:
            continue
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        if not isinstance(namespace, str) or not isinstance(name, str):
            continue
        out.append(HeadroomOffer(namespace, name, selector, replicas, loop_now + left))
    return out
