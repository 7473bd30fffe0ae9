"""Recurrent baselines without a bridge: a unidirectional LSTM stack and a BiLSTM with a head."""

import torch
from torch import Tensor, nn

from tsbridge.models._checks import check_dropout, check_positive_int
from tsbridge.models.base import ForecastNet, Readouts
from tsbridge.models.encoder import BiLSTMEncoder
from tsbridge.models.head import ForecastHead


class _RecurrentBaseline(ForecastNet):
    """Shared signature and validation of the recurrent baselines; subclasses build the layers.

    Args:
        n_inputs, n_targets, lookback, horizon: See :class:`~tsbridge.models.base.ForecastNet`.
        hidden_size: LSTM units (per direction for the BiLSTM).
        num_layers: Stacked LSTM layers.
        dropout: Dropout between stacked layers and before the head.
        head: ``"last"`` or ``"flatten"`` (see :class:`~tsbridge.models.head.ForecastHead`).
        revin, revin_affine, channel_independent, linear_skip: See ``ForecastNet``.
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
        revin: bool = True,
        revin_affine: bool = False,
        channel_independent: bool = False,
        linear_skip: bool = True,
    ) -> None:
        super().__init__(
            n_inputs,
            n_targets,
            lookback,
            horizon,
            revin=revin,
            revin_affine=revin_affine,
            channel_independent=channel_independent,
            linear_skip=linear_skip,
        )
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("num_layers", num_layers)
        check_dropout("dropout", dropout)
        self._build(hidden_size, num_layers, dropout, head)

    def _build(self, hidden_size: int, num_layers: int, dropout: float, head: str) -> None:
        raise NotImplementedError


class LSTMForecaster(_RecurrentBaseline):
    """Unidirectional LSTM stack -> direct multi-step head (the usual LSTM baseline).

    Arguments as :class:`_RecurrentBaseline`.
    """

    def _build(self, hidden_size: int, num_layers: int, dropout: float, head: str) -> None:
        self.lstm = nn.LSTM(
            self.core_inputs,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.head = ForecastHead(
            head, self.lookback, hidden_size, self.horizon, self.core_targets, dropout
        )

    def core(self, x: Tensor, ablate: str | None) -> tuple[Tensor, Readouts]:
        """(B, L, core_inputs) -> (B, H, core_targets); no readouts."""
        states, _ = self.lstm(x)  # (B, L, N)
        return self.head(states[:, -self.head.positions :]), {}  # reads (B, P, N)


class BiLSTMForecaster(_RecurrentBaseline):
    """BiLSTM encoder -> head, no bridge and no second LSTM (isolates what a bridge adds).

    With ``head="last"`` the head reads each direction's final state, the forward one at step L
    and the backward one at step 1 (the only states that have seen the whole window); with
    ``"flatten"`` it reads ``[h_fwd_t ; h_bwd_t]`` at every step. Arguments as
    :class:`_RecurrentBaseline`, ``hidden_size`` being the units per direction.
    """

    bidirectional = True

    def _build(self, hidden_size: int, num_layers: int, dropout: float, head: str) -> None:
        self.encoder = BiLSTMEncoder(self.core_inputs, hidden_size, num_layers, dropout)
        self.head = ForecastHead(
            head, self.lookback, 2 * hidden_size, self.horizon, self.core_targets, dropout
        )

    def core(self, x: Tensor, ablate: str | None) -> tuple[Tensor, Readouts]:
        """(B, L, core_inputs) -> (B, H, core_targets); no readouts."""
        # B: batch, L: look-back, N: hidden units per direction
        h_fwd, h_bwd = self.encoder(x, ablate)  # (B, L, N) each
        if self.head.kind == "last":
            summary = torch.cat([h_fwd[:, -1:], h_bwd[:, :1]], dim=-1)  # (B, 1, 2N)
        else:
            summary = torch.cat([h_fwd, h_bwd], dim=-1)  # (B, L, 2N)
        return self.head(summary), {}
