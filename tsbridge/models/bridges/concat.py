"""Concatenation bridge: ``[h_fwd_t ; h_bwd_t]``."""

import torch
from torch import Tensor

from tsbridge.models.bridges.base import Bridge, BridgeReadouts


class ConcatBridge(Bridge):
    """Pass both directions side by side; the decoder learns how to weigh them.

    Args:
        hidden_size: Units N per encoder direction.
    """

    def __init__(self, hidden_size: int) -> None:
        super().__init__(hidden_size, output_size=2 * hidden_size, readout_size=hidden_size)

    def forward(self, h_fwd: Tensor, h_bwd: Tensor) -> tuple[Tensor, BridgeReadouts]:
        """(B, L, N) twice -> (B, L, 2N); no readouts."""
        return torch.cat([h_fwd, h_bwd], dim=-1), {}
