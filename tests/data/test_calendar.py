"""Calendar features: values on known dates, bounded sin/cos encoding, row-wise purity, and clear errors."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsbridge.data import DataValidationError
from tsbridge.data.calendar import CALENDAR_FEATURES, calendar_columns, calendar_features, calendar_width

ALL = list(CALENDAR_FEATURES)


def pair(frame: np.ndarray, columns: list[str], name: str) -> np.ndarray:
    """The (sin, cos) columns of ``name``: (N, 2)."""
    return frame[:, [columns.index(f"{name}_sin"), columns.index(f"{name}_cos")]]


def angle_of(position: float) -> np.ndarray:
    return np.array([np.sin(2 * np.pi * position), np.cos(2 * np.pi * position)])


def test_columns_and_width():
    assert calendar_columns(["hour", "is_weekend", "month"]) == ["hour_sin", "hour_cos", "is_weekend", "month_sin",
                                                                 "month_cos"]
    assert calendar_width(["hour", "is_weekend", "month"]) == 5
    assert calendar_width(ALL) == 2 * (len(ALL) - 1) + 1
    assert calendar_columns("hour") == ["hour_sin", "hour_cos"]  # one string is one name
    stamps = pd.date_range("2024-01-01", periods=7, freq="D")
    assert calendar_features(stamps, ALL).shape == (7, calendar_width(ALL))
    assert calendar_features(stamps, []).shape == (7, 0)


def test_values_on_known_timestamps():
    # 2024-02-29 06:30 is a Thursday in a leap year, ISO week 9, day 60 of 366.
    stamps = pd.DatetimeIndex(["2024-02-29 06:30", "2024-03-02 00:00"])
    columns = calendar_columns(ALL)
    frame = calendar_features(stamps, ALL)
    expected = {"minute": 30 / 60, "hour": 6 / 24, "dayofweek": 3 / 7, "dayofmonth": 28 / 29, "dayofyear": 59 / 366,
                "weekofyear": 8 / 53, "month": 1 / 12}
    for name, position in expected.items():
        np.testing.assert_allclose(pair(frame, columns, name)[0], angle_of(position), atol=1e-6, err_msg=name)
    np.testing.assert_allclose(pair(frame, columns, "dayofmonth")[1], angle_of(1 / 31), atol=1e-6)
    assert frame[:, columns.index("is_weekend")].tolist() == [0.0, 1.0]  # Thursday, Saturday
    assert frame.dtype == np.float32


def test_each_slot_of_a_cycle_is_distinct_and_the_ends_are_neighbours():
    day = pd.date_range("2013-06-03", periods=48, freq="30min")
    slots = calendar_features(day, ["hour", "minute"])
    assert len(np.unique(slots.round(5), axis=0)) == 48  # every half hour of the day has its own code
    hours = calendar_features(day, "hour")
    wrap = np.linalg.norm(hours[-1] - calendar_features(pd.DatetimeIndex(["2013-06-04 00:00"]), "hour")[0])
    assert wrap < 0.3 < np.linalg.norm(hours[22] - hours[0])  # 23:00 is next to 00:00, not across the cycle
    new_year = calendar_features(pd.DatetimeIndex(["2013-12-31", "2014-01-01", "2014-07-01"]), "dayofyear")
    assert np.linalg.norm(new_year[0] - new_year[1]) < 0.02 < 1.9 < np.linalg.norm(new_year[1] - new_year[2])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
                             max_value=pd.Timestamp("2200-01-01").to_pydatetime()), min_size=1, max_size=30))
def test_bounded_and_row_by_row(times):
    """Each row depends on its own timestamp only: known for any future step, whatever else is in the batch."""
    stamps = pd.DatetimeIndex(times)
    frame = calendar_features(stamps, ALL)
    assert np.isfinite(frame).all() and (np.abs(frame) <= 1.0).all()
    for row in (0, len(stamps) - 1):
        np.testing.assert_array_equal(frame[row], calendar_features(stamps[row:row + 1], ALL)[0])
    cyclic = [name for name in ALL if CALENDAR_FEATURES[name].cyclic]
    circle = calendar_features(stamps, cyclic).reshape(len(stamps), -1, 2)
    np.testing.assert_allclose(np.linalg.norm(circle, axis=2), 1.0, atol=1e-6)


def test_series_and_time_zones_use_local_wall_clock():
    aware = pd.date_range("2024-07-01 09:00", periods=3, freq="h", tz="Australia/Melbourne")
    naive = aware.tz_localize(None)
    np.testing.assert_array_equal(calendar_features(aware, ALL), calendar_features(naive, ALL))
    np.testing.assert_array_equal(calendar_features(pd.Series(naive), ALL), calendar_features(naive, ALL))


def test_unknown_and_repeated_names_are_clear_errors():
    stamps = pd.date_range("2024-01-01", periods=3, freq="h")
    with pytest.raises(DataValidationError, match=r"unknown calendar feature 'weekday'.*dayofweek \(day of the week"):
        calendar_features(stamps, ["hour", "weekday"])
    with pytest.raises(DataValidationError, match=r"\['hour'\] are named more than once"):
        calendar_width(["hour", "month", "hour"])


@pytest.mark.parametrize(
    "timestamps", [pd.RangeIndex(5), pd.Index(["2024-01-01", "2024-01-02"]), np.arange(3.0)],
    ids=["int", "str", "float"],
)
def test_non_datetime_timestamps_are_a_clear_error(timestamps):
    with pytest.raises(DataValidationError, match="calendar features need datetime timestamps"):
        calendar_features(timestamps, ["hour"])


def test_missing_timestamp_is_named():
    with pytest.raises(DataValidationError, match="timestamp 1 is missing"):
        calendar_features(pd.DatetimeIndex(["2024-01-01", None]), ["hour"])
