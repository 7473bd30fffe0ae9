"""Validate a pandas frame and turn it into one contiguous float32 tensor per series.

Two frame layouts are accepted:

* wide: a time column (or the index) plus value columns, one series;
* long/panel: an ``id_col`` naming the series, a time column and value columns; many series, one global model.

Channels are ordered targets first, then the other inputs (the batch contract relies on it).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from tsbridge.data.errors import (
    DataValidationError,
    MissingColumnError,
    NonFiniteValueError,
    NonNumericColumnError,
    TimestampOrderError,
)

Features = Literal["S", "M", "MS"]
FillPolicy = Literal["ffill", "interpolate", "zero"]
FILL_POLICIES = ("ffill", "interpolate", "zero")
Rows = slice | np.ndarray  # the rows of one series in the frame: all of them (wide) or their positions (panel)


@dataclass(frozen=True)
class SeriesFrame:
    """A validated frame: per-series value tensors plus their timestamps.

    Attributes:
        values: one contiguous float32 tensor ``(n_rows_s, n_inputs)`` per series; the first ``n_targets``
            channels are the targets, in the order of ``target_cols``.
        timestamps: per series, the time axis as a pandas Index (datetimes, or integers for an index-less frame).
        series_ids: the id of each series (``[0]`` for a wide frame).
        input_cols: names of the channels of ``values``, targets first.
        target_cols: names of the target channels.
        freq: pandas offset alias shared by the series (e.g. ``"h"``), or None when it cannot be inferred.
    """

    values: list[Tensor]
    timestamps: list[pd.Index]
    series_ids: list[Hashable]
    input_cols: list[str]
    target_cols: list[str]
    freq: str | None

    @property
    def n_inputs(self) -> int:
        return len(self.input_cols)

    @property
    def n_targets(self) -> int:
        return len(self.target_cols)

    @property
    def lengths(self) -> list[int]:
        return [len(v) for v in self.values]

    def with_values(self, values: list[Tensor]) -> SeriesFrame:
        """A copy holding other (e.g. scaled) tensors of the same shapes."""
        return replace(self, values=values)

    def select(self, keep: Sequence[int]) -> SeriesFrame:
        """A copy holding only the series at positions ``keep``."""
        return replace(
            self,
            values=[self.values[i] for i in keep],
            timestamps=[self.timestamps[i] for i in keep],
            series_ids=[self.series_ids[i] for i in keep],
        )

    def future_index(self, series: int, horizon: int) -> pd.Index:
        """Timestamps of the ``horizon`` steps after the end of series ``series``.

        Uses ``freq`` when known, else the last time step of the series.
        """
        stamps = self.timestamps[series]
        if self.freq is not None and isinstance(stamps, pd.DatetimeIndex):
            return pd.date_range(stamps[-1], periods=horizon + 1, freq=self.freq)[1:]
        step = stamps[-1] - stamps[-2] if len(stamps) > 1 else 1
        return pd.Index([stamps[-1] + step * k for k in range(1, horizon + 1)])


def _as_list(columns: str | Sequence[str] | None) -> list[str]:
    if columns is None:
        return []
    return [columns] if isinstance(columns, str) else list(columns)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)


def resolve_columns(
    frame: pd.DataFrame,
    *,
    target_cols: str | Sequence[str],
    feature_cols: str | Sequence[str] | None = None,
    time_col: str | None = None,
    id_col: str | None = None,
    features: Features | None = None,
) -> tuple[list[str], list[str]]:
    """Pick the input and target channels of a frame.

    Args:
        frame: the data.
        target_cols: the column(s) to forecast.
        feature_cols: extra input columns. With ``"MS"``/``"M"`` and no ``feature_cols``, every other numeric
            column (not time or id) is used.
        time_col, id_col: reserved columns, never values.
        features: ``"S"`` target -> target; ``"MS"`` all channels -> target; ``"M"`` all channels -> all
            channels; ``None`` the targets plus the given ``feature_cols`` as covariates.

    Returns:
        ``(input_cols, target_cols)`` with the targets first in ``input_cols``.
    """
    targets = _as_list(target_cols)
    named = _as_list(feature_cols)
    if not targets:
        raise DataValidationError("target_cols must name at least one column")
    if features not in (None, "S", "M", "MS"):
        raise DataValidationError(f"features must be 'S', 'M', 'MS' or None, got {features!r}")
    if features == "S" and named:
        raise DataValidationError("features='S' forecasts the targets from themselves; drop feature_cols or use 'MS'")
    for column in (time_col, id_col):
        if column is not None and column not in frame.columns:
            raise MissingColumnError(f"column {column!r} not in frame; columns are {list(frame.columns)}")
    reserved = {time_col, id_col}
    for column in targets + named:
        if column not in frame.columns:
            raise MissingColumnError(f"column {column!r} not in frame; columns are {list(frame.columns)}")
        if column in reserved:
            raise DataValidationError(f"column {column!r} is the time or id column and cannot be a value column")
    if features in ("M", "MS") and not named:
        named = [c for c in frame.columns if c not in reserved and c not in targets and _is_numeric(frame[c])]
    inputs = list(dict.fromkeys(targets + named))
    for column in inputs:
        if not _is_numeric(frame[column]):
            raise NonNumericColumnError(f"column {column!r} is not numeric (dtype {frame[column].dtype})")
    return inputs, (inputs if features == "M" else targets)


def _timestamps(raw: pd.Series | pd.Index, name: str, series_id: Hashable) -> pd.Index:
    stamps = pd.Index(raw)
    if not (pd.api.types.is_numeric_dtype(stamps.dtype) or pd.api.types.is_datetime64_any_dtype(stamps.dtype)):
        try:
            stamps = pd.DatetimeIndex(pd.to_datetime(stamps))
        except (ValueError, TypeError) as error:
            raise TimestampOrderError(f"time column {name!r} cannot be parsed as datetimes: {error}") from None
    missing = np.flatnonzero(pd.isna(stamps))
    if missing.size:
        raise TimestampOrderError(f"series {series_id!r}: time column {name!r} is missing at row {missing[0]}")
    if not (stamps.is_monotonic_increasing and stamps.is_unique):
        row = np.flatnonzero(~np.asarray(stamps[1:] > stamps[:-1]))[0] + 1
        kind = "duplicate" if stamps[row] == stamps[row - 1] else "unsorted"
        raise TimestampOrderError(
            f"series {series_id!r}: {kind} timestamp {stamps[row]} at row {row} (after {stamps[row - 1]}); "
            "sort the frame by time and drop duplicates"
        )
    return stamps


def _fill(values: np.ndarray, fill: FillPolicy | None) -> np.ndarray:
    if fill is None:
        return values
    if fill not in FILL_POLICIES:
        raise DataValidationError(f"fill must be one of {FILL_POLICIES} or None, got {fill!r}")
    finite = np.isfinite(values)
    if finite.all():  # nothing to fill: skip the float64 table of the whole series
        return values
    table = pd.DataFrame(np.where(finite, values, np.nan).astype(np.float64))
    if fill == "zero":
        filled = table.fillna(0.0)
    elif fill == "ffill":
        # Leading gaps have no past value; the first observed value is the least surprising choice.
        filled = table.ffill().bfill()
    else:
        filled = table.interpolate(limit_direction="both")
    return np.array(filled.to_numpy(), dtype=np.float32, order="C")  # owned and writable: scaled in place later


def _check_finite(values: np.ndarray, columns: list[str], series_id: Hashable, labels: pd.Index, rows: Rows) -> None:
    """Raise on the first non-finite value, naming it by its frame label ``labels[rows][row]`` (looked up only then)."""
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        row, col = bad[0]
        raise NonFiniteValueError(
            f"series {series_id!r}: column {columns[col]!r} holds {values[row, col]} at row {labels[rows][row]!r}; "
            "clean the data or pass fill='ffill' | 'interpolate' | 'zero'"
        )


def _float32_values(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """``(rows, channels)`` float32, C-ordered and owned (the data module scales it in place).

    Filled one column at a time, so no float64 or transposed copy of the whole frame exists even briefly.
    """
    values = np.empty((len(frame), len(columns)), dtype=np.float32)
    for channel, column in enumerate(columns):
        values[:, channel] = frame[column].to_numpy(dtype=np.float32, na_value=np.nan)
    return values


def _infer_freq(stamps: pd.Index) -> str | None:
    if not isinstance(stamps, pd.DatetimeIndex) or len(stamps) < 3:
        return None
    try:
        offset = pd.DatetimeIndex(stamps, freq="infer").freq  # pd.infer_freq's str return is deprecated
    except (TypeError, ValueError):
        return None
    return None if offset is None else offset.freqstr


def _panel_freq(timestamps: list[pd.Index], series_ids: list[Hashable]) -> str | None:
    """The frequency all series share (None if none can be inferred); differing frequencies are an error."""
    inferred = {}
    for stamps, series_id in zip(timestamps, series_ids):
        freq = _infer_freq(stamps)
        if freq is not None:
            inferred.setdefault(freq, series_id)
    if len(inferred) > 1:
        described = ", ".join(f"{freq!r} (series {series_id!r})" for freq, series_id in inferred.items())
        raise DataValidationError(f"series have different frequencies: {described}; resample them to one")
    return next(iter(inferred), None)


def prepare_series(
    frame: pd.DataFrame,
    *,
    target_cols: str | Sequence[str],
    feature_cols: str | Sequence[str] | None = None,
    time_col: str | None = None,
    id_col: str | None = None,
    features: Features | None = None,
    fill: FillPolicy | None = None,
) -> SeriesFrame:
    """Validate ``frame`` and convert it to per-series contiguous float32 tensors (unscaled).

    Args:
        frame: wide or long/panel frame.
        target_cols, feature_cols, features: see :func:`resolve_columns`.
        time_col: time column; None uses the frame index. Strings are parsed as datetimes.
        id_col: series id column of a long/panel frame; None for a single wide series.
        fill: NaN/inf policy per series: None raises :class:`NonFiniteValueError`; ``"ffill"`` carries the last
            value forward (leading gaps take the first value); ``"interpolate"`` is linear; ``"zero"`` writes 0.

    Returns:
        A :class:`SeriesFrame` whose tensors own their memory (never views of ``frame``); series keep their
        first-appearance order.

    Raises:
        DataValidationError: a subclass naming the column, series or row at fault.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    input_cols, targets = resolve_columns(
        frame, target_cols=target_cols, feature_cols=feature_cols, time_col=time_col, id_col=id_col, features=features
    )
    groups: dict[Hashable, Rows]
    if id_col is None:
        groups = {0: slice(None)}  # a slice keeps views: no row-position array, RangeIndex timestamps stay ranges
    else:
        missing = np.flatnonzero(frame[id_col].isna().to_numpy())
        if missing.size:
            raise DataValidationError(f"id column {id_col!r} is missing at row {frame.index[missing[0]]!r}")
        groups = frame.groupby(id_col, sort=False).indices
    raw_time = frame.index if time_col is None else pd.Index(frame[time_col])
    all_values = _float32_values(frame, input_cols)
    values, timestamps = [], []
    for series_id, rows in groups.items():
        stamps = _timestamps(raw_time[rows], time_col or "index", series_id)
        series_values = _fill(all_values[rows], fill)
        _check_finite(series_values, input_cols, series_id, frame.index, rows)
        values.append(torch.from_numpy(np.ascontiguousarray(series_values)))
        timestamps.append(stamps)
    return SeriesFrame(
        values=values,
        timestamps=timestamps,
        series_ids=list(groups),
        input_cols=input_cols,
        target_cols=targets,
        freq=_panel_freq(timestamps, list(groups)),
    )
