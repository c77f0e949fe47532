"""History bootstrap: at start, fill the recommender's histograms from the user's Prometheus.

Upstream's recommender can read its initial history from Prometheus instead of checkpoints
(``--storage=prometheus``); podscaler does both: scalers whose checkpoints were restored keep
them, the others get ``history_lookback`` (8 days by default) of cAdvisor's series, read by
:func:`podscaler.controllers.vertical.history.fetch_history` (prometheus-api-client, on
worker threads). Pods are tied to a scaler's target through kube-state-metrics' owner series
(or the pods' names without it), and each pod's samples go through that pod's own container
state, so a pod still running continues its memory window instead of opening a second one.
A Prometheus that cannot be read is logged and the recommender starts without history.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from podscaler.controllers.vertical.history import (
    HistoryError,
    Workload,
    fetch_history,
    group_by_workload,
)
from podscaler.controllers.vertical.model import ScalerHistory
from podscaler.controllers.vertical.settings import VerticalSettings
from podscaler.engine.vpa import cpu_millicores_from_cores
from podscaler.engine.vpa.amounts import amount_from_float


class Scaler(Protocol):
    """What the bootstrap reads and feeds of a VerticalScaler's state in the recommender."""

    @property
    def obj(self) -> dict[str, Any]: ...

    @property
    def history(self) -> ScalerHistory: ...


__all__ = ["bootstrap_from_prometheus"]

log = logging.getLogger(__name__)


async def bootstrap_from_prometheus(
    settings: VerticalSettings, states: Mapping[tuple[str, str], Scaler], end: float
) -> int:
    """Feed every scaler without restored history with ``settings``' lookback of history
    up to ``end`` (unix seconds); returns the CPU samples taken."""
    assert settings.prometheus is not None
    waiting = {key: state for key, state in states.items() if not state.history.aggregates}
    if not waiting:
        return 0
    start = end - settings.history_lookback_seconds
    namespaces = sorted({key[0] for key in waiting})
    try:
        found, inventory, source = await fetch_history(
            settings.prometheus, namespaces=namespaces, start=start, end=end
        )
    except HistoryError as exc:
        log.warning("vertical recommender: no history bootstrap: %s", exc)
        return 0
    grouped = group_by_workload(found, inventory)
    taken = 0
    for (namespace, name), state in sorted(waiting.items()):
        target = (state.obj.get("spec") or {}).get("targetRef") or {}
        workload = Workload(namespace, str(target.get("kind") or ""), str(target.get("name") or ""))
        containers = grouped.get(workload)
        if not containers:
            continue
        for container, pods in sorted(containers.items()):
            for pod, history in sorted(pods.items()):
                fed = state.history.container_state((namespace, pod), container, start)
                taken += fed.add_cpu_samples(
                    [
                        (at, cpu_millicores_from_cores(cores))
                        for at, cores in history.cpu_cores.pairs()
                    ]
                )
                for at, memory in history.memory_bytes.pairs():
                    fed.add_memory_sample(amount_from_float(memory), at)
            state.history.dirty.add(container)
        log.info("VerticalScaler %s/%s: history bootstrapped from %s", namespace, name, source.url)
    log.info(
        "vertical recommender: %d CPU samples from Prometheus in %d queries (%.1f s waiting)",
        taken,
        source.queries,
        source.seconds_waiting,
    )
    return taken
