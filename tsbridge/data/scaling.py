"""Standard scaling fitted on training rows only."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from tsbridge.data.errors import DataValidationError

ArrayT = TypeVar("ArrayT", Tensor, np.ndarray)

# Channels whose training rows are (nearly) constant keep std 1 instead of dividing by ~0.
_MIN_STD = 1e-8
# Rows per chunk when fitting: the statistics accumulate in float64 without a float64 copy of the whole data.
_CHUNK_ROWS = 1 << 16


def _moments(parts: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Float64 mean and population std ``(n_channels,)`` over the rows of all ``parts``, one chunk at a time."""
    n_rows = sum(len(p) for p in parts)
    if n_rows == 0:
        raise DataValidationError("the scaler has no training rows to fit on")
    chunks = [chunk for p in parts for chunk in p.split(_CHUNK_ROWS)]  # views
    mean = sum(chunk.double().sum(dim=0) for chunk in chunks) / n_rows
    squares = sum(((chunk.double() - mean) ** 2).sum(dim=0) for chunk in chunks)
    return mean, (squares / n_rows).sqrt()


class StandardScaler:
    """Per-channel ``(value - mean) / std`` with the population std, fitted on the training rows alone.

    Args:
        per_series: fit one mean/std per series (panels); else one pooled over every series' training rows.

    Attributes:
        mean, std: float32 ``(n_groups, n_channels)``; ``n_groups`` is the number of series when
            ``per_series``, else 1. Channels are in the data layer's order: targets first.
        series_ids: the series ids seen by :meth:`fit`, in group order when ``per_series``.
    """

    def __init__(self, per_series: bool = False) -> None:
        self.per_series = per_series
        self.mean: Tensor | None = None
        self.std: Tensor | None = None
        self.series_ids: list[Hashable] = []

    def fit(
        self, values: Sequence[Tensor], train_rows: Sequence[int], series_ids: Sequence[Hashable]
    ) -> StandardScaler:
        """Fit on ``values[i][:train_rows[i]]`` for each series ``i`` (rows ``(n_rows_i, n_channels)``)."""
        parts = [v[:n] for v, n in zip(values, train_rows)]
        groups = [[p] for p in parts] if self.per_series else [parts]
        means, stds = [], []
        for group in groups:
            mean, std = _moments(group)
            means.append(mean)
            stds.append(torch.where(std < _MIN_STD, torch.ones_like(std), std))
        self.mean = torch.stack(means).float()
        self.std = torch.stack(stds).float()
        self.series_ids = list(series_ids)
        return self

    def group(self, series_id: Hashable | None) -> int:
        """Row of ``mean``/``std`` used for ``series_id`` (always 0 for a pooled scaler)."""
        if self.mean is None:
            raise RuntimeError("the scaler is not fitted yet; call fit() (WindowDataModule.setup() does)")
        if not self.per_series:
            return 0
        if series_id is None and len(self.series_ids) == 1:
            return 0
        try:
            return self.series_ids.index(series_id)
        except ValueError:
            raise DataValidationError(
                f"series {series_id!r} was not seen when the per-series scaler was fitted"
            ) from None

    def loc_scale(self, series_id: Hashable | None, n_channels: int) -> tuple[Tensor, Tensor]:
        """Mean and std ``(n_channels,)`` of the first ``n_channels`` channels for ``series_id``."""
        row = self.group(series_id)
        return self.mean[row, :n_channels], self.std[row, :n_channels]

    def target_stats(self, series_ids: Sequence[Hashable], n_targets: int) -> tuple[Tensor, Tensor]:
        """Per-series target mean and std ``(n_series, 1, n_targets)``: the ``loc``/``scale`` of batches."""
        stats = [self.loc_scale(series_id, n_targets) for series_id in series_ids]
        loc, scale = (torch.stack(s)[:, None, :] for s in zip(*stats))
        return loc, scale

    def transform(self, values: ArrayT, series_id: Hashable | None = None) -> ArrayT:
        """Scale ``values (..., C)``; ``C`` may be fewer than the fitted channels (the first ``C`` are used)."""
        loc, scale = self._stats_like(values, series_id)
        return (values - loc) / scale

    def transform_(self, values: Tensor, series_id: Hashable | None = None) -> Tensor:
        """:meth:`transform` in place, so a long series is never held twice; returns ``values``."""
        loc, scale = self._stats_like(values, series_id)
        return values.sub_(loc).div_(scale)

    def inverse_transform(self, values: ArrayT, series_id: Hashable | None = None) -> ArrayT:
        """Back to original units: ``values * std + mean``, e.g. forecasts ``(..., n_targets)``.

        Targets come first in the channel order, so forecasts of the targets use the target statistics.
        """
        loc, scale = self._stats_like(values, series_id)
        return values * scale + loc

    def _stats_like(self, values: ArrayT, series_id: Hashable | None) -> tuple[Any, Any]:
        loc, scale = self.loc_scale(series_id, values.shape[-1])
        if isinstance(values, np.ndarray):
            return loc.numpy().astype(values.dtype), scale.numpy().astype(values.dtype)
        return loc.to(values), scale.to(values)

    def state_dict(self) -> dict[str, Any]:
        """Plain tensors and lists, loadable with ``torch.load(..., weights_only=True)``."""
        return {"per_series": self.per_series, "mean": self.mean, "std": self.std, "series_ids": self.series_ids}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> StandardScaler:
        """Rebuild a fitted scaler from :meth:`state_dict`."""
        scaler = cls(per_series=state["per_series"])
        scaler.mean, scaler.std, scaler.series_ids = state["mean"], state["std"], list(state["series_ids"])
        return scaler
