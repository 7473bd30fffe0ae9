"""Forecast outputs: levels, non-crossing quantiles, losses against hand values and torch.distributions, quantiles
against independent references, affine maps, and a tiny fit that recovers nominal coverage."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tsbridge.models.probabilistic import (
    NormalOutput,
    PointOutput,
    QuantileOutput,
    StudentTOutput,
    build_output,
    level_bounds,
    levels_to_quantiles,
)

LEVELS = [80, 90]
QUANTILES = (0.05, 0.1, 0.5, 0.9, 0.95)


def probabilistic_outputs():
    return [QuantileOutput(levels_to_quantiles(LEVELS)), NormalOutput(LEVELS), StudentTOutput(LEVELS)]


def test_levels_to_quantiles():
    assert levels_to_quantiles([80, 90]) == QUANTILES  # exactly these floats: 0.1, not 1 - 0.9
    assert levels_to_quantiles((90.0, 80)) == QUANTILES
    assert levels_to_quantiles(np.array([50])) == (0.25, 0.5, 0.75)
    assert levels_to_quantiles([97.5]) == (0.0125, 0.5, 0.9875)
    assert level_bounds(80) == (0.1, 0.9)


@pytest.mark.parametrize(
    ("levels", "message"),
    [([], "at least one"), ([0], "between 0 and 100"), ([80, 100], "between 0 and 100"), ([-5], "between 0 and 100"),
     ([80, 90, 80.0], r"\[80.0\] are given more than once"), (["80"], "got '80'"), ([True], "got True"),
     ("80", "the string"), (None, "got None"), (80, "got 80")],
)
def test_bad_levels_are_named(levels, message):
    with pytest.raises(ValueError, match=message):
        levels_to_quantiles(levels)


def test_build_output_picks_the_output_from_loss_and_levels():
    assert isinstance(build_output(), PointOutput) and build_output().kind == "mse"
    assert build_output("huber", levels=[]).kind == "huber"
    quantile = build_output(levels=LEVELS)
    assert isinstance(quantile, QuantileOutput) and quantile.quantile_levels == QUANTILES
    assert quantile.levels == (80.0, 90.0) and quantile.n_params == 5
    normal, student = build_output("normal", [90, 80]), build_output("student_t", LEVELS)
    assert isinstance(normal, NormalOutput) and normal.levels == (80.0, 90.0) and normal.quantile_levels == QUANTILES
    assert isinstance(student, StudentTOutput) and student.n_params == 3
    with pytest.raises(ValueError, match="levels=\\[80, 90\\] need a probabilistic loss"):
        build_output("mse", LEVELS)
    with pytest.raises(ValueError, match="loss='normal' forecasts intervals and needs levels"):
        build_output("normal")
    with pytest.raises(ValueError, match="loss must be one of"):
        build_output("pinball", LEVELS)


def test_quantile_output_validates_its_quantiles():
    with pytest.raises(ValueError, match="include the median"):
        QuantileOutput([0.1, 0.9])
    with pytest.raises(ValueError, match=r"\[0.8\] have no mirror"):
        QuantileOutput([0.1, 0.5, 0.8, 0.9])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        QuantileOutput([0.0, 0.5, 1.0])
    output = QuantileOutput([0.9, 0.5, 0.1])
    assert output.quantile_levels == (0.1, 0.5, 0.9) and output.levels == (80.0,)
    params = output(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="quantile 0.05 is not one this output forecasts"):
        output.quantiles(params, [0.05])
    with pytest.raises(ValueError, match="expects 3 raw values per element, got a last dimension of 5"):
        output(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="a point output has no quantiles"):
        PointOutput().quantiles(torch.zeros(2, 1), [0.5])


finite_raw = arrays(np.float32, (6, 5), elements=st.floats(-1e4, 1e4, width=32))


@settings(max_examples=60, deadline=None)
@given(raw=finite_raw, loc=st.floats(-1e3, 1e3), scale=st.floats(1e-3, 1e3), negative=st.booleans())
def test_quantiles_never_cross(raw, loc, scale, negative):
    output = QuantileOutput(QUANTILES)
    params = output(torch.from_numpy(raw))  # (6, 5)
    assert (params.diff(dim=-1) >= 0).all()
    scale = -scale if negative else scale  # e.g. a learned RevIN weight below 0
    moved = output.denormalize(params, torch.tensor([loc]), torch.tensor([scale]))
    assert (moved.diff(dim=-1) >= 0).all()


@settings(max_examples=30, deadline=None)
@given(raw=arrays(np.float64, (4, 3), elements=st.floats(-30, 30)))
def test_distribution_quantiles_rise_with_the_level(raw):
    for output in (NormalOutput(LEVELS), StudentTOutput(LEVELS)):
        params = output(torch.from_numpy(raw[:, : output.n_params]))
        assert (output.quantiles(params, QUANTILES).diff(dim=-1) > 0).all()


def test_pinball_loss_matches_a_hand_computation():
    output = QuantileOutput([0.1, 0.5, 0.9])
    params = torch.tensor([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])
    target = torch.tensor([3.0, 0.0])
    # target 3: errors 2, 1, -1 -> 0.1*2 + 0.5*1 + 0.1*1 = 0.8; target 0: errors -1, -2, -4 -> 0.9 + 1.0 + 0.4 = 2.3
    assert output.loss(params, target).item() == pytest.approx((0.8 + 2.3) / 6)


@pytest.mark.parametrize(("loss", "reference"), [("mse", F.mse_loss), ("mae", F.l1_loss), ("huber", F.huber_loss)])
def test_point_losses_are_torch_s(loss, reference):
    torch.manual_seed(0)
    raw, target = torch.randn(4, 6, 2, 1), torch.randn(4, 6, 2)
    output = PointOutput(loss)
    assert output.loss(output(raw), target) == reference(raw[..., 0], target)
    assert torch.equal(output.point(output(raw)), raw[..., 0])


def test_the_mape_loss_is_the_percentage_error_in_original_units():
    output = PointOutput("mape")
    # Two windows of one series scaled by loc 100, scale 10: actual values 110, 90 and 0 (the zero counts as 0).
    target = torch.tensor([[1.0, -1.0, -10.0]])
    forecast = torch.tensor([[2.0, -1.5, -9.0]])  # 120, 85, 10 in original units
    loc, scale = torch.full((1, 1), 100.0), torch.full((1, 1), 10.0)
    expected = (10 / 110 + 5 / 90 + 0) / 3
    assert output.loss(forecast.unsqueeze(-1), target, loc, scale).item() == pytest.approx(expected)
    # Unscaled, the same error is relative to the scaled values: the loss needs the windows' scaling.
    assert output.loss(forecast.unsqueeze(-1), target).item() != pytest.approx(expected)
    # Forecasting 2 for an actual 1 costs twice what forecasting 1 for an actual 2 does: over-forecasts of small
    # values are what MAPE punishes (the Tourism metric), unlike the symmetric MAE.
    over = output.loss(torch.tensor([[[2.0]]]), torch.tensor([[1.0]]))
    under = output.loss(torch.tensor([[[1.0]]]), torch.tensor([[2.0]]))
    assert over.item() == pytest.approx(1.0) and under.item() == pytest.approx(0.5)


def test_the_smape_loss_is_the_m3_smape_in_original_units_as_a_fraction():
    from tsbridge.metrics import smape

    output = PointOutput("smape")
    # Scaled by loc 100, scale 10: actual values 110, 90, 0 and 0; forecasts 120, 85, 10 and 0 (0 against 0 scores 0).
    target = torch.tensor([[1.0, -1.0, -10.0, -10.0]], dtype=torch.float64)
    forecast = torch.tensor([[2.0, -1.5, -9.0, -10.0]], dtype=torch.float64)
    loc, scale = torch.full((1, 1), 100.0, dtype=torch.float64), torch.full((1, 1), 10.0, dtype=torch.float64)
    expected = (2 * 10 / 230 + 2 * 5 / 175 + 2 * 10 / 10 + 0) / 4
    loss = output.loss(forecast.unsqueeze(-1), target, loc, scale)
    assert loss.item() == pytest.approx(expected)
    assert 100 * loss.item() == pytest.approx(smape([[110, 90, 0, 0]], [[120, 85, 10, 0]]))  # the M3 metric
    # Symmetric in forecast and actual, unlike MAPE: 2 for 1 costs what 1 for 2 does.
    over = output.loss(torch.tensor([[[2.0]]]), torch.tensor([[1.0]]))
    under = output.loss(torch.tensor([[[1.0]]]), torch.tensor([[2.0]]))
    assert over.item() == pytest.approx(under.item()) == pytest.approx(2 / 3)
    raw = forecast.unsqueeze(-1).requires_grad_()
    output.loss(raw, target, loc, scale).backward()
    assert torch.isfinite(raw.grad).all()  # the 0-against-0 element gives no NaN gradient


def test_nll_is_torch_distributions_log_prob():
    torch.manual_seed(0)
    target = torch.randn(5, 7, dtype=torch.float64)
    normal, student = NormalOutput(), StudentTOutput()
    p = normal(torch.randn(5, 7, 2, dtype=torch.float64))
    expected = -torch.distributions.Normal(p[..., 0], p[..., 1]).log_prob(target).mean()
    torch.testing.assert_close(normal.loss(p, target), expected)
    p = student(torch.randn(5, 7, 3, dtype=torch.float64))
    expected = -torch.distributions.StudentT(p[..., 2], p[..., 0], p[..., 1]).log_prob(target).mean()
    torch.testing.assert_close(student.loss(p, target), expected)
    assert (p[..., 1] > 0).all() and (p[..., 2] > 2).all()


def test_normal_quantiles_are_torch_icdf():
    torch.manual_seed(0)
    output = NormalOutput(LEVELS)
    params = output(torch.randn(3, 4, 2, dtype=torch.float64))
    normal = torch.distributions.Normal(params[..., 0], params[..., 1])
    expected = torch.stack([normal.icdf(torch.tensor(q, dtype=torch.float64)) for q in QUANTILES], dim=-1)
    torch.testing.assert_close(output.quantiles(params, QUANTILES), expected)


def student_t_cdf(x: float, df: float, loc: float, scale: float) -> float:
    """P(X <= x) by the trapezoid rule on torch's density: an independent check of the quantiles."""
    grid = torch.linspace(loc - 2000 * scale, x, 400_001, dtype=torch.float64)
    density = torch.distributions.StudentT(df, loc, scale).log_prob(grid).exp()
    return float(torch.trapezoid(density, grid))


@pytest.mark.parametrize("df", [2.05, 3.0, 7.5, 40.0])
def test_student_t_quantiles_invert_the_cdf(df):
    output = StudentTOutput(LEVELS)
    params = torch.tensor([[1.5, 2.0, df]], dtype=torch.float64)
    quantiles = output.quantiles(params, QUANTILES)[0]
    for level, value in zip(QUANTILES, quantiles.tolist()):
        assert student_t_cdf(value, df, 1.5, 2.0) == pytest.approx(level, abs=2e-4)
    scipy_stats = pytest.importorskip("scipy.stats")
    np.testing.assert_allclose(quantiles.numpy(), scipy_stats.t.ppf(QUANTILES, df, loc=1.5, scale=2.0), rtol=1e-10)


def test_student_t_quantiles_keep_dtype_device_and_approach_the_normal():
    output = StudentTOutput(LEVELS)
    params = torch.tensor([[0.0, 1.0, 1e7]], dtype=torch.float32)
    quantiles = output.quantiles(params, QUANTILES)
    assert quantiles.dtype == torch.float32 and quantiles.shape == (1, 5)
    torch.testing.assert_close(quantiles[0], torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(QUANTILES)),
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("output", probabilistic_outputs(), ids=lambda o: type(o).__name__)
def test_denormalize_and_shift_commute_with_quantiles(output):
    torch.manual_seed(0)
    params = output(torch.randn(2, 5, 3, output.n_params, dtype=torch.float64))  # (B, H, T, P)
    loc = torch.randn(2, 1, 3, dtype=torch.float64) * 100  # per window and target, as RevIN/scalers give
    scale = torch.rand(2, 1, 3, dtype=torch.float64) * 10 + 0.1
    torch.testing.assert_close(output.quantiles(output.denormalize(params, loc, scale), QUANTILES),
                               output.quantiles(params, QUANTILES) * scale[..., None] + loc[..., None])
    torch.testing.assert_close(output.point(output.denormalize(params, loc, scale)),
                               output.point(params) * scale + loc)
    mirrored = tuple(1 - q for q in QUANTILES)  # a negative scale maps the q quantile to the 1 - q one
    torch.testing.assert_close(output.quantiles(output.denormalize(params, loc, -scale), QUANTILES),
                               output.quantiles(params, mirrored) * -scale[..., None] + loc[..., None])
    offset = torch.randn(2, 5, 3, dtype=torch.float64)  # e.g. a linear-skip forecast (B, H, T)
    torch.testing.assert_close(output.quantiles(output.shift(params, offset), QUANTILES),
                               output.quantiles(params, QUANTILES) + offset[..., None])
    lower, upper = output.interval(params, 80)
    torch.testing.assert_close(torch.stack([lower, upper], -1), output.quantiles(params, [0.1, 0.9]))


def test_outputs_add_nothing_to_a_state_dict_and_follow_dtype():
    for output in probabilistic_outputs():
        assert output.state_dict() == {}  # checkpoints of nets with an output keep their keys
    output = QuantileOutput(QUANTILES).double()
    assert output.fractions.dtype == torch.float64


@pytest.mark.parametrize("output", probabilistic_outputs(), ids=lambda o: type(o).__name__)
def test_a_tiny_fit_on_gaussian_noise_recovers_the_nominal_coverage(output):
    """Learn one raw vector from N(3, 2^2) samples; the 80% interval then covers about 80% of fresh samples."""
    generator = torch.Generator().manual_seed(0)
    train, fresh = (3 + 2 * torch.randn(n, generator=generator) for n in (4000, 20_000))
    raw = torch.zeros(output.n_params, requires_grad=True)
    optimizer = torch.optim.Adam([raw], lr=0.1)
    for _ in range(250):
        optimizer.zero_grad()
        loss = output.loss(output(raw), train)  # params (P,) broadcast against the (N,) samples
        loss.backward()
        optimizer.step()
    params = output(raw.detach()[None])  # (1, P)
    assert output.point(params).item() == pytest.approx(3.0, abs=0.15)
    lower, upper = output.interval(params, 80)
    coverage = ((fresh >= lower) & (fresh <= upper)).double().mean().item()
    assert 0.77 < coverage < 0.83, coverage
    assert (upper - lower).item() == pytest.approx(2 * 1.2816 * 2, rel=0.08)  # the N(3, 2^2) interval's width
