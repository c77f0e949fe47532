"""autoscaling/v1 ⇄ v2 HorizontalPodAutoscalers (``hpaconversion.py``): what a v1 client reads
and writes back keeps the v2 object, up to what kube-apiserver itself changes (the CPU metric
moves last, a second CPU utilization metric is lost, an Object target gains a ``value``). The
exact shapes are pinned by the recorded cases in tests/differential (category conversion)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.sim.apiserver.hpaconversion import (
    BEHAVIOR,
    CONDITIONS,
    CURRENT_METRICS,
    METRICS,
    v1_to_v2,
    v2_to_v1,
)

quantities = st.sampled_from(["1", "250m", "100Mi", "3", "1500"])
percent = st.integers(min_value=1, max_value=200)
names = st.sampled_from(["qps", "hits", "queue", "lag"])
selectors = st.none() | st.just({"matchLabels": {"app": "web"}})


def _ident(name: str, selector: Any) -> dict[str, Any]:
    return {"name": name} | ({"selector": selector} if selector is not None else {})


@st.composite
def metrics(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Resource", "ContainerResource", "Pods", "Object", "External"]))
    if kind in ("Resource", "ContainerResource"):
        if draw(st.booleans()):
            target = {"type": "Utilization", "averageUtilization": draw(percent)}
        else:
            target = {"type": "AverageValue", "averageValue": draw(quantities)}
        source = {"name": draw(st.sampled_from(["cpu", "memory"])), "target": target}
        if kind == "ContainerResource":
            source["container"] = "app"
        field = "resource" if kind == "Resource" else "containerResource"
        return {"type": kind, field: source}
    ident = _ident(draw(names), draw(selectors))
    if kind == "Pods":
        return {
            "type": kind,
            "pods": {"metric": ident, "target": {"type": "AverageValue", "averageValue": "5"}},
        }
    if draw(st.booleans()):
        target = {"type": "Value", "value": draw(quantities)}
    else:
        target = {"type": "AverageValue", "averageValue": draw(quantities)}
    if kind == "Object":
        ref = {"kind": "Service", "name": "s", "apiVersion": "v1"}
        return {"type": kind, "object": {"describedObject": ref, "target": target, "metric": ident}}
    return {"type": kind, "external": {"metric": ident, "target": target}}


rules = st.fixed_dictionaries(
    {
        "stabilizationWindowSeconds": st.integers(min_value=0, max_value=3600),
        "selectPolicy": st.sampled_from(["Max", "Min", "Disabled"]),
        "policies": st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(["Pods", "Percent"]),
                    "value": st.integers(min_value=1, max_value=100),
                    "periodSeconds": st.integers(min_value=1, max_value=1800),
                }
            ),
            min_size=1,
            max_size=3,
        ),
    }
)


@st.composite
def hpas(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": draw(st.integers(min_value=1, max_value=5)),
        "maxReplicas": 10,
        "metrics": draw(st.lists(metrics(), min_size=1, max_size=5)),
    }
    if draw(st.booleans()):
        spec["behavior"] = {"scaleUp": draw(rules), "scaleDown": draw(rules)}
    meta = {"name": "h", "namespace": "ns", "annotations": {"team": "web"}}
    status: dict[str, Any] = {"currentReplicas": 2, "desiredReplicas": 3}
    if draw(st.booleans()):
        status["currentMetrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "current": {"averageUtilization": 50, "averageValue": "100m"},
                },
            },
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "7"}}},
        ]
        status["conditions"] = [
            {
                "type": "AbleToScale",
                "status": "True",
                "lastTransitionTime": "2026-12-07T06:00:00Z",
                "reason": "Ready",
                "message": "ok",
            }
        ]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": spec,
        "status": status,
    }


def _is_cpu_utilization(metric: dict[str, Any]) -> bool:
    res = metric.get("resource") or {}
    return res.get("name") == "cpu" and res["target"]["type"] == "Utilization"


def _after_v1(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What kube-apiserver's v1 round trip makes of v2 metrics."""
    cpu = [m for m in metrics if m["type"] == "Resource" and _is_cpu_utilization(m)]
    others = [json.loads(json.dumps(m)) for m in metrics if m not in cpu]
    for m in others:
        if m["type"] == "Object":
            m["object"]["target"].setdefault("value", "0")
    return others + cpu[:1]


@settings(deadline=None, max_examples=300)
@given(hpas())
def test_a_v2_hpa_survives_a_v1_round_trip(hpa: dict[str, Any]) -> None:
    v1 = v2_to_v1(hpa)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert "metrics" not in v1["spec"]
    assert "behavior" not in v1["spec"]
    back = v1_to_v2(json.loads(json.dumps(v1)))  # what a client sends back
    assert back["spec"].get("metrics") == _after_v1(hpa["spec"]["metrics"])
    assert back["spec"].get("behavior") == hpa["spec"].get("behavior")
    assert back["metadata"]["annotations"] == {"team": "web"}
    status = hpa["status"]
    assert back["status"].get("currentMetrics") == status.get("currentMetrics")
    assert back["status"].get("conditions") == status.get("conditions")
    assert back["status"]["currentReplicas"] == 2


@settings(deadline=None, max_examples=300)
@given(hpas())
def test_the_v1_view_holds_the_first_cpu_target_and_annotations_only_when_needed(
    hpa: dict[str, Any],
) -> None:
    v1 = v2_to_v1(hpa)
    cpu = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource" and _is_cpu_utilization(m)]
    if cpu:
        want = cpu[0]["resource"]["target"]["averageUtilization"]
        assert v1["spec"]["targetCPUUtilizationPercentage"] == want
    else:
        assert "targetCPUUtilizationPercentage" not in v1["spec"]
    annotations = v1["metadata"]["annotations"]
    assert (METRICS in annotations) == (len(cpu) < len(hpa["spec"]["metrics"]))
    assert (BEHAVIOR in annotations) == ("behavior" in hpa["spec"])
    assert (CURRENT_METRICS in annotations) == ("currentMetrics" in hpa["status"])
    assert (CONDITIONS in annotations) == ("conditions" in hpa["status"])
    assert list(annotations) == sorted(annotations)
    assert v1["status"]["desiredReplicas"] == 3


@settings(deadline=None, max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from([METRICS, CURRENT_METRICS, CONDITIONS, BEHAVIOR]),
        st.text(max_size=30) | st.just("[1]") | st.just('{"ScaleUp": 3}'),
    )
)
def test_broken_annotations_are_ignored_not_fatal(annotations: dict[str, str]) -> None:
    v1 = {
        "metadata": {"name": "h", "annotations": annotations},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3},
        "status": {},
    }
    v2 = v1_to_v2(v1)
    assert "annotations" not in v2["metadata"]
    for metric in v2["spec"].get("metrics", []):
        assert isinstance(metric, dict)


def test_go_field_names_in_the_behavior_annotation_match_in_any_case() -> None:
    policy = '{"type":"Pods","value":2,"periodSeconds":9}'
    text = '{"scaleup":{"selectpolicy":"Min","policies":[' + policy + "]}}"
    v2 = v1_to_v2({"metadata": {"annotations": {BEHAVIOR: text}}, "spec": {}, "status": {}})
    assert v2["spec"]["behavior"] == {
        "scaleUp": {
            "selectPolicy": "Min",
            "policies": [{"type": "Pods", "value": 2, "periodSeconds": 9}],
        }
    }


def test_v1_status_without_current_metrics_annotation_reads_the_cpu_percentage() -> None:
    v2 = v1_to_v2(
        {
            "metadata": {},
            "spec": {},
            "status": {
                "currentReplicas": 4,
                "desiredReplicas": 4,
                "currentCPUUtilizationPercentage": 44,
            },
        }
    )
    assert v2["status"]["currentMetrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 44}}}
    ]
