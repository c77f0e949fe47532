"""The KEDA-compatible dashboard (uid ``podscaler-keda``): the panels of KEDA's own "KEDA"
dashboard over the keda_* series podscaler exports with KEDA's names and labels, with KEDA's
variables (its namespace label is ``exported_namespace``, as in KEDA's dashboard)."""

from __future__ import annotations

from podscaler.observability.dashboards.model import (
    Board,
    QueryVariable,
    Row,
    Target,
    timeseries,
)

KEDA = Board(
    uid="podscaler-keda",
    title="KEDA (podscaler)",
    description=(
        'The panels of KEDA\'s own "KEDA" dashboard over the keda_* '
        "metrics podscaler exports with KEDA's names and labels; the "
        "namespace label is exported_namespace, as in KEDA's dashboard "
        "(Prometheus renames it when the scrape adds its own)."
    ),
    tags=("podscaler", "keda"),
    variables=(
        QueryVariable(
            "namespace",
            "Namespace",
            "label_values(keda_scaler_active, exported_namespace)",
            multi=False,
        ),
        QueryVariable(
            "scaledObject",
            "ScaledObject",
            ('label_values(keda_scaler_active{exported_namespace="$namespace"}, scaledObject)'),
        ),
        QueryVariable(
            "scaler",
            "Scaler",
            (
                'label_values(keda_scaler_active{exported_namespace="$namespace'
                '", '
                'scaledObject=~"$scaledObject"}, scaler)'
            ),
        ),
        QueryVariable(
            "metric",
            "Metric",
            (
                'label_values(keda_scaler_active{exported_namespace="$namespace'
                '", '
                'scaledObject=~"$scaledObject", scaler=~"$scaler"}, metric)'
            ),
        ),
    ),
    rows=(
        Row(
            "Metric Server",
            (
                timeseries(
                    "Scaler Total Errors",
                    "Scaler errors per second, all ScaledObjects, per scrape job.",
                    Target(
                        (
                            "sum by (job) "
                            "(rate(keda_scaler_detail_errors_total{}[$__rate_interval]))"
                        ),
                        "{{job}}",
                    ),
                    unit="cps",
                    width=8,
                ),
                timeseries(
                    "Scaler Errors",
                    "Scaler errors per second by scaler.",
                    Target(
                        (
                            "sum by (scaler) "
                            '(rate(keda_scaler_detail_errors_total{exported_namespace=~"$na'
                            'mespace", '
                            'scaledObject=~"$scaledObject", '
                            'scaler=~"$scaler"}[$__rate_interval]))'
                        ),
                        "{{scaler}}",
                    ),
                    unit="cps",
                    width=8,
                ),
                timeseries(
                    "Scaled Object Errors",
                    "ScaledObject errors per second.",
                    Target(
                        (
                            "sum by (scaledObject) "
                            '(rate(keda_scaled_object_errors_total{exported_namespace=~"$na'
                            'mespace", '
                            'scaledObject=~"$scaledObject"}[$__rate_interval]))'
                        ),
                        "{{scaledObject}}",
                    ),
                    unit="cps",
                    width=8,
                ),
            ),
        ),
        Row(
            "Scale Target",
            (
                timeseries(
                    "Scaler Metric Value",
                    (
                        "The value of each scaler metric, as the HPA reads it from the "
                        "external metrics API."
                    ),
                    Target(
                        (
                            "sum by (metric) "
                            '(keda_scaler_metrics_value{exported_namespace=~"$namespace", '
                            'metric=~"$metric", scaledObject=~"$scaledObject"})'
                        ),
                        "{{metric}}",
                    ),
                    unit="short",
                    minimum=None,
                ),
                timeseries(
                    "Scaler Active",
                    "1 when the scaler metric is above its activation threshold.",
                    Target(
                        (
                            "max by (scaledObject, scaler, metric) "
                            '(keda_scaler_active{exported_namespace=~"$namespace", '
                            'scaledObject=~"$scaledObject", scaler=~"$scaler", '
                            'metric=~"$metric"})'
                        ),
                        "{{scaledObject}} {{scaler}} {{metric}}",
                    ),
                    unit="none",
                    maximum=1,
                    steps=True,
                    yes_no=True,
                ),
                timeseries(
                    "Current replicas",
                    (
                        "The scale target's replicas. KEDA's dashboard reads "
                        "kube-state-metrics' HPA series (keda-hpa-<name>); podscaler "
                        "scales the target itself and reports them."
                    ),
                    Target(
                        (
                            "max by (scaledobject) "
                            '(podscaler_scaledobject_current_replicas{exported_namespace=~"'
                            '$namespace", '
                            'scaledobject=~"$scaledObject"})'
                        ),
                        "{{scaledobject}}",
                    ),
                    unit="none",
                    decimals=0,
                    steps=True,
                ),
                timeseries(
                    "Changes in replicas",
                    "Replica change over the last minute.",
                    Target(
                        (
                            "sum by (scaledobject) "
                            "(delta(podscaler_scaledobject_current_replicas{exported_namesp"
                            'ace=~"$namespace", '
                            'scaledobject=~"$scaledObject"}[1m]))'
                        ),
                        "{{scaledobject}}",
                    ),
                    unit="none",
                    minimum=None,
                    decimals=0,
                ),
            ),
        ),
        Row(
            "Scale loop",
            (
                timeseries(
                    "Scale Loop Latency",
                    (
                        "How late the last scale loop run of each ScaledObject started "
                        "against its schedule."
                    ),
                    Target(
                        (
                            "max by (resource) "
                            "(keda_internal_scale_loop_latency_seconds{exported_namespace=~"
                            '"$namespace", '
                            'type="scaledobject", resource=~"$namespace/$scaledObject"})'
                        ),
                        "{{resource}}",
                    ),
                    unit="s",
                    width=8,
                ),
                timeseries(
                    "Scaler Metric Latency",
                    "Time the last query of each scaler took.",
                    Target(
                        (
                            "max by (scaledObject, scaler, metric) "
                            '(keda_scaler_metrics_latency_seconds{exported_namespace=~"$nam'
                            'espace", '
                            'scaledObject=~"$scaledObject", scaler=~"$scaler", '
                            'metric=~"$metric"})'
                        ),
                        "{{scaledObject}} {{scaler}} {{metric}}",
                    ),
                    unit="s",
                    width=8,
                ),
                timeseries(
                    "Paused",
                    "1 while a pause annotation holds the ScaledObject.",
                    Target(
                        (
                            "max by (scaledObject) "
                            '(keda_scaled_object_paused{exported_namespace=~"$namespace", '
                            'scaledObject=~"$scaledObject"})'
                        ),
                        "{{scaledObject}}",
                    ),
                    unit="none",
                    maximum=1,
                    steps=True,
                    yes_no=True,
                    width=8,
                ),
            ),
        ),
    ),
)
