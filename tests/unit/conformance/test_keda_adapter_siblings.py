"""Derived siblings of keda.json vectors: fields the public half never varies but upstream's
tests do, run through the same adapters (each case cites the upstream rule it pins)."""

from __future__ import annotations

import pytest

from podscaler.engine.keda import need_to_be_paused
from tests.conformance import adapt_keda_scalers, adapt_keda_scaling

REPLICAS = {"autoscaling.keda.sh/paused-replicas": "5"}


def test_paused_replicas_pause_only_once_applied() -> None:
    """KEDA's NeedToBePausedByAnnotation: with paused-replicas present the answer is
    ``status.pausedReplicaCount != nil`` — the loop must first pin the count before it stops
    (TestNeedToBePausedByAnnotation, "with value but no status set" -> false)."""
    assert need_to_be_paused(REPLICAS) is True
    assert need_to_be_paused(REPLICAS, paused_replicas_applied=True) is True
    assert need_to_be_paused(REPLICAS, paused_replicas_applied=False) is False
    both = {**REPLICAS, "autoscaling.keda.sh/paused": "true"}
    assert need_to_be_paused(both, paused_replicas_applied=False) is False
    plain = {"autoscaling.keda.sh/paused": "true"}
    assert need_to_be_paused(plain, paused_replicas_applied=False) is True


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        ({"status": {"pausedReplicaCount": None}}, False),
        ({"status": {"pausedReplicaCount": 5}}, True),
        ({"statusPausedReplicaCount": None}, False),
        ({"pausedReplicaCount": 5}, True),
        ({}, True),
    ],
)
def test_pause_adapter_reads_the_status(extra: dict[str, object], want: bool) -> None:
    adapt_keda_scaling.scaledobject_pause(
        {
            "id": "derived-need-pause",
            "category": "scaledobject.pause",
            "input": {"annotations": REPLICAS, **extra},
            "expected": {"needToBePaused": want},
        }
    )


# Held-out expectation keys (../shared/vectors/README.md): the adapters assert them, and an
# expectation they get wrong fails.


def _request_vector(**expected: object) -> dict[str, object]:
    return {
        "id": "derived-prometheus-request",
        "category": "prometheus.request",
        "input": {
            "query": "sum(rate(http_requests_total[2m]))",
            "namespace": "team-a",
            "queryParameters": {"dedup": "true"},
            "serverAddressPath": "/prometheus",
        },
        "expected": expected,
    }


def test_prometheus_request_method_path_and_query_string() -> None:
    """KEDA's ExecutePromQuery: GET {serverAddress}/api/v1/query?query=…&time=<RFC 3339>,
    then namespace, then queryParameters."""
    query = {
        "query": "sum(rate(http_requests_total[2m]))",
        "time": "<now UTC RFC3339>",
        "namespace": "team-a",
        "dedup": "true",
    }
    adapt_keda_scalers.prometheus_request(
        _request_vector(method="GET", path="/prometheus/api/v1/query", queryString=query)
    )
    as_text = "query=sum%28rate%28http_requests_total%5B2m%5D%29%29&time=<now UTC RFC3339>"
    adapt_keda_scalers.prometheus_request(
        _request_vector(queryString=as_text + "&namespace=team-a&dedup=true")
    )


@pytest.mark.parametrize(
    "expected",
    [
        {"method": "POST"},
        {"path": "/api/v1/query"},
        {"queryString": {"query": "sum(rate(http_requests_total[2m]))", "time": "x"}},
        {"queryString": {"query": "sum(rate(http_requests_total[2m]))"}},
        {"requestBody": ""},
    ],
)
def test_prometheus_request_adapter_fails_on_a_wrong_or_unknown_expectation(
    expected: dict[str, object],
) -> None:
    with pytest.raises(AssertionError):
        adapt_keda_scalers.prometheus_request(_request_vector(**expected))


def _decision_vector(annotations: dict[str, str], **expected: object) -> dict[str, object]:
    return {
        "id": "derived-scale-decision",
        "category": "executor.scale_decision",
        "input": {
            "annotations": annotations,
            "isActive": False,
            "currentReplicas": 3,
            "minReplicaCount": 1,
        },
        "expected": expected,
    }


def test_scale_decision_active_condition_and_scale_down_select_policy() -> None:
    """KEDA: paused-scale-in writes selectPolicy Disabled into the HPA's scaleDown; an
    inactive object with min 1 keeps its replicas and Active=False/ScalerNotActive."""
    held = {"autoscaling.keda.sh/paused-scale-in": "true"}
    adapt_keda_scaling.executor_scale_decision(
        _decision_vector(
            held,
            activeCondition=False,
            activeConditionReason="ScalerNotActive",
            hpaScaleDownSelectPolicy="Disabled",
        )
    )
    adapt_keda_scaling.executor_scale_decision(_decision_vector({}, hpaScaleDownSelectPolicy=None))
    with pytest.raises(AssertionError):
        adapt_keda_scaling.executor_scale_decision(
            _decision_vector({}, hpaScaleDownSelectPolicy="Disabled")
        )
    with pytest.raises(AssertionError):
        adapt_keda_scaling.executor_scale_decision(
            _decision_vector(held, activeConditionReason="ScalerActive")
        )
