"""Sliding windows indexed lazily over one contiguous tensor per series.

Window positions, one vocabulary everywhere (rows counted within a series, from 0):

* ``start``: the first look-back row; the input ``x`` is rows ``[start, start + lookback)``;
* ``origin``: the last look-back row, ``start + lookback - 1``, the last row a forecast may read (the
  forecast is "made at" its origin; backtests and prediction tables name windows by it);
* forecast rows: ``origin + 1 .. origin + horizon``, the rows of ``y``;
* padding: a ``start`` below 0 (a window that begins before its series' first row, allowed by a data module's
  ``min_lookback``) reads its missing rows ``start .. -1`` as copies of row 0, all channels (edge padding, as
  N-BEATS and NeuralForecast pad short series). Only look-back rows are padded: ``origin`` is never below 0, so
  the forecast rows (``y``, ``x_future``) are always real rows.

A dataset stores the series tensors once plus a ``(series, start)`` index that is, for regularly spaced windows,
one ``(first start, count)`` pair per series; ``x`` and ``y`` are views into the series tensor, so memory is
O(rows x channels) whatever the look-back or the number of windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import Tensor
from torch.utils.data import Dataset, default_collate



class StridedWindows:
    """Every ``stride``-th window start of each series, held as one ``(first start, count)`` pair per series.

    Item ``i`` is found by bisecting the cumulative counts, so the index costs O(series), not O(windows) (a
    materialised int64 ``(series, start)`` index takes half as many bytes as 8 float32 channels of data). The pairs
    are int64 arrays, not lists: a list holds an 8-byte pointer and a 28-byte int object per entry.

    Args:
        first_starts: per series, the row of its first window start.
        counts: per series, its number of windows.
        stride: step between consecutive starts of a series.
    """

    def __init__(self, first_starts: Sequence[int], counts: Sequence[int], stride: int = 1) -> None:
        self.first_starts = np.asarray(first_starts, dtype=np.int64).reshape(-1)
        self.counts = np.asarray(counts, dtype=np.int64).reshape(-1)
        self.stride = stride
        self._ends = np.cumsum(self.counts)  # items of series s are [ends[s] - counts[s], ends[s])

    @classmethod
    def from_ranges(
        cls, row_ranges: Sequence[tuple[int, int]], lookback: int, horizon: int, stride: int = 1
    ) -> StridedWindows:
        """Every window whose ``lookback + horizon`` rows lie in its series' rows ``[begin, end)``; a negative
        ``begin`` counts the padded rows before row 0 (the count depends only on ``end - begin``)."""
        begins, ends = np.asarray(row_ranges, dtype=np.int64).reshape(-1, 2).T
        return cls(begins, np.maximum(0, (ends - lookback - horizon - begins) // stride + 1), stride)

    def latest(self, count: int) -> StridedWindows:
        """Each series' last ``count`` windows (all of a series that holds fewer): the most recent history."""
        kept = np.minimum(self.counts, count)
        return StridedWindows(self.first_starts + (self.counts - kept) * self.stride, kept, self.stride)

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def locate(self, item: int) -> tuple[int, int]:
        """``(series, start)`` of window ``item`` (negative items count from the end, as for sequences)."""
        n_windows = len(self)
        if not -n_windows <= item < n_windows:
            raise IndexError(f"window {item} out of range for {n_windows} windows")
        series, start = self.locate_many(np.array([item], dtype=np.int64))
        return int(series[0]), int(start[0])

    def locate_many(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`locate`: int64 ``series`` and ``start`` arrays for the int64 array ``items``."""
        n_windows = len(self)
        if len(items) and not (-n_windows <= items.min() and items.max() < n_windows):
            raise IndexError(f"window out of range for {n_windows} windows")
        items = items % max(n_windows, 1)
        series = np.searchsorted(self._ends, items, side="right")
        return series, self.first_starts[series] + (items - self._ends[series] + self.counts[series]) * self.stride

    def pairs(self) -> Tensor:
        """All ``(series, start)`` pairs, materialised: int64 ``(n_windows, 2)``, series-major, starts increasing."""
        series, starts = self.locate_many(np.arange(len(self), dtype=np.int64))
        return torch.from_numpy(np.stack([series, starts], axis=1))


def window_index(row_ranges: Sequence[tuple[int, int]], lookback: int, horizon: int, stride: int = 1) -> Tensor:
    """``(series, start)`` pairs of every window whose ``lookback + horizon`` rows lie in its series' range.

    Args:
        row_ranges: per series, the rows ``[begin, end)`` the windows may read.
        lookback, horizon: window parts; ``x`` is rows ``[start, start + lookback)``, ``y`` the next ``horizon``.
        stride: step between consecutive window starts.

    Returns:
        int64 ``(n_windows, 2)``, series-major, starts increasing (:meth:`StridedWindows.pairs`; datasets keep the
        compact :class:`StridedWindows` instead).
    """
    return StridedWindows.from_ranges(row_ranges, lookback, horizon, stride).pairs()


def _padded_rows(starts: np.ndarray, length: int) -> np.ndarray:
    """Rows ``[start, start + length)`` of each of ``starts``, the rows before 0 read as row 0: ``(B, length)``."""
    return np.maximum(starts[:, None] + np.arange(length), 0)


class WindowDataset(Dataset):
    """Windows over per-series tensors, yielding the batch-contract dicts.

    Each item is ``{"x": (L, n_inputs), "y": (H, n_targets), "series": (), "origin": (), "loc": (1, n_targets),
    "scale": (1, n_targets)}``; ``origin`` is the row (within the series) of the window's last input step and
    ``y * scale + loc`` is in original units. Without targets (``with_target=False``) ``"y"`` is absent. With
    known-future channels (the last ``n_future``), ``"x_future"`` (H, n_future) holds their values on the forecast
    rows: the only values after the origin a window carries besides ``y``. A window whose start is below 0 is
    edge-padded (its rows before 0 repeat row 0; see :mod:`tsbridge.data.windows`).

    Args:
        values: one contiguous float32 tensor ``(n_rows_s, n_inputs)`` per series, targets first (usually scaled).
        index: the windows: :class:`StridedWindows`, or any int64 ``(n_windows, 2)`` of ``(series, start)``
            pairs (see :func:`window_index`); a start may be negative (padding) down to ``1 - lookback``, so that
            every origin is a real row.
        lookback, horizon: window lengths L and H.
        n_targets: number of leading target channels.
        loc, scale: ``(n_series, 1, n_targets)`` statistics to undo scaling; default 0 and 1.
        with_target: whether items carry ``"y"`` (False for forecasting beyond the end of the data).
        n_future: known-future channels, the last ones of ``values``; items then carry ``"x_future"``.
    """

    def __init__(
        self,
        values: Sequence[Tensor],
        index: StridedWindows | Tensor,
        *,
        lookback: int,
        horizon: int,
        n_targets: int,
        loc: Tensor | None = None,
        scale: Tensor | None = None,
        with_target: bool = True,
        n_future: int = 0,
    ) -> None:
        self.values = list(values)
        self.n_future = n_future
        self.index = index
        self.lookback = lookback
        self.horizon = horizon
        self.n_targets = n_targets
        shape = (len(self.values), 1, n_targets)
        # float64, as a scaler's statistics are: batches have one dtype whether or not the data were scaled.
        self.loc = torch.zeros(shape, dtype=torch.float64) if loc is None else loc
        self.scale = torch.ones(shape, dtype=torch.float64) if scale is None else scale
        self.with_target = with_target
        first_start = self._first_start()
        if first_start is not None and first_start <= -lookback:
            raise ValueError(f"a window starts at row {first_start}, so its origin {first_start + lookback - 1} is "
                             f"before its series' first row; padding may only fill look-back rows (starts down to "
                             f"1 - lookback = {1 - lookback})")

    def _first_start(self) -> int | None:
        """The lowest window start of the index, or None without windows."""
        if isinstance(self.index, StridedWindows):
            starts = self.index.first_starts[self.index.counts > 0]
        else:
            starts = self.index[:, 1].numpy()
        return int(starts.min()) if len(starts) else None

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> dict[str, Tensor | int]:
        series, start = self.index.locate(item) if isinstance(self.index, StridedWindows) else self.index[item].tolist()
        series_values = self.values[series]
        end = start + self.lookback  # the first forecast row
        window = {
            # (L, n_inputs): a view, no copy, unless the window begins before row 0 and is padded
            "x": series_values[start:end] if start >= 0 else series_values[torch.arange(start, end).clamp_min(0)],
            "series": series,  # default_collate makes ints int64 tensors (B,)
            "origin": end - 1,
            "loc": self.loc[series],  # (1, n_targets)
            "scale": self.scale[series],
        }
        if self.with_target:
            window["y"] = series_values[end : end + self.horizon, : self.n_targets]  # (H, n_targets) view
        if self.n_future:
            window["x_future"] = series_values[end : end + self.horizon, -self.n_future :]  # (H, n_future) view
        return window

    def origins(self) -> Tensor:
        """``(series, origin)`` pairs of every window, in order: int64 ``(N, 2)``, ``origin`` the row of its last
        input step (the positions :meth:`tsbridge.predictor.Predictor.windows` takes)."""
        pairs = (self.index.pairs() if isinstance(self.index, StridedWindows) else self.index).clone()
        pairs[:, 1] += self.lookback - 1
        return pairs

    def __getitems__(self, items: Sequence[int]) -> WindowBatch:
        """The windows ``items`` as one collated batch (the keys of :meth:`__getitem__`, batch first).

        DataLoaders call this for a whole batch at once; pass ``collate_fn=collate_windows`` (the default
        ``default_collate`` expects a list of items). Per-item ``__getitem__`` plus ``default_collate`` costs
        several microseconds of host time per window, which is most of an inference batch of a small model on a
        GPU. The gather runs in NumPy on purpose: it is single-threaded, while each small torch op on the CPU
        wakes every intra-op thread (about 1 ms per gather on a 16-core GPU host).
        """
        items = np.asarray(items, dtype=np.int64)
        if isinstance(self.index, StridedWindows):
            series, starts = self.index.locate_many(items)
        else:
            series, starts = self.index.numpy()[items].T
        origins = starts + self.lookback - 1
        batch = WindowBatch(
            x=self._gather(series, starts, self.lookback),
            series=torch.from_numpy(np.ascontiguousarray(series)),
            origin=torch.from_numpy(np.ascontiguousarray(origins)),
            loc=torch.from_numpy(self.loc.numpy()[series]), scale=torch.from_numpy(self.scale.numpy()[series]),
        )
        if self.with_target:
            batch["y"] = self._gather(series, origins + 1, self.horizon, slice(None, self.n_targets))
        if self.n_future:
            batch["x_future"] = self._gather(series, origins + 1, self.horizon, slice(-self.n_future, None))
        return batch

    def _gather(self, series: np.ndarray, starts: np.ndarray, length: int, channels: slice = slice(None)) -> Tensor:
        """Rows ``[start, start + length)`` (``channels`` columns) of each window's series: ``(B, length, C)``;
        rows before 0 are edge-padded (row 0)."""
        padded = starts.min() < 0  # negative starts index sliding_window_view and slices from the end: never use them
        if (series == series[0]).all():
            # One series, the usual case: every window is a view of it, one index copies the batch.
            values = self.values[series[0]].numpy()[:, channels]
            if padded:
                return torch.from_numpy(values[_padded_rows(starts, length)])  # (B, length, C)
            windows = sliding_window_view(values, length, axis=0)[starts]  # (B, C, length)
            return torch.from_numpy(np.ascontiguousarray(windows.transpose(0, 2, 1)))
        # Only the batch's series: a list over every series of a 100k-series panel cost more than the step.
        rows = _padded_rows(starts, length) if padded else [slice(start, start + length) for start in starts.tolist()]
        return torch.from_numpy(np.stack([self.values[s].numpy()[window_rows, channels]
                                          for s, window_rows in zip(series.tolist(), rows)]))


class WindowBatch(dict):
    """A collated batch of :class:`WindowDataset` windows (string keys, batch-first tensors).

    Indexing it with a number means ``default_collate`` received it, which expects a list of items: the error
    says which ``collate_fn`` to pass instead of failing with ``KeyError: 0``.
    """

    def __getitem__(self, key: str) -> Tensor:
        if not isinstance(key, str):
            raise TypeError("WindowDataset batches are collated by WindowDataset.__getitems__: give the DataLoader "
                            "collate_fn=tsbridge.data.collate_windows")
        return super().__getitem__(key)


def collate_windows(batch: WindowBatch | Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``collate_fn`` for DataLoaders over :class:`WindowDataset`: batches from ``__getitems__`` pass through as
    plain dicts; a list of items (e.g. from a dataset wrapper without ``__getitems__``) is default-collated."""
    return dict(batch) if isinstance(batch, WindowBatch) else default_collate(batch)
