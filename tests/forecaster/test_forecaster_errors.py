"""Every documented misuse raises an error that says what is wrong and what to do."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from forecaster_frames import HORIZON, LOOKBACK, QUIET, daily, hourly, tiny
from hydra.errors import InstantiationException

from tsbridge import Forecaster
from tsbridge.data.errors import (DataValidationError, EmptySplitError, FrequencyError, MissingColumnError,
                                  MissingTimestampError, NonFiniteValueError, SeriesTooShortError,
                                  TimestampOrderError)
from tsbridge.forecaster import MissingReadoutError, NotFittedError


@pytest.mark.parametrize("call", [
    lambda fc: fc.predict(), lambda fc: fc.backtest(hourly()), lambda fc: fc.blend_weights,
    lambda fc: fc.plot(), lambda fc: fc.save("unused"), lambda fc: fc.attention_weights(),
])
def test_using_an_unfitted_forecaster(call):
    with pytest.raises(NotFittedError, match=r"not fitted yet; call fit\(df, target=\.\.\.\)"):
        call(Forecaster(lookback=LOOKBACK, horizon=HORIZON))


def test_frame_missing_a_training_column(fitted_hourly):
    with pytest.raises(MissingColumnError, match=r"column 'temp' not in frame"):
        fitted_hourly.predict(hourly().drop(columns="temp"))  # temp was a covariate (features MS)


def test_too_little_history_for_the_lookback(fitted_hourly):
    with pytest.raises(SeriesTooShortError, match=rf"has {LOOKBACK - 1} rows, fewer than lookback={LOOKBACK}"):
        fitted_hourly.predict(hourly().iloc[: LOOKBACK - 1])


def test_horizon_longer_than_trained(fitted_hourly):
    with pytest.raises(ValueError, match=rf"from 1 to the trained horizon {HORIZON}, got {HORIZON + 1}"):
        fitted_hourly.predict(horizon=HORIZON + 1)


def test_missing_timestamps_are_caught_before_training_naming_the_first():
    frame = hourly()
    frame = frame.drop(index=np.arange(10, 160, 7)).reset_index(drop=True)  # irregular gaps
    fc = tiny()
    with pytest.raises(MissingTimestampError, match=r"misses 22 timestamp.*first 2024-01-01 10:00:00.*fill="):
        fc.fit(frame, target="load", time_col="date", val_size=0.25, **QUIET)
    assert fc.module is None


def test_frame_at_another_frequency(fitted_daily):
    frame = daily()
    frame.index = pd.date_range(frame.index[0], periods=len(frame), freq="h", name="day")
    with pytest.raises(FrequencyError, match=r"'D'"):
        fitted_daily.predict(frame)


def test_models_without_readouts(fitted_daily, fitted_panel):
    with pytest.raises(MissingReadoutError, match=r"model 'concat' has no blend bridge.*blend, blend_unit"):
        fitted_daily.blend_weights
    assert not hasattr(fitted_daily, "blend_weights")  # AttributeError-style
    with pytest.raises(MissingReadoutError, match=r"no attention bridge.*model='attention'"):
        fitted_daily.attention_weights()
    with pytest.raises(MissingReadoutError, match="no blend bridge"):
        fitted_panel.plot_blend()


def test_bad_backtest_arguments(fitted_hourly):
    frame = hourly()
    with pytest.raises(ValueError, match="stride must be an integer >= 1"):
        fitted_hourly.backtest(frame, stride=0)
    with pytest.raises(ValueError, match="no backtest origin from start"):
        fitted_hourly.backtest(frame, start=frame["date"].iloc[-2])


# ---------------------------------------------------------------- issue 12: errors reach the caller unwrapped
@pytest.mark.parametrize(("change", "arguments", "error", "words"), [
    (lambda f: f, {"target": "nope"}, MissingColumnError, "column 'nope' not in frame"),
    (lambda f: f, {"target": ["load", "load"]}, DataValidationError, "names column 'load' more than once"),
    (lambda f: f.assign(load=f["load"].where(f.index != 30)), {"target": "load"}, NonFiniteValueError,
     "column 'load' holds nan at row 30"),
    (lambda f: f.iloc[::-1], {"target": "load"}, TimestampOrderError, "unsorted timestamp"),
    (lambda f: f.iloc[:20], {"target": "load"}, EmptySplitError, "no train window for lookback=16"),
])
def test_data_errors_in_fit_are_tsbridge_value_errors_not_hydra_wrappers(change, arguments, error, words):
    fc = tiny()
    with pytest.raises(error, match=words) as raised:
        fc.fit(change(hourly()), time_col="date", val_size=0.25, **arguments, **QUIET)
    # `except ValueError` and `except DataValidationError` catch it; Hydra's InstantiationException is neither.
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, DataValidationError)
    assert not isinstance(raised.value, InstantiationException) and fc.module is None


# ---------------------------------------------------------------- issue 12: backtest starts
@pytest.fixture(scope="module")
def paris_frame():
    frame = hourly()
    frame["date"] = frame["date"].dt.tz_localize("Europe/Paris")
    return frame


@pytest.fixture(scope="module")
def fitted_paris(make_fitted, paris_frame):
    return make_fitted("hourly-paris", "blend", paris_frame, target="load", time_col="date", val_size=0.25)


def test_a_negative_backtest_start_is_refused(fitted_hourly):
    with pytest.raises(ValueError, match=r"start=-5 is a negative row position; rows count from 0"):
        fitted_hourly.backtest(hourly(), start=-5)


@pytest.mark.parametrize("start", ["not a date", "NaT"])
def test_a_backtest_start_that_is_not_a_timestamp_is_named(fitted_hourly, start):
    with pytest.raises(ValueError, match=rf"start='{start}' is not a timestamp"):
        fitted_hourly.backtest(hourly(), start=start)


def test_a_naive_start_on_tz_aware_data_is_wall_time_in_the_data_zone(fitted_paris, paris_frame):
    naive = fitted_paris.backtest(paris_frame, start="2024-01-06 10:00", stride=10).forecasts
    aware = fitted_paris.backtest(paris_frame, start=pd.Timestamp("2024-01-06 09:00", tz="UTC"), stride=10).forecasts
    assert naive["origin"].iloc[0] == pd.Timestamp("2024-01-06 10:00", tz="Europe/Paris")
    pd.testing.assert_frame_equal(naive, aware)


def test_a_tz_aware_start_on_naive_data_is_refused(fitted_hourly):
    with pytest.raises(ValueError, match=r"has a time zone \(UTC\) but the data's timestamps are tz-naive"):
        fitted_hourly.backtest(hourly(), start=pd.Timestamp("2024-01-06", tz="UTC"))


def test_a_naive_start_skipped_by_daylight_saving_is_named(fitted_paris):
    spring = hourly(start="2024-03-28")
    spring["date"] = spring["date"].dt.tz_localize("Europe/Paris", nonexistent="shift_forward")
    spring = spring.drop_duplicates("date")
    with pytest.raises(ValueError, match=r"start='2024-03-31 02:30' is not a single time in the data's time zone "
                                         r"Europe/Paris"):
        fitted_paris.backtest(spring, start="2024-03-31 02:30")


def test_targets_whose_interval_columns_would_collide_are_refused_before_training():
    frame = hourly().assign(**{"load-lo-80": lambda f: f["load"] * 2})
    with pytest.raises(ValueError, match=r"two columns named 'load-lo-80'.*rename the target 'load-lo-80'"):
        tiny("lstm", levels=[80]).fit(frame, target=["load", "load-lo-80"], time_col="date", **QUIET)
    # Without levels there are no interval columns, so the same targets are fine.
    tiny("lstm", max_epochs=1).fit(frame, target=["load", "load-lo-80"], time_col="date", **QUIET)


def test_a_diverging_fit_warns_naming_the_learning_rate():
    with pytest.warns(UserWarning, match=r"training is diverging: .* lower the learning rate \(now 1e\+06\)"):
        tiny("lstm", lr=1e6, max_epochs=2).fit(hourly(), target="load", time_col="date", **QUIET)


def test_a_sane_fit_does_not_warn_of_divergence():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiny("lstm", max_epochs=2).fit(hourly(), target="load", time_col="date", **QUIET)
    assert not [w for w in caught if "diverging" in str(w.message)]
