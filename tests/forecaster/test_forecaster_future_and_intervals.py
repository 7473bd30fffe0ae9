"""Known-future covariates and prediction intervals through the Forecaster: what they buy, how they are read, and
every misuse refused with a message that names it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tsbridge import Forecaster
from tsbridge.data.errors import DataValidationError, MissingColumnError
from tsbridge.data.future import MissingFutureError

ROWS, TRAIN = 1200, 1000
SMALL = {"lookback": 24, "horizon": 6, "hidden_size": 16, "max_epochs": 6, "lr": 0.01, "progress": False,
         "importance": True}
QUIET = {"logger": False, "val_size": 0.2}


def driven(seed: int = 0) -> pd.DataFrame:
    """``y_t = 2 x_t + small noise`` with ``x`` white noise: only a model that knows x_t can forecast y_t."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=ROWS)
    return pd.DataFrame({"date": pd.date_range("2024-01-01", periods=ROWS, freq="h"), "x": x,
                         "y": 2 * x + 0.1 * rng.normal(size=ROWS)})


@pytest.fixture(scope="module")
def with_future():
    torch.manual_seed(0)
    return Forecaster("lstm", levels=[80, 90], **SMALL).fit(driven().iloc[:TRAIN], target="y", time_col="date",
                                                            future_features=["x"], calendar=["hour"], **QUIET)


def test_known_future_values_cut_the_error_as_they_should(with_future):
    frame = driven()
    without = Forecaster("lstm", **SMALL).fit(frame.iloc[:TRAIN], target="y", time_col="date", features="S", **QUIET)
    mae_with = with_future.backtest(frame, start=TRAIN, stride=6).metrics.loc["y", "mae"]
    mae_without = without.backtest(frame, start=TRAIN, stride=6).metrics.loc["y", "mae"]
    assert mae_with < 0.3 * mae_without, (mae_with, mae_without)
    assert with_future.metrics["importance/future_features"] > 1  # blanking x's future at least doubles the loss


def test_predict_reads_the_future_frame_and_names_what_it_lacks(with_future):
    frame = driven()
    history, future = frame.iloc[:TRAIN], frame.iloc[TRAIN : TRAIN + 6][["date", "x"]]
    forecast = with_future.predict(history, future=future)
    assert list(forecast.columns) == ["y-lo-90", "y-lo-80", "y", "y-hi-80", "y-hi-90"]
    assert list(forecast.index) == list(future["date"])
    np.testing.assert_allclose(forecast["y"], 2 * future["x"], atol=0.6)  # it reads x over the horizon
    with pytest.raises(MissingFutureError, match=r"reads the future values of \['x'\].*future="):
        with_future.predict(history)
    with pytest.raises(MissingColumnError, match=r"lacks column\(s\) \['x'\]"):
        with_future.predict(history, future=future.drop(columns="x"))
    with pytest.raises(MissingFutureError, match=r"lacks 1 of the 6 forecast timestamps, the first 2024-02-11 21:00"):
        with_future.predict(history, future=future.iloc[:5])


def test_a_panel_needs_the_future_of_every_series():
    frame = pd.concat([driven(0).assign(id="a"), driven(1).assign(id="b")])
    fc = Forecaster("lstm", **{**SMALL, "max_epochs": 1}).fit(
        frame[frame["date"] < "2024-02-01"], target="y", time_col="date", id_col="id", future_features="x", **QUIET)
    future = frame[(frame["date"] >= "2024-02-01") & (frame["date"] < "2024-02-01 06:00")]
    assert fc.predict(future=future).index.get_level_values("id").unique().tolist() == ["a", "b"]
    with pytest.raises(MissingFutureError, match="no rows for series 'b'"):
        fc.predict(future=future[future["id"] == "a"])


def test_backtests_read_no_future_value_beyond_each_origins_horizon(with_future):
    """Marker test: values of x (and y) after an origin's horizon never change that origin's forecast; values of x
    inside its horizon do (the model reads them)."""
    frame, origin, horizon = driven(), TRAIN + 20, 6
    before = with_future.backtest(frame, start=origin, stride=50).forecasts
    beyond = frame.copy()
    beyond.loc[origin + horizon + 1 :, ["x", "y"]] = 1e3
    after = with_future.backtest(beyond, start=origin, stride=50).forecasts
    first = before["origin"] == frame["date"].iloc[origin]
    pd.testing.assert_frame_equal(after[first].drop(columns="actual"), before[first].drop(columns="actual"))
    inside = frame.copy()
    inside.loc[origin + horizon, "x"] += 5.0
    changed = with_future.backtest(inside, start=origin, stride=50).forecasts
    assert not np.allclose(changed.loc[first, "forecast"], before.loc[first, "forecast"])


def test_interval_metrics_and_a_calibrated_gaussian():
    """On white Gaussian noise the 80% interval of a quantile model covers about 80% of unseen values."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=3000, freq="h"), "y": rng.normal(size=3000)})
    torch.manual_seed(0)
    fc = Forecaster("lstm", levels=[80], **{**SMALL, "hidden_size": 8}).fit(
        frame.iloc[:2400], target="y", time_col="date", features="S", **QUIET)
    result = fc.backtest(frame, start=2400, stride=6)
    assert 0.7 <= result.metrics.loc["y", "coverage-80"] <= 0.9
    assert {"crps", "coverage-80", "width-80", "mae"} <= set(result.metrics.columns)
    forecasts = result.forecasts
    assert (forecasts["forecast-lo-80"] <= forecasts["forecast"]).all()
    assert (forecasts["forecast"] <= forecasts["forecast-hi-80"]).all()
    assert {"val/crps", "val/coverage-80", "val/width-80", "val_original/crps"} <= set(fc.metrics)
    fc.plot_calibration(result)


@pytest.mark.parametrize("loss", ["normal", "student_t"])
def test_distribution_heads_forecast_ordered_intervals(loss):
    frame = driven()
    fc = Forecaster("blend", levels=[50, 90], loss=loss, **{**SMALL, "max_epochs": 1}).fit(
        frame.iloc[:TRAIN], target="y", time_col="date", future_features=["x"], **QUIET)
    forecast = fc.predict(frame.iloc[:TRAIN], future=frame.iloc[TRAIN : TRAIN + 6])
    ordered = forecast[["y-lo-90", "y-lo-50", "y", "y-hi-50", "y-hi-90"]].to_numpy()
    assert (np.diff(ordered, axis=1) >= 0).all()


def test_save_load_round_trips_a_probabilistic_model_with_future_features_bit_for_bit(with_future, tmp_path):
    frame = driven()
    loaded = Forecaster.load(with_future.save(tmp_path / "model"))
    future = frame.iloc[TRAIN : TRAIN + 6]
    pd.testing.assert_frame_equal(loaded.predict(frame.iloc[:TRAIN], future=future),
                                  with_future.predict(frame.iloc[:TRAIN], future=future), check_exact=True)
    pd.testing.assert_frame_equal(loaded.backtest(frame, start=TRAIN, stride=30).forecasts,
                                  with_future.backtest(frame, start=TRAIN, stride=30).forecasts, check_exact=True)


@pytest.mark.parametrize(("fit_args", "error", "message"), [
    ({"features": ["x"], "future_features": ["x"]}, DataValidationError, "in both features and future_features"),
    ({"future_features": ["y"]}, DataValidationError, "'y' is a target.*cannot be a future feature"),
    ({"future_features": ["nope"]}, MissingColumnError, "column 'nope' not in frame"),
    ({"calendar": ["hours"]}, DataValidationError, "hours"),
])
def test_covariate_lists_are_checked(fit_args, error, message):
    with pytest.raises(error, match=message):
        Forecaster("lstm", **SMALL).fit(driven(), target="y", time_col="date", **fit_args, **QUIET)


@pytest.mark.parametrize(("model", "options", "fit_args", "message"), [
    ("dlinear", {}, {"future_features": ["x"]}, "DLinear does not read known-future inputs"),
    ("naive", {}, {"calendar": ["hour"]}, "Naive does not read known-future inputs"),
    ("naive", {"levels": [80]}, {}, "no parameters to learn intervals"),
    ("lstm", {"levels": [80], "loss": "mse"}, {}, "need a probabilistic loss"),
    ("lstm", {"loss": "quantile"}, {}, "needs levels"),
    ("lstm", {"levels": [80, 120]}, {}, "strictly between 0 and 100"),
])
def test_models_that_cannot_say_so(model, options, fit_args, message):
    sizes = {key: value for key, value in SMALL.items() if model == "lstm" or key not in ("hidden_size",)}
    with pytest.raises(ValueError, match=message):
        Forecaster(model, **options, **sizes).fit(driven(), target="y", time_col="date", **fit_args, **QUIET)


def test_future_given_to_a_model_that_reads_none():
    frame = driven()
    fc = Forecaster("lstm", **{**SMALL, "max_epochs": 1}).fit(frame, target="y", time_col="date", features="S",
                                                                **QUIET)
    with pytest.raises(ValueError, match="reads none"):
        fc.predict(future=frame.iloc[:6])
