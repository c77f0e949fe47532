"""kubectl finds Events whichever API wrote them: core/v1 and events.k8s.io/v1 are one store.

podscaler writes ``events.k8s.io/v1`` Events (with a ``series`` for repeats); the simulated
kubelet and controllers write core/v1 ones; ``kubectl describe`` and ``kubectl get events``
read core/v1 (describe with ``involvedObject.*`` field selectors). Every check here is what a
person reads in kubectl's output.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from podscaler.kube.clients import Kube, connect
from podscaler.kube.events import EventRecorder
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.sim.conftest import Kubectl

pytestmark = pytest.mark.kubectl

SCALED_OBJECT = """
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


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[Kube]:
    async with await connect(kubeconfig=kubeconfig) as client:
        yield client


def _core_event(name: str, involved: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
    """A core/v1 Event as the simulated kubelet writes one (count and source, no series)."""
    stamp = (datetime.now(UTC) - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": "Warning",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 4,
    }


async def _scaled_object(kubectl: Kubectl) -> dict[str, Any]:
    pytest.importorskip("podscaler.api.crds")
    await kubectl("apply", "-f", "-", stdin=SCALED_OBJECT)
    found: dict[str, Any] = json.loads(await kubectl("get", "so", "web", "-o", "json"))
    return found


async def test_describe_shows_podscalers_events_with_their_series(
    kubectl: Kubectl, kube: Kube
) -> None:
    so = await _scaled_object(kubectl)
    recorder = EventRecorder(kube, now=lambda: datetime.now(UTC), reporting_instance="podscaler-0")
    for _ in range(3):
        recorder.record(so, "KEDAScalersStarted", "Started scalers watch")
    recorder.record(so, "ScaledObjectReady", "ScaledObject is ready for scaling")
    await recorder.flush()
    await recorder.aclose()
    # Another object's Event must not show up under this one.
    other = {"kind": "ScaledObject", "name": "other", "namespace": "default", "uid": "x"}
    await kube.request(
        "POST",
        "/api/v1/namespaces/default/events",
        body=_core_event("other.1", other, "Nope", "not about web"),
    )

    described = await kubectl("describe", "so", "web")
    events_part = described.split("Events:", 1)[1]
    header, *rows = [line.split() for line in events_part.strip().splitlines()]
    assert header[:5] == ["Type", "Reason", "Age", "From", "Message"]
    text = "\n".join(" ".join(r) for r in rows)
    # The repeated Event is one line with its series: "(x3 over ...)".
    assert "Normal KEDAScalersStarted" in text
    assert "(x3 over" in text
    assert "podscaler Started scalers watch" in text
    assert "ScaledObjectReady" in text
    assert "podscaler ScaledObject is ready for scaling" in text
    assert "not about web" not in text


async def test_get_events_lists_both_apis_in_one_table(kubectl: Kubectl, kube: Kube) -> None:
    so = await _scaled_object(kubectl)
    recorder = EventRecorder(kube, now=lambda: datetime.now(UTC), reporting_instance="podscaler-0")
    recorder.record(so, "ScaledObjectReady", "ScaledObject is ready for scaling")
    await recorder.flush()
    await recorder.aclose()
    pod = {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "pod-uid"}
    await kube.request(
        "POST",
        "/api/v1/namespaces/default/events",
        body=_core_event("web-1.1", pod, "BackOff", "Back-off restarting failed container"),
    )

    listed = await kubectl("get", "events", "-A")
    lines = listed.strip().splitlines()
    assert lines[0].split() == ["NAMESPACE", "LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    rows = lines[1:]
    assert len(rows) == 2
    assert any("Normal" in r and "ScaledObjectReady" in r and "scaledobject/web" in r for r in rows)
    assert any("Warning" in r and "BackOff" in r and "pod/web-1" in r for r in rows)
    # The kubelet's Event was written three minutes ago: the server's Table says so.
    backoff = next(r for r in rows if "BackOff" in r).split()
    assert backoff[1] in ("3m", "3m1s", "3m2s", "179s")

    wide = (await kubectl("get", "events", "-o", "wide")).strip().splitlines()
    header = wide[0]
    for column in ("SUBOBJECT", "SOURCE", "FIRST SEEN", "COUNT", "NAME"):
        assert column in header
    backoff_wide = next(r for r in wide if "BackOff" in r)
    assert "kubelet, node-1" in backoff_wide
    assert " 4 " in backoff_wide
    ready_wide = next(r for r in wide if "ScaledObjectReady" in r)
    assert "podscaler, podscaler-0" in ready_wide

    # The same two Events through the other API, and a field selector on each.
    newer = (await kubectl("get", "events.v1.events.k8s.io", "-A")).strip().splitlines()
    assert len(newer) == 3
    selected = await kubectl("get", "events", "--field-selector", "involvedObject.kind=Pod")
    assert "BackOff" in selected
    assert "ScaledObjectReady" not in selected
    selected = await kubectl(
        "get", "events.events.k8s.io", "--field-selector", "regarding.name=web"
    )
    assert "ScaledObjectReady" in selected
    assert "BackOff" not in selected


async def test_one_event_through_both_apis(kubectl: Kubectl, kube: Kube) -> None:
    """Written as core/v1, read, patched and deleted as events.k8s.io/v1, and back."""
    pod = {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "pod-uid"}
    await kube.request(
        "POST",
        "/api/v1/namespaces/default/events",
        body=_core_event("web-1.1", pod, "BackOff", "Back-off restarting"),
    )
    newer = json.loads(await kubectl("get", "events.v1.events.k8s.io", "web-1.1", "-o", "json"))
    assert newer["apiVersion"] == "events.k8s.io/v1"
    assert newer["regarding"] == pod
    assert newer["note"] == "Back-off restarting"
    assert newer["deprecatedSource"] == {"component": "kubelet", "host": "node-1"}
    assert newer["deprecatedCount"] == 4
    assert "involvedObject" not in newer
    assert "message" not in newer
    await kube.request(
        "PATCH",
        "/apis/events.k8s.io/v1/namespaces/default/events/web-1.1",
        body={"note": "Back-off restarting failed container", "deprecatedCount": 5},
        content_type="application/merge-patch+json",
    )
    core = json.loads(await kubectl("get", "events", "web-1.1", "-o", "json"))
    assert core["apiVersion"] == "v1"
    assert core["message"] == "Back-off restarting failed container"
    assert core["count"] == 5
    assert core["involvedObject"] == pod
    assert "note" not in core
    assert "regarding" not in core
    assert core["metadata"]["resourceVersion"] != newer["metadata"]["resourceVersion"]
    assert 'event.events.k8s.io "web-1.1" deleted' in await kubectl(
        "delete", "events.events.k8s.io", "web-1.1"
    )
    assert "NotFound" in await kubectl("get", "events", "web-1.1", ok=False)


async def test_watching_core_events_sees_events_k8s_io_writes(kubectl: Kubectl, kube: Kube) -> None:
    proc = await asyncio.create_subprocess_exec(
        *kubectl.argv,
        f"--cache-dir={kubectl.cache}",
        "get",
        "events",
        "-w",
        "--field-selector",
        "involvedObject.name=web",
        "-o",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        # kubectl -w -o json prints nothing until something arrives; give it time to connect.
        await asyncio.sleep(1.0)
        recorder = EventRecorder(
            kube, now=lambda: datetime.now(UTC), reporting_instance="podscaler-0"
        )
        ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
        recorder.record({**ref, "namespace": "default", "uid": "d1"}, "Rescaled", "2 -> 3")
        await recorder.flush()
        await recorder.aclose()
        seen = ""
        async with asyncio.timeout(30):
            while '"Rescaled"' not in seen:
                line = await proc.stdout.readline()
                assert line, "kubectl get -w ended early"
                seen += line.decode()
        assert '"involvedObject"' in seen
        assert '"message": "2 -\\u003e 3"' in seen or '"message": "2 -> 3"' in seen
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def test_events_k8s_io_in_discovery(apiserver: ApiServer, kubectl: Kubectl) -> None:
    resources = await kubectl("api-resources", "--api-group=events.k8s.io", "-o", "wide")
    row = next(line for line in resources.splitlines() if line.startswith("events"))
    assert "events.k8s.io/v1" in row
    for verb in ("create", "delete", "get", "list", "patch", "watch"):
        assert verb in row
    core = await kubectl("api-resources", "--api-group=", "-o", "name")
    assert "events" in core.split()
