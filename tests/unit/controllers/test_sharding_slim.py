"""The slim copy a replica caches of a ScaledObject another replica owns answers everything
scheduling, target ownership and waking read, as the full object does."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.triggers import polling_interval_of
from podscaler.controllers.loop import status_is_current
from podscaler.controllers.scaledobject.controller import _seniority, _wake_worthy, target_key
from podscaler.controllers.scaledobject.slim import is_slim, slim_scaled_object


def scaled_object(**extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": "orders",
            "namespace": "shop",
            "uid": "u",
            "resourceVersion": "7",
            "generation": 3,
            "creationTimestamp": "2026-12-07T00:00:00Z",
            "annotations": {"autoscaling.keda.sh/paused": "false"},
            "finalizers": ["finalizer.keda.sh"],
        },
        "spec": {
            "scaleTargetRef": {"name": "orders", "kind": "StatefulSet"},
            "pollingInterval": 5,
            "triggers": [{"type": "prometheus", "metadata": {"query": "x" * 500}}],
            "advanced": {"horizontalPodAutoscalerConfig": {}},
        },
        "status": {
            "observedGeneration": 3,
            "conditions": [{"type": "Ready", "status": "True", "message": "long" * 50}],
            "lastActiveTime": "2026-12-07T00:00:00Z",
        },
    }
    obj.update(extra)
    return obj


def test_the_slim_copy_drops_triggers_and_status_and_keeps_what_is_read() -> None:
    full = scaled_object()
    slim = slim_scaled_object(full)
    assert is_slim(slim)
    assert not is_slim(full)
    assert "triggers" not in slim["spec"]
    assert slim["status"] == {"observedGeneration": 3}
    assert slim["metadata"] == full["metadata"]
    assert target_key(slim) == target_key(full) == ("shop", "apps/v1", "StatefulSet", "orders")
    assert _seniority(slim) == _seniority(full)
    assert status_is_current(slim)
    assert polling_interval_of(slim["spec"]) == 5


@settings(deadline=None, max_examples=100)
@given(
    generation=st.integers(1, 5),
    observed=st.none() | st.integers(1, 5),
    other_generation=st.integers(1, 5),
    annotations=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    deleting=st.booleans(),
)
def test_waking_and_current_status_read_the_same_from_both(
    generation: int,
    observed: int | None,
    other_generation: int,
    annotations: dict[str, str],
    deleting: bool,
) -> None:
    old = scaled_object()
    new = scaled_object()
    new["metadata"] = {**new["metadata"], "generation": generation, "annotations": annotations}
    if deleting:
        new["metadata"]["deletionTimestamp"] = "2026-12-07T01:00:00Z"
    old["metadata"] = {**old["metadata"], "generation": other_generation}
    new["status"] = {} if observed is None else {"observedGeneration": observed}
    assert status_is_current(slim_scaled_object(new)) == status_is_current(new)
    assert _wake_worthy(slim_scaled_object(old), slim_scaled_object(new)) == _wake_worthy(old, new)
