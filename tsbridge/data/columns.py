"""Which frame columns are targets, which are other inputs, and which are reserved (time, id).

Column labels may be strings or any other hashable label (ints from ``pd.DataFrame(array)``, timestamps...): a
string or other hashable label names one column, a list or tuple names several.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator, Sequence, Set
from typing import Literal, Union

import numpy as np
import pandas as pd

from tsbridge.data.errors import DataValidationError, MissingColumnError, NonNumericColumnError

Features = Literal["S", "M", "MS"]
#: One column label (a string, or any other hashable label such as an int) or a list/tuple of labels.
Columns = Union[Hashable, Sequence[Hashable]]


def column_list(role: str, columns: Columns | None) -> list[Hashable]:
    """A string or other hashable label is one column; a list, tuple, Index or array holds several."""
    if columns is None:
        return []
    if isinstance(columns, (Set, dict)):
        raise DataValidationError(f"{role} must be a column name or a list of names (ordered), got a "
                                  f"{type(columns).__name__}")
    if isinstance(columns, (list, tuple, pd.Index, pd.Series, np.ndarray, Iterator)):
        names = list(columns)
    elif isinstance(columns, Hashable):
        return [columns]
    else:
        raise DataValidationError(f"{role} must be a column name or a list of names, got {type(columns).__name__}")
    for name in names:
        if not isinstance(name, Hashable) or isinstance(name, tuple):
            raise DataValidationError(f"{role} holds {name!r}, which is not a column name")
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise DataValidationError(f"{role} names column {repeated[0]!r} more than once; name each column once")
    return names


def _single_column(role: str, column: Hashable | None) -> Hashable | None:
    if column is not None and (not isinstance(column, Hashable) or isinstance(column, tuple)):
        raise DataValidationError(f"{role} must be one column name, got {column!r}")
    return column


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)


def resolve_columns(
    frame: pd.DataFrame,
    *,
    target_cols: Columns,
    feature_cols: Columns | None = None,
    time_col: Hashable | None = None,
    id_col: Hashable | None = None,
    features: Features | None = None,
    future_cols: Columns | None = None,
) -> tuple[list[Hashable], list[Hashable]]:
    """Pick the input and target channels of a frame.

    Covariates come in two kinds, by when they are known: ``feature_cols`` are known up to the forecast origin only
    (past covariates, e.g. a measured wind speed); ``future_cols`` are known for the forecast steps too (future
    covariates: a load forecast, a holiday flag), so the model reads their values over the horizon as well.

    Args:
        frame: the data; its column labels may be strings or any other hashable labels (e.g. ints).
        target_cols: the column(s) to forecast: one label (``"y"``, ``0``) or a list/tuple of labels.
        feature_cols: extra input columns. With ``"MS"``/``"M"`` and no ``feature_cols``, every other numeric
            column (not time or id) is used.
        time_col, id_col: reserved columns, never values.
        features: ``"S"`` target -> target; ``"MS"`` all channels -> target; ``"M"`` all channels -> all
            channels; ``None`` the targets plus the given ``feature_cols`` as covariates.
        future_cols: known-future covariates; never chosen by ``"MS"``/``"M"`` as past features.

    Returns:
        ``(input_cols, target_cols)``: the targets first in ``input_cols``, then the past covariates, then
        ``future_cols`` (the batch contract reads the known-future channels from the end).

    Raises:
        DataValidationError: a column named twice (within or across targets and features), a label the frame
            holds more than once, or bad options; :class:`MissingColumnError`, :class:`NonNumericColumnError`.
    """
    targets = column_list("target_cols", target_cols)
    named = column_list("feature_cols", feature_cols)
    future = column_list("future_features", future_cols)
    time_col, id_col = _single_column("time_col", time_col), _single_column("id_col", id_col)
    if not targets:
        raise DataValidationError("target_cols must name at least one column")
    if features not in (None, "S", "M", "MS"):
        raise DataValidationError(f"features must be 'S', 'M', 'MS' or None, got {features!r}")
    if features == "S" and named:
        raise DataValidationError("features='S' forecasts the targets from themselves; drop feature_cols or use 'MS'")
    both = [column for column in targets if column in named]
    if both:
        raise DataValidationError(f"column {both[0]!r} is both a target and a feature; targets are inputs already, "
                                  "so drop it from feature_cols")
    forecast_future = [column for column in targets if column in future]
    if forecast_future:
        raise DataValidationError(f"column {forecast_future[0]!r} is a target, so its future values are what is "
                                  "forecast: it cannot be a future feature; drop it from future_features")
    twice = [column for column in named if column in future]
    if twice:
        raise DataValidationError(
            f"column {twice[0]!r} is in both features and future_features; put it in one list: future_features if "
            "its values for the forecast steps are known when forecasting (a forecast, a calendar, a plan), else "
            "features (known up to the forecast origin only)")
    if time_col is not None and time_col == id_col:
        raise DataValidationError(f"column {time_col!r} cannot be both the time and the id column")
    duplicated = set(frame.columns[frame.columns.duplicated()])
    reserved = {time_col, id_col} - {None}
    for column in [*reserved, *targets, *named, *future]:
        if column not in frame.columns:
            raise MissingColumnError(f"column {column!r} not in frame; columns are {list(frame.columns)}")
        if column in duplicated:
            raise DataValidationError(f"the frame has several columns named {column!r}; rename or drop the copies")
    for column in targets + named + future:
        if column in reserved:
            raise DataValidationError(f"column {column!r} is the time or id column and cannot be a value column")
    if features in ("M", "MS") and not named:
        candidates = [c for c in dict.fromkeys(frame.columns)
                      if c not in reserved and c not in targets and c not in future]
        copies = [c for c in candidates if c in duplicated]
        if copies:
            raise DataValidationError(f"the frame has several columns named {copies[0]!r}; features={features!r} "
                                      "would use them all: rename or drop the copies")
        named = [c for c in candidates if _is_numeric(frame[c])]
    inputs = targets + named + future
    for column in inputs:
        if not _is_numeric(frame[column]):
            raise NonNumericColumnError(f"column {column!r} is not numeric (dtype {frame[column].dtype})")
    return inputs, (targets + named if features == "M" else targets)
