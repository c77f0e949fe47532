"""In-place updates (pure): ``InPlaceOrRecreate`` (resize, or fall back to eviction) and
``InPlace`` (resize only, never evict).

Upstream's updater (``pkg/updater/inplace``) tries ``pods/resize`` first for a pod it has chosen
to update, and evicts instead when the kubelet cannot do it:

* the resize is ``Infeasible`` (the node can never hold the new requests) — evict at once;
* it has been ``Deferred`` (no room now) for longer than 5 minutes, or ``InProgress`` for longer
  than an hour — evict;
* otherwise, while a resize is pending or in progress, wait; with none, resize.

The pod's state comes from its conditions (Kubernetes ≥ 1.33): ``PodResizePending`` with reason
``Deferred``/``Infeasible``, ``PodResizeInProgress``; ``since_seconds`` is how long the condition
has held (now minus its ``lastTransitionTime``).

``InPlace`` (upstream alpha since VPA 1.7, AEP-8818 "in-place only") never evicts:
:func:`in_place_only_action` waits while a resize is ``Deferred`` or ``InProgress``, resizes
again after a kubelet ``Error`` (transient), and on ``Infeasible`` the caller remembers the
values that did not fit (:data:`InPlaceAction.SKIP`). A pod with a remembered infeasible attempt
is tried again only when the recommendation asks for less of something than that attempt
(:func:`lower_than_attempt`): asking for the same or more again could only fail the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from podscaler.engine.vpa.amounts import RESOURCE_NAMES, Resources

__all__ = [
    "DEFERRED_TIMEOUT_SECONDS",
    "IN_PROGRESS_TIMEOUT_SECONDS",
    "InPlaceAction",
    "ResizeState",
    "in_place_action",
    "in_place_only_action",
    "lower_than_attempt",
]

#: Upstream's ``DeferredResizeUpdateTimeout`` and ``InProgressResizeUpdateTimeout``.
DEFERRED_TIMEOUT_SECONDS: Final = 5 * 60.0
IN_PROGRESS_TIMEOUT_SECONDS: Final = 60 * 60.0


class InPlaceAction(StrEnum):
    RESIZE = "Resize"
    WAIT = "Wait"
    EVICT = "Evict"
    #: ``InPlace`` only: the resize is Infeasible; remember its values and leave the pod be.
    SKIP = "Skip"


@dataclass(frozen=True, slots=True)
class ResizeState:
    """Where the pod's last resize stands: ``None`` (none pending), ``Deferred``,
    ``Infeasible``, ``InProgress`` or ``Error`` (the kubelet failed to apply it), and for how
    long."""

    status: str | None = None
    since_seconds: float = 0.0


def in_place_action(
    state: ResizeState,
    *,
    deferred_timeout_seconds: float = DEFERRED_TIMEOUT_SECONDS,
    in_progress_timeout_seconds: float = IN_PROGRESS_TIMEOUT_SECONDS,
) -> InPlaceAction:
    """What to do with a pod the updater wants to update, in ``InPlaceOrRecreate`` mode."""
    if state.status is None:
        return InPlaceAction.RESIZE
    if state.status == "Infeasible":
        return InPlaceAction.EVICT
    if state.status == "Deferred":
        if state.since_seconds > deferred_timeout_seconds:
            return InPlaceAction.EVICT
        return InPlaceAction.WAIT
    if state.status == "InProgress":
        if state.since_seconds > in_progress_timeout_seconds:
            return InPlaceAction.EVICT
        return InPlaceAction.WAIT
    return InPlaceAction.RESIZE


def in_place_only_action(state: ResizeState) -> InPlaceAction:
    """What to do with a pod the updater wants to update, in ``InPlace`` mode: never evict.

    ``Deferred`` and ``InProgress`` wait however long they last (the kubelet retries a deferred
    resize itself); ``Error`` is transient, so resize again; ``Infeasible`` is :data:`SKIP`
    (the caller remembers the attempt, see :func:`lower_than_attempt`)."""
    if state.status in ("Deferred", "InProgress"):
        return InPlaceAction.WAIT
    if state.status == "Infeasible":
        return InPlaceAction.SKIP
    return InPlaceAction.RESIZE


def lower_than_attempt(
    attempt: Mapping[str, Resources], recommended: Mapping[str, Resources]
) -> bool:
    """Whether *recommended* asks, for some container and resource, less than the remembered
    infeasible *attempt* (both by container name) — the only change that might now fit.

    Containers or resources present on one side only never count: a value the attempt did not
    set cannot be compared, and a new container's request is not "lower" than nothing."""
    for name, tried in attempt.items():
        wanted = recommended.get(name)
        if wanted is None:
            continue
        for resource in RESOURCE_NAMES:
            before, now = tried.get(resource), wanted.get(resource)
            if before is not None and now is not None and now < before:
                return True
    return False
