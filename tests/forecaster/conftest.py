"""Fixtures of the Forecaster tests: tiny fitted forecasters.

Fitting is the slow part, so each fitted forecaster is built once per session and tests never modify it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from forecaster_frames import QUIET, daily, hourly, panel, tiny

from tsbridge import Forecaster


@pytest.fixture(scope="session")
def make_fitted() -> Callable[..., Forecaster]:
    """``make_fitted(key, model, frame, **fit_args)``: a tiny forecaster fitted once per session per key."""
    cache: dict[str, Forecaster] = {}

    def make(key: str, model: str, frame: pd.DataFrame, **fit_args: Any) -> Forecaster:
        if key not in cache:
            cache[key] = tiny(model).fit(frame, **{**QUIET, **fit_args})
        return cache[key]

    return make


@pytest.fixture(scope="session")
def fitted_hourly(make_fitted) -> Forecaster:
    """Blend model on the hourly frame, with covariate ``temp`` (features MS)."""
    return make_fitted("hourly", "blend", hourly(), target="load", time_col="date", val_size=0.25)


@pytest.fixture(scope="session")
def fitted_daily(make_fitted) -> Forecaster:
    return make_fitted("daily", "concat", daily(), target="sales", val_size=0.25)


@pytest.fixture(scope="session")
def fitted_panel(make_fitted) -> Forecaster:
    return make_fitted("panel", "attention", panel(), target="demand", time_col="time", id_col="store",
                       val_size=0.25)
