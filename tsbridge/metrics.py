"""Forecast metrics built on torchmetrics, in scaled and original units, and scores of probabilistic forecasts.

Original-unit metrics run in float64 end to end: data in the 1e20-1e30 range (or sums of many squared errors of
large values) overflow float32, whose largest value is 3.4e38.

Probabilistic scores (CRPS, interval coverage and width) use scoringrules, not hand-written formulas, and not
torchmetrics' ``ContinuousRankedProbabilityScore``: that one scores an ensemble (samples), and fed the quantiles
of N(0, 1) at levels 80/90 as members it overstates the exact CRPS by 16% (and needs O(members^2) memory).
scoringrules has the closed forms for the Normal and Student-t and ``crps_quantile``, the CRPS approximated from
quantiles (2/Q times the summed pinball losses; for central intervals plus the median it equals the weighted
interval score of Bracher et al., 2021). That approximation is a proper score of the reported quantiles, not of
the whole distribution: on N(0, 1) forecasts it is 32% below the exact CRPS with the 5 quantiles of levels 80/90,
and 1% above with 99 quantiles (measured on 200,000 draws). So ``crps`` compares models only at equal levels, and
distribution heads are scored through their quantiles at those levels like every other model; their closed-form
CRPS (:class:`NormalCRPS`, :class:`StudentTCRPS`) is a separate diagnostic, never mixed into the same column.

The scores of the forecasting competitions (:func:`smape`, :func:`mase`, :func:`owa`, with the :func:`naive2` benchmark)
score one forecast of each series' test horizon: each series' score is averaged over its horizon, then the series'
scores are averaged. They are not the logged ``val/smape`` (torchmetrics' fraction, averaged over every window
element) nor ``val/mase`` (scaled by each window's own look-back).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import scoringrules as sr
import torch
from numpy.typing import ArrayLike
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.regression import (
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    SymmetricMeanAbsolutePercentageError,
)

from tsbridge.models.probabilistic import check_levels, level_bounds, levels_to_quantiles


class MeanAbsoluteScaledError(Metric):
    """MASE with a per-window scale: forecast MAE over the in-window seasonal naive MAE.

    Each window is scaled by the mean absolute change over one season (``season`` steps) of its own look-back
    (target channels), so the metric is comparable across series of different scales and needs no access to
    training rows outside the window. A value below 1 means the forecast beats the seasonal naive forecast made
    inside the window; ``season=1`` scales by the one-step naive. Being a ratio, it is the same in scaled and
    original units.

    Args:
        season: the seasonal period m, shorter than the look-back (the scale needs at least one pair of values
            m steps apart).
        eps: added to the scale, so a constant look-back gives a finite value.
    """

    full_state_update = False

    def __init__(self, season: int = 1, eps: float = 1e-8, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(season, bool) or not isinstance(season, int) or season < 1:
            raise ValueError(f"MASE's season must be an integer >= 1, got {season!r}")
        self.season = season
        self.eps = eps
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, history: Tensor, observed: Tensor | None = None) -> None:
        """Add a batch.

        Args:
            preds: (B, H, C) forecasts.
            target: (B, H, C) actual values.
            history: (B, L, C) look-back values of the same channels, L > ``season``.
            observed: (B,) how many of the last look-back rows are real values; the rows before them are padding
                (``min_lookback``: copies of the series' first value), whose zero changes would shrink the scale.
                The scale then uses only pairs of real values, or every pair when a window has none. None: all real.
        """
        length = history.shape[1]
        if length <= self.season:
            raise ValueError(f"MASE's season ({self.season}) must be shorter than the look-back ({length})")
        changes = (history[:, self.season:] - history[:, : -self.season]).abs().mean(dim=2)  # (B, L - season)
        if observed is None:
            naive_mae = changes.mean(dim=1)  # (B,)
        else:
            # Pair t (of positions season..L-1) is real when its earlier value, t - season, is.
            first_real = (length - observed.to(changes.device)).unsqueeze(1)  # (B, 1)
            real = torch.arange(length - self.season, device=changes.device) >= first_real  # (B, L - season)
            real = real | ~real.any(dim=1, keepdim=True)  # no real pair: every pair, as without padding
            naive_mae = (changes * real).sum(dim=1) / real.sum(dim=1)
        forecast_mae = (preds - target).abs().mean(dim=(1, 2))  # (B,)
        self.total += (forecast_mae / (naive_mae + self.eps)).double().sum()
        self.count += preds.shape[0]

    def compute(self) -> Tensor:
        return (self.total / self.count.clamp(min=1)).float()


def scalar_values(metrics: Mapping[str, Tensor | float]) -> dict[str, float]:
    """The one-element entries of logged metrics (``trainer.callback_metrics``, or the dicts ``trainer.validate`` and
    ``trainer.test`` return) as floats, sorted by name."""
    return {name: float(value) for name, value in sorted(metrics.items())
            if not isinstance(value, Tensor) or value.numel() == 1}


def scaled_metrics() -> MetricCollection:
    """Metrics on the scaled values, as the long-term forecasting literature reports them."""
    return MetricCollection(
        {"mse": MeanSquaredError(), "mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False)}
    )


def _float64(value: Any) -> Any:
    return value.double() if isinstance(value, Tensor) and value.is_floating_point() else value


class Float64MetricCollection(MetricCollection):
    """A MetricCollection whose states are float64 and whose inputs are cast to float64 before any arithmetic.

    Both are needed: float64 states alone still square float32 inputs in float32 (``1e30 ** 2`` is inf there).
    Lightning's ``.float()``/``.half()`` leave the states alone (torchmetrics only converts them through
    ``set_dtype``), and :meth:`clone` keeps them.
    """

    def __init__(self, metrics: Mapping[str, Metric], **kwargs: Any) -> None:
        # torch refuses "." in module names, which the metrics of a fractional level have ("coverage-97.5"): they
        # are held under "_" keys and reported by their own names (as the forecast columns "y-lo-97.5" are).
        keys = {name.replace(".", "_"): name for name in metrics}
        super().__init__({key: metrics[name] for key, name in keys.items()}, **kwargs)
        self._names = keys
        self.set_dtype(torch.float64)

    def _set_name(self, base: str) -> str:
        return super()._set_name(self._names.get(base, base))

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*map(_float64, args), **{key: _float64(value) for key, value in kwargs.items()})

    def forward(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return super().forward(*map(_float64, args), **{key: _float64(value) for key, value in kwargs.items()})


def original_unit_metrics() -> MetricCollection:
    """Metrics on inverse-scaled values, in float64; percentage errors only make sense here."""
    # Explicit compute groups: torchmetrics otherwise merges metrics whose states match after the first batch, by
    # state names only, so a perfect first batch (MAPE = sMAPE = 0, same state names) would tie sMAPE to MAPE.
    return Float64MetricCollection(
        {
            "mse": MeanSquaredError(),
            "mae": MeanAbsoluteError(),
            "rmse": MeanSquaredError(squared=False),
            "mape": MeanAbsolutePercentageError(),
            "smape": SymmetricMeanAbsolutePercentageError(),
        },
        compute_groups=[["mse", "rmse"], ["mae"], ["mape"], ["smape"]],
    )


def format_level(level: float) -> str:
    """A level as metric and column names write it: 80 -> ``"80"``, 97.5 -> ``"97.5"``."""
    return f"{float(level):g}"


def quantile_columns(target: str, levels: Sequence[float]) -> list[str]:
    """Column names of the quantiles at ``levels_to_quantiles(levels)``, in that order, as NeuralForecast names
    them: ``["y-lo-90", "y-lo-80", "y", "y-hi-80", "y-hi-90"]`` for ``("y", [80, 90])`` (the median is ``y``)."""
    levels = check_levels(levels)
    lower = [f"{target}-lo-{format_level(level)}" for level in reversed(levels)]
    return [*lower, target, *(f"{target}-hi-{format_level(level)}" for level in levels)]


def check_forecast_columns(targets: Sequence[Hashable], levels: Sequence[float] | None,
                           reserved: Sequence[Hashable | None] = ()) -> None:
    """Refuse targets whose forecast columns (:func:`quantile_columns`) would collide with each other or with the
    ``reserved`` id and time columns, e.g. targets ``["y", "y-lo-80"]`` with ``levels=[80]`` (two ``y-lo-80``).

    Raises:
        ValueError: naming the column that would appear twice and the target to rename.
    """
    names = [name for name in reserved if name is not None]
    for target in targets:
        for column in quantile_columns(target, levels) if levels else [target]:
            if column in names:
                raise ValueError(f"the forecast would have two columns named {column!r} (targets {list(targets)}"
                                 f"{f', levels {list(levels)}' if levels else ''}); rename the target {target!r}")
            names.append(column)


def _torch_backend() -> str:
    if "torch" not in sr.backends:
        sr.register_backend("torch")
    return "torch"


class _MeanScore(Metric):
    """Mean of a per-element score over every forecast element seen, with sum states in float64 (DDP: summed)."""

    full_state_update = False
    higher_is_better = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def _add(self, scores: Tensor) -> None:
        self.total += scores.double().sum()
        self.count += scores.numel()

    def compute(self) -> Tensor:
        return self.total / self.count.clamp(min=1)


class MeanLoss(_MeanScore):
    """The loss over every window seen: ``update(loss, windows)`` adds a batch's mean loss weighted by its windows.

    Under DDP its sums are added over the ranks when read, exact when the ranks scored different numbers of
    windows. Lightning's ``self.log(..., batch_size=B, sync_dist=True)`` is not then: it averages its window count
    over the ranks in place in an integer tensor (Lightning 2.6), so 105 test windows on 2 ranks count as 104.
    """

    def update(self, loss: Tensor, windows: int) -> None:
        self.total += loss.detach().double() * windows
        self.count += windows


class _QuantileScore(_MeanScore):
    """A score of quantile forecasts: ``update(quantiles (..., Q), target (...))``, quantiles at ``quantile_levels``."""

    def __init__(self, quantile_levels: Sequence[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.quantile_levels = tuple(float(q) for q in quantile_levels)

    def _position(self, fraction: float) -> int:
        for i, q in enumerate(self.quantile_levels):
            if math.isclose(q, fraction, abs_tol=1e-9):
                return i
        raise ValueError(f"quantile {fraction} is not among the forecast quantiles {list(self.quantile_levels)}")

    def update(self, quantiles: Tensor, target: Tensor) -> None:
        if quantiles.shape != (*target.shape, len(self.quantile_levels)):
            raise ValueError(f"{type(self).__name__} expects quantiles of shape target.shape + "
                             f"({len(self.quantile_levels)},), got {tuple(quantiles.shape)} for {tuple(target.shape)}")
        self._add(self._scores(quantiles.double(), target.double()))

    def _scores(self, quantiles: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError


class QuantileCRPS(_QuantileScore):
    """CRPS approximated from quantiles (``scoringrules.crps_quantile``: 2/Q times the summed pinball losses)."""

    def _scores(self, quantiles: Tensor, target: Tensor) -> Tensor:
        fractions = quantiles.new_tensor(self.quantile_levels)  # (Q,)
        return sr.crps_quantile(target, quantiles, fractions, backend=_torch_backend())  # (...)


class _IntervalScore(_QuantileScore):
    def __init__(self, level: float, quantile_levels: Sequence[float], **kwargs: Any) -> None:
        super().__init__(quantile_levels, **kwargs)
        self.level = check_levels([level])[0]
        self.bounds = tuple(self._position(fraction) for fraction in level_bounds(self.level))


class IntervalCoverage(_IntervalScore):
    """Share of actual values inside the central interval at ``level`` percent (ends included); nominal: level/100."""

    higher_is_better = None  # closest to level/100 is best

    def _scores(self, quantiles: Tensor, target: Tensor) -> Tensor:
        lower, upper = quantiles[..., self.bounds[0]], quantiles[..., self.bounds[1]]
        return ((target >= lower) & (target <= upper)).double()


class IntervalWidth(_IntervalScore):
    """Mean width (upper - lower) of the central interval at ``level`` percent, in the forecast's units."""

    def _scores(self, quantiles: Tensor, target: Tensor) -> Tensor:
        return quantiles[..., self.bounds[1]] - quantiles[..., self.bounds[0]]


class NormalCRPS(_MeanScore):
    """Closed-form CRPS of Normal forecasts (``scoringrules.crps_normal``): ``update(loc, scale, target)``, each (...).

    scoringrules' torch backend keeps pi in float32, so values carry a relative error of about 1e-7.
    """

    def update(self, loc: Tensor, scale: Tensor, target: Tensor) -> None:
        self._add(sr.crps_normal(target.double(), loc.double(), scale.double(), backend=_torch_backend()))


class StudentTCRPS(_MeanScore):
    """Closed-form CRPS of Student-t forecasts (``scoringrules.crps_t``): ``update(loc, scale, df, target)``.

    The t CDF needs the incomplete beta function, which torch lacks, so each update runs scoringrules' NumPy
    backend on a host copy: for validation and test, not for a training loss.
    """

    def update(self, loc: Tensor, scale: Tensor, df: Tensor, target: Tensor) -> None:
        host = [value.detach().to("cpu", torch.float64).numpy() for value in (target, df, loc, scale)]
        self._add(torch.as_tensor(sr.crps_t(*host, backend="numpy"), device=self.total.device))


def interval_metrics(levels: Sequence[float]) -> MetricCollection:
    """``crps``, ``coverage-<level>`` and ``width-<level>`` of quantile forecasts, in float64.

    ``update(quantiles, target)`` takes quantiles (..., Q) at ``levels_to_quantiles(levels)`` and the actual values
    (...) in the same (original) units.
    """
    quantile_levels = levels_to_quantiles(levels)
    metrics: dict[str, Metric] = {"crps": QuantileCRPS(quantile_levels)}
    for level in check_levels(levels):
        metrics[f"coverage-{format_level(level)}"] = IntervalCoverage(level, quantile_levels)
        metrics[f"width-{format_level(level)}"] = IntervalWidth(level, quantile_levels)
    # No compute groups: coverages of two levels can match on a first batch and would then be merged for good.
    return Float64MetricCollection(metrics, compute_groups=False)


def _tensor(values: ArrayLike | Tensor) -> Tensor:
    """NumPy arrays, pandas objects, lists or tensors as a float64 tensor."""
    if isinstance(values, Tensor):
        return values.double()
    return torch.from_numpy(np.array(values, dtype=np.float64))


def interval_scores(target: ArrayLike, quantiles: ArrayLike, levels: Sequence[float]) -> dict[str, float]:
    """:func:`interval_metrics` of whole arrays: ``target`` (...), ``quantiles`` (..., Q) at
    ``levels_to_quantiles(levels)``, e.g. ``frame[quantile_columns("y", levels)]`` of a backtest frame."""
    metrics = interval_metrics(levels)
    metrics.update(_tensor(quantiles), _tensor(target))
    return {name: float(value) for name, value in metrics.compute().items()}


def quantile_crps(target: ArrayLike, quantiles: ArrayLike, quantile_levels: Sequence[float]) -> float:
    """Mean :class:`QuantileCRPS` of ``quantiles`` (..., Q) at ``quantile_levels`` against ``target`` (...)."""
    metric = QuantileCRPS(quantile_levels)
    metric.update(_tensor(quantiles), _tensor(target))
    return float(metric.compute())


def normal_crps(target: ArrayLike, loc: ArrayLike, scale: ArrayLike) -> float:
    """Mean closed-form CRPS of Normal(loc, scale) forecasts against ``target`` (broadcast together)."""
    metric = NormalCRPS()
    metric.update(_tensor(loc), _tensor(scale), _tensor(target))
    return float(metric.compute())


def student_t_crps(target: ArrayLike, loc: ArrayLike, scale: ArrayLike, df: ArrayLike) -> float:
    """Mean closed-form CRPS of Student-t(df, loc, scale) forecasts against ``target`` (broadcast together)."""
    metric = StudentTCRPS()
    metric.update(_tensor(loc), _tensor(scale), _tensor(df), _tensor(target))
    return float(metric.compute())


# ---------------------------------------------------------------- scores of the forecasting competitions
def _series(values: Sequence[ArrayLike], what: str) -> list[np.ndarray]:
    """Each series' values as a float64 vector (a 2-D array is a sequence of series, one per row)."""
    series = [np.asarray(v, dtype=np.float64).ravel() for v in values]
    if not series or any(len(v) == 0 for v in series):
        raise ValueError(f"{what} needs at least one series, each with at least one value")
    return series


def _paired(actual: Sequence[ArrayLike], forecast: Sequence[ArrayLike]) -> list[tuple[np.ndarray, np.ndarray]]:
    actual, forecast = _series(actual, "actual"), _series(forecast, "forecast")
    if len(actual) != len(forecast):
        raise ValueError(f"{len(actual)} series of actual values but {len(forecast)} forecasts")
    for i, (y, f) in enumerate(zip(actual, forecast)):
        if len(y) != len(f):
            raise ValueError(f"series {i}: {len(y)} actual values but {len(f)} forecast steps")
    return list(zip(actual, forecast))


def _with_history(actual: Sequence[ArrayLike], forecast: Sequence[ArrayLike],
                  insample: Sequence[ArrayLike]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(actual, forecast, training values)`` of each series, checked to pair up."""
    pairs, history = _paired(actual, forecast), _series(insample, "insample")
    if len(history) != len(pairs):
        raise ValueError(f"{len(pairs)} series of actual values but {len(history)} training parts")
    return [(y, f, x) for (y, f), x in zip(pairs, history)]


def smape(actual: Sequence[ArrayLike], forecast: Sequence[ArrayLike]) -> float:
    """sMAPE of the M3 and M4 competitions, in percent: ``200 |y - f| / (|y| + |f|)`` averaged over each series'
    horizon, then over the series (between 0 and 200).

    Makridakis & Hibon (2000) wrote the denominator ``(y + f) / 2``; with absolute values, as M4 does, it is the
    same for M3's positive data and stays within 0-200 where a value or forecast is negative. A step where both
    the value and the forecast are 0 scores 0 (a perfect forecast; Tourism holds zeros) instead of 0/0.

    Args:
        actual: the test values, one sequence per series (or an array ``(n_series, H)``).
        forecast: the forecasts of the same steps, in the same order.
    """
    scores = []
    for y, f in _paired(actual, forecast):
        total = np.abs(y) + np.abs(f)
        terms = np.divide(200 * np.abs(y - f), total, out=np.zeros_like(total), where=total > 0)
        scores.append(terms.mean())
    return float(np.mean(scores))


def mape(actual: Sequence[ArrayLike], forecast: Sequence[ArrayLike]) -> float:
    """MAPE of the Tourism competition (Athanasopoulos et al., 2011), in percent: ``100 |y - f| / |y|`` averaged over
    each series' horizon, then over the series.

    Args:
        actual, forecast: as for :func:`smape`.

    Raises:
        ValueError: an actual value of 0 (its percentage error is undefined).
    """
    scores = []
    for i, (y, f) in enumerate(_paired(actual, forecast)):
        if np.any(y == 0):
            raise ValueError(f"series {i}: an actual value is 0, so its percentage error is undefined")
        scores.append(np.mean(100 * np.abs(y - f) / np.abs(y)))
    return float(np.mean(scores))


def mase(actual: Sequence[ArrayLike], forecast: Sequence[ArrayLike], insample: Sequence[ArrayLike],
         season: int) -> float:
    """MASE (Hyndman & Koehler, 2006) as the M4 and Tourism competitions computed it: each series' forecast MAE
    over the in-sample MAE of its seasonal naive forecast (``mean |x[t] - x[t - season]|`` over its training
    values ``x``), averaged over the series.

    Args:
        actual, forecast: as for :func:`smape`.
        insample: each series' training values, in the same order.
        season: the seasonal period m of the frequency (12 monthly, 4 quarterly, 1 yearly), as
            :func:`tsbridge.data.competition` gives it; 1 scales by the one-step naive.

    Raises:
        ValueError: a training part no longer than ``season``, or one that repeats itself every season (a zero
            scale would make the mean infinite).
    """
    scores = []
    for i, (y, f, x) in enumerate(_with_history(actual, forecast, insample)):
        if len(x) <= season:
            raise ValueError(f"series {i}: {len(x)} training values, too few for a seasonal difference of {season}")
        scale = np.mean(np.abs(x[season:] - x[:-season]))
        if scale == 0:
            raise ValueError(f"series {i}: its training values repeat every {season} steps, so MASE's scale is 0")
        scores.append(np.mean(np.abs(y - f)) / scale)
    return float(np.mean(scores))


def seasonality_test(insample: ArrayLike, season: int) -> bool:
    """The 90% autocorrelation test of the M4 benchmarks (``SeasonalityTest`` in their R code): seasonal when
    ``|r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n)``, with ``r_k`` the lag-k autocorrelation of the ``n``
    values and m the season. Never seasonal for ``season`` 1, fewer than three seasons of values, or a constant
    series (R's autocorrelations are then NaN and the test false)."""
    x = np.asarray(insample, dtype=np.float64).ravel()
    if season <= 1 or len(x) < 3 * season:
        return False
    deviations = x - x.mean()
    variance = deviations @ deviations
    if variance == 0:
        return False
    acf = np.array([deviations[:-k] @ deviations[k:] for k in range(1, season + 1)]) / variance  # r_1 .. r_m
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(acf[:-1] ** 2)) / len(x))
    return bool(abs(acf[-1]) > limit)


def _seasonal_indices(x: np.ndarray, season: int) -> np.ndarray:
    """The ``season`` multiplicative indices of classical decomposition (R's ``decompose(type="multiplicative")``):
    the values over their centred moving average (2 x m for an even m), averaged per position in the season counted
    from the first value, then scaled to mean 1."""
    weights = np.r_[0.5, np.ones(season - 1), 0.5] / season if season % 2 == 0 else np.ones(season) / season
    half = len(weights) // 2
    trend = np.convolve(x, weights, mode="valid")  # symmetric weights: no flip; trend[i] is centred on x[i + half]
    ratios = np.full(len(x), np.nan)
    ratios[half : half + len(trend)] = x[half : half + len(trend)] / trend
    indices = np.array([np.nanmean(ratios[position::season]) for position in range(season)])
    return indices / indices.mean()


def naive2(insample: ArrayLike, horizon: int, season: int) -> np.ndarray:
    """Naive2, the benchmark of the M4 competition: the last seasonally adjusted value, re-seasonalised.

    When :func:`seasonality_test` finds the training values ``x`` seasonal, they are divided by the indices of a
    classical multiplicative decomposition and the forecast is the last adjusted value times the index of each
    forecast step's position in the season; otherwise it is the last value (the naive forecast).

    Returns:
        The ``horizon`` forecasts after ``x``, float64.

    Raises:
        ValueError: a seasonal series with a value that is not positive (a multiplicative decomposition needs
            positive values).
    """
    x = np.asarray(insample, dtype=np.float64).ravel()
    if not seasonality_test(x, season):
        return np.full(horizon, x[-1])
    if (x <= 0).any():
        raise ValueError("Naive2's multiplicative decomposition needs positive values; this seasonal series has "
                         f"{int((x <= 0).sum())} that are not")
    indices = _seasonal_indices(x, season)
    n = len(x)
    return x[-1] / indices[(n - 1) % season] * indices[np.arange(n, n + horizon) % season]


def owa(actual: Sequence[ArrayLike], forecast: Sequence[ArrayLike], insample: Sequence[ArrayLike],
        season: int) -> float:
    """Overall weighted average of the M4 competition (Makridakis, Spiliotis & Assimakopoulos, 2020, "The M4
    Competition: 100,000 time series and 61 forecasting methods", *International Journal of Forecasting* 36(1)): the
    mean of ``smape / smape(naive2)`` and ``mase / mase(naive2)``, each over all the series of a frequency; below 1
    beats Naive2 (:func:`naive2`).

    It applies where Naive2 does: to M3 (positive values) and Tourism's yearly series, not to Tourism's quarterly and
    monthly sets, where 11 and 61 seasonal series hold zeros, which a multiplicative decomposition cannot take.

    Args:
        actual, forecast, insample, season: as for :func:`mase`.

    Raises:
        ValueError: as :func:`mase`, or a series Naive2 cannot forecast (named by its position).
    """
    series = _with_history(actual, forecast, insample)
    benchmark = []
    for i, (y, _, x) in enumerate(series):
        try:
            benchmark.append(naive2(x, len(y), season))
        except ValueError as error:
            raise ValueError(f"series {i}: {error}; OWA does not apply to this set") from None
    actual, history = [y for y, _, _ in series], [x for _, _, x in series]
    return 0.5 * (smape(actual, forecast) / smape(actual, benchmark)
                  + mase(actual, forecast, history, season) / mase(actual, benchmark, history, season))
