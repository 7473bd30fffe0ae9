"""Parallel multi-step forecasting (PMF, SegRNN): one recurrent step per output segment, all at once."""

import math

import torch
from torch import Tensor, nn

from tsbridge.models._checks import check_positive_int
from tsbridge.models.cells import State, map_state


class ParallelDecoder(nn.Module):
    """Queries for the ``"pmf"`` head: the net's own LSTM (or GRU) takes one more step per output segment.

    The horizon is cut into M = ceil(H / w_out) output segments. For each one, the LSTM that
    produced the final recurrent state continues from that state for a single step whose input is
    a learned token: the segment's position embedding, and under channel independence the
    channel's embedding beside it (SegRNN's ``pos_emb`` and ``channel_emb``, half of the input
    size each). The M steps do not depend on each other, so they run as one batch of B * M
    sequences of length 1, and an error made on one segment is not fed into the next (unlike
    recurrent multi-step decoding). The head maps each step's output to w_out values.

    Reusing the net's LSTM (as SegRNN reuses its GRU) adds only the embeddings as parameters, and
    the tokens take the place of the segment embeddings that LSTM reads.

    Args:
        input_size: Input features of the LSTM that continues (the size of a token).
        horizon: Horizon H.
        output_segment_length: Steps w_out per output segment; the last segment is trimmed to H.
        n_channels: Channels of the data with channel independence (one embedding each), None
            without (position embeddings only).
    """

    def __init__(self, input_size: int, horizon: int, output_segment_length: int, n_channels: int | None) -> None:
        super().__init__()
        check_positive_int("input_size", input_size)
        self.output_segments = math.ceil(check_positive_int("horizon", horizon) / output_segment_length)
        channel_size = 0 if n_channels is None else input_size // 2
        if n_channels is not None and channel_size == 0:
            raise ValueError(
                f"head='pmf' with channel independence splits the LSTM input ({input_size}) into position "
                "and channel embeddings: it needs at least 2 features"
            )
        # Standard normal, as SegRNN initialises them: tokens on the scale of the embedded segments.
        self.position = nn.Parameter(torch.randn(self.output_segments, input_size - channel_size))
        self.channel = None if n_channels is None else nn.Parameter(torch.randn(n_channels, channel_size))

    def forward(self, rnn: nn.LSTM | nn.GRU, state: State, channel_ids: Tensor | None) -> Tensor:
        """Step ``rnn`` once per output segment from its final ``state``.

        Args:
            rnn: The batch-first LSTM or GRU that produced ``state`` (uni- or bidirectional).
            state: Its final state: ``(h, c)`` for an LSTM, ``h`` for a GRU, each (layers * directions, B, N).
            channel_ids: (B,) channel of each sample with channel independence, else None.

        Returns:
            (B, M, directions * N): one query per output segment.
        """
        # B: samples, M: output segments, E: token size, N: hidden units, D: layers * directions
        batch = (state[0] if isinstance(state, tuple) else state).shape[1]
        tokens = self.position.expand(batch, -1, -1)  # (B, M, Ep)
        if self.channel is not None:
            if channel_ids is None:
                raise ValueError("head='pmf' with channel independence needs channel_ids, one per sample")
            channel = self.channel[channel_ids].unsqueeze(1).expand(-1, self.output_segments, -1)  # (B, M, Ec)
            tokens = torch.cat([tokens, channel], dim=-1)  # (B, M, E)
        tokens = tokens.reshape(batch * self.output_segments, 1, -1)  # (B*M, 1, E): row b*M + k
        start = map_state(lambda s: s.repeat_interleave(self.output_segments, dim=1), state)  # (D, B*M, N) each
        outputs, _ = rnn(tokens, start)  # (B*M, 1, directions*N)
        return outputs.view(batch, self.output_segments, -1)  # (B, M, directions*N)
