"""What the recommender remembers per container: usage histograms, memory peaks, OOM bumps.

Two levels, as upstream's ``model`` package:

- :class:`AggregateContainerState` holds the history of one container *name* across the pods
  of a workload: a decaying histogram of CPU usage (one sample per minute, constant weight 0.1
  since VPA 1.4) and one of memory *peaks*, plus the first/last CPU sample instants and the
  sample count that make up the confidence.
- :class:`ContainerState` follows one running container instance and turns its memory samples
  into one peak per aggregation window (24 h): a larger sample inside the window replaces the
  window's peak (subtract the old, add the new, both stamped at the window's end); a sample past
  the window opens the next window on the same grid. An OOM kill becomes an artificial memory
  sample of ``max(request, peak) + max(100 MiB, 20 %)``.

Everything is in-memory and clock-free: every call takes the sample's instant (Unix seconds).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from podscaler.engine.vpa.amounts import amount_from_float, scale_amount
from podscaler.engine.vpa.decaying import DecayingHistogram
from podscaler.engine.vpa.histograms import (
    CPU_HISTOGRAM_OPTIONS,
    MEMORY_HISTOGRAM_OPTIONS,
    HistogramOptions,
)

__all__ = [
    "DAY_SECONDS",
    "MIN_CPU_SAMPLE_WEIGHT",
    "AggregateContainerState",
    "AggregationSettings",
    "ContainerState",
    "OomRejected",
    "PeakSink",
]

DAY_SECONDS: Final = 86_400.0
#: Weight of every CPU sample (VPA ≥ 1.4; older releases used max(request cores, 0.1)).
MIN_CPU_SAMPLE_WEIGHT: Final = 0.1
#: Weight of every memory peak.
MEMORY_PEAK_WEIGHT: Final = 1.0
_MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class AggregationSettings:
    """The recommender's model flags, with upstream's defaults."""

    #: ``--memory-aggregation-interval``: one memory peak per this many seconds.
    memory_aggregation_interval_seconds: float = DAY_SECONDS
    #: ``--memory-aggregation-interval-count``: aggregates expire after interval * count.
    memory_aggregation_interval_count: int = 8
    #: ``--cpu-histogram-decay-half-life``.
    cpu_half_life_seconds: float = DAY_SECONDS
    #: ``--memory-histogram-decay-half-life``.
    memory_half_life_seconds: float = DAY_SECONDS
    #: ``--oom-bump-up-ratio``.
    oom_bump_up_ratio: float = 1.2
    #: ``--oom-min-bump-up-bytes`` (100 MiB).
    oom_min_bump_up_bytes: float = 100.0 * _MIB
    cpu_histogram: HistogramOptions = CPU_HISTOGRAM_OPTIONS
    memory_histogram: HistogramOptions = MEMORY_HISTOGRAM_OPTIONS

    @property
    def memory_window_seconds(self) -> float:
        """``MemoryAggregationWindowLength``: 8 days by default."""
        return self.memory_aggregation_interval_seconds * self.memory_aggregation_interval_count


DEFAULT_AGGREGATION: Final = AggregationSettings()


class AggregateContainerState:
    """The usage history of one container name of one workload (``AggregateContainerState``)."""

    __slots__ = (
        "cpu_usage",
        "creation_seconds",
        "first_sample_seconds",
        "last_sample_seconds",
        "memory_peaks",
        "total_samples_count",
    )

    def __init__(
        self, creation_seconds: float, settings: AggregationSettings = DEFAULT_AGGREGATION
    ) -> None:
        self.cpu_usage = DecayingHistogram(settings.cpu_histogram, settings.cpu_half_life_seconds)
        self.memory_peaks = DecayingHistogram(
            settings.memory_histogram, settings.memory_half_life_seconds
        )
        #: Instants of the first and last CPU samples (``None``: none yet).
        self.first_sample_seconds: float | None = None
        self.last_sample_seconds: float | None = None
        self.total_samples_count = 0
        self.creation_seconds = creation_seconds

    def add_cpu_sample(self, cpu_millicores: int, time_seconds: float) -> None:
        """One CPU usage sample (already whole millicores, as upstream stores usage)."""
        self.cpu_usage.add_sample(cpu_millicores / 1000.0, MIN_CPU_SAMPLE_WEIGHT, time_seconds)
        if self.last_sample_seconds is None or time_seconds > self.last_sample_seconds:
            self.last_sample_seconds = time_seconds
        if self.first_sample_seconds is None or time_seconds < self.first_sample_seconds:
            self.first_sample_seconds = time_seconds
        self.total_samples_count += 1

    def add_cpu_samples(self, samples: Sequence[tuple[float, int]]) -> None:
        """Many ``(time, millicores)`` samples at once, exactly as one by one."""
        if not samples:
            return
        times = [at for at, _ in samples]
        self.cpu_usage.add_samples(
            [millicores / 1000.0 for _, millicores in samples], MIN_CPU_SAMPLE_WEIGHT, times
        )
        latest, earliest = max(times), min(times)
        if self.last_sample_seconds is None or latest > self.last_sample_seconds:
            self.last_sample_seconds = latest
        if self.first_sample_seconds is None or earliest < self.first_sample_seconds:
            self.first_sample_seconds = earliest
        self.total_samples_count += len(samples)

    def add_memory_peak(self, memory_bytes: int, time_seconds: float) -> None:
        self.memory_peaks.add_sample(float(memory_bytes), MEMORY_PEAK_WEIGHT, time_seconds)

    def subtract_memory_peak(self, memory_bytes: int, time_seconds: float) -> None:
        self.memory_peaks.subtract_sample(float(memory_bytes), MEMORY_PEAK_WEIGHT, time_seconds)

    def merge(self, other: AggregateContainerState) -> None:
        """Fold *other* in (``MergeContainerState``); *other* is left unchanged."""
        self.cpu_usage.merge(other.cpu_usage)
        self.memory_peaks.merge(other.memory_peaks)
        if other.first_sample_seconds is not None and (
            self.first_sample_seconds is None
            or other.first_sample_seconds < self.first_sample_seconds
        ):
            self.first_sample_seconds = other.first_sample_seconds
        if other.last_sample_seconds is not None and (
            self.last_sample_seconds is None or other.last_sample_seconds > self.last_sample_seconds
        ):
            self.last_sample_seconds = other.last_sample_seconds
        self.total_samples_count += other.total_samples_count

    def copy(self) -> AggregateContainerState:
        twin = AggregateContainerState.__new__(AggregateContainerState)
        twin.cpu_usage = self.cpu_usage.copy()
        twin.memory_peaks = self.memory_peaks.copy()
        twin.first_sample_seconds = self.first_sample_seconds
        twin.last_sample_seconds = self.last_sample_seconds
        twin.total_samples_count = self.total_samples_count
        twin.creation_seconds = self.creation_seconds
        return twin

    def is_empty(self) -> bool:
        """No CPU sample yet (memory peaks alone do not make history)."""
        return self.total_samples_count == 0

    def is_expired(
        self, now_seconds: float, settings: AggregationSettings = DEFAULT_AGGREGATION
    ) -> bool:
        """Whether garbage collection drops it: no sample for the memory window (8 days), or
        created that long ago without any sample."""
        since = self.creation_seconds if self.is_empty() else self.last_sample_seconds
        assert since is not None
        return now_seconds - since >= settings.memory_window_seconds

    def sample_span_seconds(self) -> float:
        """Time between the first and the last CPU sample."""
        if self.first_sample_seconds is None or self.last_sample_seconds is None:
            return 0.0
        return self.last_sample_seconds - self.first_sample_seconds


class PeakSink(Protocol):
    """Where a :class:`ContainerState` sends its CPU samples and memory-peak changes."""

    def add_cpu_sample(self, cpu_millicores: int, time_seconds: float) -> None: ...

    def add_memory_peak(self, memory_bytes: int, time_seconds: float) -> None: ...

    def subtract_memory_peak(self, memory_bytes: int, time_seconds: float) -> None: ...


class OomRejected(ValueError):
    """An OOM event was not recorded (older than the current memory window allows)."""


class ContainerState:
    """One running container instance: its last sample instants and current memory window.

    ``max_memory_bytes`` (0 = none) caps an OOM bump, as upstream does for containers with a
    known memory ceiling.
    """

    __slots__ = (
        "last_cpu_sample_seconds",
        "last_memory_sample_seconds",
        "max_memory_bytes",
        "memory_peak_bytes",
        "oom_peak_bytes",
        "settings",
        "sink",
        "window_end_seconds",
    )

    def __init__(
        self,
        sink: PeakSink,
        settings: AggregationSettings = DEFAULT_AGGREGATION,
        max_memory_bytes: int = 0,
    ) -> None:
        self.sink = sink
        self.settings = settings
        self.max_memory_bytes = max_memory_bytes
        self.last_cpu_sample_seconds: float | None = None
        self.last_memory_sample_seconds: float | None = None
        #: End (exclusive) of the current memory window; ``None`` before the first sample.
        self.window_end_seconds: float | None = None
        self.memory_peak_bytes = 0
        self.oom_peak_bytes = 0

    @property
    def max_memory_peak_bytes(self) -> int:
        """The current window's peak, whether measured or estimated from an OOM."""
        return max(self.memory_peak_bytes, self.oom_peak_bytes)

    def add_cpu_sample(self, cpu_millicores: int, time_seconds: float) -> bool:
        """Forward a CPU sample unless it is negative, a duplicate or out of order."""
        if cpu_millicores < 0:
            return False
        last = self.last_cpu_sample_seconds
        if last is not None and time_seconds <= last:
            return False
        self.sink.add_cpu_sample(cpu_millicores, time_seconds)
        self.last_cpu_sample_seconds = time_seconds
        return True

    def add_cpu_samples(self, samples: Iterable[tuple[float, int]]) -> int:
        """``add_cpu_sample`` for each ``(time, millicores)``; returns how many were taken.
        An aggregate sink gets the accepted ones in one call."""
        accepted: list[tuple[float, int]] = []
        last = self.last_cpu_sample_seconds
        for at, millicores in samples:
            if millicores < 0 or (last is not None and at <= last):
                continue
            accepted.append((at, millicores))
            last = at
        if isinstance(self.sink, AggregateContainerState):
            self.sink.add_cpu_samples(accepted)
        else:
            for at, millicores in accepted:
                self.sink.add_cpu_sample(millicores, at)
        self.last_cpu_sample_seconds = last
        return len(accepted)

    def add_memory_sample(self, memory_bytes: int, time_seconds: float) -> bool:
        """A working-set sample; returns whether it was taken (older samples are dropped)."""
        return self._add_memory(memory_bytes, time_seconds, is_oom=False)

    def record_oom(self, time_seconds: float, request_bytes: int) -> int:
        """An OOM kill at *time_seconds* of a container requesting *request_bytes*.

        Returns the memory the bump asks for. Raises :class:`OomRejected` when the event is more
        than one interval older than the latest memory sample. The reference is that sample, not
        the window end: a sample on an interval boundary moves the window end a whole interval
        ahead, and an OOM a second before it is still fresh (kubernetes/autoscaler#8548).
        """
        interval = self.settings.memory_aggregation_interval_seconds
        last = self.last_memory_sample_seconds
        if last is not None and time_seconds < last - interval:
            raise OomRejected(f"OOM at {time_seconds} is older than the current memory window")
        used = max(request_bytes, self.memory_peak_bytes)
        if self.max_memory_bytes > 0 and used > self.max_memory_bytes:
            used = self.max_memory_bytes
        needed = max(
            used + amount_from_float(self.settings.oom_min_bump_up_bytes),
            scale_amount(used, self.settings.oom_bump_up_ratio),
        )
        if self.max_memory_bytes > 0 and needed > self.max_memory_bytes:
            needed = self.max_memory_bytes
        if not self._add_memory(needed, time_seconds, is_oom=True):
            raise OomRejected("the OOM sample could not be added")
        return needed

    def _add_memory(self, memory_bytes: int, time_seconds: float, *, is_oom: bool) -> bool:
        last = self.last_memory_sample_seconds
        if memory_bytes < 0 or (not is_oom and last is not None and time_seconds < last):
            return False
        self.last_memory_sample_seconds = time_seconds
        window_end = time_seconds if self.window_end_seconds is None else self.window_end_seconds
        new_peak = False
        if time_seconds < window_end:
            old = self.max_memory_peak_bytes
            if old != 0 and memory_bytes > old:
                self.sink.subtract_memory_peak(old, window_end)
                new_peak = True
        else:
            interval = self.settings.memory_aggregation_interval_seconds
            # Whole intervals past the old end, plus one: the window holding the sample.
            behind = time_seconds - window_end
            window_end += math.floor(behind / interval) * interval + interval
            self.memory_peak_bytes = 0
            self.oom_peak_bytes = 0
            new_peak = True
        self.window_end_seconds = window_end
        if new_peak:
            self.sink.add_memory_peak(memory_bytes, window_end)
            if is_oom:
                self.oom_peak_bytes = memory_bytes
            else:
                self.memory_peak_bytes = memory_bytes
        return True
