"""SegRNN (Lin et al. 2023) in tsbridge's own code, and the blend bridge on top of it.

Lin, Lin, Yang, Chen and Wang, "SegRNN: Segment Recurrent Neural Network for Long-Term Time Series
Forecasting" (2023); official code: lss-1138/SegRNN (``models/SegRNN.py``). SegRNN is tsbridge's
:class:`~tsbridge.models.recurrent.LSTMForecaster` with the paper's choices, so the port shares every
component with the other recurrent nets: channel independence, last-value subtraction (``norm="last"``),
segment embedding (linear + ReLU, :mod:`tsbridge.models.segments`), one GRU layer, and parallel
multi-step decoding with position and channel embeddings (:class:`~tsbridge.models.pmf.ParallelDecoder`)
behind one dropout and one linear map per output segment (:class:`~tsbridge.models.head.ForecastHead`).
"""

from typing import Any

from torch import Tensor

from tsbridge.models.base import Readouts
from tsbridge.models.bridges import BlendBridge
from tsbridge.models.cells import State, map_state, recurrent_layer
from tsbridge.models.recurrent import LSTMForecaster


class SegRNN(LSTMForecaster):
    """SegRNN with the official defaults (``scripts/SegRNN/Lookback_96/etth1.sh``: d_model 512, segments of 24,
    dropout 0.5, GRU, PMF decoding, channel embeddings, no RevIN).

    Built with its sizes alone it is the official model: ``SegRNN(7, 7, 96, 96)`` has 1,603,864 parameters,
    as ``models/SegRNN.py`` has with ``enc_in=7, seq_len=96, pred_len=96, seg_len=24, d_model=512`` (segment
    embedding 12,800; GRU 1,575,936; position and channel embeddings 1,024 + 1,792; output map 12,312), and its
    modules are created in the same order, so one seed gives both the same initial weights. The official
    scripts change ``dropout`` (0.1 at L=720), the batch, learning rate and patience, which
    ``conf/experiment/segrnn_etth1*.yaml`` hold.

    Args:
        n_inputs, n_targets, lookback, horizon: See :class:`~tsbridge.models.base.ForecastNet`; with the
            default channel independence ``n_inputs == n_targets`` (settings S and M).
        hidden_size: SegRNN's ``d_model``: the segment embedding and the GRU state.
        dropout: Dropout before the output map (SegRNN's only dropout).
        Others: as :class:`~tsbridge.models.recurrent.LSTMForecaster`, with SegRNN's defaults.
    """

    def __init__(
        self,
        n_inputs: int,
        n_targets: int,
        lookback: int,
        horizon: int,
        hidden_size: int = 512,
        num_layers: int = 1,
        dropout: float = 0.5,
        *,
        head: str = "pmf",
        segment_length: int = 24,
        output_segment_length: int | None = None,
        head_dropout: float | None = None,
        cell: str = "gru",
        norm: str = "last",
        revin: bool | None = None,
        revin_affine: bool = False,
        channel_independent: bool = True,
        linear_skip: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(
            n_inputs, n_targets, lookback, horizon, hidden_size, num_layers, dropout, head=head,
            segment_length=segment_length, output_segment_length=output_segment_length, head_dropout=head_dropout,
            cell=cell, norm=norm, revin=revin, revin_affine=revin_affine, channel_independent=channel_independent,
            linear_skip=linear_skip, **options,
        )


class BridgedSegRNN(SegRNN):
    """SegRNN whose decoder starts from a blend of the window's forward and backward summaries.

    A second GRU reads the embedded segments backwards, so its final state sits at the first segment and has
    read the whole window from its end; the forward GRU's final state sits at the last segment. The parallel
    decoder continues the *forward* GRU (as SegRNN does) from ``a * h_fwd(last segment) + (1 - a) *
    h_bwd(first segment)`` (for an LSTM cell, the cell states are blended alike). Everything else (norm,
    embedding, head, their defaults) is SegRNN's, so the two differ only by the bridge: with ``a`` fixed at 1
    this net forecasts exactly what SegRNN does with the same weights, and a learned ``a`` reads out how
    much the forecast starts from the past-facing summary.

    Args:
        granularity: ``"scalar"`` (one a), ``"unit"`` (one per state unit) or ``"gated"`` (a computed from both
            summaries per sample and unit); see :class:`~tsbridge.models.bridges.BlendBridge`.
        init_past_weight: Initial a; None is 0.5.
        learn_past_weight: False fixes a at ``init_past_weight`` (a control: 1 is SegRNN, 0.5 an even blend).
        *args, **kwargs: SegRNN's arguments (``head`` must stay ``"pmf"``). The states are blended as they are
            (no layer norm): a = 1 must leave SegRNN's state untouched.
    """

    bidirectional = True

    def __init__(
        self, *args: Any, granularity: str = "scalar", init_past_weight: float | None = None,
        learn_past_weight: bool = True, **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)  # SegRNN's modules first: one seed initialises them alike
        if self.pmf is None:
            raise ValueError(f"{type(self).__name__} decodes from the blended state in parallel output segments: it "
                             f"needs head='pmf', got head={self.head.kind!r}")
        hidden_size, num_layers = self.rnn.hidden_size, self.rnn.num_layers
        self.backward_rnn = recurrent_layer(self.cell, self.segments.output_size, hidden_size, num_layers,
                                            self.rnn.dropout)
        self.bridge = BlendBridge(hidden_size, granularity, normalize_states=False,
                                  init_past_weight=init_past_weight, learn_past_weight=learn_past_weight)

    @property
    def blend(self) -> BlendBridge:
        """The blend of the two summaries."""
        return self.bridge

    def core(self, x: Tensor, ablate: str | None, channel_ids: Tensor | None = None,
             x_future: Tensor | None = None) -> tuple[Tensor, Readouts]:
        """(B, L, core_inputs) -> (B, H, core_outputs), with the blend's readouts of this pass."""
        # B: batch, S: segments, D: layers, N: hidden units, P: output segments
        inputs = self.segments(x)  # (B, S, N)
        _, forward_final = self.rnn(inputs)  # (D, B, N) each: has read segments 1..S
        _, backward_final = self.backward_rnn(inputs.flip(1))  # (D, B, N) each: has read segments S..1
        if ablate == "past":
            forward_final = map_state(_batch_mean, forward_final)
        elif ablate == "future":
            backward_final = map_state(_batch_mean, backward_final)
        start, readouts = self._blend(forward_final, backward_final)
        return self.head(self.pmf(self.rnn, start, channel_ids), x_future), readouts  # pmf: (B, P, N)

    def _blend(self, forward: State, backward: State) -> tuple[State, Readouts]:
        """Blend the two final states tensor by tensor; the readouts are those of ``h``."""
        if isinstance(forward, tuple):
            (h, readouts), (c, _) = (self._blend_tensor(f, b) for f, b in zip(forward, backward))
            return (h, c), readouts
        return self._blend_tensor(forward, backward)

    def _blend_tensor(self, forward: Tensor, backward: Tensor) -> tuple[Tensor, Readouts]:
        blended, readouts = self.bridge(forward.transpose(0, 1), backward.transpose(0, 1))  # (B, D, N)
        return blended.transpose(0, 1).contiguous(), readouts  # (D, B, N)


def _batch_mean(state: Tensor) -> Tensor:
    """A final state (D, B, N) with every sample's replaced by the batch mean (the ablation of a direction)."""
    return state.mean(dim=1, keepdim=True).expand_as(state).contiguous()
