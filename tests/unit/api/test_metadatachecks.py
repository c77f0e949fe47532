"""``podscaler validate`` refuses the metadata kube-apiserver refuses, and says when a value is
a template placeholder nobody filled in (the commonest cause in manifests found in the wild)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.manifests import validate_documents
from podscaler.api.metadatachecks import metadata_problems
from podscaler.sim.apiserver.names import name_problems, namespace_problems
from podscaler.sim.apiserver.resources import ResourceType

TEMPLATE = """\
apiVersion: autoscaling.podscaler.io/v1alpha1
kind: ScaledObject
metadata:
{metadata}
spec:
  scaleTargetRef:
    name: {target}
  triggers:
  - type: cron
    metadata: {{timezone: UTC, start: 0 8 * * *, end: 0 18 * * *, desiredReplicas: "2"}}
"""


def _findings(metadata: str, target: str = "web") -> list[tuple[str, str, str]]:
    text = TEMPLATE.format(metadata=metadata, target=target)
    return [(f.severity, f.path, f.message) for f in validate_documents(text, "m.yaml")]


def test_empty_maps_written_as_nothing_are_empty() -> None:
    # As exported from a live cluster: "annotations:" with nothing under it is a YAML null.
    assert _findings("  name: web\n  annotations:\n  labels:\n  finalizers:\n") == []


def test_an_unrendered_name_is_refused_as_the_api_server_refuses_it() -> None:
    [(severity, path, message)] = _findings("  name: web-{{ .Values.id }}")
    assert (severity, path) == ("error", "metadata.name")
    assert message.startswith('Invalid value: "web-{{ .Values.id }}": a lowercase RFC 1123')
    assert "'{{ .Values.id }}' looks like a template placeholder" in message


def test_namespace_labels_and_annotation_keys_are_checked() -> None:
    found = _findings(
        "  name: web\n  namespace: ${NS}\n  labels: {team: <team>, ok: fine}\n"
        "  annotations: {'bad key!': x, good/key: y}"
    )
    assert [(s, p) for s, p, _ in found] == [
        ("error", "metadata.namespace"),
        ("error", "metadata.labels['team']"),
        ("error", "metadata.annotations['bad key!']"),
    ]
    assert "'<team>' looks like a template placeholder" in found[1][2]


def test_a_generate_name_prefix_may_end_in_a_dash_and_a_cluster_scoped_kind_has_no_namespace() -> (
    None
):
    assert _findings("  generateName: web-") == []
    text = "apiVersion: autoscaling.podscaler.io/v1alpha1\nkind: ClusterTriggerAuthentication\n"
    text += "metadata: {name: shared, namespace: '${NS}'}\nspec: {env: []}\n"
    assert validate_documents(text, "cta.yaml") == []


def test_placeholders_elsewhere_in_the_spec_are_warnings_once() -> None:
    found = _findings("  name: web", target='"${APP}"')
    assert found == [
        (
            "warning",
            "spec.scaleTargetRef.name",
            "'${APP}' looks like a template placeholder that was never filled in",
        )
    ]
    # A value already refused for its syntax gets no second finding.
    text = TEMPLATE.format(metadata="  name: web", target="web").replace(
        "  triggers:", '  maxReplicaCount: "${MAX}"\n  triggers:'
    )
    assert [(f.severity, f.path) for f in validate_documents(text, "m.yaml")] == [
        ("error", "spec.maxReplicaCount")
    ]


def test_environment_and_dashboard_variables_are_placeholders() -> None:
    text = TEMPLATE.format(metadata="  name: web", target="web").replace(
        'desiredReplicas: "2"}',
        'desiredReplicas: "2", a: "https://x.$REGION.example.com", b: "rate(x[$__interval])"}',
    )
    found = [f.path for f in validate_documents(text, "m.yaml") if "placeholder" in f.message]
    assert found == ["spec.triggers[0].metadata.a", "spec.triggers[0].metadata.b"]


def test_a_promql_comparison_is_not_a_placeholder() -> None:
    text = TEMPLATE.format(metadata="  name: web", target="web").replace(
        'desiredReplicas: "2"}', "desiredReplicas: \"2\", note: 'a < b and c > d'}"
    )
    assert not [f for f in validate_documents(text, "m.yaml") if "placeholder" in f.message]


_CUSTOM_RESOURCE = ResourceType(
    group="autoscaling.podscaler.io",
    version="v1alpha1",
    resource="scaledobjects",
    kind="ScaledObject",
    namespaced=True,
)
_names = st.text(alphabet="abcXYZ09-._{}$<> ", max_size=12) | st.from_regex(
    r"[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?", fullmatch=True
)


@settings(deadline=None, max_examples=300)
@given(name=_names, namespace=_names)
def test_validate_agrees_with_the_embedded_api_server_on_names(name: str, namespace: str) -> None:
    problems = metadata_problems({"name": name, "namespace": namespace})
    paths = {problem.path for problem in problems}
    refused_name = bool(name.strip()) and bool(name_problems(_CUSTOM_RESOURCE, name))
    assert ("metadata.name" in paths) == (refused_name or not name.strip())
    assert ("metadata.namespace" in paths) == bool(namespace and namespace_problems(namespace))


@settings(deadline=None, max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["name", "namespace", "labels", "annotations", "generateName"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=8)
        | st.dictionaries(st.text(max_size=6), st.none() | st.text(max_size=6), max_size=3),
    )
)
def test_any_metadata_gives_problems_never_an_exception(metadata: dict[str, object]) -> None:
    for problem in metadata_problems(metadata):
        assert problem.path.startswith("metadata")
