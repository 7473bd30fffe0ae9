"""Issue 21: each hostile input is one line in tsbridge's words, naming the option, the column or the value, raised
as early as possible (or, where tsbridge can support the input, it is supported)."""

from __future__ import annotations

import pytest
from forecaster_frames import QUIET, hourly, tiny

FIT = {"target": "load", "time_col": "date", "val_size": 0.25, **QUIET}


def test_a_zero_segment_length_is_named_not_the_output_segment_length_it_defaults():
    with pytest.raises(ValueError, match=r"^segment_length must be a positive integer, got 0$"):
        tiny(segment_length=0).fit(hourly(), **FIT)
