"""In-place resize for ``InPlaceOrRecreate`` and ``InPlace``: the I/O around
:mod:`podscaler.engine.vpa.inplace`.

The updater, having chosen a pod to update (priority, budget), calls :func:`update_in_place`
instead of evicting when the scaler's mode is ``InPlaceOrRecreate``. It reads the pod's resize
conditions, and per :func:`~podscaler.engine.vpa.inplace.in_place_action`:

* resizes: one ``PATCH pods/NAME/resize`` (strategic merge, the containers' new resources from
  :mod:`.podresources`, the same numbers the admission webhook sets);
* waits while a resize is pending or in progress within its time;
* or answers ``Evict`` (Infeasible, Deferred too long, stuck in progress, or the API server does
  not serve ``pods/resize`` — a cluster older than 1.33) for the caller to evict through the
  Eviction API as in Recreate mode.

In ``InPlace`` mode (:meth:`PodResizer.resize_only`) nothing is ever evicted. An Infeasible
resize — the kubelet's ``PodResizePending``/``Infeasible`` condition, or the API server
refusing the patch for the node's capacity (403 with a ``NodeCapacity`` cause, Kubernetes
≥ 1.36) — is remembered per pod uid with the targets it tried, and that pod is left alone
until the recommendation asks for less of something than that attempt. Like upstream the
memory is the process's own: after a restart each infeasible pod is tried once more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from podscaler.api.quantities import QuantityError, parse_quantity
from podscaler.api.timestamps import parse_time
from podscaler.api.verticalscaler import VerticalScaler
from podscaler.controllers.vertical.podresources import container_updates
from podscaler.engine.vpa.amounts import Resources
from podscaler.engine.vpa.inplace import (
    InPlaceAction,
    ResizeState,
    in_place_action,
    in_place_only_action,
    lower_than_attempt,
)
from podscaler.kube.clients import Kube
from podscaler.kube.errors import ApiError, Forbidden, Invalid, KubeError, NotFound

__all__ = ["PodResizer", "resize_state", "update_in_place"]

log = logging.getLogger(__name__)

_STRATEGIC = "application/strategic-merge-patch+json"
_PENDING, _IN_PROGRESS = "PodResizePending", "PodResizeInProgress"


def resize_state(pod: Mapping[str, Any], now: datetime) -> ResizeState:
    """The pod's resize as its conditions report it (``status.resize`` before 1.33 as well)."""
    for condition in (pod.get("status") or {}).get("conditions") or ():
        kind = condition.get("type")
        if kind not in (_PENDING, _IN_PROGRESS) or condition.get("status") != "True":
            continue
        since = parse_time(condition.get("lastTransitionTime"))
        seconds = (now - since).total_seconds() if since is not None else 0.0
        reason = str(condition.get("reason") or "")
        if kind == _IN_PROGRESS:
            status = "Error" if reason == "Error" else "InProgress"
        else:
            status = reason
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


def _node_capacity_refusal(error: ApiError) -> bool:
    """A 403 whose Status names a ``NodeCapacity`` cause: the API server's own
    feasibility check (Kubernetes ≥ 1.36) refused the resize."""
    body = error.body if isinstance(error.body, Mapping) else {}
    details = body.get("details") if isinstance(body.get("details"), Mapping) else {}
    causes = details.get("causes") if isinstance(details, Mapping) else None
    return any(
        isinstance(cause, Mapping) and "NodeCapacity" in (cause.get("reason"), cause.get("type"))
        for cause in (causes if isinstance(causes, list) else ())
    )


def _spec_requests(pod: Mapping[str, Any]) -> dict[str, Resources]:
    """The containers' requests as the pod's spec holds them (what a resize asked for)."""
    found: dict[str, Resources] = {}
    for container in (pod.get("spec") or {}).get("containers") or ():
        if not isinstance(container, Mapping):
            continue
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu = memory = None
        try:
            if requests.get("cpu") is not None:
                cpu = parse_quantity(requests["cpu"]).milli_value()
            if requests.get("memory") is not None:
                memory = parse_quantity(requests["memory"]).int_value()
        except (QuantityError, TypeError, ValueError):
            continue
        found[str(container.get("name"))] = Resources(cpu, memory)
    return found


#: Pods remembered per map (attempts, infeasible): the oldest go first past this.
_REMEMBERED = 10_000


class PodResizer:
    """The updater's :class:`~podscaler.controllers.vertical.updater.InPlaceResizer`:
    ``True`` when the pod is resized (or a resize is under way), ``False`` to evict it."""

    def __init__(self, kube: Kube, now: Callable[[], datetime]) -> None:
        self.kube = kube
        self.now = now
        #: Resizes requested (tests and logs).
        self.resized = 0
        #: ``InPlace``: the targets last patched per pod uid, and those found infeasible.
        self.attempted: dict[str, dict[str, Resources]] = {}
        self.infeasible: dict[str, dict[str, Resources]] = {}
        #: ``InPlace``: infeasible resizes found, and patches that failed (retried).
        self.infeasible_found = 0
        self.failed = 0

    async def resize(
        self, pod: Mapping[str, Any], scaler: VerticalScaler, targets: Mapping[str, Resources]
    ) -> bool:
        action = await update_in_place(self.kube, pod, scaler, self.now(), targets)
        if action is InPlaceAction.RESIZE:
            self.resized += 1
        return action is not InPlaceAction.EVICT

    def infeasible_attempt(self, uid: str) -> Mapping[str, Resources] | None:
        """The targets last found infeasible for the pod with *uid* (``InPlace`` mode)."""
        return self.infeasible.get(uid)

    def _remember(self, table: dict[str, dict[str, Resources]], uid: str, values: Any) -> None:
        table.pop(uid, None)
        table[uid] = dict(values)
        while len(table) > _REMEMBERED:
            del table[next(iter(table))]

    async def resize_only(
        self, pod: Mapping[str, Any], scaler: VerticalScaler, targets: Mapping[str, Resources]
    ) -> InPlaceAction:
        """``InPlace`` mode: resize *pod* to *targets*, or wait, or skip it; never evict.

        ``RESIZE``: a resize was requested; ``WAIT``: one is pending or in progress, nothing
        changes, or the patch failed in a way worth retrying next pass (a kubelet or API
        error); ``SKIP``: infeasible, and the recommendation is not lower than what did not
        fit."""
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
        remembered = self.infeasible.get(uid)
        if remembered is not None:
            if not lower_than_attempt(remembered, targets):
                return InPlaceAction.SKIP
            action = InPlaceAction.RESIZE  # something lower now: worth one more try
        else:
            action = in_place_only_action(resize_state(pod, self.now()))
        if action is InPlaceAction.SKIP:
            attempt = self.attempted.get(uid) or _spec_requests(pod)
            self._remember(self.infeasible, uid, attempt)
            self.infeasible_found += 1
            return action
        if action is not InPlaceAction.RESIZE:
            return action
        updates = container_updates(pod, scaler, targets)
        if not updates:
            return InPlaceAction.WAIT
        path = f"/api/v1/namespaces/{meta.get('namespace')}/pods/{meta.get('name')}/resize"
        body = {
            "spec": {"containers": [{"name": u.name, "resources": u.resources} for u in updates]}
        }
        try:
            await self.kube.request("PATCH", path, body=body, content_type=_STRATEGIC)
        except Forbidden as exc:
            if not _node_capacity_refusal(exc):
                raise
            self._remember(self.infeasible, uid, targets)
            self.infeasible_found += 1
            return InPlaceAction.SKIP
        except KubeError as exc:
            # Not served (before 1.33), invalid for this pod, or transient: never evict in
            # this mode; the next pass tries again.
            self.failed += 1
            log.info(
                "in-place resize of %s/%s failed (%s); retried next pass",
                meta.get("namespace"),
                meta.get("name"),
                exc,
            )
            return InPlaceAction.WAIT
        self.infeasible.pop(uid, None)
        self._remember(self.attempted, uid, targets)
        self.resized += 1
        return InPlaceAction.RESIZE
