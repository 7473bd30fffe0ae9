"""WindowDataModule: feature settings, loaders, panels, known-future inputs."""

import pandas as pd
import pytest
import torch

from tsbridge.data import WindowDataModule, load_dataset, prepare_series
from tsbridge.data.datamodule import EpochShuffleSampler

SPLIT = (0.6, 0.2, 0.2)
DRIVERS = ["temperature", "load", "wind", "solar"]


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic", n_rows=300, seed=2)


@pytest.mark.parametrize(
    "features, feature_cols, inputs, targets",
    [
        ("S", None, ["target"], ["target"]),
        (None, None, ["target"], ["target"]),
        (None, ["wind", "load"], ["target", "wind", "load"], ["target"]),  # covariates keep their order
        ("MS", None, ["target", *DRIVERS], ["target"]),
        ("MS", "solar", ["target", "solar"], ["target"]),
        ("M", None, ["target", *DRIVERS], ["target", *DRIVERS]),
    ],
)
def test_feature_settings(synthetic, features, feature_cols, inputs, targets):
    dm = WindowDataModule(
        synthetic, time_col="date", target_cols="target", feature_cols=feature_cols, features=features,
        lookback=8, horizon=4, split=SPLIT, scaler=None,
    )
    assert (dm.input_cols, dm.target_cols) == (inputs, targets)
    assert (dm.n_inputs, dm.n_targets, dm.freq, dm.series_ids) == (len(inputs), len(targets), "h", [0])
    dm.setup()
    item = dm.train_dataset[5]
    expected_x = torch.tensor(synthetic[inputs].to_numpy()[5:13], dtype=torch.float32)
    assert torch.equal(item["x"], expected_x)  # targets lead the input channels
    assert item["y"].shape == (4, len(targets))


def test_batches_and_loaders(synthetic):
    dm = WindowDataModule(
        "synthetic", time_col="date", target_cols="target", features="MS", lookback=24, horizon=12,
        split="ett-hourly", stride=4, batch_size=64, scaler="standard",
    )  # a dataset name as frame: the full default synthetic data
    assert dm.hparams["lookback"] == 24 and "frame" not in dm.hparams
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    shapes = {key: (tuple(value.shape), value.dtype) for key, value in batch.items()}
    assert shapes == {
        "x": ((64, 24, 5), torch.float32),
        "y": ((64, 12, 1), torch.float32),
        "series": ((64,), torch.int64),
        "origin": ((64,), torch.int64),
        "loc": ((64, 1, 1), torch.float64),  # float64: forecasts return to original units in float64
        "scale": ((64, 1, 1), torch.float64),
    }
    assert len(dm.train_dataset) == (8640 - 36) // 4 + 1  # stride for training only
    for loader, dataset in ((dm.val_dataloader(), dm.val_dataset), (dm.predict_dataloader(), dm.test_dataset)):
        origins = torch.cat([b["origin"] for b in loader])
        assert len(origins) == len(dataset) == 2880 - 12 + 1  # last partial batch kept
        assert torch.equal(origins, torch.sort(origins).values)  # not shuffled, every stride-1 window
    train_origins = torch.cat([b["origin"] for b in dm.train_dataloader()])
    assert not torch.equal(train_origins, torch.sort(train_origins).values)
    # each window once; origin = start + lookback - 1
    assert torch.equal(torch.sort(train_origins).values, dm.train_dataset.index.pairs()[:, 1] + 23)


def test_worker_settings(synthetic):
    dm = WindowDataModule(
        synthetic, time_col="date", target_cols="target", lookback=8, horizon=4, split=SPLIT, num_workers=2
    )
    loader = dm.train_dataloader()  # sets up on demand; not iterated (no worker processes started)
    assert loader.num_workers == 2 and loader.persistent_workers and loader.drop_last is False


def test_panel_per_series_scaling(markers):
    frame = markers.frame([50, 80, 65], n_channels=2)
    dm = WindowDataModule(
        frame, time_col="date", id_col="series_id", target_cols="c0", features="MS", lookback=6, horizon=3,
        split=SPLIT, scaler="standard", scale_per_series=True, batch_size=500,
    )
    assert dm.series_ids == ["s0", "s1", "s2"] and dm.freq == "h"
    dm.setup()
    assert dm.scaler.mean.shape == (3, 2)
    batch = next(iter(dm.test_dataloader()))
    assert set(batch["series"].tolist()) == {0, 1, 2}
    original = batch["y"] * batch["scale"] + batch["loc"]
    rows = markers.rows(original[:, :, 0], batch["series"][:, None], channel=0)
    expected = batch["origin"][:, None] + 1 + torch.arange(3)
    assert torch.allclose(rows, expected.double(), atol=1e-3)


def test_time_index_instead_of_column(synthetic):
    dm = WindowDataModule(synthetic.set_index("date"), target_cols="target", lookback=8, horizon=4, split=SPLIT)
    assert dm.freq == "h"
    plain = WindowDataModule(synthetic.drop(columns="date"), target_cols="target", lookback=8, horizon=4, split=SPLIT)
    assert plain.freq is None and plain.series.future_index(0, 2).tolist() == [300, 301]


def test_future_indexes_follow_each_series_end_and_are_built_once_per_end():
    end = pd.Timestamp("2024-03-01 12:00", tz="Europe/Paris")
    frame = pd.concat([pd.DataFrame({"id": name, "t": pd.date_range(end=end + pd.Timedelta(hours=late), periods=5,
                                                                       freq="h"), "y": 1.0})
                       for name, late in (("a", 0), ("b", 2), ("c", 0))])
    series = prepare_series(frame, target_cols="y", time_col="t", id_col="id")
    a, b, c = series.future_indexes(3)
    assert a.tolist() == [end + pd.Timedelta(hours=k) for k in (1, 2, 3)]
    assert b.tolist() == [end + pd.Timedelta(hours=k) for k in (3, 4, 5)]
    assert c is a  # the same end: built once
    assert series.future_index(1, 3).equals(b) and str(b.tz) == "Europe/Paris"


def test_zero_test_ratio_means_no_test_part():
    """(0.8, 0.2, 0): validation runs to the end of each series and the test part is empty, not an error."""
    from tsbridge.data import WindowDataModule, make_synthetic

    dm = WindowDataModule(make_synthetic(n_rows=500), time_col="date", target_cols="target", lookback=24,
                          horizon=6, split=[0.8, 0.2, 0.0], scaler="standard", batch_size=8)
    dm.setup()
    assert dm.row_ranges[0] == {"train": (0, 400), "val": (376, 500), "test": (500, 500)}
    assert len(dm.test_dataset) == 0 and len(dm.val_dataset) == 500 - 376 - 24 - 6 + 1


def test_evaluation_loaders_use_eval_batch_size_and_training_keeps_batch_size():
    from tsbridge.data import WindowDataModule, make_synthetic

    def datamodule(**sizes):
        return WindowDataModule(make_synthetic(n_rows=500), time_col="date", target_cols="target", lookback=24,
                                horizon=6, split=[0.7, 0.1, 0.2], **sizes)

    dm = datamodule(batch_size=8, eval_batch_size=20)
    assert len(next(iter(dm.train_dataloader()))["x"]) == 8
    for loader in (dm.val_dataloader(), dm.test_dataloader(), dm.predict_dataloader()):
        assert len(next(iter(loader))["x"]) == 20
    assert len(next(iter(datamodule(batch_size=8, eval_batch_size=None).test_dataloader()))["x"]) == 8  # batch_size


def test_drop_last_drops_only_the_partial_training_batch():
    from tsbridge.data import DataValidationError, make_synthetic

    def datamodule(**options):
        return WindowDataModule(make_synthetic(n_rows=500), time_col="date", target_cols="target", lookback=24,
                                horizon=6, split=[0.7, 0.1, 0.2], **{"batch_size": 64, **options})

    kept, dropped = datamodule(), datamodule(drop_last=True)
    for dm in (kept, dropped):
        dm.setup()
    n_train = len(kept.train_dataset)  # 321: five full batches and 1 window
    assert n_train % 64 and [len(batch["x"]) for batch in kept.train_dataloader()][-1] == n_train % 64
    assert [len(batch["x"]) for batch in dropped.train_dataloader()] == [64] * (n_train // 64)
    for part in ("val", "test"):  # evaluation keeps every window (validation unless shuffle_val)
        loader = getattr(dropped, f"{part}_dataloader")()
        assert sum(len(batch["x"]) for batch in loader) == len(getattr(dropped, f"{part}_dataset"))
    few = datamodule(drop_last=True, batch_size=n_train + 1)
    few.setup()
    with pytest.raises(DataValidationError, match="leaves no training batch"):
        few.train_dataloader()


def test_shuffle_val_with_drop_last_scores_a_fresh_random_subset_of_whole_batches_each_epoch():
    """SegRNN's validation: shuffled, the partial batch dropped, so every epoch scores other random windows.
    Without ``shuffle_val`` (``drop_last`` or not) every epoch scores every window; ``shuffle_val`` alone reorders.
    The validation after fitting scores every window in every case."""
    import lightning as L

    from tsbridge.data import DataValidationError, make_synthetic
    from tsbridge.models import build_model
    from tsbridge.module import ForecastModule

    class ValOrigins(L.Callback):
        def __init__(self) -> None:
            self.epochs: list[list[int]] = []

        def on_validation_epoch_start(self, trainer, pl_module) -> None:
            self.epochs.append([])

        def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
            self.epochs[-1] += batch["origin"].tolist()

    def trainer(seen: ValOrigins) -> L.Trainer:
        return L.Trainer(max_epochs=3, limit_train_batches=1, num_sanity_val_steps=0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[seen])

    def validated(**options) -> tuple[list[list[int]], list[int], list[int]]:
        """The windows validated in each of 3 fit epochs, every validation window, and those scored after fit."""
        dm = WindowDataModule(make_synthetic(n_rows=300), time_col="date", target_cols="target", lookback=8,
                              horizon=4, split=SPLIT, batch_size=16, eval_batch_size=16, **options)
        seen = ValOrigins()
        fit = trainer(seen)
        module = ForecastModule(build_model("lstm", 1, 1, 8, 4, hidden_size=4))
        fit.fit(module, datamodule=dm)
        fit.validate(module, datamodule=dm, verbose=False)
        *epochs, after = seen.epochs
        return epochs, sorted(int(dm.val_dataset[i]["origin"]) for i in range(len(dm.val_dataset))), after

    for options in ({}, {"drop_last": True}, {"shuffle_val": True}):
        epochs, every, after = validated(**options)
        assert len(every) % 16 and [sorted(epoch) for epoch in epochs] == [every] * 3
        assert sorted(after) == every
    epochs, every, after = validated(shuffle_val=True, drop_last=True)
    whole = len(every) // 16 * 16
    assert len(epochs) == 3 and all(len(set(epoch)) == whole and set(epoch) < set(every) for epoch in epochs)
    assert len({tuple(sorted(epoch)) for epoch in epochs}) == 3  # a different subset every epoch
    assert after == every  # after fitting: every window, in order
    few = WindowDataModule(make_synthetic(n_rows=300), time_col="date", target_cols="target", lookback=8,
                           horizon=4, split=SPLIT, eval_batch_size=len(every) + 1, shuffle_val=True, drop_last=True)
    with pytest.raises(DataValidationError, match="eval_batch_size=.* leaves no validation batch"):
        trainer(ValOrigins()).fit(ForecastModule(build_model("lstm", 1, 1, 8, 4, hidden_size=4)), datamodule=few)


def test_known_future_channels_come_last_and_batches_carry_their_future_rows(synthetic):
    dm = WindowDataModule(synthetic, time_col="date", target_cols="target", feature_cols=["wind"],
                          future_features=["load"], calendar=["hour"], lookback=8, horizon=4, split=SPLIT,
                          scaler=None)
    assert dm.input_cols == ["target", "wind", "load", "hour_sin", "hour_cos"] and dm.n_future == 3
    batch = next(iter(dm.val_dataloader()))
    assert batch["x_future"].shape == (len(batch["x"]), 4, 3)
    rows = batch["origin"][:, None] + 1 + torch.arange(4)  # (B, H): the forecast rows of each window
    expected = torch.tensor(synthetic["load"].to_numpy(), dtype=torch.float32)[rows]
    torch.testing.assert_close(batch["x_future"][..., 0], expected)
    hours = torch.tensor(synthetic["date"].dt.hour.to_numpy())[rows]
    torch.testing.assert_close(batch["x_future"][..., 1], torch.sin(2 * torch.pi * hours / 24).float(), atol=1e-6,
                               rtol=0)


def test_the_training_order_is_the_int64_permutation_of_seed_plus_epoch_across_chunks():
    """The order is drawn as int32 and handed out in chunks: the same order as one int64 permutation, so runs
    shuffle as they did before."""
    sampler = EpochShuffleSampler(3 * EpochShuffleSampler.chunk + 5, seed=7)
    sampler.set_epoch(2)
    expected = torch.randperm(len(sampler), generator=torch.Generator().manual_seed(9)).tolist()
    assert list(sampler) == expected


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_a_panel_in_any_row_order_reads_each_series_own_rows_and_timestamps(markers, tz):
    """A panel's time axes are held as a first timestamp and a length: an interleaved frame reads the same values
    and timestamps (time zone and name included) as a sorted one."""
    frame = markers.frame([30, 45, 38], n_channels=2)
    frame["date"] = frame["date"].dt.tz_localize(tz)
    interleaved = frame.sample(frac=1, random_state=0).sort_values("date", kind="stable")
    options = {"time_col": "date", "id_col": "series_id", "target_cols": "c0", "features": "MS"}
    in_order, mixed = prepare_series(frame, **options), prepare_series(interleaved, **options)
    assert sorted(mixed.series_ids) == in_order.series_ids == ["s0", "s1", "s2"]
    for series_id, values, stamps in zip(mixed.series_ids, mixed.values, mixed.timestamps):
        series = in_order.series_ids.index(series_id)
        rows = markers.rows(values[:, 1], series, channel=1)
        assert torch.equal(rows, torch.arange(len(values), dtype=rows.dtype))
        expected = pd.DatetimeIndex(frame.loc[frame["series_id"] == series_id, "date"])
        assert stamps.equals(expected) and stamps.name == "date" and str(stamps.tz) == str(tz)
        assert torch.equal(values, in_order.values[series]) and stamps.equals(in_order.timestamps[series])


def test_dropping_a_short_series_keeps_the_others_timestamps(markers):
    frame = markers.frame([40, 5, 30], n_channels=1)
    with pytest.warns(UserWarning, match="dropping 1 of 3 series"):
        dm = WindowDataModule(frame, time_col="date", id_col="series_id", target_cols="c0", lookback=6, horizon=3,
                              split=SPLIT, drop_short=True)
    assert dm.series_ids == ["s0", "s2"] and len(dm.series.timestamps) == 2
    assert dm.series.timestamps[-1].equals(pd.DatetimeIndex(frame.loc[frame["series_id"] == "s2", "date"]))
