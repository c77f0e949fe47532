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

from podscaler.api.timestamps import parse_time
from podscaler.sim.apiserver.hpaconversion import V1View, v1_to_v2
from podscaler.sim.apiserver.resources import ResourceType
from podscaler.sim.apiserver.store import Obj
from podscaler.sim.apiserver.views import events_v1_to_core_event

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
    moment = parse_time(stamp)
    if moment is None:
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
    """``80/TCP``, or ``80:30080/TCP`` with a node port, as kubectl prints them."""
    ports = _g(obj, "spec", "ports", default=[])
    return (
        ",".join(
            f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}"
            f"/{p.get('protocol', 'TCP')}"
            for p in ports
        )
        or "<none>"
    )


def _external_ip(obj: Obj, _now: datetime) -> str:
    """A LoadBalancer's ingress addresses (``<pending>`` until it has one), else the
    Service's ``externalIPs`` or ``<none>``."""
    spec = obj.get("spec") or {}
    addresses = list(spec.get("externalIPs") or [])
    if spec.get("type") == "LoadBalancer":
        ingress = _g(obj, "status", "loadBalancer", "ingress", default=[]) or []
        addresses = [i.get("ip") or i.get("hostname") for i in ingress if isinstance(i, dict)]
        addresses = [a for a in addresses if a] + list(spec.get("externalIPs") or [])
        return ",".join(addresses) or "<pending>"
    if spec.get("type") == "ExternalName":
        return str(spec.get("externalName") or "<none>")
    return ",".join(addresses) or "<none>"


def _data_count(obj: Obj, _now: datetime) -> int:
    """Keys of ``data`` and ``binaryData`` (kubectl's DATA column)."""
    return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})


def _ratio(a: tuple[str, ...], b: tuple[str, ...]) -> Callable[[Obj, datetime], str]:
    return lambda o, _n: f"{_g(o, *a, default=0)}/{_g(o, *b, default=0)}"


def _field(*path: str, default: Any = 0) -> Callable[[Obj, datetime], Any]:
    return lambda o, _n: _g(o, *path, default=default)


def _hpa_ref(obj: Obj, _now: datetime) -> str:
    ref = _g(obj, "spec", "scaleTargetRef", default={})
    return f"{ref.get('kind', '')}/{ref.get('name', '')}"


#: Metrics shown in an HPA's TARGETS cell before "+ N more...".
_HPA_SHOWN = 2


def _hpa_metric(metric: Obj, status: Obj) -> str:
    """One metric as ``current/target``, as kubectl shows it: ``cpu: 70%/60%``,
    ``memory: 90Mi/100Mi``, ``7/10``, ``2/3 (avg)``. The current value is the status entry at
    the same index, when it is of the same type (``<unknown>`` otherwise)."""
    kind = str(metric.get("type") or "")
    if kind in ("Resource", "ContainerResource"):
        field = "resource" if kind == "Resource" else "containerResource"
        source = metric.get(field) or {}
        target = source.get("target") or {}
        now = (status.get(field) or {}).get("current")
        if "averageValue" in target:
            current = (now or {}).get("averageValue", "<unknown>")
            return f"{source.get('name')}: {current}/{target['averageValue']}"
        utilization = (now or {}).get("averageUtilization")
        current = f"{utilization}%" if utilization is not None else "<unknown>"
        wanted = target.get("averageUtilization")
        return f"{source.get('name')}: {current}/{f'{wanted}%' if wanted is not None else '<auto>'}"
    if kind == "Pods":
        target = (metric.get("pods") or {}).get("target") or {}
        now = (status.get("pods") or {}).get("current")
        current = (now or {}).get("averageValue", "<unknown>")
        return f"{current}/{target.get('averageValue')}"
    if kind in ("Object", "External"):
        field = kind.lower()
        target = (metric.get(field) or {}).get("target") or {}
        now = (status.get(field) or {}).get("current")
        if "averageValue" in target:
            current = (now or {}).get("averageValue", "<unknown>")
            return f"{current}/{target['averageValue']} (avg)"
        current = (now or {}).get("value", "<unknown>")
        return f"{current}/{target.get('value')}"
    return "<unknown type>"


def _hpa_targets(obj: Obj, _now: datetime) -> str:
    """kubectl's TARGETS: the first two metrics and how many more, from the stored v2 form (a
    v1 view carries it; a v1 object without it is converted, its CPU metric then last)."""
    if isinstance(obj, V1View):
        obj = obj.stored
    elif obj.get("apiVersion") == "autoscaling/v1":
        obj = v1_to_v2(obj)
    metrics = [m for m in _g(obj, "spec", "metrics", default=[]) or [] if isinstance(m, dict)]
    if not metrics:
        return "<none>"
    statuses = list(_g(obj, "status", "currentMetrics", default=[]) or [])
    shown = [
        _hpa_metric(m, statuses[i] if i < len(statuses) and isinstance(statuses[i], dict) else {})
        for i, m in enumerate(metrics[:_HPA_SHOWN])
    ]
    more = len(metrics) - len(shown)
    return ", ".join(shown) + (f" + {more} more..." if more else "")


def _hpa_min_pods(obj: Obj, _now: datetime) -> str:
    minimum = _g(obj, "spec", "minReplicas", default=None)
    return "<unset>" if minimum is None else str(minimum)


# Events, as kubectl's event printer shows them. The cells are computed from the core/v1 shape
# (events.k8s.io/v1 objects are converted first): an Event written through the newer API has
# eventTime and series instead of firstTimestamp, lastTimestamp and count, and a reporting
# controller instead of a source.


def _event_first_seen(obj: Obj, now: datetime) -> str:
    return _age_of(obj.get("firstTimestamp") or obj.get("eventTime"), now)


def _event_last_seen(obj: Obj, now: datetime) -> str:
    series = obj.get("series")
    if isinstance(series, dict) and series.get("lastObservedTime"):
        return _age_of(series["lastObservedTime"], now)
    if obj.get("lastTimestamp"):
        return _age_of(obj["lastTimestamp"], now)
    return _event_first_seen(obj, now)


def _event_count(obj: Obj, _now: datetime) -> int:
    series = obj.get("series")
    if isinstance(series, dict) and series.get("count") is not None:
        return int(series["count"])
    return int(obj.get("count") or 1)


def _event_object(obj: Obj, _now: datetime) -> str:
    ref = _g(obj, "involvedObject", default={})
    kind = str(ref.get("kind") or "").lower()
    return f"{kind}/{ref['name']}" if ref.get("name") else kind


def _event_source(obj: Obj, _now: datetime) -> str:
    component = _g(obj, "source", "component", default="") or obj.get("reportingComponent") or ""
    host = _g(obj, "source", "host", default="") or obj.get("reportingInstance") or ""
    return f"{component}, {host}" if host else str(component)


def _event_message(obj: Obj, _now: datetime) -> str:
    return str(obj.get("message") or "").strip()


_EVENT_COLUMNS: list[Column] = [
    ("Last Seen", "string", 0, _event_last_seen),
    ("Type", "string", 0, _field("type", default="")),
    ("Reason", "string", 0, _field("reason", default="")),
    ("Object", "string", 0, _event_object),
    ("Subobject", "string", 1, _field("involvedObject", "fieldPath", default="")),
    ("Source", "string", 1, _event_source),
    ("Message", "string", 0, _event_message),
    ("First Seen", "string", 1, _event_first_seen),
    ("Count", "integer", 1, _event_count),
    ("Name", "string", 1, lambda o, _n: o["metadata"]["name"]),
]


def _on_core_event(column: Column) -> Column:
    name, type_, priority, cell = column

    def converted(obj: Obj, now: datetime) -> Any:
        return cell(events_v1_to_core_event(obj), now)

    return (name, type_, priority, converted)


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
        ("External-IP", "string", 0, _external_ip),
        ("Port(s)", "string", 0, _ports),
        _AGE,
    ],
    ("", "ConfigMap"): [_NAME, ("Data", "integer", 0, _data_count), _AGE],
    ("", "Secret"): [
        _NAME,
        ("Type", "string", 0, _field("type", default="")),
        ("Data", "integer", 0, _data_count),
        _AGE,
    ],
    ("", "Event"): _EVENT_COLUMNS,
    ("events.k8s.io", "Event"): [_on_core_event(c) for c in _EVENT_COLUMNS],
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
        ("Targets", "string", 0, _hpa_targets),
        ("MinPods", "string", 0, _hpa_min_pods),
        ("MaxPods", "string", 0, _field("spec", "maxReplicas")),
        ("Replicas", "string", 0, _field("status", "currentReplicas")),
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
        elif include_object == "None":
            row["object"] = None  # upstream's empty RawExtension
        else:
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
