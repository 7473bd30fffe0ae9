"""The contract every net must pass (one parametrized test per model name, and per segment variant of
every recurrent one)."""

import io

import pytest
import torch
from model_configs import CONTRACT_CASES, HORIZON, LOOKBACK, SEGMENT_VARIANTS, TINY_CONFIGS, case_id

from tsbridge.models import MODEL_NAMES

cases = pytest.mark.parametrize(("name", "variant"), CONTRACT_CASES, ids=[case_id(c) for c in CONTRACT_CASES])


def channel_independent(variant):
    return variant is not None and SEGMENT_VARIANTS[variant].get("channel_independent", False)


def test_every_model_name_has_a_tiny_config():
    assert set(TINY_CONFIGS) == set(MODEL_NAMES)


@pytest.mark.parametrize(
    ("name", "variant", "n_inputs", "n_targets"),
    [
        (name, variant, n_inputs, n_targets)
        for name, variant in CONTRACT_CASES
        for n_inputs, n_targets in [(3, 3), (4, 2)]
        if n_inputs == n_targets or not channel_independent(variant)  # covariates: no channel independence
    ],
)
def test_forward_shape_and_backward(make_net, name, variant, n_inputs, n_targets):
    net = make_net(name, n_inputs=n_inputs, n_targets=n_targets, variant=variant)
    y = net(torch.randn(5, LOOKBACK, n_inputs))
    assert y.shape == (5, HORIZON, n_targets)
    assert y.is_contiguous()  # torchmetrics and callers .view() forecasts
    assert torch.isfinite(y).all()
    params = [p for p in net.parameters() if p.requires_grad]
    if params:
        y.square().mean().backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)


@cases
def test_introspection_attributes(make_net, name, variant):
    net = make_net(name, variant=variant)
    assert isinstance(net.bidirectional, bool)
    params = net.blend_parameters()
    assert isinstance(params, list)
    assert (len(params) > 0) == (net.blend is not None)
    assert (net.attention is not None) == (name == "attention")
    x = torch.randn(2, LOOKBACK, 3)
    if net.bidirectional:
        for ablate in ("past", "future"):
            assert net(x, ablate=ablate).shape == (2, HORIZON, 3)
    else:
        with pytest.raises(ValueError, match="ablate"):
            net(x, ablate="past")


@cases
def test_state_dict_round_trip_predicts_identically(make_net, name, variant):
    net = make_net(name, seed=1, variant=variant).eval()
    x = torch.randn(4, LOOKBACK, 3)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    clone = make_net(name, seed=2, variant=variant).eval()
    clone.load_state_dict(torch.load(buffer, weights_only=True))
    with torch.no_grad():
        assert torch.equal(net(x), clone(x))


@cases
def test_seeded_construction_and_forward_are_deterministic(make_net, name, variant):
    x = torch.randn(3, LOOKBACK, 3)
    outputs = []
    for _ in range(2):
        net = make_net(name, seed=7, variant=variant).train()  # dropout active: the seed covers it too
        torch.manual_seed(11)
        outputs.append(net(x))
    assert torch.equal(*outputs)


@cases
def test_no_look_ahead_across_samples(make_net, name, variant):
    """A window's forecast depends on that window only: changing another sample of the batch
    (e.g. the one holding the following rows) leaves it unchanged."""
    net = make_net(name, variant=variant).eval()
    x = torch.randn(4, LOOKBACK, 3)
    changed = x.clone()
    changed[1:] = torch.randn(3, LOOKBACK, 3) * 10
    with torch.no_grad():
        torch.testing.assert_close(net(x)[0], net(changed)[0], rtol=0, atol=1e-6)
        alone = net(x[:1])
    torch.testing.assert_close(alone[0], net(x)[0].detach(), rtol=1e-5, atol=1e-6)


@cases
def test_forecast_depends_on_its_own_window_only(make_net, name, variant):
    """Windows cut from one series, overlapping as in training: the first window's forecast has no
    gradient from any value after its last row, and with channel independence none from another
    channel, so neither the segment reshape nor the channel split mixes samples or channels."""
    net = make_net(name, variant=variant).eval()
    series = torch.randn(LOOKBACK + 3, 3, requires_grad=True)  # (T, C)
    windows = series.unfold(0, LOOKBACK, 1).transpose(1, 2)  # (4, L, C): window k holds rows k .. k+L-1
    y = net(windows)  # (4, H, C)
    for channel in range(3):
        (grad,) = torch.autograd.grad(y[0, :, channel].sum(), series, retain_graph=True)
        assert torch.count_nonzero(grad[LOOKBACK:]) == 0  # nothing after the window
        assert torch.count_nonzero(grad[:LOOKBACK, channel]) > 0  # its own history is read
        if channel_independent(variant):
            others = [c for c in range(3) if c != channel]
            assert torch.count_nonzero(grad[:, others]) == 0


@cases
def test_wrong_input_shape_is_a_clear_error(make_net, name, variant):
    net = make_net(name, variant=variant)
    with pytest.raises(ValueError, match=r"\(B, L, n_inputs\)"):
        net(torch.randn(2, LOOKBACK + 1, 3))
    with pytest.raises(ValueError, match=r"\(B, L, n_inputs\)"):
        net(torch.randn(2, LOOKBACK, 2))
