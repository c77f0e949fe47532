"""The ScaledObjects dashboard (uid ``podscaler``): replicas, triggers, decisions and the scale
loop, over podscaler_* and keda_* series.

The namespace label is a variable (``namespace_label``): Prometheus renames podscaler's
``namespace`` to ``exported_namespace`` when the scrape adds its own (a ServiceMonitor, or
``kubernetes_sd_configs`` without ``honor_labels``), and keeps it when the scrape honors labels."""

from __future__ import annotations

from podscaler.observability.dashboards.model import (
    Board,
    Column,
    QueryVariable,
    Row,
    Target,
    choice,
    stat,
    table,
    timeseries,
)

SCALED_OBJECTS = Board(
    uid="podscaler",
    title="podscaler",
    description=(
        "podscaler's ScaledObjects: replicas, triggers, decisions and "
        "the scale loop (podscaler_* and keda_* metrics from podscaler "
        "run's /metrics)."
    ),
    tags=("podscaler", "autoscaling", "keda"),
    variables=(
        choice(
            "namespace_label",
            "Namespace label",
            ("exported_namespace", "namespace"),
            (
                "The label holding a ScaledObject's namespace. Prometheus "
                "renames podscaler's namespace label to exported_namespace "
                "when the scrape adds its own (a ServiceMonitor or "
                "kubernetes_sd_configs without honorLabels); pick namespace "
                "when the scrape honors labels."
            ),
        ),
        QueryVariable(
            "namespace",
            "Namespace",
            ("label_values(podscaler_scaledobject_decisions_total, $namespace_label)"),
        ),
        QueryVariable(
            "scaledObject",
            "ScaledObject",
            (
                "label_values(podscaler_scaledobject_decisions_total{$namespace"
                '_label=~"$namespace"}, '
                "scaledobject)"
            ),
        ),
    ),
    rows=(
        Row(
            "Overview",
            (
                stat(
                    "ScaledObjects",
                    (
                        "count(count by ($namespace_label, scaledobject) "
                        '(podscaler_scaledobject_decisions_total{$namespace_label=~"$na'
                        'mespace", '
                        'scaledobject=~"$scaledObject"}))'
                    ),
                    (
                        "ScaledObjects podscaler evaluates (matching the filters), "
                        "including those it cannot scale."
                    ),
                ),
                stat(
                    "Active",
                    (
                        "sum(max by ($namespace_label, scaledObject) "
                        '(keda_scaler_active{$namespace_label=~"$namespace", '
                        'scaledObject=~"$scaledObject", type="scaledobject"}))'
                    ),
                    ("ScaledObjects with at least one active trigger (KEDA's Active condition)."),
                ),
                stat(
                    "Paused",
                    (
                        'sum(keda_scaled_object_paused{$namespace_label=~"$namespace", '
                        'scaledObject=~"$scaledObject"})'
                    ),
                    ("ScaledObjects paused by the paused or paused-replicas annotation."),
                    thresholds=(("green", None), ("orange", 1)),
                ),
                stat(
                    "Falling back",
                    (
                        "count(sum by ($namespace_label, scaledobject) "
                        "(increase(podscaler_scaledobject_decisions_total{$namespace_la"
                        'bel=~"$namespace", '
                        'scaledobject=~"$scaledObject", '
                        'rule="fallback"}[$__rate_interval])) > 0) or vector(0)'
                    ),
                    (
                        "ScaledObjects whose replicas came from spec.fallback (failing "
                        "triggers) in the last rate interval."
                    ),
                    thresholds=(("green", None), ("red", 1)),
                ),
                stat(
                    "Trigger error rate",
                    (
                        'sum(rate(podscaler_trigger_errors_total{$namespace_label=~"$na'
                        'mespace", '
                        'scaledobject=~"$scaledObject"}[$__rate_interval])) or '
                        "vector(0)"
                    ),
                    "Failed trigger evaluations per second (errors and timeouts).",
                    unit="cps",
                    decimals=None,
                    thresholds=(("green", None), ("red", 0.001)),
                ),
                stat(
                    "Scale loop lateness p99",
                    (
                        "histogram_quantile(0.99, sum by (le) "
                        '(rate(podscaler_scale_loop_lateness_seconds_bucket{type="scale'
                        'dobject"}[$__rate_interval])))'
                    ),
                    (
                        "How late evaluations started against their polling schedule, "
                        "all ScaledObjects."
                    ),
                    unit="s",
                    decimals=None,
                    thresholds=(("green", None), ("orange", 0.5), ("red", 2)),
                ),
            ),
        ),
        Row(
            "Replicas",
            (
                timeseries(
                    "Desired vs current replicas",
                    (
                        "Desired: what podscaler decided at the last evaluation. "
                        "Current: the target's /scale spec.replicas it saw. A lasting "
                        "gap means writes fail or something else scales the target."
                    ),
                    Target(
                        (
                            "max by ($namespace_label, scaledobject) "
                            '(podscaler_scaledobject_desired_replicas{$namespace_label=~"$n'
                            'amespace", '
                            'scaledobject=~"$scaledObject"})'
                        ),
                        "{{scaledobject}} desired",
                    ),
                    Target(
                        (
                            "max by ($namespace_label, scaledobject) "
                            '(podscaler_scaledobject_current_replicas{$namespace_label=~"$n'
                            'amespace", '
                            'scaledobject=~"$scaledObject"})'
                        ),
                        "{{scaledobject}} current",
                    ),
                    unit="none",
                    decimals=0,
                    steps=True,
                ),
                table(
                    "ScaledObjects now",
                    ("One row per ScaledObject: replicas, activity, pause and trigger errors."),
                    Column(
                        "desired",
                        (
                            "max by ($namespace_label, scaledobject) "
                            '(podscaler_scaledobject_desired_replicas{$namespace_label=~"$n'
                            'amespace", '
                            'scaledobject=~"$scaledObject"})'
                        ),
                    ),
                    Column(
                        "current",
                        (
                            "max by ($namespace_label, scaledobject) "
                            '(podscaler_scaledobject_current_replicas{$namespace_label=~"$n'
                            'amespace", '
                            'scaledobject=~"$scaledObject"})'
                        ),
                    ),
                    Column(
                        "active",
                        (
                            "max by ($namespace_label, scaledobject) "
                            '(label_replace(keda_scaler_active{$namespace_label=~"$namespac'
                            'e", '
                            'scaledObject=~"$scaledObject", type="scaledobject"}, '
                            '"scaledobject", "$1", "scaledObject", "(.*)"))'
                        ),
                    ),
                    Column(
                        "paused",
                        (
                            "max by ($namespace_label, scaledobject) "
                            '(label_replace(keda_scaled_object_paused{$namespace_label=~"$n'
                            'amespace", '
                            'scaledObject=~"$scaledObject"}, "scaledobject", "$1", '
                            '"scaledObject", "(.*)"))'
                        ),
                    ),
                    Column(
                        "trigger errors/s",
                        (
                            "sum by ($namespace_label, scaledobject) "
                            '(rate(podscaler_trigger_errors_total{$namespace_label=~"$names'
                            'pace", '
                            'scaledobject=~"$scaledObject"}[$__rate_interval]))'
                        ),
                        "cps",
                    ),
                ),
                timeseries(
                    "Decisions by rule",
                    (
                        "Evaluations per second by the rule that bound the result: "
                        "hpa.<bound> (the HPA algorithm and what limited it), "
                        "activation, deactivation, cooldown, fallback, pause, "
                        "pausedReplicas, targetNotFound, invalid ..."
                    ),
                    Target(
                        (
                            "sum by (rule) "
                            "(rate(podscaler_scaledobject_decisions_total{$namespace_label="
                            '~"$namespace", '
                            'scaledobject=~"$scaledObject"}[$__rate_interval]))'
                        ),
                        "{{rule}}",
                    ),
                    unit="ops",
                    stacked=True,
                ),
                timeseries(
                    "Decisions by ScaledObject and rule",
                    "Which rule decided each ScaledObject's replicas, over time.",
                    Target(
                        (
                            "sum by (scaledobject, rule) "
                            "(rate(podscaler_scaledobject_decisions_total{$namespace_label="
                            '~"$namespace", '
                            'scaledobject=~"$scaledObject"}[$__rate_interval]))'
                        ),
                        "{{scaledobject}}: {{rule}}",
                    ),
                    unit="ops",
                ),
            ),
        ),
        Row(
            "Triggers",
            (
                timeseries(
                    "Trigger values",
                    (
                        "Last value of each trigger metric, raw, in the metric's own "
                        "unit. Compare with the trigger's threshold in the "
                        "ScaledObject: replicas = ceil(value / threshold)."
                    ),
                    Target(
                        (
                            "max by (scaledobject, trigger_index, metric) "
                            '(podscaler_trigger_value{$namespace_label=~"$namespace", '
                            'scaledobject=~"$scaledObject"})'
                        ),
                        "{{scaledobject}} {{metric}}",
                    ),
                    unit="short",
                    minimum=None,
                ),
                timeseries(
                    "Trigger active",
                    (
                        "1 when the trigger's value is above its activation threshold "
                        "(KEDA's keda_scaler_active)."
                    ),
                    Target(
                        (
                            "max by (scaledObject, metric) "
                            '(keda_scaler_active{$namespace_label=~"$namespace", '
                            'scaledObject=~"$scaledObject", type="scaledobject"})'
                        ),
                        "{{scaledObject}} {{metric}}",
                    ),
                    unit="none",
                    maximum=1,
                    steps=True,
                    yes_no=True,
                ),
                timeseries(
                    "Trigger errors",
                    (
                        "Failed trigger evaluations per second, errors and timeouts. "
                        "After spec.fallback.failureThreshold consecutive failures the "
                        "fallback replicas apply."
                    ),
                    Target(
                        (
                            "sum by (scaledobject, metric) "
                            '(rate(podscaler_trigger_errors_total{$namespace_label=~"$names'
                            'pace", '
                            'scaledobject=~"$scaledObject"}[$__rate_interval]))'
                        ),
                        "{{scaledobject}} {{metric}}",
                    ),
                    unit="cps",
                ),
                timeseries(
                    "Trigger query latency",
                    "Time the last poll of each trigger took.",
                    Target(
                        (
                            "max by (scaledObject, metric) "
                            '(keda_scaler_metrics_latency_seconds{$namespace_label=~"$names'
                            'pace", '
                            'scaledObject=~"$scaledObject", type="scaledobject"})'
                        ),
                        "{{scaledObject}} {{metric}}",
                    ),
                    unit="s",
                ),
            ),
        ),
        Row(
            "Fallback, pause and errors",
            (
                timeseries(
                    "Fallback and paused",
                    (
                        "fallback: 1 while the replicas come from spec.fallback. "
                        "paused: 1 while a pause annotation holds the ScaledObject."
                    ),
                    Target(
                        (
                            "max by (scaledobject) "
                            "(increase(podscaler_scaledobject_decisions_total{$namespace_la"
                            'bel=~"$namespace", '
                            'scaledobject=~"$scaledObject", '
                            'rule="fallback"}[$__rate_interval]) > bool 0)'
                        ),
                        "{{scaledobject}} fallback",
                    ),
                    Target(
                        (
                            "max by (scaledObject) "
                            '(keda_scaled_object_paused{$namespace_label=~"$namespace", '
                            'scaledObject=~"$scaledObject"})'
                        ),
                        "{{scaledObject}} paused",
                    ),
                    unit="none",
                    maximum=1,
                    steps=True,
                    yes_no=True,
                ),
                timeseries(
                    "ScaledObject errors",
                    (
                        "Evaluations that stopped on an error (invalid spec, missing "
                        "target, failed /scale write) per second."
                    ),
                    Target(
                        (
                            "sum by (scaledObject) "
                            '(rate(keda_scaled_object_errors_total{$namespace_label=~"$name'
                            'space", '
                            'scaledObject=~"$scaledObject"}[$__rate_interval]))'
                        ),
                        "{{scaledObject}}",
                    ),
                    unit="cps",
                ),
                timeseries(
                    "Scale writes",
                    ("Writes of the targets' /scale subresource per second, by outcome."),
                    Target(
                        (
                            "sum by (outcome) "
                            "(rate(podscaler_scaledobject_scale_writes_total{$namespace_lab"
                            'el=~"$namespace", '
                            'scaledobject=~"$scaledObject"}[$__rate_interval]))'
                        ),
                        "{{outcome}}",
                    ),
                    unit="wps",
                ),
                timeseries(
                    "Last scale loop lateness per ScaledObject",
                    (
                        "How late the last scheduled evaluation of each ScaledObject "
                        "started (KEDA's keda_internal_scale_loop_latency_seconds)."
                    ),
                    Target(
                        (
                            "max by (resource) "
                            '(keda_internal_scale_loop_latency_seconds{$namespace_label=~"$'
                            'namespace", '
                            'type="scaledobject", resource=~"$namespace/$scaledObject"})'
                        ),
                        "{{resource}}",
                    ),
                    unit="s",
                ),
            ),
        ),
        Row(
            "Operator",
            (
                timeseries(
                    "Scale loop lateness",
                    (
                        "Start of each evaluation against its schedule "
                        "(pollingInterval), all ScaledObjects. Growing lateness means "
                        "the operator cannot keep up with the polling intervals."
                    ),
                    Target(
                        (
                            "histogram_quantile(0.5, sum by (le) "
                            '(rate(podscaler_scale_loop_lateness_seconds_bucket{type="scale'
                            'dobject"}[$__rate_interval])))'
                        ),
                        "p50",
                    ),
                    Target(
                        (
                            "histogram_quantile(0.95, sum by (le) "
                            '(rate(podscaler_scale_loop_lateness_seconds_bucket{type="scale'
                            'dobject"}[$__rate_interval])))'
                        ),
                        "p95",
                    ),
                    Target(
                        (
                            "histogram_quantile(0.99, sum by (le) "
                            '(rate(podscaler_scale_loop_lateness_seconds_bucket{type="scale'
                            'dobject"}[$__rate_interval])))'
                        ),
                        "p99",
                    ),
                    unit="s",
                    width=8,
                ),
                timeseries(
                    "Evaluation duration",
                    (
                        "Time one ScaledObject evaluation took, triggers to status "
                        "write, all ScaledObjects."
                    ),
                    Target(
                        (
                            "histogram_quantile(0.5, sum by (le) "
                            "(rate(podscaler_scaledobject_evaluation_duration_seconds_bucke"
                            "t[$__rate_interval])))"
                        ),
                        "p50",
                    ),
                    Target(
                        (
                            "histogram_quantile(0.95, sum by (le) "
                            "(rate(podscaler_scaledobject_evaluation_duration_seconds_bucke"
                            "t[$__rate_interval])))"
                        ),
                        "p95",
                    ),
                    Target(
                        (
                            "histogram_quantile(0.99, sum by (le) "
                            "(rate(podscaler_scaledobject_evaluation_duration_seconds_bucke"
                            "t[$__rate_interval])))"
                        ),
                        "p99",
                    ),
                    Target(
                        (
                            "sum(rate(podscaler_scaledobject_evaluation_duration_seconds_su"
                            "m[$__rate_interval])) "
                            "/ "
                            "sum(rate(podscaler_scaledobject_evaluation_duration_seconds_co"
                            "unt[$__rate_interval]))"
                        ),
                        "mean",
                    ),
                    unit="s",
                    width=8,
                ),
                timeseries(
                    "Evaluations",
                    "ScaledObject evaluations per second, all ScaledObjects.",
                    Target(
                        (
                            "sum(rate(podscaler_scaledobject_evaluation_duration_seconds_co"
                            "unt[$__rate_interval]))"
                        ),
                        "evaluations",
                    ),
                    unit="ops",
                    width=8,
                ),
            ),
        ),
    ),
)
