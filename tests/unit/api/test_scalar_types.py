"""Scalars are checked by their JSON type, as the CRD schema checks them: ``"1"`` is no
integer and ``"true"`` no boolean for the API server, so not for ``podscaler validate`` either
(pydantic alone reads both). Checked against the embedded API server's own schema validation,
on the CRD podscaler installs, for any scalar in any of a ScaledObject's numeric and boolean
fields."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.crds import crd_manifests
from podscaler.api.manifests import validate_documents
from podscaler.sim.apiserver.schemas import validate as schema_causes

_SCHEMA = next(
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for crd in crd_manifests()
    if crd["spec"]["names"]["kind"] == "ScaledObject"
)
_FIELDS = [
    ("minReplicaCount",),
    ("maxReplicaCount",),
    ("idleReplicaCount",),
    ("pollingInterval",),
    ("cooldownPeriod",),
    ("initialCooldownPeriod",),
    ("fallback", "replicas"),
    ("advanced", "restoreToOriginalReplicaCount"),
]
_SCALARS = st.one_of(
    st.integers(min_value=0, max_value=500),
    st.floats(min_value=0, max_value=500, allow_nan=False),
    st.booleans(),
    st.sampled_from(["1", "10", "true", "false", "yes", "1.5", "30s", ""]),
)


def _document(field: tuple[str, ...], value: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"name": "web"},
        "maxReplicaCount": 500,
        "fallback": {"failureThreshold": 3, "replicas": 2},
        "triggers": [
            {
                "type": "prometheus",
                "metadata": {"serverAddress": "http://p:9090", "query": "up", "threshold": "5"},
            }
        ],
    }
    parent = spec
    for key in field[:-1]:
        parent = parent.setdefault(key, {})
    parent[field[-1]] = value
    return {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "web"},
        "spec": spec,
    }


def _as_kubectl_sends(value: Any) -> Any:
    """kubectl turns YAML into JSON through Go's float64: a whole 5.0 arrives as 5."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


@settings(deadline=None, max_examples=400)
@given(field=st.sampled_from(_FIELDS), value=_SCALARS)
def test_validate_refuses_a_scalar_of_the_wrong_json_type_exactly_when_the_server_does(
    field: tuple[str, ...], value: Any
) -> None:
    path = "spec." + ".".join(field)
    sent = _document(field, _as_kubectl_sends(value))
    server = [c for c in schema_causes(sent, _SCHEMA, root=True) if c[0] == path]
    server_type_error = any("must be of type" in message for _, _, message in server)
    findings = validate_documents(json.dumps(_document(field, value)), "so.json")
    ours = [f.message for f in findings if f.severity == "error" and f.path == path]
    our_type_error = any(
        m.startswith(("must be an integer", "must be true or false", "must be a number"))
        for m in ours
    )
    assert our_type_error == server_type_error, (ours, server)


def test_a_quoted_number_says_to_remove_the_quotes() -> None:
    findings = validate_documents(json.dumps(_document(("minReplicaCount",), "1")), "so.json")
    [error] = [f for f in findings if f.severity == "error"]
    assert error.message == (
        "must be an integer, got '1' (quoted, it is a string, which the API server refuses: "
        "remove the quotes)"
    )
    flag = _document(("advanced", "restoreToOriginalReplicaCount"), "yes")
    [error] = [f for f in validate_documents(json.dumps(flag), "so.json") if f.severity == "error"]
    assert error.message == "must be true or false, got 'yes'"
