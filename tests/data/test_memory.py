"""Windows are views and the data is held once: a data module's memory is the series, whatever the look-back,
the number of windows or the scaling."""

import numpy as np
import pandas as pd
import pytest
import torch

from tsbridge.data import StridedWindows, WindowDataModule

SMALL = 4096  # bytes allowed beyond the data: scaler statistics, per-series loc/scale


def held_bytes(obj, seen=None, storages=None) -> dict[int, int]:
    """Bytes of every tensor storage, array and index reachable from ``obj`` through tsbridge objects and
    containers, keyed by address (a storage shared by many tensors counts once)."""
    seen = set() if seen is None else seen
    storages = {} if storages is None else storages
    if id(obj) in seen:
        return storages
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        storages[obj.untyped_storage().data_ptr()] = obj.untyped_storage().nbytes()
    elif isinstance(obj, np.ndarray):
        storages[obj.__array_interface__["data"][0]] = obj.nbytes
    elif isinstance(obj, pd.Index):
        storages[id(obj)] = obj.memory_usage()
    elif isinstance(obj, dict):
        for value in obj.values():
            held_bytes(value, seen, storages)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            held_bytes(value, seen, storages)
    elif type(obj).__module__.startswith("tsbridge"):
        for value in vars(obj).values():
            held_bytes(value, seen, storages)
    return storages


def storages(dataset) -> dict[int, int]:
    return {v.untyped_storage().data_ptr(): v.untyped_storage().nbytes() for v in dataset.values}


@pytest.mark.parametrize("scaler", [None, "standard"])
def test_dataset_memory_does_not_grow_with_lookback(markers, scaler):
    frame = markers.frame([20_000], n_channels=4)
    data_bytes = 20_000 * 4 * 4  # rows x channels x float32
    for lookback in (8, 2048):
        dm = WindowDataModule(
            frame, time_col="date", target_cols="c0", features="MS", lookback=lookback, horizon=16,
            split=(0.8, 0.1, 0.1), scaler=scaler,
        )
        dm.setup()
        dataset = dm.train_dataset
        held = storages(dataset)
        assert sum(held.values()) == data_bytes
        # all three splits share the one scaled tensor
        assert storages(dm.val_dataset) == storages(dm.test_dataset) == held
        for item in (dataset[0], dataset[len(dataset) // 2], dataset[len(dataset) - 1]):
            for key in ("x", "y"):
                assert item[key].untyped_storage().data_ptr() in held  # a view, not a copy
        # nothing per window: the index is one (first start, count) per series, not ~18k (series, start) pairs
        assert isinstance(dataset.index, StridedWindows) and len(dataset.index.counts) == 1
        # the module holds the data once (scaled in place), whatever the look-back, and its regular time axis as a
        # first timestamp and a length
        assert data_bytes <= sum(held_bytes(dm).values()) <= data_bytes + SMALL


def test_data_module_holds_under_one_and_a_half_times_the_raw_values():
    """The issue-6 target (< 1.5x raw float32 for 10M rows x 8 channels, L=512) at a size CI can afford."""
    rows, channels = 200_000, 8
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(rows, channels)).astype(np.float32),
                         columns=[f"c{i}" for i in range(channels)])
    dm = WindowDataModule(frame, target_cols="c0", features="MS", lookback=512, horizon=96,
                          split=(0.7, 0.1, 0.2), scaler="standard")
    dm.setup()
    raw = rows * channels * 4
    assert sum(held_bytes(dm).values()) < 1.5 * raw
    # originals on demand, float64, up to the float32 rounding of the scaled values
    expected = torch.tensor(frame.to_numpy(), dtype=torch.float64)
    torch.testing.assert_close(dm.series.values[0], expected, rtol=1e-6, atol=1e-6)


def test_a_panel_data_module_holds_its_values_once_and_little_per_series():
    """Issue 20's scale target (< 1.5x raw float32) at a size CI can afford: 300 short series, where anything held
    per row besides the values (a DatetimeIndex per series is 8 bytes a row, 2x raw) or a lot per series shows."""
    lengths = np.random.default_rng(0).integers(150, 250, 300).tolist()
    frame = pd.DataFrame({
        "series_id": np.repeat(np.arange(len(lengths)), lengths),
        "date": np.concatenate([pd.date_range("2021-01-01", periods=n, freq="h") for n in lengths]),
        "y": np.random.default_rng(1).normal(size=sum(lengths)).astype(np.float32),
    })
    dm = WindowDataModule(frame, time_col="date", id_col="series_id", target_cols="y", lookback=24, horizon=12)
    dm.setup()
    raw = sum(lengths) * 4
    assert sum(held_bytes(dm).values()) < 1.5 * raw
    assert dm.series.timestamps[7].equals(pd.DatetimeIndex(frame.loc[frame["series_id"] == 7, "date"]))
