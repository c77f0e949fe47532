"""``pods/resize`` on the embedded API server, over HTTP as a client sends it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from podscaler.sim.apiserver.server import ApiServer

POD = "/api/v1/namespaces/default/pods/web"
STRATEGIC = "application/strategic-merge-patch+json"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def call(
    session: aiohttp.ClientSession,
    server: ApiServer,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    async with session.request(
        method, server.url + path, json=body, headers={"Content-Type": content_type}
    ) as response:
        return response.status, await response.json()


def resources(cpu: str, memory: str = "64Mi", *, limits: bool = False) -> dict[str, Any]:
    found: dict[str, Any] = {"requests": {"cpu": cpu, "memory": memory}}
    if limits:
        found["limits"] = {"cpu": cpu, "memory": memory}
    return found


async def create(
    session: aiohttp.ClientSession, server: ApiServer, *, limits: bool = False
) -> dict[str, Any]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {
            "containers": [
                {"name": "app", "image": "nginx", "resources": resources("100m", limits=limits)}
            ]
        },
    }
    status, body = await call(session, server, "POST", "/api/v1/namespaces/default/pods", pod)
    assert status == 201, body
    return body


def patch(cpu: str, memory: str = "64Mi", *, limits: bool = False, **container: Any) -> Any:
    return {
        "spec": {
            "containers": [
                {"name": "app", "resources": resources(cpu, memory, limits=limits), **container}
            ]
        }
    }


async def test_a_resize_changes_only_the_resources(
    apiserver: ApiServer, session: aiohttp.ClientSession
) -> None:
    created = await create(session, apiserver)
    status, body = await call(
        session, apiserver, "PATCH", f"{POD}/resize", patch("250m", image="evil"), STRATEGIC
    )
    assert status == 200, body
    container = body["spec"]["containers"][0]
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "64Mi"}
    assert container["image"] == "nginx"  # not a resizable field: ignored
    assert int(body["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    status, read = await call(session, apiserver, "GET", f"{POD}/resize")
    assert status == 200
    assert read["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "250m"

    # A merge patch and a PUT of the whole pod do the same.
    status, body = await call(
        session,
        apiserver,
        "PATCH",
        f"{POD}/resize",
        patch("300m"),
        "application/merge-patch+json",
    )
    assert status == 200
    read["spec"]["containers"][0]["resources"] = resources("400m")
    read["metadata"].pop("resourceVersion")
    status, body = await call(session, apiserver, "PUT", f"{POD}/resize", read)
    assert status == 200, body
    assert body["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "400m"


async def test_a_resize_may_not_change_the_qos_class(
    apiserver: ApiServer, session: aiohttp.ClientSession
) -> None:
    await create(session, apiserver, limits=True)  # Guaranteed
    status, body = await call(
        session, apiserver, "PATCH", f"{POD}/resize", patch("200m", limits=True), STRATEGIC
    )
    assert status == 200, body  # still Guaranteed
    merge = {"spec": {"containers": [{"name": "app", "resources": resources("100m")}]}}
    status, body = await call(session, apiserver, "PATCH", f"{POD}/resize", merge, STRATEGIC)
    # Requests below the (unchanged) limits make it Burstable.
    assert status == 422, body
    assert "Pod QOS Class may not change" in body["message"]


async def test_only_cpu_and_memory_may_change(
    apiserver: ApiServer, session: aiohttp.ClientSession
) -> None:
    await create(session, apiserver)
    body = patch("100m")
    body["spec"]["containers"][0]["resources"]["requests"]["ephemeral-storage"] = "1Gi"
    status, answer = await call(session, apiserver, "PATCH", f"{POD}/resize", body, STRATEGIC)
    assert status == 422
    assert "only cpu and memory resources are mutable" in answer["message"]


async def test_a_finished_pod_cannot_be_resized(
    apiserver: ApiServer, session: aiohttp.ClientSession
) -> None:
    created = await create(session, apiserver)
    created["status"] = {"phase": "Succeeded"}
    status, _ = await call(session, apiserver, "PUT", f"{POD}/status", created)
    assert status == 200
    status, answer = await call(
        session, apiserver, "PATCH", f"{POD}/resize", patch("200m"), STRATEGIC
    )
    assert status == 422
    assert "phase Succeeded" in answer["message"]
    status, _ = await call(session, apiserver, "POST", f"{POD}/resize", patch("200m"))
    assert status == 405
