"""Bridged nets: shapes over every bridge and option, gradients, blend, attention, feedback."""

import pytest
import torch
from model_configs import HIDDEN, HORIZON, LOOKBACK
from torch import nn

from tsbridge.models import BlendBridge, BridgedLSTM, FeedbackLSTM

BRIDGES = {
    "concat": {"bridge": "concat"},
    "blend_scalar": {"bridge": "blend", "granularity": "scalar", "normalize_states": True},
    "blend_unit": {"bridge": "blend", "granularity": "unit"},
    "blend_gated": {"bridge": "blend", "granularity": "gated", "normalize_states": True},
    "attention_dot": {"bridge": "attention", "score": "dot"},
    "attention_additive": {"bridge": "attention", "score": "additive"},
}
SETTINGS = {
    "M": {"n_inputs": 3, "n_targets": 3},
    "MS_covariates": {"n_inputs": 4, "n_targets": 2},
    "S": {"n_inputs": 1, "n_targets": 1},
    "channel_independent": {"n_inputs": 3, "n_targets": 3, "channel_independent": True},
    "revin_affine_skip": {
        "n_inputs": 4,
        "n_targets": 2,
        "revin": True,
        "revin_affine": True,
        "linear_skip": True,
    },
    "all_on_flatten_2_layers": {
        "n_inputs": 3,
        "n_targets": 3,
        "revin": True,
        "channel_independent": True,
        "linear_skip": True,
        "head": "flatten",
        "num_layers": 2,
        "dropout": 0.2,
    },
}


def bridged(cls=BridgedLSTM, seed=0, **options):
    torch.manual_seed(seed)
    kwargs = {"lookback": LOOKBACK, "horizon": HORIZON, "hidden_size": HIDDEN, "head": "last"}
    kwargs.update({"n_inputs": 3, "n_targets": 3, "bridge": "concat"} | options)
    return cls(**kwargs)


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("bridge", [*BRIDGES, "feedback"])
def test_shapes_for_every_bridge_and_setting(bridge, setting):
    options = dict(SETTINGS[setting])
    if bridge == "feedback":
        net = bridged(FeedbackLSTM, passes=2, **BRIDGES["blend_gated"], **options)
    else:
        net = bridged(**BRIDGES[bridge], **options)
    x = torch.randn(5, LOOKBACK, options["n_inputs"])
    y = net(x)
    assert y.shape == (5, HORIZON, options["n_targets"])
    y.mean().backward()


@pytest.mark.parametrize("bridge", BRIDGES)
def test_gradients_reach_both_directions_and_the_blend_logit(bridge):
    net = bridged(**BRIDGES[bridge])
    net(torch.randn(4, LOOKBACK, 3)).square().mean().backward()
    for name in ("weight_ih_l0", "weight_ih_l0_reverse"):
        grad = getattr(net.encoder.rnn, name).grad
        assert grad is not None and grad.abs().sum() > 0, name
    for logit in net.blend_parameters():
        assert logit.grad is not None and logit.grad.abs().sum() > 0


def test_channel_independent_needs_inputs_equal_targets():
    with pytest.raises(ValueError, match="channel_independent"):
        bridged(n_inputs=4, n_targets=2, channel_independent=True)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"bridge": "concat", "granularity": "unit"}, "granularity"),
        ({"bridge": "concat", "normalize_states": False}, "normalize_states"),
        ({"bridge": "attention", "init_past_weight": 0.3}, "init_past_weight"),
        ({"bridge": "concat", "learn_past_weight": False}, "learn_past_weight"),
        ({"bridge": "blend", "granularity": "gated", "learn_past_weight": False}, "learn_past_weight"),
        ({"bridge": "concat", "score": "additive"}, "score"),
        ({"bridge": "attention", "score": "cosine"}, "score"),
        ({"bridge": "blend", "granularity": "per_step"}, "granularity"),
        ({"bridge": "blend", "granularity": "unit", "init_past_weight": 1.0}, "init_past_weight"),
        ({"bridge": "bidirectional"}, "bridge"),
        ({"head": "mean"}, "head"),
        ({"dropout": 1.0}, "dropout"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"n_targets": 4}, "n_targets"),
        ({"revin": False, "revin_affine": True}, "revin"),
    ],
)
def test_invalid_options_are_named(options, match):
    with pytest.raises(ValueError, match=match):
        bridged(**options)


@pytest.mark.parametrize("granularity", ["scalar", "unit", "gated"])
def test_blend_weight_is_a_trainable_probability_that_moves(granularity):
    net = bridged(bridge="blend", granularity=granularity, normalize_states=True)
    assert isinstance(net.blend, BlendBridge)
    optimizer = torch.optim.Adam(net.blend_parameters(), lr=0.05)
    x = torch.randn(8, LOOKBACK, 3)
    y = 3 * x[:, -HORIZON:]  # a target the window explains, so the logit's gradient keeps its sign
    _, before = net(x, return_readouts=True)
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.mse_loss(net(x), y).backward()
        optimizer.step()
    _, after = net(x, return_readouts=True)
    values = after["blend/past_weight_values"]
    assert values.shape == {"scalar": (1,), "unit": (HIDDEN,), "gated": (LOOKBACK * HIDDEN,)}[granularity]
    assert 0.0 < after["blend/past_weight"].item() < 1.0
    assert (values - before["blend/past_weight_values"]).abs().max() > 1e-2  # Adam moved the logit(s)
    assert ((values > 0) & (values < 1)).all()
    assert 0.0 <= after["blend/past_share"].item() <= 1.0
    assert not any(readout.requires_grad for readout in after.values())
    assert ("blend/profile" in after) == (granularity == "gated")
    if granularity == "gated":
        assert after["blend/profile"].shape == (LOOKBACK,)


def test_blend_initial_weight_and_unit_granularity():
    net = bridged(bridge="blend", granularity="unit", init_past_weight=0.7)
    _, readouts = net(torch.randn(2, LOOKBACK, 3), return_readouts=True)
    torch.testing.assert_close(readouts["blend/past_weight_values"], torch.full((HIDDEN,), 0.7))


@pytest.mark.parametrize(("granularity", "weight"), [("scalar", 0.5), ("unit", 1.0)])
def test_a_fixed_past_weight_stays_where_it_is_set_while_the_net_trains(granularity, weight):
    """The control for reading a learned ``a``: the same net with ``a`` held at its start."""
    net = bridged(bridge="blend", granularity=granularity, init_past_weight=weight, learn_past_weight=False)
    assert net.blend_parameters() == []
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    x = torch.randn(8, LOOKBACK, 3)
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.mse_loss(net(x), 3 * x[:, -HORIZON:]).backward()
        optimizer.step()
    _, readouts = net(x, return_readouts=True)
    size = 1 if granularity == "scalar" else HIDDEN
    torch.testing.assert_close(readouts["blend/past_weight_values"], torch.full((size,), weight))
    reloaded = bridged(bridge="blend", granularity=granularity, init_past_weight=0.3, learn_past_weight=False)
    reloaded.load_state_dict(net.state_dict())  # the fixed weight is a buffer: a saved control keeps its a
    net.eval(), reloaded.eval()
    torch.testing.assert_close(reloaded(x), net(x))


def test_blend_share_reflects_the_weight():
    blend = BlendBridge(HIDDEN, "scalar", normalize_states=True, init_past_weight=0.8)
    h = torch.randn(2, LOOKBACK, HIDDEN)
    _, readouts = blend(h, -h)  # same norms after layer norm: the share equals a
    torch.testing.assert_close(readouts["blend/past_share"], torch.tensor(0.8))


def test_gated_readouts_describe_the_pass_that_returned_them():
    """Two passes on different inputs return different gate profiles; neither is kept in the module."""
    net = bridged(bridge="blend", granularity="gated").eval()
    with torch.no_grad():
        net.blend.gate.weight.normal_()  # make the gate depend on its input
        _, first = net(torch.randn(4, LOOKBACK, 3), return_readouts=True)
        _, second = net(torch.randn(4, LOOKBACK, 3) * 5, return_readouts=True)
    assert not torch.allclose(first["blend/profile"], second["blend/profile"])
    assert not any(isinstance(value, torch.Tensor) and value.dim() >= 1 and value.shape[-1] == LOOKBACK
                   for value in vars(net.blend).values())


@pytest.mark.parametrize("score", ["dot", "additive"])
@pytest.mark.parametrize("head", ["last", "flatten"])
def test_attention_weights_sum_to_one_over_the_lookback(score, head):
    net = bridged(bridge="attention", score=score, head=head, channel_independent=True)
    _, readouts = net(torch.randn(5, LOOKBACK, 3), return_readouts=True)
    weights = readouts["attention/weights"]
    positions = 1 if head == "last" else LOOKBACK
    assert weights.shape == (5 * 3, positions, LOOKBACK)  # batch is B * C with channel independence
    torch.testing.assert_close(weights.sum(-1), torch.ones(15, positions))
    assert 0.0 <= readouts["attention/entropy"].item() <= torch.log(torch.tensor(LOOKBACK)).item() + 1e-5


def test_feedback_passes_zero_equals_the_plain_stack():
    """With passes=0, FeedbackLSTM is earlier LSTM -> BridgedLSTM, built here by hand."""
    options = {"bridge": "blend", "granularity": "unit", "linear_skip": True}
    feedback = bridged(FeedbackLSTM, passes=0, revin=True, **options).eval()
    stack = bridged(n_inputs=HIDDEN, **options).eval()  # its encoder reads the earlier states
    shared = {k: v for k, v in feedback.state_dict().items() if not k.startswith("earlier")}
    stack.load_state_dict(shared)  # every weight but the earlier LSTM's; this revin has none
    earlier = nn.LSTM(3, HIDDEN, batch_first=True)
    earlier.load_state_dict(
        {
            k: v[:, :3] if k == "weight_ih_l0" else v
            for k, v in feedback.earlier.state_dict().items()
        }
    )
    x = torch.randn(4, LOOKBACK, 3)
    with torch.no_grad():
        normalized, stats = feedback.window_norm.normalize(x)
        early, _ = earlier(normalized)
        h_fwd, h_bwd, mixed, _ = stack.encode(early, None)
        y, _ = stack.decode(mixed, h_fwd, h_bwd)
        y = y + stack.skip(normalized.transpose(1, 2)).transpose(1, 2)
        expected = feedback.window_norm.denormalize(y, stats)
        torch.testing.assert_close(feedback(x), expected)
        feedback.passes = 1
        assert not torch.allclose(feedback(x), expected)


def test_feedback_refuses_attention_and_negative_passes():
    with pytest.raises(ValueError, match="attention"):
        bridged(FeedbackLSTM, passes=1, bridge="attention", score="dot")
    with pytest.raises(ValueError, match="passes"):
        bridged(FeedbackLSTM, passes=-1)


@pytest.mark.parametrize("bridge", [*BRIDGES, "feedback"])
def test_ablation_changes_the_forecast(bridge):
    if bridge == "feedback":
        net = bridged(FeedbackLSTM, passes=1, **BRIDGES["blend_scalar"]).eval()
    else:
        net = bridged(**BRIDGES[bridge]).eval()
    x = torch.randn(6, LOOKBACK, 3)
    with torch.no_grad():
        plain = net(x)
        for ablate in ("past", "future"):
            assert not torch.allclose(net(x, ablate=ablate), plain)
