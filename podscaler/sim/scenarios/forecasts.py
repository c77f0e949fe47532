"""What the predictive triggers of an in-process operator forecast, sampled during a run.

The report draws the forecast beside the demand. The forecast is the operator's, not one
recomputed here: the run reads the operator's own ``/metrics`` (the same endpoint a
Prometheus would scrape) once a simulated minute and keeps, per ScaledObject, the largest
forecast over the trigger's horizon (``podscaler_predictive_forecast``) and the value the
trigger reported (``podscaler_trigger_value``: never below the live value). Nothing is sampled
for a scenario without a predictive trigger.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["FORECAST_SAMPLE_SECONDS", "ForecastSamples", "sample_forecasts"]

log = logging.getLogger(__name__)

#: How often (loop time) the operator's metrics are read: the trigger polls every 15-30 s
#: and a report's pixel is a few minutes of a day.
FORECAST_SAMPLE_SECONDS = 60.0

_FORECAST = "podscaler_predictive_forecast"
_VALUE = "podscaler_trigger_value"


@dataclass
class ForecastSamples:
    """Per ScaledObject (``namespace/name``): ``(run seconds, forecast, reported value)``."""

    by_object: dict[str, list[tuple[float, float | None, float | None]]] = field(
        default_factory=dict
    )

    def add_exposition(self, seconds: float, text: str) -> None:
        """One scrape of the operator's metrics, as Prometheus' text format."""
        forecasts: dict[str, float] = {}
        values: dict[str, float] = {}
        predictive: set[str] = set()
        for family in text_string_to_metric_families(text):
            if family.name not in (_FORECAST, _VALUE):
                continue
            for sample in family.samples:
                labels = sample.labels
                key = f"{labels.get('namespace', '')}/{labels.get('scaledobject', '')}"
                if family.name == _FORECAST:
                    forecasts[key] = float(sample.value)
                    predictive.add(key)
                elif labels.get("trigger") == "predictive":
                    values[key] = float(sample.value)
                    predictive.add(key)
        for key in sorted(predictive):
            row = (seconds, forecasts.get(key), values.get(key))
            self.by_object.setdefault(key, []).append(row)

    def at_ticks(self, key: str, ticks: list[float]) -> tuple[list[float | None], ...]:
        """The forecast and reported value at each tick (the last sample at or before it)."""
        rows = self.by_object.get(key, [])
        forecast: list[float | None] = []
        value: list[float | None] = []
        index = -1
        for tick in ticks:
            while index + 1 < len(rows) and rows[index + 1][0] <= tick + 1e-9:
                index += 1
            forecast.append(rows[index][1] if index >= 0 else None)
            value.append(rows[index][2] if index >= 0 else None)
        return forecast, value


async def sample_forecasts(
    url: Callable[[], str | None], now: Callable[[], float], samples: ForecastSamples
) -> None:
    """Read ``{url()}/metrics`` every :data:`FORECAST_SAMPLE_SECONDS` of loop time until
    cancelled (``url()`` is None until the operator serves; a failed read is skipped)."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            await asyncio.sleep(FORECAST_SAMPLE_SECONDS)
            base = url()
            if base is None:
                continue
            try:
                async with session.get(f"{base.rstrip('/')}/metrics") as response:
                    text = await response.text()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.debug("reading the operator's metrics failed: %s", exc)
                continue
            if ok:
                samples.add_exposition(now(), text)
