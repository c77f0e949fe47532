"""The real kubectl (1.32) against the embedded API server.

What a user exploring the embedded cluster types: get, describe, apply (create, then a change),
scale, label, annotate, delete and ``get -w``, plus podscaler's own CRDs with their printer
columns. The ``kubectl`` fixture is in this directory's conftest.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from podscaler.sim.apiserver.server import ApiServer
from tests.integration.sim.conftest import Kubectl

pytestmark = pytest.mark.kubectl


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        env: [{name: MODE, value: "one"}]
"""


async def test_apply_create_then_change(kubectl: Kubectl, apiserver: ApiServer) -> None:
    assert "deployment.apps/web created" in await kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    changed = DEPLOYMENT.replace('"one"', '"two"').replace("replicas: 2", "replicas: 3")
    assert "deployment.apps/web configured" in await kubectl("apply", "-f", "-", stdin=changed)
    assert "unchanged" in await kubectl("apply", "-f", "-", stdin=changed)
    rt = apiserver.table.get("apps", "v1", "deployments")
    assert rt is not None
    obj = apiserver.store.get(rt, "default", "web").obj
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "MODE", "value": "two"}
    ]
    assert obj["metadata"]["generation"] == 2


async def test_server_side_apply_owns_conflicts_and_forces(
    kubectl: Kubectl, apiserver: ApiServer
) -> None:
    applied = await kubectl("apply", "--server-side", "-f", "-", stdin=DEPLOYMENT)
    assert "deployment.apps/web serverside-applied" in applied
    await kubectl("scale", "deployment/web", "--replicas=5")
    changed = DEPLOYMENT.replace("replicas: 2", "replicas: 3")
    refused = await kubectl("apply", "--server-side", "-f", "-", stdin=changed, ok=False)
    assert "conflict" in refused.lower()
    forced = ["apply", "--server-side", "--force-conflicts", "-f", "-"]
    assert "serverside-applied" in await kubectl(*forced, stdin=changed)
    rt = apiserver.table.get("apps", "v1", "deployments")
    assert rt is not None
    obj = apiserver.store.get(rt, "default", "web").obj
    assert obj["spec"]["replicas"] == 3
    managers = {e["manager"]: e["operation"] for e in obj["metadata"]["managedFields"]}
    assert managers["kubectl"] == "Apply"
    # Dropping env from the applied intent removes it (nobody else owns it).
    dropped = changed.replace('        env: [{name: MODE, value: "one"}]\n', "")
    await kubectl("apply", "--server-side", "-f", "-", stdin=dropped)
    container = apiserver.store.get(rt, "default", "web").obj["spec"]["template"]["spec"]
    assert "env" not in container["containers"][0]


async def test_get_describe_scale_label_annotate_delete(kubectl: Kubectl) -> None:
    await kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    table = await kubectl("get", "deployments")
    assert table.splitlines()[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert "web" in table
    assert "deployment.apps/web scaled" in await kubectl("scale", "deployment/web", "--replicas=4")
    assert await kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}") == "4"
    assert "labeled" in await kubectl("label", "deployment", "web", "tier=front")
    assert "annotated" in await kubectl("annotate", "deployment", "web", "note=hello")
    assert "web" in await kubectl("get", "deploy", "-l", "tier=front")
    assert "No resources found" in await kubectl("get", "deploy", "-l", "tier=back", ok=False)
    described = await kubectl("describe", "deployment", "web")
    assert "tier=front" in described
    assert "note: hello" in described
    assert "4 desired" in described
    namespaces = await kubectl("get", "ns")
    assert "kube-system" in namespaces
    assert "Active" in namespaces
    assert 'deployment.apps "web" deleted' in await kubectl("delete", "deployment", "web")
    assert "NotFound" in await kubectl("get", "deployment", "web", ok=False)


async def test_get_watch_sees_a_change_arrive(kubectl: Kubectl, kubectl_bin: str) -> None:
    await kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    proc = await asyncio.create_subprocess_exec(
        *kubectl.argv,
        f"--cache-dir={kubectl.cache}",
        "get",
        "deployments",
        "-w",
        "--output-watch-events",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(30):
            first = await proc.stdout.readline()
            assert b"web" in first or b"EVENT" in first
            while b"web" not in first:
                first = await proc.stdout.readline()
            await kubectl("scale", "deployment/web", "--replicas=5")
            while True:
                line = await proc.stdout.readline()
                assert line, "kubectl get -w ended early"
                if b"MODIFIED" in line and b"web" in line:
                    break
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def test_podscaler_crds_with_printer_columns(kubectl: Kubectl) -> None:
    pytest.importorskip("podscaler.api.crds")
    scaled_object = """
apiVersion: autoscaling.podscaler.io/v1alpha1
kind: ScaledObject
metadata: {name: web}
spec:
  scaleTargetRef: {name: web}
  minReplicaCount: 1
  maxReplicaCount: 5
  triggers:
  - type: cpu
    metadata: {value: "50"}
"""
    assert "created" in await kubectl("apply", "-f", "-", stdin=scaled_object)
    short = await kubectl("get", "so")
    header = short.splitlines()[0].split()
    assert header[:5] == ["NAME", "SCALETARGETKIND", "SCALETARGETNAME", "MIN", "MAX"]
    assert "READY" in header
    row = short.splitlines()[1].split()
    assert row[0] == "web"
    assert "5" in row
    assert (await kubectl("get", "scaledobjects")).splitlines()[0] == short.splitlines()[0]
    changed = scaled_object.replace("maxReplicaCount: 5", "maxReplicaCount: 7")
    assert "configured" in await kubectl("apply", "-f", "-", stdin=changed)
    assert await kubectl("get", "so", "web", "-o", "jsonpath={.spec.maxReplicaCount}") == "7"


async def test_autoscale_and_hpa_read_at_both_versions(kubectl: Kubectl) -> None:
    """``kubectl autoscale`` writes an autoscaling/v1 HPA (kubectl 1.32 does), which the
    server keeps as v2; v1 clients and v2 clients see the same object."""
    await kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    out = await kubectl("autoscale", "deployment", "web", "--cpu-percent=55", "--min=2", "--max=6")
    assert "horizontalpodautoscaler.autoscaling/web autoscaled" in out
    # (kubectl expands a short name only without a version: hpa.v1.autoscaling is not one.)
    v1_hpa, v2_hpa = V1_HPA, "horizontalpodautoscalers.v2.autoscaling"
    v2 = await kubectl("get", v2_hpa, "web", "-o", "jsonpath={.spec.metrics}")
    assert '"averageUtilization":55' in v2
    v1 = await kubectl(
        "get", v1_hpa, "web", "-o", "jsonpath={.spec.targetCPUUtilizationPercentage}"
    )
    assert v1 == "55"
    assert "Deployment/web" in await kubectl("get", "hpa")
    await kubectl("patch", v1_hpa, "web", "--type=merge", "-p", '{"spec":{"maxReplicas":9}}')
    assert await kubectl("get", v2_hpa, "web", "-o", "jsonpath={.spec.maxReplicas}") == "9"
    raw = await kubectl(
        "get", "--raw", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web"
    )
    assert '"targetCPUUtilizationPercentage":55' in raw


V1_HPA = "horizontalpodautoscalers.v1.autoscaling"
