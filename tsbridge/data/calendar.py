"""Calendar features: functions of the timestamps alone, so they are known for every future step.

A calendar feature reads nothing but the timestamp of its own row (no values, no neighbouring rows), so computing
it for the forecast steps leaks nothing: it is a known-future covariate for free.

Encoding: each cyclic feature is the position on its cycle (0 at the cycle's start, 1 a full turn) written as the
pair ``sin(2 pi p), cos(2 pi p)``. The end of a cycle and its start are neighbours (23:00 and 00:00, Sunday and
Monday, 31 December and 1 January) and demand, prices and weather run on across them; on the unit circle they sit
next to each other, whereas GluonTS' ramp ``value / (n - 1) - 0.5`` jumps from +0.5 to -0.5 there, an edge a
small net must learn around. Both stay in [-1, 1], like standardised inputs; the circle costs two columns per
feature (see :func:`calendar_width` and :func:`calendar_columns`). Flags (``is_weekend``) are one 0/1 column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsbridge.data.errors import DataValidationError


@dataclass(frozen=True)
class CalendarFeature:
    """One calendar feature.

    Attributes:
        description: what it measures, for docs and error messages.
        position: timestamps -> position on the cycle in [0, 1) (cyclic), or a 0/1 flag (not cyclic).
        cyclic: encoded as a sin/cos pair (two columns) if True, else as the value itself (one column).
    """

    description: str
    position: Callable[[pd.DatetimeIndex], np.ndarray]
    cyclic: bool = True

    @property
    def width(self) -> int:
        return 2 if self.cyclic else 1


def _iso_week(stamps: pd.DatetimeIndex) -> np.ndarray:
    return stamps.isocalendar()["week"].to_numpy(dtype=np.float64)


#: Every calendar feature by name. Month and year cycles follow the calendar: day 31 of a 31-day month and
#: day 366 of a leap year are one step before the turn, like day 30 of a 30-day month.
CALENDAR_FEATURES: dict[str, CalendarFeature] = {
    "minute": CalendarFeature("minute of the hour, 0-59 (a turn an hour)", lambda t: t.minute / 60),
    "hour": CalendarFeature("hour of the day, 0-23 (a turn a day)", lambda t: t.hour / 24),
    "dayofweek": CalendarFeature("day of the week, Monday 0 to Sunday 6 (a turn a week)", lambda t: t.day_of_week / 7),
    "dayofmonth": CalendarFeature(
        "day of the month, 1 to 28-31 (a turn a month, whatever its length)", lambda t: (t.day - 1) / t.days_in_month
    ),
    "dayofyear": CalendarFeature(
        "day of the year, 1 to 365/366 (a turn a year, leap years included)",
        lambda t: (t.day_of_year - 1) / (365 + t.is_leap_year),
    ),
    "weekofyear": CalendarFeature(
        "ISO week of the year, 1-53 (a turn every 53 weeks; a 52-week year ends a week short of it)",
        lambda t: (_iso_week(t) - 1) / 53,
    ),
    "month": CalendarFeature("month of the year, 1-12 (a turn a year)", lambda t: (t.month - 1) / 12),
    "is_weekend": CalendarFeature("1 on Saturday and Sunday, else 0", lambda t: t.day_of_week >= 5, cyclic=False),
}


def _check_names(names: str | Sequence[str]) -> list[str]:
    """``names`` as a list of known, distinct feature names; one string is one name."""
    listed = [names] if isinstance(names, str) else list(names)
    for name in listed:
        if name not in CALENDAR_FEATURES:
            known = ", ".join(f"{key} ({feature.description})" for key, feature in CALENDAR_FEATURES.items())
            raise DataValidationError(f"unknown calendar feature {name!r}; the known ones are: {known}")
    repeated = sorted({name for name in listed if listed.count(name) > 1})
    if repeated:
        raise DataValidationError(f"calendar features {repeated} are named more than once in {listed}")
    return listed


def calendar_columns(names: str | Sequence[str]) -> list[str]:
    """Names of the columns :func:`calendar_features` returns, in order: ``<name>_sin``, ``<name>_cos`` per cyclic
    feature, ``<name>`` per flag (e.g. ``["hour", "is_weekend"]`` -> ``hour_sin, hour_cos, is_weekend``)."""
    columns = []
    for name in _check_names(names):
        columns += [f"{name}_sin", f"{name}_cos"] if CALENDAR_FEATURES[name].cyclic else [name]
    return columns


def calendar_width(names: str | Sequence[str]) -> int:
    """Number of columns :func:`calendar_features` returns for ``names``: 2 per cyclic feature, 1 per flag."""
    return sum(CALENDAR_FEATURES[name].width for name in _check_names(names))


def _datetimes(timestamps: pd.DatetimeIndex | pd.Series | np.ndarray) -> pd.DatetimeIndex:
    dtype = getattr(timestamps, "dtype", None)
    if dtype is None or not pd.api.types.is_datetime64_any_dtype(dtype):
        raise DataValidationError(
            f"calendar features need datetime timestamps, got {type(timestamps).__name__} of dtype {dtype}; "
            "give the frame a datetime time column (pd.to_datetime) or drop the calendar features"
        )
    stamps = pd.DatetimeIndex(timestamps)
    missing = np.flatnonzero(stamps.isna())
    if missing.size:
        raise DataValidationError(f"timestamp {missing[0]} is missing (NaT); calendar features need every timestamp")
    return stamps


def calendar_features(
    timestamps: pd.DatetimeIndex | pd.Series | np.ndarray, names: str | Sequence[str]
) -> np.ndarray:
    """Calendar features of each timestamp.

    Args:
        timestamps: (N,) datetimes (naive or time-zone aware; aware ones use their local wall-clock fields).
        names: keys of :data:`CALENDAR_FEATURES`, or one such string.

    Returns:
        (N, calendar_width(names)) float32 array in [-1, 1], columns as :func:`calendar_columns` names them.

    Raises:
        DataValidationError: an unknown or repeated name (the message lists the known ones), timestamps that are
            not datetimes, or a missing (NaT) timestamp.
    """
    listed = _check_names(names)
    stamps = _datetimes(timestamps)
    columns = []
    for name in listed:
        feature = CALENDAR_FEATURES[name]
        position = np.asarray(feature.position(stamps), dtype=np.float64)  # (N,)
        if feature.cyclic:
            angle = 2 * np.pi * position
            columns += [np.sin(angle), np.cos(angle)]
        else:
            columns.append(position)
    if not columns:
        return np.zeros((len(stamps), 0), dtype=np.float32)
    return np.stack(columns, axis=1).astype(np.float32)  # (N, width)
