"""manifests/metricsapi renders, routes the APIService to the operator's port, and grants only
what an aggregated API server and the HPA need.

Rendered with kubectl's built-in kustomize, as ``kubectl apply -k`` does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[3]


def _render(path: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if IN_CI:
            pytest.fail("kubectl is required in CI")
        pytest.skip("kubectl not installed")
    out = subprocess.run(
        [kubectl, "kustomize", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def docs() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (d["kind"], d["metadata"]["name"]): d for d in _render(ROOT / "manifests" / "metricsapi")
    }


def test_apiservice_routes_to_our_service(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    spec = docs[("APIService", "v1beta1.external.metrics.k8s.io")]["spec"]
    assert spec["group"] == "external.metrics.k8s.io"
    assert spec["version"] == "v1beta1"
    assert spec["groupPriorityMinimum"] == 100
    assert spec["versionPriority"] == 100
    assert spec["service"] == {
        "name": "podscaler-metrics-apiserver",
        "namespace": "podscaler",
        "port": 443,
    }
    assert not spec.get("insecureSkipTLSVerify")


def test_service_reaches_the_operator_metrics_api_port(
    docs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    service = docs[("Service", "podscaler-metrics-apiserver")]
    (port,) = service["spec"]["ports"]
    assert port["port"] == 443
    deployment = next(
        d for d in _render(ROOT / "manifests" / "deploy") if d["kind"] == "Deployment"
    )
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports[port["targetPort"]] == 6443
    assert "--metrics-api-port=6443" in container["args"]


def test_delegated_auth_and_hpa_reader_rbac(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    auth = docs[("ClusterRoleBinding", "podscaler:system:auth-delegator")]
    assert auth["roleRef"]["name"] == "system:auth-delegator"
    reader = docs[("RoleBinding", "podscaler-auth-reader")]
    assert reader["metadata"]["namespace"] == "kube-system"
    assert reader["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "extension-apiserver-authentication-reader",
    }
    for binding in (auth, reader, docs[("ClusterRoleBinding", "podscaler-metrics-apiservice")]):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "podscaler", "namespace": "podscaler"}
        ]
    hpa = docs[("ClusterRoleBinding", "podscaler-external-metrics-reader")]
    assert hpa["subjects"] == [
        {"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler", "namespace": "kube-system"},
        # a replica forwards a read for another replica's object to its owner as itself
        {"kind": "ServiceAccount", "name": "podscaler", "namespace": "podscaler"},
    ]


def test_only_wildcard_is_the_metric_name(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    for (kind, name), doc in docs.items():
        if kind not in ("ClusterRole", "Role"):
            continue
        for rule in doc["rules"]:
            assert "*" not in rule["apiGroups"], name
            assert "*" not in rule["verbs"], name
            if "*" in rule["resources"]:
                assert rule["apiGroups"] == ["external.metrics.k8s.io"], name
                assert set(rule["verbs"]) <= {"get", "list", "watch"}, name
    apiservice_role = docs[("ClusterRole", "podscaler-metrics-apiservice")]
    (rule,) = apiservice_role["rules"]
    assert rule["resourceNames"] == ["v1beta1.external.metrics.k8s.io"]


def test_every_object_is_labelled(docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    for doc in docs.values():
        assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "podscaler"
