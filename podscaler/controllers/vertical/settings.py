"""The vertical controllers' settings, upstream's recommender and updater flags among them."""

from __future__ import annotations

from dataclasses import dataclass

from podscaler.controllers.vertical.history import PrometheusSettings
from podscaler.engine.vpa import (
    DEFAULT_RECOMMENDER,
    DEFAULT_UPDATE,
    RecommenderSettings,
    UpdateSettings,
)

__all__ = ["VerticalSettings"]


@dataclass(frozen=True)
class VerticalSettings:
    #: ``--recommender-interval``: one sample of every pod's usage, and one recommendation per
    #: VerticalScaler, per this many seconds.
    recommender_interval_seconds: float = 60.0
    #: Checkpoints of aggregates that took samples are written at most this often (upstream
    #: writes them every loop).
    checkpoint_interval_seconds: float = 60.0
    #: ``--checkpoints-gc-interval``: expired aggregates and orphaned checkpoints go.
    gc_interval_seconds: float = 600.0
    #: ``--updater-interval``.
    updater_interval_seconds: float = 60.0
    #: The recommender answers for VerticalScalers naming this recommender (or none).
    recommender_name: str = "default"
    recommender: RecommenderSettings = DEFAULT_RECOMMENDER
    update: UpdateSettings = DEFAULT_UPDATE
    #: Run the updater at all.
    updater: bool = True
    #: ``--dry-run``: the updater decides and logs, but evicts nothing (recommendations,
    #: status and checkpoints are written as usual: they change no workload).
    dry_run: bool = False
    #: Evict even when nothing gives re-created pods the new requests (upstream's
    #: ``--use-admission-controller-status=false``).
    evict_without_admission: bool = False
    #: ``--eviction-rate-limit`` (evictions per second over all scalers; 0: unlimited) and
    #: ``--eviction-rate-burst``.
    eviction_rate_limit: float = 0.0
    eviction_rate_burst: int = 1
    #: History bootstrap from the user's Prometheus at start (None: none).
    prometheus: PrometheusSettings | None = None
    history_lookback_seconds: float = 8 * 86_400.0
    #: Requests to the API server in flight at once during a pass.
    concurrency: int = 8
