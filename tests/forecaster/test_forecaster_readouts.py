"""Past/future blend weights, their training trajectory, and attention weights."""

from __future__ import annotations

import numpy as np
import pytest
from forecaster_frames import LOOKBACK, hourly, panel


def test_blend_weights_sum_to_one_and_match_the_trajectory(fitted_hourly):
    weights = fitted_hourly.blend_weights
    assert set(weights) == {"past", "future"}
    assert 0 < weights["past"] < 1 and weights["past"] + weights["future"] == pytest.approx(1)
    history = fitted_hourly.blend_history
    assert list(history.columns) == ["step", "epoch", "past_weight", "future_weight"] and len(history) == 2
    np.testing.assert_allclose(history["past_weight"] + history["future_weight"], 1, rtol=1e-6)
    assert {"val/loss", "blend/past_weight", "blend/past_share"} <= set(fitted_hourly.metrics)


def test_gated_blend_has_a_profile_over_the_lookback(make_fitted):
    fc = make_fitted("gated", "blend_gated", hourly(), target="load", time_col="date", val_size=0.25)
    weights = fc.blend_weights
    assert weights["profile"].shape == (LOOKBACK,)
    assert weights["past"] == pytest.approx(float(weights["profile"].mean()), rel=1e-5)
    fc.predict(hourly(n_rows=40, start="2024-06-01"))  # another input moves the gate ...
    again = fc.blend_weights  # ... but the readout always describes the forecast after the training data
    assert again["past"] == weights["past"] and (again["profile"] == weights["profile"]).all()


def test_attention_weights_cover_the_lookback_per_series(fitted_panel):
    weights = fitted_panel.attention_weights(panel())
    assert weights.index.names == ["store", "query"] and list(weights.index.get_level_values(0).unique()) == ["a", "b"]
    assert list(weights.columns) == list(range(-LOOKBACK, 0))
    np.testing.assert_allclose(weights.sum(axis=1), 1, rtol=1e-5)
