"""The ``predictive`` trigger: scale on where demand is going, not only where it is.

A reactive trigger adds capacity after the load has arrived; with pods that take a minute or
two to become Ready, every morning ramp costs minutes of overload. This trigger reads the same
demand metric as a ``prometheus`` trigger, learns its daily (and, with enough history, weekly)
shape from Prometheus range queries, and reports the **largest value it forecasts over
``[now, now + horizon]``, never less than the live value**: it can only bring capacity
forward, never hold it back. It combines with other triggers as any trigger does (the HPA
takes the largest proposal, or ``scalingModifiers`` decide).

Metadata (everything the ``prometheus`` trigger reads — ``serverAddress``, ``query``,
``threshold``, ``activationThreshold``, ``namespace``, ``customHeaders``, ``queryParameters``,
``ignoreNullValues``, ``unsafeSsl``, ``timeout`` and its authentication — means the same here;
the live value is exactly that trigger's query):

=====================  =======  ================================================================
``historyWindow``      ``7d``   history the model is fitted on (durations: Go's, plus ``d``)
``queryStep``          ``1m``   resolution of the history: one minute resolves a morning ramp at
                                pod start-up time scales; 7 days are 10,080 points (a fit takes
                                about a quarter of a second of one core)
``horizon``            ``5m``   how far ahead to provision: pod start-up plus the polling
                                interval (and node boot, if nodes must come up too)
``modelRefresh``       ``1h``   refit this often (in the background; polls never wait)
``minHistory``         ``1d``   below this much observed history (samples x step) there is no
                                model: the trigger reports the live value and says so
``nodeHorizon``        off      how far ahead nodes should be ready (node boot plus pod
                                start-up): with the node autoscaler in the same operator, the
                                replicas the forecast over this window needs beyond the current
                                ones are planned for as placeholder pods (``AverageValue``
                                metrics; :mod:`podscaler.controllers.triggers.headroom`)
=====================  =======  ================================================================

Fitting runs off the event loop (a worker thread, one fit at a time per process) and the
fitted :class:`~scalers.forecasting.ForecastModel` is an immutable value, so each poll is the
pure :func:`decide` of (live value, model, now): one instant query and a few microseconds of
arithmetic. Models are kept per loop by the query they were fitted on (:class:`ModelCache`),
so a scaler rebuilt after an error (KEDA's cache refresh) does not refit. A model that did not
beat the live value on its held-out day is not used (the live value is reported, and the
reason shown). What each poll decided — live value, forecast, the value used, the model, its
backtest error and when it was fitted — travels in ``MetricValue.details`` to
``podscaler explain`` (with the forecast at a few instants of the horizon) and to the
``podscaler_predictive_*`` metrics; what changes only at a refit (the model, its backtest
errors, when it was fitted and the fit's CPU time) also goes to the ScaledObject's
``status.health[metric].forecast`` (:func:`model_status`).

Needs the ``ml`` extra (scikit-learn); without it, parsing the trigger fails with a
:class:`ScalerConfigError` saying what to install.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import logging
import math
import re
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import ConfigDict

from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.timestamps import format_time
from scalers.contract import (
    ExternalMetricSpec,
    MetricSpec,
    MetricValue,
    ScalerConfig,
    ScalerConfigError,
    ScalerEnvironment,
    ScalerError,
    ScalerFactoryBase,
    TriggerInput,
    exported_metric_value,
)
from scalers.metadata import (
    MetadataReader,
    external_metric_target_milli,
    metric_name,
    parse_go_duration_seconds,
)
from scalers.prometheus import (
    MAX_RANGE_POINTS,
    PROMETHEUS,
    PrometheusConfig,
    PrometheusScaler,
)
from scalers.prometheus import check_buildable as check_prometheus_buildable

if TYPE_CHECKING:
    from scalers.forecasting import Forecast, ForecastModel, ShortHistory

__all__ = [
    "PREDICTIVE",
    "ModelCache",
    "PredictiveConfig",
    "PredictiveDecision",
    "PredictiveFactory",
    "PredictiveScaler",
    "decide",
    "parse_window_seconds",
]

log = logging.getLogger(__name__)

DAY: Final = 86400.0
#: History longer than this many points is refused: memory and fit time grow with it, and a
#: coarser ``queryStep`` serves long windows as well.
MAX_HISTORY_POINTS: Final = 100_000
#: After a failed refit, try again after this long (or ``modelRefresh``, if shorter).
RETRY_SECONDS: Final = 300.0
#: With too little history, look again after this long (or ``modelRefresh``, if shorter).
SHORT_HISTORY_RETRY_SECONDS: Final = 600.0

INSTALL_HINT: Final = "pip install 'podscaler[ml]'"


# ------------------------------------------------------------------------------ config


class PredictiveConfig(ScalerConfig):
    """A validated ``predictive`` trigger: the live query's config plus the model's."""

    model_config = ConfigDict(frozen=True)

    #: The live query and its connection (auth, headers, TLS, timeout), as a prometheus
    #: trigger would run it; its ``threshold`` and ``activationThreshold`` are this trigger's.
    prometheus: PrometheusConfig
    history_window_seconds: float = 7 * DAY
    query_step_seconds: float = 60.0
    horizon_seconds: float = 300.0
    model_refresh_seconds: float = 3600.0
    min_history_seconds: float = DAY
    #: 0: off (no node headroom asked for)
    node_horizon_seconds: float = 0.0

    @property
    def metric_name(self) -> str:
        return metric_name(self.trigger_index, "predictive")

    @property
    def threshold(self) -> float:
        return self.prometheus.threshold

    @property
    def activation_threshold(self) -> float:
        return self.prometheus.activation_threshold

    @property
    def metric_type(self) -> MetricTargetType:
        return self.prometheus.metric_type

    def model_key(self) -> str:
        """What a fitted model depends on (source, query, credentials, history settings),
        hashed: two triggers with the same key share one model. Kept in memory only."""
        source = self.prometheus.model_dump_json(
            exclude={
                "trigger_index",
                "trigger_name",
                "unexpected_parameters",
                "threshold",
                "activation_threshold",
                "metric_type",
                "timeout_seconds",
            }
        )
        secrets = "\x00".join(self.prometheus.auth.secrets())
        settings = (
            f"{self.history_window_seconds}|{self.query_step_seconds}|{self.horizon_seconds}|"
            f"{self.min_history_seconds}"
        )
        return hashlib.sha256(f"{source}\x00{secrets}\x00{settings}".encode()).hexdigest()


_DAYS = re.compile(r"(?P<days>[0-9]+(?:\.[0-9]*)?)d(?P<rest>.*)")


def parse_window_seconds(text: str) -> float | None:
    """A duration in seconds: a Go duration (``90s``, ``1h30m``), integer milliseconds (KEDA's
    other form), or either after a number of days (``7d``, ``1d12h``); ``None`` if unreadable."""
    text = text.strip()
    match = _DAYS.fullmatch(text)
    if match is None:
        return parse_go_duration_seconds(text) if text else None
    days = float(match.group("days")) * DAY
    rest = match.group("rest")
    if not rest:
        return days
    if rest[0] in "+-" or rest.isdigit():  # "1d-2h", "1d500" are typos, not durations
        return None
    more = parse_go_duration_seconds(rest)
    return None if more is None else days + more


def _window(reader: MetadataReader, name: str, default: float, *, low: float, high: float) -> float:
    text = reader.string(name, required=False)
    if text is None:
        return default
    seconds = parse_window_seconds(text)
    if seconds is None or not math.isfinite(seconds):
        raise ScalerConfigError(
            f"parameter {name!r} value {text!r} is invalid: expected a duration such as "
            "'30s', '5m', '1h' or '7d'",
            parameter=name,
        )
    if not low <= seconds <= high:
        raise ScalerConfigError(
            f"parameter {name!r} value {text!r} is out of range: expected "
            f"{_duration_text(low)} to {_duration_text(high)}",
            parameter=name,
        )
    return seconds


def ml_unavailable() -> str | None:
    """Why the ``ml`` extra cannot be used here, or ``None``. Looks, does not import
    (scikit-learn takes a second to import; the first fit imports it, in a worker thread)."""
    for module, package in (("numpy", "numpy"), ("sklearn", "scikit-learn")):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"the predictive trigger needs {package}, which is not installed: {INSTALL_HINT}"
    return None


class PredictiveFactory(ScalerFactoryBase[PredictiveConfig]):
    """Parses and builds ``predictive`` triggers."""

    trigger_types: tuple[str, ...] = ("predictive",)
    config_type = PredictiveConfig

    def parse_input(self, given: TriggerInput) -> PredictiveConfig:
        missing = ml_unavailable()
        if missing is not None:
            raise ScalerConfigError(missing, parameter="type")
        live = PROMETHEUS.parse_input(given)
        r = MetadataReader.for_input(given, "predictive")
        step = _window(r, "queryStep", 60.0, low=1.0, high=3600.0)
        window = _window(r, "historyWindow", 7 * DAY, low=60.0, high=400 * DAY)
        horizon = _window(r, "horizon", 300.0, low=1.0, high=DAY)
        refresh = _window(r, "modelRefresh", 3600.0, low=60.0, high=30 * DAY)
        min_history = _window(r, "minHistory", DAY, low=0.0, high=400 * DAY)
        node_horizon = _window(r, "nodeHorizon", 0.0, low=0.0, high=DAY)
        points = window / step
        if points > MAX_HISTORY_POINTS:
            raise ScalerConfigError(
                f"historyWindow {_duration_text(window)} at queryStep {_duration_text(step)} is "
                f"{points:,.0f} points; at most {MAX_HISTORY_POINTS:,} (raise queryStep)",
                parameter="historyWindow",
            )
        if min_history > window:
            if r.lookup("minHistory") is None:  # the default, so the window is the mistake
                raise ScalerConfigError(
                    f"historyWindow ({_duration_text(window)}) is shorter than minHistory "
                    f"({_duration_text(min_history)}, the default): the model could never be "
                    "fitted; lengthen historyWindow or lower minHistory",
                    parameter="historyWindow",
                )
            raise ScalerConfigError(
                f"minHistory ({_duration_text(min_history)}) is longer than historyWindow "
                f"({_duration_text(window)}): the model could never be fitted",
                parameter="minHistory",
            )
        unexpected = sorted(set(live.unexpected_parameters) & set(r.unexpected()))
        return PredictiveConfig(
            **given.base_fields(
                tuple(unexpected), tuple(sorted({*live.read_parameters, *r.known()}))
            ),
            prometheus=live.model_copy(update={"unexpected_parameters": ()}),
            history_window_seconds=window,
            query_step_seconds=step,
            horizon_seconds=horizon,
            model_refresh_seconds=refresh,
            min_history_seconds=min_history,
            node_horizon_seconds=node_horizon,
        )

    def check_buildable(self, config: ScalerConfig) -> None:
        """The live query's limits (:func:`scalers.prometheus.check_buildable`); pure."""
        checked = self.config_of(config)
        check_prometheus_buildable(checked.prometheus)

    def build(self, config: ScalerConfig, env: ScalerEnvironment) -> PredictiveScaler:
        checked = self.config_of(config)
        missing = ml_unavailable()
        if missing is not None:
            raise ScalerConfigError(missing, parameter="type")
        return PredictiveScaler(checked, env)


# ------------------------------------------------------------------------------ the decision


@dataclass(frozen=True)
class PredictiveDecision:
    """One poll's verdict: the value reported and why."""

    value: float
    live: float
    source: Literal["forecast", "live"]
    reason: str
    forecast: Forecast | None = None


def decide(
    live: float,
    model: ForecastModel | ShortHistory | None,
    now_seconds: float,
    horizon_seconds: float,
) -> PredictiveDecision:
    """The value to report: ``max(live, the model's peak over [now, now + horizon])`` when
    there is a useful model, else the live value. Pure; never below ``live``."""
    if not math.isfinite(live):
        return PredictiveDecision(live, live, "live", "the live value is not a number")
    if model is None:
        return PredictiveDecision(live, live, "live", "no model yet")
    from scalers.forecasting import ShortHistory  # imported already: a model exists

    if isinstance(model, ShortHistory):
        return PredictiveDecision(
            live,
            live,
            "live",
            f"history too short: {_duration_text(model.observed_seconds)} of samples, "
            f"minHistory is {_duration_text(model.needed_seconds)}",
        )
    fitted = model
    forecast = fitted.forecast(live, now_seconds, horizon_seconds)
    if not fitted.useful:
        return PredictiveDecision(
            live,
            live,
            "live",
            "the model did not beat the live value on its held-out day (error "
            f"{_number(fitted.backtest.mae)} against {_number(fitted.backtest.persistence_mae)})",
            forecast,
        )
    if not math.isfinite(forecast.peak) or forecast.peak <= live:
        return PredictiveDecision(
            live, live, "live", "the live value is at or above the forecast", forecast
        )
    return PredictiveDecision(
        forecast.peak,
        live,
        "forecast",
        f"forecast {_number(forecast.peak)} in {_duration_text(forecast.peak_in_seconds)}",
        forecast,
    )


def decision_details(
    decision: PredictiveDecision,
    state: ModelState | None,
    *,
    now: datetime,
    horizon_seconds: float,
) -> dict[str, Any]:
    """What ``podscaler explain`` shows and the ``podscaler_predictive_*`` metrics read."""
    details: dict[str, Any] = {
        "live": decision.live,
        "used": decision.source,
        "value": decision.value,
        "horizonSeconds": horizon_seconds,
        "reason": decision.reason,
    }
    if decision.forecast is not None:
        details["forecast"] = decision.forecast.peak
        details["forecastInSeconds"] = decision.forecast.peak_in_seconds
        details["forecastAtHorizon"] = decision.forecast.at_horizon
        details["forecastOverHorizon"] = [
            {"inSeconds": ahead, "value": value} for ahead, value in decision.forecast.points
        ]
    model_text = ""
    fitted = _fitted(state.outcome if state is not None else None)
    if fitted is not None:
        backtest = fitted.backtest
        details.update(
            model=fitted.name,
            modelDescription=fitted.description,
            modelUseful=fitted.useful,
            backtestMae=_json_number(backtest.mae),
            liveValueMae=_json_number(backtest.persistence_mae),
            backtestMape=backtest.mape,
            liveValueMape=backtest.persistence_mape,
            historySamples=fitted.samples,
        )
        # MAE decides (an error at the peak costs capacity, one at night little); MAPE is
        # what people compare. They can disagree: show both.
        errors = (
            f"backtest MAE {_number(backtest.mae)}, MAPE {_percent(backtest.mape)} (live value "
            f"alone: {_number(backtest.persistence_mae)}, {_percent(backtest.persistence_mape)})"
        )
        model_text = f"{fitted.description}, {errors}"
    if state is not None and state.fitted_at is not None:
        details["fittedAt"] = format_time(state.fitted_at)
        details["modelAgeSeconds"] = max(0.0, (now - state.fitted_at).total_seconds())
        model_text += (", " if model_text else "") + f"fitted {format_time(state.fitted_at)}"
        if state.fit_seconds is not None:
            details["fitSeconds"] = state.fit_seconds
            model_text += f" in {state.fit_seconds:.2f}s"
    status = model_status(state)
    if status:
        details["forecastStatus"] = status
    if state is not None and state.error is not None:
        details["modelError"] = state.error
        model_text += (", " if model_text else "") + f"last refit failed: {state.error}"
    if state is not None and state.fitting:
        model_text += (", " if model_text else "") + "refitting"
    head = f"reported {_number(decision.value)} ({decision.source}; live {_number(decision.live)}"
    if decision.forecast is not None:
        peak, within = _number(decision.forecast.peak), _duration_text(horizon_seconds)
        head += f", forecast peak {peak} within {within}"
    head += f"): {decision.reason}"
    if decision.forecast is not None and len(decision.forecast.points) > 1:
        head += "; forecast over the horizon: " + ", ".join(
            f"{_number(value)} at +{_duration_text(ahead)}" if ahead else f"{_number(value)} now"
            for ahead, value in decision.forecast.points
        )
    details["summary"] = head + (f" — {model_text}" if model_text else "")
    return details


def node_headroom_details(config: PredictiveConfig, value: float) -> dict[str, Any]:
    """What the node autoscaler's hand-over reads (:mod:`podscaler.controllers.triggers.headroom`):
    the replicas the forecast over ``nodeHorizon`` needs, for ``AverageValue`` metrics (the
    replica count is then ``ceil(value / threshold)``, whatever the current count); none
    otherwise."""
    if config.metric_type != MetricTargetType.AVERAGE_VALUE or config.threshold <= 0:
        return {}
    replicas = math.ceil(value / config.threshold) if math.isfinite(value) and value > 0 else 0
    return {
        "nodeForecast": value,
        "nodeHorizonSeconds": config.node_horizon_seconds,
        "nodeForecastReplicas": replicas,
    }


def model_status(state: ModelState | None) -> dict[str, Any]:
    """The model's part of the ScaledObject's status (``status.health[metric].forecast``):
    only what changes when the model is refitted (never per-poll values, so a steady object
    is not rewritten every poll), rounded to what a person compares."""
    if state is None:
        return {}
    out: dict[str, Any] = {}
    fitted = _fitted(state.outcome)
    if fitted is not None:
        backtest = fitted.backtest
        out["model"] = fitted.name
        out["used"] = fitted.useful
        out["historySamples"] = fitted.samples
        for key, number in (
            ("backtestMape", backtest.mape),
            ("backtestMae", backtest.mae),
            ("liveValueMape", backtest.persistence_mape),
        ):
            if number is not None and math.isfinite(number):
                out[key] = float(f"{number:.4g}")
    elif state.outcome is not None:
        out["model"] = "none (short history)"
        out["used"] = False
    if state.fitted_at is not None:
        out["fittedAt"] = format_time(state.fitted_at)
    if state.fit_seconds is not None:
        out["fitSeconds"] = round(state.fit_seconds, 3)
    if state.error is not None:
        out["lastError"] = state.error
    return out


# ------------------------------------------------------------------------------ models


@dataclass
class ModelState:
    """What is known of one model key: the last fit's outcome and the refit in progress."""

    outcome: ForecastModel | ShortHistory | None = None
    #: end of the history the outcome was fitted on (the trigger's clock)
    fitted_at: datetime | None = None
    attempted_at: datetime | None = None
    error: str | None = None
    #: CPU time the last successful fit took in its worker thread (seconds)
    fit_seconds: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def fitting(self) -> bool:
        return self.task is not None and not self.task.done()


class ModelCache:
    """Fitted models by :meth:`PredictiveConfig.model_key`, least recently used dropped past
    ``capacity``. One per event loop (:meth:`for_running_loop`), since refit tasks belong to
    a loop; a controller may pass its own as ``ScalerEnvironment.extras["forecast_models"]``.
    Fits are serialized (``fit_slots`` at a time): they are CPU work, and a burst of them at
    start-up must not starve the other threads of the process."""

    _per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ModelCache] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, capacity: int = 4096, fit_slots: int = 1) -> None:
        self.capacity = capacity
        self._states: OrderedDict[str, ModelState] = OrderedDict()
        self._fit_slots = fit_slots
        self._semaphore: asyncio.Semaphore | None = None

    @classmethod
    def for_running_loop(cls) -> ModelCache:
        loop = asyncio.get_running_loop()
        cache = cls._per_loop.get(loop)
        if cache is None:
            cache = cls._per_loop[loop] = ModelCache()
        return cache

    def state(self, key: str) -> ModelState:
        found = self._states.get(key)
        if found is None:
            found = self._states[key] = ModelState()
            while len(self._states) > self.capacity:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(key)
        return found

    def __len__(self) -> int:
        return len(self._states)

    @property
    def fit_slots(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._fit_slots)
        return self._semaphore


def _fitted(outcome: ForecastModel | ShortHistory | None) -> ForecastModel | None:
    """The outcome if it is a model (then the forecasting module is loaded already)."""
    if outcome is None:
        return None
    from scalers.forecasting import ForecastModel

    return outcome if isinstance(outcome, ForecastModel) else None


def refit_due(state: ModelState, config: PredictiveConfig, now: datetime) -> bool:
    """Whether a refit should start now (none running; never fitted, or old, or retrying)."""
    if state.fitting:
        return False
    refresh = config.model_refresh_seconds
    if state.error is not None and state.attempted_at is not None:
        wait = min(refresh, RETRY_SECONDS)
        return (now - state.attempted_at).total_seconds() >= wait
    if state.fitted_at is None:
        return True
    if state.outcome is not None and _fitted(state.outcome) is None:
        refresh = min(refresh, SHORT_HISTORY_RETRY_SECONDS)
    return (now - state.fitted_at).total_seconds() >= refresh


def _fit(
    times: list[float], values: list[float], config: PredictiveConfig
) -> tuple[ForecastModel | ShortHistory, float]:
    """Runs in a worker thread (imports scikit-learn there on first use). Returns the outcome
    and the CPU time this thread spent on it: the fit's own cost, whatever else the process
    and the machine are doing (wall time would count the waits for the GIL)."""
    from scalers.forecasting import fit_forecaster

    started = time.thread_time()
    outcome = fit_forecaster(
        times,
        values,
        step_seconds=config.query_step_seconds,
        horizon_seconds=config.horizon_seconds,
        min_history_seconds=config.min_history_seconds,
    )
    return outcome, time.thread_time() - started


# ------------------------------------------------------------------------------ the scaler


class PredictiveScaler:
    """A built ``predictive`` trigger."""

    def __init__(self, config: PredictiveConfig, env: ScalerEnvironment) -> None:
        self.config = config
        self._env = env
        self._prometheus = PrometheusScaler(config.prometheus, env)
        cache = env.extras.get("forecast_models")
        if cache is not None and not isinstance(cache, ModelCache):
            raise TypeError("extras['forecast_models'] must be a ModelCache")
        self._cache: ModelCache | None = cache
        self._key = config.model_key()
        self._task: asyncio.Task[None] | None = None

    def metric_specs(self) -> list[MetricSpec]:
        target = external_metric_target_milli(self.config.metric_type, self.config.threshold)
        return [ExternalMetricSpec(metric_name=self.config.metric_name, target=target)]

    @property
    def cache(self) -> ModelCache:
        if self._cache is None:
            self._cache = ModelCache.for_running_loop()
        return self._cache

    def model_state(self) -> ModelState:
        return self.cache.state(self._key)

    async def get_metrics_and_activity(self, metric_name: str) -> tuple[list[MetricValue], bool]:
        now = self._env.now()
        live = await self._prometheus.execute_query()
        state = self.model_state()
        if refit_due(state, self.config, now):
            self._start_refit(state, now)
        decision = decide(live, state.outcome, now.timestamp(), self.config.horizon_seconds)
        details = decision_details(
            decision, state, now=now, horizon_seconds=self.config.horizon_seconds
        )
        if self.config.node_horizon_seconds > 0:
            ahead = decide(live, state.outcome, now.timestamp(), self.config.node_horizon_seconds)
            details.update(node_headroom_details(self.config, ahead.value))
        sample = MetricValue(
            metric_name=metric_name,
            value=exported_metric_value(decision.value),
            raw=decision.value,
            timestamp=now,
            details=details,
        )
        return [sample], decision.value > self.config.activation_threshold

    async def refit(self) -> ModelState:
        """Fit now and wait for it (tests, ``podscaler`` tools); polls never call this."""
        state = self.model_state()
        if not state.fitting:
            self._start_refit(state, self._env.now())
        task = state.task
        if task is not None:
            await asyncio.shield(task)
        return state

    async def history(self, end: datetime) -> tuple[list[float], list[float]]:
        """The query's history over ``historyWindow`` before ``end``, in range queries of at
        most :data:`MAX_RANGE_POINTS` points each."""
        step = self.config.query_step_seconds
        chunk = timedelta(seconds=step * (MAX_RANGE_POINTS - 1000))
        start = end - timedelta(seconds=self.config.history_window_seconds)
        times: list[float] = []
        values: list[float] = []
        while start <= end:
            stop = min(end, start + chunk)
            for stamp, value in await self._prometheus.execute_range_query(start, stop, step):
                times.append(stamp)
                values.append(value)
            start = stop + timedelta(seconds=step)
        return times, values

    def _start_refit(self, state: ModelState, now: datetime) -> None:
        state.attempted_at = now
        self._task = state.task = asyncio.get_running_loop().create_task(
            self._refit(state, now), name=f"predictive-refit-{self.config.metric_name}"
        )

    async def _refit(self, state: ModelState, now: datetime) -> None:
        try:
            async with self.cache.fit_slots:
                times, values = await self.history(now)
                outcome, fit_seconds = await asyncio.to_thread(_fit, times, values, self.config)
        except asyncio.CancelledError:
            raise
        except ScalerError as exc:
            state.error = f"history: {exc}"
            log.warning("%s: refit failed: %s", self.config.metric_name, state.error)
            return
        except Exception as exc:  # a model bug must not take the trigger down
            state.error = f"fit failed: {type(exc).__name__}: {exc}"[:300]
            log.warning("%s: refit failed", self.config.metric_name, exc_info=True)
            return
        state.outcome, state.fitted_at, state.error = outcome, now, None
        state.fit_seconds = fit_seconds
        fitted = _fitted(outcome)
        if fitted is not None:
            log.info(
                "%s: fitted %s on %d samples in %.3fs, backtest MAPE %s (live value alone %s)",
                self.config.metric_name,
                fitted.name,
                fitted.samples,
                fit_seconds,
                _percent(fitted.backtest.mape),
                _percent(fitted.backtest.persistence_mape),
            )

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        await self._prometheus.close()


# ------------------------------------------------------------------------------ text


def _duration_text(seconds: float) -> str:
    """``90`` → ``1m30s``, ``86400`` → ``1d``, ``0.5`` → ``0.5s``."""
    if not math.isfinite(seconds):
        return str(seconds)
    if seconds < 60:
        return f"{seconds:g}s"
    whole = round(seconds)
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            out += f"{whole // size}{unit}"
            whole %= size
    return out


def _number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


PREDICTIVE = PredictiveFactory()
