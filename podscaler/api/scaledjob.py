"""ScaledJob: runs Kubernetes Jobs for queued events, KEDA's schema in our API group.

The job template is a batch/v1 JobSpec. Its common fields are typed; the pod template and any
other JobSpec field are kept as given (the API server validates them when the Job is created),
which keeps this layer free of the whole core/v1 Pod schema.

Unset fields stay ``None``; :meth:`ScaledJobSpec.resolved` applies KEDA's defaults, here and
nowhere else, and gives the frozen :class:`ScaledJobScaling` the controller and the engine read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import ConfigDict, Field

from podscaler.api.conditions import StatusCondition
from podscaler.api.meta import GROUP_VERSION, ApiModel, ObjectMeta, SpecModel
from podscaler.api.triggers import DEFAULT_POLLING_INTERVAL_SECONDS, ScaleTrigger

__all__ = [
    "DEFAULT_FAILED_JOBS_HISTORY_LIMIT",
    "DEFAULT_MULTIPLE_SCALERS_CALCULATION",
    "DEFAULT_ROLLOUT_STRATEGY",
    "DEFAULT_SCALED_JOB_MAX_REPLICAS",
    "DEFAULT_SCALED_JOB_MIN_REPLICAS",
    "DEFAULT_SCALING_STRATEGY",
    "DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT",
    "JobTargetRef",
    "MultipleScalersCalculation",
    "Rollout",
    "ScaledJob",
    "ScaledJobScaling",
    "ScaledJobSpec",
    "ScaledJobStatus",
    "ScalingStrategy",
    "ScalingStrategyName",
]


class ScalingStrategyName(StrEnum):
    """``scalingStrategy.strategy``: how running and pending Jobs count against the queue."""

    DEFAULT = "default"
    CUSTOM = "custom"
    ACCURATE = "accurate"
    EAGER = "eager"


class MultipleScalersCalculation(StrEnum):
    """``scalingStrategy.multipleScalersCalculation``: how the active triggers combine."""

    MAX = "max"
    MIN = "min"
    AVG = "avg"
    SUM = "sum"


RolloutStrategy = Literal["default", "gradual", "immediate"]

#: KEDA's defaults (``scaledjob_types.go``, ``scale_jobs.go``); applied by
#: :meth:`ScaledJobSpec.resolved` and nowhere else.
DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT: Final = 100
DEFAULT_FAILED_JOBS_HISTORY_LIMIT: Final = 100
DEFAULT_SCALED_JOB_MIN_REPLICAS: Final = 0
DEFAULT_SCALED_JOB_MAX_REPLICAS: Final = 100
DEFAULT_SCALING_STRATEGY: Final = ScalingStrategyName.DEFAULT
DEFAULT_MULTIPLE_SCALERS_CALCULATION: Final = MultipleScalersCalculation.MAX
DEFAULT_ROLLOUT_STRATEGY: Final[RolloutStrategy] = "default"


@dataclass(frozen=True)
class ScaledJobScaling:
    """A ScaledJob's spec with every default resolved: what a poll reads.

    ``queue_length_deduction`` and ``running_job_percentage`` are the custom strategy's,
    as written (``None`` when unset): whether the percentage parses decides which strategy
    KEDA really applies, and that is the engine's business.
    """

    polling_interval_seconds: int = DEFAULT_POLLING_INTERVAL_SECONDS
    min_replica_count: int = DEFAULT_SCALED_JOB_MIN_REPLICAS
    max_replica_count: int = DEFAULT_SCALED_JOB_MAX_REPLICAS
    successful_jobs_history_limit: int = DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT
    failed_jobs_history_limit: int = DEFAULT_FAILED_JOBS_HISTORY_LIMIT
    scaling_strategy: ScalingStrategyName = DEFAULT_SCALING_STRATEGY
    queue_length_deduction: int | None = None
    running_job_percentage: str | None = None
    pending_pod_conditions: tuple[str, ...] = ()
    multiple_scalers_calculation: MultipleScalersCalculation = DEFAULT_MULTIPLE_SCALERS_CALCULATION
    rollout_strategy: RolloutStrategy = DEFAULT_ROLLOUT_STRATEGY

    @property
    def gradual_rollout(self) -> bool:
        """A spec change lets running Jobs finish instead of deleting them."""
        return self.rollout_strategy == "gradual"


class JobTargetRef(SpecModel):
    """The batch/v1 JobSpec of the Jobs to create; fields not listed are kept as given."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"x-kubernetes-preserve-unknown-fields": True}
    )

    parallelism: int | None = Field(
        default=None, ge=0, description="Pods of a Job run in parallel."
    )
    completions: int | None = Field(default=None, ge=0, description="Successful pods a Job needs.")
    active_deadline_seconds: int | None = Field(
        default=None, ge=1, description="Seconds a Job may run before it is terminated."
    )
    backoff_limit: int | None = Field(
        default=None, ge=0, description="Retries before a Job is marked failed (default 6)."
    )
    ttl_seconds_after_finished: int | None = Field(
        default=None, ge=0, description="Seconds after which a finished Job is deleted."
    )
    template: dict[str, Any] = Field(
        description="core/v1 PodTemplateSpec of the Job's pods (validated by the API server)."
    )


class Rollout(SpecModel):
    """What happens to running Jobs when the ScaledJob changes."""

    strategy: RolloutStrategy | None = Field(
        default=None,
        description="default/immediate: delete running Jobs on update; gradual: let them finish.",
    )
    propagation_policy: Literal["foreground", "background"] | None = Field(
        default=None, description="Deletion propagation for deleted Jobs (default background)."
    )


class ScalingStrategy(SpecModel):
    """How many Jobs to create for the pending work."""

    strategy: ScalingStrategyName | None = Field(
        default=None, description="default, custom, accurate or eager (see the docs)."
    )
    custom_scaling_queue_length_deduction: int | None = Field(
        default=None, description="custom strategy: Jobs to subtract from the queue length."
    )
    custom_scaling_running_job_percentage: str | None = Field(
        default=None,
        description="custom strategy: fraction of running Jobs to subtract, e.g. '0.5'.",
    )
    pending_pod_conditions: list[str] | None = Field(
        default=None,
        description="Pod conditions that must all be true for a pod not to count as pending.",
    )
    multiple_scalers_calculation: MultipleScalersCalculation | None = Field(
        default=None, description="How the active triggers' values combine (default max)."
    )


class ScaledJobSpec(SpecModel):
    """Which Jobs to run for which triggers, within which bounds."""

    job_target_ref: JobTargetRef = Field(description="Template of the Jobs to create.")
    polling_interval: int | None = Field(
        default=None, ge=1, description="Seconds between trigger polls (default 30)."
    )
    successful_jobs_history_limit: int | None = Field(
        default=None, ge=0, description="Finished successful Jobs kept (default 100)."
    )
    failed_jobs_history_limit: int | None = Field(
        default=None, ge=0, description="Failed Jobs kept (default 100)."
    )
    env_source_container_name: str | None = Field(
        default=None, description="Container whose environment resolves xxxFromEnv parameters."
    )
    min_replica_count: int | None = Field(
        default=None, ge=0, description="Jobs kept running even without events (default 0)."
    )
    max_replica_count: int | None = Field(
        default=None, ge=0, description="Most Jobs running at once (default 100)."
    )
    rolling_update_strategy: str | None = Field(
        default=None,
        alias="rolloutStrategy",
        description="Deprecated: use rollout.strategy.",
    )
    rollout: Rollout | None = Field(default=None, description="Handling of running Jobs on update.")
    scaling_strategy: ScalingStrategy | None = Field(
        default=None, description="How many Jobs to create."
    )
    triggers: list[ScaleTrigger] = Field(
        json_schema_extra={"minItems": 1},
        description="Event sources the Jobs are created for (at least one).",
    )

    def resolved(self) -> ScaledJobScaling:
        """This spec with KEDA's defaults in place of every unset field."""
        strategy = self.scaling_strategy or ScalingStrategy()
        rollout = self.rollout.strategy if self.rollout is not None else None
        return ScaledJobScaling(
            polling_interval_seconds=_given(
                self.polling_interval, DEFAULT_POLLING_INTERVAL_SECONDS
            ),
            min_replica_count=_given(self.min_replica_count, DEFAULT_SCALED_JOB_MIN_REPLICAS),
            max_replica_count=_given(self.max_replica_count, DEFAULT_SCALED_JOB_MAX_REPLICAS),
            successful_jobs_history_limit=_given(
                self.successful_jobs_history_limit, DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT
            ),
            failed_jobs_history_limit=_given(
                self.failed_jobs_history_limit, DEFAULT_FAILED_JOBS_HISTORY_LIMIT
            ),
            scaling_strategy=strategy.strategy or DEFAULT_SCALING_STRATEGY,
            queue_length_deduction=strategy.custom_scaling_queue_length_deduction,
            running_job_percentage=strategy.custom_scaling_running_job_percentage,
            pending_pod_conditions=tuple(strategy.pending_pod_conditions or ()),
            multiple_scalers_calculation=(
                strategy.multiple_scalers_calculation or DEFAULT_MULTIPLE_SCALERS_CALCULATION
            ),
            rollout_strategy=_rollout(rollout or self.rolling_update_strategy),
        )


def _given(value: int | None, default: int) -> int:
    return default if value is None else value


def _rollout(value: str | None) -> RolloutStrategy:
    """The deprecated ``rolloutStrategy`` is free text: anything but a known name is KEDA's
    default (only ``gradual`` changes what happens)."""
    if value == "gradual":
        return "gradual"
    if value == "immediate":
        return "immediate"
    return DEFAULT_ROLLOUT_STRATEGY


class ScaledJobStatus(ApiModel):
    """What podscaler last observed; written only by podscaler."""

    last_active_time: datetime | None = Field(
        default=None, description="Last poll at which a trigger was active."
    )
    conditions: list[StatusCondition] | None = Field(
        default=None, description="Ready, Active, Paused."
    )
    paused: str | None = Field(
        default=None,
        alias="Paused",
        description="'true' while paused by annotation (KEDA's field).",
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status reflects (podscaler addition)."
    )


class ScaledJob(ApiModel):
    """Runs Jobs for events (kubectl short name: sj)."""

    api_version: str = Field(default=GROUP_VERSION, description="autoscaling.podscaler.io/v1alpha1")
    kind: Literal["ScaledJob"] = Field(default="ScaledJob", description="ScaledJob")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard metadata.")
    spec: ScaledJobSpec = Field(description="Desired Jobs.")
    status: ScaledJobStatus | None = Field(default=None, description="Observed state.")
