"""The ``pods/resize`` subresource (Kubernetes ≥ 1.33): change a running pod's resources in place.

GET answers the pod. PUT (a Pod) and PATCH (merge, strategic merge or JSON patch, applied to the
pod) write only ``spec.containers[*].resources`` and ``resizePolicy``, matched by container
name; every other change in the body is ignored, as upstream's resize strategy does. Refused
with 422 Invalid, as upstream validates a resize:

* a pod that has finished (Succeeded/Failed) cannot be resized;
* only ``cpu`` and ``memory`` requests and limits may change;
* the pod's QoS class must stay the same (Guaranteed / Burstable / BestEffort).

The pod's status is kept: it is the kubelet that answers, with the ``PodResizePending``
(``Deferred`` / ``Infeasible``) and ``PodResizeInProgress`` conditions (see
``podscaler/sim/world/resizing.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from podscaler.api.quantities import QuantityError, parse_quantity
from podscaler.sim.apiserver.errors import Conflict, invalid
from podscaler.sim.apiserver.rest import apply_patch
from podscaler.sim.apiserver.state import ServerState
from podscaler.sim.apiserver.store import Obj
from podscaler.sim.apiserver.wire import Target, check_kind, read_object, read_patch, respond

__all__ = ["qos_class", "resize"]

_RESIZABLE = frozenset({"cpu", "memory"})


def _amount(raw: Any) -> Any:
    try:
        return parse_quantity(raw)
    except (QuantityError, TypeError, ValueError):
        return raw


def qos_class(pod: Mapping[str, Any]) -> str:
    """The pod's QoS class from its containers' requests and limits (``GetPodQOS``)."""
    containers = list((pod.get("spec") or {}).get("containers") or ())
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = {
            k: _amount(v) for k, v in (resources.get("requests") or {}).items() if k in _RESIZABLE
        }
        limits = {
            k: _amount(v) for k, v in (resources.get("limits") or {}).items() if k in _RESIZABLE
        }
        if requests or limits:
            any_set = True
        if set(limits) != _RESIZABLE:
            guaranteed = False
            continue
        for name, limit in limits.items():
            if name in requests and requests[name] != limit:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _other_resources(resources: Mapping[str, Any]) -> dict[str, Any]:
    return {
        part: {k: v for k, v in (resources.get(part) or {}).items() if k not in _RESIZABLE}
        for part in ("requests", "limits")
    }


def _resized(current: Obj, body: Obj, name: str) -> Obj:
    """``current`` with the resources of ``body``'s containers; 422 for what may not change."""
    phase = (current.get("status") or {}).get("phase")
    causes: list[tuple[str, str, str]] = []
    if phase in ("Succeeded", "Failed"):
        causes.append(("spec", "FieldValueForbidden", f"Forbidden: pod is in phase {phase}"))
    sent = {
        str(c.get("name")): c
        for c in (body.get("spec") or {}).get("containers") or ()
        if isinstance(c, dict)
    }
    new = copy.deepcopy(current)
    for index, container in enumerate((new.get("spec") or {}).get("containers") or ()):
        given = sent.get(str(container.get("name")))
        if given is None:
            continue
        resources = given.get("resources") or {}
        if not isinstance(resources, dict):
            causes.append(
                (f"spec.containers[{index}].resources", "FieldValueInvalid", "must be an object")
            )
            continue
        if _other_resources(resources) != _other_resources(container.get("resources") or {}):
            causes.append(
                (
                    f"spec.containers[{index}].resources",
                    "FieldValueForbidden",
                    "Forbidden: only cpu and memory resources are mutable",
                )
            )
        container["resources"] = resources
        if "resizePolicy" in given:
            container["resizePolicy"] = given["resizePolicy"]
    before, after = qos_class(current), qos_class(new)
    if before != after:
        causes.append(
            (
                "spec",
                "FieldValueForbidden",
                f"Forbidden: Pod QOS Class may not change as a result of resizing "
                f"(from {before} to {after})",
            )
        )
    if causes:
        raise invalid("Pod", name, causes)
    return new


async def resize(server: ServerState, request: web.Request, target: Target) -> web.Response:
    """GET, PUT or PATCH ``pods/NAME/resize``."""
    rt = target.rt
    assert target.name is not None
    namespace = target.namespace or ""
    current = server.store.get(rt, namespace, target.name)
    if request.method == "GET":
        return respond(current.raw())
    if request.method == "PUT":
        body = await read_object(request)
        check_kind(rt, body)
        sent_rv = (body.get("metadata") or {}).get("resourceVersion")
        if sent_rv and str(sent_rv) != str(current.rv):
            raise Conflict(
                f'Operation cannot be fulfilled on pods "{target.name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                name=target.name,
                kind="pods",
            )
    else:
        patch = await read_patch(request)
        body = apply_patch(request.content_type, rt, current.obj, patch)
    new = _resized(current.obj, body, target.name)
    entry = server.store.update(rt, new, namespace=namespace, name=target.name)
    entry = server.after_write(rt, entry)
    return respond(entry.raw())
