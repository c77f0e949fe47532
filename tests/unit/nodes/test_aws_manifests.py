"""manifests/nodes: the IAM policy grants exactly the AWS calls the provider makes, the writes
only on tagged groups; the IRSA ServiceAccount and the priority-expander ConfigMap render and
parse; the README names the tags the code reads.

The provider's calls are read from its source: every AWS request goes through
``AwsCloud._call`` / ``AwsCloud._pages`` with the service and operation as string literals, and
nothing else touches the clients — both checked here, so a new call cannot slip past the
policy.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from podscaler.nodes.asgtags import LABEL_PREFIX, OPTION_PREFIX, RESOURCE_PREFIX, TAINT_PREFIX
from podscaler.nodes.priority import CONFIGMAP_NAME, PriorityConfig, priorities_from_configmap
from podscaler.nodes.providers.aws import method_name
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[3]
PROVIDERS = ROOT / "podscaler" / "nodes" / "providers"
MANIFESTS = ROOT / "manifests" / "nodes"
#: The kustomize component manifests/nodes applies (the IRSA account, the expander's ConfigMap).
COMPONENT = ROOT / "manifests" / "components" / "nodes-aws"
SEAMS = {"_call", "_pages"}
WRITES = {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}
ENABLED_CONDITION = {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true"}}


def _provider_sources() -> dict[Path, ast.Module]:
    # the front is a server standing in for AWS, not a client of it
    paths = [p for p in sorted(PROVIDERS.glob("aws*.py")) if p.name != "aws_front.py"]
    assert PROVIDERS / "aws.py" in paths
    return {p: ast.parse(p.read_text(), str(p)) for p in paths}


def _seam_calls(tree: ast.Module) -> list[ast.Call]:
    """Calls of ``_call``/``_pages``, except the seam's own delegation inside them."""
    inside_seams = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, ast.AsyncFunctionDef) and f.name in SEAMS
        for n in ast.walk(f)
    }
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in SEAMS
        and id(n) not in inside_seams
    ]


def _calls_made() -> set[str]:
    actions: set[str] = set()
    for path, tree in _provider_sources().items():
        for call in _seam_calls(tree):
            service, operation = [*call.args, None, None][:2]
            where = f"{path.name}:{call.lineno}"
            assert isinstance(service, ast.Constant), f"{where}: name the service literally"
            assert isinstance(operation, ast.Constant), f"{where}: name the operation literally"
            actions.add(f"{service.value!s}:{operation.value!s}")
    return actions


def _policy() -> dict[str, Any]:
    return dict(json.loads((MANIFESTS / "iam-policy.json").read_text()))


def test_only_the_seam_touches_the_clients() -> None:
    for path, tree in _provider_sources().items():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            touches = any(
                isinstance(n, ast.Attribute) and n.attr == "_clients" for n in ast.walk(function)
            )
            if touches:
                assert function.name in {"__init__", "start", "close", "_call"}, (
                    f"{path.name}:{function.lineno}: {function.name} uses the clients directly"
                )


def test_policy_grants_exactly_the_calls_the_provider_makes() -> None:
    made = _calls_made()
    assert "autoscaling:SetDesiredCapacity" in made, "the scan found the provider's calls"
    granted = {a for s in _policy()["Statement"] for a in s["Action"]}
    assert granted == made


def test_every_call_is_a_real_operation() -> None:
    import botocore.session  # type: ignore[import-untyped]
    from botocore import xform_name

    session = botocore.session.get_session()
    for action in _calls_made():
        service, operation = action.split(":")
        assert operation in session.get_service_model(service).operation_names, action
        assert method_name(operation) == xform_name(operation)


def test_reads_are_unconditioned_and_writes_need_the_enabled_tag() -> None:
    policy = _policy()
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in a for a in statement["Action"]), "no wildcard actions"
        actions = set(statement["Action"])
        if actions & WRITES:
            assert actions == WRITES
            assert statement["Condition"] == ENABLED_CONDITION
        else:
            assert all(a.split(":")[1].startswith("Describe") for a in actions)
            assert "Condition" not in statement
            assert statement["Resource"] == "*"


def test_irsa_serviceaccount_and_priority_configmap() -> None:
    account = yaml.safe_load((COMPONENT / "serviceaccount-irsa.yaml").read_text())
    assert (account["kind"], account["metadata"]["namespace"]) == ("ServiceAccount", "podscaler")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::"
    )
    configmap = yaml.safe_load((COMPONENT / "priority-expander.yaml").read_text())
    assert configmap["metadata"] == {"name": CONFIGMAP_NAME, "namespace": "podscaler"}
    config = priorities_from_configmap(configmap)
    assert isinstance(config, PriorityConfig)
    assert config.priority_of("general-spot-eu-west-1a") == 50
    assert config.priority_of("general-on-demand-eu-west-1a") == 20
    assert config.priority_of("gpu") == 10


def test_kustomization_renders_the_annotated_operator() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if IN_CI:
            pytest.fail("kubectl is required in CI")
        pytest.skip("kubectl not installed")
    out = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS)], check=True, capture_output=True, text=True
    ).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    [account] = [d for d in docs if d["kind"] == "ServiceAccount"]
    assert "eks.amazonaws.com/role-arn" in account["metadata"]["annotations"]
    assert account["metadata"]["labels"]["app.kubernetes.io/name"] == "podscaler"
    assert any(d["kind"] == "ConfigMap" and d["metadata"]["name"] == CONFIGMAP_NAME for d in docs)
    assert any(d["kind"] == "Deployment" for d in docs)


def test_readme_names_the_tags_the_code_reads() -> None:
    readme = (MANIFESTS / "README.md").read_text()
    for prefix in (LABEL_PREFIX, TAINT_PREFIX, RESOURCE_PREFIX, OPTION_PREFIX):
        assert prefix.rstrip("/") in readme, prefix
    assert "k8s.io/cluster-autoscaler/enabled" in readme
    for action in _calls_made():
        assert action.split(":")[1] in readme, action
