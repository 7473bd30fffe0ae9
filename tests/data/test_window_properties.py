"""Property tests on random shapes: windows stay inside one series and one split, y follows x, counts match."""

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tsbridge.data import EmptySplitError, StridedWindows, WindowDataModule


def expected_borders(n_rows: int, ratios: tuple[float, float, float]) -> tuple[int, int, int]:
    n_train, n_test = int(n_rows * ratios[0]), int(n_rows * ratios[2])
    return n_train, n_rows - n_test, n_rows


def count(begin: int, end: int, window: int, stride: int) -> int:
    return max(0, (end - begin - window) // stride + 1) if end - begin >= window else 0


@settings(max_examples=60, deadline=None)
@given(
    ranges=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 60)), max_size=4),
    window=st.integers(1, 10),
    stride=st.integers(1, 4),
)
def test_strided_windows_locate_every_start_one_by_one(ranges, window, stride):
    """The compact index finds the same (series, start) as the materialised pairs, empty series included."""
    row_ranges = [(begin, begin + span) for begin, span in ranges]
    windows = StridedWindows.from_ranges(row_ranges, window - 1, 1, stride)
    pairs = windows.pairs()
    assert len(windows) == len(pairs) == sum(count(b, e, window, stride) for b, e in row_ranges)
    assert [windows.locate(i) for i in range(len(windows))] == [tuple(pair) for pair in pairs.tolist()]
    for series, start in pairs.tolist():
        begin, end = row_ranges[series]
        assert begin <= start and start + window <= end and (start - begin) % stride == 0
    if len(windows):
        assert windows.locate(-1) == tuple(pairs[-1].tolist())
    with pytest.raises(IndexError):
        windows.locate(len(windows))


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(2, 150), min_size=1, max_size=3),
    lookback=st.integers(1, 12),
    horizon=st.integers(1, 6),
    stride=st.integers(1, 4),
    train=st.floats(0.3, 0.8),
    val_share=st.floats(0.1, 0.9),
)
def test_windows_lie_in_one_series_and_split(markers, lengths, lookback, horizon, stride, train, val_share):
    val = (1 - train) * val_share
    ratios = (train, val, 1 - train - val)
    lengths = [max(n, lookback + horizon) for n in lengths]
    window = lookback + horizon
    expected = {part: 0 for part in ("train", "val", "test")}
    for n in lengths:
        b1, b2, b3 = expected_borders(n, ratios)
        expected["train"] += count(0, b1, window, stride)
        expected["val"] += count(max(0, b1 - lookback), b2, window, 1)
        expected["test"] += count(max(0, b2 - lookback), b3, window, 1)
    frame = markers.frame(lengths, n_channels=2)
    options = dict(time_col="date", id_col="series_id", target_cols="c1", features="MS")
    options.update(lookback=lookback, horizon=horizon, split=ratios, stride=stride, scaler=None)  # marker values
    event("empty split" if min(expected.values()) == 0 else "windows in every split")
    if min(expected.values()) == 0:
        with pytest.raises(EmptySplitError):
            WindowDataModule(frame, **options)
        return
    dm = WindowDataModule(frame, **options)
    dm.setup()
    for part, dataset in zip(expected, (dm.train_dataset, dm.val_dataset, dm.test_dataset)):
        assert len(dataset) == expected[part]
        for item in dataset:
            series, origin = item["series"], item["origin"]
            x, y = item["x"].numpy(), item["y"].numpy()
            assert x.shape == (lookback, 2) and y.shape == (horizon, 1)
            b1, b2, b3 = expected_borders(lengths[series], ratios)
            low, high = {"train": (0, b1), "val": (b1, b2), "test": (b2, b3)}[part]
            rows_x = markers.rows(x[:, 0], series, channel=1)  # target channel c1 comes first in x
            rows_y = markers.rows(y[:, 0], series, channel=1)
            np.testing.assert_array_equal(rows_x, np.arange(origin - lookback + 1, origin + 1))
            np.testing.assert_array_equal(rows_y, np.arange(origin + 1, origin + 1 + horizon))  # the next H rows
            np.testing.assert_array_equal(markers.rows(x[:, 1], series, channel=0), rows_x)
            assert low <= origin + 1 and origin + horizon < high  # targets never leave their split
            assert part != "train" or (origin + 1 - lookback) % stride == 0


def test_ett_hourly_borders_on_marker_data(markers):
    dm = WindowDataModule(
        markers.frame([14_400 + 50], n_channels=1), time_col="date", id_col="series_id", target_cols="c0",
        lookback=24, horizon=12, split="ett-hourly", stride=5,
    )
    dm.setup()
    train_origins = dm.train_dataset.index.pairs()[:, 1] + 23
    assert int(train_origins.max()) + 12 < 8640
    val, test = dm.val_dataset, dm.test_dataset
    assert int(val[0]["origin"]) == 8640 - 1 and int(val[len(val) - 1]["origin"]) == 11520 - 12 - 1
    assert int(test[0]["origin"]) == 11520 - 1 and int(test[len(test) - 1]["origin"]) == 14400 - 12 - 1
    assert len(dm.val_dataset) == len(dm.test_dataset) == 2880 - 12 + 1
    assert len(dm.train_dataset) == (8640 - 36) // 5 + 1  # stride applies to training windows only


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(12, 60), min_size=1, max_size=4),
    lookback=st.integers(1, 6),
    horizon=st.integers(1, 5),
    stride=st.integers(1, 3),
    n_items=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_batched_fetch_equals_default_collated_items(lengths, lookback, horizon, stride, n_items, seed):
    """__getitems__ (the loaders' fetch) gives exactly what per-item __getitem__ + default_collate gives."""
    import torch
    from torch.utils.data import default_collate

    from tsbridge.data import WindowDataset

    generator = torch.Generator().manual_seed(seed)
    values = [torch.randn(n, 3, generator=generator) for n in lengths]
    loc, scale = torch.randn(len(lengths), 1, 2, generator=generator), torch.rand(len(lengths), 1, 2) + 0.5
    strided = StridedWindows.from_ranges([(0, n) for n in lengths], lookback, horizon, stride)
    datasets = [
        WindowDataset(values, strided, lookback=lookback, horizon=horizon, n_targets=2, loc=loc, scale=scale),
        WindowDataset(values, strided.pairs(), lookback=lookback, horizon=horizon, n_targets=2),
        WindowDataset(values, strided, lookback=lookback, horizon=horizon, n_targets=2, n_future=1, with_target=False),
    ]
    for dataset in datasets:
        items = torch.randint(-len(dataset), len(dataset), (n_items,), generator=generator).tolist()
        batch = dataset.__getitems__(items)
        expected = default_collate([dataset[i] for i in items])
        assert batch.keys() == expected.keys()
        for key, value in expected.items():
            assert batch[key].dtype == value.dtype and torch.equal(batch[key], value), key
            assert batch[key].is_contiguous()
    with pytest.raises(IndexError):
        datasets[0].__getitems__([0, len(datasets[0])])


def test_a_default_collated_loader_says_which_collate_fn_to_use():
    import torch
    from torch.utils.data import DataLoader

    from tsbridge.data import WindowDataset, collate_windows

    dataset = WindowDataset([torch.randn(30, 2)], StridedWindows([0], [20]), lookback=5, horizon=5, n_targets=1)
    with pytest.raises(TypeError, match="collate_fn=tsbridge.data.collate_windows"):
        next(iter(DataLoader(dataset, batch_size=4)))
    batch = next(iter(DataLoader(dataset, batch_size=4, collate_fn=collate_windows)))
    assert type(batch) is dict and batch["x"].shape == (4, 5, 2) and batch["y"].shape == (4, 5, 1)
