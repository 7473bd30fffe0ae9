"""Rolling-origin backtests: layout, agreement with predict, no look-ahead, one batched pass, retraining."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from forecaster_frames import HORIZON, LOOKBACK, QUIET, hourly, panel, tiny

from tsbridge import fitting
from tsbridge.predictor import Predictor


def test_layout_and_metrics(fitted_hourly):
    frame = hourly()
    result = fitted_hourly.backtest(frame, start=frame["date"].iloc[100], stride=5)
    forecasts, metrics = result  # a named tuple
    assert list(forecasts.columns) == ["origin", "timestamp", "step", "target", "actual", "forecast"]
    origins = forecasts["origin"].unique()
    assert origins[0] == frame["date"].iloc[100] and (np.diff(origins) == pd.Timedelta(hours=5)).all()
    assert forecasts["origin"].max() + pd.Timedelta(hours=HORIZON) <= frame["date"].iloc[-1]
    assert len(forecasts) == len(origins) * HORIZON
    first = forecasts[forecasts["origin"] == origins[0]]
    assert list(first["step"]) == list(range(1, HORIZON + 1))
    assert list(first["timestamp"]) == list(frame["date"].iloc[101 : 101 + HORIZON])
    np.testing.assert_allclose(first["actual"], frame["load"].iloc[101 : 101 + HORIZON], rtol=1e-6)
    assert list(metrics.index) == ["load"] and {"mae", "rmse", "mape", "smape"} <= set(metrics.columns)
    expected_mae = (forecasts["forecast"] - forecasts["actual"]).abs().mean()
    assert metrics.loc["load", "mae"] == pytest.approx(expected_mae, rel=1e-5)


@pytest.mark.parametrize("start", [None, 0, 0.0])
def test_default_start_is_the_earliest_origin_with_a_full_lookback(fitted_hourly, start):
    frame = hourly()
    forecasts = fitted_hourly.backtest(frame, start=start, stride=40).forecasts
    assert forecasts["origin"].iloc[0] == frame["date"].iloc[LOOKBACK - 1]


def test_each_forecast_equals_predict_on_the_data_up_to_its_origin(fitted_hourly):
    frame = hourly()
    forecasts = fitted_hourly.backtest(frame, start=60, stride=37).forecasts
    for origin, rows in forecasts.groupby("origin"):
        expected = fitted_hourly.predict(frame[frame["date"] <= origin])
        np.testing.assert_allclose(rows["forecast"], expected["load"], rtol=1e-5, atol=1e-6)


def test_values_after_an_origin_do_not_change_its_forecast(fitted_hourly):
    frame = hourly()
    origin_row = 90
    before = fitted_hourly.backtest(frame, start=origin_row, stride=10).forecasts
    tampered = frame.copy()
    tampered.loc[origin_row + 1 :, ["load", "temp"]] *= 100.0  # the future, target and covariate
    after = fitted_hourly.backtest(tampered, start=origin_row, stride=10).forecasts
    origin = frame["date"].iloc[origin_row]
    at_origin = before["origin"] == origin
    pd.testing.assert_series_equal(after.loc[at_origin, "forecast"], before.loc[at_origin, "forecast"])
    assert not np.allclose(after.loc[~at_origin, "forecast"], before.loc[~at_origin, "forecast"])


def test_one_batched_pass_over_lazy_windows(fitted_hourly, monkeypatch):
    calls = []
    original = Predictor.forecast

    def counting(self, dataset, *args, **kwargs):
        calls.append(len(dataset))
        return original(self, dataset, *args, **kwargs)

    monkeypatch.setattr(Predictor, "forecast", counting)
    forecasts = fitted_hourly.backtest(hourly(), stride=1).forecasts
    assert calls == [forecasts["origin"].nunique()]  # one dataset, every origin's window in it


def test_panel_backtest_has_the_id_column(fitted_panel):
    frame = panel()
    forecasts, metrics = fitted_panel.backtest(frame, start=0.8, stride=4)
    assert list(forecasts.columns[:2]) == ["store", "origin"]
    for store, rows in frame.groupby("store"):
        first_origin = rows["time"].iloc[int(0.8 * len(rows))]
        assert forecasts.loc[forecasts["store"] == store, "origin"].min() == first_origin
    assert list(metrics.index) == ["demand"]


def test_retrain_fits_on_the_rows_up_to_each_origin(tmp_path, monkeypatch):
    frame = hourly()
    fc = tiny("naive", work_dir=tmp_path).fit(frame.iloc[:100], target="load", time_col="date", val_size=0.25,
                                              **QUIET)
    fitted_until = []
    original_fit = fitting.fit

    def recording_fit(cfg, frame, **kwargs):
        fitted_until.append(frame["date"].max())
        return original_fit(cfg, frame, **kwargs)

    monkeypatch.setattr(fitting, "fit", recording_fit)
    retrained = fc.backtest(frame, start=120, stride=20, retrain=True).forecasts
    assert fitted_until == list(frame["date"].iloc[[120, 140]])
    assert retrained["origin"].nunique() == 2 and len(retrained) == 2 * HORIZON
    # the naive model has no weights: refitting only refits the scaler, so the forecasts stay the same
    fixed = fc.backtest(frame, start=120, stride=20).forecasts
    pd.testing.assert_frame_equal(retrained, fixed, check_exact=False, rtol=1e-5)
