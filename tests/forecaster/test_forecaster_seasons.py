"""Frequency-aware seasons: seasonal_naive and MASE take the data's season unless one is given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from forecaster_frames import QUIET, tiny


def weekly_pattern(n_rows: int = 70) -> pd.DataFrame:
    """Daily rows: a weekly pattern plus a slow drift, so no two days share a value."""
    days = pd.date_range("2024-01-01", periods=n_rows, freq="D", name="day")
    values = np.tile([10.0, 12.0, 15.0, 11.0, 9.0, 30.0, 25.0], n_rows // 7 + 1)[:n_rows] + 0.01 * np.arange(n_rows)
    return pd.DataFrame({"sales": values}, index=days)


def test_seasonal_naive_on_daily_data_repeats_the_value_of_seven_days_earlier():
    frame = weekly_pattern()
    fc = tiny("seasonal_naive").fit(frame, target="sales", val_size=0.3, **QUIET)
    assert fc.module.net.season_length == 7 and fc.module.hparams.mase_season == 7
    forecast = fc.predict()
    week_before = frame["sales"].iloc[-7:-7 + len(forecast)]
    assert (forecast.index - pd.Timedelta(days=7)).equals(week_before.index)
    np.testing.assert_allclose(forecast["sales"].to_numpy(), week_before.to_numpy(), rtol=1e-5)


def test_an_explicit_season_length_wins():
    fc = tiny("seasonal_naive", season_length=3, mase_season=2).fit(weekly_pattern(), target="sales",
                                                                      val_size=0.3, **QUIET)
    assert fc.module.net.season_length == 3 and fc.module.hparams.mase_season == 2


def test_a_time_axis_without_a_season_asks_for_season_length():
    frame = weekly_pattern().reset_index(drop=True)  # numeric index: no frequency, so no season
    with pytest.raises(ValueError, match="has no season.*season_length="):
        tiny("seasonal_naive").fit(frame, target="sales", val_size=0.3, **QUIET)
    # Other models still train; MASE falls back to the one-step naive.
    assert tiny("naive").fit(frame, target="sales", val_size=0.3, **QUIET).module.hparams.mase_season == 1
