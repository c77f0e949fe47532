"""A VerticalScaler's status, composed from one recommender pass (pure; time passed in).

Upstream's shape: ``recommendation.containerRecommendations[]`` with target, lowerBound,
upperBound and uncappedTarget in upstream's quantity formatting, and the conditions of
:func:`podscaler.engine.vpa.recommendation_conditions`. Conditions keep their transition
times while their status holds; ``NoPodsMatched`` and ``ConfigUnsupported`` disappear once
resolved, as upstream removes them. A pass that could not recommend keeps the last
recommendation (upstream does too: the updater and admission keep acting on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from podscaler.engine.vpa import (
    ConditionState,
    PodRecommendation,
    quantities_of,
)
from podscaler.kube.statuses import set_condition

__all__ = ["compose_status", "recommendation_dict"]

Obj = dict[str, Any]


def recommendation_dict(recommendation: PodRecommendation) -> Obj:
    return {
        "containerRecommendations": [
            {
                "containerName": c.container_name,
                "target": quantities_of(c.target),
                "lowerBound": quantities_of(c.lower_bound),
                "upperBound": quantities_of(c.upper_bound),
                "uncappedTarget": quantities_of(c.uncapped_target),
            }
            for c in recommendation.containers
        ]
    }


def compose_status(
    *,
    previous: Mapping[str, Any] | None,
    generation: int | None,
    recommendation: PodRecommendation | None,
    conditions: Sequence[ConditionState],
    now: datetime,
) -> Obj:
    previous = previous or {}
    status: Obj = {}
    if recommendation is not None and not recommendation.is_empty:
        status["recommendation"] = recommendation_dict(recommendation)
    elif previous.get("recommendation"):
        status["recommendation"] = previous["recommendation"]
    wanted = {c.type for c in conditions}
    kept: list[Obj] = [dict(c) for c in previous.get("conditions") or () if c.get("type") in wanted]
    for condition in conditions:
        kept = set_condition(
            kept,
            type_=condition.type,
            status=condition.status,
            reason=condition.reason,
            message=condition.message,
            now=now,
            observed_generation=generation,
        )
    status["conditions"] = kept
    if generation is not None:
        status["observedGeneration"] = generation
    return status
