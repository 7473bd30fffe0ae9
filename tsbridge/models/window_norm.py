"""Window normalisation: what each look-back window is measured against before a net reads it (``norm``).

``revin`` standardises each window per channel (:class:`~tsbridge.models.revin.RevIN`); ``last`` subtracts each
channel's last look-back value and adds it back to the forecast, as SegRNN does (its default, ``revin=0`` in the
official scripts); ``none`` feeds the data's own (globally scaled) units. Both normalisations return the
``(loc, scale)`` statistics of the map that undoes them, so a forecast of any kind (a point, quantiles or a
distribution's parameters) is mapped back the same way.
"""

from torch import Tensor, nn

from tsbridge.models._checks import check_bool, check_choice
from tsbridge.models.revin import RevIN

#: ``norm`` values of every net.
NORMS = ("revin", "last", "none")


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


def resolve_norm(norm: str, revin: bool | None) -> str:
    """The ``norm`` a net is built with, reading the older ``revin`` flag as an alias that wins when given.

    ``revin=True`` is ``norm="revin"``; ``revin=False`` turns ``norm="revin"`` into ``"none"`` and keeps ``"last"``.
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
    return LastValueNorm() if norm == "last" else None
