"""Edge padding (``min_lookback``): windows that start before a series' first row.

Marker data (value = series * STEP + row + channel / 4) make every row a window reads visible: a padded row reads
as row 0, and a target row outside its split shows up as its row number.
"""

import numpy as np
import pytest
import torch

from tsbridge.data import (DataValidationError, SeriesTooShortError, StridedWindows, WindowDataModule, WindowDataset,
                           split_ranges)

LOOKBACK, HORIZON, MIN_LOOKBACK = 8, 2, 3
SPLIT = (0.6, 0.2, 0.2)


def module(markers, lengths, min_lookback=MIN_LOOKBACK, split=SPLIT, lookback=LOOKBACK, **options):
    """A data module over a marker panel: target ``c0``, past feature ``c1``, known-future feature ``c2``."""
    dm = WindowDataModule(markers.frame(lengths, n_channels=3), target_cols="c0", feature_cols=["c1"],
                          future_features=["c2"], time_col="date", id_col="series_id", lookback=lookback,
                          horizon=HORIZON, min_lookback=min_lookback, split=split, **{"scaler": None, **options})
    dm.setup()
    return dm


def marked(markers, series, rows, n_channels=3):
    """The marker values of ``rows`` (any shape) of ``series``, every channel: ``rows.shape + (n_channels,)``."""
    rows = np.asarray(rows)[..., None]
    return torch.tensor(series * markers.STEP + rows + np.arange(n_channels) / 4, dtype=torch.float32)


def target_rows(markers, batch):
    """The rows of each window's targets, decoded from the markers: int (B, H)."""
    rows = markers.rows(batch["y"][..., 0].double(), batch["series"][:, None].double(), 0)
    return rows.round().long()


def test_a_padded_window_is_the_edge_padded_series_and_its_targets_are_real_rows(markers):
    dm = module(markers, [12, 40])  # s0's 7 training rows are fewer than lookback + horizon = 10
    dataset = dm.train_dataset
    pairs = dataset.index.pairs()
    assert int(pairs[:, 1].min()) == MIN_LOOKBACK - LOOKBACK  # the first window reads min_lookback real rows
    for item, (series, start) in enumerate(pairs.tolist()):
        window = dataset[item]
        origin = start + LOOKBACK - 1
        padded_rows = np.maximum(np.arange(start, origin + 1), 0)  # rows before 0 read row 0
        forecast_rows = np.arange(origin + 1, origin + 1 + HORIZON)
        assert torch.equal(window["x"], marked(markers, series, padded_rows)), (series, start)
        assert torch.equal(window["y"], marked(markers, series, forecast_rows)[:, :1])
        assert torch.equal(window["x_future"], marked(markers, series, forecast_rows)[:, 2:])
        assert window["origin"] == origin
    padded = [item for item, (_, start) in enumerate(pairs.tolist()) if start < 0]
    assert len(padded) >= 4 and len({pairs[item, 0].item() for item in padded}) == 2  # both series are padded
    one_series = [item for item in range(len(dataset)) if pairs[item, 0] == 0]
    mixed = [padded[0], len(dataset) - 1, padded[-1], 0]  # two series, padded and unpadded windows
    for items in (one_series, mixed, list(range(len(dataset)))):
        batch = dataset.__getitems__(items)
        for key in ("x", "y", "x_future", "origin", "series"):
            expected = torch.stack([torch.as_tensor(dataset[item][key]) for item in items])
            assert torch.equal(batch[key], expected), (key, items)


@pytest.mark.parametrize("min_lookback", [1, 2, 4])
def test_no_window_reads_a_target_outside_its_split(markers, min_lookback):
    lengths = [11, 12, 17, 40]
    dm = module(markers, lengths, min_lookback=min_lookback)
    assert dm.row_ranges == [split_ranges(n, SPLIT, LOOKBACK, min_lookback=min_lookback) for n in lengths]
    # Per series, the rows of train, validation and test: [0, b1), [b1, b2), [b2, n).
    borders = torch.tensor([[0, int(n * SPLIT[0]), n - int(n * SPLIT[2]), n] for n in lengths])
    for part_index, part in enumerate(("train", "val", "test")):
        dataset = getattr(dm, f"{part}_dataset")
        batch = dataset.__getitems__(list(range(len(dataset))))
        rows, series = target_rows(markers, batch), batch["series"]
        begin, end = borders[series, part_index], borders[series, part_index + 1]
        assert (rows >= begin[:, None]).all() and (rows < end[:, None]).all(), part
        assert (batch["origin"][:, None] < rows).all()  # the look-back ends before every target row
        assert (batch["origin"] >= min_lookback - 1).all()  # and reads at least min_lookback real rows
        if part != "train":  # the first target row is the split's border, as without padding
            firsts = {s: int(rows[series == s].min()) for s in series.unique().tolist()}
            assert firsts == {s: int(borders[s, part_index]) for s in firsts}


def test_window_counts(markers):
    # 20 rows, borders 10 / 15 / 20, lookback 8, horizon 2, min_lookback 3 (pad 5): train reads rows [-5, 10),
    # 15 rows, so 15 - 10 + 1 = 6 windows (10 - 3 - 2 + 1); validation [2, 15) and test [7, 20) are unchanged.
    dm = module(markers, [20], split=(0.5, 0.25, 0.25))
    assert [len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)] == [6, 4, 4]
    unpadded = module(markers, [20], min_lookback=None, split=(0.5, 0.25, 0.25))
    assert [len(unpadded.train_dataset), len(unpadded.val_dataset), len(unpadded.test_dataset)] == [1, 4, 4]
    # 10 rows, borders 6 / 8 / 10, min_lookback 2 (pad 6): train [-6, 6) holds 3 windows, validation begins at
    # -2 (border 6 - lookback), one window whose targets are rows 6 and 7; test [0, 10) one window.
    short = module(markers, [10], min_lookback=2)
    assert [len(short.train_dataset), len(short.val_dataset), len(short.test_dataset)] == [3, 1, 1]
    # Trained through validation, with no test part: a series of n rows holds n - min_lookback - horizon + 1.
    for n in (12, 20, 33):
        through = module(markers, [n], split=(0.75, 0.25, 0.0))
        through.train_through_validation()
        assert len(through.train_dataset) == n - MIN_LOOKBACK - HORIZON + 1
    strided = module(markers, [20], split=(0.5, 0.25, 0.25), stride=4)
    assert strided.train_dataset.index.pairs()[:, 1].tolist() == [-5, -1]  # every 4th of the 6 starts -5 .. 0


def test_without_padding_the_windows_are_todays(markers):
    lengths = [25, 40]
    default = module(markers, lengths, min_lookback=None)
    for n, ranges in zip(lengths, default.row_ranges):  # the protocol without padding: clipped at row 0
        b1, b2 = int(n * SPLIT[0]), n - int(n * SPLIT[2])
        assert ranges == {"train": (0, b1), "val": (max(0, b1 - LOOKBACK), b2), "test": (max(0, b2 - LOOKBACK), n)}
    full = module(markers, lengths, min_lookback=LOOKBACK)  # nothing to pad: the same windows
    padded = module(markers, lengths)
    for part in ("train", "val", "test"):
        expected = getattr(default, f"{part}_dataset")
        pairs = expected.index.pairs()
        assert torch.equal(getattr(full, f"{part}_dataset").index.pairs(), pairs)
        assert (pairs[:, 1] >= 0).all()
        # The padded module holds today's windows and more before them, each one read identically.
        dataset = getattr(padded, f"{part}_dataset")
        padded_pairs = dataset.index.pairs().tolist()
        items = [padded_pairs.index(pair) for pair in pairs.tolist()]
        ours, today = dataset.__getitems__(items), expected.__getitems__(list(range(len(expected))))
        assert all(torch.equal(ours[key], today[key]) for key in today), part
    assert default.hparams["min_lookback"] is None and default.min_lookback is None


def test_a_series_shorter_than_one_window_needs_min_lookback_plus_horizon_rows(markers):
    frame = markers.frame([9, 40], n_channels=1)
    options = {"target_cols": "c0", "time_col": "date", "id_col": "series_id", "lookback": LOOKBACK,
               "horizon": HORIZON, "split": SPLIT}
    with pytest.raises(SeriesTooShortError, match=r"fewer rows than lookback \+ horizon = 10"):
        WindowDataModule(frame, **options)
    assert WindowDataModule(frame, min_lookback=3, **options).series_ids == ["s0", "s1"]
    too_short = r"fewer rows than min_lookback \+ horizon = 10.*a smaller min_lookback"
    with pytest.raises(SeriesTooShortError, match=too_short):
        WindowDataModule(frame, min_lookback=8, **options)
    with pytest.warns(UserWarning, match=r"dropping 1 of 2 series have fewer rows than min_lookback \+ horizon = 10"):
        assert WindowDataModule(frame, min_lookback=8, drop_short=True, **options).series_ids == ["s1"]
    with pytest.raises(SeriesTooShortError, match="use a min_lookback of at most 7"):
        WindowDataModule(markers.frame([9], n_channels=1).drop(columns="series_id"), min_lookback=8,
                         **{**options, "id_col": None})


def test_the_scaler_is_fitted_on_real_training_rows_only(markers):
    lengths = [12, 40]
    means = module(markers, lengths, scaler="standard").scaler.mean
    for series, n in enumerate(lengths):
        rows = np.arange(int(n * SPLIT[0]))  # [0, end of train): no padded copy of row 0 weighs in
        assert means[series, ..., 0].item() == pytest.approx(series * markers.STEP + rows.mean())


@pytest.mark.parametrize("bad", [0, -1, LOOKBACK + 1, "3", 2.5, True])
def test_bad_min_lookbacks_are_refused_by_name(markers, bad):
    with pytest.raises(DataValidationError, match="min_lookback") as error:
        module(markers, [40], min_lookback=bad)
    assert isinstance(error.value, ValueError)


def test_strided_windows_count_from_negative_begins():
    windows = StridedWindows.from_ranges([(-5, 6), (-3, 5), (-2, 20)], LOOKBACK, HORIZON, stride=3)
    # Spans of 11, 8 and 22 rows, windows of 10: start -5; none; starts -2, 1, 4, 7, 10 (the last reads rows 10..19).
    assert windows.counts.tolist() == [1, 0, 5]
    assert windows.pairs().tolist() == [[0, -5], [2, -2], [2, 1], [2, 4], [2, 7], [2, 10]]


def test_a_window_never_starts_at_or_before_minus_lookback(markers):
    values = [torch.arange(12, dtype=torch.float32)[:, None]]
    dataset = WindowDataset(values, torch.tensor([[0, 1 - LOOKBACK]]), lookback=LOOKBACK, horizon=HORIZON,
                            n_targets=1)
    assert dataset[0]["origin"] == 0 and torch.equal(dataset[0]["y"][:, 0], torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="origin -1 is before its series' first row"):
        WindowDataset(values, torch.tensor([[0, 0], [0, -LOOKBACK]]), lookback=LOOKBACK, horizon=HORIZON,
                      n_targets=1)
