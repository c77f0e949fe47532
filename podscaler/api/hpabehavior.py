"""autoscaling/v2 ``HorizontalPodAutoscalerBehavior``, as a ScaledObject embeds it.

KEDA copies ``spec.advanced.horizontalPodAutoscalerConfig.behavior`` verbatim into the HPA it
generates, so the API server validates it with the HPA schema; podscaler, which also applies it
itself in ``direct`` mode, validates the same bounds here (e.g. a stabilization window of at most
3600 s) so a bad behavior is rejected at admission rather than at the first scale.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from podscaler.api.meta import SpecModel
from podscaler.api.quantities import QuantityField

__all__ = ["HPAScalingPolicy", "HPAScalingRules", "HorizontalPodAutoscalerBehavior"]

#: Longest stabilization window the HPA API allows (one hour).
MAX_STABILIZATION_WINDOW_SECONDS = 3600
#: Longest policy period the HPA API allows (30 minutes).
MAX_POLICY_PERIOD_SECONDS = 1800


class HPAScalingPolicy(SpecModel):
    """A single rate limit: at most ``value`` pods or percent per ``periodSeconds``."""

    type: Literal["Pods", "Percent"] = Field(
        description="Pods: change by at most value pods; Percent: by at most value percent."
    )
    value: int = Field(gt=0, description="Amount of change the policy allows; must be > 0.")
    period_seconds: int = Field(
        gt=0,
        le=MAX_POLICY_PERIOD_SECONDS,
        description="Window over which the policy holds, in seconds (1..1800).",
    )


class HPAScalingRules(SpecModel):
    """How one direction (up or down) is rate-limited and stabilized."""

    stabilization_window_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_STABILIZATION_WINDOW_SECONDS,
        description=(
            "Seconds of past recommendations considered when scaling (0..3600). Defaults: "
            "scale up 0, scale down 300."
        ),
    )
    select_policy: Literal["Max", "Min", "Disabled"] | None = Field(
        default=None,
        description="Which policy applies when several do: Max (default), Min, or Disabled.",
    )
    policies: list[HPAScalingPolicy] | None = Field(
        default=None, description="Rate limits; the one chosen by selectPolicy applies."
    )
    tolerance: QuantityField | None = Field(
        default=None,
        description=(
            "Ratio of current to desired metric within which no scaling happens "
            "(Kubernetes 1.33+; default 0.1)."
        ),
    )


class HorizontalPodAutoscalerBehavior(SpecModel):
    """Scale-up and scale-down rules (autoscaling/v2 HorizontalPodAutoscalerBehavior)."""

    scale_up: HPAScalingRules | None = Field(
        default=None,
        description="Rules for scaling up; HPA defaults: no window, max(4 pods, 100%) per 15 s.",
    )
    scale_down: HPAScalingRules | None = Field(
        default=None,
        description="Rules for scaling down; HPA defaults: 300 s window, 100% per 15 s.",
    )
