"""``InPlaceOrRecreate``: resize a pod in place, or fall back to eviction (pure).

Upstream's updater (``pkg/updater/inplace``) tries ``pods/resize`` first for a pod it has chosen
to update, and evicts instead when the kubelet cannot do it:

* the resize is ``Infeasible`` (the node can never hold the new requests) — evict at once;
* it has been ``Deferred`` (no room now) for longer than 5 minutes, or ``InProgress`` for longer
  than an hour — evict;
* otherwise, while a resize is pending or in progress, wait; with none, resize.

The pod's state comes from its conditions (Kubernetes ≥ 1.33): ``PodResizePending`` with reason
``Deferred``/``Infeasible``, ``PodResizeInProgress``; ``since_seconds`` is how long the condition
has held (now minus its ``lastTransitionTime``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "DEFERRED_TIMEOUT_SECONDS",
    "IN_PROGRESS_TIMEOUT_SECONDS",
    "InPlaceAction",
    "ResizeState",
    "in_place_action",
]

#: Upstream's ``DeferredResizeUpdateTimeout`` and ``InProgressResizeUpdateTimeout``.
DEFERRED_TIMEOUT_SECONDS: Final = 5 * 60.0
IN_PROGRESS_TIMEOUT_SECONDS: Final = 60 * 60.0


class InPlaceAction(StrEnum):
    RESIZE = "Resize"
    WAIT = "Wait"
    EVICT = "Evict"


@dataclass(frozen=True, slots=True)
class ResizeState:
    """Where the pod's last resize stands: ``None`` (none pending), ``Deferred``,
    ``Infeasible`` or ``InProgress``, and for how long."""

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
