"""Known-future inputs and interval outputs of every net: shapes, ordering, what a forecast may depend on, errors."""

import pytest
import torch
from model_configs import HIDDEN, HORIZON, LOOKBACK

from tsbridge.models import MODELS, build_model

RECURRENT = [name for name, spec in MODELS.items() if spec.recurrent]
LEVELS = [80, 90]


def net(name, seed=0, **options):
    torch.manual_seed(seed)
    if MODELS[name].net_class in ("SegRNN", "BridgedSegRNN"):  # defaults for 7 channels of 96 steps, alone
        options = {"segment_length": 4, "channel_independent": False, **options}
    return build_model(name, 4, 2, LOOKBACK, HORIZON, hidden_size=HIDDEN, n_future=2, **options).eval()


@pytest.mark.parametrize(("name", "head"), [(name, head) for head in ("last", "flatten", "pmf") for name in RECURRENT
                                            if head == "pmf" or MODELS[name].net_class != "BridgedSegRNN"])
def test_every_recurrent_net_reads_the_known_future_and_forecasts_ordered_quantiles(name, head):
    segments = {"segment_length": 4} if head == "pmf" else {}
    model = net(name, head=head, levels=LEVELS, norm="revin", revin_affine=True, **segments)
    x, x_future = torch.randn(3, LOOKBACK, 4), torch.randn(3, HORIZON, 2)
    quantiles = model(x, x_future)
    assert quantiles.shape == (3, HORIZON, 2, 5)  # (B, H, T, quantiles of 80/90 and the median)
    assert (quantiles.diff(dim=-1) >= 0).all()
    changed = x_future.clone()
    changed[1:] += 3.0  # another sample's future, and this one's
    with torch.no_grad():
        moved = model(x, changed)
    torch.testing.assert_close(moved[0], quantiles[0].detach())  # sample 0 reads only its own future
    assert not torch.allclose(moved[1:], quantiles[1:].detach())
    quantiles.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for n, p in model.named_parameters() if "future" in n)


@pytest.mark.parametrize("distribution", ["normal", "student_t"])
def test_distribution_outputs_are_parameters_with_a_positive_scale(distribution):
    params = net("blend", levels=[80], distribution=distribution)(torch.randn(2, LOOKBACK, 4),
                                                                  torch.randn(2, HORIZON, 2))
    assert params.shape == (2, HORIZON, 2, 2 if distribution == "normal" else 3)
    assert (params[..., 1] > 0).all()


def test_dlinear_forecasts_intervals_but_reads_no_future():
    model = build_model("dlinear", 3, 3, LOOKBACK, HORIZON, levels=LEVELS)
    assert model(torch.randn(2, LOOKBACK, 3)).shape == (2, HORIZON, 3, 5)
    with pytest.raises(ValueError, match="DLinear does not read known-future inputs"):
        build_model("dlinear", 3, 1, LOOKBACK, HORIZON, n_future=1)


@pytest.mark.parametrize(("options", "message"), [
    ({"n_future": 3}, r"n_future must be an integer from 0 to n_inputs - n_targets = 2"),
    ({"n_future": 2, "channel_independent": True}, "channel_independent=True needs n_inputs == n_targets"),
    ({"levels": [80], "distribution": "gamma"}, "distribution must be one of"),
    ({"levels": [0]}, "strictly between 0 and 100"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        build_model("lstm", 4, 2, LOOKBACK, HORIZON, **options)


def test_the_known_future_is_required_exactly_when_the_net_reads_it():
    x = torch.randn(2, LOOKBACK, 4)
    with pytest.raises(ValueError, match=r"x_future of shape \(B, H, n_future\) = \(2, 4, 2\), got None"):
        net("blend")(x)
    with pytest.raises(ValueError, match=r"got \(2, 4, 1\)"):
        net("blend")(x, torch.randn(2, HORIZON, 1))
    with pytest.raises(ValueError, match="built without known-future inputs"):
        build_model("blend", 4, 2, LOOKBACK, HORIZON, hidden_size=HIDDEN)(x, torch.randn(2, HORIZON, 2))


def test_a_flag_constant_over_the_lookback_and_set_ahead_keeps_the_forecast_finite():
    """A holiday flag that is 0 over the whole look-back and 1 in the horizon: the known future enters in the data's
    units, not divided by the window's (near-zero) scale of that channel."""
    model = net("blend")
    x = torch.randn(2, LOOKBACK, 4)
    x[..., 2:] = 0.0  # the two known-future channels are constant over the look-back
    x_future = torch.ones(2, HORIZON, 2)
    with torch.no_grad():
        forecast = model(x, x_future)
    assert torch.isfinite(forecast).all() and forecast.abs().max() < 100
