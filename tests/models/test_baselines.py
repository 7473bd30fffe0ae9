"""Baselines: exact values of the naive forecasts, DLinear's decomposition and options."""

import pytest
import torch

from tsbridge.models import DLinear, Naive, SeasonalNaive


def marker_window(batch=2, lookback=8, channels=3):
    """Values that name their position: 100 * sample + 10 * channel + step."""
    steps = torch.arange(lookback, dtype=torch.float32).view(1, lookback, 1)
    channel = 10 * torch.arange(channels, dtype=torch.float32).view(1, 1, channels)
    sample = 100 * torch.arange(batch, dtype=torch.float32).view(batch, 1, 1)
    return steps + channel + sample  # (B, L, C)


def test_naive_repeats_the_last_value_of_each_target():
    x = marker_window()
    y = Naive(n_inputs=3, n_targets=2, lookback=8, horizon=3)(x)
    expected = x[:, -1:, :2].expand(-1, 3, -1)
    assert torch.equal(y, expected)
    assert list(Naive(1, 1, 8, 3).parameters()) == []


def test_seasonal_naive_repeats_the_last_season():
    x = marker_window(lookback=8, channels=1)
    y = SeasonalNaive(n_inputs=1, n_targets=1, lookback=8, horizon=7, season_length=3)(x)
    # The last season is steps 5, 6, 7; the horizon repeats it: 5 6 7 5 6 7 5.
    assert y[0, :, 0].tolist() == [5, 6, 7, 5, 6, 7, 5]
    assert y[1, :, 0].tolist() == [105, 106, 107, 105, 106, 107, 105]


def test_seasonal_naive_season_longer_than_window_is_refused():
    with pytest.raises(ValueError, match="season_length"):
        SeasonalNaive(1, 1, lookback=8, horizon=2, season_length=9)


@pytest.mark.parametrize("individual", [False, True])
@pytest.mark.parametrize("revin", [False, True])
def test_dlinear_shapes_and_covariates_ignored(individual, revin):
    net = DLinear(4, 2, lookback=16, horizon=5, kernel_size=25, individual=individual, revin=revin)
    x = torch.randn(3, 16, 4)
    y = net(x)
    assert y.shape == (3, 5, 2)
    x[..., 2:] = torch.randn(3, 16, 2)  # covariates only
    assert torch.equal(net(x), y)
    assert net.weight.shape == (2, 2 if individual else 1, 5, 16)


def test_dlinear_is_linear_in_trend_and_remainder():
    """With kernel 1 the trend is the series itself and the remainder is zero."""
    torch.manual_seed(0)
    net = DLinear(2, 2, lookback=6, horizon=3, kernel_size=1, individual=True)
    x = torch.randn(4, 6, 2)
    trend_weight = net.weight[1]  # (T, H, L)
    expected = torch.einsum("blt,thl->bht", x, trend_weight) + net.bias.sum(0).T
    torch.testing.assert_close(net(x), expected)


def test_dlinear_moving_average_matches_a_direct_mean():
    net = DLinear(1, 1, lookback=7, horizon=1, kernel_size=3)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.zero_()
        net.weight[1, 0, 0, 3] = 1.0  # forecast = trend at step 3
    x = torch.arange(7.0).square().view(1, 7, 1)
    assert net(x).item() == pytest.approx((4 + 9 + 16) / 3)


def test_dlinear_refuses_an_even_kernel():
    with pytest.raises(ValueError, match="kernel_size"):
        DLinear(1, 1, lookback=8, horizon=2, kernel_size=4)


def test_seasonal_naive_built_without_data_needs_its_season():
    with pytest.raises(ValueError, match="season of the data's frequency.*needs season_length"):
        SeasonalNaive(1, 1, lookback=8, horizon=2)
