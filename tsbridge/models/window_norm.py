"""Window normalisation: what each look-back window is measured against before a net reads it (``norm``).

``revin`` standardises each window per channel (:class:`~tsbridge.models.revin.RevIN`); ``robust`` does the same with
the median and the median absolute deviation (:class:`RobustNorm`, NeuralForecast's ``scaler_type="robust"``);
``last`` subtracts each channel's last look-back value and adds it back to the forecast, as SegRNN does (its default,
``revin=0`` in the official scripts); ``none`` feeds the data's own (globally scaled) units. All of them return the
``(loc, scale)`` statistics of the map that undoes them, so a forecast of any kind (a point, quantiles or a
distribution's parameters) is mapped back the same way.
"""

import torch
from torch import Tensor, nn

from tsbridge.models._checks import check_bool, check_choice
from tsbridge.models.revin import RevIN

#: ``norm`` values of every net.
NORMS = ("revin", "robust", "last", "none")

# The median absolute deviation of a normal variable is this many standard deviations (Phi^-1(3/4)).
_MAD_PER_STD = 0.6744897501960817


class LastValueNorm(nn.Module):
    """Subtract each channel's last look-back value from its window; add it back to the forecast (no parameters).

    The forecast is then a change from where the window ends, which removes level shifts between training and
    test periods without rescaling (SegRNN, Lin et al. 2023). Known-future channels are measured against their
    own last look-back value as well.
    """

    def normalize(self, x: Tensor, future: Tensor | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``x`` (B, L, C) minus its last step; return it and the (loc, scale) (B, 1, C) that undo it (scale 1).
        ``future`` is accepted for :class:`RevIN`'s interface and not read: the last value is the look-back's."""
        loc = x[:, -1:, :].detach()  # (B, 1, C)
        return x - loc, (loc, loc.new_ones(loc.shape))

    def normalize_future(self, future: Tensor, stats: tuple[Tensor, Tensor]) -> Tensor:
        """The known future (B, H, F) of the last F channels minus those channels' last look-back values."""
        return future - stats[0][..., stats[0].shape[-1] - future.shape[-1] :]

    def target_map(self, stats: tuple[Tensor, Tensor], n_targets: int) -> tuple[Tensor, Tensor]:
        """``(loc, scale)`` (B, 1, T) of the map ``y * scale + loc`` that undoes :meth:`normalize` for the targets."""
        return stats[0][..., :n_targets], stats[1][..., :n_targets]


class RobustNorm(RevIN):
    """RevIN with the median for the level and the median absolute deviation (MAD) for the scale (no parameters).

    A few spikes in a window (electricity prices) set its mean and standard deviation, so RevIN then shrinks the
    ordinary hours towards 0; the median and MAD ignore them (NeuralForecast's ``scaler_type="robust"``, whose
    statistics these are: the MAD unscaled, and where it is 0 because over half the window is one value, a
    flag or a run of zero prices, the MAD a normal variable of the window's standard deviation would have).
    """

    def __init__(self, n_channels: int, eps: float = 1e-8) -> None:
        super().__init__(n_channels, affine=False, eps=eps)

    def statistics(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The (loc, scale) (B, 1, C) of each window of ``x`` (B, T, C): its median and MAD, floored as RevIN's."""
        loc = x.median(dim=1, keepdim=True).values  # the lower median for an even T, as torch defines it
        mad = (x - loc).abs().median(dim=1, keepdim=True).values
        fallback = x.std(dim=1, keepdim=True, unbiased=False) * _MAD_PER_STD
        spread = torch.where(mad > 0, mad, fallback)
        return loc.detach(), self.floored_scale(spread**2, loc)


def resolve_norm(norm: str, revin: bool | None) -> str:
    """The ``norm`` a net is built with, reading the older ``revin`` flag as an alias that wins when given.

    ``revin=True`` is ``norm="revin"``; ``revin=False`` turns ``norm="revin"`` into ``"none"`` and keeps the others.
    Configs written before ``norm`` existed thus build the same nets, and on SegRNN the flag means what the official
    ``--revin`` does (1: RevIN in place of last-value subtraction, 0: last-value subtraction).
    """
    check_choice("norm", norm, NORMS)
    if revin is None:
        return norm
    if check_bool("revin", revin):
        return "revin"
    return "none" if norm == "revin" else norm


def build_window_norm(norm: str, n_channels: int, affine: bool) -> RevIN | LastValueNorm | None:
    """The module of ``norm`` over ``n_channels`` channels (None for ``"none"``); ``affine`` is RevIN's only."""
    check_bool("revin_affine", affine)
    if affine and norm != "revin":
        raise ValueError(f"revin_affine=True needs norm='revin', got norm={norm!r}")
    if norm == "revin":
        return RevIN(n_channels, affine=affine)
    if norm == "robust":
        return RobustNorm(n_channels)
    return LastValueNorm() if norm == "last" else None
