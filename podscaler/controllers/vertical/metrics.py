"""The vertical controllers' Prometheus metrics, read from their state at scrape time.

Recommendations as kube-state-metrics' custom-resource configuration for VPA exports them
(``kube_customresource_vpa_containerrecommendations_target`` and friends), under podscaler's
prefix, so dashboards written for one port with a rename: one gauge per bound —
``podscaler_verticalscaler_containerrecommendations_{target,lowerbound,upperbound,
uncappedtarget}`` — labelled ``namespace``, ``verticalscaler``, ``target_kind``,
``target_name``, ``container``, ``resource`` and ``unit`` (CPU in cores, memory in bytes). And
the recommender's and updater's work: samples taken, OOM kills counted, evictions by result.

A collector rather than gauges set by the controllers: a deleted VerticalScaler's series
disappear with it, and nothing is computed unless Prometheus asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from podscaler.controllers.vertical.recommender import VerticalRecommender
    from podscaler.controllers.vertical.updater import VerticalUpdater

__all__ = ["VerticalCollector"]

_PREFIX = "podscaler_verticalscaler_"
_LABELS = [
    "namespace",
    "verticalscaler",
    "target_kind",
    "target_name",
    "container",
    "resource",
    "unit",
]


class VerticalCollector(Collector):
    def __init__(
        self, recommender: VerticalRecommender, updater: VerticalUpdater | None = None
    ) -> None:
        self.recommender = recommender
        self.updater = updater

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        bounds = {
            "target": "Recommended requests.",
            "lowerbound": "Recommendation lower bound.",
            "upperbound": "Recommendation upper bound.",
            "uncappedtarget": "Target before minAllowed/maxAllowed.",
        }
        families = {
            bound: GaugeMetricFamily(
                f"{_PREFIX}containerrecommendations_{bound}", help_text, labels=_LABELS
            )
            for bound, help_text in bounds.items()
        }
        for (namespace, name), state in sorted(self.recommender.states.items()):
            recommendation = state.recommendation
            if recommendation is None or state.ref is None:
                continue
            for container in recommendation.containers:
                values = {
                    "target": container.target,
                    "lowerbound": container.lower_bound,
                    "upperbound": container.upper_bound,
                    "uncappedtarget": container.uncapped_target,
                }
                for bound, resources in values.items():
                    for resource, amount in resources.items():
                        unit = "core" if resource == "cpu" else "byte"
                        value = amount / 1000.0 if resource == "cpu" else float(amount)
                        families[bound].add_metric(
                            [
                                namespace,
                                name,
                                state.ref.kind,
                                state.ref.name,
                                container.container_name,
                                resource,
                                unit,
                            ],
                            value,
                        )
        yield from families.values()
        samples = CounterMetricFamily(
            f"{_PREFIX}usage_samples", "Usage samples taken from metrics.k8s.io."
        )
        samples.add_metric([], float(self.recommender.samples))
        yield samples
        ooms = CounterMetricFamily(f"{_PREFIX}oom_events", "OOM kills counted into histories.")
        ooms.add_metric([], float(self.recommender.ooms))
        yield ooms
        passes = CounterMetricFamily(f"{_PREFIX}recommender_passes", "Recommender passes run.")
        passes.add_metric([], float(self.recommender.passes))
        yield passes
        if self.updater is not None:
            evictions = CounterMetricFamily(
                f"{_PREFIX}evictions", "Pods the updater asked to evict.", labels=["result"]
            )
            evictions.add_metric(["evicted"], float(self.updater.evictions))
            evictions.add_metric(["refused"], float(self.updater.refused))
            yield evictions
