"""The ProportionalScalers dashboard (uid ``podscaler-proportional``): what each add-on was
sized to, from which cluster size, and whether its target follows
(``podscaler_proportionalscaler_*``)."""

from __future__ import annotations

from typing import Final

from podscaler.observability.dashboards.filters import (
    IN_NAMESPACE,
    namespace_label,
    namespaces,
    objects,
)
from podscaler.observability.dashboards.model import Board, Column, Row, Target, stat, table
from podscaler.observability.dashboards.model import timeseries as series

_M: Final = "podscaler_proportionalscaler_"
_SEL: Final = f'{IN_NAMESPACE}, proportionalscaler=~"$proportionalScaler"'
_BY: Final = "max by ($namespace_label, proportionalscaler)"

PROPORTIONAL = Board(
    uid="podscaler-proportional",
    title="podscaler / ProportionalScalers",
    description=(
        "ProportionalScalers (cluster-proportional-autoscaler's model): replicas decided from "
        "the cluster's nodes and cores, whether the target follows, refused parameters."
    ),
    tags=("podscaler", "autoscaling", "cluster-proportional-autoscaler"),
    variables=(
        namespace_label(),
        namespaces(f"{_M}desired_replicas"),
        objects(
            "proportionalScaler",
            "ProportionalScaler",
            f"{_M}desired_replicas",
            "proportionalscaler",
        ),
    ),
    rows=(
        Row(
            "Problems",
            (
                stat(
                    "Refused parameters",
                    f'sum({_M}problem{{{_SEL}, kind="parameters"}})',
                    "Scalers whose latest parameters (spec or CPA ConfigMap) do not parse: the "
                    "last good ones stay in force (see the ParametersValid condition).",
                    thresholds=(("green", None), ("red", 1)),
                    width=6,
                ),
                stat(
                    "Targets not scaled",
                    f'sum({_M}problem{{{_SEL}, kind="target"}})',
                    "Scalers whose target is missing, has no /scale, or refused the write.",
                    thresholds=(("green", None), ("red", 1)),
                    width=6,
                ),
                stat(
                    "ProportionalScalers",
                    f"count({_M}desired_replicas{{{_SEL}}})",
                    "Scalers that decided at least once (matching the filters).",
                    width=6,
                ),
                stat(
                    "Cluster nodes counted",
                    f"max({_M}cluster_nodes{{{_SEL}}})",
                    "The largest node count a scaler's last decision used.",
                    width=6,
                ),
            ),
        ),
        Row(
            "Replicas",
            (
                series(
                    "Desired replicas",
                    "Replicas each scaler decided at its last decision.",
                    Target(f"{_BY} ({_M}desired_replicas{{{_SEL}}})", "{{proportionalscaler}}"),
                    unit="none",
                    decimals=0,
                    steps=True,
                ),
                table(
                    "ProportionalScalers now",
                    "One row per scaler: its decision, the cluster size it counted, problems.",
                    Column("desired", f"{_BY} ({_M}desired_replicas{{{_SEL}}})"),
                    Column("nodes", f"{_BY} ({_M}cluster_nodes{{{_SEL}}})"),
                    Column("cores", f"{_BY} ({_M}cluster_cores{{{_SEL}}})"),
                    Column(
                        "problems",
                        f"sum by ($namespace_label, proportionalscaler) ({_M}problem{{{_SEL}}})",
                    ),
                ),
                series(
                    "Cluster size counted",
                    "Nodes and cores each scaler's last decision counted (its node selector).",
                    Target(f"{_BY} ({_M}cluster_nodes{{{_SEL}}})", "{{proportionalscaler}} nodes"),
                    Target(f"{_BY} ({_M}cluster_cores{{{_SEL}}})", "{{proportionalscaler}} cores"),
                    unit="none",
                    steps=True,
                ),
                series(
                    "Decisions and target updates",
                    "Decisions per second (node-count changes, parameter changes, resyncs) and "
                    "checks of the target's /scale by outcome.",
                    Target(
                        f"sum(rate({_M}decisions_total{{{_SEL}}}[$__rate_interval]))", "decisions"
                    ),
                    Target(
                        f"sum by (outcome) (rate({_M}scale_updates_total{{{_SEL}}}"
                        "[$__rate_interval]))",
                        "target {{outcome}}",
                    ),
                    unit="ops",
                ),
            ),
        ),
    ),
)
