"""FeedbackLSTM: the bridged bidirectional state is passed back to an earlier LSTM layer."""

from typing import Any

import torch
from torch import Tensor

from tsbridge.models.base import Readouts
from tsbridge.models.bridged import BridgedLSTM
from tsbridge.models.cells import recurrent_layer


class FeedbackLSTM(BridgedLSTM):
    """Earlier causal LSTM -> BiLSTM -> bridge -> LSTM -> head, with ``passes`` feedback passes.

    The literal "state passed to an earlier layer": first the earlier LSTM reads the inputs (with
    zeros where the feedback goes) and the BiLSTM reads its outputs. Then, ``passes`` more times,
    the earlier LSTM reads at each step t ``[x_t ; bridged_t]``, the bridged bidirectional state of
    step t from the previous pass, and the BiLSTM re-encodes. The last pass feeds the second LSTM
    and the head exactly as in :class:`BridgedLSTM`, so ``passes=0`` is the plain stack. The
    bridged state of step t has seen the whole window (not beyond it), so every pass after the
    first lets the causal layer read context from later in the window. With ``segment_length``
    w > 1, "step" reads "segment": the earlier LSTM reads ``[embedded segment_s ; bridged_s]``.

    Args:
        passes: Feedback passes after the first (0: plain stack).
        bridge: ``"concat"`` or ``"blend"``: a bridge whose per-step output can be fed back.
        Others: as :class:`BridgedLSTM`; ``hidden_size``, ``num_layers``, ``dropout`` and ``cell`` also
            shape the earlier LSTM.
    """

    def __init__(self, *args: Any, passes: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 0:
            raise ValueError(f"passes must be a non-negative integer, got {passes!r}")
        if self.attention is not None:
            raise ValueError(
                "FeedbackLSTM needs bridge='concat' or 'blend': attention has no per-step bridged "
                "state to feed back"
            )
        self.passes = passes
        self.earlier = recurrent_layer(
            self.cell,
            self.segments.output_size + self.bridge.output_size,
            self.hidden_size,
            self.decoder.num_layers,
            self.decoder.dropout,  # already 0 for a single layer
        )

    def _encoder_input_size(self) -> int:
        return self.hidden_size  # the BiLSTM reads the earlier LSTM's states

    def encode(self, x: Tensor, ablate: str | None) -> tuple[Tensor, Tensor, Tensor, Readouts]:
        """Run ``passes + 1`` passes of earlier LSTM -> BiLSTM -> bridge over the recurrent input
        (B, S, E) (steps, or embedded segments); return the last one's ``h_fwd, h_bwd`` (B, S, N),
        bridged sequence (B, S, bridge.output_size) and readouts."""
        # B: batch, S: recurrent steps, E: recurrent input size, N: hidden units, F: bridge output size
        batch, steps, _ = x.shape
        bridged = x.new_zeros(batch, steps, self.bridge.output_size)  # (B, S, F): no feedback yet
        for _ in range(self.passes + 1):
            early, _ = self.earlier(torch.cat([x, bridged], dim=-1))  # (B, S, N) from (B, S, E+F)
            h_fwd, h_bwd, bridged, readouts = super().encode(early, ablate)
        return h_fwd, h_bwd, bridged, readouts
