"""Validate a pandas frame and turn it into one contiguous float64 tensor per series, on a regular time grid.

Two frame layouts are accepted:

* wide: a time column (or the index) plus value columns, one series;
* long/panel: an ``id_col`` naming the series, a time column and value columns; many series, one global model.

Channels are ordered targets first, then the other inputs (the batch contract relies on it). Values stay float64
here: a float32 copy of ``1e6 + 0.01 * sin(t)`` is a constant, so the data module casts only after scaling.
Column names may be any hashable label (strings, integers, ...); series ids too.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pandas.tseries.frequencies import to_offset
from torch import Tensor

from tsbridge.data.calendar import calendar_columns, calendar_features
from tsbridge.data.columns import Columns, Features, column_list, resolve_columns
from tsbridge.data.errors import (
    DataValidationError,
    FrequencyError,
    MissingTimestampError,
    NonFiniteValueError,
    NonNumericColumnError,
    TimestampOrderError,
)
from tsbridge.data.timegrid import (RegularAxis, TimeAxes, canonical_freq, describe_irregular_step, panel_freq,
                                    regular_axis)

FillPolicy = Literal["ffill", "interpolate", "zero"]
FILL_POLICIES = ("ffill", "interpolate", "zero")
Rows = slice | np.ndarray  # the rows of one series in the frame: all of them (wide) or their positions (panel)


@dataclass(frozen=True)
class SeriesFrame:
    """A validated frame: per-series value tensors plus their timestamps.

    Attributes:
        values: one contiguous tensor ``(n_rows_s, n_inputs)`` per series (float64 in original units from
            :func:`prepare_series`; the data module keeps float32 scaled ones); the first ``n_targets`` channels
            are the targets, in the order of ``target_cols``.
        timestamps: per series, the time axis as a pandas Index (datetimes, or numbers for an index-less frame),
            regular: one row per step of the frequency, gaps included (from :func:`prepare_series` a
            :class:`~tsbridge.data.timegrid.TimeAxes`, which holds a datetime axis as its first timestamp and length).
        series_ids: the id of each series (``[0]`` for a wide frame); any hashable value.
        input_cols: names of the channels of ``values``, targets first.
        target_cols: names of the target channels.
        freq: pandas offset alias shared by the series (e.g. ``"h"``); set for datetime axes by
            :func:`prepare_series` unless every series has a single row, None for numeric ones.
        future_cols: the last channels, whose values are known for the forecast steps too: the future
            features, then the calendar features' columns.
        calendar: the calendar features (names of :data:`~tsbridge.data.calendar.CALENDAR_FEATURES`) derived from
            the timestamps, the last ``calendar_width(calendar)`` channels.
    """

    values: list[Tensor]
    timestamps: Sequence[pd.Index]
    series_ids: list[Hashable]
    input_cols: list[Hashable]
    target_cols: list[Hashable]
    freq: str | None
    future_cols: list[Hashable] = field(default_factory=list)
    calendar: tuple[str, ...] = ()

    @property
    def n_inputs(self) -> int:
        return len(self.input_cols)

    @property
    def n_targets(self) -> int:
        return len(self.target_cols)

    @property
    def n_future(self) -> int:
        return len(self.future_cols)

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
            timestamps=(self.timestamps.select(keep) if isinstance(self.timestamps, TimeAxes)
                        else [self.timestamps[i] for i in keep]),
            series_ids=[self.series_ids[i] for i in keep],
        )

    def future_index(self, series: int, horizon: int) -> pd.Index:
        """Timestamps of the ``horizon`` steps after the end of series ``series``.

        Uses ``freq`` when known, else the last time step of the series.
        """
        return self.future_indexes(horizon, [series])[0]

    def future_indexes(self, horizon: int, series: Sequence[int] | None = None) -> list[pd.Index]:
        """:meth:`future_index` of each of ``series`` (positions; None: every series), built once per distinct
        end (and step): the series of a panel mostly end together, and building an index costs more than the
        forecast of its series."""
        built: dict[tuple, pd.Index] = {}
        indexes = []
        for position in range(len(self.values)) if series is None else series:
            stamps = self.timestamps[position]
            if self.freq is not None and isinstance(stamps, pd.DatetimeIndex):
                key = (stamps[-1],)
                if key not in built:
                    built[key] = pd.date_range(stamps[-1], periods=horizon + 1, freq=self.freq)[1:]
            else:
                step = stamps[-1] - stamps[-2] if len(stamps) > 1 else 1
                key = (stamps[-1], step)
                if key not in built:
                    built[key] = pd.Index([stamps[-1] + step * k for k in range(1, horizon + 1)])
            indexes.append(built[key])
        return indexes


def _timestamps(raw: pd.Series | pd.Index, name: Hashable, series_id: Hashable) -> pd.Index:
    stamps = pd.Index(raw)
    if pd.api.types.is_bool_dtype(stamps.dtype):
        raise TimestampOrderError(f"time column {name!r} holds booleans, not times or numbers")
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


def _warn_unused_time_column(frame: pd.DataFrame) -> None:
    """Warn when the row index becomes the time axis although a column holds datetimes (time_col forgotten): the
    model would train and forecast on row numbers (1095, 1096, ...) instead of timestamps."""
    if isinstance(frame.index, pd.DatetimeIndex):
        return
    dated = [column for column in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[column])]
    if dated:
        warnings.warn(f"no time_col was named, so the row index is the time axis although column {dated[0]!r} holds "
                      f"datetimes; pass time_col={dated[0]!r} to train and forecast on its timestamps", stacklevel=4)


def _check_fill(fill: FillPolicy | None) -> None:
    if fill is not None and fill not in FILL_POLICIES:
        raise DataValidationError(f"fill must be one of {FILL_POLICIES} or None, got {fill!r}")


def _on_grid(values: np.ndarray, axis: RegularAxis) -> np.ndarray:
    """``values`` of the observed rows spread over the grid rows of ``axis``; missing rows are NaN."""
    if axis.observed is None:
        return values
    spread = np.full((len(axis.stamps), values.shape[1]), np.nan)
    spread[axis.observed] = values
    return spread


def _fill(values: np.ndarray, fill: FillPolicy, columns: list[Hashable], series_id: Hashable) -> np.ndarray:
    """NaN/inf (missing timestamps included) replaced as ``fill`` says; float64, owned and C-ordered."""
    finite = np.isfinite(values)
    if finite.all():  # nothing to fill: skip the pandas table of the whole series
        return values
    empty = np.flatnonzero(~finite.any(axis=0))
    if empty.size and fill != "zero":
        raise NonFiniteValueError(f"series {series_id!r}: column {columns[empty[0]]!r} holds no finite value, so "
                                  f"fill={fill!r} has nothing to fill from; drop the column or clean the data")
    table = pd.DataFrame(np.where(finite, values, np.nan))
    if fill == "zero":
        filled = table.fillna(0.0)
    elif fill == "ffill":
        # Leading gaps have no past value; the first observed value is the least surprising choice.
        filled = table.ffill().bfill()
    else:
        filled = table.interpolate(limit_direction="both")
    return np.array(filled.to_numpy(), dtype=np.float64, order="C")


def _check_finite(values: np.ndarray, columns: list[Hashable], series_id: Hashable, labels: pd.Index,
                  rows: Rows) -> None:
    """Raise on the first non-finite value, naming it by its frame label ``labels[rows][row]`` (looked up only then)."""
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        row, col = bad[0]
        raise NonFiniteValueError(
            f"series {series_id!r}: column {columns[col]!r} holds {values[row, col]} at row {labels[rows][row]!r}; "
            "clean the data or pass fill='ffill' | 'interpolate' | 'zero'"
        )


def _check_complete(axis: RegularAxis, series_id: Hashable) -> None:
    """Without a fill policy, a skipped timestamp is an error: closing the gap would misplace every later row."""
    if axis.n_missing:
        raise MissingTimestampError(
            f"series {series_id!r} misses {axis.n_missing} timestamp(s) of its step {axis.step!r}, the first "
            f"{axis.describe_first_gap()}; pass fill='ffill' | 'interpolate' | 'zero' to fill them, or regularise "
            "the frame (DataFrame.asfreq / resample)"
        )


def float64_values(frame: pd.DataFrame, columns: list[Hashable], where: str = "") -> np.ndarray:
    """``(rows, channels)`` float64, C-ordered and owned (never a view of ``frame``), filled column by column.

    Args:
        frame: the rows to read.
        columns: the columns to read, in channel order.
        where: what the messages put before "column ..." (``"the future frame's "``).

    Raises:
        NonNumericColumnError: a value that is no number (an object column holding a string), naming its column.
    """
    values = np.empty((len(frame), len(columns)), dtype=np.float64)
    for channel, column in enumerate(columns):
        try:
            values[:, channel] = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as error:
            raise NonNumericColumnError(f"{where}column {column!r} holds a value that is not a number "
                                        f"({error})") from None
    return values


def _series_rows(frame: pd.DataFrame, id_col: Hashable | None) -> dict[Hashable, Rows]:
    """Rows of each series, in first-appearance order; numpy scalar ids become Python ones (``np.int64(3)`` -> 3)."""
    if id_col is None:
        return {0: slice(None)}  # a slice keeps views: no row-position array, RangeIndex timestamps stay ranges
    missing = np.flatnonzero(frame[id_col].isna().to_numpy())
    if missing.size:
        raise DataValidationError(f"id column {id_col!r} is missing at row {frame.index[missing[0]]!r}")
    groups = frame.groupby(id_col, sort=False).indices
    return {(sid.item() if isinstance(sid, (np.number, np.bool_)) else sid): rows for sid, rows in groups.items()}


def prepare_series(
    frame: pd.DataFrame,
    *,
    target_cols: Columns,
    feature_cols: Columns | None = None,
    time_col: Hashable | None = None,
    id_col: Hashable | None = None,
    features: Features | None = None,
    fill: FillPolicy | None = None,
    freq: str | None = None,
    future_cols: Columns | None = None,
    calendar: Sequence[str] | None = None,
) -> SeriesFrame:
    """Validate ``frame`` and convert it to per-series contiguous float64 tensors (unscaled) on a regular grid.

    Every series is placed on the grid of its frequency, so a skipped timestamp becomes a missing row rather
    than two adjacent rows: ``freq`` when given, else the frequency pandas infers, else (gaps defeat the
    inference) the most common step between timestamps. Numeric time axes step by their most common difference.

    Args:
        frame: wide or long/panel frame.
        target_cols, feature_cols, features: see :func:`resolve_columns`.
        time_col: time column; None uses the frame index. Strings are parsed as datetimes.
        id_col: series id column of a long/panel frame (ids of any hashable type); None for a single wide series.
        fill: policy for NaN/inf values and missing timestamps, per series: None raises
            (:class:`NonFiniteValueError`, :class:`MissingTimestampError`); ``"ffill"`` carries the last value
            forward (leading gaps take the first value); ``"interpolate"`` is linear; ``"zero"`` writes 0.
        freq: pandas frequency of a datetime axis (``"h"``, ``"D"``, ``"W-SUN"``...); None infers it.
        future_cols: covariates known for the forecast steps too (see :func:`resolve_columns`).
        calendar: calendar features derived from the timestamps (``["hour", "dayofweek"]``; see
            :mod:`tsbridge.data.calendar`), appended as the last channels; they need a datetime time axis.

    Returns:
        A :class:`SeriesFrame` whose tensors own their memory (never views of ``frame``); series keep their
        first-appearance order; ``freq`` is set for datetime axes unless every series has a single row.

    Raises:
        DataValidationError: a subclass naming the column, series, row or timestamp at fault;
            :class:`FrequencyError` for timestamps off the frequency's grid (naming the step that does not fit).
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if frame.empty:
        raise DataValidationError(f"the frame has no rows (shape {frame.shape})")
    _check_fill(fill)
    if time_col is None:
        _warn_unused_time_column(frame)
    input_cols, targets = resolve_columns(
        frame, target_cols=target_cols, feature_cols=feature_cols, time_col=time_col, id_col=id_col, features=features,
        future_cols=future_cols,
    )
    calendar = tuple(calendar or ())
    derived = calendar_columns(calendar) if calendar else []
    clash = [column for column in derived if column in input_cols]
    if clash:
        raise DataValidationError(f"calendar column {clash[0]!r} would clash with the frame's column of that name; "
                                  "rename the frame's column")
    future = column_list("future_features", future_cols)  # resolve_columns put them last, in this order
    groups = _series_rows(frame, id_col)
    raw_time = frame.index if time_col is None else pd.Index(frame[time_col])
    time_name = "index" if time_col is None else time_col
    stamps = [_timestamps(raw_time[rows], time_name, series_id) for series_id, rows in groups.items()]
    if freq is not None and not isinstance(stamps[0], pd.DatetimeIndex):
        raise FrequencyError(f"freq={freq!r} applies to datetime time axes, but {time_name!r} holds numbers (their "
                             "step is the most common difference); drop freq or pass datetimes")
    shared_freq = panel_freq(stamps, list(groups), freq)
    all_values = float64_values(frame, input_cols)
    values, axes = [], []
    for (series_id, rows), series_stamps in zip(groups.items(), stamps):
        axis = regular_axis(series_stamps, shared_freq, series_id)
        series_values = all_values[rows]
        if fill is None:
            _check_complete(axis, series_id)
            _check_finite(series_values, input_cols, series_id, frame.index, rows)
        else:
            series_values = _fill(_on_grid(series_values, axis), fill, input_cols, series_id)
        if calendar:
            series_values = np.concatenate([series_values, calendar_features(axis.stamps, calendar)], axis=1)
        values.append(torch.from_numpy(np.ascontiguousarray(series_values, dtype=np.float64)))
        axes.append(axis)
    return SeriesFrame(
        values=values, timestamps=TimeAxes(axes), series_ids=list(groups), input_cols=input_cols + derived,
        target_cols=targets, freq=shared_freq, future_cols=future + derived, calendar=calendar,
    )


def resolve_freq(series: SeriesFrame, freq: str | None) -> str | None:
    """The frequency to forecast ``series`` with: ``freq`` if given (checked), else the one they were prepared at.

    Raises:
        FrequencyError: ``freq`` is no pandas frequency, or differs from the frequency whose grid the series'
            rows are on (prepare them with ``freq=`` instead), or datetime series have no known frequency.
    """
    if freq is not None:
        freq = canonical_freq(freq)
        if series.freq is not None and to_offset(freq) != to_offset(series.freq):
            raise FrequencyError(
                f"freq={freq!r}, but the series' rows are one {series.freq!r} step apart; pass freq={freq!r} where "
                "the frame is read (prepare_series / WindowDataModule), which places the rows on its grid"
            )
        return freq
    stamps = series.timestamps[0]
    if series.freq is None and isinstance(stamps, pd.DatetimeIndex):
        irregular = describe_irregular_step(stamps)
        where = f" (irregular step {irregular})" if irregular else f" (timestamps {list(stamps[:3])}...)"
        raise FrequencyError(
            f"series {series.series_ids[0]!r} has no known frequency{where}; pass freq= (such as 'h' or 'D') "
            "or regularise the frame (DataFrame.asfreq)"
        )
    return series.freq
