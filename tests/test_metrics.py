"""Metrics: float64 original-unit metrics, and probabilistic scores checked against known values, independent
formulas and numerical integrals."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torchmetrics.regression import MeanSquaredError

from tsbridge.metrics import (
    IntervalCoverage,
    NormalCRPS,
    QuantileCRPS,
    StudentTCRPS,
    interval_metrics,
    interval_scores,
    normal_crps,
    original_unit_metrics,
    quantile_columns,
    quantile_crps,
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
