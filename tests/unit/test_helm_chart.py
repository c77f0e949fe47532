"""The Helm chart in ``manifests/helm/podscaler`` renders, with a real Helm engine, what the
kustomize manifests hold.

The engine is Helm's own Go SDK (v4) through ``helm-python-sdk`` (in the ``test`` extra), so the
templates run exactly as ``helm install`` runs them. The chart is checked against the same
sources as the kustomize base: its RBAC rules, Services, APIService and probes equal what
``kubectl kustomize`` renders from ``manifests/deploy`` and the components; its CRDs are
``manifests/crds``; its alerts are the monitoring component's. Then the knobs: CRDs installed
and kept (or not), cert-manager for the metrics API, the node autoscaler with IRSA, monitors,
another namespace; and every ``args`` list it renders parses as ``podscaler run`` options.
The server-side dry run against the embedded API server is in
``tests/integration/manifests``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import IN_CI
from tests.unit.test_kustomize_components import overlay

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "manifests" / "helm" / "podscaler"
MONITORING = ROOT / "manifests" / "components" / "monitoring"

Docs = list[dict[str, Any]]


def helm_render(values: dict[str, Any] | None = None, namespace: str = "podscaler") -> Docs:
    """The chart rendered as ``helm template podscaler CHART -n NAMESPACE`` would."""
    if importlib.util.find_spec("helm_python") is None:
        if IN_CI:
            pytest.fail("helm-python-sdk is required in CI (pip install -e '.[test]')")
        pytest.skip("helm-python-sdk not installed (pip install -e '.[test]')")
    import helm_python

    with helm_python.Chart.load(str(CHART)) as chart:
        files = chart.render(values or {}, name="podscaler", namespace=namespace, is_install=True)
    # NOTES.txt is what `helm install` prints, not a manifest.
    manifests = [text for path, text in files.items() if not path.endswith("/NOTES.txt")]
    return [doc for text in manifests for doc in yaml.safe_load_all(text) if doc]


def key(doc: dict[str, Any]) -> tuple[str, str, str]:
    meta = doc["metadata"]
    return (doc["kind"], meta.get("namespace", ""), meta["name"])


def by_key(docs: Docs) -> dict[tuple[str, str, str], dict[str, Any]]:
    keyed = {key(d): d for d in docs}
    assert len(keyed) == len(docs), "an object twice"
    return keyed


def without_crds(docs: Docs) -> Docs:
    return [d for d in docs if d["kind"] != "CustomResourceDefinition"]


def container(docs: Docs) -> dict[str, Any]:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(found)


@pytest.fixture(scope="module")
def default() -> Docs:
    return helm_render()


def test_lint_is_clean() -> None:
    helm_render()  # skips without the engine
    import helm_python

    report = helm_python.lint(str(CHART), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_default_is_the_kustomize_base_with_the_metrics_api(default: Docs, tmp_path: Path) -> None:
    kustomized = by_key(overlay(tmp_path, "metrics-api", "vertical/rbac"))
    kustomized.pop(("Namespace", "", "podscaler"))  # helm install -n podscaler --create-namespace
    charted = by_key(without_crds(default))
    assert set(charted) == set(kustomized)
    for where, ours in charted.items():
        theirs = kustomized[where]
        for field in ("rules", "roleRef", "subjects", "spec"):
            if field in theirs and where[0] != "Deployment":
                assert ours[field] == theirs[field], (where, field)
    mine, base = container(default), container(list(kustomized.values()))
    for field in ("ports", "livenessProbe", "readinessProbe", "resources", "securityContext"):
        assert mine[field] == base[field], field
    assert set(base["args"]) <= set(mine["args"])
    assert mine["image"] == "ghcr.io/podscaler/podscaler:0.1.0" == base["image"]


def _run_args(docs: Docs) -> list[str]:
    from podscaler.commands.run import run

    command, *args = container(docs)["args"]
    assert command == "run"
    run.make_context(command, list(args))  # raises on an unknown or malformed option
    return list(args)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"replicaMode": "single", "log": {"level": "debug", "format": "text"}},
        {"replicaMode": "leader"},
        {"metricsApi": {"enabled": False}, "proportional": False},
        {"metricsApi": {"certManager": {"enabled": True}}, "proportional": True},
        {"extraArgs": ["--namespace=team-a", "--dry-run"]},
        {"vertical": {"enabled": True}},
        {"vertical": {"enabled": False}},
        {"vertical": {"webhook": {"enabled": True}}},
        {
            "vertical": {"webhook": {"enabled": True}},
            "metricsApi": {"certManager": {"enabled": True}},
        },
    ],
    ids=[
        "default",
        "knobs",
        "leader",
        "no-metrics-api",
        "cert-manager",
        "extra-args",
        "vertical",
        "no-vertical",
        "webhook",
        "webhook-cert-manager",
    ],
)
def test_every_rendered_command_line_parses(values: dict[str, Any]) -> None:
    _run_args(helm_render(values))


def test_crds_are_the_repositorys_installed_and_kept_by_default(default: Docs) -> None:
    crds = {d["metadata"]["name"]: d for d in default if d["kind"] == "CustomResourceDefinition"}
    sources = {}
    for path in sorted((ROOT / "manifests" / "crds").glob("*.yaml")):
        assert (CHART / "files" / "crds" / path.name).read_bytes() == path.read_bytes(), (
            f"copy manifests/crds/{path.name} to {CHART.relative_to(ROOT)}/files/crds/"
        )
        crd = yaml.safe_load(path.read_text())
        sources[crd["metadata"]["name"]] = crd
    assert set(crds) == set(sources)
    for name, crd in crds.items():
        annotations = crd["metadata"].pop("annotations")
        assert annotations.pop("helm.sh/resource-policy") == "keep"
        assert annotations == (sources[name]["metadata"].get("annotations") or {})
        crd["metadata"].pop("labels", None)
        sources[name]["metadata"].pop("labels", None)
        assert crd == sources[name]
    not_kept = helm_render({"crds": {"keep": False}})
    assert all(
        "helm.sh/resource-policy" not in (d["metadata"].get("annotations") or {}) for d in not_kept
    )
    assert not [
        d for d in helm_render({"crds": {"install": False}}) if d["kind"].endswith("Definition")
    ]


def test_the_node_autoscaler_with_irsa_is_the_nodes_component(tmp_path: Path) -> None:
    values = {
        "nodes": {
            "enabled": True,
            "aws": {"region": "eu-west-1", "roleArn": "arn:aws:iam::111122223333:role/x"},
            "autoDiscovery": "asg:tag=k8s.io/cluster-autoscaler/enabled",
            "groups": ["1:10:spot-a"],
            "extraEnv": {"EXPANDER": "priority,least-waste"},
        }
    }
    docs = helm_render(values)
    charted = by_key(without_crds(docs))
    kustomized = by_key(overlay(tmp_path, "nodes-aws"))
    node_rbac = [k for k in kustomized if "node-autoscaler" in k[2]]
    assert node_rbac
    for where in node_rbac:
        for field in ("rules", "roleRef", "subjects"):
            if field in kustomized[where]:
                assert charted[where][field] == kustomized[where][field], (where, field)
    env = {e["name"]: e.get("value") for e in container(docs)["env"]}
    assert env["PODSCALER_RUN_CLOUD_PROVIDER"] == "aws"
    assert env["PODSCALER_RUN_AWS_REGION"] == "eu-west-1"
    assert env["PODSCALER_RUN_NODES"] == "1:10:spot-a"
    assert env["PODSCALER_RUN_EXPANDER"] == "priority,least-waste"
    account = charted[("ServiceAccount", "podscaler", "podscaler")]
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("role/x")
    assert not [k for k in by_key(without_crds(helm_render())) if "node-autoscaler" in k[2]]


def test_cert_manager_issues_the_metrics_api_certificate() -> None:
    docs = helm_render({"metricsApi": {"certManager": {"enabled": True}}}, namespace="ops")
    keyed = by_key(docs)
    certificate = keyed[("Certificate", "ops", "podscaler-metrics-apiserver")]
    assert "podscaler-metrics-apiserver.ops.svc" in certificate["spec"]["dnsNames"]
    assert certificate["spec"]["issuerRef"]["name"] == "podscaler-selfsigned"
    assert ("Issuer", "ops", "podscaler-selfsigned") in keyed
    apiservice = keyed[("APIService", "", "v1beta1.external.metrics.k8s.io")]
    assert apiservice["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "ops/podscaler-metrics-apiserver"
    }
    args = _run_args(docs)
    assert "--no-metrics-api-publish-ca-bundle" in args
    (mount,) = container(docs)["volumeMounts"]
    assert f"--metrics-api-cert-dir={mount['mountPath']}" in args
    issued = helm_render(
        {
            "metricsApi": {
                "certManager": {"enabled": True, "issuer": {"kind": "ClusterIssuer", "name": "ca"}}
            }
        }
    )
    (cert,) = [d for d in issued if d["kind"] == "Certificate"]
    assert cert["spec"]["issuerRef"] == {"kind": "ClusterIssuer", "name": "ca"}
    assert not [d for d in issued if d["kind"] == "Issuer"]


def test_monitors_and_alerts_are_the_monitoring_components() -> None:
    docs = helm_render(
        {
            "monitoring": {
                "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}},
                "podMonitor": {"enabled": True},
                "prometheusRule": {"enabled": True},
            }
        }
    )
    keyed = by_key(docs)
    service = keyed[("Service", "podscaler", "podscaler-metrics")]
    monitor = keyed[("ServiceMonitor", "podscaler", "podscaler")]
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    pod_monitor = keyed[("PodMonitor", "podscaler", "podscaler")]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    ports = {p["name"] for p in container(docs)["ports"]}
    assert {e["port"] for e in pod_monitor["spec"]["podMetricsEndpoints"]} <= ports
    rule = keyed[("PrometheusRule", "podscaler", "podscaler")]
    kustomized = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert rule["spec"] == kustomized["spec"]
    assert not {"ServiceMonitor", "PodMonitor", "PrometheusRule"} & {
        d["kind"] for d in helm_render()
    }


def test_another_namespace_moves_everything_but_kube_system(default: Docs) -> None:
    docs = without_crds(helm_render({"nodes": {"enabled": True}}, namespace="ops"))
    for doc in docs:
        namespace = doc["metadata"].get("namespace")
        if namespace is not None:
            assert namespace in ("ops", "kube-system"), key(doc)
        for subject in doc.get("subjects", []):
            if subject["name"] == "podscaler":
                assert subject["namespace"] == "ops", key(doc)
    assert "--metrics-api-service-namespace=ops" in _run_args(docs)


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"log": {"level": "verbose"}}, "at '/log/level': value must be one of"),
        ({"replicas": "two"}, "at '/replicas': got string, want integer"),
        ({"metricsApi": {"enabeld": True}}, "additional properties 'enabeld' not allowed"),
        ({"nodes": {"aws": {"roleArn": "my-role"}}}, "at '/nodes/aws/roleArn'"),
        ({"nodes": {"groups": ["spot-a"]}}, "at '/nodes/groups/0'"),
        ({"proportional": "yes"}, "at '/proportional'"),
        ({"extraArgs": ["dry-run"]}, "at '/extraArgs/0'"),
    ],
    ids=["log-level", "replicas", "typo", "role-arn", "node-group", "proportional", "extra-arg"],
)
def test_bad_values_are_refused_saying_where(values: dict[str, Any], said: str) -> None:
    helm_render()  # skips without the engine
    import helm_python

    with pytest.raises(helm_python.HelmValuesError) as refused:
        helm_render(values)
    assert said in str(refused.value)


def test_vertical_updater_rbac_follows_the_toggles() -> None:
    def updater(values: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {key(d) for d in helm_render(values) if "vertical-updater" in d["metadata"]["name"]}

    assert len(updater({})) == 2
    assert updater({"vertical": {"evictions": False}}) == set()
    off = helm_render({"vertical": {"enabled": False}})
    assert updater({"vertical": {"enabled": False}}) == set()
    assert "--no-vertical" in _run_args(off)


WEBHOOK_ON = {"vertical": {"webhook": {"enabled": True}}}


def test_the_admission_webhook_is_the_vertical_webhook_component(tmp_path: Path) -> None:
    """Same objects, same RBAC, same webhook as manifests/components/vertical-webhook; the
    port the component sets through the environment is the chart's flag."""
    docs = helm_render(WEBHOOK_ON)
    kustomized = by_key(overlay(tmp_path, "metrics-api", "vertical/rbac", "vertical-webhook"))
    kustomized.pop(("Namespace", "", "podscaler"))
    charted = by_key(without_crds(docs))
    assert set(charted) == set(kustomized)
    webhook_objects = [k for k in kustomized if "webhook" in k[2] or k[2] == "podscaler-vertical"]
    assert len(webhook_objects) == 4
    for where in webhook_objects:
        for field in ("rules", "roleRef", "subjects", "spec", "webhooks"):
            if field in kustomized[where]:
                assert charted[where][field] == kustomized[where][field], (where, field)
    mine, theirs = container(docs), container(list(kustomized.values()))
    env = {e["name"]: e.get("value") for e in theirs["env"]}
    assert f"--admission-webhook-port={env['PODSCALER_RUN_ADMISSION_WEBHOOK_PORT']}" in mine["args"]
    assert {"name": "webhook", "containerPort": 9443} in mine["ports"]
    ports = {p["name"]: p["containerPort"] for p in mine["ports"]}
    assert ports == {p["name"]: p["containerPort"] for p in theirs["ports"]}
    args = _run_args(docs)
    assert "--admission-webhook-service-namespace=podscaler" in args
    assert not [k for k in by_key(without_crds(helm_render())) if "webhook" in k[2]]
    # Self-issued, every replica issues from the one CA in a Secret: the right to mint it comes
    # with the webhook when the metrics API (which grants it too) is off. Rotating it in place
    # (update) is the metrics API's: the webhook alone never rotates, so it is not granted.
    alone = by_key(helm_render({**WEBHOOK_ON, "metricsApi": {"enabled": False}}))
    ca_role = charted[("Role", "podscaler", "podscaler-metrics-api-ca")]
    mint = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}
    assert mint in ca_role["rules"]
    assert alone[("Role", "podscaler", "podscaler-metrics-api-ca")]["rules"] == [mint]
    assert ("RoleBinding", "podscaler", "podscaler-metrics-api-ca") in alone


def test_the_webhook_skips_kube_system_and_the_release_namespace() -> None:
    docs = by_key(without_crds(helm_render(WEBHOOK_ON, namespace="ops")))
    (webhook,) = docs[("MutatingWebhookConfiguration", "", "podscaler-vertical")]["webhooks"]
    assert webhook["failurePolicy"] == "Ignore"
    assert webhook["sideEffects"] == "None"
    assert webhook["timeoutSeconds"] == 5
    assert webhook["clientConfig"]["service"]["namespace"] == "ops"
    (expression,) = webhook["namespaceSelector"]["matchExpressions"]
    assert expression == {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": ["kube-system", "ops"],
    }
    assert ("Service", "ops", "podscaler-webhook") in docs
    slow = helm_render({"vertical": {"webhook": {"enabled": True, "timeoutSeconds": 10}}})
    (configuration,) = [d for d in slow if d["kind"] == "MutatingWebhookConfiguration"]
    assert configuration["webhooks"][0]["timeoutSeconds"] == 10


def test_cert_manager_issues_the_webhook_certificate_and_injects_its_ca() -> None:
    values = {**WEBHOOK_ON, "metricsApi": {"certManager": {"enabled": True}}}
    docs = helm_render(values, namespace="ops")
    keyed = by_key(docs)
    certificate = keyed[("Certificate", "ops", "podscaler-webhook")]
    assert certificate["spec"]["dnsNames"][0] == "podscaler-webhook.ops.svc"
    assert certificate["spec"]["issuerRef"] == {"kind": "Issuer", "name": "podscaler-selfsigned"}
    configuration = keyed[("MutatingWebhookConfiguration", "", "podscaler-vertical")]
    assert configuration["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "ops/podscaler-webhook"
    }
    # cert-manager keeps the bundle: podscaler needs no right to patch the configuration.
    assert ("ClusterRole", "", "podscaler-vertical-webhook") not in keyed
    mounts = {m["name"]: m["mountPath"] for m in container(docs)["volumeMounts"]}
    assert f"--admission-webhook-cert-dir={mounts['webhook-tls']}" in _run_args(docs)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["webhook-tls"]["secret"]["secretName"] == certificate["spec"]["secretName"]
    # Without the metrics API the webhook still gets its self-signed Issuer (once).
    alone = helm_render(
        {**values, "metricsApi": {"enabled": False, "certManager": {"enabled": True}}}
    )
    assert [d["metadata"]["name"] for d in alone if d["kind"] == "Issuer"] == [
        "podscaler-selfsigned"
    ]


def test_the_webhook_without_vertical_scalers_is_refused() -> None:
    helm_render()  # skips without the engine
    import helm_python

    with pytest.raises(helm_python.HelmRenderError) as refused:
        helm_render({"vertical": {"enabled": False, "webhook": {"enabled": True}}})
    assert "vertical.webhook.enabled needs the VerticalScalers" in str(refused.value)
