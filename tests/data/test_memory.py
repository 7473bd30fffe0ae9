"""Windows are views: a dataset holds the series once, whatever the look-back or number of windows."""

import pytest

from tsbridge.data import WindowDataModule


def storages(dataset) -> dict[int, int]:
    return {v.untyped_storage().data_ptr(): v.untyped_storage().nbytes() for v in dataset.values}


@pytest.mark.parametrize("scaler", [None, "standard"])
def test_dataset_memory_does_not_grow_with_lookback(markers, scaler):
    frame = markers.frame([20_000], n_channels=4)
    data_bytes = 20_000 * 4 * 4  # rows x channels x float32
    sizes = {}
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
        assert dataset.index.dtype.is_floating_point is False and dataset.index.shape[1] == 2
        sizes[lookback] = sum(held.values())
    assert sizes[8] == sizes[2048]
