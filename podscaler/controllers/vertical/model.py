"""The recommender's memory for one VerticalScaler: aggregates per container name, and the
running containers that feed them.

As upstream's cluster model, but keyed by the VerticalScaler rather than by (namespace, pod
labels): every pod the scaler covers feeds one :class:`AggregateContainerState` per container
name through one :class:`ContainerState` per (pod, container) — that one keeps the pod's own
memory window, so a peak is counted once per pod and window. When a pod goes, its container
states go with it; the aggregates stay (history outlives pods) until garbage collection finds
them expired or their container gone from every pod.

Clock-free: every call takes the instant in Unix seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from podscaler.engine.vpa import (
    AggregateContainerState,
    AggregationSettings,
    ContainerState,
    OomRejected,
)

__all__ = ["ScalerHistory"]

PodKey = tuple[str, str]


@dataclass
class ScalerHistory:
    """Aggregates and live container states of one VerticalScaler."""

    settings: AggregationSettings
    aggregates: dict[str, AggregateContainerState] = field(default_factory=dict)
    #: (pod namespace, pod name, container) → the running container's state.
    containers: dict[tuple[str, str, str], ContainerState] = field(default_factory=dict)
    #: OOM kills already counted: (pod uid, container, finishedAt seconds).
    ooms_seen: set[tuple[str, str, float]] = field(default_factory=set)
    #: Container names whose aggregate changed since the last checkpoint write.
    dirty: set[str] = field(default_factory=set)
    #: Last CPU sample instant of aggregates restored from checkpoints: a container state
    #: created after a restart skips samples up to it, which the checkpoint already holds.
    restored_until: dict[str, float] = field(default_factory=dict)

    def restore(self, container: str, aggregate: AggregateContainerState) -> None:
        self.aggregates[container] = aggregate
        if aggregate.last_sample_seconds is not None:
            self.restored_until[container] = aggregate.last_sample_seconds

    def aggregate(self, container: str, now_seconds: float) -> AggregateContainerState:
        state = self.aggregates.get(container)
        if state is None:
            state = self.aggregates[container] = AggregateContainerState(now_seconds, self.settings)
        return state

    def container_state(self, pod: PodKey, container: str, now_seconds: float) -> ContainerState:
        key = (pod[0], pod[1], container)
        state = self.containers.get(key)
        if state is None:
            state = self.containers[key] = ContainerState(
                self.aggregate(container, now_seconds), self.settings
            )
            state.last_cpu_sample_seconds = self.restored_until.get(container)
        return state

    def add_usage(
        self,
        pod: PodKey,
        container: str,
        at_seconds: float,
        cpu_millicores: int | None,
        memory_bytes: int | None,
    ) -> bool:
        """One metrics sample; returns whether its CPU usage was taken (a sample at an instant
        already seen is not: metrics-server serves the same sample until its next scrape)."""
        state = self.container_state(pod, container, at_seconds)
        cpu_taken = cpu_millicores is not None and state.add_cpu_sample(cpu_millicores, at_seconds)
        memory_taken = memory_bytes is not None and state.add_memory_sample(
            memory_bytes, at_seconds
        )
        if cpu_taken or memory_taken:
            self.dirty.add(container)
        return cpu_taken

    def record_oom(
        self,
        pod: PodKey,
        pod_uid: str,
        container: str,
        at_seconds: float,
        request_bytes: int,
    ) -> int | None:
        """An OOM kill seen in a pod's status; returns the memory it asks for, or ``None``
        when it was counted before or is too old for the current window."""
        seen = (pod_uid, container, at_seconds)
        if seen in self.ooms_seen:
            return None
        self.ooms_seen.add(seen)
        state = self.container_state(pod, container, at_seconds)
        try:
            needed = state.record_oom(at_seconds, request_bytes)
        except OomRejected:
            return None
        self.dirty.add(container)
        return needed

    def forget_pods(self, live: Iterable[PodKey], live_uids: set[str]) -> None:
        """Drop the container states of pods no longer covered (their history stays)."""
        keep = set(live)
        for key in [k for k in self.containers if (k[0], k[1]) not in keep]:
            del self.containers[key]
        self.ooms_seen = {seen for seen in self.ooms_seen if seen[0] in live_uids}

    def open_windows(self, container: str) -> list[tuple[float, int]]:
        """``(window end, peak)`` of the running containers feeding *container*'s aggregate."""
        return [
            (state.window_end_seconds, state.max_memory_peak_bytes)
            for key, state in self.containers.items()
            if key[2] == container and state.window_end_seconds is not None
        ]

    def collect_garbage(self, now_seconds: float, containers_in_pods: set[str] | None) -> list[str]:
        """Drop expired aggregates, and (when pods are known) those of containers that no covered
        pod has any more; returns the container names dropped."""
        dropped = []
        for name, state in list(self.aggregates.items()):
            gone = containers_in_pods is not None and name not in containers_in_pods
            if gone or state.is_expired(now_seconds, self.settings):
                del self.aggregates[name]
                self.dirty.discard(name)
                for key in [k for k in self.containers if k[2] == name]:
                    del self.containers[key]
                dropped.append(name)
        return dropped
