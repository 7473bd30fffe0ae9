"""Reversible instance normalisation (RevIN, Kim et al., ICLR 2022).

Each window is standardised with its own mean and standard deviation before the net sees it, and
the forecast is mapped back with the statistics of the target channels. This removes the level
shifts between training and test periods that dominate the error on series such as ETT.

The variance floor that keeps constant windows from dividing by zero is relative to each window's level, so it
works alike on values near 1e-9 and near 1e6: an absolute floor (RevIN's 1e-5) swamps a window of 1e-9-sized
values, which then reach the net as ~0 and come back as forecasts of ~1e-3.
"""

import torch
from torch import Tensor, nn

from tsbridge.models._checks import check_bool, check_positive_int

# Keeps a learned affine weight of 0 from dividing by zero when the forecast is mapped back.
_AFFINE_EPS = 1e-10


class RevIN(nn.Module):
    """Per-window standardisation of every input channel, reversed on the forecast.

    Args:
        n_channels: Number of input channels C normalised.
        affine: Learn a per-channel scale and shift applied after normalising (undone on output).
        eps: Variance floor relative to the window's mean square (level² + variance): a window varying less
            than ``sqrt(eps)`` of its level (or less than 10x the input dtype's resolution) counts as constant and
            is not blown up; an all-zero window is divided by the dtype's smallest normal number, not by zero.
    """

    def __init__(self, n_channels: int, affine: bool = False, eps: float = 1e-8) -> None:
        super().__init__()
        check_positive_int("n_channels", n_channels)
        check_bool("revin_affine", affine)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(n_channels)) if affine else None

    def normalize(self, x: Tensor, future: Tensor | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Standardise each window of ``x`` (B, L, C); return it and the (loc, scale) (B, 1, C).

        With ``future`` (B, H, F), the known future of the last F channels, those channels' statistics cover the
        look-back and the future together (both are inputs): a flag constant over the look-back but set ahead (a
        holiday) then has a proper scale instead of a near-zero one. Use :meth:`normalize_future` for ``future``.
        """
        # Statistics are treated as constants (as in RevIN): gradients flow through the values only.
        # B: batch, L: look-back, C: channels, F: known-future channels (the last ones)
        loc, scale = self.statistics(x)  # (B, 1, C) each
        if future is not None:
            known = future.shape[-1]
            joint_loc, joint_scale = self.statistics(torch.cat([x[..., -known:], future], dim=1))  # over L+H
            loc = torch.cat([loc[..., :-known], joint_loc], dim=-1)
            scale = torch.cat([scale[..., :-known], joint_scale], dim=-1)
        x = (x - loc) / scale
        if self.weight is not None:
            x = x * self.weight + self.bias
        return x, (loc, scale)

    def statistics(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The (loc, scale) (B, 1, C) of each window of ``x`` (B, T, C): its mean and standard deviation, floored."""
        loc = x.mean(dim=1, keepdim=True)
        return loc.detach(), self.floored_scale(x.var(dim=1, keepdim=True, unbiased=False), loc)

    def floored_scale(self, spread_squared: Tensor, loc: Tensor) -> Tensor:
        """``sqrt(spread² + floor)`` with the variance floor relative to ``spread² + loc²`` (see the class)."""
        dtype = torch.finfo(spread_squared.dtype)
        relative = max(self.eps, (10 * dtype.eps) ** 2)  # float32: eps; bfloat16's coarse rounding needs more
        floor = relative * (spread_squared + loc**2) + dtype.tiny  # (B, 1, C)
        return torch.sqrt(spread_squared + floor).detach()

    def normalize_future(self, future: Tensor, stats: tuple[Tensor, Tensor]) -> Tensor:
        """Standardise the known future (B, H, F) of the last F channels with the statistics :meth:`normalize`
        returned for them."""
        channels = slice(stats[0].shape[-1] - future.shape[-1], None)
        future = (future - stats[0][..., channels]) / stats[1][..., channels]
        if self.weight is not None:
            future = future * self.weight[channels] + self.bias[channels]
        return future

    def target_map(self, stats: tuple[Tensor, Tensor], n_targets: int) -> tuple[Tensor, Tensor]:
        """``(loc, scale)`` (B, 1, T) of the map ``y * scale + loc`` that undoes :meth:`normalize` for the first T
        channels (the targets), learned affine part included."""
        loc, scale = stats[0][..., :n_targets], stats[1][..., :n_targets]
        if self.weight is None:
            return loc, scale
        weight = self.weight[:n_targets] + _AFFINE_EPS  # ((y - b) / w) * scale + loc
        return loc - self.bias[:n_targets] * scale / weight, scale / weight

    def denormalize(self, y: Tensor, stats: tuple[Tensor, Tensor]) -> Tensor:
        """Map a forecast ``y`` (B, H, T) back with the statistics of the first T channels."""
        loc, scale = self.target_map(stats, y.shape[-1])
        return y * scale + loc
