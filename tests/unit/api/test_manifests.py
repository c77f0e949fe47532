"""``podscaler validate``: multi-document YAML in, findings out, never an exception."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podscaler.api.manifests import Finding, validate_documents

GOOD = """\
apiVersion: autoscaling.podscaler.io/v1alpha1
kind: ScaledObject
metadata:
  name: web
spec:
  scaleTargetRef:
    name: web
  triggers:
  - type: cron
    metadata:
      timezone: UTC
      start: 0 8 * * *
      end: 0 18 * * *
      desiredReplicas: "3"
"""


def test_a_valid_object_has_no_findings() -> None:
    assert validate_documents(GOOD, "good.yaml") == []


def test_errors_carry_kind_name_path_and_line() -> None:
    text = GOOD.replace("  triggers:", "  minReplicas: 2\n  triggers:")
    [finding] = validate_documents(text, "bad.yaml")
    assert finding == Finding(
        source="bad.yaml",
        document_index=0,
        kind="ScaledObject",
        name="web",
        path="spec.minReplicas",
        message="unknown field (not in the schema; check its spelling and indentation)",
        severity="error",
        line=8,
    )
    assert str(finding).startswith("bad.yaml:8: error: ScaledObject/web spec.minReplicas:")


def test_other_kinds_are_skipped_and_documents_are_counted() -> None:
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n" + GOOD
    [skipped] = validate_documents(text, "all.yaml")
    assert skipped.severity == "info"
    assert skipped.message == "skipped: v1 Service is not a podscaler resource"
    assert skipped.document_index == 0


def test_keda_manifests_validate_with_a_warning_to_change_the_api_version() -> None:
    text = GOOD.replace("autoscaling.podscaler.io/v1alpha1", "keda.sh/v1alpha1")
    [warning] = validate_documents(text, "keda.yaml")
    assert warning.severity == "warning"
    assert warning.path == "apiVersion"
    assert "change apiVersion to autoscaling.podscaler.io/v1alpha1" in warning.message


def test_yaml_syntax_errors_report_the_line() -> None:
    text = GOOD + "---\nkind: [\n"
    [error] = validate_documents(text, "broken.yaml")
    assert error.severity == "error"
    assert error.document_index == 1
    assert error.message.startswith("YAML syntax error")
    assert error.line == 17


def test_unknown_kinds_of_our_group_are_errors_and_non_mappings_too() -> None:
    text = "apiVersion: autoscaling.podscaler.io/v1alpha1\nkind: ScaledThing\n---\n- a\n"
    findings = validate_documents(text, "x.yaml")
    assert [(f.document_index, f.severity, f.path) for f in findings] == [
        (0, "error", "kind"),
        (1, "error", ""),
    ]


def test_warnings_are_reported_as_warnings() -> None:
    text = GOOD.replace("  triggers:", "  minReplicaCount: 1\n  cooldownPeriod: 60\n  triggers:")
    [warning] = validate_documents(text, "w.yaml")
    assert (warning.severity, warning.path, warning.line) == ("warning", "spec.cooldownPeriod", 9)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text_gives_findings_never_an_exception(text: str) -> None:
    for finding in validate_documents(text, "fuzz.yaml"):
        assert isinstance(finding, Finding)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_spec_keys = st.sampled_from(
    [
        "scaleTargetRef",
        "triggers",
        "minReplicaCount",
        "maxReplicaCount",
        "idleReplicaCount",
        "fallback",
        "advanced",
        "pollingInterval",
        "cooldownPeriod",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(_spec_keys, _json, max_size=6),
    st.sampled_from(
        ["ScaledObject", "ScaledJob", "TriggerAuthentication", "ClusterTriggerAuthentication"]
    ),
)
def test_arbitrary_specs_give_findings_never_an_exception(
    spec: dict[str, object], kind: str
) -> None:
    document = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "fuzz"},
        "spec": spec,
    }
    for finding in validate_documents(yaml.safe_dump(document), "fuzz.yaml"):
        assert finding.severity in {"error", "warning", "info"}


def test_an_unquoted_off_says_yaml_read_it_as_a_boolean() -> None:
    # ``updateMode: Off`` (a Helm default rendered without quotes) is false to YAML 1.1, here
    # and in kubectl; the API server refuses it as a boolean, so must we, saying why.
    text = (
        "apiVersion: autoscaling.k8s.io/v1\nkind: VerticalPodAutoscaler\nmetadata: {name: v}\n"
        "spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: d}\n"
        "  updatePolicy:\n    updateMode: Off\n"
    )
    [error] = [f for f in validate_documents(text, "v.yaml") if f.severity == "error"]
    assert error.path == "spec.updatePolicy.updateMode"
    assert error.message.endswith(
        "got false (YAML reads an unquoted Off, On, Yes or No as a boolean: quote it)"
    )


def test_a_document_that_is_one_word_reads_as_a_symbolic_link() -> None:
    # A symbolic link checked out as a file holds the target's name: one YAML string.
    [error] = validate_documents("vertical-pod-autoscaler.yaml", "vpa.yaml")
    assert str(error).startswith(
        "vpa.yaml:1: error: document is the text 'vertical-pod-autoscaler.yaml', not a mapping"
    )
    [error] = validate_documents("- a\n- b\n", "list.yaml")
    assert error.message == "is a list, not a mapping (an object)"


def test_a_syntax_error_on_an_unrendered_placeholder_says_so() -> None:
    # Unquoted, ``{{X}}`` is a mapping inside a mapping (an unhashable key) and ``${X}`` in
    # JSON breaks the flow mapping: both are templates nobody rendered.
    text = GOOD.replace('desiredReplicas: "3"', "desiredReplicas: {{REPLICAS}}")
    [error] = validate_documents(text, "t.yaml")
    assert error.line == 14
    assert error.message.endswith(
        "('{{REPLICAS}}' looks like a template placeholder that was never filled in; render "
        "the template, or quote the value)"
    )
    [error] = validate_documents('{"spec": {"maxReplicaCount": ${MAX}}}', "t.json")
    assert "'${MAX}' looks like a template placeholder" in error.message
