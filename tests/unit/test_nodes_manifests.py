"""``manifests/nodes`` adds the node autoscaler to the operator: its RBAC as a kustomize
component (least privilege, no wildcards, writes only where the autoscaler writes), and CA's
flags as ``PODSCALER_RUN_*`` variables that ``podscaler run`` accepts and that turn the node
autoscaler on. Rendered with kubectl's kustomize, as ``kubectl apply -k`` does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if IN_CI:
            pytest.fail("kubectl is required in CI")
        pytest.skip("kubectl not installed")
    out = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "manifests" / "nodes")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_the_component_grants_what_the_node_autoscaler_does_and_no_more(
    rendered: list[dict[str, Any]],
) -> None:
    role = _named(rendered, "ClusterRole", "podscaler-node-autoscaler")
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    writes = {g for g in granted if g[2] in WRITES}
    assert writes == {("", "nodes", "patch"), ("", "pods/eviction", "create")}
    assert ("policy", "poddisruptionbudgets", "watch") in granted
    assert ("apps", "daemonsets", "watch") in granted
    assert ("scheduling.k8s.io", "priorityclasses", "watch") in granted
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field]
    binding = _named(rendered, "ClusterRoleBinding", "podscaler-node-autoscaler")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "podscaler", "namespace": "podscaler"}
    ]


def test_configmaps_are_written_only_in_the_operator_namespace(
    rendered: list[dict[str, Any]],
) -> None:
    role = _named(rendered, "Role", "podscaler-node-autoscaler")
    assert role["metadata"]["namespace"] == "podscaler"
    for rule in role["rules"]:
        assert rule["resources"] == ["configmaps"]
        if set(rule["verbs"]) & {"patch", "update", "get"}:
            assert rule["resourceNames"] == ["cluster-autoscaler-status"]
    for kind in ("ClusterRole",):
        for doc in (d for d in rendered if d["kind"] == kind):
            for rule in doc["rules"]:
                if "configmaps" in rule["resources"]:
                    assert not set(rule["verbs"]) & WRITES, doc["metadata"]["name"]


def test_the_deployment_turns_the_node_autoscaler_on(
    rendered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from podscaler.cli import main
    from podscaler.commands.run import settings

    deployment = _named(rendered, "Deployment", "podscaler")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"] if "value" in e}
    assert env["PODSCALER_RUN_CLOUD_PROVIDER"] == "aws"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    command, *args = container["args"]
    run = main.commands[command]
    context = run.make_context(command, list(args), auto_envvar_prefix="PODSCALER_RUN")
    chosen = settings(dict(context.params))
    assert chosen.nodes is not None
    assert chosen.nodes.options.node_group_auto_discovery == (
        env["PODSCALER_RUN_NODE_GROUP_AUTO_DISCOVERY"],
    )
    assert chosen.nodes.options.balance_similar_node_groups is True
    assert chosen.nodes.aws is not None
    assert chosen.nodes.aws.region == env["PODSCALER_RUN_AWS_REGION"]
