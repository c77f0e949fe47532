"""Mode hpa against the embedded API server: the owned HPA's life, and podscaler's 0↔1 part.

The real controller, a fake Prometheus server, the embedded API server; no HPA controller runs
here, so every replica change seen is podscaler's own (0↔1), never 1..N. Checked: the HPA is
created owned by the ScaledObject and named in status, updated when the spec changes, deleted
when paused and when the object goes back to direct mode (and created again when it returns),
garbage-collected with the object; a workload some other HPA scales is refused.
"""

from __future__ import annotations

from typing import Any

from podscaler.controllers.scaledobject import ScaledObjectController
from podscaler.kube.clients import Kube
from podscaler.kube.errors import NotFound
from tests.integration.controllers.objects import (
    SO_PATH,
    condition,
    create_deployment,
    create_so,
    deployment,
    get_so,
    patch_so,
    prometheus_trigger,
    replicas,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer

HPAS = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"


async def _hpa(kube: Kube, name: str) -> dict[str, Any] | None:
    try:
        return await kube.request("GET", f"{HPAS}/{name}")
    except NotFound:
        return None


async def _hpa_mode_so(kube: Kube, prom: PromServer, name: str, **spec: Any) -> dict[str, Any]:
    await create_deployment(kube, deployment(name, 0))
    spec.setdefault("advanced", {"mode": "hpa"})
    body = scaled_object(
        name,
        name,
        [prometheus_trigger(prom.url, threshold="10", activation="5")],
        pollingInterval=1,
        cooldownPeriod=1,
        maxReplicaCount=8,
        **spec,
    )
    await create_so(kube, body)
    return body


async def test_owned_hpa_created_updated_and_zero_to_one_is_podscalers(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    prom.value = 35  # direct mode would ask ceil(35 / 10) = 4
    await _hpa_mode_so(kube, prom, "orders")

    async def hpa_exists() -> bool:
        return await _hpa(kube, "keda-hpa-orders") is not None

    await wait_for(hpa_exists, 10)
    hpa = await _hpa(kube, "keda-hpa-orders")
    assert hpa is not None
    so = await get_so(kube, "orders")
    (owner,) = hpa["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "ScaledObject",
        "orders",
        so["metadata"]["uid"],
    )
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["maxReplicas"] == 8
    assert hpa["spec"]["metrics"][0]["external"]["metric"]["name"] == "s0-prometheus"

    async def activated() -> bool:
        return await replicas(kube, "orders") == 1

    await wait_for(activated, 10)
    so = await get_so(kube, "orders")
    assert so["status"]["hpaName"] == "keda-hpa-orders"
    assert so["status"]["externalMetricNames"] == ["s0-prometheus"]
    hpa_active = condition(so, "HPAActive")
    assert (hpa_active["status"], hpa_active["reason"]) == ("Unknown", "HPAMetricsUnavailable")
    # The HPA owns 1..N: podscaler itself never goes past 1, however high the metric.
    await controller.evaluator.evaluate(controller.objects[("default", "orders")])
    assert await replicas(kube, "orders") == 1

    await patch_so(kube, "orders", {"spec": {"maxReplicaCount": 12}})

    async def updated() -> bool:
        current = await _hpa(kube, "keda-hpa-orders")
        return current is not None and current["spec"]["maxReplicas"] == 12

    await wait_for(updated, 10)
    current = await _hpa(kube, "keda-hpa-orders")
    assert current is not None
    assert current["spec"]["minReplicas"] == 1
    assert current["metadata"]["uid"] == hpa["metadata"]["uid"]  # updated, not replaced

    # A steady object does not rewrite its HPA on every poll.
    version = current["metadata"]["resourceVersion"]
    await controller.evaluator.evaluate(controller.objects[("default", "orders")])
    again = await _hpa(kube, "keda-hpa-orders")
    assert again is not None
    assert again["metadata"]["resourceVersion"] == version

    prom.value = 0  # inactive: podscaler scales to 0 after the cooldown, the HPA stays

    async def deactivated() -> bool:
        return await replicas(kube, "orders") == 0

    await wait_for(deactivated, 15)
    assert await hpa_exists()

    await kube.request("DELETE", f"{SO_PATH.format(ns='default')}/orders")

    async def collected() -> bool:
        return not await hpa_exists()

    await wait_for(collected, 10)


async def test_mode_switch_and_pause_create_and_delete_the_hpa(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    prom.value = 0
    await _hpa_mode_so(kube, prom, "switch")

    async def hpa_exists() -> bool:
        return await _hpa(kube, "keda-hpa-switch") is not None

    async def hpa_gone() -> bool:
        return not await hpa_exists()

    await wait_for(hpa_exists, 10)

    await patch_so(kube, "switch", {"spec": {"advanced": {"mode": "direct"}}})
    await wait_for(hpa_gone, 10)

    async def released() -> bool:
        so = await get_so(kube, "switch")
        status = so.get("status") or {}
        return "hpaName" not in status and not condition(so, "HPAActive")

    await wait_for(released, 10)

    await patch_so(kube, "switch", {"spec": {"advanced": {"mode": "hpa"}}})
    await wait_for(hpa_exists, 10)

    # Paused: KEDA deletes its HPA so nothing scales the workload; unpaused: back.
    await patch_so(
        kube, "switch", {"metadata": {"annotations": {"autoscaling.keda.sh/paused": "true"}}}
    )
    await wait_for(hpa_gone, 10)
    await patch_so(
        kube, "switch", {"metadata": {"annotations": {"autoscaling.keda.sh/paused": None}}}
    )
    await wait_for(hpa_exists, 10)


async def test_a_workload_scaled_by_a_foreign_hpa_is_refused(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    await create_deployment(kube, deployment("legacy", 2))
    await kube.request(
        "POST",
        HPAS,
        body={
            "metadata": {"name": "legacy"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "legacy"},
                "minReplicas": 1,
                "maxReplicas": 5,
                "metrics": [],
            },
        },
    )
    await create_so(
        kube,
        scaled_object(
            "legacy",
            "legacy",
            [prometheus_trigger(prom.url)],
            pollingInterval=1,
            advanced={"mode": "hpa"},
        ),
    )

    async def refused() -> bool:
        ready = condition(await get_so(kube, "legacy"), "Ready")
        return ready.get("status") == "False"

    await wait_for(refused, 10)
    ready = condition(await get_so(kube, "legacy"), "Ready")
    assert ready["reason"] == "ScaleTargetAlreadyManaged"
    assert "already managed by the HPA legacy" in ready["message"]
    assert await _hpa(kube, "keda-hpa-legacy") is None
    assert await replicas(kube, "legacy") == 2

    # Adopting it as KEDA does: the annotation plus the HPA's name.
    await patch_so(
        kube,
        "legacy",
        {
            "metadata": {"annotations": {"scaledobject.keda.sh/transfer-hpa-ownership": "true"}},
            "spec": {
                "advanced": {"mode": "hpa", "horizontalPodAutoscalerConfig": {"name": "legacy"}}
            },
        },
    )

    async def adopted() -> bool:
        hpa = await _hpa(kube, "legacy")
        refs = (hpa or {}).get("metadata", {}).get("ownerReferences") or []
        return any(r.get("kind") == "ScaledObject" for r in refs)

    await wait_for(adopted, 10)
    hpa = await _hpa(kube, "legacy")
    assert hpa is not None
    assert hpa["spec"]["maxReplicas"] == 100
    assert hpa["spec"]["metrics"][0]["external"]["metric"]["name"] == "s0-prometheus"
    assert condition(await get_so(kube, "legacy"), "Ready")["status"] == "True"


async def test_an_hpa_annotated_hpa_ownership_false_does_not_block(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    """``validations.keda.sh/hpa-ownership: "false"`` on an HPA leaves it out of the
    one-autoscaler check, as KEDA's admission webhook does (issue 18)."""
    await create_deployment(kube, deployment("tooling", 2))
    await kube.request(
        "POST",
        HPAS,
        body={
            "metadata": {
                "name": "tooling",
                "annotations": {"validations.keda.sh/hpa-ownership": "false"},
            },
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "tooling",
                },
                "minReplicas": 1,
                "maxReplicas": 5,
                "metrics": [],
            },
        },
    )
    await create_so(
        kube,
        scaled_object(
            "tooling",
            "tooling",
            [prometheus_trigger(prom.url)],
            pollingInterval=1,
            advanced={"mode": "hpa"},
        ),
    )

    async def ours_created() -> bool:
        return await _hpa(kube, "keda-hpa-tooling") is not None

    await wait_for(ours_created, 10)
    assert (
        condition(await get_so(kube, "tooling"), "Ready")["reason"] != "ScaleTargetAlreadyManaged"
    )
