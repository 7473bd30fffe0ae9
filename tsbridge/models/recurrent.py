"""Recurrent baselines without a bridge: a unidirectional LSTM (or GRU) stack and a bidirectional one with a head."""

import warnings
from typing import Any

import torch
from torch import Tensor

from tsbridge.models._checks import check_dropout, check_positive_int
from tsbridge.models.base import ForecastNet, Readouts
from tsbridge.models.cells import recurrent_layer
from tsbridge.models.encoder import BidirectionalEncoder
from tsbridge.models.head import ForecastHead, check_head_options
from tsbridge.models.pmf import ParallelDecoder
from tsbridge.models.segments import SegmentEmbedding


class _RecurrentBaseline(ForecastNet):
    """Shared signature and validation of the recurrent baselines; subclasses build the LSTM.

    Args:
        n_inputs, n_targets, lookback, horizon: See :class:`~tsbridge.models.base.ForecastNet`.
        hidden_size: Recurrent units (per direction for the bidirectional net).
        num_layers: Stacked recurrent layers.
        dropout: Dropout between stacked layers and before the head (unless ``head_dropout`` is set); a
            one-layer net whose ``head_dropout`` is set has no place for it, and a non-zero value warns.
        head: ``"last"``, ``"flatten"`` or ``"pmf"`` (see :data:`~tsbridge.models.head.HEAD_KINDS`);
            ``"pmf"`` steps the net's LSTM once more per output segment, with a position (and
            channel) token in place of an embedded segment, so it needs ``segment_length > 1``.
        segment_length: Look-back steps w per recurrent step (a divisor of ``lookback``); 1 is the
            per-step net, w > 1 embeds each segment into ``hidden_size`` features (SegRNN).
        output_segment_length: ``head="pmf"`` only: horizon steps per output segment; None means
            ``segment_length``.
        head_dropout: Dropout on the head's input; None means ``dropout``.
        cell: ``"lstm"`` or ``"gru"``: the recurrent layer (:data:`~tsbridge.models.cells.CELLS`).
        norm, revin, revin_affine, channel_independent, linear_skip: See ``ForecastNet``.
        **options: The other options of ``ForecastNet``: ``n_future``, ``levels``, ``distribution``.
    """

    def __init__(
        self,
        n_inputs: int,
        n_targets: int,
        lookback: int,
        horizon: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.1,
        *,
        head: str = "last",
        segment_length: int = 1,
        output_segment_length: int | None = None,
        head_dropout: float | None = None,
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
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("num_layers", num_layers)
        check_dropout("dropout", dropout)
        output_segment_length, head_dropout = check_head_options(
            head, segment_length, output_segment_length, dropout, head_dropout
        )
        if head == "pmf" and segment_length == 1:
            raise ValueError(
                f"head='pmf' on {type(self).__name__} feeds position/channel tokens to the recurrent layer in "
                "place of embedded segments, so it needs segment_length > 1, got 1"
            )
        if dropout and num_layers == 1 and head_dropout != dropout:
            warnings.warn(f"dropout={dropout} acts nowhere in a one-layer {type(self).__name__} whose head_dropout "
                          f"is set ({head_dropout}): set dropout=0, or head_dropout=null to use it before the head",
                          UserWarning, stacklevel=3)
        self.cell = cell
        self.segments = SegmentEmbedding(lookback, self.core_inputs, segment_length, hidden_size)
        features = self._build(cell, hidden_size, num_layers, dropout)
        self.pmf = None
        if head == "pmf":
            channels = n_inputs if channel_independent else None
            self.pmf = ParallelDecoder(self.segments.output_size, horizon, output_segment_length, channels)
        self.head = ForecastHead(
            head, self.segments.steps, features, horizon, self.core_outputs, head_dropout, output_segment_length,
            self.n_future,
        )

    def _build(self, cell: str, hidden_size: int, num_layers: int, dropout: float) -> int:
        """Build the recurrent layer (reading ``segments.output_size`` features per step); return the head's
        feature size."""
        raise NotImplementedError


class LSTMForecaster(_RecurrentBaseline):
    """Unidirectional LSTM (or GRU) stack -> direct multi-step head (the usual LSTM baseline; with
    ``segment_length > 1``, ``head="pmf"``, ``cell="gru"`` and ``norm="last"`` it is SegRNN:
    :class:`~tsbridge.models.segrnn.SegRNN` has those defaults).

    Arguments as :class:`_RecurrentBaseline`.
    """

    def _build(self, cell: str, hidden_size: int, num_layers: int, dropout: float) -> int:
        self.rnn = recurrent_layer(cell, self.segments.output_size, hidden_size, num_layers, dropout)
        return hidden_size

    def core(self, x: Tensor, ablate: str | None, channel_ids: Tensor | None = None,
             x_future: Tensor | None = None) -> tuple[Tensor, Readouts]:
        """(B, L, core_inputs) -> (B, H, core_outputs); no readouts."""
        # B: batch, S: recurrent steps (L / w), P: positions the head reads, N: hidden units
        states, final = self.rnn(self.segments(x))  # (B, S, N), final state
        if self.pmf is None:
            return self.head(states[:, -self.head.positions :], x_future), {}  # reads (B, P, N)
        return self.head(self.pmf(self.rnn, final, channel_ids), x_future), {}  # (B, P, N), P output segments


class BiLSTMForecaster(_RecurrentBaseline):
    """Bidirectional LSTM (or GRU) encoder -> head, no bridge and no second LSTM (isolates what a bridge adds).

    With ``head="last"`` the head reads each direction's final state, the forward one at step L
    and the backward one at step 1 (the only states that have seen the whole window); with
    ``"flatten"`` it reads ``[h_fwd_t ; h_bwd_t]`` at every step. With ``"pmf"`` the BiLSTM takes
    one more step per output segment, each direction continuing from those same final states
    (the forward one from the window's end, the backward one from its start, every layer), and the
    head reads both directions' outputs ``(2N)``. Arguments as :class:`_RecurrentBaseline`,
    ``hidden_size`` being the units per direction; with segments, "step" reads "segment".
    """

    bidirectional = True

    def _build(self, cell: str, hidden_size: int, num_layers: int, dropout: float) -> int:
        self.encoder = BidirectionalEncoder(self.segments.output_size, hidden_size, num_layers, dropout, cell)
        return 2 * hidden_size

    def core(self, x: Tensor, ablate: str | None, channel_ids: Tensor | None = None,
             x_future: Tensor | None = None) -> tuple[Tensor, Readouts]:
        """(B, L, core_inputs) -> (B, H, core_outputs); no readouts."""
        # B: batch, S: recurrent steps (L / w), N: hidden units per direction, P: output segments
        inputs = self.segments(x)  # (B, S, E)
        if self.pmf is not None:
            _, _, final = self.encoder(inputs, ablate, return_state=True)  # (2 * layers, B, N) each
            return self.head(self.pmf(self.encoder.rnn, final, channel_ids), x_future), {}  # reads (B, P, 2N)
        h_fwd, h_bwd = self.encoder(inputs, ablate)  # (B, S, N) each
        if self.head.kind == "last":
            summary = torch.cat([h_fwd[:, -1:], h_bwd[:, :1]], dim=-1)  # (B, 1, 2N)
        else:
            summary = torch.cat([h_fwd, h_bwd], dim=-1)  # (B, S, 2N)
        return self.head(summary, x_future), {}
