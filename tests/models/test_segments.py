"""Segment-wise recurrence and the parallel multi-step (pmf) head: equality with the per-step net at
w = 1, shapes and readouts over segments, and the error of every option."""

import math

import pytest
import torch
import torch.nn.functional as F
from model_configs import HIDDEN, HORIZON, LOOKBACK

from tsbridge.models import BiLSTMForecaster, BridgedLSTM, FeedbackLSTM, LSTMForecaster, build_model
from tsbridge.models.segments import cut_segments

RECURRENT = {
    "blend": (BridgedLSTM, {"bridge": "blend"}),
    "feedback": (FeedbackLSTM, {"bridge": "blend", "passes": 1}),
    "lstm": (LSTMForecaster, {}),
    "bilstm": (BiLSTMForecaster, {}),
}


def recurrent(name, seed=0, **options):
    cls, variant = RECURRENT[name]
    torch.manual_seed(seed)
    kwargs = {"n_inputs": 3, "n_targets": 3, "lookback": LOOKBACK, "horizon": HORIZON, "hidden_size": HIDDEN}
    return cls(**{**kwargs, **variant, **options})


def test_cut_segments_keeps_samples_and_steps_apart():
    x = 100 * torch.arange(2.0).view(2, 1, 1) + 10 * torch.arange(3.0).view(1, 1, 3) + torch.arange(8.0).view(1, 8, 1)
    segments = cut_segments(x, 4)  # (B, S, w*C), marker value = 100 * sample + 10 * channel + step
    assert segments.shape == (2, 2, 12)
    assert segments[1, 1].tolist() == [x[1, step, channel].item() for step in range(4, 8) for channel in range(3)]


def test_per_step_net_at_segment_length_one_is_the_old_net():
    """w = 1 adds no parameter (old checkpoints load) and runs the per-step path, composed here by hand."""
    net = recurrent("blend", segment_length=1, channel_independent=True).eval()
    assert list(net.state_dict()) == [
        "skip.weight", "skip.bias", "bridge.logit",
        *[f"encoder.rnn.{kind}_l0{side}" for side in ("", "_reverse")
          for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")],
        *[f"decoder.{kind}_l0" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")],
        "head.linear.weight", "head.linear.bias",
    ]  # fmt: skip
    assert net.encoder.rnn.input_size == 1
    x = torch.randn(4, LOOKBACK, 3)
    with torch.no_grad():
        normalized, stats = net.window_norm.normalize(x)
        steps = normalized.transpose(1, 2).reshape(12, LOOKBACK, 1)  # (B*C, L, 1): one row per channel window
        states, _ = net.encoder.rnn(steps)
        h_fwd, h_bwd = (F.layer_norm(h, (HIDDEN,)) for h in states.split(HIDDEN, dim=-1))
        a = torch.sigmoid(net.bridge.logit)
        decoded, _ = net.decoder(a * h_fwd + (1 - a) * h_bwd)
        y = net.head.linear(decoded[:, -1]) + net.skip(steps.squeeze(-1))  # (B*C, H)
        expected = net.window_norm.denormalize(y.view(4, 3, HORIZON).transpose(1, 2), stats)
        assert torch.equal(net(x), expected)


@pytest.mark.parametrize("name", RECURRENT)
def test_segments_add_only_the_embedding(name):
    per_step, segmented = recurrent(name), recurrent(name, segment_length=4)
    added = set(segmented.state_dict()) - set(per_step.state_dict())
    assert added == {"segments.linear.weight", "segments.linear.bias"}
    assert segmented.segments.linear.in_features == 4 * 3 and segmented.segments.linear.out_features == HIDDEN
    assert segmented.segments.steps == LOOKBACK // 4


@pytest.mark.parametrize("name", RECURRENT)
@pytest.mark.parametrize("segment_length", [3, 0, 17, True])
def test_segment_length_must_divide_the_lookback(name, segment_length):
    match = "segment_length.*must divide lookback \\(16\\)" if segment_length in (3, 17) else "segment_length"
    with pytest.raises(ValueError, match=match):
        recurrent(name, segment_length=segment_length)


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("blend", {"head": "mean"}, "head must be one of"),
        ("lstm", {"head": "segments"}, "head must be one of"),
        ("blend", {"output_segment_length": 4}, "output_segment_length applies to head='pmf' only"),
        ("bilstm", {"head": "flatten", "segment_length": 4, "output_segment_length": 4}, "output_segment_length"),
        ("blend", {"head": "pmf", "output_segment_length": 0}, "output_segment_length"),
        ("blend", {"head_dropout": 1.0}, "head_dropout"),
        ("lstm", {"head": "pmf"}, "needs segment_length > 1"),
        ("bilstm", {"head": "pmf", "segment_length": 1}, "needs segment_length > 1"),
    ],
)
def test_invalid_segment_and_head_options_are_named(name, options, match):
    with pytest.raises(ValueError, match=match):
        recurrent(name, **options)


def test_readouts_are_per_segment():
    """Gate profile and attention weights have one entry per segment (S = L / w) instead of per step."""
    segments = LOOKBACK // 4
    x = torch.randn(2, LOOKBACK, 3)
    _, gated = recurrent("blend", granularity="gated", segment_length=4)(x, return_readouts=True)
    assert gated["blend/profile"].shape == (segments,)
    assert gated["blend/past_weight_values"].shape == (segments * HIDDEN,)
    for head, queries in (("last", 1), ("flatten", segments), ("pmf", math.ceil(HORIZON / 3))):
        options = {"output_segment_length": 3} if head == "pmf" else {}
        net = recurrent("blend", bridge="attention", head=head, segment_length=4, channel_independent=True, **options)
        _, readouts = net(x, return_readouts=True)
        assert readouts["attention/weights"].shape == (2 * 3, queries, segments)  # (B*C, P, S)
        torch.testing.assert_close(readouts["attention/weights"].sum(-1), torch.ones(6, queries))


@pytest.mark.parametrize("name", RECURRENT)
@pytest.mark.parametrize("horizon", [1, 5, 7, 8])
@pytest.mark.parametrize("channel_independent", [False, True])
def test_pmf_covers_any_horizon(name, horizon, channel_independent):
    """ceil(H / w_out) output segments, the last one trimmed to H."""
    net = recurrent(name, head="pmf", segment_length=4, horizon=horizon, channel_independent=channel_independent)
    assert net.head.positions == net.pmf.output_segments == math.ceil(horizon / 4)
    assert (net.pmf.channel is not None) == channel_independent
    y = net(torch.randn(2, LOOKBACK, 3))
    assert y.shape == (2, horizon, 3)
    y.sum().backward()
    assert net.pmf.position.grad.abs().sum() > 0


def test_pmf_output_segments_are_decoded_in_parallel():
    """Output segment k reads only position embedding k: changing embedding 1 leaves segment 0 as it was."""
    net = recurrent("blend", head="pmf", segment_length=4, output_segment_length=2).eval()
    x = torch.randn(3, LOOKBACK, 3)
    with torch.no_grad():
        before = net(x)
        net.pmf.position[1] += 1.0
        after = net(x)
    torch.testing.assert_close(after[:, :2], before[:, :2], rtol=0, atol=0)
    assert not torch.allclose(after[:, 2:], before[:, 2:])


def test_pmf_channel_embeddings_tell_channels_apart():
    """The same window on every channel gives different forecasts only through the channel embeddings."""
    net = recurrent("lstm", head="pmf", segment_length=4, channel_independent=True, linear_skip=False).eval()
    x = torch.randn(1, LOOKBACK, 1).expand(2, LOOKBACK, 3)
    with torch.no_grad():
        distinct = net(x)
        net.pmf.channel.copy_(net.pmf.channel[:1].expand(3, -1))
        shared = net(x)
    assert not torch.allclose(distinct[..., 0], distinct[..., 1])
    torch.testing.assert_close(shared[..., 0], shared[..., 1])


@pytest.mark.parametrize("name", ["blend", "bilstm"])
def test_pmf_forecast_depends_on_both_directions(name):
    """Ablating either direction changes the pmf forecast (bilstm: both final states start the decoder)."""
    net = recurrent(name, head="pmf", segment_length=4).eval()
    x = torch.randn(4, LOOKBACK, 3)
    with torch.no_grad():
        plain = net(x)
        for ablate in ("past", "future"):
            assert not torch.allclose(net(x, ablate=ablate), plain)


def test_bridges_take_pmf_over_per_step_states():
    """A bridge keeps its per-step encoder (w = 1) and still decodes in parallel output segments."""
    net = recurrent("blend", head="pmf", segment_length=1, output_segment_length=3)
    assert net.segments.linear is None
    assert net(torch.randn(2, LOOKBACK, 3)).shape == (2, HORIZON, 3)


def test_head_dropout_replaces_dropout_before_the_head_only():
    net = recurrent("blend", dropout=0.1, head_dropout=0.5)
    assert (net.bridge_dropout.p, net.head.dropout.p) == (0.1, 0.5)
    assert recurrent("lstm", dropout=0.2).head.dropout.p == 0.2


def test_segrnn_sized_segment_bridge_trains():
    """Hidden size 512, a day per segment, parallel decoding, channel independence: finite and trainable."""
    net = build_model(
        "blend", 3, 3, 48, 30, hidden_size=512, segment_length=24, head="pmf", channel_independent=True
    )
    loss = net(torch.randn(2, 48, 3)).square().mean()
    loss.backward()
    assert torch.isfinite(loss) and net.segments.linear.weight.grad.abs().sum() > 0
