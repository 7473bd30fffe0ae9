"""Shortcuts of the regular-axis code (tsbridge.data.timegrid) against the per-axis pandas work they save."""

import pandas as pd
import pytest

from tsbridge.data import FrequencyError
from tsbridge.data.timegrid import _datetime_grid, _inferred_freqs, infer_freq, panel_freq, regular_axis

FREQS = ["h", "15min", "24h", "D", "3D", "W-SUN", "W-MON", "MS", "QS", "YS", "B", "365D"]


def axes() -> list[pd.DatetimeIndex]:
    """Axes of every frequency above, tz-naive and across a DST change (where "24h" and "D" part), 3 to 40 rows, at
    two resolutions, with and without a gap."""
    found = []
    for freq in FREQS:
        for tz in (None, "Europe/Paris"):
            for start in ("2021-01-01", "2021-03-27 22:00", "2020-02-27"):
                for rows in (3, 40):
                    for unit in ("ns", "s"):
                        stamps = pd.DatetimeIndex(pd.date_range(start, periods=rows, freq=freq, tz=tz, unit=unit),
                                                  freq=None)
                        found += [stamps, stamps.delete(1)]
    return found


def test_axes_of_one_step_share_an_inference_only_where_pandas_answers_the_same_for_each():
    for stamps in axes():
        panel = [stamps, stamps + pd.Timedelta(hours=1), stamps + pd.Timedelta(days=1)]  # other anchors, same step
        assert _inferred_freqs(panel) == [infer_freq(axis) for axis in panel], stamps


def test_an_axis_already_on_its_grid_is_returned_as_the_built_grid_would_give_it():
    for stamps in axes():
        for freq in FREQS:
            try:
                grid = _datetime_grid(stamps, freq, "x")
            except FrequencyError:
                with pytest.raises(FrequencyError):
                    regular_axis(stamps, freq, "x")
                continue
            if len(grid) == len(stamps) and grid.equals(stamps):
                axis = regular_axis(stamps, freq, "x")
                assert (axis.observed, axis.step) == (None, freq) and axis.stamps.equals(stamps), (stamps, freq)
            elif stamps.isin(grid).all():  # gaps: placed on the grid with missing rows, or refused as resampling
                try:
                    assert regular_axis(stamps, freq, "x").observed is not None, (stamps, freq)
                except FrequencyError as error:
                    assert "resample" in str(error)
            else:
                with pytest.raises(FrequencyError):  # a timestamp off the grid
                    regular_axis(stamps, freq, "x")


def test_weekly_series_on_different_weekdays_are_still_refused_as_two_frequencies():
    sundays = pd.DatetimeIndex(pd.date_range("2024-01-07", periods=6, freq="W-SUN"), freq=None)
    with pytest.raises(FrequencyError, match="different frequencies"):
        panel_freq([sundays, sundays + pd.Timedelta(days=1)], ["sun", "mon"], None)
    hourly = pd.DatetimeIndex(pd.date_range("2024-01-01", periods=6, freq="h"), freq=None)
    assert panel_freq([hourly, hourly + pd.Timedelta(minutes=30)], ["a", "b"], None) == "h"
