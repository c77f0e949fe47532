"""The VerticalScaler's status conditions, decided from what one recommender pass saw.

Upstream's types: ``RecommendationProvided`` (always present), ``NoPodsMatched`` and
``ConfigUnsupported`` (present only while true, as upstream removes them once resolved), and
``LowConfidence``, which upstream declares but never sets. podscaler sets it while any
container's history is shorter than the confidence threshold (one day by default), because
that is when the upper bound is more than twice the target and users ask why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from podscaler.engine.vpa.recommending import PodRecommendation

__all__ = [
    "CONFIG_UNSUPPORTED",
    "LOW_CONFIDENCE",
    "NO_PODS_MATCHED",
    "RECOMMENDATION_PROVIDED",
    "ConditionState",
    "recommendation_conditions",
]

RECOMMENDATION_PROVIDED: Final = "RecommendationProvided"
LOW_CONFIDENCE: Final = "LowConfidence"
NO_PODS_MATCHED: Final = "NoPodsMatched"
CONFIG_UNSUPPORTED: Final = "ConfigUnsupported"


@dataclass(frozen=True, slots=True)
class ConditionState:
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str


def recommendation_conditions(
    *,
    pods_matched: bool,
    recommendation: PodRecommendation | None,
    config_problem: tuple[str, str] | None = None,
    low_confidence_threshold: float = 1.0,
) -> list[ConditionState]:
    """The conditions after a pass. *config_problem* is ``(reason, message)`` when the spec
    cannot be acted on (target missing or of an unsupported kind, conflicting scalers)."""
    conditions: list[ConditionState] = []
    if config_problem is not None:
        reason, message = config_problem
        conditions.append(ConditionState(CONFIG_UNSUPPORTED, "True", reason, message))
    if not pods_matched:
        conditions.append(
            ConditionState(
                NO_PODS_MATCHED, "True", "NoPodsMatched", "No pods match this VerticalScaler"
            )
        )
    if recommendation is not None and not recommendation.is_empty:
        conditions.append(
            ConditionState(
                RECOMMENDATION_PROVIDED,
                "True",
                "RecommendationProvided",
                f"Recommended for {len(recommendation.containers)} container(s)",
            )
        )
        weakest = min(recommendation.containers, key=lambda c: c.estimate.confidence)
        days = weakest.estimate.sample_span_seconds / 86400.0
        low = weakest.estimate.confidence < low_confidence_threshold
        conditions.append(
            ConditionState(
                LOW_CONFIDENCE,
                "True" if low else "False",
                "ShortHistory" if low else "EnoughHistory",
                # Coarse on purpose: a message that changed every pass (a sample count) would
                # cost a status write per scaler per minute.
                f"container {weakest.container_name}: {_span(days)} of history, confidence "
                f"{weakest.estimate.confidence:.2f}"
                + (f" (full at {low_confidence_threshold:g}): the bounds stay wide" if low else ""),
            )
        )
    else:
        if config_problem is not None:
            reason, message = config_problem[0], config_problem[1]
        elif not pods_matched:
            reason, message = "NoPodsMatched", "No pods match this VerticalScaler"
        else:
            reason, message = "NoUsageSamples", "No usage samples for any container yet"
        conditions.append(ConditionState(RECOMMENDATION_PROVIDED, "False", reason, message))
    return conditions


def _span(days: float) -> str:
    """Whole hours under a day, then days to a tenth."""
    return f"{int(days * 24)} h" if days < 1.0 else f"{days:.1f} days"
