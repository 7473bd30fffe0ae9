"""Conformal calibration (tsbridge.calibration): the finite-sample rank, both methods on known distributions, pooled
and per-series margins, and the path through fit, backtest, plots and save/load."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from tsbridge import Forecaster
from tsbridge.calibration import AdaptiveLevels, ConformalCalibration, conformal_quantile, window_scores
from tsbridge.config import calibration_method, compose_config
from tsbridge.forecaster import NotFittedError
from tsbridge.predictor import ADAPTIVE_RATES, RATE_SHARPNESS, RATE_TOLERANCE, RateSelection

LEVELS = (80.0, 90.0)


def test_conformal_quantile_takes_the_finite_sample_rank():
    scores = torch.arange(1.0, 10.0).flip(0)  # 9 scores 9..1, unsorted on purpose
    assert float(conformal_quantile(scores, 80)) == 8.0  # rank ceil(10 * 0.8) = 8, not the plain 80% quantile 7.4
    assert float(conformal_quantile(scores, 90)) == 9.0
    with pytest.raises(ValueError, match="at least 19 calibration windows, got 9"):
        conformal_quantile(scores, 95)


def coverage(quantiles: torch.Tensor, actual: torch.Tensor, k: int) -> float:
    """Share of ``actual`` inside level ``k``'s interval (levels ascending; bounds at K-1-k and K+1+k)."""
    n_levels = (quantiles.shape[-1] - 1) // 2
    lo, hi = quantiles[..., n_levels - 1 - k], quantiles[..., n_levels + 1 + k]
    return float(((actual >= lo) & (actual <= hi)).double().mean())


def gaussian_windows(n: int, seed: int, noise: float = 1.0):
    """Point forecasts 0 and actual values N(0, noise^2): (n, H=3, T=1), one series of scale 2."""
    generator = torch.Generator().manual_seed(seed)
    actual = torch.randn(n, 3, 1, generator=generator, dtype=torch.float64) * noise
    return torch.zeros_like(actual), actual, torch.full((n, 1, 1), 2.0, dtype=torch.float64)


def test_intervals_around_a_point_forecast_reach_nominal_coverage_on_new_windows():
    point, actual, scale = gaussian_windows(4000, seed=0)
    calibration = ConformalCalibration.fit(point, None, actual, scale, torch.zeros(4000, dtype=torch.long), ["s"],
                                           LEVELS)
    assert calibration.around_point and calibration.windows == 4000 and calibration.margins.shape == (3, 1, 2)
    # In model units: |N(0, 1)| / 2 has its 80% / 90% quantiles at 1.2816 / 2 and 1.6449 / 2.
    assert calibration.margins[..., 0].mean() == pytest.approx(1.2816 / 2, rel=0.05)
    assert calibration.margins[..., 1].mean() == pytest.approx(1.6449 / 2, rel=0.05)
    point, actual, scale = gaussian_windows(4000, seed=1)
    quantiles = calibration.apply(point, None, scale, torch.zeros(4000, dtype=torch.long), ["s"])
    assert quantiles.shape == (4000, 3, 1, 5) and torch.equal(quantiles[..., 2], point)
    for k, level in enumerate(LEVELS):
        assert coverage(quantiles, actual, k) == pytest.approx(level / 100, abs=0.02)


@pytest.mark.parametrize("raw_scale", [0.5, 3.0])  # intervals too narrow, then too wide
def test_conformalised_quantiles_widen_narrow_intervals_and_narrow_wide_ones(raw_scale):
    normal_quantiles = torch.tensor([-1.6449, -1.2816, 0.0, 1.2816, 1.6449], dtype=torch.float64)
    point, actual, scale = gaussian_windows(4000, seed=2)
    raw = (point.unsqueeze(-1) + normal_quantiles * raw_scale)
    series = torch.zeros(4000, dtype=torch.long)
    calibration = ConformalCalibration.fit(point, raw, actual, scale, series, ["s"], LEVELS)
    assert not calibration.around_point
    assert (calibration.margins > 0).all() if raw_scale < 1 else (calibration.margins < 0).all()
    point, actual, scale = gaussian_windows(4000, seed=3)
    raw = (point.unsqueeze(-1) + normal_quantiles * raw_scale)
    calibrated = calibration.apply(point, raw, scale, series, ["s"])
    assert (calibrated.diff(dim=-1) >= 0).all()  # still ordered quantiles
    for k, level in enumerate(LEVELS):
        assert coverage(raw, actual, k) != pytest.approx(level / 100, abs=0.05)
        assert coverage(calibrated, actual, k) == pytest.approx(level / 100, abs=0.02)


def test_per_series_margins_follow_each_series_and_new_series_get_the_pooled_one():
    _, quiet, _ = gaussian_windows(2000, seed=4, noise=1.0)
    _, loud, _ = gaussian_windows(2000, seed=5, noise=3.0)
    actual = torch.cat([quiet, loud])
    point, scale = torch.zeros_like(actual), torch.ones(4000, 1, 1, dtype=torch.float64)
    series = torch.repeat_interleave(torch.tensor([0, 1]), 2000)
    pooled = ConformalCalibration.fit(point, None, actual, scale, series, ["a", "b"], LEVELS)
    separate = ConformalCalibration.fit(point, None, actual, scale, series, ["a", "b"], LEVELS, per_series=True)
    assert pooled.series_margins is None and separate.series_ids == ("a", "b")
    quiet_margin, loud_margin = separate.series_margins[:, 0, 0, 0]
    assert float(loud_margin / quiet_margin) == pytest.approx(3.0, rel=0.1)
    assert torch.equal(separate.margins, pooled.margins)
    one = torch.zeros(1, 3, 1, dtype=torch.float64)
    ones = torch.ones(1, 1, 1, dtype=torch.float64)
    zero = torch.zeros(1, dtype=torch.long)
    new = separate.apply(one, None, ones, zero, ["unseen"])
    assert torch.equal(new, pooled.apply(one, None, ones, zero, ["unseen"]))
    assert torch.equal(separate.apply(one, None, ones, zero, ["b"])[0, 0, 0, 3], loud_margin)  # hi-80


def test_recalibrating_takes_the_margins_of_other_windows_pooled():
    point, actual, scale = gaussian_windows(500, seed=7)
    series = torch.repeat_interleave(torch.tensor([0, 1]), 250)
    calibration = ConformalCalibration.fit(point, None, actual, scale, series, ["a", "b"], LEVELS, per_series=True)
    point, actual, scale = gaussian_windows(300, seed=8, noise=3.0)
    recalibrated = calibration.recalibrated(window_scores(point, None, actual, scale, len(LEVELS)))
    newest = ConformalCalibration.fit(point, None, actual, scale, torch.zeros(300, dtype=torch.long), ["a"], LEVELS)
    assert recalibrated.windows == 300 and recalibrated.series_margins is None and recalibrated.around_point
    torch.testing.assert_close(recalibrated.margins, newest.margins)
    assert (recalibrated.margins > 2 * calibration.margins).all()  # the louder newest errors widen every margin


def test_too_few_windows_in_a_series_for_per_series_calibration_says_to_pool():
    point, actual, scale = gaussian_windows(20, seed=6)
    series = torch.tensor([0] * 15 + [1] * 5)
    with pytest.raises(ValueError, match="per-series calibration.*got 5.*per_series=False"):
        ConformalCalibration.fit(point, None, actual, scale, series, ["a", "b"], LEVELS, per_series=True)


# ---------------------------------------------------------------------------------------------- through fit


def noisy_sine(n_rows: int = 2000) -> pd.DataFrame:
    """The short-fit case of the issue: 2 sin(hourly day) + N(0, 1)."""
    noise = np.random.default_rng(0).normal(size=n_rows)
    return pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n_rows, freq="h"),
                         "y": 2 * np.sin(np.arange(n_rows) * 2 * np.pi / 24) + noise})


def short_fit(loss: str, calibration: str = "conformal") -> Forecaster:
    forecaster = Forecaster("lstm", lookback=48, horizon=12, hidden_size=16, max_epochs=3, levels=list(LEVELS),
                            loss=loss, calibration=calibration, progress=False)
    return forecaster.fit(noisy_sine(), target="y", time_col="date", val_size=0.2, test_size=0.2, logger=False)


@pytest.fixture(scope="module")
def calibrated_quantiles() -> Forecaster:
    return short_fit("quantile")


def test_a_short_quantile_fit_is_calibrated_on_the_test_part(calibrated_quantiles):
    metrics = calibrated_quantiles.metrics
    for level in ("80", "90"):
        nominal = int(level) / 100
        raw = metrics[f"test_original/coverage-{level}"]
        calibrated = metrics[f"test_calibrated_original/coverage-{level}"]
        assert abs(calibrated - nominal) < 0.03 and abs(calibrated - nominal) < abs(raw - nominal)
    assert calibrated_quantiles.predictor.calibration.windows == len(calibrated_quantiles.result.datamodule.val_dataset)


def test_the_backtest_reports_calibrated_and_raw_intervals_and_the_plot_draws_both(calibrated_quantiles):
    backtest = calibrated_quantiles.backtest(noisy_sine(), start=0.8)
    row = backtest.metrics.loc["y"]
    for name in ("crps", "coverage-80", "coverage-90", "width-80", "width-90"):
        assert np.isfinite(row[name]) and np.isfinite(row[f"raw_{name}"])
    assert row["coverage-90"] != row["raw_coverage-90"]
    assert row["crps"] <= row["raw_crps"] * 1.02  # calibration costs no sharpness worth the name
    raw = calibrated_quantiles.backtest(noisy_sine(), start=0.8, raw=True)  # the network alone, row by row
    for name in ("crps", "coverage-80", "coverage-90", "width-80", "width-90"):
        assert raw.metrics.loc["y", name] == pytest.approx(row[f"raw_{name}"], rel=1e-9)
    assert raw.forecasts["forecast"].equals(backtest.forecasts["forecast"])
    assert not raw.forecasts["forecast-hi-90"].equals(backtest.forecasts["forecast-hi-90"])
    with pytest.raises(ValueError, match="cannot be recalibrated as well"):
        calibrated_quantiles.backtest(noisy_sine(), start=0.8, raw=True, recalibrate=True)
    lines = calibrated_quantiles.plot_calibration(backtest).axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["calibrated", "y, calibrated", "y, raw"]


def louder_after(frame: pd.DataFrame, share: float, noise: float, seed: int = 1) -> pd.DataFrame:
    """``frame`` with N(0, noise^2) added to ``y`` from the row at ``share`` of its length on."""
    changed = frame.copy()
    first = int(len(frame) * share)
    changed.loc[first:, "y"] += np.random.default_rng(seed).normal(0, noise, len(frame) - first)
    return changed


def test_a_recalibrated_backtest_follows_errors_that_grew_after_calibration(calibrated_quantiles):
    drifted = louder_after(noisy_sine(), 0.8, noise=2.0)  # the test part is louder than the validation part
    fixed = calibrated_quantiles.backtest(drifted, start=0.8).metrics.loc["y"]
    recalibrated = calibrated_quantiles.backtest(drifted, start=0.8, recalibrate=True).metrics.loc["y"]
    for level in (80, 90):
        assert fixed[f"coverage-{level}"] < level / 100 - 0.1  # the validation's margins are too narrow now
        assert recalibrated[f"coverage-{level}"] > fixed[f"coverage-{level}"] + 0.05
    assert recalibrated["raw_coverage-80"] == fixed["raw_coverage-80"]  # the network's own are untouched
    with pytest.raises(ValueError, match=r"needs \d+ windows \(the calibration's count\) observed before the first "
                                         r"origin, and the frame holds \d+; pass a frame that starts earlier"):
        calibrated_quantiles.backtest(drifted.iloc[1500:], start=0.5, recalibrate=True)


def test_adaptive_levels_hold_the_long_run_miss_rate_when_errors_double():
    """ACI's deterministic bound (Gibbs & Candès 2021, Prop. 4.1) on a stream of windows twice as loud as the fixed
    calibration scores, which leave plain split-conformal intervals missing about half the values at 80%."""
    point, actual, scale = gaussian_windows(2000, seed=3)
    calibration = ConformalCalibration.fit(point, None, actual, scale, torch.zeros(2000, dtype=torch.long), ["s"],
                                           LEVELS)
    calibration_scores = window_scores(point, None, actual, scale, len(LEVELS))
    point, actual, scale = gaussian_windows(1000, seed=4, noise=2.0)
    stream = window_scores(point, None, actual, scale, len(LEVELS))
    rate = 0.05
    adaptive = AdaptiveLevels(LEVELS, rate)
    adaptive_misses = []
    for window in stream.split(1):
        misses = calibration.recalibrated(calibration_scores, adaptive.levels).misses(window)
        adaptive.observe(misses)
        adaptive_misses.append(misses)
    average = torch.cat(adaptive_misses).mean(dim=0)
    fixed = calibration.misses(stream).mean(dim=0)
    for k, level in enumerate(LEVELS):
        nominal_miss = 1 - level / 100
        assert fixed[k] > nominal_miss + 0.2  # the stream's errors outgrew the calibration's
        assert abs(float(average[k]) - nominal_miss) <= (max(nominal_miss, level / 100) + rate) / (rate * 1000)
        assert adaptive.levels[k] > level  # it had to widen
    with pytest.raises(ValueError, match="adaptive_rate must be > 0"):
        AdaptiveLevels(LEVELS, 0.0)


def test_an_adaptive_recalibrated_backtest_comes_closer_to_nominal_after_a_drift(calibrated_quantiles):
    drifted = louder_after(noisy_sine(), 0.8, noise=2.0)
    rolling = calibrated_quantiles.backtest(drifted, start=0.8, recalibrate=True).metrics.loc["y"]
    adaptive = calibrated_quantiles.backtest(drifted, start=0.8, recalibrate=True, adaptive_rate=0.05).metrics.loc["y"]
    for level in (80, 90):
        gap = abs(adaptive[f"coverage-{level}"] - level / 100)
        assert gap < 0.03 and gap < abs(rolling[f"coverage-{level}"] - level / 100) - 0.03
    with pytest.raises(ValueError, match="pass recalibrate=True with it"):
        calibrated_quantiles.backtest(drifted, start=0.8, adaptive_rate=0.05)
    with pytest.raises(ValueError, match="recalibrate, adaptive_rate and raw are for a fitted model's backtest"):
        calibrated_quantiles.backtest(drifted, start=0.8, retrain=True, adaptive_rate=0.05)


@pytest.mark.parametrize("adaptive_rate", [0.0, 0.05])
def test_a_recalibrated_origin_reads_no_value_after_itself(calibrated_quantiles, adaptive_rate):
    frame = noisy_sine()
    changed = louder_after(frame, 0.9, noise=5.0, seed=2)
    cutoff = frame["date"].iloc[int(len(frame) * 0.9) - 1]  # the last row both frames share
    first, second = (calibrated_quantiles.backtest(f, start=0.8, recalibrate=True, adaptive_rate=adaptive_rate)
                     .forecasts for f in (frame, changed))
    before = first["origin"] <= cutoff
    assert before.any() and (~before).any()
    bounds = [column for column in first.columns if column.startswith("forecast-")]
    pd.testing.assert_frame_equal(first.loc[before, bounds], second.loc[before, bounds])
    assert not first.loc[~before, bounds].equals(second.loc[~before, bounds])


def test_the_adaptive_rate_is_chosen_on_the_validation_part_alone(calibrated_quantiles):
    predictor = calibrated_quantiles.predictor
    origins = calibrated_quantiles.result.datamodule.val_dataset.origins()
    frame = noisy_sine()

    def selection(changed: pd.DataFrame) -> RateSelection:
        return predictor.select_adaptive_rate(predictor.prepare(changed), origins)

    chosen = calibrated_quantiles.select_adaptive_rate()
    assert chosen.calibration_windows + chosen.selection_windows == len(origins)
    assert list(chosen.scores.index) == sorted(ADAPTIVE_RATES) and chosen.rate in ADAPTIVE_RATES
    pd.testing.assert_frame_equal(selection(frame).scores, chosen.scores)
    # a louder test part (rows from 80% on) changes nothing: no window of it is read
    pd.testing.assert_frame_equal(selection(louder_after(frame, 0.8, noise=5.0)).scores, chosen.scores)
    drifted = predictor.prepare(louder_after(frame, 0.7, noise=2.0))  # the validation's later half is louder
    for sharpness in (RATE_SHARPNESS, None, 0.0):
        chosen = predictor.select_adaptive_rate(drifted, origins, sharpness=sharpness)
        if sharpness == RATE_SHARPNESS:  # the default: adapting catches up with the change
            assert chosen.scores.loc[0.0, "largest_gap"] > 0.05 and chosen.rate > 0
        crps = chosen.scores["crps"]
        sharp = crps <= crps[0.0] * (1 + sharpness) if sharpness is not None else crps > -1
        assert chosen.scores["sharp"].equals(sharp) and sharp[0.0]  # the slowest step always competes
        gaps = chosen.scores.loc[sharp, "largest_gap"]
        calibrated = gaps.index[gaps <= RATE_TOLERANCE]
        assert chosen.rate == (calibrated[0] if len(calibrated) else gaps.idxmin())  # the least adaptation that works
    with pytest.raises(ValueError, match="rates must be step sizes >= 0"):
        predictor.select_adaptive_rate(predictor.history, origins, rates=[-0.01])
    with pytest.raises(ValueError, match="needs a calibrated model"):
        replace(predictor, calibration=None).select_adaptive_rate(predictor.history, origins)


def test_choosing_among_more_rates_forecasts_no_more_windows(calibrated_quantiles, monkeypatch):
    predictor = calibrated_quantiles.predictor
    origins = calibrated_quantiles.result.datamodule.val_dataset.origins()
    forecast_windows = type(predictor)._forecast_windows
    forecast = []

    def counting(self, dataset):
        forecast.append(len(dataset))
        return forecast_windows(self, dataset)

    monkeypatch.setattr(type(predictor), "_forecast_windows", counting)
    predictor.select_adaptive_rate(predictor.history, origins, rates=[0.0])
    one_rate = list(forecast)
    forecast.clear()
    predictor.select_adaptive_rate(predictor.history, origins)
    assert len(ADAPTIVE_RATES) > 1 and forecast == one_rate  # the recalibration's windows are scored once


def test_calibration_round_trips_through_save_and_load(calibrated_quantiles, tmp_path):
    calibrated_quantiles.save(tmp_path / "model")
    loaded = Forecaster.load(tmp_path / "model")
    assert loaded.predictor.calibration.levels == LEVELS
    assert torch.equal(loaded.predictor.calibration.margins, calibrated_quantiles.predictor.calibration.margins)
    pd.testing.assert_frame_equal(loaded.predict(), calibrated_quantiles.predict())
    with pytest.raises(NotFittedError, match="a loaded forecaster keeps none"):
        loaded.select_adaptive_rate()


def test_a_point_model_gets_intervals_from_calibration_alone_and_a_loaded_one_recalibrates(tmp_path):
    forecaster = short_fit("mse")
    assert forecaster.module.output.levels == ()  # the network forecasts points
    assert list(forecaster.predict().columns) == ["y-lo-90", "y-lo-80", "y", "y-hi-80", "y-hi-90"]
    assert 0.7 < forecaster.metrics["test_calibrated_original/coverage-80"] < 0.9
    forecaster.save(tmp_path / "model")
    loaded = Forecaster.load(tmp_path / "model").calibrate(noisy_sine(), start=0.8, levels=[50], per_series=True)
    assert loaded.predictor.levels == (50.0,) and list(loaded.predict().columns) == ["y-lo-50", "y", "y-hi-50"]
    assert loaded.backtest(noisy_sine(), start=0.8).metrics.loc["y", "coverage-50"] == pytest.approx(0.5, abs=0.03)


def test_bad_calibration_settings_name_the_option():
    with pytest.raises(ValueError, match="calibration.method must be null or one of"):
        short_fit("quantile", calibration="isotonic")
    with pytest.raises(ValueError, match="set the levels"):
        calibration_method(compose_config(["calibration.method=conformal"]))


def two_loudness_panel(n_rows: int = 1200) -> pd.DataFrame:
    """Series ``quiet`` (2 sin(hourly day) + N(0, 1)) and ``loud`` (the same with N(0, 3^2) noise)."""
    wave = 2 * np.sin(np.arange(n_rows) * 2 * np.pi / 24)
    return pd.concat([pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n_rows, freq="h"), "series": name,
                                    "y": wave + np.random.default_rng(seed).normal(0, noise, n_rows)})
                      for seed, (name, noise) in enumerate((("quiet", 1.0), ("loud", 3.0)))], ignore_index=True)


@pytest.mark.parametrize("adaptive_rate", [0.0, 0.01])
def test_a_recalibrated_backtest_keeps_per_series_margins_per_series(adaptive_rate):
    panel = two_loudness_panel()
    forecaster = Forecaster("lstm", lookback=48, horizon=12, hidden_size=8, max_epochs=2, levels=list(LEVELS),
                            loss="mse", calibration="conformal", calibration_per_series=True, progress=False)
    forecaster.fit(panel, target="y", time_col="date", id_col="series", val_size=0.3, test_size=0.3, logger=False)
    predictor = forecaster.predictor
    pooled = replace(predictor, calibration=replace(predictor.calibration, series_margins=None, series_ids=()))

    def coverage_80(chosen) -> pd.Series:
        rows = chosen.backtest(panel, start=0.7, recalibrate=True, adaptive_rate=adaptive_rate).forecasts
        inside = rows["actual"].between(rows["forecast-lo-80"], rows["forecast-hi-80"])
        return inside.groupby(rows["series"]).mean()

    separate, together = coverage_80(predictor), coverage_80(pooled)
    assert (separate - 0.8).abs().max() < 0.08
    assert together["loud"] < separate["loud"] - 0.03 and together["quiet"] > separate["quiet"] + 0.03
