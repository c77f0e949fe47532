"""VerticalScalerCheckpoint: the recommender's memory of one container, kept in the cluster.

The layout is upstream's ``VerticalPodAutoscalerCheckpoint`` (format version ``v3``), so the
numbers mean the same and a checkpoint can be compared with upstream's field by field: one object
per (VerticalScaler, container) named ``<scaler>-<container>``, holding the two histograms
(bucket weights scaled so the heaviest is 10000, the exact total beside them, and the decay
reference instant) and the sample span that makes up the confidence. Written by podscaler only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from podscaler.api.meta import GROUP_VERSION, ApiModel, ObjectMeta, SpecModel
from podscaler.api.verticalscaler import VerticalScalerCondition

__all__ = [
    "HistogramCheckpoint",
    "VerticalScalerCheckpoint",
    "VerticalScalerCheckpointSpec",
    "VerticalScalerCheckpointStatus",
]


class VerticalScalerCheckpointSpec(SpecModel):
    """Which VerticalScaler and container the checkpoint belongs to."""

    vpa_object_name: str | None = Field(
        default=None, description="Name of the VerticalScaler (upstream's field name)."
    )
    container_name: str | None = Field(default=None, description="Name of the container.")


class HistogramCheckpoint(ApiModel):
    """A saved histogram."""

    reference_timestamp: datetime | None = Field(
        default=None, description="Reference instant of the decaying histogram."
    )
    bucket_weights: dict[str, int] | None = Field(
        default=None,
        description="Bucket index to weight, scaled so the heaviest bucket is 10000.",
    )
    total_weight: float | None = Field(
        default=None, description="Sum of the weights, exactly (the stored ones are rescaled)."
    )


class VerticalScalerCheckpointStatus(ApiModel):
    """The saved state."""

    last_update_time: datetime | None = Field(default=None, description="When it was saved.")
    version: str | None = Field(default=None, description="Format version: v3.")
    cpu_histogram: HistogramCheckpoint | None = Field(
        default=None, description="CPU usage samples (cores)."
    )
    memory_histogram: HistogramCheckpoint | None = Field(
        default=None, description="Memory peaks, one per aggregation window (bytes)."
    )
    first_sample_start: datetime | None = Field(
        default=None, description="Instant of the first CPU sample."
    )
    last_sample_start: datetime | None = Field(
        default=None, description="Instant of the last CPU sample."
    )
    total_samples_count: int | None = Field(default=None, description="Number of CPU samples.")
    conditions: list[VerticalScalerCondition] | None = Field(
        default=None,
        description="Loaded: False with the reason when the checkpoint could not be restored.",
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status reflects."
    )


class VerticalScalerCheckpoint(ApiModel):
    """The recommender's saved history for one container (kubectl short name: vsccheckpoint)."""

    api_version: str = Field(default=GROUP_VERSION, description="autoscaling.podscaler.io/v1alpha1")
    kind: Literal["VerticalScalerCheckpoint"] = Field(
        default="VerticalScalerCheckpoint", description="VerticalScalerCheckpoint"
    )
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard metadata.")
    spec: VerticalScalerCheckpointSpec = Field(description="Owner of the checkpoint.")
    status: VerticalScalerCheckpointStatus | None = Field(
        default=None, description="The saved state."
    )
