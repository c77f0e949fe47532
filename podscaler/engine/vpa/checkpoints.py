"""Aggregate history to and from checkpoint objects, in upstream's ``v3`` format.

A checkpoint is one object per (VerticalScaler, container): spec ``{vpaObjectName,
containerName}`` and a status that upstream's recommender would read unchanged::

    {lastUpdateTime, version: "v3", cpuHistogram: H, memoryHistogram: H,
     firstSampleStart, lastSampleStart, totalSamplesCount}
    H = {referenceTimestamp, bucketWeights: {"<bucket>": uint32}, totalWeight}

Times are RFC 3339 in UTC with whole seconds (``metav1.Time``); an unset time is left out.
Before saving, the peak of each running container's *unfinished* memory window is taken out
of the copy being saved, so that a restart, which starts a new window, does not count that
window twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from podscaler.engine.vpa.aggregates import (
    DEFAULT_AGGREGATION,
    AggregateContainerState,
    AggregationSettings,
)
from podscaler.engine.vpa.histograms import CheckpointError, HistogramCheckpoint

__all__ = [
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "checkpoint_name",
    "checkpoint_status",
    "format_time",
    "histogram_checkpoint_from_dict",
    "histogram_checkpoint_to_dict",
    "parse_time",
    "restore_aggregate",
]

CHECKPOINT_VERSION: Final = "v3"


def checkpoint_name(scaler_name: str, container_name: str) -> str:
    """``<scaler>-<container>``, upstream's checkpoint object name."""
    return f"{scaler_name}-{container_name}"


def format_time(seconds: float | None) -> str | None:
    """Unix seconds as ``metav1.Time`` writes them (whole seconds, UTC), ``None`` for unset."""
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(math.floor(seconds), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any, field: str) -> float | None:
    """An RFC 3339 time (or ``None``) as Unix seconds; :class:`CheckpointError` if malformed."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise CheckpointError(f"{field} must be an RFC 3339 time, got {text!r}")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise CheckpointError(f"{field} is not an RFC 3339 time: {text!r}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def histogram_checkpoint_to_dict(checkpoint: HistogramCheckpoint) -> dict[str, Any]:
    result: dict[str, Any] = {
        "referenceTimestamp": format_time(checkpoint.reference_seconds),
        "bucketWeights": {str(b): w for b, w in sorted(checkpoint.bucket_weights.items())},
        "totalWeight": checkpoint.total_weight,
    }
    return _without_nulls(result)


def _without_nulls(data: dict[str, Any]) -> dict[str, Any]:
    """Unset times are left out rather than written as null (upstream writes null; a
    structural schema without ``nullable`` prunes it anyway, so readers see the same)."""
    return {key: value for key, value in data.items() if value is not None}


def histogram_checkpoint_from_dict(data: Any, field: str) -> HistogramCheckpoint:
    """Parse a stored histogram; shape errors raise :class:`CheckpointError` naming *field*."""
    if data is None:
        return HistogramCheckpoint()
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{field} must be an object, got {type(data).__name__}")
    total = data.get("totalWeight", 0.0)
    if isinstance(total, bool) or not isinstance(total, int | float):
        raise CheckpointError(f"{field}.totalWeight must be a number, got {total!r}")
    raw_weights = data.get("bucketWeights") or {}
    if not isinstance(raw_weights, Mapping):
        raise CheckpointError(f"{field}.bucketWeights must be an object")
    weights: dict[int, int] = {}
    for key, value in raw_weights.items():
        try:
            bucket = int(key)
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{field}.bucketWeights has a non-integer key {key!r}") from error
        if isinstance(value, bool) or not isinstance(value, int):
            raise CheckpointError(f"{field}.bucketWeights[{key}] must be an integer")
        weights[bucket] = value
    reference = parse_time(data.get("referenceTimestamp"), f"{field}.referenceTimestamp")
    return HistogramCheckpoint(float(total), weights, reference)


def checkpoint_status(
    state: AggregateContainerState,
    now_seconds: float,
    open_windows: Iterable[tuple[float, int]] = (),
) -> dict[str, Any]:
    """The checkpoint status of *state* at *now_seconds*.

    *open_windows* are ``(window_end_seconds, peak_bytes)`` of the running containers that feed
    this aggregate; the peaks of windows not yet over are left out of what is saved.
    """
    memory = state.memory_peaks
    pending = [(end, peak) for end, peak in open_windows if now_seconds < end and peak > 0]
    if pending:
        memory = memory.copy()
        for end, peak in pending:
            memory.subtract_sample(float(peak), 1.0, end)
    return _without_nulls(
        {
            "lastUpdateTime": format_time(now_seconds),
            "version": CHECKPOINT_VERSION,
            "cpuHistogram": histogram_checkpoint_to_dict(state.cpu_usage.save()),
            "memoryHistogram": histogram_checkpoint_to_dict(memory.save()),
            "firstSampleStart": format_time(state.first_sample_seconds),
            "lastSampleStart": format_time(state.last_sample_seconds),
            "totalSamplesCount": state.total_samples_count,
        }
    )


def restore_aggregate(
    status: Mapping[str, Any],
    creation_seconds: float,
    settings: AggregationSettings = DEFAULT_AGGREGATION,
) -> AggregateContainerState:
    """A fresh aggregate loaded from a checkpoint status (``LoadFromCheckpoint``).

    Raises :class:`CheckpointError` for another version or malformed content; nothing is
    half-loaded because the aggregate is new.
    """
    version = status.get("version")
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"checkpoint version {version!r} is not supported (expected {CHECKPOINT_VERSION})"
        )
    count = status.get("totalSamplesCount", 0) or 0
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise CheckpointError(f"totalSamplesCount must be a non-negative integer, got {count!r}")
    cpu = histogram_checkpoint_from_dict(status.get("cpuHistogram"), "cpuHistogram")
    memory = histogram_checkpoint_from_dict(status.get("memoryHistogram"), "memoryHistogram")
    state = AggregateContainerState(creation_seconds, settings)
    state.total_samples_count = count
    state.first_sample_seconds = parse_time(status.get("firstSampleStart"), "firstSampleStart")
    state.last_sample_seconds = parse_time(status.get("lastSampleStart"), "lastSampleStart")
    state.memory_peaks.load(memory)
    state.cpu_usage.load(cpu)
    return state
