"""Sliding windows indexed lazily over one contiguous tensor per series.

A dataset stores the series tensors once plus an int64 index of ``(series, start)`` pairs; ``x`` and ``y`` are
views into the series tensor, so memory is O(rows x channels) whatever the look-back or the number of windows.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from tsbridge.data.errors import SeriesTooShortError


def window_index(row_ranges: Sequence[tuple[int, int]], lookback: int, horizon: int, stride: int = 1) -> Tensor:
    """``(series, start)`` pairs of every window whose ``lookback + horizon`` rows lie in its series' range.

    Args:
        row_ranges: per series, the rows ``[begin, end)`` the windows may read.
        lookback, horizon: window parts; ``x`` is rows ``[start, start + lookback)``, ``y`` the next ``horizon``.
        stride: step between consecutive window starts.

    Returns:
        int64 ``(n_windows, 2)``, series-major, starts increasing.
    """
    pairs = []
    for series, (begin, end) in enumerate(row_ranges):
        last_start = end - lookback - horizon
        starts = torch.arange(begin, max(begin, last_start + 1), stride, dtype=torch.int64)
        pairs.append(torch.stack([torch.full_like(starts, series), starts], dim=1))
    return torch.cat(pairs) if pairs else torch.empty(0, 2, dtype=torch.int64)


class WindowDataset(Dataset):
    """Windows over per-series tensors, yielding the batch-contract dicts.

    Each item is ``{"x": (L, n_inputs), "y": (H, n_targets), "series": (), "t0": (), "loc": (1, n_targets),
    "scale": (1, n_targets)}``; ``t0`` is the row (within the series) of the first forecast step and
    ``y * scale + loc`` is in original units. Without targets (:meth:`last_windows`) ``"y"`` is absent.

    Args:
        values: one contiguous float32 tensor ``(n_rows_s, n_inputs)`` per series, targets first (usually scaled).
        index: int64 ``(n_windows, 2)`` of ``(series, start)`` pairs (see :func:`window_index`).
        lookback, horizon: window lengths L and H.
        n_targets: number of leading target channels.
        loc, scale: ``(n_series, 1, n_targets)`` statistics to undo scaling; default 0 and 1.
        with_target: whether items carry ``"y"`` (False for forecasting beyond the end of the data).
    """

    def __init__(
        self,
        values: Sequence[Tensor],
        index: Tensor,
        *,
        lookback: int,
        horizon: int,
        n_targets: int,
        loc: Tensor | None = None,
        scale: Tensor | None = None,
        with_target: bool = True,
    ) -> None:
        self.values = list(values)
        self.index = index
        self.lookback = lookback
        self.horizon = horizon
        self.n_targets = n_targets
        shape = (len(self.values), 1, n_targets)
        self.loc = torch.zeros(shape) if loc is None else loc
        self.scale = torch.ones(shape) if scale is None else scale
        self.with_target = with_target

    @classmethod
    def last_windows(
        cls,
        values: Sequence[Tensor],
        *,
        lookback: int,
        horizon: int,
        n_targets: int,
        loc: Tensor | None = None,
        scale: Tensor | None = None,
        series_ids: Sequence[object] | None = None,
    ) -> WindowDataset:
        """One window per series made of its last ``lookback`` rows, for forecasting past the end of the data.

        Items have no ``"y"``; ``t0`` equals the series length (the first future step).
        """
        for position, series in enumerate(values):
            if len(series) < lookback:
                name = series_ids[position] if series_ids is not None else position
                raise SeriesTooShortError(f"series {name!r} has {len(series)} rows, fewer than lookback={lookback}")
        index = torch.tensor([[s, len(v) - lookback] for s, v in enumerate(values)], dtype=torch.int64)
        return cls(
            values, index.reshape(-1, 2), lookback=lookback, horizon=horizon, n_targets=n_targets,
            loc=loc, scale=scale, with_target=False,
        )

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> dict[str, Tensor | int]:
        series, start = self.index[item].tolist()
        series_values = self.values[series]
        t0 = start + self.lookback
        window = {
            "x": series_values[start:t0],  # (L, n_inputs) view, no copy
            "series": series,  # default_collate makes ints int64 tensors (B,)
            "t0": t0,
            "loc": self.loc[series],  # (1, n_targets)
            "scale": self.scale[series],
        }
        if self.with_target:
            window["y"] = series_values[t0 : t0 + self.horizon, : self.n_targets]  # (H, n_targets) view
        return window
