"""``max_windows_per_series``: each series trains on its latest windows only (N-BEATS' history limit)."""

import pytest

from tsbridge.data import DataValidationError, StridedWindows, WindowDataModule

LOOKBACK, HORIZON = 8, 2
SPLIT = (0.6, 0.2, 0.2)
LENGTHS = [20, 40, 75]  # training parts of 12, 24 and 45 rows: 3, 15 and 36 windows at stride 1


def module(markers, **options) -> WindowDataModule:
    dm = WindowDataModule(markers.frame(LENGTHS), target_cols="c0", time_col="date", id_col="series_id",
                          lookback=LOOKBACK, horizon=HORIZON, split=SPLIT, scaler=None, **options)
    dm.setup()
    return dm


def windows_by_series(windows: StridedWindows) -> dict[int, list[int]]:
    """The window starts of each series, in order."""
    starts: dict[int, list[int]] = {}
    for series, start in windows.pairs().tolist():
        starts.setdefault(series, []).append(start)
    return starts


@pytest.mark.parametrize("options", [{"stride": 1}, {"stride": 3}, {"min_lookback": 3}])
@pytest.mark.parametrize("count", [1, 10])
def test_training_keeps_each_series_latest_windows_and_nothing_else_changes(markers, options, count):
    every, latest = module(markers, **options), module(markers, max_windows_per_series=count, **options)
    full, kept = windows_by_series(every.train_dataset.index), windows_by_series(latest.train_dataset.index)
    assert kept == {series: starts[-count:] for series, starts in full.items()}
    assert any(len(starts) > count for starts in full.values())  # the option removed windows
    for part in ("val_dataset", "test_dataset"):
        assert getattr(latest, part).index.pairs().tolist() == getattr(every, part).index.pairs().tolist()


def test_a_refit_keeps_the_latest_windows_through_the_validation_rows(markers):
    every, latest = module(markers), module(markers, max_windows_per_series=4)
    every.train_through_validation()
    latest.train_through_validation()
    full, kept = windows_by_series(every.train_dataset.index), windows_by_series(latest.train_dataset.index)
    assert kept == {series: starts[-4:] for series, starts in full.items()}
    validation_ends = [r["val"][1] for r in latest.row_ranges]
    for series, starts in kept.items():  # the last window's forecast ends where the validation rows do
        assert starts[-1] + LOOKBACK + HORIZON == validation_ends[series]


@pytest.mark.parametrize("count", [0, -2, 1.5])
def test_a_count_below_one_is_refused(markers, count):
    with pytest.raises(DataValidationError, match="max_windows_per_series"):
        module(markers, max_windows_per_series=count)


def test_latest_on_strided_windows():
    windows = StridedWindows([0, -2, 5], [5, 2, 0], stride=2)
    latest = windows.latest(3)
    assert latest.counts.tolist() == [3, 2, 0]
    assert latest.pairs().tolist() == [[0, 4], [0, 6], [0, 8], [1, -2], [1, 0]]
