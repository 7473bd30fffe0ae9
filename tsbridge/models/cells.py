"""The recurrent cell every recurrent net is built with: ``cell="lstm"`` or ``"gru"``.

An LSTM's state is a pair ``(h, c)``, a GRU's a single tensor ``h``; :func:`map_state` applies one function to
either, so the code that continues, ablates or blends a final state works for both cells.
"""

from collections.abc import Callable

from torch import Tensor, nn

from tsbridge.models._checks import check_choice, check_dropout, check_positive_int

#: ``cell`` values: the recurrent layer of every recurrent net (SegRNN's own choice is ``gru``).
CELLS = ("lstm", "gru")

#: A recurrent layer's state: ``(h, c)`` for an LSTM, ``h`` for a GRU; each (layers * directions, B, N).
State = Tensor | tuple[Tensor, Tensor]


def recurrent_layer(
    cell: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
    bidirectional: bool = False,
) -> nn.LSTM | nn.GRU:
    """A batch-first ``nn.LSTM`` or ``nn.GRU``; ``dropout`` acts between stacked layers only (none for one)."""
    layer = {"lstm": nn.LSTM, "gru": nn.GRU}[check_choice("cell", cell, CELLS)]
    return layer(
        check_positive_int("input_size", input_size),
        check_positive_int("hidden_size", hidden_size),
        num_layers=check_positive_int("num_layers", num_layers),
        dropout=check_dropout("dropout", dropout) if num_layers > 1 else 0.0,
        batch_first=True,
        bidirectional=bidirectional,
    )


def map_state(function: Callable[[Tensor], Tensor], state: State) -> State:
    """``function`` applied to each tensor of an LSTM state, or to a GRU's one tensor."""
    return tuple(function(part) for part in state) if isinstance(state, tuple) else function(state)
