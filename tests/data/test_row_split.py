"""Row-count splits (``"rows:V"``, ``"rows:V:T"``): every series validates on its last ``V`` rows."""

import pytest

from tsbridge.data import WindowDataModule, split_ranges

LOOKBACK, HORIZON = 6, 3


def test_row_counts_give_each_series_the_same_validation_and_test_rows():
    assert split_ranges(20, "rows:4", LOOKBACK) == {"train": (0, 16), "val": (10, 20), "test": (20, 20)}
    assert split_ranges(20, "rows:4:3", LOOKBACK) == {"train": (0, 13), "val": (7, 17), "test": (11, 20)}
    assert split_ranges(9, "rows:3", LOOKBACK, min_lookback=2) == {"train": (-4, 6), "val": (0, 9), "test": (9, 9)}


@pytest.mark.parametrize("min_lookback", [None, 2])
def test_a_horizon_of_rows_validates_every_series_once_on_its_last_window(markers, min_lookback):
    lengths = [12, 30, 80]  # a share would give the first none and the last several
    dm = WindowDataModule(markers.frame(lengths), target_cols="c0", time_col="date", id_col="series_id",
                          lookback=LOOKBACK, horizon=HORIZON, min_lookback=min_lookback, split=f"rows:{HORIZON}",
                          scaler=None)
    dm.setup()
    origins = dm.val_dataset.origins().tolist()
    assert origins == [[series, n - HORIZON - 1] for series, n in enumerate(lengths)]
    for item in range(len(dm.val_dataset)):  # its targets are the series' last rows
        window = dm.val_dataset[item]
        series = int(window["series"])
        assert markers.rows(window["y"][:, 0].double(), series, 0).tolist() == list(
            range(lengths[series] - HORIZON, lengths[series]))
    assert dm.train_dataset.index.counts.tolist() == [n - HORIZON - LOOKBACK - HORIZON + 1 + (
        0 if min_lookback is None else LOOKBACK - min_lookback) for n in lengths]
