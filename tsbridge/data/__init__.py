"""Data layer: load frames, validate them, split and scale without leaks, and serve lazily indexed windows.

Typical use::

    from tsbridge.data import WindowDataModule, load_dataset

    dm = WindowDataModule(load_dataset("etth1"), time_col="date", target_cols="OT", features="MS",
                          lookback=96, horizon=96, split="ett-hourly", scaler="standard", batch_size=32)
"""

from typing import Any

from tsbridge.data.calendar import CALENDAR_FEATURES, calendar_columns, calendar_features, calendar_width
from tsbridge.data.competitions import COMPETITIONS, Competition, competition, load_competition
from tsbridge.data.datasets import cache_dir, load_dataset, read_frame
from tsbridge.data.errors import (
    DatasetNotFoundError,
    DataValidationError,
    EmptySplitError,
    FrequencyError,
    MissingColumnError,
    MissingTimestampError,
    NonFiniteValueError,
    NonNumericColumnError,
    SeriesTooShortError,
    TimestampOrderError,
    UnknownDatasetError,
)
from tsbridge.data.frames import SeriesFrame, prepare_series, resolve_columns, resolve_freq
from tsbridge.data.future import MissingFutureError, extend_with_future, future_feature_columns
from tsbridge.data.scaling import StandardScaler, model_units
from tsbridge.data.splits import split_ranges
from tsbridge.data.synthetic import make_synthetic
from tsbridge.data.windows import StridedWindows, WindowDataset, collate_windows, window_index


def __getattr__(name: str) -> Any:
    # WindowDataModule pulls in Lightning (seconds to import); loading and windowing data does not need it.
    if name == "WindowDataModule":
        from tsbridge.data.datamodule import WindowDataModule

        return WindowDataModule
    raise AttributeError(f"module 'tsbridge.data' has no attribute {name!r}")

__all__ = [
    "CALENDAR_FEATURES",
    "COMPETITIONS",
    "Competition",
    "DataValidationError",
    "DatasetNotFoundError",
    "EmptySplitError",
    "FrequencyError",
    "MissingFutureError",
    "MissingColumnError",
    "MissingTimestampError",
    "NonFiniteValueError",
    "NonNumericColumnError",
    "SeriesFrame",
    "SeriesTooShortError",
    "StandardScaler",
    "StridedWindows",
    "TimestampOrderError",
    "UnknownDatasetError",
    "WindowDataModule",
    "WindowDataset",
    "calendar_columns",
    "calendar_features",
    "calendar_width",
    "collate_windows",
    "competition",
    "extend_with_future",
    "future_feature_columns",
    "cache_dir",
    "load_competition",
    "load_dataset",
    "make_synthetic",
    "model_units",
    "prepare_series",
    "read_frame",
    "resolve_columns",
    "resolve_freq",
    "split_ranges",
    "window_index",
]
