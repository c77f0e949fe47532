"""Derived siblings of hpa.json vectors: inputs the public half never varies, but the schema
defines (and upstream's harness produces), run through the same adapters.

Each case is computed by hand from the upstream code path named in its docstring.
"""

from __future__ import annotations

from typing import Any

from tests.conformance import adapt_hpa

TOL = {"scaleUp": 0.1, "scaleDown": 0.1}


def _pod(name: str, *, ready: str = "True", start: Any = "zero") -> dict[str, Any]:
    return {
        "name": name,
        "phase": "Running",
        "readyCondition": {"status": ready, "lastTransitionAgeSeconds": "zero"},
        "startAgeSeconds": start,
        "deleting": False,
        "containers": [
            {"name": "container1", "cpuRequestMilli": 500},
            {"name": "container2", "cpuRequestMilli": 500},
        ],
    }


def test_object_value_counts_ready_pods_from_ready_pod_count() -> None:
    """GetObjectMetricReplicas: ceil(ratio x readyPodCount). Upstream's harness defaults pods
    beyond ``podReadiness`` to Ready, so ``readyPodCount`` (4) is the number to use, not the
    length of a shorter ``podReadiness`` list."""
    adapt_hpa.object_value(
        {
            "id": "derived-object-value",
            "kind": "object_value",
            "input": {
                "currentReplicas": 4,
                "readyPodCount": 4,
                "podReadiness": ["True", "True"],
                "metricValueMilli": 40000,
                "targetValueMilli": 10000,
                "tolerance": TOL,
            },
            "expected": {"replicas": 16, "usageMilli": 40000},
        }
    )


def test_external_value_counts_ready_pods_from_ready_pod_count() -> None:
    adapt_hpa.external_value(
        {
            "id": "derived-external-value",
            "kind": "external_value",
            "input": {
                "currentReplicas": 3,
                "readyPodCount": 2,
                "podReadiness": ["False", "True"],
                "metricValuesMilli": [8000, 4000],
                "targetValueMilli": 4000,
                "tolerance": TOL,
            },
            "expected": {"replicas": 6, "usageMilli": 12000},
        }
    )


def test_pods_metric_average_value_with_cpu_resource_applies_cpu_readiness() -> None:
    """calcPlainMetricReplicas(resource=cpu) (Resource AverageValue): the still-warming unready
    pod is left out, then zero-filled on the scale-up: (50000+10000+0)/3 / 15000 x 3 -> 4."""
    adapt_hpa.pods_metric_average_value(
        {
            "id": "derived-raw-cpu",
            "kind": "pods_metric_average_value",
            "input": {
                "currentReplicas": 3,
                "resource": "cpu",
                "targetAverageValueMilli": 15000,
                "tolerance": TOL,
                "pods": [
                    _pod("test-pod-0", start=180),
                    _pod("test-pod-1", start=180),
                    _pod("test-pod-2", ready="False", start=0),
                ],
                "metrics": {
                    "test-pod-0": {"valueMilli": 50000},
                    "test-pod-1": {"valueMilli": 10000},
                    "test-pod-2": {"valueMilli": 30000},
                },
            },
            "expected": {"replicas": 4, "usageMilli": 30000},
        }
    )


def _reconcile(metrics: list[dict[str, Any]], levels: list[int]) -> dict[str, Any]:
    return {
        "minReplicas": 1,
        "maxReplicas": 10,
        "specReplicas": 3,
        "statusReplicas": 3,
        "metrics": metrics,
        "behavior": None,
        "pods": [_pod(f"test-pod-{i}") for i in range(len(levels))],
        "metricData": {
            "resourceMetrics": [
                {
                    "pod": f"test-pod-{i}",
                    "timestampAgeSeconds": 0,
                    "windowSeconds": 60,
                    "containers": {"container1": level // 2, "container2": level // 2},
                }
                for i, level in enumerate(levels)
            ]
        },
        "initialRecommendations": [],
        "failScaleUpdate": False,
    }


def test_reconcile_without_metrics_uses_the_default_cpu_metric() -> None:
    """spec.metrics empty: upstream's default Resource cpu Utilization 80 %. Usage 960m of
    1000m per pod is 96 % -> ratio 1.2 -> ceil(1.2 x 3) = 4."""
    adapt_hpa.controller_reconcile(
        {
            "id": "derived-default-metric",
            "kind": "controller_reconcile",
            "input": _reconcile([], [960, 960, 960]),
            "expected": {
                "desiredReplicas": 4,
                "scaleUpdated": True,
                "reportedCpuUtilization": 96,
            },
        }
    )


def test_reconcile_resource_metric_without_target_fails_the_metric() -> None:
    """A Resource metric with neither averageUtilization nor averageValue: computeStatusFor-
    ResourceMetric errors, so ScalingActive=False FailedGetResourceMetric and nothing moves
    (upstream's harness default metric has no target)."""
    adapt_hpa.controller_reconcile(
        {
            "id": "derived-no-target",
            "kind": "controller_reconcile",
            "input": _reconcile([{"type": "Resource", "resource": "cpu"}], [960, 960, 960]),
            "expected": {
                "desiredReplicas": 3,
                "scaleUpdated": False,
                "conditions": [
                    {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
                    {
                        "type": "ScalingActive",
                        "status": "False",
                        "reason": "FailedGetResourceMetric",
                    },
                ],
            },
        }
    )
