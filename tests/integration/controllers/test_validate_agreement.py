"""``podscaler validate`` and the operator agree on every manifest (issue 18).

Each manifest goes through both paths: ``validate`` offline (:func:`validate_documents` with
the scaler registry's offline check, as the command runs it) and the operator's own building
(:func:`validate_scaled_object` then :func:`build_triggers` against the embedded API server,
where the TriggerAuthentication, its Secret and the target's env really exist). The verdicts
(valid or not) must be the same, and where validate could not see a run-time value it says so
instead of guessing.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from podscaler.api.manifests import Finding, validate_documents
from podscaler.api.validation import ObjectValidationError, validate_scaled_object
from podscaler.controllers.triggers import building
from podscaler.kube.clients import Kube
from scalers.contract import ScalerEnvironment
from scalers.offline import trigger_checker
from scalers.registry import default_registry
from tests.integration.controllers.objects import create, create_deployment, deployment

NS = "default"
GROUP = "/apis/autoscaling.podscaler.io/v1alpha1"
PROM = "http://127.0.0.1:9"  # never contacted: neither path connects anywhere


def _so(name: str, *triggers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"scaleTargetRef": {"name": "app"}, "triggers": list(triggers), **spec},
    }
    return body


def _prom(**metadata: str) -> dict[str, Any]:
    base = {"serverAddress": PROM, "query": "sum(up)", "threshold": "10"}
    return {"type": "prometheus", "metadata": {**base, **metadata}}


def _without(trigger: dict[str, Any], key: str) -> dict[str, Any]:
    metadata = {k: v for k, v in trigger["metadata"].items() if k != key}
    return {**trigger, "metadata": metadata}


_SQS_AUTH = {"name": "aws-creds"}
_SQS = {
    "type": "aws-sqs-queue",
    "authenticationRef": _SQS_AUTH,
    "metadata": {"queueURLFromEnv": "QUEUE_URL", "awsRegion": "eu-west-1", "queueLength": "5"},
}
_KAFKA = {"bootstrapServers": "127.0.0.1:9", "consumerGroup": "g", "topic": "t"}

#: (name, manifest, whether both paths must accept it)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("prometheus", _so("prom", _prom()), True),
    ("prometheus-no-query", _so("noquery", _without(_prom(), "query")), False),
    ("prometheus-bad-threshold", _so("badthreshold", _prom(threshold="abc")), False),
    ("prometheus-oauth", _so("oauth", _prom(authModes="oauth")), False),
    ("prometheus-address-from-env", _so("fromenv", _prom(serverAddressFromEnv="PROM_URL")), True),
    ("unknown-type", _so("redis", {"type": "redis-streams", "metadata": {"stream": "s"}}), False),
    (
        "cron-bad-timezone",
        _so(
            "cron-tz",
            {
                "type": "cron",
                "metadata": {
                    "timezone": "Mars/Olympus",
                    "start": "0 6 * * *",
                    "end": "0 20 * * *",
                    "desiredReplicas": "3",
                },
            },
        ),
        False,
    ),
    (
        "cron-bad-expression",
        _so(
            "cron-expr",
            {
                "type": "cron",
                "metadata": {
                    "timezone": "Asia/Seoul",
                    "start": "0 25 * * *",
                    "end": "0 20 * * *",
                    "desiredReplicas": "3",
                },
            },
        ),
        False,
    ),
    ("sqs-env-and-auth", _so("sqs", _SQS), True),
    (
        "sqs-misspelled-key",
        _so("sqs-typo", {**_SQS, "metadata": {**_SQS["metadata"], "queueLenght": "5"}}),
        True,
    ),
    (
        "sqs-without-auth",
        _so("sqs-noauth", {k: v for k, v in _SQS.items() if k != "authenticationRef"}),
        False,
    ),
    ("kafka-plaintext", _so("kafka", {"type": "kafka", "metadata": _KAFKA}), True),
    (
        "kafka-sasl-without-credentials",
        _so("kafka-sasl", {"type": "kafka", "metadata": {**_KAFKA, "sasl": "plaintext"}}),
        False,
    ),
    (
        "kafka-gssapi",
        _so(
            "kafka-gssapi",
            {
                "type": "kafka",
                "authenticationRef": _SQS_AUTH,
                "metadata": {**_KAFKA, "sasl": "gssapi"},
            },
        ),
        False,
    ),
    (
        "cpu",
        _so(
            "cpu",
            {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "50"}},
            minReplicaCount=1,
        ),
        True,
    ),
]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
async def cluster(kube: Kube) -> dict[str, Any]:
    """The target (with the env the triggers read), a Secret and a TriggerAuthentication."""
    workload = deployment("app", 1)
    container = workload["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [
        {"name": "QUEUE_URL", "value": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"},
        {"name": "PROM_URL", "value": PROM},
    ]
    await create_deployment(kube, workload)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "aws-secret"},
        "data": {"id": _b64("AKIDEXAMPLE"), "key": _b64("secret-key-value")},
    }
    await create(kube, f"/api/v1/namespaces/{NS}/secrets", secret)
    refs = [
        {"parameter": "awsAccessKeyID", "name": "aws-secret", "key": "id"},
        {"parameter": "awsSecretAccessKey", "name": "aws-secret", "key": "key"},
    ]
    auth = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": "aws-creds"},
        "spec": {"secretTargetRef": refs},
    }
    await create(kube, f"{GROUP}/namespaces/{NS}/triggerauthentications", auth)
    return workload  # the API server is fresh for each test: nothing to delete


def _validate(manifest: dict[str, Any]) -> list[Finding]:
    return validate_documents(
        yaml.safe_dump(manifest), "case.yaml", trigger_checker=trigger_checker()
    )


async def _operator_accepts(kube: Kube, workload: dict[str, Any], manifest: dict[str, Any]) -> str:
    """ "" when the operator builds every trigger, else its message."""
    try:
        so = validate_scaled_object(manifest)
    except ObjectValidationError as exc:
        return str(exc)
    try:
        built = await building.build_triggers(
            kube,
            default_registry(),
            ScalerEnvironment(),
            namespace=NS,
            triggers=so.spec.triggers,
            workload=workload,
            env_source_container=None,
            operator_namespace=NS,
        )
    except building.TriggerConfigError as exc:
        return str(exc) or type(exc).__name__
    await built.close()
    return ""


async def test_validate_and_the_operator_agree_on_every_manifest(
    kube: Kube, cluster: dict[str, Any]
) -> None:
    disagreements = []
    for name, manifest, valid in CASES:
        findings = _validate(manifest)
        errors = [f for f in findings if f.severity == "error"]
        operator = await _operator_accepts(kube, cluster, manifest)
        if bool(errors) == (operator == "") or (operator == "") != valid:
            disagreements.append((name, [str(e) for e in errors], operator, valid))
    assert not disagreements, disagreements


async def test_run_time_values_are_named_not_guessed(kube: Kube, cluster: dict[str, Any]) -> None:
    findings = _validate(_so("sqs", _SQS))
    notes = {f.path: f.message for f in findings if f.severity == "info"}
    assert "cannot be checked offline" in notes["spec.triggers[0].metadata.queueURLFromEnv"]
    assert "TriggerAuthentication 'aws-creds'" in notes["spec.triggers[0].authenticationRef"]
    assert not [f for f in findings if f.severity in ("error", "warning")], findings
    typo = _validate(_so("typo", {**_SQS, "metadata": {**_SQS["metadata"], "queueLenght": "5"}}))
    [warning] = [f for f in typo if f.severity == "warning"]
    assert warning.path == "spec.triggers[0].metadata.queueLenght"


async def test_the_pod_identity_of_a_trigger_authentication_among_the_files_is_read(
    kube: Kube, cluster: dict[str, Any]
) -> None:
    # Found in the wild: a TriggerAuthentication with podIdentity azure-workload and a
    # prometheus ScaledObject using it, in one file. The operator refuses the trigger; validate
    # passed it, since the provider comes from the other document.
    auth = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": "azure-id", "namespace": NS},
        "spec": {"podIdentity": {"provider": "azure-workload", "identityId": "id"}},
    }
    await create(kube, f"{GROUP}/namespaces/{NS}/triggerauthentications", auth)
    so = _so("azure", {**_prom(), "authenticationRef": {"name": "azure-id"}})
    operator = await _operator_accepts(kube, cluster, so)
    assert "pod identity provider 'azure-workload' is not supported" in operator
    findings = validate_documents(
        yaml.safe_dump_all([auth, so]), "both.yaml", trigger_checker=trigger_checker()
    )
    [error] = [f for f in findings if f.severity == "error"]
    assert error.path == "spec.triggers[0].authenticationRef"
    assert error.message in operator
