"""The kustomize components in ``manifests/components`` compose with the operator base, alone
and all together (``manifests/overlays/all``), as ``kubectl apply -k`` composes them.

Rendered with kubectl's built-in kustomize. Each component is added to the base in an overlay
written for the test; what it adds is checked against the base it joins (the ServiceMonitor
selects the base's Service and port, the metrics API's RoleBinding stays in kube-system, the
node autoscaler's patches land on the base's Deployment and ServiceAccount). The alerts query
only series podscaler emits and parse with promtool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from podscaler.observability.dashboards import BOARDS, CONFIGMAPS, configmaps
from tests.conftest import IN_CI
from tests.unit.test_dashboard_sources import emitted, metric_names

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ROOT / "manifests" / "components"
#: The components; vertical/rbac is the VerticalScaler updater's (manifests/vertical/rbac).
NAMES = ("metrics-api", "nodes-aws", "monitoring", "vertical/rbac", "vertical-webhook")

Docs = list[dict[str, Any]]


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if IN_CI:
            pytest.fail("kubectl is required in CI")
        pytest.skip("kubectl not installed")
    return kubectl


def render(path: Path) -> Docs:
    out = subprocess.run(
        [_kubectl(), "kustomize", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def overlay(tmp_path: Path, *components: str) -> Docs:
    """The base with *components*, as a user's overlay lists them (kustomize takes only
    relative paths)."""

    def relative(path: Path) -> str:
        return os.path.relpath(path, tmp_path)

    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [relative(ROOT / "manifests" / "deploy")],
                "components": [
                    relative(ROOT / "manifests" / c if "/" in c else COMPONENTS / c)
                    for c in components
                ],
            }
        )
    )
    return render(tmp_path)


def key(doc: dict[str, Any]) -> tuple[str, str, str]:
    meta = doc["metadata"]
    return (doc["kind"], meta.get("namespace", ""), meta["name"])


def one(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, [key(d) for d in docs])
    return found[0]


@pytest.fixture(scope="module")
def base() -> Docs:
    return render(ROOT / "manifests" / "deploy")


@pytest.mark.parametrize("component", NAMES)
def test_each_component_adds_to_the_base_and_keeps_it(
    component: str, base: Docs, tmp_path: Path
) -> None:
    docs = overlay(tmp_path, component)
    keys = [key(d) for d in docs]
    assert len(keys) == len(set(keys)), "an object twice"
    assert {key(d) for d in base} <= set(keys)
    assert len(keys) > len(base)


def test_metrics_api_rbac_stays_in_kube_system(tmp_path: Path) -> None:
    docs = overlay(tmp_path, "metrics-api")
    apiservice = one(docs, "APIService", "v1beta1.external.metrics.k8s.io")
    service = apiservice["spec"]["service"]
    assert ("Service", service["namespace"], service["name"]) in {key(d) for d in docs}
    # The delegated-authentication reader is a Role in kube-system: its binding must stay there.
    bindings = [
        d
        for d in docs
        if d["kind"] == "RoleBinding"
        and d["roleRef"]["name"] == "extension-apiserver-authentication-reader"
    ]
    assert bindings
    assert {d["metadata"]["namespace"] for d in bindings} == {"kube-system"}


def test_nodes_aws_turns_the_node_autoscaler_on_in_the_base_deployment(tmp_path: Path) -> None:
    docs = overlay(tmp_path, "nodes-aws")
    deployment = one(docs, "Deployment", "podscaler")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env["PODSCALER_RUN_CLOUD_PROVIDER"] == "aws"
    assert container["args"][0] == "run"  # the base's container, patched, not replaced
    account = one(docs, "ServiceAccount", "podscaler")
    assert "eks.amazonaws.com/role-arn" in account["metadata"]["annotations"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "podscaler"
    assert any(d["kind"] == "ClusterRole" and "node" in d["metadata"]["name"] for d in docs)


def test_manifests_nodes_is_the_base_with_the_component(tmp_path: Path) -> None:
    assert render(ROOT / "manifests" / "nodes") == overlay(tmp_path, "nodes-aws")


def test_the_service_monitor_scrapes_the_base_metrics_service(tmp_path: Path) -> None:
    docs = overlay(tmp_path, "monitoring")
    monitor = one(docs, "ServiceMonitor", "podscaler")
    service = one(docs, "Service", "podscaler-metrics")
    labels = service["metadata"]["labels"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert service["metadata"]["namespace"] in monitor["spec"]["namespaceSelector"]["matchNames"]
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports


def test_every_dashboard_ships_as_a_sidecar_configmap(tmp_path: Path) -> None:
    docs = overlay(tmp_path, "monitoring")
    shipped = {
        name: text
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"].get("labels", {}).get("grafana_dashboard")
        for name, text in d["data"].items()
    }
    assert set(shipped) == set(BOARDS)
    for name, text in shipped.items():
        assert text == (ROOT / "grafana" / name).read_text(), name
    assert (ROOT / CONFIGMAPS).read_text() == configmaps(), (
        "run `python -m podscaler.observability.dashboards` and commit the result"
    )


def _rules(docs: Docs) -> list[dict[str, Any]]:
    rule = one(docs, "PrometheusRule", "podscaler")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def test_alerts_query_only_what_podscaler_emits(tmp_path: Path) -> None:
    rules = _rules(overlay(tmp_path, "monitoring"))
    assert rules
    known = emitted()
    for rule in rules:
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= known, (rule["alert"], sorted(names - known))
        assert rule["labels"]["severity"] in ("warning", "critical")


def test_alerts_parse_with_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if IN_CI:
            pytest.fail("promtool is required in CI")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    (tmp_path / "overlay").mkdir()
    rule = one(overlay(tmp_path / "overlay", "monitoring"), "PrometheusRule", "podscaler")
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(_rules([rule]))} rules found" in checked.stdout


def test_all_components_compose(tmp_path: Path, base: Docs) -> None:
    docs = render(ROOT / "manifests" / "overlays" / "all")
    keys = [key(d) for d in docs]
    assert len(keys) == len(set(keys))
    parts = set()
    for index, component in enumerate(NAMES):
        where = tmp_path / str(index)
        where.mkdir()
        parts |= {key(d) for d in overlay(where, component)}
    assert set(keys) == parts
