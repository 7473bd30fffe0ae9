"""BridgedLSTM: (segment embedding ->) BiLSTM encoder -> bridge -> LSTM -> direct multi-step head."""

from typing import Any

from torch import Tensor, nn

from tsbridge.models._checks import check_dropout, check_positive_int
from tsbridge.models.base import ForecastNet, Readouts
from tsbridge.models.bridges import AttentionBridge, BlendBridge, build_bridge
from tsbridge.models.cells import recurrent_layer
from tsbridge.models.encoder import BidirectionalEncoder
from tsbridge.models.head import ForecastHead, check_head_options
from tsbridge.models.pmf import ParallelDecoder
from tsbridge.models.segments import SegmentEmbedding


class BridgedLSTM(ForecastNet):
    """A BiLSTM over the window whose forward and backward states, aligned step by step, are
    handed by a bridge to a second (causal) LSTM; a head maps its states to the whole horizon.

    With ``segment_length`` w > 1 the window is read as L / w embedded segments (see
    :mod:`tsbridge.models.segments`) and everything after works on segment states: at segment s the
    forward state has read segments 1..s and the backward state segments s..L/w, so the blend
    weight still weighs "before" against "after" inside the window.

    Args:
        n_inputs, n_targets, lookback, horizon: See :class:`~tsbridge.models.base.ForecastNet`.
        hidden_size: Units per direction of the BiLSTM, and of the second LSTM.
        bridge: ``"concat"``, ``"blend"`` or ``"attention"`` (see :mod:`tsbridge.models.bridges`).
        num_layers: Stacked layers of the BiLSTM and of the second LSTM.
        dropout: Dropout between stacked LSTM layers, on the bridged sequence, and before the head
            (unless ``head_dropout`` is set).
        head: ``"last"``, ``"flatten"`` or ``"pmf"`` (see :data:`~tsbridge.models.head.HEAD_KINDS`);
            ``"pmf"`` steps the second LSTM once per output segment from its final state
            (:class:`~tsbridge.models.pmf.ParallelDecoder`).
        segment_length: Look-back steps w per recurrent step (a divisor of ``lookback``); 1 is the
            per-step net, w > 1 embeds each segment into ``hidden_size`` features.
        output_segment_length: ``head="pmf"`` only: horizon steps per output segment; None means
            ``segment_length``.
        head_dropout: Dropout on the head's input (SegRNN's dropout "before the decoder" sits
            there alone); None means ``dropout``.
        granularity, normalize_states, init_past_weight, learn_past_weight: Blend options (``bridge="blend"``
            only; another bridge refuses them when set away from these defaults). ``learn_past_weight=False``
            fixes a at ``init_past_weight`` (None: 0.5): the control run that tells a learned a from its start.
        score: Attention score (``bridge="attention"`` only).
        cell: ``"lstm"`` or ``"gru"``: the cell of the bidirectional encoder and of the second layer
            (:data:`~tsbridge.models.cells.CELLS`).
        norm, revin, revin_affine, channel_independent, linear_skip: See
            :class:`~tsbridge.models.base.ForecastNet`.
        **options: The other options of :class:`~tsbridge.models.base.ForecastNet`: ``n_future`` (known-future
            inputs, read by the head at every forecast step), ``levels`` and ``distribution`` (intervals).
    """

    bidirectional = True

    def __init__(
        self,
        n_inputs: int,
        n_targets: int,
        lookback: int,
        horizon: int,
        hidden_size: int = 64,
        bridge: str = "blend",
        num_layers: int = 1,
        dropout: float = 0.1,
        *,
        head: str = "last",
        segment_length: int = 1,
        output_segment_length: int | None = None,
        head_dropout: float | None = None,
        granularity: str = "scalar",
        normalize_states: bool = True,
        init_past_weight: float | None = None,
        learn_past_weight: bool = True,
        score: str = "dot",
        cell: str = "lstm",
        norm: str = "revin",
        revin: bool | None = None,
        revin_affine: bool = False,
        channel_independent: bool = False,
        linear_skip: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(
            n_inputs,
            n_targets,
            lookback,
            horizon,
            norm=norm,
            revin=revin,
            revin_affine=revin_affine,
            channel_independent=channel_independent,
            linear_skip=linear_skip,
            **options,
        )
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        check_positive_int("num_layers", num_layers)
        check_dropout("dropout", dropout)
        output_segment_length, head_dropout = check_head_options(
            head, segment_length, output_segment_length, dropout, head_dropout
        )
        self.segments = SegmentEmbedding(lookback, self.core_inputs, segment_length, hidden_size)
        self.bridge = build_bridge(
            bridge,
            hidden_size,
            granularity=granularity,
            normalize_states=normalize_states,
            init_past_weight=init_past_weight,
            learn_past_weight=learn_past_weight,
            score=score,
        )
        self.cell = cell
        self.encoder = BidirectionalEncoder(self._encoder_input_size(), hidden_size, num_layers, dropout, cell)
        self.bridge_dropout = nn.Dropout(dropout)
        self.decoder = recurrent_layer(cell, self.bridge.output_size, hidden_size, num_layers, dropout)
        self.pmf = None
        if head == "pmf":  # the second LSTM continues from its final state, one step per output segment
            channels = n_inputs if channel_independent else None
            self.pmf = ParallelDecoder(self.bridge.output_size, horizon, output_segment_length, channels)
        self.head = ForecastHead(
            head,
            self.segments.steps,
            self.bridge.readout_size,
            horizon,
            self.core_outputs,
            head_dropout,
            output_segment_length,
            self.n_future,
        )

    def _encoder_input_size(self) -> int:
        return self.segments.output_size

    @property
    def blend(self) -> BlendBridge | None:
        """The BlendBridge, or None for other bridges."""
        return self.bridge if isinstance(self.bridge, BlendBridge) else None

    @property
    def attention(self) -> AttentionBridge | None:
        """The AttentionBridge, or None for other bridges."""
        return self.bridge if isinstance(self.bridge, AttentionBridge) else None

    def core(self, x: Tensor, ablate: str | None, channel_ids: Tensor | None = None,
             x_future: Tensor | None = None) -> tuple[Tensor, Readouts]:
        """(B, L, core_inputs) -> (B, H, core_outputs), with the bridge's readouts of this pass."""
        h_fwd, h_bwd, bridged, readouts = self.encode(self.segments(x), ablate)  # over S = L / w steps
        y, head_readouts = self.decode(bridged, h_fwd, h_bwd, channel_ids, x_future)
        return y, {**readouts, **head_readouts}

    def encode(self, x: Tensor, ablate: str | None) -> tuple[Tensor, Tensor, Tensor, Readouts]:
        """From the recurrent input (B, S, segments.output_size) (S = L / w embedded segments, or
        the L steps at w = 1), return the encoder states ``h_fwd, h_bwd`` (B, S, N), the bridged
        sequence (B, S, bridge.output_size) and the bridge's readouts."""
        h_fwd, h_bwd = self.encoder(x, ablate)
        bridged, readouts = self.bridge(h_fwd, h_bwd)
        return h_fwd, h_bwd, bridged, readouts

    def decode(
        self, bridged: Tensor, h_fwd: Tensor, h_bwd: Tensor, channel_ids: Tensor | None = None,
        x_future: Tensor | None = None,
    ) -> tuple[Tensor, Readouts]:
        """Run the second LSTM over the bridged sequence and the head over its last states (or, with
        ``head="pmf"``, over one more step of it per output segment) and the known future ``x_future``."""
        # B: batch, S: recurrent steps, P: positions the head reads, N: hidden units, H: horizon
        states, final = self.decoder(self.bridge_dropout(bridged))  # (B, S, N), final state
        if self.pmf is None:
            queries = states[:, -self.head.positions :]  # (B, P, N)
        else:
            queries = self.pmf(self.decoder, final, channel_ids)  # (B, P, N), P output segments
        features, readouts = self.bridge.readout(queries, h_fwd, h_bwd)  # (B, P, readout_size)
        return self.head(features, x_future), readouts  # (B, H, T'*P)
