"""ForecastModule + BlendWeightMonitor on real (tiny) data with a real lightning.Trainer."""

from __future__ import annotations

import csv
import math

import lightning as L
import pytest
import torch

from tsbridge.callbacks import BlendWeightMonitor
from tsbridge.config import build_datamodule, build_module, compose_config
from tsbridge.models import build_model
from tsbridge.module import ForecastModule, NonFiniteLossError

TINY = [
    "data.frame.n_rows=400",
    "data.lookback=24",
    "data.horizon=6",
    "data.batch_size=16",
    "model.hidden_size=8",
]
BRIDGES = ["concat", "blend", "blend_unit", "blend_gated", "attention", "feedback"]
BASELINES = ["lstm", "bilstm", "dlinear", "naive", "seasonal_naive"]


def tiny(model: str, *extra: str):
    overrides = [f"model={model}", *TINY, *extra]
    if model in ("dlinear", "naive", "seasonal_naive"):
        overrides.remove("model.hidden_size=8")
    if model == "seasonal_naive":
        overrides.append("model.season_length=12")
    cfg = compose_config(overrides)
    L.seed_everything(0)
    datamodule = build_datamodule(cfg)
    return cfg, datamodule, build_module(cfg, datamodule)


def trainer(tmp_path, max_steps: int = 4, **kwargs) -> L.Trainer:
    options = dict(
        default_root_dir=tmp_path, max_steps=max_steps, accelerator="cpu", logger=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=2, limit_test_batches=2,
        enable_checkpointing=False,
    )
    options.update(kwargs)
    return L.Trainer(**options)


@pytest.mark.parametrize("model", BRIDGES + BASELINES)
def test_fit_test_checkpoint_roundtrip(model, tmp_path):
    """Every model trains a few steps, logs metrics, and a checkpoint restores bit-identical forecasts."""
    _, datamodule, module = tiny(model)
    fit = trainer(tmp_path)
    fit.fit(module, datamodule=datamodule)
    metrics = fit.validate(module, datamodule=datamodule, verbose=False)[0]
    for name in ("val/loss", "val/mse", "val/mae", "val/rmse", "val/mase", "val_original/mae", "val_original/smape"):
        assert math.isfinite(metrics[name]), name
    assert metrics["val/rmse"] == pytest.approx(math.sqrt(metrics["val/mse"]), rel=1e-4)

    path = tmp_path / "model.ckpt"
    fit.save_checkpoint(path)
    restored = ForecastModule.load_from_checkpoint(path, map_location="cpu")  # weights_only load
    batch = next(iter(datamodule.test_dataloader()))
    module.eval(), restored.eval()
    with torch.no_grad():
        assert torch.equal(module.predict_step(batch, 0)["forecast"], restored.predict_step(batch, 0)["forecast"])


def test_forecast_ignores_the_targets_of_its_window():
    """No look-ahead through the batch: the forecast depends on x alone, never on y."""
    _, datamodule, module = tiny("attention")
    datamodule.setup()
    batch = next(iter(datamodule.test_dataloader()))
    module.eval()
    with torch.no_grad():
        before = module.predict_step(batch, 0)["forecast"]
        after = module.predict_step({**batch, "y": batch["y"] + 100.0}, 0)["forecast"]
    assert torch.equal(before, after)


def test_original_units_are_inverse_scaled():
    _, datamodule, module = tiny("naive")
    datamodule.setup()
    batch = next(iter(datamodule.test_dataloader()))
    out = module.predict_step(batch, 0)
    expected = out["forecast_scaled"] * batch["scale"] + batch["loc"]
    assert torch.allclose(out["forecast"], expected)
    # Naive forecast in original units = the last observed original value of the target.
    last = batch["x"][:, -1:, : datamodule.n_targets] * batch["scale"] + batch["loc"]
    assert torch.allclose(out["forecast"], last.expand_as(out["forecast"]), atol=1e-5)


def test_blend_weight_is_logged_and_equals_the_module(tmp_path):
    """blend/past_weight goes to the logger every step, and the logged value is the module's a."""
    _, datamodule, module = tiny("blend")
    monitor = BlendWeightMonitor(dirpath=str(tmp_path / "monitor"))
    logger = L.pytorch.loggers.CSVLogger(tmp_path, name="csv", version="")
    fit = trainer(tmp_path, max_steps=6, logger=logger, log_every_n_steps=1, callbacks=[monitor], limit_train_batches=3)
    fit.fit(module, datamodule=datamodule)

    _, readouts = module.net(torch.randn(2, 24, module.net.n_inputs), return_readouts=True)
    assert 0.0 < float(readouts["blend/past_weight"]) < 1.0
    with open(tmp_path / "csv" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("blend/past_weight_step")]
    assert len(rows) == 6
    logged = [float(row["blend/past_weight_step"]) for row in rows]
    assert logged == pytest.approx([row["past_weight"] for row in monitor.history], abs=1e-6)
    for row in rows:
        assert float(row["blend/past_weight_step"]) + float(row["blend/future_weight_step"]) == pytest.approx(1.0)
    assert logged[-1] != pytest.approx(logged[0], abs=1e-4), "a never moved"
    assert {"blend/past_share", "importance/past", "importance/future"} <= set(fit.callback_metrics)
    for name in ("blend_weights.csv", "blend_weights.png"):
        assert (tmp_path / "monitor" / name).stat().st_size > 0


def test_blend_logit_gets_its_own_learning_rate():
    cfg, datamodule, _ = tiny("blend")
    module = build_module(compose_config([*TINY, "model=blend", "module.blend_lr=0.25"]), datamodule)
    optimizer = module.configure_optimizers()
    groups = {group["name"]: group for group in optimizer.param_groups}
    assert groups["blend"]["lr"] == 0.25
    assert groups["net"]["lr"] == cfg.module.optimizer.lr
    blend_ids = {id(p) for p in groups["blend"]["params"]}
    assert blend_ids == {id(p) for p in module.net.blend_parameters()}
    assert not blend_ids & {id(p) for p in groups["net"]["params"]}


def test_gated_profile_comes_from_the_clean_validation_passes_with_importance_on(tmp_path):
    """With importance on, validation also runs ablated passes; the profile and the spread of the gate describe the
    clean passes only: the mean gate over the validation windows of the model as it is."""
    cfg, datamodule, module = tiny("blend_gated", "module.importance=true")
    assert module.ablations == ["past", "future"]
    monitor = BlendWeightMonitor(dirpath=str(tmp_path))
    fit = trainer(tmp_path, max_steps=-1, max_epochs=1, limit_train_batches=2, callbacks=[monitor])
    fit.fit(module, datamodule=datamodule)

    sums, ablated_sums, windows = 0, 0, 0
    module.eval()
    with torch.no_grad():
        for batch in list(datamodule.val_dataloader())[:2]:  # limit_val_batches=2
            _, clean = module.net(batch["x"], return_readouts=True)
            _, ablated = module.net(batch["x"], ablate="future", return_readouts=True)
            sums = sums + clean["blend/past_weight_values"].double() * len(batch["x"])
            ablated_sums = ablated_sums + ablated["blend/past_weight_values"].double() * len(batch["x"])
            windows += len(batch["x"])
    expected, ablated = (sums / windows).float(), (ablated_sums / windows).float()
    assert not torch.allclose(expected, ablated, atol=1e-4)  # the ablated pass would read differently
    profile = expected.reshape(datamodule.lookback, -1).mean(dim=-1)
    assert monitor.profile == pytest.approx(profile.tolist(), abs=1e-5)
    torch.testing.assert_close(module.validation_readouts["blend/profile"], profile, atol=1e-5, rtol=0)
    assert float(fit.callback_metrics["blend/past_weight_min"]) == pytest.approx(float(expected.min()), abs=1e-5)
    assert float(fit.callback_metrics["blend/past_weight_std"]) == pytest.approx(float(expected.std()), abs=1e-5)
    assert {"importance/past", "importance/future"} <= set(fit.callback_metrics)
    assert (tmp_path / "blend_profile.csv").read_text().count("\n") == datamodule.lookback + 1


def test_attention_entropy_is_logged(tmp_path):
    _, datamodule, module = tiny("attention")
    fit = trainer(tmp_path, max_steps=-1, max_epochs=1, limit_train_batches=2)
    fit.fit(module, datamodule=datamodule)
    entropy = float(fit.callback_metrics["attention/entropy"])
    assert 0.0 <= entropy <= math.log(datamodule.lookback) + 1e-5


def test_training_values_are_logged_per_step_at_the_logger_cadence_and_averaged_per_epoch(tmp_path):
    """Step values reach the logger every log_every_n_steps steps; epoch means weigh every batch by its size."""

    class RecordLosses(L.Callback):
        def __init__(self):
            self.losses, self.sizes = [], []

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.losses.append(float(outputs["loss"]))
            self.sizes.append(len(batch["x"]))

    _, datamodule, module = tiny("blend", "data.batch_size=64")  # the last batch of the epoch is smaller
    record = RecordLosses()
    logger = L.pytorch.loggers.CSVLogger(tmp_path, name="csv")
    fit = trainer(tmp_path, max_steps=-1, max_epochs=1, log_every_n_steps=2, logger=logger, callbacks=[record])
    fit.fit(module, datamodule=datamodule)
    assert len(set(record.sizes)) == 2, record.sizes
    expected = sum(loss * size for loss, size in zip(record.losses, record.sizes)) / sum(record.sizes)
    assert float(fit.callback_metrics["train/loss_epoch"]) == pytest.approx(expected, rel=1e-5)
    past = float(fit.callback_metrics["blend/past_weight_epoch"])
    assert past + float(fit.callback_metrics["blend/future_weight_epoch"]) == pytest.approx(1.0)

    with open(f"{logger.log_dir}/metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    step_rows = [row for row in rows if row.get("train/loss_step")]
    assert [int(row["step"]) for row in step_rows] == list(range(1, len(record.losses), 2))
    assert all(row["blend/past_weight_step"] for row in step_rows)
    logged = [float(row["train/loss_step"]) for row in step_rows]
    assert logged == pytest.approx(record.losses[1::2], rel=1e-5)


def test_nan_loss_stops_training_naming_the_step(tmp_path):
    _, datamodule, module = tiny("blend", "model.revin=false")
    with torch.no_grad():
        for parameter in module.net.parameters():
            parameter.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"global step 0 \(noticed at epoch 0, batch 0\)"):
        trainer(tmp_path, max_steps=3).fit(module, datamodule=datamodule)


def test_nan_loss_is_noticed_at_the_logging_cadence_naming_its_first_step(tmp_path):
    """The check reads the device flag every log_every_n_steps steps, and still names the step that broke."""

    class PoisonAtStep3(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == 3:
                with torch.no_grad():
                    for parameter in pl_module.net.parameters():
                        parameter.fill_(float("nan"))

    _, datamodule, module = tiny("lstm", "model.revin=false")
    fit = trainer(tmp_path, max_steps=20, log_every_n_steps=5, callbacks=[PoisonAtStep3()], limit_train_batches=20)
    with pytest.raises(NonFiniteLossError, match=r"global step 3 \(noticed at epoch 0, batch 5\)"):
        fit.fit(module, datamodule=datamodule)


@pytest.mark.parametrize("loss", ["mse", "mae", "huber", "mape"])
def test_losses(loss):
    _, datamodule, _ = tiny("lstm")
    module = build_module(compose_config([*TINY, "model=lstm", f"module.loss={loss}"]), datamodule)
    datamodule.setup()
    batch = next(iter(datamodule.train_dataloader()))
    assert module.loss_fn(module(batch["x"]), batch).item() >= 0


def test_the_mape_loss_reads_the_batch_s_scaling():
    """The module's MAPE is the percentage error of the batch's windows in original units (``y * scale + loc``)."""
    _, datamodule, _ = tiny("lstm")
    module = build_module(compose_config([*TINY, "model=lstm", "module.loss=mape"]), datamodule)
    datamodule.setup()
    batch = next(iter(datamodule.train_dataloader()))
    forecast = module(batch["x"])
    actual = batch["y"] * batch["scale"] + batch["loc"]
    expected = ((forecast * batch["scale"] + batch["loc"] - actual).abs() / actual.abs()).mean()
    torch.testing.assert_close(module.loss_fn(forecast, batch), expected.to(forecast.dtype))


def test_bad_module_options_fail_at_construction():
    with pytest.raises(ValueError, match="loss must be one of"):
        tiny("naive", "module.loss=l3")
    with pytest.raises(ValueError, match="optimizer `_target_` must name a class under 'torch.optim.'"):
        tiny("naive", "module.optimizer._target_=os.system")
    with pytest.raises(ValueError, match=r"not the string '80'"):  # not its characters '8' and '0'
        ForecastModule(build_model("lstm", 1, 1, 8, 2), levels="80")
    _, _, module = tiny("naive")
    assert module.configure_optimizers() is None  # nothing to optimise


def test_scheduler_is_wired_with_its_monitor():
    _, datamodule, _ = tiny("lstm")
    scheduler = "{_target_: torch.optim.lr_scheduler.ReduceLROnPlateau, patience: 1, monitor: val/mse}"
    module = build_module(compose_config([*TINY, "model=lstm", f"module.scheduler={scheduler}"]), datamodule)
    config = module.configure_optimizers()
    assert config["lr_scheduler"]["monitor"] == "val/mse"
    assert isinstance(config["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau)


def test_blend_trajectory_survives_a_checkpoint(tmp_path):
    """A resumed run's blend_weights.csv covers the whole training, not only the epochs after resuming."""
    _, datamodule, module = tiny("blend")
    monitor = BlendWeightMonitor(dirpath=str(tmp_path))
    fit = trainer(tmp_path, max_steps=3, callbacks=[monitor])
    fit.fit(module, datamodule=datamodule)
    fit.save_checkpoint(tmp_path / "m.ckpt")
    checkpoint = torch.load(tmp_path / "m.ckpt", weights_only=True)
    resumed = BlendWeightMonitor()
    resumed.load_state_dict(checkpoint["callbacks"][next(k for k in checkpoint["callbacks"] if "BlendWeight" in k)])
    assert resumed.history == monitor.history and len(resumed.history) == 3


def test_a_net_built_in_python_trains_under_a_plain_trainer_and_logs_its_blend_weight(tmp_path):
    """The Lightning user's path: a net from its sizes, ForecastModule(net), a plain L.Trainer and a DataLoader."""
    from tsbridge.data import WindowDataModule, make_synthetic
    from tsbridge.models import BridgedLSTM

    net = BridgedLSTM(n_inputs=1, n_targets=1, lookback=48, horizon=12)
    module = ForecastModule(net)
    assert module.model_name == "blend" and module.hparams.net == net.config
    datamodule = WindowDataModule(make_synthetic(n_rows=400), target_cols="target", time_col="date",
                                  lookback=48, horizon=12, features="S", batch_size=32)
    logger = L.pytorch.loggers.CSVLogger(tmp_path, name="csv", version="")
    fit = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, logger=logger, log_every_n_steps=1,
                    enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    fit.fit(module, datamodule=datamodule)
    with open(tmp_path / "csv" / "metrics.csv") as f:
        logged = [float(r["blend/past_weight_step"]) for r in csv.DictReader(f) if r.get("blend/past_weight_step")]
    assert len(logged) == 3 and all(0 < w < 1 for w in logged)

    fit.save_checkpoint(tmp_path / "python.ckpt")
    restored = ForecastModule.load_from_checkpoint(tmp_path / "python.ckpt", map_location="cpu", weights_only=True)
    x = torch.randn(2, 48, 1)
    module.eval(), restored.eval()
    with torch.no_grad():
        assert torch.equal(module(x), restored(x))


def test_ddp_validation_during_fit_scores_each_window_once_unless_a_buffer_is_broadcast():
    """The data module's validation sampler during a two-rank fit (the gloo run is tests/cli/test_ddp.py)."""
    from types import SimpleNamespace

    from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
    from lightning.pytorch.trainer.states import TrainerFn

    _, datamodule, module = tiny("lstm", "module.levels=[80]")
    datamodule.setup()
    assert "net.output.fractions" in dict(module.named_buffers())  # the quantile levels
    broadcasting = torch.nn.Module()
    broadcasting.register_buffer("running_mean", torch.zeros(1))  # as batch norm's: DDP broadcasts it each forward
    module.setup("fit")  # before DDP wraps it: its buffers are constants, DDP need not broadcast them
    samplers = {}
    for name, lightning_module in (("tsbridge", module), ("other", broadcasting)):
        datamodule.trainer = SimpleNamespace(distributed_sampler_kwargs={"num_replicas": 2, "rank": 1},
                                             state=SimpleNamespace(fn=TrainerFn.FITTING),
                                             lightning_module=lightning_module)
        samplers[name] = datamodule.val_dataloader().sampler
    n_windows = len(datamodule.val_dataset)
    assert n_windows % 2 == 1
    assert isinstance(samplers["tsbridge"], UnrepeatedDistributedSampler)
    assert list(samplers["tsbridge"]) == list(range(1, n_windows, 2))  # rank 1's share, none repeated
    assert not isinstance(samplers["other"], UnrepeatedDistributedSampler)  # Lightning's padded one (set later)
