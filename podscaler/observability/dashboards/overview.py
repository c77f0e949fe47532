"""The overview dashboard (uid ``podscaler-overview``): everything podscaler manages, errors
first — a platform team's first look, with a link to each part's own dashboard.

Each stat reads across kinds: ScaledObjects and ScaledJobs (``keda_*``/``podscaler_*``),
ProportionalScalers, the node autoscaler. Error stats end in ``or vector(0)`` so "no errors"
reads 0, not "No data"."""

from __future__ import annotations

from typing import Final

from podscaler.observability.dashboards.filters import IN_NAMESPACE, namespace_label, namespaces
from podscaler.observability.dashboards.model import Board, Row, Target, stat
from podscaler.observability.dashboards.model import timeseries as series

_RATE: Final = "[$__rate_interval]"
_RED: Final = (("green", None), ("red", 0.001))
_ORANGE: Final = (("green", None), ("orange", 1))


def _link(title: str, uid: str) -> dict[str, object]:
    return {
        "asDropdown": False,
        "icon": "dashboard",
        "includeVars": False,
        "keepTime": True,
        "tags": [],
        "targetBlank": False,
        "title": title,
        "tooltip": "",
        "type": "link",
        "url": f"/d/{uid}",
    }


OVERVIEW = Board(
    uid="podscaler-overview",
    title="podscaler / overview",
    description=(
        "Everything podscaler manages, errors first: ScaledObjects, ScaledJobs, "
        "ProportionalScalers and the node autoscaler, with links to each one's dashboard."
    ),
    tags=("podscaler", "autoscaling"),
    variables=(namespace_label(), namespaces("podscaler_scaledobject_decisions_total")),
    links=(
        _link("ScaledObjects", "podscaler"),
        _link("KEDA", "podscaler-keda"),
        _link("ProportionalScalers", "podscaler-proportional"),
        _link("Predictive triggers", "podscaler-predictive"),
        _link("Nodes", "podscaler-nodes"),
        _link("VerticalScalers", "podscaler-vertical"),
    ),
    rows=(
        Row(
            "Errors",
            (
                stat(
                    "ScaledObject errors",
                    f"sum(rate(keda_scaled_object_errors_total{{{IN_NAMESPACE}}}{_RATE}))"
                    " or vector(0)",
                    "Invalid objects, missing targets, failed /scale writes, failed polls.",
                    unit="cps",
                    decimals=None,
                    thresholds=_RED,
                ),
                stat(
                    "Trigger errors",
                    f"sum(rate(podscaler_trigger_errors_total{{{IN_NAMESPACE}}}{_RATE}))"
                    " or vector(0)",
                    "Failed trigger evaluations (errors and timeouts) of ScaledObjects.",
                    unit="cps",
                    decimals=None,
                    thresholds=_RED,
                ),
                stat(
                    "ScaledJob errors",
                    f"sum(rate(keda_scaled_job_errors_total{{{IN_NAMESPACE}}}{_RATE}))"
                    " or vector(0)",
                    "Invalid ScaledJobs, Jobs that could not be created, failed polls.",
                    unit="cps",
                    decimals=None,
                    thresholds=_RED,
                ),
                stat(
                    "Falling back",
                    "count(sum by ($namespace_label, scaledobject) (increase("
                    f'podscaler_scaledobject_decisions_total{{{IN_NAMESPACE}, rule="fallback"}}'
                    f"{_RATE})) > 0) or vector(0)",
                    "ScaledObjects on spec.fallback replicas (their triggers fail).",
                    thresholds=_ORANGE,
                ),
                stat(
                    "ProportionalScaler problems",
                    f"sum(podscaler_proportionalscaler_problem{{{IN_NAMESPACE}}}) or vector(0)",
                    "Refused parameters or targets that cannot be scaled.",
                    thresholds=_ORANGE,
                ),
                stat(
                    "Node autoscaler errors",
                    f"sum(increase(cluster_autoscaler_errors_total{_RATE})) "
                    "+ (count(max by (node_group) (cluster_autoscaler_node_group_backoff_status)"
                    " == 1) or vector(0)) "
                    "or vector(0)",
                    "Loop errors in the last rate interval plus node groups in backoff.",
                    thresholds=_ORANGE,
                ),
            ),
        ),
        Row(
            "Managed",
            (
                stat(
                    "ScaledObjects",
                    "count(count by ($namespace_label, scaledobject) "
                    f"(podscaler_scaledobject_decisions_total{{{IN_NAMESPACE}}}))",
                    "ScaledObjects podscaler evaluates, including those it cannot scale.",
                ),
                stat(
                    "Active",
                    "sum(max by ($namespace_label, scaledObject) "
                    f'(keda_scaler_active{{{IN_NAMESPACE}, type="scaledobject"}}))',
                    "ScaledObjects with at least one active trigger.",
                ),
                stat(
                    "Paused",
                    f"sum(keda_scaled_object_paused{{{IN_NAMESPACE}}})",
                    "ScaledObjects paused by annotation.",
                    thresholds=_ORANGE,
                ),
                stat(
                    "ProportionalScalers",
                    f"count(podscaler_proportionalscaler_desired_replicas{{{IN_NAMESPACE}}})"
                    " or vector(0)",
                    "ProportionalScalers that decided (0 when none or the CRD is not installed).",
                ),
                stat(
                    "Ready nodes",
                    'max(cluster_autoscaler_nodes_count{state="ready"})',
                    "Ready nodes of the node groups the node autoscaler manages (no data when "
                    "it does not run).",
                ),
                stat(
                    "Scale loop lateness p99",
                    "histogram_quantile(0.99, sum by (le) (rate("
                    f"podscaler_scale_loop_lateness_seconds_bucket{_RATE})))",
                    "How late polls start against their schedule, every kind: a loop that "
                    "falls behind shows here first.",
                    unit="s",
                    decimals=None,
                    thresholds=(("green", None), ("orange", 0.5), ("red", 2)),
                ),
            ),
        ),
        Row(
            "Over time",
            (
                series(
                    "Errors by kind",
                    "Errors per second of each part.",
                    Target(
                        f"sum(rate(keda_scaled_object_errors_total{{{IN_NAMESPACE}}}{_RATE}))",
                        "ScaledObjects",
                    ),
                    Target(
                        f"sum(rate(podscaler_trigger_errors_total{{{IN_NAMESPACE}}}{_RATE}))",
                        "triggers",
                    ),
                    Target(
                        f"sum(rate(keda_scaled_job_errors_total{{{IN_NAMESPACE}}}{_RATE}))",
                        "ScaledJobs",
                    ),
                    Target(f"sum(rate(cluster_autoscaler_errors_total{_RATE}))", "nodes"),
                    unit="cps",
                ),
                series(
                    "Decisions by rule",
                    "What bound each ScaledObject evaluation (hpa, cooldown, fallback, pause...).",
                    Target(
                        "sum by (rule) (rate(podscaler_scaledobject_decisions_total"
                        f"{{{IN_NAMESPACE}}}{_RATE}))",
                        "{{rule}}",
                    ),
                    unit="ops",
                    stacked=True,
                ),
                series(
                    "Scale loop lateness by type",
                    "p99 lateness of the poll loop per kind (scaledobject, scaledjob).",
                    Target(
                        "histogram_quantile(0.99, sum by (type, le) (rate("
                        f"podscaler_scale_loop_lateness_seconds_bucket{_RATE})))",
                        "{{type}}",
                    ),
                    unit="s",
                ),
                series(
                    "Replicas managed",
                    "Sum of desired replicas over ScaledObjects and ProportionalScalers.",
                    Target(
                        f"sum(podscaler_scaledobject_desired_replicas{{{IN_NAMESPACE}}})",
                        "ScaledObjects",
                    ),
                    Target(
                        f"sum(podscaler_proportionalscaler_desired_replicas{{{IN_NAMESPACE}}})",
                        "ProportionalScalers",
                    ),
                    unit="none",
                    decimals=0,
                    steps=True,
                ),
            ),
        ),
    ),
)
