"""The real ETT-small files give the window counts of the standard protocol (skipped where the files are absent)."""

import numpy as np
import pytest

from tsbridge.data import WindowDataModule, load_dataset

ETT_COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def ett_module(frame, split, features="MS", horizon=96):
    return WindowDataModule(
        frame, time_col="date", target_cols="OT", features=features, lookback=96, horizon=horizon, split=split,
        scaler="standard", batch_size=64, eval_batch_size=None,
    )


def test_etth1_standard_protocol(ett_dir):
    frame = load_dataset("etth1", path=ett_dir / "ETTh1.csv")
    assert list(frame.columns) == ["date", *ETT_COLUMNS] and len(frame) == 17_420
    dm = ett_module(frame, "ett-hourly")
    dm.setup()
    assert dm.freq == "h" and dm.n_inputs == 7 and dm.n_targets == 1 and dm.input_cols[0] == "OT"
    assert (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)) == (8449, 2785, 2785)
    train = frame[dm.input_cols].to_numpy()[:8640]
    np.testing.assert_allclose(dm.scaler.mean[0].numpy(), train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(dm.scaler.std[0].numpy(), train.std(axis=0), rtol=1e-5)
    batch = next(iter(dm.test_dataloader()))
    assert batch["x"].shape == (64, 96, 7) and batch["y"].shape == (64, 96, 1)
    assert batch["origin"][0] == 11_520 - 1


def test_ettm1_gzip_15min(ett_dir):
    if not (ett_dir / "ETTm1.csv.gz").is_file():
        pytest.skip("ETTm1.csv.gz not present")
    frame = load_dataset("ettm1", path=ett_dir)  # the folder: ETTm1.csv.gz is found by name
    assert len(frame) == 69_680
    dm = ett_module(frame, "ett-15min", features="M", horizon=192)
    dm.setup()
    assert dm.freq == "15min" and dm.n_targets == dm.n_inputs == 7 and dm.target_cols[0] == "OT"
    expected = (34_560 - 96 - 192 + 1, 11_520 - 192 + 1, 11_520 - 192 + 1)
    assert (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)) == expected
