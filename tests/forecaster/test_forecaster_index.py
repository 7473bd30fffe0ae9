"""predict's index: future timestamps at the data's frequency, per series for panels."""

from __future__ import annotations

import pandas as pd
from forecaster_frames import HORIZON, daily, hourly, panel


def test_hourly_index_continues_after_the_given_frame(fitted_hourly):
    frame = hourly(n_rows=60, start="2024-03-30")  # a later stretch than training, across a month end
    forecast = fitted_hourly.predict(frame)
    expected = pd.date_range(frame["date"].iloc[-1], periods=HORIZON + 1, freq="h")[1:]
    pd.testing.assert_index_equal(forecast.index, expected.rename("date"))


def test_daily_index_from_a_datetime_index(fitted_daily):
    frame = daily()
    forecast = fitted_daily.predict()
    expected = pd.date_range(frame.index[-1] + pd.Timedelta(days=1), periods=HORIZON, freq="D", name="day")
    pd.testing.assert_index_equal(forecast.index, expected)
    assert list(forecast.columns) == ["sales"]
    assert fitted_daily.predict(frame.iloc[:30]).index[0] == frame.index[30]


def test_panel_index_is_id_then_time_and_each_series_continues_from_its_own_end(fitted_panel):
    frame = panel()
    forecast = fitted_panel.predict()
    assert forecast.index.names == ["store", "time"] and list(forecast.columns) == ["demand"]
    assert list(forecast.index.get_level_values("store").unique()) == ["a", "b"]
    for store, rows in frame.groupby("store"):
        expected = pd.date_range(rows["time"].iloc[-1], periods=HORIZON + 1, freq="h")[1:]
        pd.testing.assert_index_equal(forecast.loc[store].index, expected.rename("time"), check_freq=False)
    # one series alone gives the same numbers as inside the panel (one global model, per-series scaling)
    alone = fitted_panel.predict(frame[frame["store"] == "b"])
    pd.testing.assert_frame_equal(alone, forecast.loc[["b"]], check_exact=False, rtol=1e-5, check_freq=False)
    long = forecast.reset_index()  # NeuralForecast-style long layout
    assert list(long.columns) == ["store", "time", "demand"] and len(long) == 2 * HORIZON
