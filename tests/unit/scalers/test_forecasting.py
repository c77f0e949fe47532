"""The forecasting model of the predictive trigger, on synthetic series whose truth is known:
accuracy bounds on a noisy daily series (and a weekly one), what short history, gaps, a level
shift, all-zero and constant series and NaN/Inf samples do, the residual decay, and that a
forecast starts exactly at the live value and is a pure function of its inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalers.forecasting import (
    DAY_SECONDS,
    ForecastModel,
    ShortHistory,
    fit_forecaster,
    regular_grid,
    residual_decay,
)

STEP = 60.0
#: A Monday midnight (UTC), so "day" and "week" boundaries are where a reader expects them.
ORIGIN = 1_767_571_200.0


def business_day(t: np.ndarray) -> np.ndarray:
    """Quiet nights (80 req/s), a steep 08:00-09:00 ramp to 900, an evening fall after 18:00;
    continuous across midnight."""
    hours = np.mod(t, DAY_SECONDS) / 3600
    rise = 1 / (1 + np.exp(-(hours - 8.5) * 4))
    fall = 1 / (1 + np.exp(-(hours - 19) * 2))
    return 80 + 820 * (rise - fall)


def series(days: float, noise: float = 0.0, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = ORIGIN + np.arange(int(days * DAY_SECONDS / STEP)) * STEP
    y = business_day(t) * (1 + noise * rng.standard_normal(len(t)))
    return t, y


def fit(t: np.ndarray, y: np.ndarray, horizon: float = 300.0, min_history: float = DAY_SECONDS):
    return fit_forecaster(
        t, y, step_seconds=STEP, horizon_seconds=horizon, min_history_seconds=min_history
    )


def model_of(t: np.ndarray, y: np.ndarray, **kwargs: float) -> ForecastModel:
    found = fit(t, y, **kwargs)
    assert isinstance(found, ForecastModel), found
    return found


# ------------------------------------------------------------------------------ accuracy


def test_a_noisy_daily_series_is_forecast_within_the_noise() -> None:
    t, y = series(days=7, noise=0.05)
    model = model_of(t, y)
    # 5% multiplicative noise gives a mean absolute error of ~4% even for a perfect profile.
    assert model.backtest.mape is not None
    assert model.backtest.mape < 0.06
    assert model.backtest.persistence_mape is not None
    assert model.backtest.mape < model.backtest.persistence_mape
    assert model.useful
    assert model.backtest.points > 1000  # the held-out day, one origin a minute
    # The fitted profile itself is close to the truth over a whole future day.
    ahead = t[-1] + np.arange(1, 1441) * STEP
    truth = business_day(ahead)
    assert np.mean(np.abs(model.seasonal(ahead) - truth) / truth) < 0.03


def test_the_forecast_sees_the_morning_ramp_before_it_arrives() -> None:
    t, y = series(days=7, noise=0.02)
    model = model_of(t, y, horizon=600.0)
    monday_0750 = ORIGIN + 7 * DAY_SECONDS + 7 * 3600 + 50 * 60
    live = float(business_day(np.array([monday_0750]))[0])
    forecast = model.forecast(live, monday_0750, 600.0)
    truth_at_0800 = float(business_day(np.array([monday_0750 + 600]))[0])
    assert forecast.peak > live * 1.3  # the ramp has started in the forecast, not yet live
    assert forecast.peak == pytest.approx(truth_at_0800, rel=0.05)
    assert forecast.peak_in_seconds == 600.0


def test_weekly_shape_is_learned_from_two_weeks() -> None:
    t, y = series(days=14, noise=0.03)
    weekend = np.floor(np.mod(t - ORIGIN, 7 * DAY_SECONDS) / DAY_SECONDS) >= 5
    y = np.where(weekend, y * 0.3, y)
    model = model_of(t, y)
    assert model.name in {"ridge-daily-24-weekly-6", "boosted-weekly"}
    assert model.backtest.mape is not None
    assert model.backtest.mape < 0.06
    saturday_noon = ORIGIN + 14 * DAY_SECONDS + 5 * DAY_SECONDS + 12 * 3600
    monday_noon = ORIGIN + 14 * DAY_SECONDS + 12 * 3600
    profile = model.seasonal(np.array([saturday_noon, monday_noon]))
    assert profile[0] < 0.5 * profile[1]


def test_with_one_week_weekly_terms_are_not_tried() -> None:
    model = model_of(*series(days=7, noise=0.05))
    names = {name for name, _ in model.backtest.candidates}
    assert names == {"ridge-daily-4", "ridge-daily-12", "ridge-daily-48", "boosted-daily"}


# ------------------------------------------------------------------------------ robustness


def test_short_history_gives_no_model_and_says_how_much_there_was() -> None:
    t, y = series(days=0.5)
    found = fit(t, y, min_history=DAY_SECONDS)
    assert isinstance(found, ShortHistory)
    assert found.observed_seconds == pytest.approx(0.5 * DAY_SECONDS)
    assert found.needed_seconds == DAY_SECONDS
    assert found.samples == len(t)


def test_history_just_above_the_minimum_backtests_on_its_last_quarter() -> None:
    t, y = series(days=1.5, noise=0.02)
    model = model_of(t, y, min_history=DAY_SECONDS)
    assert model.backtest.holdout_seconds == pytest.approx(1.5 * DAY_SECONDS / 4, rel=0.02)
    assert model.backtest.points > 0


def test_gaps_are_left_out_not_filled() -> None:
    t, y = series(days=7, noise=0.03)
    hours = np.mod(t, DAY_SECONDS) / 3600
    keep = ~((t > ORIGIN + 2 * DAY_SECONDS) & (t < ORIGIN + 3 * DAY_SECONDS))  # a day lost
    keep &= ~((hours > 13) & (hours < 14))  # and an hour every day
    model = model_of(t[keep], y[keep])
    assert model.samples == int(np.count_nonzero(keep))
    assert model.backtest.mape is not None
    assert model.backtest.mape < 0.05
    # The missing hour is interpolated by the profile, not taken as zero.
    half_past_one = ORIGIN + 7 * DAY_SECONDS + 13.5 * 3600
    assert model.seasonal(np.array([half_past_one]))[0] == pytest.approx(
        business_day(np.array([half_past_one]))[0], rel=0.1
    )


def test_gaps_count_against_min_history() -> None:
    t, y = series(days=3)
    sparse = slice(None, None, 10)  # one sample every 10 minutes: 0.3 days observed
    found = fit(t[sparse], y[sparse], min_history=DAY_SECONDS)
    assert isinstance(found, ShortHistory)
    assert found.observed_seconds == pytest.approx(len(t[sparse]) * STEP)


def test_a_level_shift_is_followed_from_the_live_value() -> None:
    t, y = series(days=7, noise=0.03)
    shifted = t >= t[-1] - 2 * DAY_SECONDS
    y = np.where(shifted, y * 1.5, y)
    model = model_of(t, y)
    # Deviations from the profile persist for minutes: the decay stays near 1.
    assert model.decay[5] > 0.8
    assert model.backtest.mape is not None
    assert model.backtest.mape < 0.08
    for now in (t[-1] + STEP, t[-1] + STEP + 8.25 * 3600):  # midnight, and in the ramp
        live = 1.5 * float(business_day(np.array([now]))[0])
        later = float(model.forecast_at(live, now, np.array([300.0]))[0])
        truth = 1.5 * float(business_day(np.array([now + 300]))[0])
        assert later == pytest.approx(truth, rel=0.08)


def test_below_the_profile_the_forecast_is_the_live_value_plus_the_expected_rise() -> None:
    """A holiday: demand far below the usual. The forecast must not jump to the usual level,
    only carry the rise the profile expects over the horizon."""
    model = model_of(*series(days=7, noise=0.05))  # noise: the decay above the profile is < 1
    assert model.decay[5] < 0.9
    now = ORIGIN + 7 * DAY_SECONDS + 12 * 3600  # noon: the usual level is ~900
    forecast = model.forecast(100.0, now, 300.0)
    assert forecast.peak == pytest.approx(100.0, abs=15.0)
    before_ramp = ORIGIN + 7 * DAY_SECONDS + 8.25 * 3600
    profile = model.seasonal(np.array([before_ramp, before_ramp + 300]))
    rise = float(profile[1] - profile[0])
    assert rise > 40
    ahead = model.forecast(50.0, before_ramp, 300.0)
    assert ahead.peak == pytest.approx(50.0 + rise, rel=1e-6)


@pytest.mark.parametrize("level", [0.0, 42.0])
def test_constant_and_all_zero_series(level: float) -> None:
    t = ORIGIN + np.arange(int(2 * DAY_SECONDS / STEP)) * STEP
    model = model_of(t, np.full(len(t), level))
    assert model.seasonal(t[:5]) == pytest.approx([level] * 5, abs=1e-6)
    assert model.backtest.mae == pytest.approx(0.0, abs=1e-6)
    if level == 0.0:
        assert model.backtest.mape is None  # undefined on an all-zero day, not NaN
    else:
        assert model.backtest.mape == pytest.approx(0.0, abs=1e-6)
    # A model no better than the live value is not "useful": the trigger reports live.
    assert not model.useful
    forecast = model.forecast(level, t[-1] + STEP, 300.0)
    assert forecast.peak == pytest.approx(level, abs=1e-6)


def test_nan_and_inf_samples_are_dropped() -> None:
    t, y = series(days=7, noise=0.03)
    clean = model_of(t, y)
    dirty = y.copy()
    dirty[::97] = np.nan
    dirty[5::89] = np.inf
    dirty[7::83] = -np.inf
    times = t.copy()
    times[3::101] = np.nan
    model = model_of(times, dirty)
    assert model.samples < clean.samples
    assert model.backtest.mape is not None
    assert model.backtest.mape == pytest.approx(clean.backtest.mape, abs=0.01)
    assert all(math.isfinite(c) for c in model.seasonal.coefficients)


def test_nothing_finite_is_short_history() -> None:
    found = fit(np.array([ORIGIN, ORIGIN + 60]), np.array([np.nan, np.inf]), min_history=0)
    assert isinstance(found, ShortHistory)
    assert found.samples == 0


@settings(deadline=None, max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=4 * DAY_SECONDS),
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True),
                st.floats(min_value=-1e9, max_value=1e9),
            ),
        ),
        max_size=300,
    ),
    st.sampled_from([0.0, 600.0, DAY_SECONDS]),
)
def test_any_history_gives_a_model_or_short_history(
    samples: list[tuple[float, float]], min_history: float
) -> None:
    times = [ORIGIN + t for t, _ in samples]
    values = [v for _, v in samples]
    found = fit_forecaster(
        times, values, step_seconds=STEP, horizon_seconds=300.0, min_history_seconds=min_history
    )
    if isinstance(found, ForecastModel):
        forecast = found.forecast(10.0, ORIGIN + 5 * DAY_SECONDS, 300.0)
        assert math.isfinite(forecast.peak)
        assert found.samples <= len(samples)
    else:
        assert isinstance(found, ShortHistory)


def test_the_step_must_be_positive() -> None:
    with pytest.raises(ValueError, match="step_seconds"):
        fit_forecaster([1.0], [1.0], step_seconds=0, horizon_seconds=60, min_history_seconds=0)


# ------------------------------------------------------------------------------ pieces


def test_samples_are_averaged_onto_the_grid() -> None:
    grid = regular_grid([60.0, 61.0, 180.0, 185.0, 240.0], [1.0, 3.0, 5.0, 7.0, 9.0], 60.0)
    assert grid is not None
    assert grid.start == 60.0
    assert list(grid.values[[0, 2, 3]]) == [2.0, 6.0, 9.0]
    assert math.isnan(grid.values[1])  # 120 s: nothing fell there
    assert grid.observed == 3


def test_residual_decay_of_white_noise_falls_and_of_a_step_stays() -> None:
    rng = np.random.default_rng(3)
    noise = rng.standard_normal(5000)
    decay = residual_decay(noise, 5, level=0.0)
    assert decay[0] == 1.0
    assert max(decay[1:]) < 0.1
    step = np.concatenate([np.zeros(2500), np.ones(2500)]) - 0.5
    assert min(residual_decay(step, 5, level=0.0)) > 0.99


def test_an_unmeasurably_small_deviation_is_assumed_to_persist() -> None:
    assert residual_decay(np.zeros(100), 3, level=500.0) == (1.0, 1.0, 1.0, 1.0)


@settings(deadline=None)
@given(
    live=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    now_offset=st.floats(min_value=0, max_value=30 * DAY_SECONDS),
)
def test_a_forecast_starts_at_the_live_value(live: float, now_offset: float) -> None:
    value = float(MODEL.forecast_at(live, ORIGIN + now_offset, np.array([0.0]))[0])
    assert value == pytest.approx(live, abs=1e-6 * max(1.0, abs(live)))


def test_forecasting_is_a_pure_function_of_its_inputs() -> None:
    first = MODEL.forecast(321.0, ORIGIN + 9 * DAY_SECONDS, 300.0)
    again = MODEL.forecast(321.0, ORIGIN + 9 * DAY_SECONDS, 300.0)
    assert first == again
    refit = model_of(*series(days=7, noise=0.05))
    assert refit.forecast(321.0, ORIGIN + 9 * DAY_SECONDS, 300.0) == first


MODEL = model_of(*series(days=7, noise=0.05))
