"""Every documented misuse raises an error that says what is wrong and what to do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from forecaster_frames import HORIZON, LOOKBACK, QUIET, daily, hourly, tiny

from tsbridge import Forecaster
from tsbridge.data.errors import FrequencyError, MissingColumnError, MissingTimestampError, SeriesTooShortError
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
