"""DLinear (Zeng et al., AAAI 2023): trend/seasonal decomposition, one linear map each."""

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsbridge.models._checks import check_bool, check_positive_int
from tsbridge.models.base import ForecastNet, Readouts


class DLinear(ForecastNet):
    """Split each target channel's window into a moving-average trend and the remainder, map each
    linearly from L to H steps, and add the two.

    Covariate channels (beyond the first ``n_targets``) are not read: DLinear is univariate per
    channel, as in the paper, so it takes no known-future inputs either. With ``levels`` each map
    forecasts the output's ``n_params`` values per step (e.g. every quantile).

    Args:
        n_inputs, n_targets, lookback, horizon: See :class:`~tsbridge.models.base.ForecastNet`.
        kernel_size: Odd moving-average length for the trend (the paper uses 25); the window is
            padded by repeating its first and last values so the trend has length L.
        individual: One pair of linear maps per target channel instead of one shared pair.
        norm, revin, revin_affine: See ``ForecastNet`` (``norm="revin"`` on DLinear is close to RLinear).
        **options: ``levels`` and ``distribution`` of ``ForecastNet`` (intervals).
    """

    reads_future = False

    def __init__(
        self,
        n_inputs: int,
        n_targets: int,
        lookback: int,
        horizon: int,
        kernel_size: int = 25,
        individual: bool = False,
        *,
        norm: str = "none",
        revin: bool | None = None,
        revin_affine: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(
            n_inputs, n_targets, lookback, horizon, norm=norm, revin=revin, revin_affine=revin_affine, **options
        )
        check_positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (a centred trend), got {kernel_size}")
        self.kernel_size = kernel_size
        self.individual = check_bool("individual", individual)
        maps = n_targets if individual else 1
        bound = 1.0 / math.sqrt(lookback)  # nn.Linear's default initialisation range
        # (maps, H*P, L) weights and (maps, H*P) biases; component 0: seasonal, 1: trend. P = 1 for points.
        outputs = horizon * self.output.n_params
        self.weight = nn.Parameter(torch.empty(2, maps, outputs, lookback).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(2, maps, outputs).uniform_(-bound, bound))

    def core(self, x: Tensor, ablate: str | None, channel_ids: Tensor | None = None,
             x_future: Tensor | None = None) -> tuple[Tensor, Readouts]:
        """(B, L, n_inputs) -> (B, H, n_targets * n_params); no readouts."""
        # B: batch, L: look-back, H: horizon, T: target channels, M: linear maps (T or 1), P: parameters per value
        series = x[..., : self.n_targets].transpose(1, 2)  # (B, T, L)
        pad = (self.kernel_size - 1) // 2
        padded = F.pad(series, (pad, pad), mode="replicate")  # (B, T, L + 2*pad)
        trend = F.avg_pool1d(padded, self.kernel_size, stride=1)  # (B, T, L)
        components = torch.stack([series - trend, trend])  # (2, B, T, L)
        weight = self.weight.expand(-1, self.n_targets, -1, -1)  # (2, T, H, L)
        out = torch.einsum("kbtl,kthl->bht", components, weight) + self.bias.sum(dim=0).T  # (B, H*P, T) + (H*P, M)
        out = out.view(-1, self.horizon, self.output.n_params, self.n_targets).transpose(2, 3)  # (B, H, T, P)
        return out.reshape(-1, self.horizon, self.core_outputs), {}  # (B, H, T*P)
