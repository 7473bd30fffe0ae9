"""Segment-wise recurrence (SegRNN, Lin et al. 2023): the window is read in segments, not steps.

A recurrent net with ``segment_length`` w > 1 cuts each look-back window into L / w consecutive
segments and embeds each one (linear ``w * channels -> d``, then ReLU, as SegRNN) before its
(Bi)LSTM, so the recurrence runs L / w steps instead of L: at L = 720, w = 24 it is 30 steps, which
is what makes long look-backs affordable. Everything after the embedding (encoder, bridge, decoder
LSTM, head) then works on segment states; at ``w = 1`` there is no embedding at all and the net is
exactly the per-step net.
"""

from torch import Tensor, nn

from tsbridge.models._checks import check_positive_int


def check_segment_length(lookback: int, segment_length: int) -> int:
    """Return ``segment_length`` if it is a positive divisor of ``lookback``, else raise ``ValueError`` naming both."""
    check_positive_int("segment_length", segment_length)
    if lookback % segment_length:
        raise ValueError(
            f"segment_length ({segment_length}) must divide lookback ({lookback}): the window is cut "
            "into whole segments"
        )
    return segment_length


def cut_segments(x: Tensor, segment_length: int) -> Tensor:
    """Cut windows (B, L, C) into (B, L / w, w * C): row s of sample b holds steps ``s*w .. s*w + w - 1``
    of that sample only (step-major, then channel), so no segment mixes samples."""
    # B: batch, L: look-back, C: channels, S: segments, w: segment length
    batch, length, channels = x.shape
    return x.reshape(batch, length // segment_length, segment_length * channels)  # (B, S, w*C)


class SegmentEmbedding(nn.Module):
    """Embed each segment of a window: ``relu(W [x_{s,1} ... x_{s,w}] + b)`` (B, L, C) -> (B, L / w, d).

    With ``segment_length=1`` it has no parameters and returns its input unchanged, so a net with
    w = 1 keeps the parameters (``state_dict`` keys) and outputs of the per-step net.

    Args:
        lookback: Look-back length L (a multiple of ``segment_length``).
        input_size: Channels C per step.
        segment_length: Steps w per segment.
        embedding_size: Features d per embedded segment (the nets use their ``hidden_size``, as
            SegRNN's ``d_model`` is both).

    Attributes:
        steps: Recurrent steps over the window, L / w.
        output_size: Features per recurrent step: C at w = 1, else d.
    """

    def __init__(self, lookback: int, input_size: int, segment_length: int, embedding_size: int) -> None:
        super().__init__()
        self.segment_length = check_segment_length(check_positive_int("lookback", lookback), segment_length)
        self.steps = lookback // segment_length
        self.linear: nn.Linear | None = None
        self.output_size = check_positive_int("input_size", input_size)
        if segment_length > 1:
            self.linear = nn.Linear(segment_length * input_size, check_positive_int("embedding_size", embedding_size))
            self.output_size = embedding_size

    def forward(self, x: Tensor) -> Tensor:
        """(B, L, C) -> (B, L / w, output_size)."""
        if self.linear is None:
            return x
        return self.linear(cut_segments(x, self.segment_length)).relu()  # (B, S, d)
