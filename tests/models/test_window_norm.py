"""``norm="robust"``: each window measured against its median and median absolute deviation (MAD)."""

import pytest
import torch

from tsbridge.models import LSTMForecaster, RevIN, RobustNorm
from tsbridge.models.window_norm import build_window_norm, resolve_norm


def test_the_statistics_are_the_median_and_the_mad():
    window = torch.tensor([1.0, 2.0, 4.0, 7.0, 11.0])[None, :, None]  # median 4; |x - 4| = 3 2 0 3 7 -> MAD 3
    loc, scale = RobustNorm(1).statistics(window)
    assert loc.item() == 4.0
    assert scale.item() == pytest.approx(3.0, rel=1e-6)


def test_a_spike_moves_revin_but_not_the_robust_norm():
    torch.manual_seed(0)
    window = torch.randn(1, 48, 1)
    spiked = window.clone()
    spiked[0, 10, 0] = 50.0  # one price spike among 48 hours
    for norm, moves in ((RevIN(1), True), (RobustNorm(1), False)):
        (loc, scale), (spiked_loc, spiked_scale) = norm.statistics(window), norm.statistics(spiked)
        assert (spiked_scale / scale).item() > 3 if moves else (spiked_scale / scale).item() < 1.1
        assert (abs(spiked_loc - loc).item() > 0.5) == moves


def test_a_window_mostly_one_value_falls_back_on_its_standard_deviation():
    window = torch.tensor([0.0] * 6 + [1.0, 3.0])[None, :, None]  # a flag set twice: the MAD is 0
    loc, scale = RobustNorm(1).statistics(window)
    assert loc.item() == 0.0
    assert scale.item() == pytest.approx(0.6744897501960817 * window.std(unbiased=False).item(), rel=1e-6)
    constant = torch.full((1, 8, 1), 3.0)
    normalised, stats = RobustNorm(1).normalize(constant)
    assert torch.isfinite(normalised).all() and normalised.abs().max() < 1e-3


def test_the_forecast_map_undoes_the_norm_and_known_future_channels_use_look_back_and_future():
    torch.manual_seed(1)
    norm = RobustNorm(3)
    x, future = torch.randn(2, 12, 3) * 5 + 7, torch.randn(2, 4, 1) + 3
    normalised, stats = norm.normalize(x, future)
    assert torch.allclose(norm.denormalize(normalised[..., :2], stats), x[..., :2], atol=1e-5)
    joint = torch.cat([x[..., 2:], future], dim=1)
    assert torch.equal(stats[0][..., 2:], joint.median(dim=1, keepdim=True).values)
    assert torch.allclose(norm.normalize_future(future, stats), (future - stats[0][..., 2:]) / stats[1][..., 2:])


def test_robust_is_a_norm_of_every_net_and_keeps_its_name_under_the_revin_flag():
    assert resolve_norm("robust", None) == "robust"
    assert resolve_norm("robust", False) == "robust"
    assert resolve_norm("robust", True) == "revin"
    net = LSTMForecaster(1, 1, 16, 4, hidden_size=8, norm="robust")
    assert isinstance(net.window_norm, RobustNorm)
    with pytest.raises(ValueError, match="revin_affine=True needs norm='revin'"):
        build_window_norm("robust", 1, affine=True)


def test_a_robust_net_forecasts_move_with_the_window_s_level_and_scale():
    torch.manual_seed(2)
    net = LSTMForecaster(1, 1, 16, 4, hidden_size=8, norm="robust").eval()
    x = torch.randn(3, 16, 1)
    with torch.no_grad():
        assert torch.allclose(net(10 * x + 100), 10 * net(x) + 100, atol=1e-3)
