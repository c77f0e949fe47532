"""What a trigger explains beside its value (``MetricValue.details``, e.g. the predictive
trigger's forecast and model error) reaches the decision record, ``podscaler explain``'s text
and the ``podscaler_predictive_*`` gauges, and leaves with the object's other series."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from podscaler.api.scaledobject import HealthStatusType, ScaledObjectStatus
from podscaler.controllers.scaledobject.mapping import state_from_status
from podscaler.controllers.scaledobject.records import (
    DecisionLog,
    DecisionRecord,
    render_records,
)
from podscaler.controllers.scaledobject.status import StatusParts, compose_status, status_patch
from podscaler.controllers.triggers import BuiltTrigger, TriggerSet
from podscaler.engine.keda import MetricHealth, ScalingState
from podscaler.observability.metrics import OperatorMetrics
from scalers import ScalerConfig, ScalerEnvironment, default_registry
from scalers.contract import (
    ExternalMetricSpec,
    MetricSpec,
    MetricTarget,
    MetricTargetType,
    MetricValue,
)

NOW = datetime(2026, 1, 12, 7, 50, tzinfo=UTC)
DETAILS: dict[str, Any] = {
    "live": 200.0,
    "used": "forecast",
    "forecast": 410.0,
    "backtestMape": 0.031,
    "liveValueMape": 0.12,
    "modelAgeSeconds": 600.0,
    "fitSeconds": 0.25,
    "model": "ridge-daily-48",
    "summary": "reported 410 (forecast; live 200, forecast peak 410 within 3m): forecast 410 in 3m",
}


class ExplainingScaler:
    """A trigger (as a third-party plugin would be) whose samples carry details."""

    def __init__(self, details: dict[str, Any] | None) -> None:
        self.details = details

    def metric_specs(self) -> list[MetricSpec]:
        target = MetricTarget(type=MetricTargetType.AVERAGE_VALUE, average_value=95.0)
        return [ExternalMetricSpec(metric_name="s0-predictive", target=target)]

    async def get_metrics_and_activity(self, metric_name: str) -> tuple[list[MetricValue], bool]:
        sample = MetricValue(
            metric_name=metric_name, value=410.0, raw=410.0, timestamp=NOW, details=self.details
        )
        return [sample], True

    async def close(self) -> None:
        return None


def _poll(details: dict[str, Any] | None) -> Any:
    scaler = ExplainingScaler(details)
    trigger = BuiltTrigger(0, "predictive", "ahead", ScalerConfig(), scaler, scaler.metric_specs())
    triggers = TriggerSet([trigger], default_registry(), ScalerEnvironment(now=lambda: NOW))
    return asyncio.run(triggers.poll(5.0, lambda: 0.0))


def test_details_reach_the_record_and_the_explain_text() -> None:
    (record,) = _poll(DETAILS).records
    assert record.details == DETAILS
    assert record.value == 410.0
    log = DecisionLog()
    log.add(
        "shop",
        "web",
        DecisionRecord(
            at="2026-01-12T07:50:00Z",
            generation=1,
            current_replicas=3,
            desired_replicas=5,
            rule="hpa",
            summary="the predictive metric asks for 5",
            active=True,
            triggers=(record,),
        ),
    )
    document = json.loads(json.dumps(log.to_json()))  # what /debug/decisions serves
    text = render_records(document["objects"][0]["decisions"])
    assert "trigger 0 ahead (s0-predictive): value 410, active" in text
    assert f"    {DETAILS['summary']}" in text.splitlines()


def test_a_trigger_without_details_renders_as_before() -> None:
    (record,) = _poll(None).records
    assert record.details is None


def _exposition(metrics: OperatorMetrics) -> str:
    return metrics.exposition().decode()


def test_numeric_details_are_gauges_with_the_triggers_labels() -> None:
    metrics = OperatorMetrics()
    metrics.trigger(
        "shop",
        "web",
        index=1,
        trigger_name="",
        trigger_type="predictive",
        metric="s1-predictive",
        value=410.0,
        active=True,
        error=False,
        latency_seconds=0.01,
        details={**DETAILS, "unknownKey": 5.0},
    )
    text = _exposition(metrics)
    labels = (
        'namespace="shop"',
        'scaledobject="web"',
        'trigger="predictive"',
        'trigger_index="1"',
        'metric="s1-predictive"',
    )
    for name, value in (
        ("podscaler_predictive_forecast", "410.0"),
        ("podscaler_predictive_backtest_mape_ratio", "0.031"),
        ("podscaler_predictive_live_value_mape_ratio", "0.12"),
        ("podscaler_predictive_model_age_seconds", "600.0"),
        ("podscaler_predictive_fit_seconds", "0.25"),
    ):
        line = next(line for line in text.splitlines() if line.startswith(name + "{"))
        assert all(part in line for part in labels), line
        assert line.endswith(" " + value)
    assert "unknownKey" not in text  # only the keys named in TRIGGER_DETAIL_GAUGES
    assert "ridge" not in text  # and only numbers
    metrics.forget("shop", "web")
    assert "podscaler_predictive_forecast{" not in _exposition(metrics)


def test_a_failed_poll_leaves_the_last_details_standing() -> None:
    metrics = OperatorMetrics()
    common: dict[str, Any] = {
        "index": 0, "trigger_name": "", "trigger_type": "predictive", "metric": "s0-predictive",
        "active": True, "latency_seconds": 0.0,
    }  # fmt: skip
    metrics.trigger("shop", "web", value=1.0, error=False, details={"backtestMape": 0.05}, **common)
    metrics.trigger("shop", "web", value=None, error=True, details={"backtestMape": 0.9}, **common)
    line = next(
        line
        for line in _exposition(metrics).splitlines()
        if line.startswith("podscaler_predictive_backtest_mape_ratio{")
    )
    assert line.endswith(" 0.05")


FORECAST_STATUS = {
    "model": "ridge-daily-48",
    "used": True,
    "historySamples": 10081,
    "backtestMape": 0.031,
    "backtestMae": 4.2,
    "liveValueMape": 0.12,
    "fittedAt": "2026-01-12T07:50:00Z",
    "fitSeconds": 0.25,
}


def _status(forecasts: dict[str, Any], health: dict[str, MetricHealth]) -> dict[str, Any]:
    state = ScalingState(health=MappingProxyType(health))
    parts = StatusParts(generation=1, forecasts=forecasts)
    return compose_status(None, state, parts, NOW, last_active=None)


def test_the_model_is_in_the_metrics_health_entry_and_nothing_else_changes() -> None:
    failing = MetricHealth(number_of_failures=2, status=HealthStatusType.FAILING)
    status = _status(
        {"s0-predictive": FORECAST_STATUS, "s1-predictive": {}},
        {"s0-predictive": failing, "s2-cron": MetricHealth()},
    )
    assert status["health"] == {
        "s0-predictive": {
            "numberOfFailures": 2,
            "status": "Failing",
            "forecast": FORECAST_STATUS,
        },
        "s2-cron": {"numberOfFailures": 0, "status": "Happy"},
    }
    # The status model (and so the CRD) knows every key.
    parsed = ScaledObjectStatus.model_validate(status)
    assert parsed.health is not None
    forecast = parsed.health["s0-predictive"].forecast
    assert forecast is not None
    assert forecast.model_dump(by_alias=True, exclude_none=True) == FORECAST_STATUS


def test_a_model_alone_makes_an_entry_that_a_restart_does_not_read_as_a_poll() -> None:
    status = _status({"s0-predictive": FORECAST_STATUS}, {})
    assert status["health"] == {"s0-predictive": {"forecast": FORECAST_STATUS}}
    assert dict(state_from_status(status).health) == {}


def test_a_refit_changes_the_status_once_and_a_dropped_field_is_sent_as_null() -> None:
    before = _status({"s0-predictive": {**FORECAST_STATUS, "lastError": "history: 503"}}, {})
    assert status_patch(before, before) is None  # polls between refits write nothing
    after = _status({"s0-predictive": {**FORECAST_STATUS, "fitSeconds": 0.3}}, {})
    patch = status_patch(before, after)
    assert patch == {
        "health": {"s0-predictive": {"forecast": {"fitSeconds": 0.3, "lastError": None}}}
    }
