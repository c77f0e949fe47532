"""autoscaling/v2 ``HorizontalPodAutoscalerBehavior`` and the HPA's defaults.

KEDA copies ``spec.advanced.horizontalPodAutoscalerConfig.behavior`` verbatim into the HPA it
generates, so the API server validates it with the HPA schema; podscaler, which also applies it
itself in ``direct`` mode, validates the same bounds here (e.g. a stabilization window of at most
3600 s) so a bad behavior is rejected at admission rather than at the first scale.

Two shapes of one concept: the pydantic models are the manifest's (validation, the CRD schema);
:class:`Behavior` is the same behavior frozen for the HPA engine (``to_behavior``), still with
"unset" where the user set nothing. Upstream fills in the defaults in its API layer
(``pkg/apis/autoscaling/v2/defaults.go``), and so does podscaler: :func:`resolve_behavior` is
the one place the behavior defaults apply, with the other HPA defaults beside it (tolerance,
downscale stabilization, ``minReplicas``, the default cpu metric). The one default upstream
leaves to its controller, the scale-down window, comes from the controller's flag
(``HpaSettings.downscale_stabilization_seconds``, whose default is here too).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from pydantic import Field

from podscaler.api.meta import SpecModel
from podscaler.api.quantities import QuantityField

__all__ = [
    "DEFAULT_CPU_UTILIZATION_PERCENT",
    "DEFAULT_DOWNSCALE_STABILIZATION_SECONDS",
    "DEFAULT_HPA_MIN_REPLICAS",
    "DEFAULT_SCALE_DOWN_POLICIES",
    "DEFAULT_SCALE_UP",
    "DEFAULT_TOLERANCE",
    "Behavior",
    "HPAScalingPolicy",
    "HPAScalingRules",
    "HorizontalPodAutoscalerBehavior",
    "PolicyType",
    "ResolvedBehavior",
    "ResolvedRules",
    "ScalingPolicy",
    "ScalingRules",
    "SelectPolicy",
    "resolve_behavior",
]


class PolicyType(StrEnum):
    """A scaling policy's unit: pods, or percent of the current replicas."""

    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(StrEnum):
    """Which policy applies when several do: the most permissive, the strictest, or none."""

    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


@dataclass(frozen=True)
class ScalingPolicy:
    type: PolicyType
    value: int
    period_seconds: int


@dataclass(frozen=True)
class ScalingRules:
    """One direction of ``behavior`` as written by the user: ``None`` means "not set".

    ``policies=None`` takes the defaults; an empty tuple is a list the user set to empty.
    """

    stabilization_window_seconds: int | None = None
    select_policy: SelectPolicy | None = None
    policies: tuple[ScalingPolicy, ...] | None = None
    tolerance: float | None = None


@dataclass(frozen=True)
class Behavior:
    scale_up: ScalingRules | None = None
    scale_down: ScalingRules | None = None


@dataclass(frozen=True)
class ResolvedRules:
    """One direction of ``behavior`` after upstream's defaulting: nothing left unset."""

    stabilization_window_seconds: float
    select_policy: SelectPolicy
    policies: tuple[ScalingPolicy, ...]
    tolerance: float | None = None


@dataclass(frozen=True)
class ResolvedBehavior:
    scale_up: ResolvedRules
    scale_down: ResolvedRules


#: ``minReplicas`` of an HPA that sets none; an HPA cannot go below one replica (0 is KEDA's,
#: and podscaler's, business).
DEFAULT_HPA_MIN_REPLICAS: Final = 1
#: The metric of an HPA with no ``metrics``: cpu at this percent of the pods' requests.
DEFAULT_CPU_UTILIZATION_PERCENT: Final = 80
#: ``--horizontal-pod-autoscaler-tolerance``: how far from 1.0 the usage ratio may be before
#: replicas change (per direction, ``behavior.*.tolerance`` overrides it).
DEFAULT_TOLERANCE: Final = 0.1
#: ``--horizontal-pod-autoscaler-downscale-stabilization`` (5 minutes): the scale-down window
#: of an HPA whose behavior sets none.
DEFAULT_DOWNSCALE_STABILIZATION_SECONDS: Final = 300.0
#: ``behavior.scaleUp`` defaults: no window; 4 pods or 100 % per 15 s, whichever is more.
DEFAULT_SCALE_UP: Final = ResolvedRules(
    stabilization_window_seconds=0,
    select_policy=SelectPolicy.MAX,
    policies=(
        ScalingPolicy(PolicyType.PODS, 4, 15),
        ScalingPolicy(PolicyType.PERCENT, 100, 15),
    ),
)
#: ``behavior.scaleDown`` defaults; the window comes from the controller's downscale flag.
DEFAULT_SCALE_DOWN_POLICIES: Final = (ScalingPolicy(PolicyType.PERCENT, 100, 15),)


def _resolve(
    rules: ScalingRules | None,
    window_seconds: float,
    policies: tuple[ScalingPolicy, ...],
) -> ResolvedRules:
    if rules is None:
        return ResolvedRules(window_seconds, SelectPolicy.MAX, policies)
    return ResolvedRules(
        stabilization_window_seconds=(
            window_seconds
            if rules.stabilization_window_seconds is None
            else rules.stabilization_window_seconds
        ),
        select_policy=rules.select_policy or SelectPolicy.MAX,
        policies=policies if rules.policies is None else rules.policies,
        tolerance=rules.tolerance,
    )


def resolve_behavior(
    behavior: Behavior,
    downscale_stabilization_seconds: float = DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
) -> ResolvedBehavior:
    """Fill every unset field from upstream's defaults.

    Each field is taken separately (a set ``policies`` list replaces the default list whole),
    and an unset scale-down window becomes the controller's downscale stabilization flag.
    """
    return ResolvedBehavior(
        scale_up=_resolve(
            behavior.scale_up,
            DEFAULT_SCALE_UP.stabilization_window_seconds,
            DEFAULT_SCALE_UP.policies,
        ),
        scale_down=_resolve(
            behavior.scale_down, downscale_stabilization_seconds, DEFAULT_SCALE_DOWN_POLICIES
        ),
    )


#: Longest stabilization window the HPA API allows (one hour).
MAX_STABILIZATION_WINDOW_SECONDS = 3600
#: Longest policy period the HPA API allows (30 minutes).
MAX_POLICY_PERIOD_SECONDS = 1800


class HPAScalingPolicy(SpecModel):
    """A single rate limit: at most ``value`` pods or percent per ``periodSeconds``."""

    type: PolicyType = Field(
        description="Pods: change by at most value pods; Percent: by at most value percent."
    )
    value: int = Field(gt=0, description="Amount of change the policy allows; must be > 0.")
    period_seconds: int = Field(
        gt=0,
        le=MAX_POLICY_PERIOD_SECONDS,
        description="Window over which the policy holds, in seconds (1..1800).",
    )

    def to_policy(self) -> ScalingPolicy:
        return ScalingPolicy(self.type, self.value, self.period_seconds)


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
    select_policy: SelectPolicy | None = Field(
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

    def to_rules(self) -> ScalingRules:
        return ScalingRules(
            stabilization_window_seconds=self.stabilization_window_seconds,
            select_policy=self.select_policy,
            policies=(
                None if self.policies is None else tuple(p.to_policy() for p in self.policies)
            ),
            tolerance=None if self.tolerance is None else float(self.tolerance.as_float()),
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

    def to_behavior(self) -> Behavior:
        """This behavior for the HPA engine, unset fields still unset."""
        return Behavior(
            scale_up=self.scale_up.to_rules() if self.scale_up is not None else None,
            scale_down=self.scale_down.to_rules() if self.scale_down is not None else None,
        )
