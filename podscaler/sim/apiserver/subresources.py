"""The ``/scale``, ``pods/binding`` and ``pods/eviction`` subresources.

``/status`` needs nothing of its own: it is a PUT or PATCH that the store restricts to the
status stanza (see :meth:`Store.update`).

Deliberate simplifications versus a real kube-apiserver:

* Eviction computes the PodDisruptionBudget's allowance from the pods that exist right now
  (matching pods, healthy = Ready and not terminating) instead of reading the budget's status
  written by the disruption controller (the expected pod count is the replicas of the pods'
  controllers, as upstream). It writes the recomputed figures to the budget's status after an
  eviction.
* The Scale of a kind is always ``autoscaling/v1``.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from podscaler.api.selectors import LabelSelector, SelectorError
from podscaler.sim.apiserver import managedfields
from podscaler.sim.apiserver.errors import (
    BadRequest,
    Conflict,
    InternalError,
    TooManyRequests,
    invalid,
)
from podscaler.sim.apiserver.resources import ResourceType
from podscaler.sim.apiserver.rest import MERGE_PATCH, STRATEGIC_PATCH, apply_patch
from podscaler.sim.apiserver.state import ServerState
from podscaler.sim.apiserver.store import Entry, Obj, rfc3339
from podscaler.sim.apiserver.tables import jsonpath
from podscaler.sim.apiserver.wire import Target, check_kind, read_object, read_patch, respond


def _success(code: int) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


# --- scale ---------------------------------------------------------------------------------


def selector_string(value: Any, structured: bool) -> str:
    if value is None:
        return ""
    if not structured:
        return str(value)
    try:
        return str(LabelSelector.from_dict(value))
    except SelectorError:
        return ""


def scale_of(rt: ResourceType, entry: Entry) -> dict[str, Any]:
    paths = rt.scale
    assert paths is not None
    obj = entry.obj
    meta = obj["metadata"]
    spec = jsonpath(obj, paths.spec_replicas)
    status = jsonpath(obj, paths.status_replicas)
    scale_status: dict[str, Any] = {
        "replicas": int(status[0]) if status and status[0] is not None else 0
    }
    if paths.label_selector:
        found = jsonpath(obj, paths.label_selector)
        text = selector_string(found[0] if found else None, paths.selector_is_structured)
        if text:
            scale_status["selector"] = text
    scale_meta = {
        k: meta[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in meta
    }
    replicas = int(spec[0]) if spec and spec[0] is not None else 0
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        # ScaleSpec.replicas is ``omitempty`` upstream: zero replicas is an empty spec.
        "spec": {"replicas": replicas} if replicas else {},
        "status": scale_status,
    }


def _set_path(obj: Obj, dotted: str, value: Any) -> None:
    parts = [p for p in dotted.strip().lstrip("$").split(".") if p]
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = cur[part] = {}
        cur = nxt
    cur[parts[-1]] = value


def _write_scale(
    server: ServerState, request: web.Request, target: Target, current: Entry, scale: Obj
) -> web.Response:
    rt = target.rt
    assert rt.scale is not None
    assert target.name is not None
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise invalid(
            "Scale",
            target.name,
            [
                (
                    "spec.replicas",
                    "FieldValueInvalid",
                    f"Invalid value: {replicas!r}: must be greater than or equal to 0",
                )
            ],
            group="autoscaling",
        )
    sent_rv = (scale.get("metadata") or {}).get("resourceVersion")
    if sent_rv and str(sent_rv) != str(current.rv):
        raise Conflict(
            f'Operation cannot be fulfilled on {rt.group_resource} "{target.name}": the object '
            "has been modified; please apply your changes to the latest version and try again",
            name=target.name,
            group=rt.group,
            kind=rt.resource,
        )
    new = current.copy()
    _set_path(new, rt.scale.spec_replicas, replicas)
    manager = managedfields.manager_of(request.query, request.headers.get("User-Agent", ""))
    managedfields.record_update(
        current.obj, new, manager, rt.api_version, rfc3339(server.store.now()), keyed=not rt.custom
    )
    entry = server.store.update(rt, new, namespace=target.namespace or "", name=target.name)
    return respond(scale_of(rt, entry))


async def scale(server: ServerState, request: web.Request, target: Target) -> web.Response:
    rt = target.rt
    assert target.name is not None
    current = server.store.get(rt, target.namespace or "", target.name)
    if request.method == "GET":
        return respond(scale_of(rt, current))
    if request.method == "PUT":
        body = await read_object(request)
        check_kind(rt, body, kind="Scale", api_version="autoscaling/v1")
        return _write_scale(server, request, target, current, body)
    body = await read_patch(request)
    ctype = request.content_type
    if ctype == STRATEGIC_PATCH:
        # Scale has no lists, so a strategic merge patch is a merge patch.
        ctype = MERGE_PATCH
    patched = apply_patch(
        ctype, rt, scale_of(rt, current), body, kind="Scale", group="autoscaling", version="v1"
    )
    return _write_scale(server, request, target, current, patched)


# --- binding -------------------------------------------------------------------------------


async def bind(server: ServerState, request: web.Request, target: Target) -> web.Response:
    """Assign a pod to a node (what a scheduler does): spec.nodeName and PodScheduled=True."""
    rt = target.rt
    assert target.name is not None
    body = await read_object(request)
    check_kind(rt, body, kind="Binding", api_version="v1")
    node = (body.get("target") or {}).get("name")
    if not node:
        raise invalid(
            "Binding", target.name, [("target.name", "FieldValueRequired", "Required value")]
        )
    ns = target.namespace or ""
    current = server.store.get(rt, ns, target.name)
    assigned = (current.obj.get("spec") or {}).get("nodeName")
    if assigned:
        raise Conflict(
            f'Operation cannot be fulfilled on pods/binding "{target.name}": pod {target.name} '
            f'is already assigned to node "{assigned}"',
            name=target.name,
            kind="pods/binding",
        )
    if current.obj["metadata"].get("deletionTimestamp"):
        raise Conflict(f"pod {target.name} is being deleted, cannot be assigned to a host")
    new = current.copy()
    new.setdefault("spec", {})["nodeName"] = node
    status = new.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": rfc3339(server.now()),
        }
    )
    status["conditions"] = conditions
    server.store.update(rt, new, namespace=ns, name=target.name, whole=True)
    return respond(_success(201), 201)


# --- eviction ------------------------------------------------------------------------------


def _healthy(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _scaled(value: Any, expected: int, *, round_up: bool = True) -> int:
    if isinstance(value, str) and value.endswith("%"):
        try:
            pct = int(value[:-1])
        except ValueError as exc:
            raise BadRequest(f"invalid percentage {value!r} in PodDisruptionBudget") from exc
        raw = pct * expected / 100
        return math.ceil(raw) if round_up else math.floor(raw)
    return int(value)


def expected_pods(server: ServerState, pods: list[Obj]) -> int:
    """How many pods should exist: the replicas of their controllers, as upstream counts.

    A pod without a controller (or whose controller has no ``spec.replicas``) counts as one.
    """
    expected = 0
    seen: set[str] = set()
    for pod in pods:
        refs = pod["metadata"].get("ownerReferences") or []
        ctrl = next((r for r in refs if r.get("controller")), None)
        if ctrl is None:
            expected += 1
            continue
        uid = str(ctrl.get("uid"))
        if uid in seen:
            continue
        seen.add(uid)
        found = server.store.find_uid(uid)
        replicas = (found[1].obj.get("spec") or {}).get("replicas") if found else None
        expected += int(replicas) if isinstance(replicas, int) else 1
    return expected


def budget(pdb: Obj, pods: list[Obj], expected: int | None = None) -> dict[str, int]:
    """The PDB's status figures for ``pods`` (its matching, non-terminated pods)."""
    spec = pdb.get("spec") or {}
    expected = len(pods) if expected is None else expected
    healthy = sum(1 for p in pods if _healthy(p))
    if spec.get("minAvailable") is not None:
        desired = _scaled(spec["minAvailable"], expected)
    elif spec.get("maxUnavailable") is not None:
        desired = max(expected - _scaled(spec["maxUnavailable"], expected), 0)
    else:
        desired = 0
    return {
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "disruptionsAllowed": max(healthy - desired, 0),
    }


#: Pod phases whose eviction never consults a PodDisruptionBudget.
_IGNORE_BUDGET_PHASES = frozenset({"Pending", "Succeeded", "Failed"})


async def evict(server: ServerState, request: web.Request, target: Target) -> web.Response:
    """Delete a pod unless a PodDisruptionBudget forbids it (then 429, as upstream); a pod
    that is not running is evicted whatever the budgets say."""
    rt = target.rt
    assert target.name is not None
    body = await read_object(request)
    if body.get("kind") not in (None, "Eviction"):
        raise BadRequest(f"the kind in the body ({body.get('kind')}) does not match Eviction")
    ns = target.namespace or ""
    pod = server.store.get(rt, ns, target.name)
    if pod.obj["metadata"].get("deletionTimestamp"):
        return respond(_success(200))
    pdb_rt = server.table.get("policy", "v1", "poddisruptionbudgets")
    assert pdb_rt is not None
    labels = pod.obj["metadata"].get("labels") or {}
    matching: list[Entry] = []
    # A pod that is not running (Pending, Succeeded, Failed) disrupts nothing: upstream
    # evicts it without consulting any budget.
    phase = (pod.obj.get("status") or {}).get("phase")
    budgets = () if phase in _IGNORE_BUDGET_PHASES else server.store.entries(pdb_rt, ns)
    for pdb in budgets:
        try:
            selector = LabelSelector.from_dict((pdb.obj.get("spec") or {}).get("selector") or {})
        except SelectorError:
            continue
        if selector.matches(labels):
            matching.append(pdb)
    if len(matching) > 1:
        raise InternalError(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource "
            "does not support."
        )
    if matching:
        pdb = matching[0]
        selector = LabelSelector.from_dict((pdb.obj.get("spec") or {}).get("selector") or {})
        pods = [
            e.obj
            for e in server.store.entries(rt, ns)
            if selector.matches(e.obj["metadata"].get("labels") or {})
            and (e.obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        figures = budget(pdb.obj, pods, expected_pods(server, pods))
        unhealthy_policy = (pdb.obj.get("spec") or {}).get(
            "unhealthyPodEvictionPolicy", "IfHealthyBudget"
        )
        if _healthy(pod.obj):
            allowed = figures["disruptionsAllowed"] > 0
        else:
            allowed = (
                unhealthy_policy == "AlwaysAllow"
                or figures["currentHealthy"] >= figures["desiredHealthy"]
            )
        if not allowed:
            name = pdb.name
            raise TooManyRequests(
                "Cannot evict pod as it would violate the pod's disruption budget.",
                causes=[
                    {
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {name} needs "
                        f"{figures['desiredHealthy']} healthy pods and has "
                        f"{figures['currentHealthy']} currently",
                    }
                ],
            )
    options = body.get("deleteOptions") or {}
    pre = options.get("preconditions") or {}
    grace = options.get("gracePeriodSeconds")
    server.store.delete(
        rt,
        ns,
        target.name,
        propagation=options.get("propagationPolicy"),
        precondition_uid=pre.get("uid"),
        precondition_rv=pre.get("resourceVersion"),
        grace_seconds=grace if isinstance(grace, int) and not isinstance(grace, bool) else None,
    )
    if matching:
        _refresh_budget(server, pdb_rt, matching[0], rt, ns)
    return respond(_success(201), 201)


def _refresh_budget(
    server: ServerState, pdb_rt: ResourceType, pdb: Entry, pod_rt: ResourceType, ns: str
) -> None:
    current = server.store.find(pdb_rt, ns, pdb.name)
    if current is None:
        return
    selector = LabelSelector.from_dict((current.obj.get("spec") or {}).get("selector") or {})
    pods = [
        e.obj
        for e in server.store.entries(pod_rt, ns)
        if selector.matches(e.obj["metadata"].get("labels") or {})
        and (e.obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]
    new = current.copy()
    status = new.setdefault("status", {})
    status.update(budget(current.obj, pods, expected_pods(server, pods)))
    status["observedGeneration"] = current.obj["metadata"].get("generation", 1)
    server.store.update(pdb_rt, new, namespace=ns, name=pdb.name, subresource="status")
