"""The known future of a forecast: future-feature values and calendar features for the steps after each series.

To forecast the ``horizon`` steps after the end of the data, a model that reads known-future inputs needs their
values for those steps: the calendar features follow from the timestamps, the future features come from a frame
the user passes (``predict(df, future=future_df)``). :func:`extend_with_future` appends those rows to each series;
every other channel of them is 0 and never read, as it lies after every window's origin.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from tsbridge.data.calendar import calendar_columns, calendar_features
from tsbridge.data.errors import DataValidationError, MissingColumnError, NonFiniteValueError
from tsbridge.data.frames import SeriesFrame, float64_values


class MissingFutureError(DataValidationError):
    """The known-future values a forecast needs are missing: a column, a series or a timestamp."""


def future_feature_columns(series: SeriesFrame) -> list[Hashable]:
    """The user's future-feature columns of ``series`` (its known-future channels without the calendar ones)."""
    derived = set(calendar_columns(series.calendar)) if series.calendar else set()
    return [column for column in series.future_cols if column not in derived]


def _future_rows(future: pd.DataFrame, columns: list[Hashable], time_col: Hashable | None, id_col: Hashable | None,
                 series_id: Hashable, stamps: pd.Index) -> np.ndarray:
    """The rows of ``future`` at ``stamps`` (for one series), ``columns`` as float64 ``(len(stamps), len(columns))``."""
    rows = future if id_col is None else future[future[id_col] == series_id]
    if id_col is not None and rows.empty:
        raise MissingFutureError(f"the future frame has no rows for series {series_id!r}; it needs the next "
                                 f"{len(stamps)} rows of {columns} for every series")
    times = pd.Index(rows.index if time_col is None else rows[time_col])
    if isinstance(stamps, pd.DatetimeIndex):
        times = pd.DatetimeIndex(pd.to_datetime(times))
        if stamps.tz is not None and times.tz is None:
            times = times.tz_localize(stamps.tz)
        elif stamps.tz is None and times.tz is not None:  # which local time the data's naive stamps mean is unknown
            raise MissingFutureError(
                f"series {series_id!r}: the future frame's timestamps have a time zone ({times.tz}) but the data's "
                "are tz-naive; pass them tz-naive, in the data's local time (.dt.tz_convert(<the data's zone>)"
                ".dt.tz_localize(None))")
    if times.has_duplicates:
        raise MissingFutureError(f"series {series_id!r}: the future frame repeats timestamp "
                                 f"{times[times.duplicated()][0]}")
    missing = stamps.difference(times)
    if len(missing):
        raise MissingFutureError(
            f"series {series_id!r}: the future frame lacks {len(missing)} of the {len(stamps)} forecast timestamps, "
            f"the first {sorted(missing)[0]}; it needs {columns} at {stamps[0]} .. {stamps[-1]}")
    values = float64_values(rows.set_axis(times).loc[stamps], columns, f"series {series_id!r}: the future frame's ")
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        row, column = bad[0]
        raise NonFiniteValueError(f"series {series_id!r}: future value of {columns[column]!r} at {stamps[row]} is "
                                  f"{values[row, column]}; known-future values must be finite")
    return values


def extend_with_future(series: SeriesFrame, horizon: int, future: pd.DataFrame | None, *,
                       time_col: Hashable | None, id_col: Hashable | None) -> SeriesFrame:
    """``series`` with ``horizon`` more rows per series holding the known future of a forecast from its end.

    Args:
        series: prepared data (original units) whose last ``n_future`` channels are known in the future.
        horizon: steps forecast.
        future: the future features' values for those steps: a frame with the time column (or index), the id
            column for a panel, and every future feature; rows outside the forecast steps are ignored. None is
            allowed when the only known-future inputs are calendar features.
        time_col, id_col: the training frame's time and id columns.

    Raises:
        MissingFutureError, MissingColumnError, NonFiniteValueError, NonNumericColumnError: naming the series,
            column or timestamp.
    """
    columns = future_feature_columns(series)
    if columns and future is None:
        raise MissingFutureError(
            f"this model reads the future values of {columns} (future_features): pass future=<a frame with the "
            f"next {horizon} rows of {columns} for every series>, e.g. predict(df, future=future_df)")
    if columns and not isinstance(future, pd.DataFrame):
        raise MissingFutureError(f"future must be a pandas DataFrame, got {type(future).__name__}")
    if columns:
        needed = [c for c in (time_col, id_col) if c is not None] + columns
        absent = [column for column in needed if column not in future.columns]
        if absent:
            raise MissingColumnError(f"the future frame lacks column(s) {absent}; it needs {needed}")
    extended = []
    n_user = len(columns)
    futures = series.future_indexes(horizon)
    for values, series_id, stamps in zip(series.values, series.series_ids, futures):
        block = np.zeros((horizon, series.n_inputs))  # channels other than the known future are never read
        if n_user:
            first = series.n_inputs - series.n_future
            block[:, first : first + n_user] = _future_rows(future, columns, time_col, id_col, series_id, stamps)
        if series.calendar:
            block[:, series.n_inputs - len(calendar_columns(series.calendar)) :] = calendar_features(
                stamps, series.calendar)
        extended.append(torch.cat([values, torch.from_numpy(block).to(values.dtype)]))
    timestamps = [stamps.append(future_stamps) for stamps, future_stamps in zip(series.timestamps, futures)]
    return replace(series, values=extended, timestamps=timestamps)
