"""Writing ``status``: merge patches, read-modify-write with conflict retry, and conditions.

Two ways to write, for two needs:

* :func:`patch_status` sends a JSON merge patch to ``/status``. It needs no prior read and
  cannot conflict, which suits fields only we own (``observedGeneration``, our counters).
* :func:`update_status` reads the object, lets the caller compute the new status from what is
  there now, and PUTs it with the read ``resourceVersion``. When someone else wrote in
  between the server answers 409; we read again and recompute, a bounded number of times.
  This is the way to change a *list* such as ``conditions``, which a merge patch would replace
  wholesale, without losing a concurrent writer's change.

:func:`set_condition` follows the Kubernetes API conventions: ``lastTransitionTime`` moves
only when ``status`` changes, so it says how long the condition has held. It is pure: the
time is passed in. :func:`merge_conditions` is where a controller's
:class:`~podscaler.api.conditions.Condition` records become that JSON: once, at the status
boundary.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from podscaler.api.conditions import Condition
from podscaler.api.timestamps import format_time
from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import Conflict
from podscaler.kube.resources import Resource

__all__ = [
    "get_condition",
    "merge_conditions",
    "patch_status",
    "set_condition",
    "update_status",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def get_condition(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Obj | None:
    for condition in conditions or ():
        if condition.get("type") == type_:
            return dict(condition)
    return None


def set_condition(
    conditions: Sequence[Mapping[str, Any]] | None,
    *,
    type_: str,
    status: str,
    reason: str,
    message: str,
    now: datetime,
    observed_generation: int | None = None,
) -> list[Obj]:
    """A new conditions list with condition ``type_`` set; the input is not modified.

    ``lastTransitionTime`` becomes ``now`` when the condition is new or its ``status``
    changed; otherwise the previous time is kept while reason and message are updated.
    Other conditions keep their order; a new condition goes last.
    """
    updated: list[Obj] = []
    found = False
    for condition in conditions or ():
        if condition.get("type") != type_:
            updated.append(dict(condition))
            continue
        found = True
        transition = condition.get("lastTransitionTime")
        if condition.get("status") != status or not transition:
            transition = format_time(now)
        updated.append(_condition(type_, status, reason, message, transition, observed_generation))
    if not found:
        updated.append(
            _condition(type_, status, reason, message, format_time(now), observed_generation)
        )
    return updated


def _condition(
    type_: str,
    status: str,
    reason: str,
    message: str,
    transition: str,
    observed_generation: int | None,
) -> Obj:
    condition: Obj = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
    }
    if observed_generation is not None:
        condition["observedGeneration"] = observed_generation
    return condition


def merge_conditions(
    previous: Sequence[Mapping[str, Any]] | None,
    conditions: Sequence[Condition],
    now: datetime,
    generation: int | None,
) -> list[dict[str, Any]]:
    """*conditions* over the *previous* JSON list, keeping ``lastTransitionTime`` where the
    status did not flip (Kubernetes API conventions)."""
    merged: list[dict[str, Any]] = [dict(c) for c in previous or ()]
    for condition in conditions:
        merged = set_condition(
            merged,
            type_=condition.type,
            status=condition.status.value,
            reason=condition.reason,
            message=condition.message,
            now=now,
            observed_generation=generation,
        )
    order = [c.type for c in conditions]
    merged.sort(key=lambda c: order.index(c["type"]) if c["type"] in order else len(order))
    return merged


async def patch_status(
    kube: Kube, resource: Resource, namespace: str | None, name: str, status: Mapping[str, Any]
) -> Obj:
    """Merge-patch ``{"status": status}`` onto the object and return the updated object.

    Keys set to None are removed (merge-patch semantics); lists are replaced whole.
    """
    return await kube.request(
        "PATCH",
        resource.path(namespace, name, "status"),
        body={"status": dict(status)},
        content_type=MERGE_PATCH,
    )


async def update_status(
    kube: Kube,
    resource: Resource,
    namespace: str | None,
    name: str,
    mutate: Callable[[Obj], Obj | None],
    *,
    max_attempts: int = 5,
) -> Obj | None:
    """Read the object, compute a new status, write it; on 409 read again and retry.

    ``mutate`` receives a private copy of the current object and returns the new
    ``status`` dict, or None to write nothing. It may be called several times (once per
    attempt), so it must be a function of its argument. Returns the written object (or None
    when nothing was written). After ``max_attempts`` conflicts the last :class:`Conflict`
    propagates.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    object_path = resource.path(namespace, name)
    for attempt in range(1, max_attempts + 1):
        current = await kube.request("GET", object_path)
        status = mutate(copy.deepcopy(current))
        if status is None:
            return None
        if status == current.get("status"):
            return current
        current["status"] = status
        try:
            return await kube.request("PUT", resource.path(namespace, name, "status"), body=current)
        except Conflict:
            if attempt == max_attempts:
                raise
            log.debug(
                "status of %s %s/%s conflicted (attempt %d); retrying",
                resource.kind,
                namespace,
                name,
                attempt,
            )
    raise AssertionError("unreachable")  # pragma: no cover
