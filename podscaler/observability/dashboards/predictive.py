"""The predictive triggers dashboard (uid ``podscaler-predictive``): forecast vs live value,
the model's backtest error against the live value's, and its age
(``podscaler_predictive_*`` beside ``podscaler_trigger_value``)."""

from __future__ import annotations

from typing import Final

from podscaler.observability.dashboards.filters import (
    IN_NAMESPACE,
    namespace_label,
    namespaces,
    objects,
)
from podscaler.observability.dashboards.model import Board, Row, Target, stat
from podscaler.observability.dashboards.model import timeseries as series

_SEL: Final = f'{IN_NAMESPACE}, scaledobject=~"$scaledObject"'
_BY: Final = "max by (scaledobject, trigger, metric)"

PREDICTIVE = Board(
    uid="podscaler-predictive",
    title="podscaler / predictive triggers",
    description=(
        "Predictive triggers: the largest value forecast over the horizon against the live "
        "value, and whether the model earns its keep (backtest error vs the live value's)."
    ),
    tags=("podscaler", "autoscaling", "predictive"),
    variables=(
        namespace_label(),
        namespaces("podscaler_predictive_forecast"),
        objects("scaledObject", "ScaledObject", "podscaler_predictive_forecast", "scaledobject"),
    ),
    rows=(
        Row(
            "Models",
            (
                stat(
                    "Predictive triggers",
                    f"count(podscaler_predictive_forecast{{{_SEL}}})",
                    "Predictive triggers that reported a forecast (matching the filters).",
                    width=8,
                ),
                stat(
                    "Worst backtest error",
                    f"max(podscaler_predictive_backtest_mape_ratio{{{_SEL}}})",
                    "The largest mean absolute percentage error of a model on its held-out day. "
                    "A model that does not beat the live value is not used.",
                    unit="percentunit",
                    decimals=1,
                    thresholds=(("green", None), ("orange", 0.2), ("red", 0.5)),
                    width=8,
                ),
                stat(
                    "Oldest model",
                    f"max(podscaler_predictive_model_age_seconds{{{_SEL}}})",
                    "Time since the history the oldest model was fitted on ended (refit every "
                    "modelRefresh).",
                    unit="s",
                    decimals=None,
                    thresholds=(("green", None), ("orange", 7200), ("red", 86400)),
                    width=8,
                ),
            ),
        ),
        Row(
            "Forecast vs actual",
            (
                series(
                    "Forecast vs live value",
                    "Forecast: the largest value expected over the horizon (what the trigger "
                    "reports, never below the live value). Live: the query's value now.",
                    Target(
                        f"{_BY} (podscaler_predictive_forecast{{{_SEL}}})",
                        "{{scaledobject}} {{metric}} forecast",
                    ),
                    Target(
                        f"{_BY} (podscaler_trigger_value{{{_SEL}}}"
                        f" and on ($namespace_label, scaledobject, trigger_index)"
                        f" podscaler_predictive_forecast{{{_SEL}}})",
                        "{{scaledobject}} {{metric}} live",
                    ),
                    unit="short",
                    minimum=None,
                    width=24,
                ),
                series(
                    "Backtest error: model vs live value",
                    "Mean absolute percentage error one horizon ahead on the held-out day: the "
                    "model's, and the live value's (what a reactive trigger assumes).",
                    Target(
                        f"{_BY} (podscaler_predictive_backtest_mape_ratio{{{_SEL}}})",
                        "{{scaledobject}} {{metric}} model",
                    ),
                    Target(
                        f"{_BY} (podscaler_predictive_live_value_mape_ratio{{{_SEL}}})",
                        "{{scaledobject}} {{metric}} live value",
                    ),
                    unit="percentunit",
                ),
                series(
                    "Model age",
                    "Time since the history each model was fitted on ended.",
                    Target(
                        f"{_BY} (podscaler_predictive_model_age_seconds{{{_SEL}}})",
                        "{{scaledobject}} {{metric}}",
                    ),
                    unit="s",
                ),
            ),
        ),
    ),
)
