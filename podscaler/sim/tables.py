"""Server-side Table output (``Accept: application/json;as=Table;g=meta.k8s.io;v=v1``).

kubectl prints columns the server computes: without a Table answer it only has a generic
NAME/AGE view, and a CRD's ``additionalPrinterColumns`` (``kubectl get scaledobjects``)
exist only server-side. Built-in kinds get the columns people know from ``kubectl get``
(a subset: the most-read ones); CRDs get their declared columns through a small JSONPath
evaluator. Other kinds get NAME and AGE, as a real server does for kinds without a printer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from podscaler.sim.resources import ResourceType
from podscaler.sim.store import Obj

Column = tuple[str, str, int, Callable[[Obj, datetime], Any]]


def human_duration(seconds: float) -> str:
    """Ages as kubectl shows them (``45s``, ``3m12s``, ``5h``, ``2d3h``)."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 192:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y{d % 365}d" if d % 365 and d < 365 * 8 else f"{d // 365}y"


def _age_of(stamp: Any, now: datetime) -> str:
    if not isinstance(stamp, str) or not stamp:
        return "<unknown>"
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    return human_duration((now - moment).total_seconds())


def _age(obj: Obj, now: datetime) -> str:
    return _age_of(obj["metadata"].get("creationTimestamp"), now)


def _g(obj: Any, *path: str, default: Any = None) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(part)
    return default if obj is None else obj


def _condition(obj: Obj, type_: str) -> str | None:
    for cond in _g(obj, "status", "conditions", default=[]):
        if isinstance(cond, dict) and cond.get("type") == type_:
            return str(cond.get("status"))
    return None


def _pod_ready(obj: Obj, _now: datetime) -> str:
    total = len(_g(obj, "spec", "containers", default=[]))
    ready = sum(1 for c in _g(obj, "status", "containerStatuses", default=[]) if c.get("ready"))
    return f"{ready}/{total}"


def _pod_status(obj: Obj, _now: datetime) -> str:
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    return str(_g(obj, "status", "reason") or _g(obj, "status", "phase", default="Pending"))


def _pod_restarts(obj: Obj, _now: datetime) -> int:
    return sum(
        int(c.get("restartCount", 0)) for c in _g(obj, "status", "containerStatuses", default=[])
    )


def _node_status(obj: Obj, _now: datetime) -> str:
    ready = _condition(obj, "Ready")
    text = "Ready" if ready == "True" else ("NotReady" if ready is not None else "Unknown")
    if _g(obj, "spec", "unschedulable"):
        text += ",SchedulingDisabled"
    return text


def _node_roles(obj: Obj, _now: datetime) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(
        k[len(prefix) :] for k in obj["metadata"].get("labels") or {} if k.startswith(prefix)
    )
    return ",".join(r for r in roles if r) or "<none>"


def _ports(obj: Obj, _now: datetime) -> str:
    ports = _g(obj, "spec", "ports", default=[])
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _ratio(a: tuple[str, ...], b: tuple[str, ...]) -> Callable[[Obj, datetime], str]:
    return lambda o, _n: f"{_g(o, *a, default=0)}/{_g(o, *b, default=0)}"


def _field(*path: str, default: Any = 0) -> Callable[[Obj, datetime], Any]:
    return lambda o, _n: _g(o, *path, default=default)


def _hpa_ref(obj: Obj, _now: datetime) -> str:
    ref = _g(obj, "spec", "scaleTargetRef", default={})
    return f"{ref.get('kind', '')}/{ref.get('name', '')}"


def _event_object(obj: Obj, _now: datetime) -> str:
    ref = obj.get("involvedObject") or obj.get("regarding") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


_NAME: Column = ("Name", "string", 0, lambda o, _n: o["metadata"]["name"])
_AGE: Column = ("Age", "string", 0, _age)

BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "Pod"): [
        _NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "integer", 0, _pod_restarts),
        _AGE,
        ("IP", "string", 1, _field("status", "podIP", default="<none>")),
        ("Node", "string", 1, _field("spec", "nodeName", default="<none>")),
    ],
    ("", "Node"): [
        _NAME,
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, _node_roles),
        _AGE,
        ("Version", "string", 0, _field("status", "nodeInfo", "kubeletVersion", default="")),
    ],
    ("", "Namespace"): [
        _NAME,
        ("Status", "string", 0, _field("status", "phase", default="")),
        _AGE,
    ],
    ("", "Service"): [
        _NAME,
        ("Type", "string", 0, _field("spec", "type", default="ClusterIP")),
        ("Cluster-IP", "string", 0, _field("spec", "clusterIP", default="<none>")),
        ("Port(s)", "string", 0, _ports),
        _AGE,
    ],
    ("", "Event"): [
        (
            "Last Seen",
            "string",
            0,
            lambda o, n: _age_of(o.get("lastTimestamp") or o.get("eventTime"), n),
        ),
        ("Type", "string", 0, _field("type", default="")),
        ("Reason", "string", 0, _field("reason", default="")),
        ("Object", "string", 0, _event_object),
        ("Message", "string", 0, _field("message", default="")),
    ],
    ("apps", "Deployment"): [
        _NAME,
        ("Ready", "string", 0, _ratio(("status", "readyReplicas"), ("spec", "replicas"))),
        ("Up-to-date", "integer", 0, _field("status", "updatedReplicas")),
        ("Available", "integer", 0, _field("status", "availableReplicas")),
        _AGE,
    ],
    ("apps", "ReplicaSet"): [
        _NAME,
        ("Desired", "integer", 0, _field("spec", "replicas")),
        ("Current", "integer", 0, _field("status", "replicas")),
        ("Ready", "integer", 0, _field("status", "readyReplicas")),
        _AGE,
    ],
    ("apps", "StatefulSet"): [
        _NAME,
        ("Ready", "string", 0, _ratio(("status", "readyReplicas"), ("spec", "replicas"))),
        _AGE,
    ],
    ("apps", "DaemonSet"): [
        _NAME,
        ("Desired", "integer", 0, _field("status", "desiredNumberScheduled")),
        ("Current", "integer", 0, _field("status", "currentNumberScheduled")),
        ("Ready", "integer", 0, _field("status", "numberReady")),
        _AGE,
    ],
    ("autoscaling", "HorizontalPodAutoscaler"): [
        _NAME,
        ("Reference", "string", 0, _hpa_ref),
        ("MinPods", "integer", 0, _field("spec", "minReplicas", default=1)),
        ("MaxPods", "integer", 0, _field("spec", "maxReplicas")),
        ("Replicas", "integer", 0, _field("status", "currentReplicas")),
        _AGE,
    ],
    ("policy", "PodDisruptionBudget"): [
        _NAME,
        ("Min Available", "string", 0, _field("spec", "minAvailable", default="N/A")),
        ("Max Unavailable", "string", 0, _field("spec", "maxUnavailable", default="N/A")),
        ("Allowed Disruptions", "integer", 0, _field("status", "disruptionsAllowed")),
        _AGE,
    ],
}


# --- a JSONPath subset for CRD printer columns ---------------------------------------------

_TOKEN = re.compile(
    r"""\.(?P<key>[A-Za-z0-9_\-]+)
      | \[(?P<index>-?\d+)\]
      | \[\*\] | \.\*
      | \[['"](?P<qkey>[^'"]+)['"]\]
      | \[\?\(@\.(?P<fpath>[A-Za-z0-9_.\-]+)\s*==\s*['"](?P<fval>[^'"]*)['"]\)\]""",
    re.VERBOSE,
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Evaluate ``.a.b[0]``, ``['x.y']``, ``[*]`` and ``[?(@.k=="v")]`` paths; others: []."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    path = path.removeprefix("$")
    current = [obj]
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            return []
        pos = m.end()
        nxt: list[Any] = []
        for item in current:
            if m.group("key") is not None or m.group("qkey") is not None:
                key = m.group("key") or m.group("qkey")
                if isinstance(item, dict) and key in item:
                    nxt.append(item[key])
            elif m.group("index") is not None:
                idx = int(m.group("index"))
                if isinstance(item, list) and -len(item) <= idx < len(item):
                    nxt.append(item[idx])
            elif m.group("fpath") is not None:
                keys = m.group("fpath").split(".")
                for el in item if isinstance(item, list) else []:
                    if str(_g(el, *keys, default="\0")) == m.group("fval"):
                        nxt.append(el)
            elif isinstance(item, list):
                nxt.extend(item)
            elif isinstance(item, dict):
                nxt.extend(item.values())
        current = nxt
    return current


def _crd_columns(rt: ResourceType) -> list[Column]:
    columns: list[Column] = [_NAME]
    for col in rt.printer_columns:
        path = str(col.get("jsonPath", ""))
        type_ = str(col.get("type", "string"))
        priority = int(col.get("priority", 0))

        def cell(obj: Obj, now: datetime, path: str = path, type_: str = type_) -> Any:
            found = jsonpath(obj, path)
            if not found:
                return None
            value = found[0] if len(found) == 1 else ",".join(str(v) for v in found)
            if type_ == "date":
                return _age_of(value, now)
            if isinstance(value, dict | list):
                import json

                return json.dumps(value, separators=(",", ":"))
            return value

        columns.append(
            (str(col.get("name", path)), type_ if type_ != "date" else "date", priority, cell)
        )
    if not any(str(c.get("type")) == "date" for c in rt.printer_columns):
        columns.append(_AGE)
    return columns


def columns_for(rt: ResourceType) -> list[Column]:
    if rt.custom:
        return _crd_columns(rt)
    return BUILTIN_COLUMNS.get((rt.group, rt.kind), [_NAME, _AGE])


def table(
    rt: ResourceType,
    objects: Iterable[Obj],
    now: datetime,
    *,
    list_meta: dict[str, Any] | None = None,
    include_object: str = "Metadata",
) -> dict[str, Any]:
    columns = columns_for(rt)
    definitions = [
        {
            "name": name,
            "type": type_ if type_ != "date" else "string",
            "format": "name" if name == "Name" else "",
            "description": "",
            "priority": priority,
        }
        for name, type_, priority, _ in columns
    ]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [fn(obj, now) for _, _, _, fn in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta or {},
        "columnDefinitions": definitions,
        "rows": rows,
    }
