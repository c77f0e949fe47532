"""From a VerticalScaler manifest to engine records and back to a status: the hamster example's
policy caps the recommendation, and the status reads as upstream writes it."""

from __future__ import annotations

from pathlib import Path

import yaml

from podscaler.api.verticalscaler import VerticalScaler, VerticalScalerStatus
from podscaler.engine.vpa import (
    AggregateContainerState,
    ContainerScalingMode,
    ContainerState,
    ControlledValues,
    Resources,
    UpdateMode,
    recommend,
    recommendation_conditions,
)
from podscaler.engine.vpa.specs import (
    conditions_to_status,
    eviction_requirements_of,
    recommendation_to_status,
    resource_policy_of,
    update_mode_of,
)

ROOT = Path(__file__).resolve().parents[3]
MIB = 1024 * 1024


def _scaler(**spec: object) -> VerticalScaler:
    data = yaml.safe_load((ROOT / "manifests/examples/hamster-vertical.yaml").read_text())
    data["spec"].update(spec)
    return VerticalScaler.model_validate(data)


def test_the_policy_in_engine_units() -> None:
    spec = _scaler().spec
    (star,) = resource_policy_of(spec).container_policies
    assert star.container_name == "*"
    assert star.min_allowed == Resources(100, 50 * MIB)
    assert star.max_allowed == Resources(1000, 500 * MIB)
    assert star.mode == ContainerScalingMode.AUTO
    assert star.controlled_values == ControlledValues.REQUESTS_AND_LIMITS
    assert update_mode_of(spec) == UpdateMode.RECREATE
    assert eviction_requirements_of(spec) == ()


def test_the_hamster_status() -> None:
    state = AggregateContainerState(0.0)
    container = ContainerState(state)
    start = 1_772_409_600.0
    for minute in range(1440):
        container.add_cpu_sample(1500, start + 60 * minute)  # far above maxAllowed: 1 core
        container.add_memory_sample(200 * MIB, start + 60 * minute)
    result = recommend({"hamster": state}, resource_policy_of(_scaler().spec))
    status = VerticalScalerStatus(
        recommendation=recommendation_to_status(result),
        conditions=conditions_to_status(
            recommendation_conditions(pods_matched=True, recommendation=result), generation=3
        ),
    ).to_dict()
    (entry,) = status["recommendation"]["containerRecommendations"]
    assert entry["containerName"] == "hamster"
    assert entry["target"] == {"cpu": "1", "memory": "262144k"}
    assert entry["uncappedTarget"]["cpu"] == "1737m"
    assert entry["upperBound"] == {"cpu": "1", "memory": "496479408"}
    provided = [c for c in status["conditions"] if c["type"] == "RecommendationProvided"]
    assert provided[0]["status"] == "True"
    assert provided[0]["observedGeneration"] == 3
