"""The kustomize base in manifests/deploy renders, and stays least-privilege and restricted.

Rendering uses kubectl's built-in kustomize, exactly what ``kubectl apply -k`` does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if IN_CI:
            pytest.fail("kubectl is required in CI")
        pytest.skip("kubectl not installed")
    out = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "manifests" / "deploy")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_base_holds_what_an_operator_needs(rendered: list[dict[str, Any]]) -> None:
    kinds = sorted(d["kind"] for d in rendered)
    assert kinds == sorted(
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Deployment",
            "Service",
        ]
    )
    for doc in rendered:
        assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "podscaler"


def test_rbac_has_no_wildcards(rendered: list[dict[str, Any]]) -> None:
    for role in [*_of_kind(rendered, "ClusterRole"), *_of_kind(rendered, "Role")]:
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], f"{role['metadata']['name']}: wildcard {field}"


def test_cluster_role_never_writes_workloads_except_scale(rendered: list[dict[str, Any]]) -> None:
    (cluster_role,) = _of_kind(rendered, "ClusterRole")
    for rule in cluster_role["rules"]:
        writes = set(rule["verbs"]) & {"create", "update", "patch", "delete", "deletecollection"}
        if "apps" in rule["apiGroups"] and writes:
            assert all(r.endswith("/scale") for r in rule["resources"]), rule
        if "" in rule["apiGroups"]:
            assert not writes, f"core objects are read-only to the operator: {rule}"
            if "secrets" in rule["resources"]:
                assert rule["verbs"] == ["get"], "secrets are read by name, never listed"


def test_leases_only_in_own_namespace(rendered: list[dict[str, Any]]) -> None:
    (cluster_role,) = _of_kind(rendered, "ClusterRole")
    assert all("coordination.k8s.io" not in r["apiGroups"] for r in cluster_role["rules"])
    (role,) = _of_kind(rendered, "Role")
    assert role["metadata"]["namespace"] == "podscaler"


def test_operator_pod_is_restricted(rendered: list[dict[str, Any]]) -> None:
    (deployment,) = _of_kind(rendered, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]["memory"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["image"].startswith("ghcr.io/podscaler/podscaler:")


def test_metrics_service_targets_the_operator(rendered: list[dict[str, Any]]) -> None:
    (service,) = _of_kind(rendered, "Service")
    (deployment,) = _of_kind(rendered, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


def test_the_operator_container_starts_with_options_podscaler_run_accepts(
    rendered: list[dict[str, Any]],
) -> None:
    """Arguments and PODSCALER_RUN_* variables of the Deployment must be real options of
    ``podscaler run``: an unknown flag crash-loops the pod, and an unknown variable is silently
    ignored (a misspelt one once restricted the operator to its own namespace)."""
    import click

    from podscaler.cli import main

    (deployment,) = _of_kind(rendered, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    command, *args = container["args"]
    run = main.commands[command]
    assert isinstance(run, click.Command)
    run.make_context(command, list(args))  # raises on an unknown or malformed option
    options = {p.name.upper() for p in run.params if p.name}
    for env in container.get("env", []):
        name = env["name"]
        if name == "POD_IP":  # the downward API's address, --shard's default for its Lease
            continue
        assert name.startswith("PODSCALER_RUN_"), name
        assert name.removeprefix("PODSCALER_RUN_") in options, f"{name} is not a run option"


def test_the_image_recipe_matches_the_deployment(rendered: list[dict[str, Any]]) -> None:
    """The Containerfile's user and ports are the ones the Deployment runs and probes.

    The image cannot be built on these machines (no container registry is reachable for a base
    image), so what the Deployment relies on is checked against the recipe itself.
    """
    recipe = (ROOT / "Containerfile").read_text()
    (deployment,) = _of_kind(rendered, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    user = pod["securityContext"]["runAsUser"]
    group = pod["securityContext"]["runAsGroup"]
    assert f"USER {user}:{group}" in recipe
    exposed = {
        int(port)
        for line in recipe.splitlines()
        if line.startswith("EXPOSE")
        for port in line.split()[1:]
    }
    assert {p["containerPort"] for p in container["ports"]} <= exposed
    assert 'ENTRYPOINT ["podscaler"]' in recipe
    assert container["args"][0] == "run"
    # Multi-stage, with the base pinned to a full release rather than a moving tag.
    assert recipe.count("\nFROM ") == 2
    assert "python:3.11.11-slim-bookworm" in recipe
