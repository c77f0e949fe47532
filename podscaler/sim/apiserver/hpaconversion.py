"""HorizontalPodAutoscalers between ``autoscaling/v2`` (what the store keeps) and ``v1``.

kube-apiserver serves HPAs at both versions from one stored object. ``autoscaling/v1`` only
has a CPU target (``spec.targetCPUUtilizationPercentage``) and a CPU reading
(``status.currentCPUUtilizationPercentage``); what v2 holds beyond that travels in four
annotations of the v1 view, JSON-encoded, so that a v1 client reading and writing back an HPA
keeps it:

==============================================  =========================================
annotation                                      holds
==============================================  =========================================
``autoscaling.alpha.kubernetes.io/metrics``         the spec's metrics other than CPU
                                                    utilization, in v1's metric shapes
``autoscaling.alpha.kubernetes.io/current-metrics`` every current metric, v1's shapes
``autoscaling.alpha.kubernetes.io/conditions``      the status conditions
``autoscaling.alpha.kubernetes.io/behavior``        ``spec.behavior``, in Go's field names
                                                    (upstream marshals its internal type,
                                                    which has no JSON tags: ``ScaleUp``...)
==============================================  =========================================

What kube-apiserver 1.32 does, as recorded against it (``tests/differential``), reproduced
here rather than derived from its code:

* v2 → v1: the *first* Resource ``cpu`` metric with a Utilization target becomes
  ``targetCPUUtilizationPercentage``; every cpu Utilization metric is left out of the
  annotation (a second one is lost). ``status.currentReplicas`` and ``desiredReplicas`` are
  always written (v1 has no ``omitempty`` there).
* v1 → v2: the annotation's metrics come first, then the CPU target, so a v2 HPA read and
  written back through v1 has its CPU metric moved to the end. An HPA without either gets
  v2's default (80 % CPU). A missing behavior annotation means no behavior; an annotation that
  is not valid JSON of the right shape is ignored, as Go's decoder failing is. Current
  metrics come from the annotation when there is one, else from the CPU reading.
* quantities v1 requires (``targetValue``, ``currentAverageValue``...) are ``"0"`` when v2
  has none, and come back as they are: an Object metric with an AverageValue target read
  through v1 comes back with a ``value`` of 0 beside it, which kube-apiserver's validation
  refuses ("must be positive"), so such an HPA cannot be written back through v1 upstream.
  (The embedded server does not validate HPA metrics, so it accepts that write.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

Obj = dict[str, Any]

METRICS: Final = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS: Final = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS: Final = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR: Final = "autoscaling.alpha.kubernetes.io/behavior"
ANNOTATIONS: Final = (METRICS, CURRENT_METRICS, CONDITIONS, BEHAVIOR)


def _go_json(value: Any) -> str:
    """Compact JSON as Go's encoder writes it (``<``, ``>``, ``&`` escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _put(out: Obj, key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _is_cpu_utilization(metric: Obj) -> bool:
    resource = _d(metric.get("resource"))
    return (
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and _d(resource.get("target")).get("type") == "Utilization"
    )


# ---------------------------------------------------------------- v2 -> v1


class V1View(dict[str, Any]):
    """A v1 HPA that keeps the stored v2 object it was made from, for the server's Table:
    kubectl's TARGETS column pairs each metric with the current metric at the same index of
    the stored object, an order the v1 form has lost (its CPU metric moves to the end)."""

    __slots__ = ("stored",)

    def __init__(self, obj: Obj, stored: Obj) -> None:
        super().__init__(obj)
        self.stored = stored


def _spec_metric_to_v1(metric: Obj) -> Obj:
    kind = metric.get("type")
    out: Obj = {"type": kind}
    if kind == "Object":
        src = _d(metric.get("object"))
        ident, target = _d(src.get("metric")), _d(src.get("target"))
        obj: Obj = {"target": src.get("describedObject") or {}, "metricName": ident.get("name")}
        obj["targetValue"] = target.get("value") or "0"
        _put(obj, "selector", ident.get("selector"))
        _put(obj, "averageValue", target.get("averageValue"))
        out["object"] = obj
    elif kind == "Pods":
        src = _d(metric.get("pods"))
        ident, target = _d(src.get("metric")), _d(src.get("target"))
        pods: Obj = {"metricName": ident.get("name")}
        pods["targetAverageValue"] = target.get("averageValue") or "0"
        _put(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    elif kind in ("Resource", "ContainerResource"):
        field = "resource" if kind == "Resource" else "containerResource"
        src = _d(metric.get(field))
        target = _d(src.get("target"))
        res: Obj = {"name": src.get("name")}
        _put(res, "targetAverageUtilization", target.get("averageUtilization"))
        _put(res, "targetAverageValue", target.get("averageValue"))
        if kind == "ContainerResource":
            res["container"] = src.get("container")
        out[field] = res
    elif kind == "External":
        src = _d(metric.get("external"))
        ident, target = _d(src.get("metric")), _d(src.get("target"))
        ext: Obj = {"metricName": ident.get("name")}
        _put(ext, "metricSelector", ident.get("selector"))
        _put(ext, "targetValue", target.get("value"))
        _put(ext, "targetAverageValue", target.get("averageValue"))
        out["external"] = ext
    return out


def _status_metric_to_v1(metric: Obj) -> Obj:
    kind = metric.get("type")
    out: Obj = {"type": kind}
    if kind == "Object":
        src = _d(metric.get("object"))
        ident, current = _d(src.get("metric")), _d(src.get("current"))
        obj: Obj = {"target": src.get("describedObject") or {}, "metricName": ident.get("name")}
        obj["currentValue"] = current.get("value") or "0"
        _put(obj, "selector", ident.get("selector"))
        _put(obj, "averageValue", current.get("averageValue"))
        out["object"] = obj
    elif kind == "Pods":
        src = _d(metric.get("pods"))
        ident, current = _d(src.get("metric")), _d(src.get("current"))
        pods: Obj = {"metricName": ident.get("name")}
        pods["currentAverageValue"] = current.get("averageValue") or "0"
        _put(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    elif kind in ("Resource", "ContainerResource"):
        field = "resource" if kind == "Resource" else "containerResource"
        src = _d(metric.get(field))
        current = _d(src.get("current"))
        res: Obj = {"name": src.get("name")}
        _put(res, "currentAverageUtilization", current.get("averageUtilization"))
        res["currentAverageValue"] = current.get("averageValue") or "0"
        if kind == "ContainerResource":
            res["container"] = src.get("container")
        out[field] = res
    elif kind == "External":
        src = _d(metric.get("external"))
        ident, current = _d(src.get("metric")), _d(src.get("current"))
        ext: Obj = {"metricName": ident.get("name")}
        _put(ext, "metricSelector", ident.get("selector"))
        ext["currentValue"] = current.get("value") or "0"
        _put(ext, "currentAverageValue", current.get("averageValue"))
        out["external"] = ext
    return out


def _condition_to_v1(condition: Obj) -> Obj:
    out: Obj = {
        "type": condition.get("type"),
        "status": condition.get("status"),
        "lastTransitionTime": condition.get("lastTransitionTime"),
    }
    _put(out, "reason", condition.get("reason") or None)
    _put(out, "message", condition.get("message") or None)
    return out


def _rules_to_internal(rules: Any) -> Obj | None:
    if not isinstance(rules, dict):
        return None
    policies = rules.get("policies")
    return {
        "StabilizationWindowSeconds": rules.get("stabilizationWindowSeconds"),
        "SelectPolicy": rules.get("selectPolicy"),
        "Policies": None
        if not isinstance(policies, list)
        else [
            {
                "Type": p.get("type"),
                "Value": p.get("value"),
                "PeriodSeconds": p.get("periodSeconds"),
            }
            for p in policies
            if isinstance(p, dict)
        ],
    }


def v2_to_v1(obj: Obj) -> Obj:
    """The ``autoscaling/v1`` view of a stored v2 HPA (a new dict; nested values the v1
    view keeps as they are, such as ``scaleTargetRef``, are shared, not copied)."""
    out: Obj = {"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1"}
    meta = dict(_d(obj.get("metadata")))
    annotations = {k: v for k, v in _d(meta.get("annotations")).items() if k not in ANNOTATIONS}
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))

    v1_spec: Obj = {
        k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec
    }
    others: list[Obj] = []
    for metric in spec.get("metrics") or []:
        if not isinstance(metric, dict):
            continue
        if _is_cpu_utilization(metric):
            target = metric["resource"]["target"]
            if "targetCPUUtilizationPercentage" not in v1_spec and "averageUtilization" in target:
                v1_spec["targetCPUUtilizationPercentage"] = target["averageUtilization"]
            continue
        others.append(_spec_metric_to_v1(metric))
    if others:
        annotations[METRICS] = _go_json(others)
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        annotations[BEHAVIOR] = _go_json(
            {
                "ScaleUp": _rules_to_internal(behavior.get("scaleUp")),
                "ScaleDown": _rules_to_internal(behavior.get("scaleDown")),
            }
        )

    v1_status: Obj = {}
    for key in ("observedGeneration", "lastScaleTime"):
        _put(v1_status, key, status.get(key))
    v1_status["currentReplicas"] = status.get("currentReplicas") or 0
    v1_status["desiredReplicas"] = status.get("desiredReplicas") or 0
    current = [m for m in status.get("currentMetrics") or [] if isinstance(m, dict)]
    for metric in current:
        resource = _d(metric.get("resource"))
        utilization = _d(resource.get("current")).get("averageUtilization")
        cpu = metric.get("type") == "Resource" and resource.get("name") == "cpu"
        if cpu and utilization is not None:
            v1_status["currentCPUUtilizationPercentage"] = utilization
            break
    if current:
        annotations[CURRENT_METRICS] = _go_json([_status_metric_to_v1(m) for m in current])
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    if conditions:
        annotations[CONDITIONS] = _go_json([_condition_to_v1(c) for c in conditions])

    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    out["spec"] = v1_spec
    out["status"] = v1_status
    return V1View(out, obj)


# ---------------------------------------------------------------- v1 -> v2


def _decoded_list(annotations: Obj, key: str) -> list[Obj] | None:
    """A JSON list of objects from an annotation; None when absent or not one (upstream
    ignores an annotation its decoder refuses)."""
    text = annotations.get(key)
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return None
    return value


def _ident(name: Any, selector: Any) -> Obj:
    out: Obj = {"name": name}
    _put(out, "selector", selector)
    return out


def _target(kind: str, value: Any = None, average: Any = None, utilization: Any = None) -> Obj:
    out: Obj = {"type": kind}
    _put(out, "value", value)
    _put(out, "averageValue", average)
    _put(out, "averageUtilization", utilization)
    return out


def _spec_metric_to_v2(metric: Obj) -> Obj:
    kind = metric.get("type")
    out: Obj = {"type": kind}
    if kind == "Object":
        src = _d(metric.get("object"))
        average = src.get("averageValue")
        out["object"] = {
            "describedObject": src.get("target") or {},
            "target": _target(
                "Value" if average is None else "AverageValue",
                src.get("targetValue") or "0",
                average,
            ),
            "metric": _ident(src.get("metricName"), src.get("selector")),
        }
    elif kind == "Pods":
        src = _d(metric.get("pods"))
        out["pods"] = {
            "metric": _ident(src.get("metricName"), src.get("selector")),
            "target": _target("AverageValue", average=src.get("targetAverageValue")),
        }
    elif kind in ("Resource", "ContainerResource"):
        field = "resource" if kind == "Resource" else "containerResource"
        src = _d(metric.get(field))
        utilization = src.get("targetAverageUtilization")
        res: Obj = {
            "name": src.get("name"),
            "target": _target(
                "AverageValue" if utilization is None else "Utilization",
                average=src.get("targetAverageValue"),
                utilization=utilization,
            ),
        }
        if kind == "ContainerResource":
            res["container"] = src.get("container")
        out[field] = res
    elif kind == "External":
        src = _d(metric.get("external"))
        average = src.get("targetAverageValue")
        out["external"] = {
            "metric": _ident(src.get("metricName"), src.get("metricSelector")),
            "target": _target(
                "Value" if average is None else "AverageValue", src.get("targetValue"), average
            ),
        }
    return out


def _current(value: Any = None, average: Any = None, utilization: Any = None) -> Obj:
    out: Obj = {}
    _put(out, "value", value)
    _put(out, "averageValue", average)
    _put(out, "averageUtilization", utilization)
    return out


def _status_metric_to_v2(metric: Obj) -> Obj:
    kind = metric.get("type")
    out: Obj = {"type": kind}
    if kind == "Object":
        src = _d(metric.get("object"))
        out["object"] = {
            "metric": _ident(src.get("metricName"), src.get("selector")),
            "current": _current(src.get("currentValue"), src.get("averageValue")),
            "describedObject": src.get("target") or {},
        }
    elif kind == "Pods":
        src = _d(metric.get("pods"))
        out["pods"] = {
            "metric": _ident(src.get("metricName"), src.get("selector")),
            "current": _current(average=src.get("currentAverageValue")),
        }
    elif kind in ("Resource", "ContainerResource"):
        field = "resource" if kind == "Resource" else "containerResource"
        src = _d(metric.get(field))
        res: Obj = {
            "name": src.get("name"),
            "current": _current(
                average=src.get("currentAverageValue"),
                utilization=src.get("currentAverageUtilization"),
            ),
        }
        if kind == "ContainerResource":
            res["container"] = src.get("container")
        out[field] = res
    elif kind == "External":
        src = _d(metric.get("external"))
        out["external"] = {
            "metric": _ident(src.get("metricName"), src.get("metricSelector")),
            "current": _current(src.get("currentValue"), src.get("currentAverageValue")),
        }
    return out


def _field(obj: Obj, name: str) -> Any:
    """A field as Go's JSON decoder finds it: the exact name, else any case."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    return next((v for k, v in obj.items() if k.lower() == lowered), None)


def _rules_from_internal(rules: Any) -> Obj | None:
    if not isinstance(rules, dict):
        return None
    out: Obj = {}
    _put(out, "stabilizationWindowSeconds", _field(rules, "StabilizationWindowSeconds"))
    _put(out, "selectPolicy", _field(rules, "SelectPolicy"))
    policies = _field(rules, "Policies")
    if isinstance(policies, list):
        out["policies"] = [
            {
                "type": _field(p, "Type"),
                "value": _field(p, "Value"),
                "periodSeconds": _field(p, "PeriodSeconds"),
            }
            for p in policies
            if isinstance(p, dict)
        ]
    return out


def _behavior(annotations: Obj) -> Obj | None:
    text = annotations.get(BEHAVIOR)
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    out: Obj = {}
    for name, key in (("ScaleUp", "scaleUp"), ("ScaleDown", "scaleDown")):
        _put(out, key, _rules_from_internal(_field(value, name)))
    return out


def _converted(items: list[Obj], convert: Callable[[Obj], Obj]) -> list[Obj]:
    return [convert(item) for item in items]


def v1_to_v2(obj: Obj) -> Obj:
    """The stored v2 form of a v1 HPA (a new dict, before v2 defaulting)."""
    out: Obj = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler"}
    meta = dict(_d(obj.get("metadata")))
    given = _d(meta.get("annotations"))
    annotations = {k: v for k, v in given.items() if k not in ANNOTATIONS}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta

    spec = _d(obj.get("spec"))
    v2_spec: Obj = {
        k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec
    }
    metrics = _converted(_decoded_list(given, METRICS) or [], _spec_metric_to_v2)
    cpu = spec.get("targetCPUUtilizationPercentage")
    if cpu is not None:
        metrics.append(
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": _target("Utilization", utilization=cpu)},
            }
        )
    if metrics:
        v2_spec["metrics"] = metrics
    behavior = _behavior(given)
    if behavior is not None:
        v2_spec["behavior"] = behavior
    out["spec"] = v2_spec

    status = _d(obj.get("status"))
    v2_status: Obj = {}
    for key in ("observedGeneration", "lastScaleTime"):
        _put(v2_status, key, status.get(key))
    _put(v2_status, "currentReplicas", status.get("currentReplicas") or None)
    v2_status["desiredReplicas"] = status.get("desiredReplicas") or 0
    current = _decoded_list(given, CURRENT_METRICS)
    cpu_now = status.get("currentCPUUtilizationPercentage")
    if current is not None:
        v2_status["currentMetrics"] = _converted(current, _status_metric_to_v2)
    elif cpu_now is not None:
        v2_status["currentMetrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "current": _current(utilization=cpu_now)},
            }
        ]
    conditions = _decoded_list(given, CONDITIONS)
    if conditions:
        v2_status["conditions"] = conditions
    out["status"] = v2_status
    return out
