"""The scaler sees training rows only; statistics, inverse transform and saving."""

import io

import numpy as np
import pytest
import torch

from tsbridge.data import DataValidationError, StandardScaler, WindowDataModule

SPLIT = (0.5, 0.25, 0.25)


@pytest.fixture
def leaky_frame(markers):
    """Two series whose rows after the training border are huge, so any leak shows in the statistics."""
    frame = markers.frame([40, 80], n_channels=2)
    frame["row"] = frame.groupby("series_id").cumcount()
    n_rows = frame.groupby("series_id")["row"].transform("size")
    frame.loc[frame["row"] >= n_rows // 2, ["c0", "c1"]] = 1e6
    return frame.drop(columns="row")


def train_rows(frame, series_id):
    part = frame[frame["series_id"] == series_id]
    return part[["c1", "c0"]].to_numpy()[: len(part) // 2]


@pytest.mark.parametrize("per_series", [False, True])
def test_statistics_are_those_of_training_rows(leaky_frame, per_series):
    dm = WindowDataModule(
        leaky_frame, time_col="date", id_col="series_id", target_cols="c1", features="MS",
        lookback=3, horizon=2, split=SPLIT, scaler="standard", scale_per_series=per_series,
    )
    dm.setup()
    groups = [train_rows(leaky_frame, s) for s in ("s0", "s1")]
    groups = groups if per_series else [np.concatenate(groups)]
    expected_mean = np.stack([g.mean(axis=0) for g in groups])
    expected_std = np.stack([g.std(axis=0) for g in groups])  # population std, as the ETT protocol
    np.testing.assert_allclose(dm.scaler.mean.numpy(), expected_mean, rtol=1e-6)
    np.testing.assert_allclose(dm.scaler.std.numpy(), expected_std, rtol=1e-6)
    assert dm.scaler.mean.max() < 1e5  # the 1e6 rows never reached the statistics
    batch = next(iter(dm.test_dataloader()))
    series = batch["series"]
    original = batch["y"] * batch["scale"] + batch["loc"]
    assert torch.allclose(original, torch.full_like(original, 1e6))  # loc/scale undo the scaling
    restored = dm.scaler.inverse_transform(batch["y"][0], dm.series_ids[series[0]])
    assert torch.allclose(restored, original[0])


def test_no_scaler_keeps_values(markers):
    dm = WindowDataModule(markers.frame([30]), time_col="date", target_cols="c0", lookback=3, horizon=2, split=SPLIT,
                          scaler=None)
    dm.setup()
    item = dm.train_dataset[0]
    assert dm.scaler is None and item["loc"].item() == 0 and item["scale"].item() == 1
    assert item["x"][:, 0].tolist() == [0, 1, 2]


def test_constant_channel_and_round_trip():
    values = [torch.tensor([[1.0, 5.0], [3.0, 5.0], [100.0, 5.0]])]
    scaler = StandardScaler().fit(values, train_rows=[2], series_ids=["a"])
    assert scaler.mean.tolist() == [[2.0, 5.0]] and scaler.std.tolist() == [[1.0, 1.0]]
    scaled = scaler.transform(values[0])
    assert scaled.dtype == torch.float32  # scaled units are what nets read; original units are float64
    assert torch.allclose(scaler.inverse_transform(scaled), values[0].double())
    array = np.array([[4.0]], dtype=np.float32)  # numpy in, numpy out; fewer channels use the leading ones
    assert scaler.inverse_transform(array).tolist() == [[6.0]]
    state = scaler.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    restored = StandardScaler.from_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(restored.mean, scaler.mean) and restored.series_ids == ["a"]


def test_per_series_scaler_rejects_unknown_series():
    scaler = StandardScaler(per_series=True).fit([torch.ones(4, 1), torch.zeros(4, 1)], [2, 2], ["a", "b"])
    assert scaler.group("b") == 1
    with pytest.raises(DataValidationError, match="'c'"):
        scaler.transform(torch.ones(3, 1), "c")
    with pytest.raises(RuntimeError, match="not fitted"):
        StandardScaler().transform(torch.ones(1, 1))


def test_target_statistics_follow_the_ids_asked_for_in_their_order():
    values = [torch.tensor([[float(k)], [k + 2.0]]) for k in range(5)]
    scaler = StandardScaler(per_series=True).fit(values, [2] * 5, ["a", "b", "c", "d", "e"])
    loc, scale = scaler.target_stats(["d", "a", "d"], n_targets=1)
    assert loc.shape == scale.shape == (3, 1, 1)
    assert loc.flatten().tolist() == [4.0, 1.0, 4.0] and scale.flatten().tolist() == [1.0, 1.0, 1.0]
    restored = StandardScaler.from_state_dict(scaler.state_dict())
    assert restored.group("e") == 4
    with pytest.raises(DataValidationError, match=r"\['a'\]"):
        restored.group(["a"])  # an unhashable id is unknown, not a TypeError
