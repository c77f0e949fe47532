"""Demand forecasting for the ``predictive`` trigger: a small, explainable model. Pure.

Nothing here does I/O or reads a clock: history comes in as ``(times, values)`` (Unix seconds),
"now" is an argument, and a fitted :class:`ForecastModel` is an immutable value, so a
prediction is a function of (live sample, model, now) and the same inputs always give the same
answer (what the unit tests, the benchmark and ``podscaler explain`` rely on).

The model has two parts, both easy to state:

* a **seasonal profile** ``s(t)``: what this time of day (and, with enough history, of the
  week) usually looks like. Candidates are ridge regressions on Fourier terms of the daily
  period (few harmonics for smooth curves, many for sharp morning ramps), daily plus weekly
  terms, and gradient-boosted trees on (time of day, day of week), tabulated on the history's
  grid so that predicting needs no scikit-learn call;
* a **level correction**: the live value's distance from the profile, ``live - s(now)``,
  carried into the future with a decay ``rho(k)`` measured on the history's residuals (how
  much of a deviation is still there ``k`` steps later). A level shift persists, so its
  ``rho`` stays near 1; noise does not, so its ``rho`` falls to 0; a deviation too small to
  measure is assumed to persist. The forecast is ``s(now + k) + rho(k) * (live - s(now))``,
  exactly the live value at ``k = 0``: with ``rho`` near 1, the profile's expected *change*
  applied to today's level. The decay applies only above the profile: below it (a quiet day,
  a rush that has not come yet) the deviation is kept whole, so the forecast is the live
  value plus the change the profile expects, never the profile's level itself. Capacity is
  then brought forward for the rise the history shows, but a day far below the usual (a
  holiday) is not provisioned as if it were an ordinary one.

The candidate is **chosen by backtest**: each is fitted on the history without its last day
(the last quarter when there are less than two days), then, from every origin in the held-out
day, forecasts the value one horizon ahead from the value observed at the origin; the lowest
mean absolute error wins (absolute, not relative, error: an error at the peak costs capacity,
one at 4 a.m. costs little) and is refitted on everything. The same backtest scores
*persistence* (tomorrow's value is today's: what a reactive autoscaler assumes); a model that
does not beat it is kept for explanations but marked not useful, and the trigger then reports
the live value. MAPE is reported beside MAE because people read percentages; it skips
held-out points whose value is zero (undefined there) and is ``None`` when every one is.

Robustness: NaN and infinite samples are dropped; samples are averaged onto a regular grid,
and grid points without a sample (gaps) are left out of fitting and backtesting rather than
filled; a constant or all-zero series gives a flat profile and a zero correction; less than
``min_history_seconds`` of observed samples gives :class:`ShortHistory` instead of a model.
Forecasts are not clamped below here: the trigger never reports less than the live value.

Requires the ``ml`` extra (numpy, scikit-learn); importing this module without it raises
:class:`ImportError` with the install command.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

try:
    import numpy as np
    import numpy.typing as npt
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from threadpoolctl import threadpool_limits
except ImportError as exc:  # the ml extra is not installed
    raise ImportError(
        "predictive scaling needs scikit-learn and numpy: pip install 'podscaler[ml]'"
    ) from exc

__all__ = [
    "DAY_SECONDS",
    "WEEK_SECONDS",
    "Backtest",
    "Candidate",
    "Forecast",
    "ForecastModel",
    "Seasonal",
    "ShortHistory",
    "candidates_for",
    "fit_forecaster",
    "regular_grid",
]

Array = npt.NDArray[np.float64]

DAY_SECONDS: Final = 86400.0
WEEK_SECONDS: Final = 7 * DAY_SECONDS

#: Ridge penalty on the Fourier coefficients (harmonic k's features are in [-1/k, 1/k]; with
#: thousands of samples this only tames the highest harmonics where data is thin).
RIDGE_ALPHA: Final = 1.0
#: Held-out points counted before a backtest is trusted.
MIN_BACKTEST_POINTS: Final = 10
#: Instants of the horizon a :class:`Forecast` keeps for people to read (start and end included).
FORECAST_POINTS: Final = 5


# ------------------------------------------------------------------------------ the profile


@dataclass(frozen=True, eq=False)
class Seasonal:
    """``s(t)``: Fourier terms with coefficients, or a table over one period (interpolated).

    ``terms`` lists ``(period_seconds, harmonics)``; ``coefficients`` are ``sin`` then ``cos``
    for harmonics ``1..K`` of each term in order (of the features :func:`fourier_features`
    builds, which divide harmonic k by k). A tabulated profile (the boosted trees) has
    ``table`` values every ``table_step`` seconds from ``t mod table_period == 0``.
    """

    intercept: float
    terms: tuple[tuple[float, int], ...] = ()
    coefficients: Array = field(default_factory=lambda: np.zeros(0))
    table: Array | None = None
    table_period: float = DAY_SECONDS
    table_step: float = 60.0

    def scaled(self, factor: float) -> Seasonal:
        """The same profile in units ``factor`` times larger."""
        return Seasonal(
            intercept=self.intercept * factor,
            terms=self.terms,
            coefficients=self.coefficients * factor,
            table=None if self.table is None else self.table * factor,
            table_period=self.table_period,
            table_step=self.table_step,
        )

    def __call__(self, times: Array) -> Array:
        times = np.asarray(times, dtype=np.float64)
        if self.table is not None:
            return _interpolate_table(self.table, self.table_period, self.table_step, times)
        if not self.terms:
            return np.full(times.shape, self.intercept)
        return self.intercept + fourier_features(times, self.terms) @ self.coefficients


def fourier_features(times: Array, terms: Sequence[tuple[float, int]]) -> Array:
    """Columns ``sin(2πkt/P) / k`` for k = 1..K, then ``cos`` likewise, for each (P, K).

    The ``1/k`` makes the ridge penalty on harmonic k grow as ``k²``: a smoothness prior.
    Where the data says nothing (a time of day never observed: a daily gap) the profile is a
    smooth bridge instead of high harmonics ringing freely (measured on an hour missing every
    day: 0.3% error in the gap instead of 30%, and no worse elsewhere).
    """
    columns = []
    for period, harmonics in terms:
        phase = (2 * math.pi / period) * np.mod(times, period)
        orders = np.arange(1, harmonics + 1, dtype=np.float64)
        angles = np.outer(phase, orders)
        columns += [np.sin(angles) / orders, np.cos(angles) / orders]
    return np.hstack(columns) if columns else np.zeros((len(times), 0))


def _interpolate_table(table: Array, period: float, step: float, times: Array) -> Array:
    position = np.mod(times, period) / step
    low = np.floor(position).astype(np.int64) % len(table)
    high = (low + 1) % len(table)
    weight = position - np.floor(position)
    result: Array = table[low] * (1 - weight) + table[high] * weight
    return result


def _calendar_features(times: Array, weekly: bool) -> Array:
    day = np.mod(times, DAY_SECONDS)
    if not weekly:
        return day.reshape(-1, 1)
    weekday = np.floor(np.mod(times, WEEK_SECONDS) / DAY_SECONDS)
    return np.column_stack([day, weekday])


# ------------------------------------------------------------------------------ candidates


@dataclass(frozen=True)
class Candidate:
    """One model family the backtest may choose."""

    name: str
    daily_harmonics: int = 0
    weekly_harmonics: int = 0
    #: gradient-boosted trees on (time of day[, day of week]) instead of ridge
    boosted: bool = False
    weekly_calendar: bool = False

    def describe(self) -> str:
        if self.boosted:
            on = "time of day and day of week" if self.weekly_calendar else "time of day"
            return f"gradient-boosted trees on {on}"
        parts = [f"{self.daily_harmonics} daily"]
        if self.weekly_harmonics:
            parts.append(f"{self.weekly_harmonics} weekly")
        return f"ridge regression on {' + '.join(parts)} Fourier harmonics"

    def fit(self, times: Array, values: Array, step: float) -> Seasonal:
        if self.boosted:
            return self._fit_boosted(times, values, step)
        terms: list[tuple[float, int]] = [(DAY_SECONDS, self.daily_harmonics)]
        if self.weekly_harmonics:
            terms.append((WEEK_SECONDS, self.weekly_harmonics))
        features = fourier_features(times, terms)
        ridge = Ridge(alpha=RIDGE_ALPHA).fit(features, values)
        return Seasonal(
            intercept=float(ridge.intercept_),
            terms=tuple(terms),
            coefficients=np.asarray(ridge.coef_, dtype=np.float64),
        )

    def _fit_boosted(self, times: Array, values: Array, step: float) -> Seasonal:
        period = WEEK_SECONDS if self.weekly_calendar else DAY_SECONDS
        trees = HistGradientBoostingRegressor(max_iter=100, random_state=0)
        trees.fit(_calendar_features(times, self.weekly_calendar), values)
        grid = np.arange(0.0, period, step)
        table = np.asarray(
            trees.predict(_calendar_features(grid, self.weekly_calendar)), dtype=np.float64
        )
        return Seasonal(
            intercept=float(np.mean(values)) if len(values) else 0.0,
            table=table,
            table_period=period,
            table_step=step,
        )


def candidates_for(train_span_seconds: float) -> list[Candidate]:
    """The families worth trying on this much training history. Weekly terms need a whole
    week to learn from (with less, each weekday is seen at most once and the weekly shape
    is a guess), so they join from seven days of training (about eight of history) on."""
    found = [
        Candidate("ridge-daily-4", daily_harmonics=4),
        Candidate("ridge-daily-12", daily_harmonics=12),
        Candidate("ridge-daily-48", daily_harmonics=48),
        Candidate("boosted-daily", boosted=True),
    ]
    if train_span_seconds >= WEEK_SECONDS:
        found += [
            Candidate("ridge-daily-24-weekly-6", daily_harmonics=24, weekly_harmonics=6),
            Candidate("boosted-weekly", boosted=True, weekly_calendar=True),
        ]
    return found


# ------------------------------------------------------------------------------ the grid


@dataclass(frozen=True, eq=False)
class Grid:
    """Samples averaged onto ``start + i * step``; NaN where no sample fell."""

    start: float
    step: float
    values: Array

    @property
    def times(self) -> Array:
        return self.start + self.step * np.arange(len(self.values), dtype=np.float64)

    @property
    def observed(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.values)))


def regular_grid(times: Sequence[float], values: Sequence[float], step: float) -> Grid | None:
    """The finite samples averaged onto a grid of ``step`` seconds aligned to multiples of
    ``step``; ``None`` when no sample is finite."""
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(t) & np.isfinite(v)
    t, v = t[keep], v[keep]
    if len(t) == 0:
        return None
    start = math.floor(float(np.min(t)) / step + 0.5) * step
    index = np.floor((t - start) / step + 0.5).astype(np.int64)
    size = int(np.max(index)) + 1
    sums = np.bincount(index, weights=v, minlength=size)
    counts = np.bincount(index, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return Grid(start, step, grid.astype(np.float64))


# ------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class Backtest:
    """Errors forecasting one horizon ahead over the held-out stretch."""

    mae: float
    mape: float | None
    persistence_mae: float
    persistence_mape: float | None
    points: int
    holdout_seconds: float
    #: MAE of every candidate tried, by name (what the choice was made on)
    candidates: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Forecast:
    """What the model expects over ``[now, now + horizon]``."""

    #: the largest forecast in the window, and how far ahead it is (seconds)
    peak: float
    peak_in_seconds: float
    #: the forecast at the end of the window
    at_horizon: float
    #: ``(seconds ahead, forecast)`` at a few evenly spaced instants of the window, its start
    #: and end included (what ``podscaler explain`` draws as "the forecast over the horizon")
    points: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, eq=False)
class ForecastModel:
    """A fitted model: immutable, no I/O; :meth:`forecast` is a pure function."""

    candidate: Candidate
    seasonal: Seasonal
    step_seconds: float
    #: ``rho(k)`` for k = 0, 1, … steps: the share of today's deviation left after k steps
    decay: tuple[float, ...]
    backtest: Backtest
    trained_from: float
    trained_until: float
    samples: int

    @property
    def name(self) -> str:
        return self.candidate.name

    @property
    def description(self) -> str:
        return self.candidate.describe()

    @property
    def useful(self) -> bool:
        """Whether it beat persistence on the held-out day (else the live value is used)."""
        return self.backtest.points > 0 and self.backtest.mae < self.backtest.persistence_mae

    def decay_at(self, seconds: Array) -> Array:
        steps = np.asarray(seconds, dtype=np.float64) / self.step_seconds
        known = np.asarray(self.decay, dtype=np.float64)
        result: Array = np.interp(steps, np.arange(len(known), dtype=np.float64), known)
        return result

    def forecast_at(self, live: float, now: float, ahead_seconds: Array) -> Array:
        """Forecasts at ``now + ahead`` given the live value at ``now``."""
        ahead = np.asarray(ahead_seconds, dtype=np.float64)
        profile = self.seasonal(np.concatenate(([now], now + ahead)))
        deviation = live - profile[0]
        # Below the profile, the deviation is kept whole (see the module docstring).
        decay = self.decay_at(ahead) if deviation > 0 else np.ones(len(ahead))
        result: Array = profile[1:] + decay * deviation
        return result

    def forecast(self, live: float, now: float, horizon_seconds: float) -> Forecast:
        """The forecast over ``[now, now + horizon]``, sampled every step and at the end."""
        horizon = max(0.0, horizon_seconds)
        ahead = np.arange(0.0, horizon, self.step_seconds)
        ahead = np.append(ahead, horizon)
        values = self.forecast_at(live, now, ahead)
        peak_index = int(np.argmax(values))
        shown = np.unique(
            np.linspace(0, len(values) - 1, min(len(values), FORECAST_POINTS)).round()
        )
        return Forecast(
            peak=float(values[peak_index]),
            peak_in_seconds=float(ahead[peak_index]),
            at_horizon=float(values[-1]),
            points=tuple((float(ahead[int(i)]), float(values[int(i)])) for i in shown),
        )


@dataclass(frozen=True)
class ShortHistory:
    """Too little history to fit: the trigger reports the live value and says why."""

    observed_seconds: float
    needed_seconds: float
    samples: int


# ------------------------------------------------------------------------------ fitting


def fit_forecaster(
    times: Sequence[float],
    values: Sequence[float],
    *,
    step_seconds: float,
    horizon_seconds: float,
    min_history_seconds: float,
) -> ForecastModel | ShortHistory:
    """Choose a model by backtest on ``(times, values)`` and fit it on all of them.

    ``step_seconds`` is the grid the history is averaged onto (the trigger's ``queryStep``),
    ``horizon_seconds`` how far ahead the backtest forecasts (the trigger's ``horizon``), and
    ``min_history_seconds`` the observed history (samples x step) below which there is no
    model. CPU cost: a few tenths of a second of one core for seven days at one-minute steps
    (``bench/predictive.py``).
    """
    if not (step_seconds > 0 and math.isfinite(step_seconds)):
        raise ValueError("step_seconds must be a positive number")
    # One thread for BLAS and OpenMP (the boosted trees): the fit is a fraction of a second
    # of one core, and OpenMP's threads spinning on a busy machine made it a minute of
    # several (measured: 0.4 s of CPU on one thread, 20 s over all of them at load 11).
    with threadpool_limits(limits=1):
        return _fit(times, values, step_seconds, horizon_seconds, min_history_seconds)


def _fit(
    times: Sequence[float],
    values: Sequence[float],
    step_seconds: float,
    horizon_seconds: float,
    min_history_seconds: float,
) -> ForecastModel | ShortHistory:
    grid = regular_grid(times, values, step_seconds)
    observed = grid.observed if grid is not None else 0
    observed_seconds = observed * step_seconds
    if grid is None or observed_seconds < min_history_seconds or observed < 2:
        return ShortHistory(observed_seconds, min_history_seconds, observed)
    # Fit in units of the largest sample: any finite series, however large its numbers,
    # stays clear of overflow in squares and sums; the profile and errors are scaled back.
    scale = float(np.nanmax(np.abs(grid.values))) or 1.0
    grid = Grid(grid.start, grid.step, grid.values / scale)
    all_times = grid.times
    present = ~np.isnan(grid.values)
    span = float(all_times[present][-1] - all_times[present][0])
    horizon_steps = max(0, math.ceil(max(0.0, horizon_seconds) / step_seconds))

    holdout = DAY_SECONDS if span >= 2 * DAY_SECONDS else span / 4
    split = int(np.searchsorted(all_times, all_times[present][-1] - holdout, side="right"))
    if np.count_nonzero(present[:split]) < 2 or np.count_nonzero(present[split:]) < 1:
        split = _split_by_count(present)
    train_span = float(all_times[split - 1] - all_times[present][0]) if split > 0 else 0.0

    tried: list[tuple[Candidate, _Score]] = []
    failed: list[str] = []
    for candidate in candidates_for(train_span):
        try:
            seasonal, decay = _fit_part(candidate, grid, present, split, horizon_steps)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            # One family failing on odd data (too few points for its trees, say) leaves
            # the others to choose from.
            failed.append(f"{candidate.name}: {exc}")
            continue
        tried.append((candidate, _backtest(grid, seasonal, decay, split, horizon_steps)))
    if not tried:
        raise ValueError("no model could be fitted: " + "; ".join(failed))
    best, score = min(tried, key=lambda pair: (pair[1].mae, pair[0].name))
    seasonal, decay = _fit_part(best, grid, present, len(grid.values), horizon_steps)
    holdout_seconds = float(all_times[-1] - all_times[split]) if split < len(all_times) else 0.0
    return ForecastModel(
        candidate=best,
        seasonal=seasonal.scaled(scale),
        step_seconds=step_seconds,
        decay=decay,
        backtest=Backtest(
            mae=score.mae * scale,
            mape=score.mape,
            persistence_mae=score.persistence_mae * scale,
            persistence_mape=score.persistence_mape,
            points=score.points,
            holdout_seconds=holdout_seconds,
            candidates=tuple((c.name, s.mae * scale) for c, s in tried),
        ),
        trained_from=float(all_times[present][0]),
        trained_until=float(all_times[present][-1]),
        samples=observed,
    )


@dataclass(frozen=True)
class _Score:
    mae: float
    mape: float | None
    persistence_mae: float
    persistence_mape: float | None
    points: int


_NO_SCORE: Final = _Score(math.inf, None, math.inf, None, 0)


def _split_by_count(present: npt.NDArray[np.bool_]) -> int:
    """A split leaving the last quarter of the observed points for the backtest."""
    indices = np.flatnonzero(present)
    cut = max(1, min(len(indices) - 1, len(indices) - max(1, len(indices) // 4)))
    return int(indices[cut])


def _fit_part(
    candidate: Candidate,
    grid: Grid,
    present: npt.NDArray[np.bool_],
    end: int,
    horizon_steps: int,
) -> tuple[Seasonal, tuple[float, ...]]:
    """The profile and the residual decay fitted on the grid points before ``end``."""
    times = grid.times[:end]
    values = grid.values[:end]
    mask = present[:end]
    seasonal = candidate.fit(times[mask], values[mask], grid.step)
    residuals = np.where(mask, values - seasonal(times), np.nan)
    level = float(np.mean(np.abs(values[mask]))) if np.any(mask) else 0.0
    return seasonal, residual_decay(residuals, horizon_steps + 1, level=level)


def residual_decay(residuals: Array, steps: int, *, level: float = 0.0) -> tuple[float, ...]:
    """``rho(k)`` for k = 0..steps: the least-squares factor predicting the residual k steps
    later from today's, clamped to [0, 1] (a deviation neither grows nor flips sign in this
    model). NaN residuals (gaps) are skipped pairwise.

    The estimate is shrunk towards 1 by a prior worth a residual of 1% of ``level`` (the
    series' typical size) at every point: a deviation too small to measure (a series the
    profile fits exactly) is assumed to persist, which over a horizon of minutes is the
    safer guess, while measurable noise that does not persist still brings ``rho`` down.
    """
    out = [1.0]
    prior_unit = (0.01 * abs(level)) ** 2
    for k in range(1, steps + 1):
        if k >= len(residuals):
            out.append(out[-1])
            continue
        now, later = residuals[:-k], residuals[k:]
        both = ~(np.isnan(now) | np.isnan(later))
        prior = prior_unit * int(np.count_nonzero(both))
        energy = float(np.dot(now[both], now[both])) + prior
        if energy <= 0.0:
            out.append(1.0)
            continue
        rho = (float(np.dot(now[both], later[both])) + prior) / energy
        out.append(min(1.0, max(0.0, rho)))
    return tuple(out)


def _backtest(
    grid: Grid, seasonal: Seasonal, decay: tuple[float, ...], split: int, horizon_steps: int
) -> _Score:
    """Errors forecasting ``horizon_steps`` ahead from every held-out origin whose value and
    target were both observed."""
    values = grid.values
    origins = np.arange(split, len(values) - horizon_steps)
    targets = origins + horizon_steps
    ok = ~(np.isnan(values[origins]) | np.isnan(values[targets]))
    origins, targets = origins[ok], targets[ok]
    if len(origins) == 0:
        return _NO_SCORE
    times = grid.times
    live = values[origins]
    actual = values[targets]
    deviation = live - seasonal(times[origins])
    rho = np.where(deviation > 0, decay[min(horizon_steps, len(decay) - 1)], 1.0)
    predicted = seasonal(times[targets]) + rho * deviation
    error = np.abs(actual - predicted)
    persistence_error = np.abs(actual - live)
    return _Score(
        float(np.mean(error)),
        _mape(error, actual),
        float(np.mean(persistence_error)),
        _mape(persistence_error, actual),
        len(origins),
    )


def _mape(error: Array, actual: Array) -> float | None:
    nonzero = np.abs(actual) > 1e-12
    if not np.any(nonzero):
        return None
    return float(np.mean(error[nonzero] / np.abs(actual[nonzero])))
