"""Offline trigger checks (``podscaler validate``): the parsers' verdicts, without a cluster.

Properties over arbitrary metadata: every registered parser either accepts or raises
:class:`ScalerConfigError` (nothing else escapes), and the offline check reports an error
exactly when the operator's check would refuse the trigger.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.manifests import pod_identities_of, validate_documents
from scalers.contract import ScalerConfigError, ScaleTrigger
from scalers.offline import check_trigger_offline, trigger_checker
from scalers.registry import default_registry

REGISTRY = default_registry()

#: Parameter names the built-in parsers read, plus misspellings and env indirections.
KEYS = [
    "serverAddress", "query", "threshold", "activationThreshold", "queryParameters",
    "customHeaders", "ignoreNullValues", "unsafeSsl", "timeout", "authModes", "namespace",
    "start", "end", "timezone", "desiredReplicas", "value", "containerName",
    "queueURL", "queueLength", "awsRegion", "awsEndpoint", "identityOwner", "scaleOnInFlight",
    "bootstrapServers", "consumerGroup", "topic", "lagThreshold", "sasl", "tls",
    "offsetResetPolicy", "partitionLimitation", "allowIdleConsumers", "version",
    "historyWindow", "queryStep", "horizon", "minHistory",
    "queueLenght", "treshold", "serverAddressFromEnv", "queryFromEnv",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "1",
            "-1",
            "10",
            "1.5",
            "abc",
            "true",
            "false",
            "1e400",
            "30s",
            "-5s",
            "0 6 * * *",
            "*/5 * * * *",
            "0 25 * * *",
            "Asia/Seoul",
            "Mars/Olympus",
            "UTC",
            "http://prom:9090",
            "::not a url",
            "a=b,c=d",
            "a=b=c",
            "kafka:9092",
            "plaintext",
            "gssapi",
            "oauthbearer",
            "enable",
            "bearer",
            "oauth",
            "latest",
            "1,2,3",
            "PROM_URL",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
            "sum(up)",
        ]
    ),
    st.text(max_size=12),
)
METADATA = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8)
TYPES = st.sampled_from(REGISTRY.trigger_types)


def _trigger(trigger_type: str, metadata: dict[str, str], **fields: Any) -> ScaleTrigger:
    return ScaleTrigger.model_validate({"type": trigger_type, "metadata": metadata, **fields})


@settings(max_examples=300, deadline=None)
@given(trigger_type=TYPES, metadata=METADATA)
def test_parsers_accept_or_raise_a_config_error(
    trigger_type: str, metadata: dict[str, str]
) -> None:
    trigger = _trigger(trigger_type, metadata)
    try:
        config = REGISTRY.check(trigger)
    except ScalerConfigError as exc:
        message = str(exc)
    else:
        assert set(config.unexpected_parameters) <= set(metadata)
        return
    assert message


@settings(max_examples=300, deadline=None)
@given(trigger_type=TYPES, metadata=METADATA)
def test_offline_errors_are_exactly_the_operators(
    trigger_type: str, metadata: dict[str, str]
) -> None:
    metadata = {k: v for k, v in metadata.items() if not k.endswith("FromEnv")}
    trigger = _trigger(trigger_type, metadata)
    findings = check_trigger_offline(REGISTRY, trigger, trigger_index=0, path="spec.triggers[0]")
    errors = [f for f in findings if f.severity == "error"]
    try:
        REGISTRY.check(trigger)
    except ScalerConfigError as exc:
        expected = [str(exc)]
    else:
        expected = []
    assert [e.message for e in errors] == expected
    assert all(f.path.startswith("spec.triggers[0]") for f in findings)


def test_an_unknown_type_names_the_known_ones() -> None:
    [finding] = check_trigger_offline(
        REGISTRY, _trigger("rabbitmq", {"queueName": "q"}), trigger_index=2, path="p"
    )
    assert finding.severity == "error"
    assert finding.path == "p.type"
    assert "unknown trigger type 'rabbitmq'" in finding.message
    for known in ("cron", "kafka", "prometheus", "aws-sqs-queue"):
        assert known in finding.message


def test_an_unknown_type_with_an_authentication_ref_is_still_an_error() -> None:
    # The type is the trigger's own field: no TriggerAuthentication can supply it, so the
    # finding is the unknown type, not "comes from the TriggerAuthentication at run time".
    trigger = _trigger("rabbitmq", {"queueName": "q"}, authenticationRef={"name": "conn"})
    findings = check_trigger_offline(REGISTRY, trigger, trigger_index=0, path="p")
    errors = [f for f in findings if f.severity == "error"]
    assert [(f.path, f.message.split(";")[0]) for f in errors] == [
        ("p.type", "unknown trigger type 'rabbitmq'")
    ]


def test_metric_name_is_a_retired_key_not_a_misspelling() -> None:
    metadata = {"serverAddress": "http://p:9090", "query": "up", "threshold": "5"}
    trigger = _trigger("prometheus", {**metadata, "metricName": "http_requests_total"})
    [finding] = check_trigger_offline(REGISTRY, trigger, trigger_index=0, path="p")
    assert (finding.severity, finding.path) == ("warning", "p.metadata.metricName")
    assert finding.message.startswith("'metricName' is no longer read (KEDA removed it in 2.12")


def test_a_spec_field_written_into_metadata_is_named_as_misplaced() -> None:
    # Seen in the wild: minReplicaCount and maxReplicaCount under a trigger's metadata, where
    # KEDA ignores them (the object keeps its default bounds).
    metadata = {"serverAddress": "http://p:9090", "query": "up", "threshold": "5"}
    trigger = _trigger("prometheus", {**metadata, "maxReplicaCount": "6", "metricType": "Value"})
    findings = check_trigger_offline(REGISTRY, trigger, trigger_index=0, path="p")
    assert [(f.severity, f.path, f.message) for f in findings] == [
        (
            "warning",
            "p.metadata.maxReplicaCount",
            "'maxReplicaCount' is a field of spec, not a parameter of prometheus triggers: in "
            "metadata it is ignored (move it)",
        ),
        (
            "warning",
            "p.metadata.metricType",
            "'metricType' is a field of the trigger itself, not a parameter of prometheus "
            "triggers: in metadata it is ignored (move it)",
        ),
    ]


def test_a_misspelt_key_names_the_parameter_it_is_closest_to() -> None:
    metadata = {"bootstrapServers": "k:9092", "consumerGroup": "g", "topic": "t"}
    # Seen in the wild: offsetRestPolicy for offsetResetPolicy (KEDA silently ignores it).
    trigger = _trigger("kafka", {**metadata, "offsetRestPolicy": "latest", "lagthreshold": "5"})
    messages = {
        f.path: f.message
        for f in check_trigger_offline(REGISTRY, trigger, trigger_index=0, path="p")
    }
    assert messages["p.metadata.offsetRestPolicy"].endswith("did you mean 'offsetResetPolicy'?")
    assert messages["p.metadata.lagthreshold"].endswith("did you mean 'lagThreshold'?")
    far = _trigger("kafka", {**metadata, "colour": "blue"})
    [finding] = check_trigger_offline(REGISTRY, far, trigger_index=0, path="p")
    assert finding.message.endswith("is ignored (a misspelling?)")


def test_a_misspelled_key_is_a_warning_with_its_path() -> None:
    metadata = {"serverAddress": "http://p:9090", "query": "up", "treshold": "5", "threshold": "5"}
    findings = check_trigger_offline(
        REGISTRY, _trigger("prometheus", metadata), trigger_index=0, path="spec.triggers[0]"
    )
    assert [(f.severity, f.path) for f in findings] == [
        ("warning", "spec.triggers[0].metadata.treshold")
    ]


def test_a_value_from_the_env_is_checked_with_a_stand_in_and_noted() -> None:
    metadata = {"queueURLFromEnv": "QUEUE", "awsRegion": "eu-west-1", "queueLength": "abc"}
    findings = check_trigger_offline(
        REGISTRY,
        _trigger("aws-sqs-queue", metadata, authenticationRef={"name": "aws"}),
        trigger_index=0,
        path="t",
    )
    by_severity = {f.severity: f for f in findings}
    # the rest of the metadata is still checked past the run-time value
    assert "'queueLength'" in by_severity["error"].message
    notes = {f.path: f.message for f in findings if f.severity == "info"}
    assert "cannot be checked offline" in notes["t.metadata.queueURLFromEnv"]


def test_a_parameter_the_parser_never_reads_from_the_env_is_still_an_error() -> None:
    """prometheus reads serverAddress from the metadata only (as KEDA): serverAddressFromEnv
    cannot supply it, so offline says what the operator says."""
    metadata = {"serverAddressFromEnv": "PROM", "query": "up", "threshold": "5"}
    [finding] = check_trigger_offline(
        REGISTRY, _trigger("prometheus", metadata), trigger_index=0, path="t"
    )
    assert finding.severity == "error"
    assert "missing required parameter 'serverAddress'" in finding.message


def test_unsupported_but_valid_for_keda_is_an_error_as_in_the_operator() -> None:
    metadata = {"bootstrapServers": "k:9092", "consumerGroup": "g", "sasl": "gssapi"}
    findings = check_trigger_offline(
        REGISTRY,
        _trigger("kafka", metadata, authenticationRef={"name": "kafka-auth"}),
        trigger_index=0,
        path="t",
    )
    [error] = [f for f in findings if f.severity == "error"]
    assert error.path == "t.metadata.sasl"
    assert "not supported" in error.message


SO_WITHOUT_METADATA = """\
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
spec:
  scaleTargetRef: {name: web}
  triggers:
    - type: prometheus
      metadata: {serverAddress: "http://p:9090", threshold: "5"}
"""


def test_validate_documents_reports_structure_and_triggers_together() -> None:
    findings = validate_documents(SO_WITHOUT_METADATA, "so.yaml", trigger_checker=trigger_checker())
    errors = {(f.path, f.line) for f in findings if f.severity == "error"}
    assert ("metadata", 1) in errors
    assert ("spec.triggers[0].metadata", 7) in errors


_AZURE_AUTH = """\
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata: {name: azure-id, namespace: team-a}
spec: {podIdentity: {provider: azure-workload, identityId: x}}
"""
_PROM_WITH_AUTH = """\
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: web, namespace: NAMESPACE}
spec:
  scaleTargetRef: {name: web}
  triggers:
  - type: prometheus
    metadata: {serverAddress: "http://p:9090", query: up, threshold: "5"}
    authenticationRef: {name: azure-id}
"""


def _pod_identity_errors(text: str, **kwargs: Any) -> list[str]:
    findings = validate_documents(text, "m.yaml", trigger_checker=trigger_checker(), **kwargs)
    return [f.path for f in findings if f.severity == "error"]


def test_the_pod_identity_of_a_trigger_authentication_in_the_files_is_known() -> None:
    same_namespace = _PROM_WITH_AUTH.replace("NAMESPACE", "team-a")
    expected = ["spec.triggers[0].authenticationRef"]
    # In the same stream, or in another file of the same run (the command passes them all).
    assert _pod_identity_errors(_AZURE_AUTH + "---\n" + same_namespace) == expected
    identities = pod_identities_of([_AZURE_AUTH, same_namespace])
    assert _pod_identity_errors(same_namespace, identities=identities) == expected
    # Another namespace's TriggerAuthentication is not the one the operator would read.
    other = _PROM_WITH_AUTH.replace("NAMESPACE", "team-b")
    assert _pod_identity_errors(_AZURE_AUTH + "---\n" + other) == []
    # Providers the prometheus trigger supports pass.
    aws = _AZURE_AUTH.replace("azure-workload", "aws")
    assert _pod_identity_errors(aws + "---\n" + same_namespace) == []


def test_a_reference_to_the_wrong_kind_of_trigger_authentication_is_named() -> None:
    # Seen in a guide: the ScaledObject's authenticationRef has no kind (so it names a
    # TriggerAuthentication) while the file defines a ClusterTriggerAuthentication.
    cluster = _AZURE_AUTH.replace(
        "kind: TriggerAuthentication", "kind: ClusterTriggerAuthentication"
    )
    so = _PROM_WITH_AUTH.replace("NAMESPACE", "team-a")
    findings = validate_documents(
        cluster + "---\n" + so, "m.yaml", trigger_checker=trigger_checker()
    )
    [warning] = [f for f in findings if f.severity == "warning" and f.path.startswith("spec.")]
    assert warning.path == "spec.triggers[0].authenticationRef"
    assert warning.message == (
        "names TriggerAuthentication 'azure-id', but the manifests define a "
        "ClusterTriggerAuthentication of that name and no TriggerAuthentication: set kind: "
        "ClusterTriggerAuthentication"
    )
