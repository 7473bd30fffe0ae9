"""Every bad input raises a clear ValueError subclass naming the column, series or row."""

import warnings

import numpy as np
import pandas as pd
import pytest

from tsbridge.data import (
    DataValidationError,
    EmptySplitError,
    MissingColumnError,
    NonFiniteValueError,
    NonNumericColumnError,
    SeriesTooShortError,
    TimestampOrderError,
    UnknownDatasetError,
    WindowDataModule,
    load_dataset,
    prepare_series,
)

OPTIONS = dict(time_col="date", target_cols="c1", lookback=4, horizon=2, split=(0.6, 0.2, 0.2))


@pytest.fixture
def frame(markers) -> pd.DataFrame:
    return markers.frame([60], n_channels=3).drop(columns="series_id")


def build(frame, **changes):
    return WindowDataModule(frame, **{**OPTIONS, **changes})


def test_errors_are_value_errors():
    for error in (MissingColumnError, NonFiniteValueError, NonNumericColumnError, TimestampOrderError,
                  SeriesTooShortError, EmptySplitError, UnknownDatasetError):
        assert issubclass(error, DataValidationError) and issubclass(error, ValueError)


@pytest.mark.parametrize(
    "changes, column",
    [
        (dict(target_cols="nope"), "nope"),
        (dict(feature_cols=["c0", "missing"]), "missing"),
        (dict(time_col="when"), "when"),
        (dict(id_col="who"), "who"),
    ],
)
def test_missing_column(frame, changes, column):
    with pytest.raises(MissingColumnError, match=repr(column)):
        build(frame, **changes)


def test_non_numeric_column(frame):
    frame["label"] = "a"
    with pytest.raises(NonNumericColumnError, match="'label'"):
        build(frame, feature_cols="label")
    assert build(frame, features="MS").input_cols == ["c1", "c0", "c2"]  # auto-selection skips text columns


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_name_column_and_row(frame, bad):
    frame.loc[17, "c2"] = bad
    with pytest.raises(NonFiniteValueError, match=r"column 'c2'.*row 17"):
        build(frame, feature_cols="c2")


@pytest.mark.parametrize("fill, expected", [("ffill", 16.5), ("interpolate", 17.5), ("zero", 0.0)])
def test_fill_policies(frame, fill, expected):
    frame.loc[17, "c2"] = np.nan
    frame.loc[0, "c2"] = np.inf  # a leading gap: ffill takes the first observed value
    dm = build(frame, feature_cols="c2", fill=fill)
    values = dm.series.values[0][:, 1]
    assert values[17] == expected
    assert values[0] == {"ffill": 1.5, "interpolate": 1.5, "zero": 0.0}[fill]


def test_fill_cannot_fill_an_empty_column(frame):
    frame["c2"] = np.nan
    with pytest.raises(NonFiniteValueError, match="'c2'"):
        build(frame, feature_cols="c2", fill="ffill")
    with pytest.raises(DataValidationError, match="fill"):
        build(frame, fill="mean")


@pytest.mark.parametrize("kind, row", [("duplicate", 9), ("unsorted", 9)])
def test_timestamp_order(frame, kind, row):
    step_back = pd.Timedelta(0) if kind == "duplicate" else pd.Timedelta("1h")
    frame.loc[row, "date"] = frame.loc[row - 1, "date"] - step_back
    with pytest.raises(TimestampOrderError, match=rf"{kind} timestamp .* row {row}"):
        build(frame)


def test_panel_errors_name_the_series(markers):
    frame = markers.frame([30, 30])
    frame.loc[40, "date"] = frame.loc[39, "date"]
    with pytest.raises(TimestampOrderError, match=r"series 's1'.*row 10"):
        build(frame, id_col="series_id")
    frame = markers.frame([30, 30])
    frame.loc[35, "c1"] = np.nan
    with pytest.raises(NonFiniteValueError, match=r"series 's1'.*row 35"):
        build(frame, id_col="series_id")


def test_unparseable_or_missing_time(frame):
    frame["date"] = frame["date"].astype(str)
    frame.loc[3, "date"] = "not a date"
    with pytest.raises(TimestampOrderError, match="'date'"):
        build(frame)
    frame.loc[3, "date"] = None
    with pytest.raises(TimestampOrderError, match="row 3"):
        build(frame)


def test_short_series_named_and_dropped_only_when_asked(markers):
    frame = markers.frame([40, 5, 40])
    with pytest.raises(SeriesTooShortError, match=r"1 of 3 series .*: 's1' \(5 rows\); pass drop_short=True"):
        build(frame, id_col="series_id")
    with pytest.warns(UserWarning, match="'s1'"):
        dm = build(frame, id_col="series_id", drop_short=True)
    assert dm.series_ids == ["s0", "s2"]
    with pytest.raises(SeriesTooShortError, match="2 of 2 series .*none is left"):
        build(markers.frame([5, 4]), id_col="series_id", drop_short=True)


def test_every_dropped_series_is_named_in_one_warning_with_the_count(markers):
    # Seven short series, more than the error lists (5): the warning, the record of what was dropped, names all.
    frame = markers.frame([40, 5, 5, 4, 5, 5, 5, 5, 40])
    with pytest.warns(UserWarning) as caught:
        dm = build(frame, id_col="series_id", drop_short=True)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("dropping 7 of 9 series have fewer rows than lookback + horizon = 6: ")
    assert "'s1', 's2', 's4', 's5', 's6', 's7' (5 rows); 's3' (4 rows)" in message
    assert dm.series_ids == ["s0", "s8"]


def test_series_without_a_training_window_are_kept_and_named_in_one_warning(markers):
    # 's1' holds one window (9 rows >= 4 + 2) but its training part, int(0.6 * 9) = 5 rows, none: before, it was left
    # out of training without a word. It stays: scaled on its training rows, validated and forecast.
    with pytest.warns(UserWarning) as caught:
        dm = build(markers.frame([40, 9, 40]), id_col="series_id")
    assert [str(w.message) for w in caught] == [
        "1 of 3 series hold no training window (fewer training rows than lookback + horizon = 6 under split "
        "(0.6, 0.2, 0.2)): 's1' (5 training rows); they are scaled, validated and forecast but never trained on "
        "(a shorter lookback or a smaller validation share trains on them)"]
    dm.setup()
    assert dm.series_ids == ["s0", "s1", "s2"] and dm.scaler.group("s1") == 1
    assert dm.train_dataset.index.counts[1] == 0 and dm.val_dataset.index.counts[1] == 2  # val rows 1..7
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # long enough everywhere: no warning
        build(markers.frame([40, 10, 40]), id_col="series_id")


def test_one_short_series_is_told_the_look_back_that_fits(markers):
    # Dropping the only series is no fix: the message names its length and the longest look-back that fits.
    for drop_short in (False, True):
        with pytest.raises(SeriesTooShortError, match=r"^the series has 5 rows, fewer than lookback \+ horizon = "
                                                      r"\d+ \+ \d+ = \d+, the length of one window; use a"):
            build(markers.frame([5]), id_col="series_id", drop_short=drop_short)


def test_series_of_one_row_are_too_short_not_of_unknown_frequency(markers):
    # One timestamp per series gives no step to infer a frequency from, but the problem to fix is the length.
    with pytest.raises(SeriesTooShortError, match=r"^2 of 2 series have fewer rows than lookback \+ horizon = 6"):
        build(markers.frame([1, 1]), id_col="series_id")


@pytest.mark.parametrize("name", ["lookback", "horizon", "stride", "batch_size", "eval_batch_size"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_sizes_must_be_positive_integers(frame, name, value):
    with pytest.raises(DataValidationError, match=name):
        build(frame, **{name: value})


@pytest.mark.parametrize(
    "split, error",
    [
        ((0.9, 0.09, 0.01), EmptySplitError),  # no room for a test window
        ((0.5, 0.5), DataValidationError),
        ((0.8, 0.3, -0.1), DataValidationError),
        ((0.5, 0.2, 0.2), DataValidationError),  # does not sum to 1
        ("ett-daily", DataValidationError),
        ("ett-hourly", EmptySplitError),  # 60 rows, the preset needs 14400
        ("rows:60", EmptySplitError),  # 60 rows: none left to train on
        ("rows:10:50", EmptySplitError),
        ("rows:0", EmptySplitError),
        ("rows:-5", DataValidationError),
    ],
)
def test_bad_splits(frame, split, error):
    with pytest.raises(error, match="split"):
        build(frame, split=split)


def test_bad_options(frame):
    with pytest.raises(DataValidationError, match="features"):
        build(frame, features="SM")
    with pytest.raises(DataValidationError, match="'S'"):
        build(frame, features="S", feature_cols="c0")
    with pytest.raises(DataValidationError, match="scaler"):
        build(frame, scaler="minmax")
    with pytest.raises(DataValidationError, match="'date'"):
        build(frame, feature_cols="date")
    with pytest.raises(DataValidationError, match="got ndarray"):
        build(frame.to_numpy())


def test_unknown_dataset_name():
    with pytest.raises(UnknownDatasetError, match="'weather'.*synthetic"):
        load_dataset("weather")


def test_panel_series_with_different_frequencies_are_refused():
    hourly = pd.DataFrame({"id": "a", "date": pd.date_range("2024-01-01", periods=40, freq="h"), "v": 1.0})
    daily = pd.DataFrame({"id": "b", "date": pd.date_range("2024-01-01", periods=40, freq="D"), "v": 1.0})
    with pytest.raises(DataValidationError, match=r"different frequencies: 'h' \(series 'a'\), 'D' \(series 'b'\)"):
        prepare_series(pd.concat([hourly, daily]), target_cols="v", time_col="date", id_col="id")


def test_a_datetime_column_left_unnamed_is_pointed_out(frame):
    # time_col omitted: the row index is the time axis, which the warning names with the column to pass instead.
    with pytest.warns(UserWarning, match="no time_col was named.*column 'date' holds datetimes; pass time_col='date'"):
        build(frame, time_col=None)
