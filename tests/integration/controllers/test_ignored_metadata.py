"""Trigger metadata keys nothing reads become one Warning Event per generation on the
ScaledObject (as ``podscaler validate`` warns offline), in-process against the embedded API
server and a fake Prometheus server."""

from __future__ import annotations

from typing import Any

from podscaler.controllers.scaledobject import ScaledObjectController
from podscaler.kube.clients import Kube
from tests.integration.controllers.objects import (
    create_deployment,
    create_so,
    deployment,
    events,
    patch_so,
    prometheus_trigger,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer


async def _ignored(kube: Kube, name: str) -> list[dict[str, Any]]:
    return [
        e
        for e in await events(kube)
        if e.get("reason") == "TriggerMetadataIgnored"
        and (e.get("regarding") or {}).get("name") == name
    ]


async def test_unread_metadata_keys_are_one_warning_per_generation(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    await create_deployment(kube, deployment("typo", 1))
    prom.value = 20
    trigger = prometheus_trigger(prom.url)
    trigger["metadata"]["activationTreshold"] = "3"
    await create_so(kube, scaled_object("typo", "typo", [trigger], pollingInterval=1))

    async def polled(times: int) -> bool:
        return len(controller.decisions.recent("default", "typo")) >= times

    await wait_for(lambda: polled(4), 15)
    warned = await _ignored(kube, "typo")
    assert len(warned) == 1, warned
    event = warned[0]
    assert event["type"] == "Warning"
    assert event["note"] == (
        "trigger 0 (prometheus): 'activationTreshold' is not a parameter of prometheus "
        "triggers and is ignored; did you mean 'activationThreshold'?"
    )
    assert not (event.get("series") or {}).get("count", 0) > 1  # not repeated every poll

    # A new generation with other unread keys gets its own Warning.
    metadata = dict(trigger["metadata"], queryy="x", another="y")
    del metadata["activationTreshold"]
    await patch_so(
        kube, "typo", {"spec": {"triggers": [{"type": "prometheus", "metadata": metadata}]}}
    )

    async def second() -> bool:
        notes = {e["note"] for e in await _ignored(kube, "typo")}
        return any("did you mean 'query'?" in n and "'another' is not" in n for n in notes)

    await wait_for(second, 15)
    assert len(await _ignored(kube, "typo")) == 2


async def test_no_warning_when_every_key_is_read(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    await create_deployment(kube, deployment("clean", 1))
    prom.value = 20
    await create_so(
        kube, scaled_object("clean", "clean", [prometheus_trigger(prom.url)], pollingInterval=1)
    )

    async def polled() -> bool:
        return len(controller.decisions.recent("default", "clean")) >= 3

    await wait_for(polled, 15)
    assert await _ignored(kube, "clean") == []
