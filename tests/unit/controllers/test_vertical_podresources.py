"""What the admission webhook and in-place resize make of a pod's resources (pure)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.quantities import parse_quantity
from podscaler.api.verticalscaler import VerticalScaler
from podscaler.controllers.vertical.podresources import (
    UPDATES_ANNOTATION,
    admission_patch,
    container_updates,
)
from podscaler.sim.apiserver.patching import apply_json_patch


def scaler(target: dict[str, str], **policy: Any) -> VerticalScaler:
    spec: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
    }
    if policy:
        spec["resourcePolicy"] = {"containerPolicies": [{"containerName": "app", **policy}]}
    return VerticalScaler.model_validate(
        {
            "metadata": {"name": "web-vs", "namespace": "default"},
            "spec": spec,
            "status": {
                "recommendation": {
                    "containerRecommendations": [{"containerName": "app", "target": target}]
                }
            },
        }
    )


def pod(resources: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-1"},
        "spec": {
            "containers": [
                {"name": "sidecar", "image": "x"},
                {"name": "app", "image": "x", "resources": resources},
            ]
        },
    }


def test_the_patch_applies_and_says_what_changed() -> None:
    original = pod({"requests": {"cpu": "100m"}, "limits": {"cpu": "100m", "memory": "1Gi"}})
    updates = container_updates(original, scaler({"cpu": "250m", "memory": "256Mi"}))
    patched = apply_json_patch(original, admission_patch(original, "web-vs", updates))
    resources = patched["spec"]["containers"][1]["resources"]
    # limit == request: the limit follows; memory had no request: the limit follows too
    assert resources == {
        "requests": {"cpu": "250m", "memory": "268435456"},
        "limits": {"cpu": "250m", "memory": "268435456"},
    }
    assert patched["metadata"]["annotations"][UPDATES_ANNOTATION] == (
        "Pod resources updated by web-vs: container 1: "
        "cpu request, cpu limit, memory request, memory limit"
    )
    assert "resources" not in patched["spec"]["containers"][0]


def test_mode_off_and_uncontrolled_resources_are_left_alone() -> None:
    original = pod({"requests": {"cpu": "100m", "memory": "64Mi"}})
    assert container_updates(original, scaler({"cpu": "1"}, mode="Off")) == []
    (update,) = container_updates(
        original, scaler({"cpu": "1", "memory": "1Gi"}, controlledResources=["memory"])
    )
    assert update.resources == {"requests": {"cpu": "100m", "memory": "1073741824"}}


quantities = st.one_of(
    st.integers(0, 10**6).map(lambda n: f"{n}m"),
    st.integers(0, 2**40).map(str),
    st.sampled_from(["1", "0.5", "64Mi", "1Gi", "bogus", "", "-1", "1e3"]),
)
lists = st.dictionaries(st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), quantities)


@settings(deadline=None, max_examples=200)
@given(lists, lists, st.integers(1, 10**5), st.integers(1, 2**36))
def test_any_resources_give_a_patch_that_applies_and_keeps_the_ratio(
    requests: dict[str, str], limits: dict[str, str], cpu: int, memory: int
) -> None:
    original = pod({"requests": requests, "limits": limits})
    updates = container_updates(original, scaler({"cpu": f"{cpu}m", "memory": str(memory)}))
    patched = apply_json_patch(original, admission_patch(original, "web-vs", updates))
    resources = patched["spec"]["containers"][1]["resources"]
    # other resources are never touched
    for part, given_list in (("requests", requests), ("limits", limits)):
        if "nvidia.com/gpu" in given_list:
            assert resources[part]["nvidia.com/gpu"] == given_list["nvidia.com/gpu"]
    if updates:
        assert parse_quantity(resources["requests"]["cpu"]).milli_value() == cpu
    old_request, old_limit = _milli(requests.get("cpu")), _milli(limits.get("cpu"))
    if updates and old_request and old_limit and old_limit != old_request:
        assert _milli(resources["limits"]["cpu"]) == old_limit * cpu // old_request


def _milli(raw: str | None) -> int | None:
    try:
        return parse_quantity(raw).milli_value() if raw is not None else None
    except ValueError:
        return None
