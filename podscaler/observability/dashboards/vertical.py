"""The VerticalScalers dashboard (uid ``podscaler-vertical``): per container, the recommended
requests and their bounds (``podscaler_verticalscaler_containerrecommendations_*``, labelled as
kube-state-metrics labels VPA's), and the recommender's and updater's work: samples, OOM kills,
evictions.

Requests and usage are not podscaler's series (kube-state-metrics and cAdvisor export them), so
this dashboard shows what podscaler decides; put it beside your cluster's usage dashboards, or
run ``podscaler recommend`` for current vs recommended with the cost."""

from __future__ import annotations

from typing import Final

from podscaler.observability.dashboards.filters import IN_NAMESPACE, namespace_label, namespaces
from podscaler.observability.dashboards.model import (
    Board,
    Column,
    QueryVariable,
    Row,
    Target,
    stat,
    table,
)
from podscaler.observability.dashboards.model import timeseries as series

_R: Final = "podscaler_verticalscaler_containerrecommendations_"
_V: Final = "podscaler_verticalscaler_"
_SEL: Final = f'{IN_NAMESPACE}, verticalscaler=~"$verticalScaler", container=~"$container"'
_BY: Final = "max by (verticalscaler, container)"
_RATE: Final = "[$__rate_interval]"


def _bounds(resource: str) -> tuple[Target, ...]:
    return tuple(
        Target(
            f'{_BY} ({_R}{bound}{{{_SEL}, resource="{resource}"}})',
            f"{{{{verticalscaler}}}}/{{{{container}}}} {label}",
        )
        for bound, label in (
            ("target", "target"),
            ("lowerbound", "lower bound"),
            ("upperbound", "upper bound"),
            ("uncappedtarget", "uncapped"),
        )
    )


VERTICAL = Board(
    uid="podscaler-vertical",
    title="podscaler / VerticalScalers",
    description=(
        "VerticalScalers (VPA's model): recommended requests per container with their bounds, "
        "and the recommender's and updater's work (samples, OOM kills, evictions)."
    ),
    tags=("podscaler", "autoscaling", "vpa"),
    variables=(
        namespace_label(),
        namespaces(f"{_R}target"),
        QueryVariable(
            "verticalScaler",
            "VerticalScaler",
            f"label_values({_R}target{{{IN_NAMESPACE}}}, verticalscaler)",
        ),
        QueryVariable(
            "container",
            "Container",
            f'label_values({_R}target{{{IN_NAMESPACE}, verticalscaler=~"$verticalScaler"}}, '
            "container)",
        ),
    ),
    rows=(
        Row(
            "Recommender and updater",
            (
                stat(
                    "Containers recommended",
                    f'count({_R}target{{{_SEL}, resource="cpu"}})',
                    "Containers with a recommendation (matching the filters).",
                    width=6,
                ),
                stat(
                    "OOM kills",
                    f"sum(increase({_V}oom_events_total{_RATE})) or vector(0)",
                    "OOM kills counted into memory histories in the last rate interval (each "
                    "raises that container's memory recommendation).",
                    thresholds=(("green", None), ("orange", 1)),
                    width=6,
                ),
                stat(
                    "Evictions refused",
                    f'sum(increase({_V}evictions_total{{result="refused"}}{_RATE})) or vector(0)',
                    "Evictions the API server refused (a PodDisruptionBudget) in the last rate "
                    "interval.",
                    thresholds=(("green", None), ("orange", 1)),
                    width=6,
                ),
                stat(
                    "Recommender passes",
                    f"sum(rate({_V}recommender_passes_total{_RATE}))",
                    "Recommender passes per second (one per --vertical-recommender-interval).",
                    unit="ops",
                    decimals=None,
                    width=6,
                ),
            ),
        ),
        Row(
            "Recommendations",
            (
                series(
                    "CPU recommendation",
                    "Recommended CPU requests (cores) per container: target, its bounds, and the "
                    "target before minAllowed/maxAllowed.",
                    *_bounds("cpu"),
                    unit="none",
                ),
                series(
                    "Memory recommendation",
                    "Recommended memory requests per container: target, its bounds, and the "
                    "target before minAllowed/maxAllowed.",
                    *_bounds("memory"),
                    unit="bytes",
                ),
                table(
                    "Recommendations now",
                    "One row per container and resource: target and bounds (CPU in cores, "
                    "memory in bytes).",
                    Column(
                        "target",
                        f"max by (verticalscaler, container, resource) ({_R}target{{{_SEL}}})",
                    ),
                    Column(
                        "lower",
                        f"max by (verticalscaler, container, resource) ({_R}lowerbound{{{_SEL}}})",
                    ),
                    Column(
                        "upper",
                        f"max by (verticalscaler, container, resource) ({_R}upperbound{{{_SEL}}})",
                    ),
                    width=24,
                ),
            ),
        ),
        Row(
            "Work",
            (
                series(
                    "Usage samples and OOM kills",
                    "Usage samples taken from metrics.k8s.io, and OOM kills counted, per second.",
                    Target(f"sum(rate({_V}usage_samples_total{_RATE}))", "samples"),
                    Target(f"sum(rate({_V}oom_events_total{_RATE}))", "OOM kills"),
                    unit="ops",
                ),
                series(
                    "Evictions",
                    "Pods the updater asked to evict, by result (evicted, refused).",
                    Target(f"sum by (result) (rate({_V}evictions_total{_RATE}))", "{{result}}"),
                    unit="ops",
                ),
            ),
        ),
    ),
)
