"""Attention bridge: the decoder LSTM's states query all BiLSTM states of the window."""

import math

import torch
from torch import Tensor, nn

from tsbridge.models._checks import check_choice
from tsbridge.models.bridges.base import BridgeReadouts
from tsbridge.models.bridges.concat import ConcatBridge

#: ``dot``: scaled dot-product of a projected query with the keys (Luong "general", Vaswani
#: scaling). ``additive``: ``v^T tanh(W_q q + W_k k)`` (Bahdanau); memory grows as B * P * L * N.
SCORES = ("dot", "additive")


class AttentionBridge(ConcatBridge):
    """The decoder reads ``[h_fwd_t ; h_bwd_t]``; its states then attend over those same states.

    Queries are the decoder (second LSTM) states at the positions the head reads; keys and values
    are the BiLSTM outputs of all L steps, so the head sees ``[query ; context]``. Weights over the
    look-back sum to 1 and are returned by :meth:`readout` with the features they weighed.

    Args:
        hidden_size: Units N per encoder direction (and of the decoder).
        score: One of :data:`SCORES`.
    """

    def __init__(self, hidden_size: int, score: str = "dot") -> None:
        super().__init__(hidden_size)
        self.readout_size = 3 * hidden_size  # [query (N) ; context (2N)]
        self.score = check_choice("score", score, SCORES)
        key_size = 2 * hidden_size
        if score == "dot":
            self.query = nn.Linear(hidden_size, key_size, bias=False)
            self.key = None
            self.energy = None
        else:
            self.query = nn.Linear(hidden_size, hidden_size, bias=False)
            self.key = nn.Linear(key_size, hidden_size)
            self.energy = nn.Linear(hidden_size, 1, bias=False)

    def readout(self, queries: Tensor, h_fwd: Tensor, h_bwd: Tensor) -> tuple[Tensor, BridgeReadouts]:
        """Decoder states (B, P, N) -> ``[query ; context]`` (B, P, 3N), with the readouts
        ``attention/weights`` (B, P, L; rows sum to 1) and ``attention/entropy`` (mean nats)."""
        # B: batch, P: query positions, L: look-back, N: hidden units
        memory = torch.cat([h_fwd, h_bwd], dim=-1)  # (B, L, 2N): keys and values
        if self.energy is None:
            projected = self.query(queries)  # (B, P, 2N)
            scores = projected @ memory.transpose(1, 2) / math.sqrt(memory.shape[-1])  # (B, P, L)
        else:
            # (B, P, 1, N) + (B, 1, L, N) -> (B, P, L, N)
            hidden = self.query(queries).unsqueeze(2) + self.key(memory).unsqueeze(1)
            scores = self.energy(torch.tanh(hidden)).squeeze(-1)  # (B, P, L)
        weights = torch.softmax(scores, dim=-1)  # (B, P, L)
        context = weights @ memory  # (B, P, 2N)
        detached = weights.detach()
        entropy = -(detached * detached.clamp_min(1e-12).log()).sum(dim=-1).mean()
        return torch.cat([queries, context], dim=-1), {"attention/weights": detached, "attention/entropy": entropy}
