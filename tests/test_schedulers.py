"""HoldThenExponentialLR: SegRNN's lradj type3 schedule, per parameter group, resumable, usable from configs."""

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
     ({"gamma": 1.2}, "gamma")],
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
