"""SegRNN, its blend bridge, and the options that make the comparison fair (cell, norm, skip initialisation)."""

import warnings

import pytest
import torch
import torch.nn.functional as F
from model_configs import HIDDEN, HORIZON, LOOKBACK
from torch import nn

from tsbridge.models import MODELS, BridgedSegRNN, LSTMForecaster, SegRNN, build_model

RECURRENT = [name for name, spec in MODELS.items() if spec.recurrent]
# The sizes SegRNN's tiny nets are built with here: 3 channels of LOOKBACK steps in segments of 4.
TINY = {"n_inputs": 3, "n_targets": 3, "lookback": LOOKBACK, "horizon": HORIZON, "hidden_size": HIDDEN,
        "segment_length": 4}


def tiny(cls=SegRNN, seed=0, **options):
    torch.manual_seed(seed)
    return cls(**{**TINY, **options})


def test_official_etth1_sizes_have_the_official_parameter_count():
    net = build_model("segrnn", 7, 7, 96, 96)
    counts = {name: sum(p.numel() for p in module.parameters()) for name, module in net.named_children()
              if any(True for _ in module.parameters())}
    # lss-1138/SegRNN models/SegRNN.py at enc_in=7, seq_len=pred_len=96, seg_len=24, d_model=512, channel_id=1:
    # valueEmbedding 24*512+512, GRU 3*(2*512*512 + 2*512), pos_emb 4*256 + channel_emb 7*256, predict 512*24+24.
    assert counts == {"segments": 12_800, "rnn": 1_575_936, "pmf": 1_024 + 1_792, "head": 12_312}
    assert sum(counts.values()) == 1_603_864
    assert isinstance(net.rnn, nn.GRU) and net.window_norm is not None and net.skip is None


# lss-1138/SegRNN's official commands (scripts/SegRNN/Lookback_96/<data>.sh and scripts/SegRNN/<data>.sh):
# (file, seq_len, seg_len, batch_size, learning_rate, dropout, patience); every one trains 30 epochs, d_model 512.
OFFICIAL = {
    "segrnn_etth1": ("etth1", 96, 24, 256, 0.001, 0.5, 10),
    "segrnn_etth1_720": ("etth1", 720, 24, 64, 0.0003, 0.1, 5),
    "segrnn_ettm1": ("ettm1", 96, 48, 256, 0.0002, 0.5, 10),
    "segrnn_ettm1_720": ("ettm1", 720, 48, 256, 0.0003, 0.5, 5),
}


@pytest.mark.parametrize("experiment", sorted(OFFICIAL))
def test_the_segrnn_experiments_are_the_official_commands(experiment):
    from tsbridge.config import compose_config

    cfg = compose_config([f"experiment={experiment}"])
    got = (cfg.data.frame.name, cfg.data.lookback, cfg.model.segment_length, cfg.data.batch_size,
           cfg.module.optimizer.lr, cfg.model.dropout, cfg.callbacks.early_stopping.patience)
    assert got == OFFICIAL[experiment]
    assert (cfg.model._target_, cfg.model.hidden_size, cfg.trainer.max_epochs) == ("tsbridge.models.SegRNN", 512, 30)
    assert (cfg.data.features, cfg.data.split) == ("M", "ett-hourly" if "etth1" in experiment else "ett-15min")
    # data_provider/data_factory.py: the training loader drops its last, partial batch.
    assert (cfg.data.drop_last, cfg.data.shuffle_val) == (True, False)


def test_the_widened_control_has_the_bridge_s_parameters():
    """Issue 18's capacity control: a unidirectional SegRNN with as many parameters as the blend bridge's BiGRU
    (``model=segrnn model.hidden_size=724``; benchmarks/README.md, "SegRNN parity"), so a bridge gain is not a
    parameter gain."""
    def count(net: nn.Module) -> int:
        return sum(p.numel() for p in net.parameters())

    bridge = count(build_model("segrnn_blend", 7, 7, 96, 96))
    widened = count(build_model("segrnn", 7, 7, 96, 96, hidden_size=724))
    assert abs(widened / bridge - 1) < 0.005  # 3,188,882 against 3,179,801
    assert count(build_model("segrnn", 7, 7, 96, 96, hidden_size=722)) < bridge < widened  # the nearest even sizes


def official_forward(net: SegRNN, x: torch.Tensor) -> torch.Tensor:
    """SegRNN's forward (models/SegRNN.py, rnn_type gru, dec_way pmf, channel_id 1, revin 0) transcribed with the
    port's weights: subtract the last value, embed segments, encode, decode all output segments from h_n at once."""
    batch, lookback, channels = x.shape
    width, segments_out = net.segments.segment_length, net.pmf.output_segments
    seq_last = x[:, -1:, :]
    series = (x - seq_last).permute(0, 2, 1)  # b, c, s
    embedded = F.relu(net.segments.linear(series.reshape(-1, lookback // width, width)))  # bc, n, d
    _, hn = net.rnn(embedded)  # 1, bc, d
    pos_emb = torch.cat([net.pmf.position.unsqueeze(0).repeat(channels, 1, 1),
                         net.pmf.channel.unsqueeze(1).repeat(1, segments_out, 1)], dim=-1)
    pos_emb = pos_emb.view(-1, 1, net.rnn.hidden_size).repeat(batch, 1, 1)  # bcm, 1, d
    _, hy = net.rnn(pos_emb, hn.repeat(1, 1, segments_out).view(1, -1, net.rnn.hidden_size))  # 1, bcm, d
    y = net.head.linear(net.head.dropout(hy)).view(-1, channels, segments_out * width)[..., : net.horizon]
    return y.permute(0, 2, 1) + seq_last


def test_forward_is_the_official_algorithm():
    net = tiny(channel_independent=True).eval()
    x = torch.randn(5, LOOKBACK, 3) * 3 + 10
    with torch.no_grad():
        torch.testing.assert_close(net(x), official_forward(net, x), rtol=0, atol=1e-5)


def test_the_blend_fixed_at_one_is_segrnn_and_learns_only_what_segrnn_learns():
    segrnn, bridged = tiny(), tiny(BridgedSegRNN, init_past_weight=1.0, learn_past_weight=False)
    shared = {k: v for k, v in bridged.state_dict().items() if not k.startswith(("backward_rnn.", "bridge."))}
    assert all(torch.equal(value, segrnn.state_dict()[key]) for key, value in shared.items())  # same seed, same init
    x = torch.randn(4, LOOKBACK, 3)
    assert torch.equal(segrnn.eval()(x), bridged.eval()(x))
    bridged(x).square().mean().backward()
    assert all(p.grad is None or not p.grad.any() for p in bridged.backward_rnn.parameters())
    assert bridged.blend_parameters() == []


def test_a_learned_blend_reads_both_directions_and_logs_its_weight():
    net = tiny(BridgedSegRNN)
    y, readouts = net(torch.randn(4, LOOKBACK, 3), return_readouts=True)
    assert readouts["blend/past_weight"].item() == pytest.approx(0.5)
    y.square().mean().backward()
    assert net.bridge.logit.grad.abs().sum() > 0
    assert all(p.grad.abs().sum() > 0 for p in net.backward_rnn.parameters())
    assert net.blend_parameters() == [net.bridge.logit]


def test_an_even_blend_differs_from_segrnn():
    x = torch.randn(4, LOOKBACK, 3)
    with torch.no_grad():
        assert not torch.allclose(tiny().eval()(x), tiny(BridgedSegRNN, learn_past_weight=False).eval()(x))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_one_segment_leaves_nothing_to_weigh(cell):
    """w = L: both directions read the one segment; with the backward layer's weights equal to the forward
    one's their summaries are equal and the forecast does not depend on a."""
    forecasts = []
    for weight in (0.0, 0.3, 1.0):
        net = tiny(BridgedSegRNN, cell=cell, segment_length=LOOKBACK, init_past_weight=weight,
                   learn_past_weight=False).eval()
        net.backward_rnn.load_state_dict(net.rnn.state_dict())
        with torch.no_grad():
            forecasts.append(net(torch.ones(2, LOOKBACK, 3).cumsum(1)))
    torch.testing.assert_close(forecasts[0], forecasts[1], rtol=0, atol=1e-6)
    torch.testing.assert_close(forecasts[0], forecasts[2], rtol=0, atol=1e-6)


def test_the_blend_bridge_needs_parallel_decoding():
    with pytest.raises(ValueError, match="head='pmf'"):
        tiny(BridgedSegRNN, head="last")


@pytest.mark.parametrize("name", RECURRENT)
def test_cell_gru_builds_only_grus(name):
    options = {**TINY, "cell": "gru"}
    if MODELS[name].net_class not in ("SegRNN", "BridgedSegRNN"):
        options.pop("segment_length")
    net = build_model(name, **options)
    kinds = {type(m) for m in net.modules() if isinstance(m, nn.RNNBase)}
    assert kinds == {nn.GRU}
    assert net(torch.randn(2, LOOKBACK, 3)).shape == (2, HORIZON, 3)
    with pytest.raises(ValueError, match="cell must be one of"):
        build_model(name, **{**options, "cell": "rnn"})


@pytest.mark.parametrize("name", RECURRENT)
def test_norm_last_forecasts_move_with_the_level(name):
    """Subtracting the last value makes every net translation-equivariant: a window shifted by c is forecast
    shifted by c, whatever the weights."""
    options = {**TINY, "norm": "last", "channel_independent": True}
    if MODELS[name].net_class not in ("SegRNN", "BridgedSegRNN"):
        options.pop("segment_length")
    torch.manual_seed(0)
    net = build_model(name, **options).eval()
    x = torch.randn(3, LOOKBACK, 3)
    with torch.no_grad():
        torch.testing.assert_close(net(x + 100.0), net(x) + 100.0, rtol=0, atol=1e-4)


def test_revin_flag_is_an_alias_of_norm():
    assert type(tiny(LSTMForecaster, revin=False).window_norm).__name__ == "NoneType"
    assert type(tiny(LSTMForecaster, revin=True, norm="none").window_norm).__name__ == "RevIN"
    assert type(tiny(revin=False).window_norm).__name__ == "LastValueNorm"  # SegRNN's --revin 0
    assert type(tiny(revin=True).window_norm).__name__ == "RevIN"  # SegRNN's --revin 1
    with pytest.raises(ValueError, match="norm must be one of"):
        tiny(norm="mean")
    with pytest.raises(ValueError, match="revin_affine=True needs norm='revin'"):
        tiny(revin_affine=True)


@pytest.mark.parametrize("name", [n for n in RECURRENT if MODELS[n].net_class not in ("SegRNN", "BridgedSegRNN")])
def test_the_linear_skip_starts_at_zero(name):
    net = build_model(name, 3, 3, LOOKBACK, HORIZON, hidden_size=HIDDEN, linear_skip=True)
    assert not net.skip.weight.any() and not net.skip.bias.any()


def test_dropout_with_no_place_to_act_warns():
    with pytest.warns(UserWarning, match="dropout=0.1 acts nowhere"):
        tiny(LSTMForecaster, dropout=0.1, head_dropout=0.5, segment_length=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny(LSTMForecaster, dropout=0.1, head_dropout=0.5, num_layers=2, segment_length=1)
        tiny(LSTMForecaster, dropout=0.1, segment_length=1)  # acts before the head
        tiny()  # SegRNN's dropout acts before its output map
