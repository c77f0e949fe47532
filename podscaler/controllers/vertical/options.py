"""``podscaler run``'s vertical scaling flags, declared once (:mod:`podscaler.api.flags`).

Upstream's recommender and updater flags under a ``vertical-`` prefix (``podscaler run`` also
carries Cluster Autoscaler's flags, and ``--min-replicas`` would mean nothing alone there).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from podscaler.api.flags import flag
from podscaler.controllers.vertical.history import PrometheusSettings
from podscaler.controllers.vertical.settings import VerticalSettings

__all__ = ["VerticalOptions"]


@dataclass(frozen=True)
class VerticalOptions:
    vertical: bool | None = flag(
        None,
        negatable=True,
        help="Run the VerticalScaler recommender and updater (default: when the CRD is installed).",
    )
    recommender_interval_seconds: float = flag(
        60.0,
        name="vertical-recommender-interval",
        minimum=1,
        help="Seconds between usage samples and recommendations (VPA's --recommender-interval).",
    )
    updater_interval_seconds: float = flag(
        60.0,
        name="vertical-updater-interval",
        minimum=1,
        help="Seconds between updater passes (VPA's --updater-interval).",
    )
    min_replicas: int = flag(
        2,
        name="vertical-min-replicas",
        minimum=1,
        help="Fewest live pods a workload needs before one is evicted (VPA's --min-replicas).",
    )
    eviction_tolerance: float = flag(
        0.5,
        name="vertical-eviction-tolerance",
        minimum=0,
        help="Fraction of a workload's replicas evicted at once (VPA's --eviction-tolerance).",
    )
    eviction_rate_limit: float = flag(
        0.0,
        name="vertical-eviction-rate-limit",
        minimum=0,
        help="Evictions per second over all VerticalScalers; 0: unlimited.",
    )
    eviction_rate_burst: int = flag(
        1, name="vertical-eviction-rate-burst", minimum=1, help="Burst of the eviction rate."
    )
    evict_without_admission: bool = flag(
        False,
        name="vertical-evict-without-admission",
        help="Evict even when no admission webhook gives re-created pods the new requests "
        "(VPA's --use-admission-controller-status=false).",
    )
    round_cpu_millicores: int = flag(
        1,
        name="vertical-round-cpu-millicores",
        minimum=1,
        help="Round CPU recommendations (target and bounds) up to a multiple of this many "
        "millicores (VPA's --round-cpu-millicores); 1: no rounding.",
    )
    round_memory_bytes: int = flag(
        1,
        name="vertical-round-memory-bytes",
        minimum=1,
        help="Round memory recommendations (target and bounds) up to a multiple of this many "
        "bytes (VPA's --round-memory-bytes, e.g. 134217728 for 128Mi); 1: no rounding.",
    )
    prometheus_url: str | None = flag(
        None,
        name="vertical-history-prometheus",
        help="Fill the recommender's history from this Prometheus at start (cAdvisor series).",
    )
    prometheus_token_file: str | None = flag(
        None,
        name="vertical-history-prometheus-token-file",
        path=True,
        help="A file holding the bearer token for --vertical-history-prometheus.",
    )
    prometheus_ca_file: str | None = flag(
        None,
        name="vertical-history-prometheus-ca-file",
        path=True,
        help="CA bundle to verify --vertical-history-prometheus over HTTPS.",
    )
    history_days: float = flag(
        8.0,
        name="vertical-history-length",
        minimum=0,
        help="Days of Prometheus history read at start.",
    )

    def _prometheus(self) -> PrometheusSettings | None:
        """Where the history bootstrap reads; a :class:`ValueError` names a flag that cannot
        be used (the token itself never appears in a message)."""
        if not self.prometheus_url:
            if self.prometheus_token_file or self.prometheus_ca_file:
                raise ValueError(
                    "--vertical-history-prometheus-token-file and -ca-file need "
                    "--vertical-history-prometheus"
                )
            return None
        if not self.prometheus_url.startswith(("http://", "https://")):
            raise ValueError(
                f"--vertical-history-prometheus must be an http(s) URL, got {self.prometheus_url!r}"
            )
        token = None
        if self.prometheus_token_file:
            try:
                token = Path(self.prometheus_token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(
                    f"--vertical-history-prometheus-token-file: cannot read "
                    f"{self.prometheus_token_file}: {exc.strerror}"
                ) from exc
        return PrometheusSettings(
            self.prometheus_url, bearer_token=token or None, ca_file=self.prometheus_ca_file
        )

    def settings(self, *, dry_run: bool) -> VerticalSettings:
        """The controllers' settings; a :class:`ValueError` names a flag that cannot be used."""
        base = VerticalSettings()
        return replace(
            base,
            recommender_interval_seconds=self.recommender_interval_seconds,
            updater_interval_seconds=self.updater_interval_seconds,
            recommender=replace(
                base.recommender,
                round_cpu_millicores=self.round_cpu_millicores,
                round_memory_bytes=self.round_memory_bytes,
            ),
            update=replace(
                base.update,
                min_replicas=self.min_replicas,
                eviction_tolerance_fraction=self.eviction_tolerance,
            ),
            eviction_rate_limit=self.eviction_rate_limit,
            eviction_rate_burst=self.eviction_rate_burst,
            evict_without_admission=self.evict_without_admission,
            prometheus=self._prometheus(),
            history_lookback_seconds=self.history_days * 86_400.0,
            dry_run=dry_run,
        )
