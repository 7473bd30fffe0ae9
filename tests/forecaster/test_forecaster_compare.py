"""tsbridge.compare: several models fitted on the same data, their forecasts and test metrics side by side."""

from __future__ import annotations

import pandas as pd
import pytest
from forecaster_frames import QUIET, hourly, tiny

import tsbridge


@pytest.fixture(scope="module")
def comparison() -> tsbridge.Comparison:
    return tsbridge.compare([tiny("lstm"), tiny("naive"), tiny("blend", levels=[80])], hourly(), target="load",
                            time_col="date", val_size=0.2, **QUIET)


def test_forecasts_and_metrics_come_one_block_per_model(comparison):
    forecasts, metrics, forecasters = comparison
    assert list(forecasters) == ["lstm", "naive", "blend"]
    assert list(forecasts.columns) == [("lstm", "load"), ("naive", "load"), ("blend", "load-lo-80"),
                                       ("blend", "load"), ("blend", "load-hi-80")]
    for name, forecaster in forecasters.items():
        pd.testing.assert_frame_equal(forecasts[name], forecaster.predict(), check_names=False)
        own = forecaster.backtest(hourly(), start=0.8).metrics
        pd.testing.assert_frame_equal(metrics.loc[name].dropna(axis=1), own, check_names=False)
    assert forecasters["naive"].metrics["test/mse"] > 0  # each model held out the same test part
    assert metrics.loc[("naive", "load"), "mae"] != metrics.loc[("lstm", "load"), "mae"]


def test_two_configurations_of_one_model_are_named_with_a_dict():
    with pytest.raises(ValueError, match="'naive' is given twice; name the configurations with a dict"):
        tsbridge.compare([tiny("naive"), tiny("naive")], hourly(), target="load", time_col="date", **QUIET)
    named = tsbridge.compare({"short": tiny("naive"), "long": tiny("naive")}, hourly(), target="load",
                             time_col="date", val_size=0.2, **QUIET)
    assert list(named.forecasters) == ["short", "long"]


@pytest.mark.parametrize("models, test_size, words", [
    ("lstm", 0.2, "must be a list of model names"),
    ([], 0.2, "must be a list of model names"),
    (["naive"], 1.0, "test_size must lie in"),
])
def test_bad_arguments_are_named(models, test_size, words):
    with pytest.raises(ValueError, match=words):
        tsbridge.compare(models, hourly(), target="load", time_col="date", test_size=test_size)
