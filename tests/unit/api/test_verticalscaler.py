"""The VerticalScaler and its checkpoint: upstream VPA manifests port by changing apiVersion and
kind, every rule of upstream's admission check gives a clear error with its field path, and no
input makes validation raise."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.manifests import validate_documents
from podscaler.api.verticalcheckpoint import VerticalScalerCheckpoint
from podscaler.api.verticalscaler import (
    RecommendedContainerResources,
    VerticalScaler,
    VerticalScalerStatus,
    vertical_scaler_problems,
)

UPSTREAM_HAMSTER = """\
apiVersion: "autoscaling.k8s.io/v1"
kind: VerticalPodAutoscaler
metadata:
  name: hamster-vpa
spec:
  targetRef:
    apiVersion: "apps/v1"
    kind: Deployment
    name: hamster
  updatePolicy:
    updateMode: "Auto"
    evictionRequirements:
      - resources: ["cpu"]
        changeRequirement: TargetHigherThanRequests
  resourcePolicy:
    containerPolicies:
      - containerName: '*'
        minAllowed:
          cpu: 100m
          memory: 50Mi
        maxAllowed:
          cpu: 1
          memory: 500Mi
        controlledResources: ["cpu", "memory"]
        controlledValues: RequestsOnly
"""


def _ported(text: str) -> str:
    return text.replace('"autoscaling.k8s.io/v1"', "autoscaling.podscaler.io/v1alpha1").replace(
        "kind: VerticalPodAutoscaler", "kind: VerticalScaler"
    )


def _hamster(**spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load(_ported(UPSTREAM_HAMSTER))
    obj["spec"].update(spec)
    return obj


def test_an_upstream_vpa_validates_with_a_note_on_how_to_port_it() -> None:
    findings = validate_documents(UPSTREAM_HAMSTER, "hamster.yaml")
    assert [(f.severity, f.path, f.line) for f in findings] == [("warning", "apiVersion", 1)]
    assert "changing apiVersion to autoscaling.podscaler.io/v1alpha1" in findings[0].message
    assert "kind to VerticalScaler" in findings[0].message
    assert findings[0].kind == "VerticalScaler"


def test_the_ported_manifest_is_clean_and_means_the_same() -> None:
    assert validate_documents(_ported(UPSTREAM_HAMSTER), "hamster.yaml") == []
    scaler = VerticalScaler.model_validate(yaml.safe_load(_ported(UPSTREAM_HAMSTER)))
    assert scaler.spec.effective_update_mode == "Auto"
    policy = scaler.spec.resource_policy
    assert policy is not None
    assert policy.container_policies is not None
    (star,) = policy.container_policies
    assert star.min_allowed is not None
    assert star.min_allowed["memory"].int_value() == 50 * 1024 * 1024
    assert scaler.spec.is_for_recommender()


def test_the_upstream_in_place_example_validates_once_ported() -> None:
    """features.md's ``updateMode: "InPlace"`` (VPA 1.7 alpha) is a mode of its own here."""
    upstream = UPSTREAM_HAMSTER.replace('updateMode: "Auto"', 'updateMode: "InPlace"')
    assert 'updateMode: "InPlace"' in upstream
    findings = validate_documents(upstream, "hamster.yaml")
    assert [(f.severity, f.path) for f in findings] == [("warning", "apiVersion")]
    assert validate_documents(_ported(upstream), "hamster.yaml") == []
    scaler = VerticalScaler.model_validate(yaml.safe_load(_ported(upstream)))
    assert scaler.spec.effective_update_mode == "InPlace"


def test_min_allowed_above_max_allowed_is_an_error_at_its_line() -> None:
    text = _ported(UPSTREAM_HAMSTER).replace("cpu: 1\n", "cpu: 50m\n")
    (finding,) = validate_documents(text, "hamster.yaml")
    assert finding.severity == "error"
    assert finding.path == "spec.resourcePolicy.containerPolicies[0].maxAllowed.cpu"
    assert "max resource for cpu is lower than min" in finding.message
    assert finding.line == 22


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ({"updatePolicy": {"minReplicas": 2}}, "spec.updatePolicy.updateMode", "is required"),
        (
            {"updatePolicy": {"updateMode": "Off", "minReplicas": 0}},
            "spec.updatePolicy.minReplicas",
            "has to be positive",
        ),
        (
            {"updatePolicy": {"updateMode": "Sometimes"}},
            "spec.updatePolicy.updateMode",
            "must be one of",
        ),
        ({"recommenders": [{"name": "a"}, {"name": "b"}]}, "spec.recommenders", "at most one"),
        ({"startupBoost": {"cpu": {"type": "Factor"}}}, "spec.startupBoost", "not supported"),
        (
            {"resourcePolicy": {"containerPolicies": [{"mode": "Auto"}]}},
            "spec.resourcePolicy.containerPolicies[0].containerName",
            "is required",
        ),
        (
            {
                "resourcePolicy": {
                    "containerPolicies": [
                        {
                            "containerName": "app",
                            "mode": "Off",
                            "controlledValues": "RequestsAndLimits",
                        }
                    ]
                }
            },
            "spec.resourcePolicy.containerPolicies[0].controlledValues",
            "shouldn't be specified",
        ),
        (
            {
                "resourcePolicy": {
                    "containerPolicies": [{"containerName": "app", "minAllowed": {"cpu": "0.5m"}}]
                }
            },
            "spec.resourcePolicy.containerPolicies[0].minAllowed.cpu",
            "whole number of milli CPUs",
        ),
        (
            {
                "resourcePolicy": {
                    "containerPolicies": [{"containerName": "app", "oomBumpUpRatio": "0.5"}]
                }
            },
            "spec.resourcePolicy.containerPolicies[0].oomBumpUpRatio",
            "greater than or equal to 1.0",
        ),
        (
            {
                "resourcePolicy": {
                    "containerPolicies": [{"containerName": "app", "targetCPUPercentile": "0.8"}]
                }
            },
            "spec.resourcePolicy.containerPolicies[0].targetCPUPercentile",
            "not supported",
        ),
        (
            {"resourcePolicy": {"containerPolicies": [{"containerName": "app", "cpu": "1"}]}},
            "spec.resourcePolicy.containerPolicies[0].cpu",
            "unknown field",
        ),
        ({"targetRef": {"kind": "Deployment"}}, "spec.targetRef.name", "missing"),
    ],
)
def test_upstream_admission_rules(spec: dict[str, Any], path: str, message: str) -> None:
    _, problems = vertical_scaler_problems(_hamster(**spec))
    assert any(p.path == path and message in p.message for p in problems), problems


def test_warnings_for_what_is_allowed_but_not_meant() -> None:
    text = yaml.safe_dump(
        _hamster(
            recommenders=[{"name": "performance"}],
            resourcePolicy={
                "containerPolicies": [
                    {"containerName": "app", "maxAllowed": {"ephemeral-storage": "1Gi"}},
                    {"containerName": "app"},
                ]
            },
        )
    )
    findings = validate_documents(text, "x.yaml")
    assert {f.severity for f in findings} == {"warning"}
    messages = " | ".join(f.message for f in findings)
    assert "only cpu and memory are recommended" in messages
    assert "only the first one applies" in messages
    assert "left to that recommender" in messages


def test_a_keda_api_version_is_not_a_vertical_scaler() -> None:
    text = _ported(UPSTREAM_HAMSTER).replace(
        "autoscaling.podscaler.io/v1alpha1", "keda.sh/v1alpha1"
    )
    errors = [f for f in validate_documents(text, "x.yaml") if f.severity == "error"]
    assert [f.path for f in errors] == ["apiVersion"]


def test_status_and_checkpoint_shapes() -> None:
    status = VerticalScalerStatus.model_validate(
        {
            "recommendation": {
                "containerRecommendations": [
                    {
                        "containerName": "hamster",
                        "target": {"cpu": "587m", "memory": "262144k"},
                        "lowerBound": {"cpu": "585m", "memory": "262144k"},
                        "upperBound": {"cpu": "1174m", "memory": "496479408"},
                        "uncappedTarget": {"cpu": "587m", "memory": "262144k"},
                    }
                ]
            },
            "conditions": [{"type": "RecommendationProvided", "status": "True"}],
        }
    )
    recommendation = status.recommendation
    assert recommendation is not None
    assert recommendation.container_recommendations is not None
    first: RecommendedContainerResources = recommendation.container_recommendations[0]
    assert first.target["cpu"].milli_value() == 587
    assert status.to_dict()["recommendation"]["containerRecommendations"][0]["target"] == {
        "cpu": "587m",
        "memory": "262144k",
    }
    checkpoint = VerticalScalerCheckpoint.model_validate(
        {
            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
            "kind": "VerticalScalerCheckpoint",
            "metadata": {"name": "hamster-vpa-hamster"},
            "spec": {"vpaObjectName": "hamster-vpa", "containerName": "hamster"},
            "status": {
                "version": "v3",
                "cpuHistogram": {
                    "referenceTimestamp": "2026-03-02T00:00:00Z",
                    "bucketWeights": {"25": 10000},
                    "totalWeight": 12.5,
                },
                "totalSamplesCount": 1440,
            },
        }
    )
    assert checkpoint.status is not None
    assert checkpoint.status.to_dict()["cpuHistogram"]["bucketWeights"] == {"25": 10000}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
spec_keys = st.sampled_from(
    ["targetRef", "updatePolicy", "resourcePolicy", "recommenders", "startupBoost", "bogus"]
)


@settings(max_examples=300, deadline=None)
@given(
    spec=st.dictionaries(spec_keys, json_values, max_size=5),
    policy=st.dictionaries(
        st.sampled_from(
            [
                "containerName",
                "mode",
                "minAllowed",
                "maxAllowed",
                "controlledValues",
                "oomBumpUpRatio",
                "targetCPUPercentile",
            ]
        ),
        json_values,
        max_size=5,
    ),
)
def test_validation_never_raises(spec: dict[str, Any], policy: dict[str, Any]) -> None:
    spec.setdefault("resourcePolicy", {"containerPolicies": [policy]})
    obj = {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler", "spec": spec}
    vertical_scaler_problems(obj)
    validate_documents(yaml.safe_dump(obj), "fuzz.yaml")
