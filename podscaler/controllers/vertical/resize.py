"""In-place resize for ``InPlaceOrRecreate``: the I/O around :mod:`podscaler.engine.vpa.inplace`.

The updater, having chosen a pod to update (priority, budget), calls :func:`update_in_place`
instead of evicting when the scaler's mode is ``InPlaceOrRecreate``. It reads the pod's resize
conditions, and per :func:`~podscaler.engine.vpa.inplace.in_place_action`:

* resizes: one ``PATCH pods/NAME/resize`` (strategic merge, the containers' new resources from
  :mod:`.podresources`, the same numbers the admission webhook sets);
* waits while a resize is pending or in progress within its time;
* or answers ``Evict`` (Infeasible, Deferred too long, stuck in progress, or the API server does
  not serve ``pods/resize`` — a cluster older than 1.33) for the caller to evict through the
  Eviction API as in Recreate mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from podscaler.api.verticalscaler import VerticalScaler
from podscaler.controllers.vertical.podresources import container_updates
from podscaler.engine.vpa.amounts import Resources
from podscaler.engine.vpa.inplace import InPlaceAction, ResizeState, in_place_action
from podscaler.kube.clients import Kube
from podscaler.kube.errors import Invalid, NotFound

__all__ = ["PodResizer", "resize_state", "update_in_place"]

log = logging.getLogger(__name__)

_STRATEGIC = "application/strategic-merge-patch+json"
_PENDING, _IN_PROGRESS = "PodResizePending", "PodResizeInProgress"


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def resize_state(pod: Mapping[str, Any], now: datetime) -> ResizeState:
    """The pod's resize as its conditions report it (``status.resize`` before 1.33 as well)."""
    for condition in (pod.get("status") or {}).get("conditions") or ():
        kind = condition.get("type")
        if kind not in (_PENDING, _IN_PROGRESS) or condition.get("status") != "True":
            continue
        since = _parse_time(condition.get("lastTransitionTime"))
        seconds = (now - since).total_seconds() if since is not None else 0.0
        status = "InProgress" if kind == _IN_PROGRESS else str(condition.get("reason") or "")
        return ResizeState(status, max(seconds, 0.0))
    legacy = (pod.get("status") or {}).get("resize")
    if legacy in ("Deferred", "Infeasible", "InProgress"):
        return ResizeState(str(legacy), 0.0)
    return ResizeState()


async def update_in_place(
    kube: Kube,
    pod: Mapping[str, Any],
    scaler: VerticalScaler,
    now: datetime,
    targets: Mapping[str, Resources] | None = None,
) -> InPlaceAction:
    """Resize ``pod`` to the recommendation (``targets``, else the scaler's published one),
    or say to wait or to evict instead."""
    action = in_place_action(resize_state(pod, now))
    if action is not InPlaceAction.RESIZE:
        return action
    updates = container_updates(pod, scaler, targets)
    if not updates:
        return InPlaceAction.WAIT  # nothing to change (or only a pending resize to wait for)
    meta = pod.get("metadata") or {}
    path = f"/api/v1/namespaces/{meta.get('namespace')}/pods/{meta.get('name')}/resize"
    body = {"spec": {"containers": [{"name": u.name, "resources": u.resources} for u in updates]}}
    try:
        await kube.request("PATCH", path, body=body, content_type=_STRATEGIC)
    except NotFound:
        # No pods/resize here (before 1.33), or the pod is gone: recreate is all that is left.
        log.info(
            "in-place resize of %s/%s not possible; evicting",
            meta.get("namespace"),
            meta.get("name"),
        )
        return InPlaceAction.EVICT
    except Invalid:
        # 422 (the QoS class would change, ...) cannot succeed by retrying: evict instead.
        return InPlaceAction.EVICT
    return InPlaceAction.RESIZE


class PodResizer:
    """The updater's :class:`~podscaler.controllers.vertical.updater.InPlaceResizer`:
    ``True`` when the pod is resized (or a resize is under way), ``False`` to evict it."""

    def __init__(self, kube: Kube, now: Callable[[], datetime]) -> None:
        self.kube = kube
        self.now = now
        #: Resizes requested (tests and logs).
        self.resized = 0

    async def resize(
        self, pod: Mapping[str, Any], scaler: VerticalScaler, targets: Mapping[str, Resources]
    ) -> bool:
        action = await update_in_place(self.kube, pod, scaler, self.now(), targets)
        if action is InPlaceAction.RESIZE:
            self.resized += 1
        return action is not InPlaceAction.EVICT
