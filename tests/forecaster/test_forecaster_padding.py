"""Edge padding through the Forecaster: a panel's series shorter than one window train, forecast, backtest and
survive save/load when ``min_lookback`` is set."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from forecaster_frames import HORIZON, LOOKBACK, QUIET, panel, tiny

from tsbridge import Forecaster
from tsbridge.data import SeriesTooShortError
from tsbridge.persistence import CONFIG_FILE, CorruptFileError

MIN_LOOKBACK = 4
# Series b has 14 rows, fewer than lookback + horizon = 20 but at least min_lookback + horizon = 8; with no test
# part and a quarter for validation its 10 training rows hold 10 - 4 - 4 + 1 = 3 padded training windows.
LENGTHS = (60, 14)
FIT = {"target": "demand", "time_col": "time", "id_col": "store", "val_size": 0.25, "test_size": 0.0, **QUIET}


@pytest.fixture(scope="module")
def padded() -> Forecaster:
    return tiny(min_lookback=MIN_LOOKBACK).fit(panel(LENGTHS), **FIT)


def test_the_option_is_routed_to_the_data_config():
    forecaster = Forecaster("blend", lookback=8, horizon=4, min_lookback=3)
    assert "data.min_lookback=3" in forecaster.overrides and forecaster.config.data.min_lookback == 3
    assert Forecaster("blend", lookback=8, horizon=4).config.data.min_lookback is None


def test_without_padding_the_short_series_is_refused():
    with pytest.raises(SeriesTooShortError, match=r"1 of 2 series have fewer rows than lookback \+ horizon = 20"):
        tiny().fit(panel(LENGTHS), **FIT)


def test_a_short_series_trains_and_is_forecast(padded):
    assert padded.predictor.min_lookback == MIN_LOOKBACK
    train = padded.result.datamodule.train_dataset
    # 45 and 10 training rows, each window reading at least MIN_LOOKBACK of them before its targets.
    assert train.index.counts.tolist() == [45 - MIN_LOOKBACK - HORIZON + 1, 10 - MIN_LOOKBACK - HORIZON + 1]
    forecast = padded.predict()
    assert forecast.index.get_level_values("store").value_counts().to_dict() == {"a": HORIZON, "b": HORIZON}
    assert forecast.notna().all().all()
    frame = panel(LENGTHS)
    b_ends = frame[frame.store == "b"].time.iloc[-1]
    assert forecast.loc["b"].index[0] == b_ends + pd.Timedelta(hours=1)


def test_prediction_needs_only_min_lookback_rows(padded):
    frame = panel(LENGTHS)
    recent = frame.groupby("store").tail(MIN_LOOKBACK)  # fewer rows than lookback: read edge-padded
    assert len(padded.predict(recent)) == 2 * HORIZON
    # The padded window of the last MIN_LOOKBACK rows is the window of those rows behind copies of the first one.
    first_rows = recent.groupby("store").head(1)
    by_hand = pd.concat([first_rows] * (LOOKBACK - MIN_LOOKBACK) + [recent]).sort_values("store", kind="stable")
    by_hand["time"] = by_hand.groupby("store").time.transform(
        lambda t: pd.date_range(end=t.iloc[-1], periods=len(t), freq="h"))
    pd.testing.assert_frame_equal(padded.predict(recent), padded.predict(by_hand))
    with pytest.raises(SeriesTooShortError, match=f"fewer than min_lookback={MIN_LOOKBACK}"):
        padded.predict(frame.groupby("store").tail(MIN_LOOKBACK - 1))


def test_backtest_origins_start_at_min_lookback(padded):
    frame = panel(LENGTHS)
    predictor = padded.predictor
    series = predictor.prepare(frame)
    origins = predictor.origins(series)
    firsts = {s: int(origins[origins[:, 0] == s, 1].min()) for s in (0, 1)}
    assert firsts == {0: MIN_LOOKBACK - 1, 1: MIN_LOOKBACK - 1}
    assert len(origins) == sum(n - MIN_LOOKBACK - HORIZON + 1 for n in LENGTHS)
    table = padded.backtest(frame).forecasts
    assert table.groupby("store").origin.nunique().to_dict() == {"a": 60 - 7, "b": 14 - 7}
    with pytest.raises(ValueError, match=f"fewer rows up to it than min_lookback={MIN_LOOKBACK}"):
        predictor.windows(series, torch.tensor([[1, MIN_LOOKBACK - 2]]))


def test_save_and_load_keep_min_lookback(padded, tmp_path):
    path = padded.save(tmp_path / "padded")
    assert json.loads((path / CONFIG_FILE).read_text())["data"]["min_lookback"] == MIN_LOOKBACK
    loaded = Forecaster.load(path)
    assert loaded.predictor.min_lookback == MIN_LOOKBACK
    pd.testing.assert_frame_equal(loaded.predict(), padded.predict())  # b's 14 saved rows: a padded window
    recent = panel(LENGTHS).groupby("store").tail(MIN_LOOKBACK + 1)
    pd.testing.assert_frame_equal(loaded.predict(recent), padded.predict(recent))


def test_saves_without_min_lookback_load_unpadded_and_bad_values_are_refused(fitted_hourly, tmp_path):
    path = fitted_hourly.save(tmp_path / "older")
    document = json.loads((path / CONFIG_FILE).read_text())
    assert document["data"].pop("min_lookback") is None
    (path / CONFIG_FILE).write_text(json.dumps(document))  # as saved before the option existed
    assert Forecaster.load(path).predictor.min_lookback is None
    for bad in (0, LOOKBACK + 1, "3"):
        document["data"]["min_lookback"] = bad
        (path / CONFIG_FILE).write_text(json.dumps(document))
        with pytest.raises(CorruptFileError, match="data.min_lookback"):
            Forecaster.load(path)
