"""The install paths against the embedded API server: a server-side dry run (``kubectl create
--dry-run=server``) of what the Helm chart and the kustomize overlays render.

The server validates every object as a real one would (schemas of the built-in kinds and of
podscaler's CRDs, the APIService) without storing anything. Left out: the Prometheus
Operator's kinds (ServiceMonitor, PodMonitor, PrometheusRule), as the embedded cluster has no
such CRDs (nor has a cluster without the Prometheus Operator), and RBAC objects, as the
embedded API server does not serve rbac.authorization.k8s.io (the unit tests hold the chart's
RBAC equal to the kustomize manifests').
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.sim.conftest import Kubectl, kubectl, kubectl_bin
from tests.unit.test_helm_chart import helm_render
from tests.unit.test_kustomize_components import ROOT, render

__all__ = ["kubectl", "kubectl_bin"]  # fixtures, re-exported for this directory

pytestmark = pytest.mark.kubectl

NO_CRD_HERE = {"ServiceMonitor", "PodMonitor", "PrometheusRule"} | {
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
}


def _stream(docs: list[dict[str, Any]]) -> str:
    kept = [d for d in docs if d["kind"] not in NO_CRD_HERE]
    return "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in kept)


async def _dry_run(kubectl: Kubectl, docs: list[dict[str, Any]], namespace: str) -> list[str]:
    await kubectl("create", "namespace", namespace, ok=False)
    # create, not apply: the CRDs exist in the embedded cluster already, and apply would warn
    # that they lack its annotation; a dry-run create validates the same and says "created".
    out = await kubectl(
        "create", "--dry-run=server", "--save-config", "-f", "-", stdin=_stream(docs), ok=False
    )
    lines = [line for line in out.splitlines() if line.strip()]
    assert all(line.endswith("(server dry run)") for line in lines), out
    return lines


async def test_the_helm_chart_with_every_part_passes_a_server_side_dry_run(
    kubectl: Kubectl,
) -> None:
    values = {
        "nodes": {
            "enabled": True,
            "aws": {"region": "eu-west-1", "roleArn": "arn:aws:iam::111122223333:role/x"},
        },
        "monitoring": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
        "vertical": {"webhook": {"enabled": True}},
        "extraArgs": ["--dry-run"],
    }
    docs = helm_render(values, namespace="ops")
    lines = await _dry_run(kubectl, docs, "ops")
    expected = len([d for d in docs if d["kind"] not in NO_CRD_HERE])
    assert len(lines) == expected
    assert any(line.startswith("deployment.apps/podscaler ") for line in lines)
    assert any(line.startswith("apiservice.apiregistration.k8s.io/") for line in lines)
    assert any(line.startswith("mutatingwebhookconfiguration.") for line in lines)
    assert any(line.startswith("customresourcedefinition.apiextensions.k8s.io/") for line in lines)


async def test_the_kustomize_overlay_of_every_component_passes_a_server_side_dry_run(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    docs = render(ROOT / "manifests" / "overlays" / "all")
    crds = [
        yaml.safe_load(path.read_text())
        for path in sorted((ROOT / "manifests" / "crds").glob("*.yaml"))
    ]
    lines = await _dry_run(kubectl, crds + docs, "podscaler")
    assert len(lines) == len(crds) + len([d for d in docs if d["kind"] not in NO_CRD_HERE])
