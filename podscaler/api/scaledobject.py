"""ScaledObject: KEDA's schema field for field, in ``autoscaling.podscaler.io/v1alpha1``.

Fields KEDA leaves unset stay ``None`` here rather than being filled with defaults, because
KEDA's rules tell "unset" from "set to the default value" (an unset ``minReplicaCount`` with
``idleReplicaCount: 0`` is invalid while an explicit ``0`` is fine; a *configured*
``pollingInterval`` earns a warning). Every default is applied here and nowhere else:
:meth:`ScaledObject.resolved` gives :class:`ScalingSpec`, the frozen view with KEDA's defaults
resolved that the engine decides over and the controller schedules by.

podscaler's own extensions live under ``spec.advanced`` and say so in their descriptions:
``advanced.mode`` (``direct``, the default: podscaler computes replicas itself and writes
``/scale``; ``hpa``: KEDA's way, an HPA reads podscaler's external metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

from pydantic import Field

from podscaler.api.conditions import StatusCondition
from podscaler.api.hpabehavior import DEFAULT_HPA_MIN_REPLICAS, HorizontalPodAutoscalerBehavior
from podscaler.api.meta import (
    DEFAULT_TARGET_API_VERSION,
    DEFAULT_TARGET_KIND,
    GROUP_VERSION,
    ApiModel,
    ObjectMeta,
    SpecModel,
    TargetReference,
)
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.triggers import (
    DEFAULT_POLLING_INTERVAL_SECONDS,
    RESOURCE_TRIGGER_TYPES,
    OptionalMetricType,
    ScaleTrigger,
)

__all__ = [
    "COMPOSITE_METRIC_NAME",
    "DEFAULT_COOLDOWN_PERIOD_SECONDS",
    "DEFAULT_INITIAL_COOLDOWN_PERIOD_SECONDS",
    "DEFAULT_MAX_REPLICA_COUNT",
    "DEFAULT_MIN_REPLICA_COUNT",
    "DEFAULT_MODE",
    "GENERATED_HPA_NAME_PREFIX",
    "AdvancedConfig",
    "Fallback",
    "FallbackBehavior",
    "FallbackSpec",
    "ForecastModelStatus",
    "GroupVersionKindResource",
    "HealthStatus",
    "HealthStatusType",
    "HorizontalPodAutoscalerConfig",
    "ScaleTarget",
    "ScaledObject",
    "ScaledObjectSpec",
    "ScaledObjectStatus",
    "ScalingMode",
    "ScalingModifiers",
    "ScalingModifiersSpec",
    "ScalingSpec",
    "TriggerActivity",
    "scale_target_of",
]

#: KEDA's defaults (``scale_executor.go``, ``scaledobject_types.go``) and podscaler's own;
#: applied by :meth:`ScaledObjectSpec.resolved` and nowhere else (``pollingInterval``'s, shared
#: with ScaledJobs, is in :mod:`podscaler.api.triggers`).
DEFAULT_COOLDOWN_PERIOD_SECONDS: Final = 300
DEFAULT_INITIAL_COOLDOWN_PERIOD_SECONDS: Final = 0
DEFAULT_MIN_REPLICA_COUNT: Final = 0
DEFAULT_MAX_REPLICA_COUNT: Final = 100
#: Name of the single external metric that replaces the triggers' when a formula is set.
COMPOSITE_METRIC_NAME: Final = "composite-metric"
#: Prefix of the generated HPA's name when none is configured (KEDA's, for drop-in migration).
GENERATED_HPA_NAME_PREFIX: Final = "keda-hpa-"


class FallbackBehavior(StrEnum):
    """``spec.fallback.behavior``: which replica count a failing metric pretends to ask for."""

    STATIC = "static"
    CURRENT_REPLICAS = "currentReplicas"
    CURRENT_REPLICAS_IF_HIGHER = "currentReplicasIfHigher"
    CURRENT_REPLICAS_IF_LOWER = "currentReplicasIfLower"
    SCALING_MODIFIERS = "scalingModifiers"


ScalingMode = Literal["direct", "hpa"]
#: podscaler's default ``advanced.mode``: it computes 0..N itself.
DEFAULT_MODE: Final[ScalingMode] = "direct"


def scale_target_of(spec: object) -> tuple[str, str, str] | None:
    """``(apiVersion, kind, name)`` of ``spec.scaleTargetRef`` in an object's JSON *spec*,
    valid or not, with the defaults applied; ``None`` without a name.

    The controller keys its one-ScaledObject-per-workload check by it for every object it
    watches, before (and whether or not) the object validates; for a valid object it is
    :attr:`ScaleTarget.effective_api_version`, ``effective_kind`` and ``name``.
    """
    ref = spec.get("scaleTargetRef") if isinstance(spec, Mapping) else None
    name = ref.get("name") if isinstance(ref, Mapping) else None
    if not isinstance(ref, Mapping) or not isinstance(name, str) or not name:
        return None
    return (
        str(ref.get("apiVersion") or DEFAULT_TARGET_API_VERSION),
        str(ref.get("kind") or DEFAULT_TARGET_KIND),
        name,
    )


_NO_ANNOTATIONS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class FallbackSpec:
    """``spec.fallback``, resolved. Fallback engages once a metric failed *more than*
    ``failure_threshold`` consecutive times; negative numbers make the whole fallback inert
    (KEDA's ``HasValidFallback``), they are not clamped."""

    failure_threshold: int
    replicas: int
    behavior: FallbackBehavior = FallbackBehavior.STATIC


@dataclass(frozen=True)
class ScalingModifiersSpec:
    """``spec.advanced.scalingModifiers``; strings exactly as in the manifest ("" = unset),
    because KEDA parses them where it uses them (a target that is not a number is an error
    of that poll, not of the object)."""

    formula: str = ""
    target: str = ""
    activation_target: str = ""
    metric_type: MetricTargetType | None = None

    @property
    def in_use(self) -> bool:
        """KEDA's ``IsUsingModifiers``: any field set at all switches the composite metric on."""
        return bool(self.formula or self.target or self.activation_target or self.metric_type)

    @property
    def effective_metric_type(self) -> MetricTargetType:
        return self.metric_type or MetricTargetType.AVERAGE_VALUE


@dataclass(frozen=True)
class ScalingSpec:
    """A ScaledObject as the engine decides over it and the controller schedules it: every
    default resolved, frozen.

    Build one with :meth:`ScaledObject.resolved` (or :meth:`resolve` from loose fields, where
    ``None`` means "unset", as in a manifest). ``idle_replica_count`` stays ``None`` when
    unset: that is not a default but "no idle mode". ``trigger_types`` lists
    ``spec.triggers[].type`` in order (the "only cpu/memory triggers ⇒ always active" rule
    holds even when a poll observed nothing for some trigger); ``annotations`` are
    ``metadata.annotations`` (the pause annotations); ``created_seconds`` is
    ``metadata.creationTimestamp`` in Unix seconds, ``None`` meaning "just created" (KEDA then
    uses now), which matters for ``initialCooldownPeriod``.
    """

    min_replica_count: int = DEFAULT_MIN_REPLICA_COUNT
    max_replica_count: int = DEFAULT_MAX_REPLICA_COUNT
    idle_replica_count: int | None = None
    polling_interval_seconds: int = DEFAULT_POLLING_INTERVAL_SECONDS
    cooldown_period_seconds: int = DEFAULT_COOLDOWN_PERIOD_SECONDS
    initial_cooldown_period_seconds: int = DEFAULT_INITIAL_COOLDOWN_PERIOD_SECONDS
    fallback: FallbackSpec | None = None
    scaling_modifiers: ScalingModifiersSpec | None = None
    trigger_types: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=lambda: _NO_ANNOTATIONS)
    created_seconds: float | None = None

    @classmethod
    def resolve(
        cls,
        *,
        min_replica_count: int | None = None,
        max_replica_count: int | None = None,
        idle_replica_count: int | None = None,
        polling_interval: int | None = None,
        cooldown_period: int | None = None,
        initial_cooldown_period: int | None = None,
        fallback: FallbackSpec | None = None,
        scaling_modifiers: ScalingModifiersSpec | None = None,
        trigger_types: tuple[str, ...] = (),
        annotations: Mapping[str, str] | None = None,
        created_seconds: float | None = None,
    ) -> ScalingSpec:
        """The spec with KEDA's defaults in place of every unset (``None``) field."""
        return cls(
            min_replica_count=_given(min_replica_count, DEFAULT_MIN_REPLICA_COUNT),
            max_replica_count=_given(max_replica_count, DEFAULT_MAX_REPLICA_COUNT),
            idle_replica_count=idle_replica_count,
            polling_interval_seconds=_given(polling_interval, DEFAULT_POLLING_INTERVAL_SECONDS),
            cooldown_period_seconds=_given(cooldown_period, DEFAULT_COOLDOWN_PERIOD_SECONDS),
            initial_cooldown_period_seconds=_given(
                initial_cooldown_period, DEFAULT_INITIAL_COOLDOWN_PERIOD_SECONDS
            ),
            fallback=fallback,
            scaling_modifiers=scaling_modifiers,
            trigger_types=trigger_types,
            annotations=MappingProxyType(dict(annotations)) if annotations else _NO_ANNOTATIONS,
            created_seconds=created_seconds,
        )

    @property
    def hpa_min_replicas(self) -> int:
        """KEDA's ``GetHPAMinReplicas``: ``minReplicaCount``, at least 1 (0 is the executor's
        business); also the count an activation scales to."""
        return max(self.min_replica_count, DEFAULT_HPA_MIN_REPLICAS)

    @property
    def hpa_max_replicas(self) -> int:
        """KEDA's ``GetHPAMaxReplicas``: ``maxReplicaCount``."""
        return self.max_replica_count

    @property
    def uses_modifiers(self) -> bool:
        return self.scaling_modifiers is not None and self.scaling_modifiers.in_use

    @property
    def only_resource_triggers(self) -> bool:
        """All triggers are cpu/memory: KEDA then treats the object as always active."""
        return all(t in RESOURCE_TRIGGER_TYPES for t in self.trigger_types)


def _given(value: int | None, default: int) -> int:
    return default if value is None else value


class ScaleTarget(TargetReference):
    """The workload to scale: anything that serves the ``/scale`` subresource."""

    env_source_container_name: str | None = Field(
        default=None,
        description=(
            "Container whose environment resolves xxxFromEnv trigger parameters; "
            "defaults to the first container."
        ),
    )


class Fallback(SpecModel):
    """Replicas to run while a trigger keeps failing."""

    failure_threshold: int = Field(
        json_schema_extra={"minimum": 0},
        description="Consecutive failures of a metric after which fallback applies (> threshold).",
    )
    replicas: int = Field(
        json_schema_extra={"minimum": 0},
        description="Replica count to fall back to (how it is used depends on behavior).",
    )
    behavior: FallbackBehavior = Field(
        default=FallbackBehavior.STATIC,
        description=(
            "static: fallback.replicas; currentReplicas: keep the current count; "
            "currentReplicasIfHigher / IfLower: the larger / smaller of current and replicas; "
            "scalingModifiers: failing triggers enter the formula as nil."
        ),
    )

    def resolved(self) -> FallbackSpec:
        return FallbackSpec(self.failure_threshold, self.replicas, self.behavior)


class ScalingModifiers(SpecModel):
    """Combine named triggers' metrics with a formula into one composite metric."""

    formula: str | None = Field(
        default=None,
        description=(
            "expr-lang expression over trigger names (cpu/memory excluded), e.g. "
            "'(queue + lag) / 2'; its value is the composite metric."
        ),
    )
    target: str | None = Field(
        default=None,
        description="Target of the composite metric: a number > 0, as a string; needs a formula.",
    )
    activation_target: str | None = Field(
        default=None,
        description="The object is active while the composite value is above this (default 0).",
    )
    metric_type: OptionalMetricType = Field(
        default=None,
        description="Target type of the composite metric: AverageValue (default) or Value.",
    )

    def resolved(self) -> ScalingModifiersSpec:
        return ScalingModifiersSpec(
            formula=self.formula or "",
            target=self.target or "",
            activation_target=self.activation_target or "",
            metric_type=self.metric_type,
        )


class HorizontalPodAutoscalerConfig(SpecModel):
    """Settings of the generated HPA (mode hpa) and of the scaling behavior (both modes)."""

    name: str | None = Field(
        default=None, description="Name of the generated HPA; defaults to keda-hpa-<name>."
    )
    behavior: HorizontalPodAutoscalerBehavior | None = Field(
        default=None,
        description=(
            "autoscaling/v2 scaling behavior (stabilization windows and rate policies); copied "
            "into the HPA in mode hpa, applied by podscaler itself in mode direct."
        ),
    )


class AdvancedConfig(SpecModel):
    """KEDA's advanced options, plus podscaler's extensions (marked as such)."""

    horizontal_pod_autoscaler_config: HorizontalPodAutoscalerConfig | None = Field(
        default=None, description="HPA name and autoscaling/v2 behavior."
    )
    restore_to_original_replica_count: bool | None = Field(
        default=None,
        description="On deletion, restore the replica count the target had before (default false).",
    )
    scaling_modifiers: ScalingModifiers | None = Field(
        default=None, description="Formula combining the triggers' metrics into one."
    )
    mode: ScalingMode = Field(
        default=DEFAULT_MODE,
        description=(
            "podscaler extension. direct (default): podscaler computes replicas with the HPA "
            "algorithm and writes /scale, 0..N in one place. hpa: KEDA's way, an HPA reads "
            "podscaler's external metrics and podscaler handles only 0<->1."
        ),
    )


class ScaledObjectSpec(SpecModel):
    """What to scale, on which triggers, within which bounds."""

    scale_target_ref: ScaleTarget = Field(description="The workload to scale.")
    polling_interval: int | None = Field(
        default=None,
        ge=1,
        description="Seconds between trigger polls for activation and status (default 30).",
    )
    cooldown_period: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Seconds after the last active poll before scaling to zero or idle (default 300)."
        ),
    )
    initial_cooldown_period: int | None = Field(
        default=None,
        ge=0,
        description="Seconds after creation before the first scale to zero or idle (default 0).",
    )
    idle_replica_count: int | None = Field(
        default=None,
        ge=0,
        description="Replicas while no trigger is active; below minReplicaCount (unset: off).",
    )
    min_replica_count: int | None = Field(
        default=None, ge=0, description="Fewest replicas while active (default 0)."
    )
    max_replica_count: int | None = Field(
        default=None, ge=0, description="Most replicas (default 100)."
    )
    advanced: AdvancedConfig | None = Field(
        default=None, description="HPA settings, scaling modifiers, and podscaler extensions."
    )
    triggers: list[ScaleTrigger] = Field(
        json_schema_extra={"minItems": 1},
        description="Event sources the object scales on (at least one).",
    )
    fallback: Fallback | None = Field(
        default=None, description="Replicas to run while triggers fail."
    )

    def resolved(
        self,
        *,
        annotations: Mapping[str, str] | None = None,
        created_seconds: float | None = None,
    ) -> ScalingSpec:
        """This spec with every default resolved; *annotations* and *created_seconds* come
        from the object's metadata (see :meth:`ScaledObject.resolved`)."""
        advanced = self.advanced
        modifiers = advanced.scaling_modifiers if advanced is not None else None
        return ScalingSpec.resolve(
            min_replica_count=self.min_replica_count,
            max_replica_count=self.max_replica_count,
            idle_replica_count=self.idle_replica_count,
            polling_interval=self.polling_interval,
            cooldown_period=self.cooldown_period,
            initial_cooldown_period=self.initial_cooldown_period,
            fallback=self.fallback.resolved() if self.fallback is not None else None,
            scaling_modifiers=modifiers.resolved() if modifiers is not None else None,
            trigger_types=tuple(t.type for t in self.triggers),
            annotations=annotations,
            created_seconds=created_seconds,
        )

    @property
    def mode(self) -> ScalingMode:
        return self.advanced.mode if self.advanced is not None else DEFAULT_MODE

    @property
    def scaling_modifiers(self) -> ScalingModifiers | None:
        """The scaling modifiers when any of their fields is set, else ``None``."""
        if self.advanced is None or self.advanced.scaling_modifiers is None:
            return None
        modifiers = self.advanced.scaling_modifiers
        return modifiers if modifiers.resolved().in_use else None

    @property
    def is_using_modifiers(self) -> bool:
        return self.scaling_modifiers is not None

    @property
    def behavior(self) -> HorizontalPodAutoscalerBehavior | None:
        config = self.advanced.horizontal_pod_autoscaler_config if self.advanced else None
        return config.behavior if config else None


class HealthStatusType(StrEnum):
    """Whether a metric's last poll succeeded (``status.health[metric].status``)."""

    HAPPY = "Happy"
    FAILING = "Failing"


class ForecastModelStatus(ApiModel):
    """A predictive trigger's model as of its last fit (podscaler addition). Holds nothing
    that changes per poll: the live value and the forecast are in ``podscaler explain``."""

    model: str | None = Field(
        default=None, description="The model chosen by backtest (e.g. ridge-daily-48)."
    )
    used: bool | None = Field(
        default=None,
        description="False when the model did not beat the live value on its held-out day "
        "(the live value is reported then).",
    )
    backtest_mape: float | None = Field(
        default=None,
        description="Mean absolute percentage error forecasting one horizon ahead on the "
        "held-out last day (0.05 is 5%).",
    )
    backtest_mae: float | None = Field(
        default=None, description="Mean absolute error on the held-out day (what decides)."
    )
    live_value_mape: float | None = Field(
        default=None, description="The same error for the live value alone, to compare."
    )
    history_samples: int | None = Field(
        default=None, description="Samples of history the model was fitted on."
    )
    fitted_at: str | None = Field(
        default=None, description="End of the history the model was fitted on."
    )
    fit_seconds: float | None = Field(default=None, description="CPU time the fit took (seconds).")
    last_error: str | None = Field(
        default=None, description="Why the last refit failed (the older model is kept)."
    )


class HealthStatus(ApiModel):
    """Failure count of one metric, for fallback."""

    number_of_failures: int | None = Field(
        default=None, description="Consecutive failures of the metric."
    )
    status: HealthStatusType | None = Field(
        default=None, description="Happy after a success, Failing after a failure."
    )
    forecast: ForecastModelStatus | None = Field(
        default=None, description="A predictive trigger's model: backtest error, fit time."
    )


class TriggerActivity(ApiModel):
    """Whether one metric was active at the last poll."""

    is_active: bool = Field(description="True when the metric was above its activation threshold.")


class LastDecision(ApiModel):
    """The latest scaling decision in short form (podscaler addition; ``podscaler explain``).

    It carries no timestamp and no raw metric values, so it changes only when the decision
    does and a steady object costs no status writes; the full records are served by the
    operator at ``/debug/decisions``.
    """

    rule: str = Field(
        description="The rule that bound the result: activation, cooldown, idle, hpa, "
        "fallback, pause, minReplicas, maxReplicas …"
    )
    summary: str = Field(description="One sentence a person can read.")
    replicas: int | None = Field(default=None, description="The replica count decided.")
    bound_by: str | None = Field(
        default=None,
        description="For HPA calculations: what limited the result (Tolerance, "
        "StabilizationWindow, ScaleUpPolicy, MaxReplicas …).",
    )
    dry_run: bool | None = Field(
        default=None, description="True when the operator runs with --dry-run and wrote nothing."
    )


class GroupVersionKindResource(ApiModel):
    """The resolved scale target type."""

    group: str = Field(description="API group of the target.")
    version: str = Field(description="API version of the target.")
    kind: str = Field(description="Kind of the target.")
    resource: str = Field(description="Resource (plural) of the target.")


class ForecastHeadroom(ApiModel):
    """Replicas a predictive trigger's forecast over its ``nodeHorizon`` needs beyond the
    current ones, offered to the node autoscaler on whichever replica runs it (podscaler
    addition, written under ``--shard``; see podscaler.controllers.triggers.published)."""

    replicas: int = Field(
        description="Extra replicas expected; nodes are planned for that many pods.",
        json_schema_extra={"minimum": 1},
    )
    selector: str = Field(description="The target's pod selector (from /scale).")
    expires_at: datetime = Field(
        description="When the offer lapses unless the owner renews it (a dead owner's does)."
    )


class ScaledObjectStatus(ApiModel):
    """What podscaler last observed and decided; written only by podscaler."""

    scale_target_kind: str | None = Field(
        default=None, description="Group/version.Kind of the target, e.g. apps/v1.Deployment."
    )
    scale_target_gvkr: GroupVersionKindResource | None = Field(
        default=None, alias="scaleTargetGVKR", description="The resolved target type."
    )
    original_replica_count: int | None = Field(
        default=None, description="Target replicas when first seen, restored on deletion if asked."
    )
    last_active_time: datetime | None = Field(
        default=None, description="Last poll at which a trigger was active."
    )
    external_metric_names: list[str] | None = Field(
        default=None, description="External metric names served for this object (s0-cron-…)."
    )
    resource_metric_names: list[str] | None = Field(
        default=None, description="Resource metrics used (cpu, memory)."
    )
    composite_scaler_name: str | None = Field(
        default=None, description="composite-metric when scalingModifiers are in use."
    )
    conditions: list[StatusCondition] | None = Field(
        default=None, description="Ready, Active, Fallback, Paused (and HPAActive in mode hpa)."
    )
    health: dict[str, HealthStatus] | None = Field(
        default=None, description="Failure counts per metric name, when fallback is configured."
    )
    triggers_activity: dict[str, TriggerActivity] | None = Field(
        default=None, description="Activity per metric name at the last poll."
    )
    paused_replica_count: int | None = Field(
        default=None, description="Replica count held by the paused-replicas annotation."
    )
    hpa_name: str | None = Field(default=None, description="Name of the generated HPA (mode hpa).")
    mode: ScalingMode | None = Field(
        default=None,
        description=(
            "The mode in effect: spec.advanced.mode, or direct when unset (podscaler addition; "
            "the MODE column)."
        ),
    )
    triggers_types: str | None = Field(
        default=None, description="Comma-separated trigger types, e.g. cron,kafka."
    )
    authentications_types: str | None = Field(
        default=None, description="Comma-separated authentication kinds referenced."
    )
    observed_generation: int | None = Field(
        default=None,
        description="metadata.generation this status reflects (podscaler addition).",
    )
    last_decision: LastDecision | None = Field(
        default=None, description="The latest decision in short form (podscaler addition)."
    )
    forecast_headroom: ForecastHeadroom | None = Field(
        default=None,
        description="Forecast headroom offered to the node autoscaler (podscaler addition).",
    )


class ScaledObject(ApiModel):
    """Scales a workload on events, 0..N (kubectl short name: so)."""

    api_version: str = Field(default=GROUP_VERSION, description="autoscaling.podscaler.io/v1alpha1")
    kind: Literal["ScaledObject"] = Field(default="ScaledObject", description="ScaledObject")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard metadata.")
    spec: ScaledObjectSpec = Field(description="Desired scaling.")
    status: ScaledObjectStatus | None = Field(default=None, description="Observed state.")

    def resolved(self) -> ScalingSpec:
        """The spec with every default resolved, with the metadata the engine reads (the
        annotations, and the creation time in Unix seconds)."""
        created = self.metadata.creation_timestamp
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        return self.spec.resolved(
            annotations=self.metadata.annotations,
            created_seconds=created.timestamp() if created is not None else None,
        )

    def hpa_name(self) -> str:
        """Name of the generated HPA: the configured one, else ``keda-hpa-<name>``."""
        advanced = self.spec.advanced
        config = advanced.horizontal_pod_autoscaler_config if advanced else None
        if config is not None and config.name:
            return config.name
        return f"{GENERATED_HPA_NAME_PREFIX}{self.metadata.name or ''}"
