"""Issue 12, data layer: inputs that used to give a silently wrong result or a confusing error.

Each test names the input, and asserts either the clear ValueError (its type and the words naming the problem) or
the now-correct value.
"""

import numpy as np
import pandas as pd
import pytest
import torch

from tsbridge.data import (
    DataValidationError,
    FrequencyError,
    MissingColumnError,
    MissingTimestampError,
    NonFiniteValueError,
    SeriesFrame,
    StandardScaler,
    TimestampOrderError,
    WindowDataModule,
    model_units,
    prepare_series,
    resolve_freq,
)

SPLIT = (0.6, 0.2, 0.2)
WINDOWS = dict(lookback=4, horizon=2, split=SPLIT)


def daily_with_gap(n_days: int = 30, missing=(10, 11)) -> pd.DataFrame:
    """Daily rows valued by their day number, with ``missing`` days dropped (the 11th and 12th of January)."""
    days = pd.date_range("2024-01-01", periods=n_days, freq="D")
    frame = pd.DataFrame({"date": days, "y": np.arange(n_days, dtype=np.float64)})
    return frame.drop(index=list(missing)).reset_index(drop=True)


# ---------------------------------------------------------------- 1. gaps and frequencies
def test_missing_days_are_refused_naming_the_series_the_first_gap_and_the_count():
    with pytest.raises(MissingTimestampError, match=r"series 0 misses 2 timestamp.*'D'.*first 2024-01-11 00:00:00 "
                                                    r"\(between 2024-01-10 00:00:00 and 2024-01-13 00:00:00\).*fill="):
        prepare_series(daily_with_gap(), target_cols="y", time_col="date")


@pytest.mark.parametrize("fill, expected", [("ffill", [9, 9, 9, 12]), ("interpolate", [9, 10, 11, 12]),
                                            ("zero", [9, 0, 0, 12])])
def test_missing_days_become_rows_filled_as_asked(fill, expected):
    series = prepare_series(daily_with_gap(), target_cols="y", time_col="date", fill=fill)
    assert series.freq == "D" and series.lengths == [30]
    assert series.timestamps[0].equals(pd.date_range("2024-01-01", periods=30, freq="D"))
    assert series.values[0][9:13, 0].tolist() == expected  # day 12 stays in row 12, not row 10


def test_windows_span_real_days_after_reindexing():
    dm = WindowDataModule(daily_with_gap(), time_col="date", target_cols="y", fill="interpolate", scaler=None,
                          **WINDOWS)
    dm.setup()
    for item in (dm.train_dataset[i] for i in range(len(dm.train_dataset))):
        origin = int(item["origin"])
        assert item["x"][:, 0].tolist() == list(range(origin - 3, origin + 1))  # value = day number = row


def test_freq_argument_is_a_saved_hyperparameter_and_reindexes():
    dm = WindowDataModule(daily_with_gap(), time_col="date", target_cols="y", fill="zero", freq="D", **WINDOWS)
    assert dm.hparams["freq"] == "D" and dm.freq == "D" and dm.series.lengths == [30]


def test_gappy_datetime_series_always_get_a_frequency():
    frame = daily_with_gap(missing=(3, 7, 8, 20))  # too irregular for pandas' inference
    assert prepare_series(frame, target_cols="y", time_col="date", fill="ffill").freq == "D"


def test_integer_time_axis_with_gaps_steps_by_its_most_common_difference():
    frame = pd.DataFrame({"t": [0, 2, 4, 8, 10], "y": [0.0, 2, 4, 8, 10]})
    with pytest.raises(MissingTimestampError, match=r"misses 1 timestamp.*step 2.*first 6 \(between 4 and 8\)"):
        prepare_series(frame, target_cols="y", time_col="t")
    series = prepare_series(frame, target_cols="y", time_col="t", fill="interpolate")
    assert series.timestamps[0].tolist() == [0, 2, 4, 6, 8, 10] and series.values[0][3, 0] == 6
    assert series.freq is None and series.future_index(0, 2).tolist() == [12, 14]


def test_float_time_axis_with_gaps_tolerates_rounding():
    frame = pd.DataFrame({"t": [0.0, 0.1, 0.2, 0.1 + 0.2, 0.5], "y": [0.0, 1, 2, 3, 5]})
    series = prepare_series(frame, target_cols="y", time_col="t", fill="interpolate")
    assert series.lengths == [6] and series.values[0][4, 0] == pytest.approx(4.0)


def test_a_row_off_the_grid_is_named_with_the_timestamp_before_it():
    stamps = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00", "2024-01-01 02:37",
                             "2024-01-01 04:00", "2024-01-01 05:00"])
    frame = pd.DataFrame({"date": stamps, "y": 1.0})
    with pytest.raises(FrequencyError, match=r"2024-01-01 02:37:00 \(row 3, after 2024-01-01 02:00:00\).*'h'"):
        prepare_series(frame, target_cols="y", time_col="date")


@pytest.mark.parametrize("freq, words", [("h", "mostly 1 days 00:00:00 apart"), ("min", "would stretch"),
                                         ("xyz", "freq='xyz' is not a pandas frequency")])
def test_a_freq_that_does_not_fit_the_data_is_refused(freq, words):
    frame = daily_with_gap(n_days=200)
    with pytest.raises(FrequencyError, match=words):
        prepare_series(frame, target_cols="y", time_col="date", fill="zero", freq=freq)


def test_freq_on_a_numeric_time_axis_is_refused():
    with pytest.raises(FrequencyError, match="datetime"):
        prepare_series(pd.DataFrame({"t": [1, 2, 3], "y": 1.0}), target_cols="y", time_col="t", freq="D")


def test_a_weekly_series_with_a_gap_joins_the_panel_frequency():
    weeks = pd.date_range("2024-01-07", periods=12, freq="W")
    panel = pd.concat([pd.DataFrame({"id": "a", "date": weeks, "y": 1.0}),
                       pd.DataFrame({"id": "b", "date": weeks.delete(5), "y": 2.0})])
    with pytest.raises(MissingTimestampError, match="series 'b'.*2024-02-11"):
        prepare_series(panel, target_cols="y", time_col="date", id_col="id")
    series = prepare_series(panel, target_cols="y", time_col="date", id_col="id", fill="ffill")
    assert series.freq == "W-SUN" and series.lengths == [12, 12]


def test_a_two_hourly_series_with_gaps_is_not_read_as_hourly():
    hourly = pd.DataFrame({"id": "a", "date": pd.date_range("2024-01-01", periods=20, freq="h"), "y": 1.0})
    two_hourly = pd.DataFrame({"id": "b", "date": pd.date_range("2024-01-01", periods=20, freq="2h").delete(4),
                               "y": 1.0})
    with pytest.raises(FrequencyError, match=r"different frequencies: 'h' \(series 'a'\), '2h' \(series 'b'\)"):
        prepare_series(pd.concat([hourly, two_hourly]), target_cols="y", time_col="date", id_col="id", fill="ffill")


def test_new_frames_are_read_at_the_training_frequency():
    """New frames are prepared with the training frequency (as the Predictor does): gaps become rows, and a frame
    on another frequency's grid is refused."""
    dm = WindowDataModule(daily_with_gap(), time_col="date", target_cols="y", fill="ffill", **WINDOWS)
    options = dict(target_cols="y", time_col="date", fill="ffill", freq=dm.freq)
    assert prepare_series(daily_with_gap(missing=(2,)), **options).lengths == [30]
    hourly = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=30, freq="h"), "y": 1.0})
    with pytest.raises(FrequencyError, match="'D'"):
        prepare_series(hourly, **options)


def test_resolve_freq_names_the_irregular_step_not_the_first_timestamps():
    stamps = pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-07", "2024-01-08"])
    series = SeriesFrame(values=[torch.zeros(6, 1)], timestamps=[stamps], series_ids=["a"], input_cols=["y"],
                         target_cols=["y"], freq=None)
    with pytest.raises(FrequencyError, match=r"series 'a'.*2024-01-04 00:00:00 -> 2024-01-07 00:00:00 \(row 4\)"):
        resolve_freq(series, None)
    assert resolve_freq(series, "24h") == "24h"
    prepared = prepare_series(daily_with_gap(), target_cols="y", time_col="date", fill="zero")
    assert resolve_freq(prepared, None) == resolve_freq(prepared, "D") == "D"
    with pytest.raises(FrequencyError, match="'h'.*'D'"):
        resolve_freq(prepared, "h")  # the rows are one day apart: forecasting hourly steps would be wrong


# ---------------------------------------------------------------- 2. precision
@pytest.fixture
def high_level_wiggle() -> pd.DataFrame:
    t = np.arange(300)
    return pd.DataFrame({"date": pd.date_range("2024-01-01", periods=300, freq="h"),
                         "y": 1e6 + 0.01 * np.sin(t / 5)})


def test_a_small_wiggle_on_a_large_level_survives_scaling(high_level_wiggle):
    dm = WindowDataModule(high_level_wiggle, time_col="date", target_cols="y", scaler="standard", **WINDOWS)
    before = dm.series.values[0]
    assert before.dtype == torch.float64 and torch.equal(before[:, 0], torch.tensor(high_level_wiggle["y"].values))
    dm.setup()
    scaled = dm.scaled_series.values[0][:, 0]
    assert scaled.dtype == torch.float32 and 0.5 < scaled.std() < 2  # float32 first would make it constant
    wiggle = torch.tensor(np.sin(np.arange(300) / 5), dtype=torch.float32)
    assert torch.corrcoef(torch.stack([scaled, wiggle]))[0, 1] > 0.9999
    assert dm.scaler.mean.dtype == dm.scaler.std.dtype == torch.float64
    batch = next(iter(dm.test_dataloader()))
    original = batch["y"] * batch["scale"] + batch["loc"]  # float64 loc/scale: original units in float64
    rows = batch["origin"][:, None] + 1 + torch.arange(2)
    expected = torch.tensor(high_level_wiggle["y"].values)[rows]
    assert original.dtype == torch.float64 and (original[..., 0] - expected).abs().max() < 1e-8
    after = dm.series.values[0]
    assert after.dtype == torch.float64 and (after - before).abs().max() < 1e-8


def test_series_handed_out_before_setup_are_not_scaled_under_the_caller(high_level_wiggle):
    dm = WindowDataModule(high_level_wiggle, time_col="date", target_cols="y", scaler="standard", **WINDOWS)
    before = dm.series
    dm.setup()
    assert torch.equal(before.values[0][:, 0], torch.tensor(high_level_wiggle["y"].values))


def test_forecasts_return_to_original_units_in_float64():
    scaler = StandardScaler().fit([torch.tensor([[1e6], [1e6 + 0.02]], dtype=torch.float64)], [2], ["a"])
    restored = scaler.inverse_transform(torch.tensor([[0.5]]))  # a float32 forecast in scaled units
    assert restored.dtype == torch.float64 and restored.item() == pytest.approx(1e6 + 0.015, abs=1e-9)
    loc, scale = scaler.target_stats(["a"], 1)
    assert loc.dtype == scale.dtype == torch.float64


# ---------------------------------------------------------------- 3. tiny scales
def test_a_series_of_1e_minus_9_values_is_scaled_to_order_one():
    t = np.arange(200)
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=200, freq="h"),
                          "y": 1e-9 * (2 + np.sin(t / 5)), "flat": 1e-9})
    dm = WindowDataModule(frame, time_col="date", target_cols="y", features="MS", scaler="standard", **WINDOWS)
    dm.setup()
    assert dm.scaler.std[0, 0].item() == pytest.approx(1e-9 * np.sin(t[:120] / 5).std(), rel=1e-6)
    assert dm.scaler.std[0, 1].item() == 1.0  # a truly constant channel is not divided by ~0
    scaled = dm.scaled_series.values[0]
    assert 0.5 < scaled[:, 0].std() < 2 and torch.all(scaled[:, 1] == 0)


def test_revin_normalises_a_window_of_1e_minus_9_values_and_survives_constant_windows():
    from tsbridge.models.revin import RevIN  # the model-side twin of the scaler's threshold

    revin = RevIN(1)
    window = (1e-9 * (2 + torch.sin(torch.arange(16.0) / 3)))[None, :, None]  # (B=1, L=16, C=1)
    normalised, stats = revin.normalize(window)
    assert 0.9 < normalised.std(unbiased=False) < 1.01  # an absolute eps of 1e-5 left ~3e-7 here
    assert torch.allclose(revin.denormalize(normalised, stats), window, rtol=1e-5, atol=0)
    constant = torch.stack([torch.zeros(8, 1), torch.full((8, 1), 3.0), torch.full((8, 1), 1e-9)])
    normalised, stats = revin.normalize(constant)
    assert torch.isfinite(normalised).all() and normalised.abs().max() < 1e-3
    assert torch.allclose(revin.denormalize(torch.zeros(3, 2, 1), stats)[:, 0, 0], torch.tensor([0.0, 3.0, 1e-9]))


# ---------------------------------------------------------------- 4. duplicate names
@pytest.mark.parametrize("columns, words", [
    (dict(target_cols=["y", "y"]), "target_cols names column 'y' more than once"),
    (dict(target_cols="y", feature_cols=["x", "x"]), "feature_cols names column 'x' more than once"),
    (dict(target_cols="y", feature_cols=["x", "y"]), "column 'y' is both a target and a feature"),
])
def test_a_column_named_twice_is_refused(columns, words):
    frame = pd.DataFrame({"y": np.arange(20.0), "x": np.arange(20.0)})
    with pytest.raises(DataValidationError, match=words):
        prepare_series(frame, **columns)


@pytest.mark.parametrize("columns", [dict(target_cols="b"), dict(target_cols="a", features="MS"),
                                     dict(target_cols="a", feature_cols="b")])
def test_a_frame_with_duplicate_column_labels_is_named(columns):
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 3)), columns=["a", "b", "b"])
    with pytest.raises(DataValidationError, match="several columns named 'b'"):
        prepare_series(frame, **columns)
    assert prepare_series(frame, target_cols="a").input_cols == ["a"]  # unused copies are harmless


# ---------------------------------------------------------------- 5. non-string column labels
def test_integer_column_labels():
    values = np.arange(60.0).reshape(20, 3) * [1, 10, 100]
    frame = pd.DataFrame(values)  # columns 0, 1, 2
    dm = WindowDataModule(frame, target_cols=0, feature_cols=[2, 1], scaler="standard", **WINDOWS)
    assert (dm.input_cols, dm.target_cols) == ([0, 2, 1], [0])
    dm.setup()
    item = dm.val_dataset[0]
    assert torch.allclose(item["x"][0].double() * dm.scaler.std[0] + dm.scaler.mean[0],
                          torch.tensor(values[int(item["origin"]) - 3][[0, 2, 1]]), atol=1e-4)
    assert prepare_series(frame, target_cols=(0, 1)).target_cols == [0, 1]
    assert prepare_series(frame, target_cols=0, features="MS").input_cols == [0, 1, 2]


def test_an_integer_time_column_label_is_named_in_errors():
    frame = pd.DataFrame({0: [3, 2, 1], 1: [1.0, 2.0, 3.0]})
    with pytest.raises(TimestampOrderError, match="unsorted timestamp"):
        prepare_series(frame, target_cols=1, time_col=0)
    with pytest.raises(MissingColumnError, match="column 7 not in frame"):
        prepare_series(frame, target_cols=7)


@pytest.mark.parametrize("bad", [{"y"}, {"y": 1}, [["y"]], [("y", "x")]])
def test_column_arguments_that_are_neither_a_name_nor_a_list(bad):
    with pytest.raises(DataValidationError, match="target_cols"):
        prepare_series(pd.DataFrame({"y": [1.0, 2.0]}), target_cols=bad)


# ---------------------------------------------------------------- 6. series ids of any hashable type
@pytest.mark.parametrize("ids", [[pd.Timestamp("2020-01-01"), pd.Timestamp("2020-02-01")], [3, 7]])
def test_panel_ids_of_any_hashable_type(ids):
    panel = pd.concat([pd.DataFrame({"id": sid, "t": range(30), "y": np.arange(30.0) + 100 * k})
                       for k, sid in enumerate(ids)])
    dm = WindowDataModule(panel, time_col="t", id_col="id", target_cols="y", scaler="standard",
                          scale_per_series=True, **WINDOWS)
    assert dm.series_ids == ids and all(type(a) is type(b) for a, b in zip(dm.series_ids, ids))  # no numpy scalars
    dm.setup()
    loc, _ = dm.scaler.target_stats([ids[1]], n_targets=1)
    assert loc.item() == pytest.approx(100 + 8.5)  # the second series' own training mean


# ---------------------------------------------------------------- 7. huge values
def test_values_near_1e30_stay_finite_after_scaling():
    t = np.arange(200)
    frame = pd.DataFrame({"y": 1e30 * (2 + np.sin(t / 5))})
    dm = WindowDataModule(frame, target_cols="y", scaler="standard", **WINDOWS)
    dm.setup()
    scaled = dm.scaled_series.values[0]
    assert torch.isfinite(scaled).all() and 0.5 < scaled.std() < 2 and torch.isfinite(dm.scaler.std).all()
    assert torch.allclose(dm.series.values[0][:, 0], torch.tensor(frame["y"].values), rtol=1e-6)


def test_values_beyond_float32_are_refused_not_turned_into_inf():
    frame = pd.DataFrame({"y": 1e39 * (2 + np.sin(np.arange(50) / 5))})
    with pytest.raises(NonFiniteValueError, match=r"column 'y' at 0 is 2e\+39, beyond float32.*scaler='standard'"):
        WindowDataModule(frame, target_cols="y", scaler=None, **WINDOWS).setup()
    WindowDataModule(frame, target_cols="y", scaler="standard", **WINDOWS).setup()  # scaled, they fit


def test_model_units_are_float32_for_nets_with_or_without_a_scaler(high_level_wiggle):
    series = prepare_series(high_level_wiggle, target_cols="y", time_col="date")
    assert model_units(series, None).values[0].dtype == torch.float32
    scaler = StandardScaler().fit(series.values, [200], series.series_ids)
    scaled = model_units(series, scaler).values[0]
    assert scaled.dtype == torch.float32 and 0.5 < scaled.std() < 2
    assert series.values[0].dtype == torch.float64  # the original units are left alone


# ---------------------------------------------------------------- other confusing inputs
def test_an_ett_preset_on_data_of_another_frequency_is_refused():
    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=14400, freq="D"), "y": 1.0})
    with pytest.raises(DataValidationError, match="'ett-hourly' counts rows of 'h' data, but the data are at 'D'"):
        WindowDataModule(frame, time_col="date", target_cols="y", lookback=4, horizon=2, split="ett-hourly")


def test_other_confusing_inputs_are_named():
    with pytest.raises(DataValidationError, match="no rows"):
        prepare_series(pd.DataFrame({"y": []}), target_cols="y")
    with pytest.raises(TimestampOrderError, match="booleans"):
        prepare_series(pd.DataFrame({"t": [False, True], "y": 1.0}), target_cols="y", time_col="t")
    with pytest.raises(DataValidationError, match="both the time and the id column"):
        prepare_series(pd.DataFrame({"t": [1, 2], "y": 1.0}), target_cols="y", time_col="t", id_col="t")
