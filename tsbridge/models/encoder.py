"""Bidirectional recurrent encoder returning forward and backward states aligned step by step."""

import torch
from torch import Tensor, nn

from tsbridge.models._checks import ABLATIONS, check_choice, check_positive_int
from tsbridge.models.cells import State, map_state, recurrent_layer


class BidirectionalEncoder(nn.Module):
    """A bidirectional ``nn.LSTM`` or ``nn.GRU`` over the look-back window (cuDNN on GPU).

    At step t the forward state has read steps 1..t (the past of t) and the backward state steps
    t..L (the rest of the window after t, its "future"); both stay inside the window.

    Args:
        input_size: Features per step.
        hidden_size: Units per direction.
        num_layers: Stacked bidirectional layers.
        dropout: Dropout between stacked layers (none for one layer).
        cell: ``"lstm"`` or ``"gru"`` (:data:`~tsbridge.models.cells.CELLS`).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float,
                 cell: str = "lstm") -> None:
        super().__init__()
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.rnn = recurrent_layer(cell, input_size, hidden_size, num_layers, dropout, bidirectional=True)

    def forward(
        self, x: Tensor, ablate: str | None = None, *, return_state: bool = False
    ) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, State]:
        """Encode x (B, L, input_size) into ``(h_fwd, h_bwd)``, each (B, L, hidden_size).

        ``ablate="past"`` (``"future"``) replaces the last layer's forward (backward) states by
        their mean over batch and time, per unit: the rest of the net then gets no per-sample
        information from that direction, which measures how much the net relies on it.

        With ``return_state``, also return the layer's final state (``(h, c)`` for an LSTM, ``h`` for a
        GRU), each (2 * num_layers, B, hidden_size) in PyTorch's layout (layer-major, forward then
        backward), from which the ``"pmf"`` head continues; an ablated direction's final states are
        replaced by their batch mean.
        """
        # B: batch, L: look-back, N: hidden units per direction
        check_choice("ablate", ablate, ABLATIONS)
        states, final = self.rnn(x)  # (B, L, 2N): PyTorch puts [forward | backward] on the last axis
        h_fwd, h_bwd = states.split(self.hidden_size, dim=-1)  # (B, L, N) each
        if ablate == "past":
            h_fwd = h_fwd.mean(dim=(0, 1), keepdim=True).expand_as(h_fwd)
        elif ablate == "future":
            h_bwd = h_bwd.mean(dim=(0, 1), keepdim=True).expand_as(h_bwd)
        if not return_state:
            return h_fwd, h_bwd
        if ablate is not None:
            direction = 0 if ablate == "past" else 1
            final = map_state(lambda state: _batch_mean_of_direction(state, direction), final)
        return h_fwd, h_bwd, final


def _batch_mean_of_direction(state: Tensor, direction: int) -> Tensor:
    """Replace one direction's final states (every layer) by their batch mean: (2 * layers, B, N) -> same."""
    # D: directions (2), B: batch, N: hidden units
    per_direction = state.unflatten(0, (-1, 2))  # (layers, D, B, N)
    mean = per_direction.mean(dim=2, keepdim=True).expand_as(per_direction)
    ablated = torch.arange(2, device=state.device).view(1, 2, 1, 1) == direction  # (1, D, 1, 1)
    return torch.where(ablated, mean, per_direction).flatten(0, 1).contiguous()  # (2 * layers, B, N)
