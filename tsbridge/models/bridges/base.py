"""The bridge interface: how the BiLSTM's two directions reach the second LSTM and the head."""

from torch import Tensor, nn

from tsbridge.models._checks import check_positive_int

#: What a bridge returns besides its tensor: named, detached readouts of that very call.
BridgeReadouts = dict[str, Tensor]


class Bridge(nn.Module):
    """Base class of the bridges between the BiLSTM encoder and the second (decoder) LSTM.

    A bridge acts at two points of :class:`~tsbridge.models.BridgedLSTM`:

    * :meth:`forward` combines the step-aligned states into the decoder's input sequence;
    * :meth:`readout` may enrich the decoder states the head reads (attention does; the default
      passes them through).

    Both return their readouts (blend weights, attention weights) with the tensor they produce, so
    a reader always knows which pass a readout describes.

    Args:
        hidden_size: Units N per encoder direction; the decoder has N units as well.

    Attributes:
        output_size: Features per step of :meth:`forward`'s output (the decoder's input size).
        readout_size: Features per step of :meth:`readout`'s output (the head's input size).
    """

    def __init__(self, hidden_size: int, output_size: int, readout_size: int) -> None:
        super().__init__()
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.output_size = output_size
        self.readout_size = readout_size

    def forward(self, h_fwd: Tensor, h_bwd: Tensor) -> tuple[Tensor, BridgeReadouts]:
        """Combine (B, L, N) forward and backward states into (B, L, output_size), plus readouts."""
        raise NotImplementedError

    def readout(self, queries: Tensor, h_fwd: Tensor, h_bwd: Tensor) -> tuple[Tensor, BridgeReadouts]:
        """Features for the head from decoder states (B, P, N) of the P positions it reads."""
        return queries, {}
