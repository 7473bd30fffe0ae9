"""Issue 21: each hostile input is one line in tsbridge's words, naming the option, the column or the value, raised
as early as possible (or, where tsbridge can support the input, it is supported)."""

from __future__ import annotations

import logging

import pytest
from forecaster_frames import HORIZON, QUIET, hourly, tiny

from tsbridge.data.errors import NonNumericColumnError, SeriesTooShortError
from tsbridge.data.future import MissingFutureError

FIT = {"target": "load", "time_col": "date", "val_size": 0.25, **QUIET}


@pytest.fixture(scope="module")
def fitted_future(make_fitted):
    """``temp`` known in the future; the frame ends HORIZON rows before ``hourly(160)`` does."""
    return make_fitted("hourly-future", "lstm", hourly().iloc[:-HORIZON], future_features=["temp"], **FIT)


def test_a_one_row_frame_is_too_few_rows_not_a_frequency_problem():
    with pytest.raises(SeriesTooShortError, match=r"^the series has 1 row, fewer than lookback \+ horizon = 16 \+ 4 = "
                                                  r"20, the length of one window; pass more rows$"):
        tiny().fit(hourly().iloc[:1], **FIT)


def test_a_zero_segment_length_is_named_not_the_output_segment_length_it_defaults():
    with pytest.raises(ValueError, match=r"^segment_length must be a positive integer, got 0$"):
        tiny(segment_length=0).fit(hourly(), **FIT)


@pytest.mark.parametrize(("option", "value", "words"), [
    ("levels", "80", r"^levels must be a list of percentages such as \[80\] or \[80, 90\], not the string '80'$"),
    ("seed", "abc", r"^seed must be a whole number such as 42, got 'abc'$"),
])
def test_a_bad_seed_or_levels_is_named_when_the_forecaster_is_built(option, value, words):
    with pytest.raises(ValueError, match=words):
        tiny(**{option: value})


def test_a_string_of_levels_is_not_read_character_by_character_when_calibrating(fitted_hourly):
    with pytest.raises(ValueError, match=r"not the string '80'"):
        fitted_hourly.calibrate(hourly(), levels="80")


def test_a_fractional_level_trains_and_names_its_columns_as_neuralforecast_does():
    fitted = tiny("lstm", levels=[80.5]).fit(hourly(), **FIT)
    assert list(fitted.predict().columns) == ["load-lo-80.5", "load", "load-hi-80.5"]
    assert {"val/coverage-80.5", "val_original/width-80.5"} <= set(fitted.metrics)


def test_a_string_in_a_future_column_is_named(fitted_future):
    future = hourly().iloc[-HORIZON:].astype({"temp": object})
    future.iloc[1, future.columns.get_loc("temp")] = "abc"
    with pytest.raises(NonNumericColumnError, match=r"^series 0: the future frame's column 'temp' holds a value that "
                                                    r"is not a number \(could not convert string to float: 'abc'\)$"):
        fitted_future.predict(hourly().iloc[:-HORIZON], future=future)


def test_a_tz_aware_future_frame_on_naive_data_names_the_time_zones(fitted_future):
    future = hourly().iloc[-HORIZON:]
    future["date"] = future["date"].dt.tz_localize("UTC")
    with pytest.raises(MissingFutureError, match=r"^series 0: the future frame's timestamps have a time zone \(UTC\) "
                                                 r"but the data's are tz-naive; pass them tz-naive"):
        fitted_future.predict(hourly().iloc[:-HORIZON], future=future)


def test_fit_logs_the_target_and_input_columns_it_chose(caplog):
    frame = hourly().assign(extra=1.0, note="text")  # features MS: every other numeric column is an input
    with caplog.at_level(logging.INFO, logger="tsbridge.fitting"):
        tiny(max_epochs=1).fit(frame, **FIT)
    lines = [record.getMessage() for record in caplog.records if record.name == "tsbridge.fitting"]
    assert lines == ["forecasting ['load'] from the input columns ['load', 'temp', 'extra']"]
