"""ScaledObject (and friends) validation: KEDA's rules, with errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from podscaler.api.formulas import FormulaError, check_formula, formula_variables
from podscaler.api.meta import PAUSED, ObjectMeta
from podscaler.api.scaledobject import ScaledObjectSpec
from podscaler.api.validation import (
    ObjectValidationError,
    check_cpu_memory_requests,
    name_warnings,
    scaled_object_warnings,
    trigger_authentication_problems,
    validate_cluster_trigger_authentication,
    validate_scaled_job,
    validate_scaled_object,
    validate_trigger_authentication,
)


def scaled_object(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scaleTargetRef": {"name": "web"},
        "triggers": [{"type": "cron", "metadata": {"start": "0 * * * *"}}],
    }
    base.update(spec)
    return {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": base,
    }


def problems_of(obj: dict[str, Any]) -> list[str]:
    with pytest.raises(ObjectValidationError) as caught:
        validate_scaled_object(obj)
    return [str(problem) for problem in caught.value.problems]


def test_a_minimal_object_is_valid_and_gets_keda_defaults() -> None:
    so = validate_scaled_object(scaled_object())
    resolved = so.resolved()
    assert resolved.polling_interval_seconds == 30
    assert resolved.cooldown_period_seconds == 300
    assert resolved.initial_cooldown_period_seconds == 0
    assert resolved.min_replica_count == 0
    assert resolved.max_replica_count == 100
    assert so.spec.mode == "direct"
    assert so.spec.scale_target_ref.effective_kind == "Deployment"
    assert so.hpa_name() == "keda-hpa-web"


def test_keda_api_version_is_accepted_and_unknown_ones_are_not() -> None:
    obj = scaled_object()
    obj["apiVersion"] = "keda.sh/v1alpha1"
    validate_scaled_object(obj)
    obj["apiVersion"] = "example.com/v1"
    assert problems_of(obj)[0].startswith("apiVersion: must be autoscaling.podscaler.io/v1alpha1")


def test_min_above_max_names_the_field() -> None:
    assert problems_of(scaled_object(minReplicaCount=5, maxReplicaCount=2)) == [
        "spec.minReplicaCount: MinReplicaCount=5 must be less than MaxReplicaCount=2"
    ]


def test_idle_must_be_below_min_where_unset_min_counts_as_zero() -> None:
    assert problems_of(scaled_object(idleReplicaCount=0)) == [
        "spec.idleReplicaCount: IdleReplicaCount=0 must be less than MinReplicaCount=0"
    ]
    validate_scaled_object(scaled_object(idleReplicaCount=0, minReplicaCount=0))
    validate_scaled_object(scaled_object(minReplicaCount=3, maxReplicaCount=3))


def test_scaling_modifiers_need_a_target_and_known_trigger_names() -> None:
    modifiers = {"scalingModifiers": {"formula": "queue + missing"}}
    triggers = [{"type": "kafka", "name": "queue", "metadata": {}}]
    found = problems_of(scaled_object(advanced=modifiers, triggers=triggers))
    assert "spec.advanced.scalingModifiers.target: required when formula is set" in found[0]
    assert "unknown name missing" in found[1]


def test_scaling_modifiers_target_must_be_a_positive_number() -> None:
    advanced = {"scalingModifiers": {"formula": "q", "target": "-1"}}
    triggers = [{"type": "kafka", "name": "q", "metadata": {}}]
    assert problems_of(scaled_object(advanced=advanced, triggers=triggers)) == [
        "spec.advanced.scalingModifiers.target: must be a number greater than 0, got '-1'"
    ]


def test_fallback_needs_a_trigger_it_can_stand_in_for() -> None:
    found = problems_of(
        scaled_object(
            minReplicaCount=1,
            fallback={"failureThreshold": 3, "replicas": 2},
            triggers=[{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}],
        )
    )
    assert found == [
        "spec.fallback: at least one trigger that is not cpu or memory must use the AverageValue "
        "or Value metric type for the fallback to be enabled"
    ]


def test_fallback_with_a_value_composite_metric_is_valid() -> None:
    """Issue 18: current KEDA (CheckFallbackValid) no longer requires the composite metric to
    be AverageValue; such manifests must port unchanged."""
    advanced = {
        "scalingModifiers": {"formula": "a + b", "target": "10", "metricType": "Value"},
    }
    triggers = [
        {"type": "kafka", "name": "a", "metadata": {}},
        {"type": "prometheus", "name": "b", "metadata": {}},
    ]
    validate_scaled_object(
        scaled_object(
            advanced=advanced, triggers=triggers, fallback={"failureThreshold": 3, "replicas": 4}
        )
    )


def test_fallback_behavior_scaling_modifiers_needs_a_formula() -> None:
    found = problems_of(
        scaled_object(
            fallback={"failureThreshold": 3, "replicas": 2, "behavior": "scalingModifiers"}
        )
    )
    assert found == [
        "spec.fallback.behavior: scalingModifiers fallback behavior requires "
        "scalingModifiers.formula to be defined"
    ]


def test_trigger_rules_name_the_trigger() -> None:
    triggers = [
        {"type": "kafka", "name": "a", "metadata": {}},
        {"type": "cron", "name": "a", "useCachedMetrics": True, "metadata": {}},
    ]
    assert problems_of(scaled_object(triggers=triggers)) == [
        'spec.triggers[1].useCachedMetrics: property "useCachedMetrics" is not supported for '
        '"cron" scaler',
        'spec.triggers[1].name: triggerName "a" is defined multiple times in the '
        "ScaledObject/ScaledJob, but it must be unique",
    ]
    assert problems_of(scaled_object(triggers=[])) == [
        "spec.triggers: no triggers defined in the ScaledObject/ScaledJob"
    ]


def test_metric_types_fit_the_trigger() -> None:
    triggers = [
        {"type": "kafka", "metricType": "Utilization", "metadata": {}},
        {"type": "memory", "metricType": "Value", "metadata": {}},
    ]
    found = problems_of(scaled_object(minReplicaCount=1, triggers=triggers))
    assert found == [
        "spec.triggers[0].metricType: "
        "'Utilization' metric type is unsupported for external metrics",
        "spec.triggers[1].metricType: memory triggers take Utilization or AverageValue, not Value",
    ]


def test_cpu_only_cannot_scale_to_zero() -> None:
    cpu = [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}]
    assert "scale to zero doesn't work" in problems_of(scaled_object(triggers=cpu))[0]
    validate_scaled_object(scaled_object(triggers=cpu, minReplicaCount=1))


@pytest.mark.parametrize(
    ("target", "checked"),
    [
        ({"name": "web"}, True),
        ({"name": "db", "kind": "StatefulSet"}, True),
        ({"name": "db", "apiVersion": "apps/v1", "kind": "StatefulSet"}, True),
        ({"name": "r", "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout"}, False),
        ({"name": "c", "apiVersion": "example.com/v1", "kind": "Deployment"}, False),
    ],
)
def test_only_deployments_and_statefulsets_must_keep_a_replica_for_cpu(
    target: dict[str, str], checked: bool
) -> None:
    """KEDA's verifyCPUMemoryScalers returns early for any other kind (issue 18)."""
    cpu = [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}}]
    obj = scaled_object(triggers=cpu, scaleTargetRef=target)
    if checked:
        assert "scale to zero doesn't work" in problems_of(obj)[0]
    else:
        validate_scaled_object(obj)


def test_schema_errors_name_the_camel_case_path_and_say_what_is_wrong() -> None:
    obj = scaled_object(minReplicas=2, pollingInterval=0)
    obj["spec"]["triggers"][0]["metadata"]["desiredReplicas"] = 3
    assert sorted(problems_of(obj)) == [
        "spec.minReplicas: unknown field (not in the schema; check its spelling and indentation)",
        "spec.pollingInterval: must be >= 1, got 0",
        "spec.triggers[0].metadata.desiredReplicas: must be a string, got 3 (quote it in YAML)",
    ]


def test_stabilization_window_is_bounded_like_the_hpa_api() -> None:
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 3700}}
    advanced = {"horizontalPodAutoscalerConfig": {"behavior": behavior}}
    assert problems_of(scaled_object(advanced=advanced)) == [
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds:"
        " must be <= 3600, got 3700"
    ]


def test_names_are_label_values_and_mode_hpa_checks_the_generated_hpa_name() -> None:
    obj = scaled_object()
    obj["metadata"]["name"] = "a" * 64
    assert problems_of(obj)[0].startswith("metadata.name: scaledobject name")
    obj["metadata"]["name"] = "a" * 60
    so = validate_scaled_object(obj)  # direct mode creates no HPA: allowed, with a warning
    [warning] = name_warnings(so)
    assert warning.path == "metadata.name"
    assert "KEDA and mode hpa refuse it" in warning.message
    obj["spec"]["advanced"] = {"mode": "hpa"}
    assert problems_of(obj)[0].startswith("spec.advanced.horizontalPodAutoscalerConfig.name")
    obj["spec"]["advanced"] = {"horizontalPodAutoscalerConfig": {"name": "short"}}
    assert name_warnings(validate_scaled_object(obj)) == []


def test_cpu_memory_triggers_need_requests_on_the_target() -> None:
    spec = ScaledObjectSpec.model_validate(
        {
            "scaleTargetRef": {"name": "web"},
            "minReplicaCount": 1,
            "triggers": [{"type": "memory", "metadata": {"value": "60"}}],
        }
    )
    no_memory = {"containers": [{"name": "app", "resources": {"requests": {"cpu": "100m"}}}]}
    assert [str(p) for p in check_cpu_memory_requests(spec, no_memory)] == [
        "spec.triggers[0]: the scaledobject has a memory trigger but the container app doesn't "
        "have the memory request defined"
    ]
    assert check_cpu_memory_requests(spec, no_memory, limit_range_defaults={"memory"}) == []
    pod_level = {**no_memory, "resources": {"requests": {"memory": "1Gi"}}}
    assert check_cpu_memory_requests(spec, pod_level) == []
    assert check_cpu_memory_requests(spec, None)[0].path == "spec.scaleTargetRef"


def test_warnings_for_settings_that_do_nothing() -> None:
    spec = validate_scaled_object(
        scaled_object(minReplicaCount=1, pollingInterval=10, cooldownPeriod=10)
    ).spec
    assert [w.path for w in scaled_object_warnings(spec)] == ["spec.cooldownPeriod"]
    hpa = validate_scaled_object(
        scaled_object(minReplicaCount=1, pollingInterval=10, advanced={"mode": "hpa"})
    ).spec
    assert [w.path for w in scaled_object_warnings(hpa)] == ["spec.pollingInterval"]


def test_annotations_are_read_under_both_names_podscalers_first() -> None:
    meta = ObjectMeta(annotations={"autoscaling.keda.sh/paused": "true"})
    assert meta.annotation(PAUSED) == "true"
    both = ObjectMeta(
        annotations={
            "autoscaling.keda.sh/paused": "true",
            "autoscaling.podscaler.io/paused": "false",
        }
    )
    assert both.annotation(PAUSED) == "false"


def test_scaled_job_and_trigger_authentications() -> None:
    job = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledJob",
        "metadata": {"name": "worker"},
        "spec": {
            "jobTargetRef": {"template": {"spec": {"containers": []}}, "backoffLimit": 2},
            "triggers": [{"type": "aws-sqs-queue", "metadata": {"queueURL": "q"}}],
            "minReplicaCount": 3,
            "maxReplicaCount": 2,
        },
    }
    with pytest.raises(ObjectValidationError, match="MinReplicaCount=3 must be less than"):
        validate_scaled_job(job)
    job["spec"]["maxReplicaCount"] = 5
    assert validate_scaled_job(job).spec.job_target_ref.backoff_limit == 2
    auth = {
        "kind": "TriggerAuthentication",
        "metadata": {"name": "creds"},
        "spec": {"secretTargetRef": [{"parameter": "password", "name": "s", "key": "k"}]},
    }
    assert validate_trigger_authentication(auth).spec.parameter_names() == ["password"]
    auth["kind"] = "ClusterTriggerAuthentication"
    auth["spec"]["env"] = [{"parameter": "password", "name": "PASSWORD"}]
    with pytest.raises(ObjectValidationError, match="password come from more than one source"):
        validate_cluster_trigger_authentication(auth)


@pytest.mark.parametrize(
    "formula",
    [
        "a + b",
        "float(a < 5 ? a + b : 5)",
        "count([a, b], {# > 1}) > 1 ? 5 : 0",
        "a ?? b ?? 8",
        "max(a, b) / 2",
    ],
)
def test_well_formed_formulas_pass(formula: str) -> None:
    check_formula(formula, ["a", "b"])


@pytest.mark.parametrize(
    ("formula", "why"),
    [
        ("", "empty"),
        ("a +", "unexpected end of formula"),
        ("a b", "unexpected 'b' \\(at position 2\\)"),
        ("(a + b", "expected '\\)'"),
        ("a + b)", "unexpected '\\)'"),
        ("a + c", "unknown name c; triggers usable in a formula: a, b \\(at position 4\\)"),
        ("a @ b", "unexpected character '@'"),
        # expr-lang's let-bindings are not evaluated by the engine, so admission refuses them.
        ("let x = a * 2; x + b", "unexpected character '='"),
    ],
)
def test_malformed_formulas_say_why(formula: str, why: str) -> None:
    with pytest.raises(FormulaError, match=why):
        check_formula(formula, ["a", "b"])


def test_formula_variables_are_the_names_read_in_order_of_first_use() -> None:
    assert formula_variables("float(b) > 1 ? max(a, b) : count([c, a], {# > 1})") == [
        "b",
        "a",
        "c",
    ]


def test_sources_podscaler_cannot_read_are_errors_offline_as_in_the_operator() -> None:
    """The operator refuses a TriggerAuthentication with these sources when it builds the
    trigger; validate says so first (issue 18)."""
    obj = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": "vault"},
        "spec": {
            "hashiCorpVault": {
                "address": "https://vault:8200",
                "authentication": "token",
                "secrets": [{"parameter": "password", "key": "pw", "path": "kv/app"}],
            }
        },
    }
    _, problems = trigger_authentication_problems(obj)
    assert [p.path for p in problems] == ["spec.hashiCorpVault"]
    assert "not supported by podscaler yet" in problems[0].message
