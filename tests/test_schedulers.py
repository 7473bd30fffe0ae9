"""HoldThenExponentialLR: SegRNN's lradj type3 schedule, per parameter group, resumable, usable from configs."""

import warnings

import pytest
import torch
from omegaconf import OmegaConf

from tsbridge.models import build_model
from tsbridge.module import ForecastModule
from tsbridge.schedulers import HoldThenExponentialLR


def segrnn_type3(base_lr: float, epochs: int) -> list[float]:
    """The lr each epoch trains at under SegRNN's ``adjust_learning_rate`` (lradj 'type3'), transcribed:
    after 1-based epoch e it sets ``base if e < 3 else base * 0.8 ** (e - 3)`` for the next epoch."""
    lr, rates = base_lr, []
    for epoch in range(1, epochs + 1):
        rates.append(lr)
        lr = base_lr if epoch < 3 else base_lr * 0.8 ** (epoch - 3)
    return rates


def epoch_rates(scheduler: HoldThenExponentialLR, epochs: int) -> list[list[float]]:
    rates = []
    for _ in range(epochs):
        rates.append([group["lr"] for group in scheduler.optimizer.param_groups])
        scheduler.optimizer.step()
        scheduler.step()
    return rates


def optimizer(*rates: float) -> torch.optim.Optimizer:
    return torch.optim.Adam([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in rates])


def test_defaults_reproduce_segrnn_type3():
    rates = epoch_rates(HoldThenExponentialLR(optimizer(3e-4)), 30)
    assert [r[0] for r in rates] == pytest.approx(segrnn_type3(3e-4, 30), rel=1e-12)
    assert rates[3][0] == 3e-4 and rates[4][0] == pytest.approx(0.8 * 3e-4)  # four epochs at the base rate


def test_each_group_decays_from_its_own_rate():
    rates = epoch_rates(HoldThenExponentialLR(optimizer(1e-3, 0.05), hold_epochs=2, gamma=0.5), 5)
    assert rates == [pytest.approx([1e-3 * f, 0.05 * f]) for f in (1, 1, 0.5, 0.25, 0.125)]


def test_resumed_scheduler_continues_the_schedule():
    first = HoldThenExponentialLR(optimizer(1e-3), hold_epochs=2, gamma=0.5)
    epoch_rates(first, 4)
    resumed = HoldThenExponentialLR(optimizer(1e-3), hold_epochs=2, gamma=0.5)
    resumed.load_state_dict(first.state_dict())
    resumed.step()  # Lightning restores the state, then steps at the next epoch's end
    first.step()
    assert resumed.get_last_lr() == pytest.approx(first.get_last_lr())


@pytest.mark.parametrize(
    ("options", "match"),
    [({"hold_epochs": 0}, "hold_epochs"), ({"hold_epochs": 1.5}, "hold_epochs"), ({"gamma": 0.0}, "gamma"),
     ({"gamma": 1.2}, "gamma"), ({"first_epoch_factor": 0}, "first_epoch_factor"),
     ({"first_epoch_factor": 2.0}, "first_epoch_factor")],
)
def test_invalid_options_are_named(options, match):
    with pytest.raises(ValueError, match=match):
        HoldThenExponentialLR(optimizer(1e-3), **options)


def test_usable_as_a_module_scheduler_config():
    """The YAML form ``module.scheduler={_target_: tsbridge.schedulers.HoldThenExponentialLR, ...}``."""
    config = OmegaConf.create("{_target_: tsbridge.schedulers.HoldThenExponentialLR, hold_epochs: 4, gamma: 0.8,"
                              " interval: epoch}")
    module = ForecastModule(build_model("lstm", 1, 1, 8, 2, hidden_size=4), scheduler=config)
    lr_scheduler = module.configure_optimizers()["lr_scheduler"]
    assert isinstance(lr_scheduler["scheduler"], HoldThenExponentialLR)
    assert lr_scheduler["interval"] == "epoch" and lr_scheduler["scheduler"].gamma == 0.8


def segrnn_training_loop_rates(base_lr: float, epochs: int) -> list[float]:
    """The lr each epoch trains at in SegRNN's exp_main: a OneCycleLR is built (never stepped under type3),
    which sets the rate to max_lr / div_factor before epoch 1; then adjust_learning_rate as above."""
    optimizer_ = optimizer(base_lr)
    torch.optim.lr_scheduler.OneCycleLR(optimizer_, max_lr=base_lr, epochs=epochs, steps_per_epoch=10, pct_start=0.3)
    return [optimizer_.param_groups[0]["lr"], *segrnn_type3(base_lr, epochs)[1:]]


def test_first_epoch_factor_reproduces_segrnn_training_loop():
    rates = epoch_rates(HoldThenExponentialLR(optimizer(1e-3), first_epoch_factor=0.04), 12)
    assert [r[0] for r in rates] == pytest.approx(segrnn_training_loop_rates(1e-3, 12), rel=1e-12)
    assert rates[0][0] == pytest.approx(4e-5) and rates[1][0] == 1e-3  # a warm-up epoch, then the held rate


@pytest.mark.parametrize(("patience", "warns"), [(3, True), (4, True), (5, False)])
def test_early_stopping_that_cannot_outlast_the_hold_warns(patience, warns):
    """A run whose best epoch is its first stops after 1 + patience epochs; a hold of 4 decays from epoch 5 on."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping

    config = {"_target_": "tsbridge.schedulers.HoldThenExponentialLR", "hold_epochs": 4, "interval": "epoch"}
    module = ForecastModule(build_model("lstm", 1, 1, 8, 2, hidden_size=4), scheduler=config)
    module.trainer = L.Trainer(callbacks=[EarlyStopping("val/loss", patience=patience)], logger=False,
                               enable_progress_bar=False, enable_model_summary=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module.configure_optimizers()
    messages = [str(w.message) for w in caught if "does not outlast" in str(w.message)]
    assert bool(messages) == warns
