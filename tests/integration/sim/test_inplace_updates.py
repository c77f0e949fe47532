"""``InPlaceOrRecreate``: the updater's resize call against the embedded API server, and its
fallback to eviction as the pod's resize conditions say."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podscaler.api.verticalscaler import VerticalScaler
from podscaler.controllers.vertical.resize import PodResizer, resize_state, update_in_place
from podscaler.engine.vpa.amounts import Resources
from podscaler.engine.vpa.inplace import InPlaceAction, ResizeState, in_place_action
from podscaler.kube.clients import Kube, connect
from podscaler.sim.apiserver.server import ApiServer

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
POD = "/api/v1/namespaces/default/pods/web"


def scaler() -> VerticalScaler:
    return VerticalScaler.model_validate(
        {
            "apiVersion": "autoscaling.podscaler.io/v1alpha1",
            "kind": "VerticalScaler",
            "metadata": {"name": "web-vs", "namespace": "default"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "updatePolicy": {"updateMode": "InPlaceOrRecreate"},
            },
            "status": {
                "recommendation": {
                    "containerRecommendations": [
                        {"containerName": "app", "target": {"cpu": "587m", "memory": "262144k"}}
                    ]
                }
            },
        }
    )


@pytest.fixture
async def kube(apiserver: ApiServer) -> AsyncIterator[Kube]:
    async with await connect(server=apiserver.url) as client:
        await client.request(
            "POST",
            "/api/v1/namespaces/default/pods",
            body={
                "metadata": {"name": "web"},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx",
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "50Mi"},
                                "limits": {"cpu": "200m", "memory": "100Mi"},
                            },
                        }
                    ]
                },
            },
        )
        yield client


async def with_condition(kube: Kube, condition: dict[str, Any] | None) -> dict[str, Any]:
    pod = await kube.request("GET", POD)
    pod["status"] = {"phase": "Running", "conditions": [condition] if condition else []}
    return await kube.request("PUT", f"{POD}/status", body=pod)


async def test_a_pod_is_resized_through_the_subresource(kube: Kube) -> None:
    pod = await with_condition(kube, None)
    assert await update_in_place(kube, pod, scaler(), NOW) is InPlaceAction.RESIZE
    stored = await kube.request("GET", POD)
    resources = stored["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "587m", "memory": "262144k"}
    assert resources["limits"] == {"cpu": "1174m", "memory": "524288k"}
    assert stored["metadata"]["uid"] == pod["metadata"]["uid"]
    # Already at the recommendation: nothing more to do.
    assert await update_in_place(kube, stored, scaler(), NOW) is InPlaceAction.WAIT


def pending(reason: str, minutes: float) -> dict[str, Any]:
    stamp = (NOW - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return {
        "type": "PodResizePending",
        "status": "True",
        "reason": reason,
        "lastTransitionTime": stamp,
    }


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (pending("Infeasible", 0), InPlaceAction.EVICT),
        (pending("Deferred", 1), InPlaceAction.WAIT),
        (pending("Deferred", 6), InPlaceAction.EVICT),
    ],
)
async def test_fallback_to_eviction(
    kube: Kube, condition: dict[str, Any], expected: InPlaceAction
) -> None:
    pod = await with_condition(kube, condition)
    assert await update_in_place(kube, pod, scaler(), NOW) is expected
    stored = await kube.request("GET", POD)
    assert stored["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "100m"


def test_in_progress_waits_for_an_hour() -> None:
    assert in_place_action(ResizeState("InProgress", 3000)) is InPlaceAction.WAIT
    assert in_place_action(ResizeState("InProgress", 3700)) is InPlaceAction.EVICT
    pod = {
        "status": {
            "conditions": [
                {
                    "type": "PodResizeInProgress",
                    "status": "True",
                    "lastTransitionTime": "2026-12-07T11:00:00Z",
                }
            ]
        }
    }
    assert resize_state(pod, NOW) == ResizeState("InProgress", 3600.0)


async def test_the_updaters_resizer_uses_the_targets_it_compared(kube: Kube) -> None:
    resizer = PodResizer(kube, lambda: NOW)
    pod = await with_condition(kube, None)
    targets = {"app": Resources(300, 100 * 2**20)}
    assert await resizer.resize(pod, scaler(), targets) is True
    stored = await kube.request("GET", POD)
    requests = stored["spec"]["containers"][0]["resources"]["requests"]
    assert requests == {"cpu": "300m", "memory": "100Mi"}  # equal to the limit: as written
    assert resizer.resized == 1
    pod = await with_condition(kube, pending("Infeasible", 0))
    assert await resizer.resize(pod, scaler(), targets) is False  # evict instead
