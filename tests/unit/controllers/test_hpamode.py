"""The HPA podscaler generates in mode hpa has the shape of KEDA's generated HPA.

``hpa_manifest`` is pure: a ScaledObject and its triggers' metric specs (built by the real scaler
registry, as the controller builds them) in, the autoscaling/v2 object out. Checked against
reference/keda.md §2.4: name, owner, labels, annotations, min/max, one External metric per
trigger with the ``scaledobject.keda.sh/name`` selector and the trigger's target type, Resource
metrics for cpu/memory, ``composite-metric`` with scalingModifiers, behavior copied and paused
directions disabled, metrics sorted by type. Also the HPAActive mirror and the status finish.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from podscaler.api.scaledobject import ScaledObject
from podscaler.controllers.scaledobject.hpamode import (
    HpaModeOutcome,
    HpaSpecError,
    finish_status,
    hpa_active_condition,
    hpa_manifest,
    installed_version,
    targets,
)
from podscaler.kube.scaling import ScaleRef
from scalers.contract import MetricSpec, ScalerEnvironment, ScaleTrigger
from scalers.registry import default_registry

UID = "0b5a1f1e-5f43-4c8e-9d55-7d1b8a6c4e21"
SEOUL = {"timezone": "Asia/Seoul", "start": "00,15,30,45 * * * *", "end": "05,20,35,50 * * * *"}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _so(triggers: list[dict[str, Any]], **spec: Any) -> ScaledObject:
    metadata = spec.pop("metadata", {})
    return ScaledObject.model_validate(
        {
            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "orders", "namespace": "shop", "uid": UID, **metadata},
            "spec": {
                "scaleTargetRef": {"name": "orders-worker"},
                "triggers": triggers,
                "advanced": {"mode": "hpa", **spec.pop("advanced", {})},
                **spec,
            },
        }
    )


@pytest.fixture
async def specs_of() -> AsyncIterator[Any]:
    """Build the triggers' metric specs with the real registry (scalers closed afterwards)."""
    registry = default_registry()
    env = ScalerEnvironment(now=lambda: NOW)
    built: list[Any] = []

    def specs(so: ScaledObject) -> list[MetricSpec]:
        out: list[MetricSpec] = []
        for index, trigger in enumerate(so.spec.triggers):
            spec = ScaleTrigger.model_validate(trigger.to_dict())
            config = registry.parse(spec, trigger_index=index)
            scaler = registry.build(spec.type, config, env)
            built.append(scaler)
            out.extend(scaler.metric_specs())
        return out

    yield specs
    for scaler in built:
        await scaler.close()


def _cron(desired: str = "10") -> dict[str, Any]:
    return {"type": "cron", "metadata": {**SEOUL, "desiredReplicas": desired}}


def _prometheus(**extra: str) -> dict[str, Any]:
    metadata = {"serverAddress": "http://prom:9090", "query": "sum(q)", "threshold": "2.5"}
    return {"type": "prometheus", "metadata": {**metadata, **extra}}


def test_cron_story_gives_keda_generated_hpa(specs_of: Any) -> None:
    so = _so([_cron()], minReplicaCount=0, maxReplicaCount=20)
    hpa = hpa_manifest(so, specs_of(so))
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["kind"] == "HorizontalPodAutoscaler"
    meta = hpa["metadata"]
    assert meta["name"] == "keda-hpa-orders"
    assert meta["namespace"] == "shop"
    assert meta["labels"] == {
        "app.kubernetes.io/name": "keda-hpa-orders",
        "app.kubernetes.io/version": installed_version(),
        "app.kubernetes.io/part-of": "orders",
        "app.kubernetes.io/managed-by": "podscaler",
    }
    (owner,) = meta["ownerReferences"]
    assert owner == {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledObject",
        "name": "orders",
        "uid": UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders-worker"},
        "minReplicas": 1,  # max(minReplicaCount, 1): 0 is podscaler's business
        "maxReplicas": 20,
        "metrics": [
            {
                "type": "External",
                "external": {
                    "metric": {
                        "name": "s0-cron-Asia-Seoul-00Cm15Cm30Cm45xxxx-05Cm20Cm35Cm50xxxx",
                        "selector": {"matchLabels": {"scaledobject.keda.sh/name": "orders"}},
                    },
                    "target": {"type": "AverageValue", "averageValue": "1"},
                },
            }
        ],
    }


def test_defaults_custom_name_labels_annotations_and_value_targets(specs_of: Any) -> None:
    so = _so(
        [_prometheus(), {**_prometheus(threshold="7"), "metricType": "Value"}],
        minReplicaCount=3,
        metadata={
            "labels": {"team": "shop", "secret-ish": "x"},
            "annotations": {
                "scaledobject.keda.sh/hpa-excluded-labels": "secret-ish",
                "kubectl.kubernetes.io/last-applied-configuration": "{...}",
                "note": "kept",
            },
        },
        advanced={"horizontalPodAutoscalerConfig": {"name": "orders-hpa"}},
    )
    hpa = hpa_manifest(so, specs_of(so))
    meta = hpa["metadata"]
    assert meta["name"] == "orders-hpa"
    assert meta["labels"]["team"] == "shop"
    assert "secret-ish" not in meta["labels"]
    assert meta["labels"]["app.kubernetes.io/name"] == "orders-hpa"
    assert meta["annotations"] == {
        "scaledobject.keda.sh/hpa-excluded-labels": "secret-ish",
        "note": "kept",
    }
    spec = hpa["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 100)
    assert [m["external"]["metric"]["name"] for m in spec["metrics"]] == [
        "s0-prometheus",
        "s1-prometheus",
    ]
    assert [m["external"]["target"] for m in spec["metrics"]] == [
        {"type": "AverageValue", "averageValue": "2500m"},
        {"type": "Value", "value": "7"},
    ]
    assert "behavior" not in spec


def test_cpu_memory_become_resource_metrics_sorted_after_external(specs_of: Any) -> None:
    so = _so(
        [
            {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}},
            _cron("4"),
            {"type": "memory", "metricType": "AverageValue", "metadata": {"value": "512Mi"}},
        ],
        minReplicaCount=1,
    )
    metrics = hpa_manifest(so, specs_of(so))["spec"]["metrics"]
    assert [m["type"] for m in metrics] == ["External", "Resource", "Resource"]
    assert metrics[1]["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 60},
    }
    assert metrics[2]["resource"]["name"] == "memory"
    assert metrics[2]["resource"]["target"]["type"] == "AverageValue"


def test_scaling_modifiers_replace_external_metrics_with_the_composite(specs_of: Any) -> None:
    a, b = {**_prometheus(), "name": "a"}, {**_prometheus(query="sum(r)"), "name": "b"}
    so = _so(
        [a, b, {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}],
        minReplicaCount=1,
        advanced={"scalingModifiers": {"formula": "a + b", "target": "5", "metricType": "Value"}},
    )
    metrics = hpa_manifest(so, specs_of(so))["spec"]["metrics"]
    assert [m["type"] for m in metrics] == ["External", "Resource"]
    assert metrics[0]["external"] == {
        "metric": {
            "name": "composite-metric",
            "selector": {"matchLabels": {"scaledobject.keda.sh/name": "orders"}},
        },
        "target": {"type": "Value", "value": "5"},
    }


def test_behavior_is_copied_and_paused_directions_disabled(specs_of: Any) -> None:
    behavior = {
        "scaleDown": {
            "stabilizationWindowSeconds": 60,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}],
        }
    }
    so = _so(
        [_cron()],
        metadata={"annotations": {"autoscaling.keda.sh/paused-scale-out": "true"}},
        advanced={"horizontalPodAutoscalerConfig": {"behavior": behavior}},
    )
    spec = hpa_manifest(so, specs_of(so))["spec"]
    assert spec["behavior"]["scaleDown"] == behavior["scaleDown"]
    assert spec["behavior"]["scaleUp"] == {"selectPolicy": "Disabled"}


def test_two_triggers_exporting_one_metric_name_are_refused(specs_of: Any) -> None:
    so = _so([_cron(), _cron()])
    specs = specs_of(so)
    with pytest.raises(HpaSpecError, match="used by two triggers"):
        hpa_manifest(so, [specs[0], specs[0]])


def test_targets_match_group_kind_and_name_whatever_the_version() -> None:
    ref = ScaleRef("apps/v1", "Deployment", "shop", "orders-worker")
    hpa = {"spec": {"scaleTargetRef": {"apiVersion": "apps/v1beta2", "kind": "Deployment"}}}
    hpa["spec"]["scaleTargetRef"]["name"] = "orders-worker"
    assert targets(hpa, ref)
    hpa["spec"]["scaleTargetRef"]["kind"] = "StatefulSet"
    assert not targets(hpa, ref)


@pytest.mark.parametrize(
    ("scaling_active", "expected"),
    [
        (None, ("Unknown", "HPAMetricsUnavailable")),
        ({"status": "True", "reason": "ValidMetricFound"}, ("True", "HPAActive")),
        ({"status": "False", "reason": "ScalingDisabled"}, ("True", "ScalingDisabled")),
        (
            {"status": "False", "reason": "FailedGetExternalMetric"},
            ("False", "FailedGetExternalMetric"),
        ),
    ],
)
def test_hpa_active_mirrors_scaling_active(
    scaling_active: dict[str, str] | None, expected: tuple[str, str]
) -> None:
    conditions = [] if scaling_active is None else [{"type": "ScalingActive", **scaling_active}]
    status, reason, _message = hpa_active_condition({"status": {"conditions": conditions}})
    assert (status, reason) == expected


def test_finish_status_sets_and_removes_hpa_name_and_condition() -> None:
    status = {"conditions": [{"type": "Ready", "status": "True"}], "hpaName": "stale"}
    outcome = HpaModeOutcome("keda-hpa-orders", ("True", "HPAActive", "ok"), "HPA up to date")
    done = finish_status(status, outcome, NOW, 3)
    assert done["hpaName"] == "keda-hpa-orders"
    assert [c["type"] for c in done["conditions"]] == ["Ready", "HPAActive"]
    assert done["conditions"][1]["observedGeneration"] == 3
    back = finish_status(done, None, NOW, 4)
    assert "hpaName" not in back
    assert [c["type"] for c in back["conditions"]] == ["Ready"]
