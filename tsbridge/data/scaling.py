"""Standard scaling fitted on training rows only, in float64.

Statistics and the centring/scaling run in float64 and only the scaled values are cast to float32: in float32,
``1e6 + 0.01 * sin(t)`` is a constant (its resolution near 1e6 is 0.06) and squares of values near 1e30 overflow.
Original units are float64 on the way back too.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from tsbridge.data.errors import DataValidationError, NonFiniteValueError
from tsbridge.data.frames import SeriesFrame

ArrayT = TypeVar("ArrayT", Tensor, np.ndarray)

# A channel is constant (kept at std 1 instead of dividing by ~0) when its std is this small relative to its
# largest absolute value: float64 rounding leaves ~1e-16 of it, while real variation at any scale (1e-9 or 1e30)
# stays far above.
_CONSTANT_RTOL = 1e-12
# Rows per chunk: statistics and scaling run in float64 without a float64 copy of a whole long series.
_CHUNK_ROWS = 1 << 16


def _moments(parts: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """Float64 mean, population std and largest absolute value ``(n_channels,)`` over the rows of all ``parts``.

    Computed one chunk at a time in units of the largest absolute value, so squares overflow at no magnitude.
    """
    n_rows = sum(len(p) for p in parts)
    if n_rows == 0:
        raise DataValidationError("the scaler has no training rows to fit on")
    chunks = [chunk for p in parts if len(p) for chunk in p.split(_CHUNK_ROWS)]  # views
    magnitude = torch.stack([chunk.abs().amax(dim=0).double() for chunk in chunks]).amax(dim=0)
    unit = torch.where(magnitude > 0, magnitude, torch.ones_like(magnitude))
    mean = sum((chunk.double() / unit).sum(dim=0) for chunk in chunks) / n_rows
    squares = sum(((chunk.double() / unit - mean) ** 2).sum(dim=0) for chunk in chunks)
    return mean * unit, (squares / n_rows).sqrt() * unit, magnitude


def _chunked(values: Tensor, step: Callable[[Tensor], Tensor], dtype: torch.dtype) -> Tensor:
    """``step(values.double())`` as ``dtype``, one chunk of rows (leading dimension) at a time."""
    if values.dim() < 2:
        return step(values.double()).to(dtype)
    out = torch.empty(values.shape, dtype=dtype, device=values.device)
    for begin in range(0, len(values), _CHUNK_ROWS):
        out[begin : begin + _CHUNK_ROWS] = step(values[begin : begin + _CHUNK_ROWS].double())
    return out


class StandardScaler:
    """Per-channel ``(value - mean) / std`` with the population std, fitted on the training rows alone.

    Args:
        per_series: fit one mean/std per series (panels); else one pooled over every series' training rows.

    Scaled values are float32 (what nets read), computed in float64; original units are float64.

    Attributes:
        mean, std: float64 ``(n_groups, n_channels)``; ``n_groups`` is the number of series when
            ``per_series``, else 1. Channels are in the data layer's order: targets first. A constant channel
            (std within float64 rounding of zero, relative to its magnitude) keeps std 1.
        series_ids: the series ids seen by :meth:`fit`, in group order when ``per_series``.
    """

    def __init__(self, per_series: bool = False) -> None:
        self.per_series = per_series
        self.mean: Tensor | None = None
        self.std: Tensor | None = None
        self.series_ids: list[Hashable] = []
        self._groups: dict[Hashable, int] = {}  # series id -> row of mean/std (a list search is O(series))

    def fit(
        self, values: Sequence[Tensor], train_rows: Sequence[int], series_ids: Sequence[Hashable]
    ) -> StandardScaler:
        """Fit on ``values[i][:train_rows[i]]`` for each series ``i`` (rows ``(n_rows_i, n_channels)``)."""
        parts = [v[:n] for v, n in zip(values, train_rows)]
        groups = [[p] for p in parts] if self.per_series else [parts]
        means, stds = [], []
        for group in groups:
            mean, std, magnitude = _moments(group)
            means.append(mean)
            stds.append(torch.where(std <= _CONSTANT_RTOL * magnitude, torch.ones_like(std), std))
        self.mean = torch.stack(means)
        self.std = torch.stack(stds)
        self._set_series_ids(series_ids)
        return self

    def _set_series_ids(self, series_ids: Sequence[Hashable]) -> None:
        self.series_ids = list(series_ids)
        self._groups = {series_id: row for row, series_id in enumerate(self.series_ids)}

    def group(self, series_id: Hashable | None) -> int:
        """Row of ``mean``/``std`` used for ``series_id`` (always 0 for a pooled scaler)."""
        if self.mean is None:
            raise RuntimeError("the scaler is not fitted yet; call fit() (WindowDataModule.setup() does)")
        if not self.per_series:
            return 0
        if series_id is None and len(self.series_ids) == 1:
            return 0
        try:
            return self._groups[series_id]
        except (KeyError, TypeError):  # TypeError: an unhashable id, which no fitted series has
            raise DataValidationError(
                f"series {series_id!r} was not seen when the per-series scaler was fitted"
            ) from None

    def loc_scale(self, series_id: Hashable | None, n_channels: int) -> tuple[Tensor, Tensor]:
        """Mean and std ``(n_channels,)`` of the first ``n_channels`` channels for ``series_id``."""
        row = self.group(series_id)
        return self.mean[row, :n_channels], self.std[row, :n_channels]

    def target_stats(self, series_ids: Sequence[Hashable], n_targets: int) -> tuple[Tensor, Tensor]:
        """Per-series float64 target mean and std ``(n_series, 1, n_targets)``: the ``loc``/``scale`` of batches.

        Float64, so ``y * scale + loc`` is computed in float64 (a float32 result near 1e6 resolves only 0.06).
        """
        rows = [self.group(series_id) for series_id in series_ids]
        return self.mean[rows, None, :n_targets], self.std[rows, None, :n_targets]

    def transform(self, values: ArrayT, series_id: Hashable | None = None) -> ArrayT:
        """Float32 ``(values - mean) / std`` of ``values (..., C)`` (any float dtype), computed in float64.

        ``C`` may be fewer than the fitted channels (the first ``C`` are used). Long series are scaled a chunk of
        rows at a time, so no float64 copy of a whole series is made.
        """
        loc, scale = self._stats_on(values, series_id)
        return _like_input(values, lambda v: _chunked(v, lambda rows: (rows - loc) / scale, torch.float32))

    def inverse_transform(self, values: ArrayT, series_id: Hashable | None = None) -> ArrayT:
        """Back to original units in float64: ``values * std + mean``, e.g. forecasts ``(..., n_targets)``.

        Targets come first in the channel order, so forecasts of the targets use the target statistics.
        """
        loc, scale = self._stats_on(values, series_id)
        return _like_input(values, lambda v: v.to(torch.float64, copy=True).mul_(scale).add_(loc))

    def _stats_on(self, values: ArrayT, series_id: Hashable | None) -> tuple[Tensor, Tensor]:
        """:meth:`loc_scale` for the channels of ``values``, on its device (NumPy arrays: the CPU)."""
        device = values.device if isinstance(values, Tensor) else "cpu"
        return tuple(stat.to(device) for stat in self.loc_scale(series_id, values.shape[-1]))

    def state_dict(self) -> dict[str, Any]:
        """Plain tensors and lists, loadable with ``torch.load(..., weights_only=True)``."""
        return {"per_series": self.per_series, "mean": self.mean, "std": self.std, "series_ids": self.series_ids}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> StandardScaler:
        """Rebuild a fitted scaler from :meth:`state_dict`."""
        scaler = cls(per_series=state["per_series"])
        scaler.mean, scaler.std = (torch.as_tensor(state[key], dtype=torch.float64) for key in ("mean", "std"))
        scaler._set_series_ids(state["series_ids"])
        return scaler


def _like_input(values: ArrayT, apply: Callable[[Tensor], Tensor]) -> ArrayT:
    """``apply`` to a tensor, or to a NumPy array (without copying it in) with a NumPy array back."""
    if isinstance(values, np.ndarray):
        return apply(torch.from_numpy(values)).numpy()
    return apply(values)


def model_units(series: SeriesFrame, scaler: StandardScaler | None) -> SeriesFrame:
    """The float32 values nets read: ``series`` (original units, any float dtype) scaled by ``scaler`` (computed in
    float64), or only cast when ``scaler`` is None. Batches built from it carry ``scaler.target_stats`` as loc/scale.

    Raises:
        NonFiniteValueError: a value beyond float32's range (~3.4e38) in model units, instead of an inf.
    """
    values = []
    for position, (original, series_id) in enumerate(zip(series.values, series.series_ids)):
        converted = original.float() if scaler is None else scaler.transform(original, series_id)
        overflow = torch.argwhere(~torch.isfinite(converted))
        if len(overflow):
            row, channel = overflow[0].tolist()
            hint = "pass scaler='standard'" if scaler is None else "compare it with the training rows"
            raise NonFiniteValueError(
                f"series {series_id!r}: column {series.input_cols[channel]!r} at {series.timestamps[position][row]} "
                f"is {original[row, channel].item():g}, beyond float32's range (~3.4e38) in model units; {hint}"
            )
        values.append(converted)
    return series.with_values(values)
