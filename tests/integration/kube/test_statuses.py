"""Status writes over HTTP: merge patch to /status, and read-modify-write that survives real
409 conflicts (a concurrent writer between our read and our write) without losing updates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from podscaler.kube.clients import Kube
from podscaler.kube.errors import Conflict
from podscaler.kube.resources import Discovery, Resource
from podscaler.kube.statuses import patch_status, set_condition, update_status
from podscaler.sim.apiserver.server import ApiServer

Obj = dict[str, Any]
NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


async def deployment(kube: Kube, discovery: Discovery) -> Resource:
    resource = await discovery.resolve("apps/v1", "Deployment")
    await kube.request(
        "POST",
        resource.path("default"),
        body={
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
                },
            },
        },
    )
    return resource


async def test_patch_status_merges_into_status_only(kube: Kube, discovery: Discovery) -> None:
    resource = await deployment(kube, discovery)
    written = await patch_status(kube, resource, "default", "web", {"observedGeneration": 1})
    assert written["status"]["observedGeneration"] == 1
    await patch_status(kube, resource, "default", "web", {"replicas": 3})
    current = await kube.request("GET", resource.path("default", "web"))
    assert current["status"]["observedGeneration"] == 1
    assert current["status"]["replicas"] == 3
    assert current["spec"]["replicas"] == 1


async def test_update_status_retries_after_a_real_conflict(
    apiserver: ApiServer, kube: Kube, discovery: Discovery
) -> None:
    resource = await deployment(kube, discovery)
    rt = apiserver.table.get("apps", "v1", "deployments")
    assert rt is not None
    calls = 0

    def add_ready(obj: Obj) -> Obj:
        nonlocal calls
        calls += 1
        if calls == 1:
            # Another writer changes the object after our read: our write must get a 409.
            other = apiserver.store.get(rt, "default", "web").copy()
            other["status"] = {"conditions": [{"type": "Other", "status": "True"}]}
            apiserver.store.update(rt, other, namespace="default", name="web", subresource="status")
        status = dict(obj.get("status") or {})
        status["conditions"] = set_condition(
            status.get("conditions"),
            type_="Ready",
            status="True",
            reason="ScaledObjectReady",
            message="ok",
            now=NOW,
        )
        return status

    written = await update_status(kube, resource, "default", "web", add_ready)
    assert calls == 2
    assert written is not None
    types = [c["type"] for c in written["status"]["conditions"]]
    assert types == ["Other", "Ready"]  # the concurrent writer's condition survived


async def test_concurrent_read_modify_writes_lose_nothing(kube: Kube, discovery: Discovery) -> None:
    resource = await deployment(kube, discovery)
    calls = 0

    def increment(obj: Obj) -> Obj:
        nonlocal calls
        calls += 1
        status = dict(obj.get("status") or {})
        status["observedGeneration"] = int(status.get("observedGeneration") or 0) + 1
        return status

    await asyncio.gather(
        *(
            update_status(kube, resource, "default", "web", increment, max_attempts=20)
            for _ in range(6)
        )
    )
    current = await kube.request("GET", resource.path("default", "web"))
    assert current["status"]["observedGeneration"] == 6
    assert calls > 6  # conflicts did happen, and were retried


async def test_gives_up_after_max_attempts(
    apiserver: ApiServer, kube: Kube, discovery: Discovery
) -> None:
    resource = await deployment(kube, discovery)
    rt = apiserver.table.get("apps", "v1", "deployments")
    assert rt is not None

    def always_raced(obj: Obj) -> Obj:
        other = apiserver.store.get(rt, "default", "web").copy()
        other["status"] = {"replicas": int((other.get("status") or {}).get("replicas", 0)) + 1}
        apiserver.store.update(rt, other, namespace="default", name="web", subresource="status")
        return {"observedGeneration": 99}

    with pytest.raises(Conflict):
        await update_status(kube, resource, "default", "web", always_raced, max_attempts=3)


async def test_mutate_returning_none_writes_nothing(kube: Kube, discovery: Discovery) -> None:
    resource = await deployment(kube, discovery)
    before = await kube.request("GET", resource.path("default", "web"))
    assert await update_status(kube, resource, "default", "web", lambda obj: None) is None
    after = await kube.request("GET", resource.path("default", "web"))
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
