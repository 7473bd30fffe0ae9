"""Conformal calibration of forecast intervals, learned on windows the model never trained on.

Two split-conformal methods, chosen by the model's output:

* **point forecasts** (``mse``/``mae``/``huber``/``mape`` losses): the interval at level ``l`` is ``point +- q``,
  where ``q`` is the conformal quantile of the absolute residuals ``|y - y_hat|`` (Vovk et al. 2005; Lei et al.
  2018);
* **quantile and distribution heads**: conformalised quantile regression (Romano et al. 2019): the network's own
  interval ``[lo, hi]`` becomes ``[lo - q, hi + q]``, ``q`` the conformal quantile of ``max(lo - y, y - hi)``, so
  intervals that were too narrow widen and intervals that were too wide narrow.

``q`` is computed per horizon step, target and level, with the finite-sample rank ``ceil((n + 1) l)`` of ``n``
scores (the ``ceil((n + 1)(1 - alpha)) / n`` quantile), which guarantees coverage of at least ``l`` for exchangeable
windows. Scores are divided by each window's **spread** (the standard deviation of its look-back's target values,
in original units: normalised conformal, Papadopoulos et al. 2008; Lei et al. 2018), and margins multiplied by it:
intervals widen in volatile stretches as errors do, and one **pooled** margin serves every series of a panel,
whatever its size. Measured (``benchmarks/calibration.py``, ``benchmarks/intervals.py``, seed 0): dividing by the
series' global scale instead left a point model's 90% intervals at 0.79 / 0.74 coverage on EPF BE / FR and
0.86 on the short-fit Gaussian case; by the spread, 0.83 / 0.89 and 0.89. Pooling is the default because a global
model's panel usually has too few windows per series for a per-series rank (90% needs at least 9 windows, and a
margin from 9 is noisy).
``per_series=True`` keeps one margin per series instead, for long series whose errors differ in shape; a series
that was not calibrated (a new one at predict time) falls back to the pooled margin.

**Recalibration as the data arrive** (``Predictor.backtest(..., recalibrate=True)``): a forecaster in use can be
calibrated again on its newest data, which fixed margins cannot follow when the errors drift (EPF BE:
validation-calibrated 80% intervals covered 76% of the test days). A recalibrated backtest gives each origin the
margins of the newest windows (stride 1, every series) whose values are all observed by that origin, as many as the
calibration had: a rolling split-conformal set (with drift, the setting of Gibbs & Candès, 2021), pooled over the
series, or per series (each its share of them) when the calibration was per series. At the first origin those are
the calibration windows themselves when the frame holds them; no origin reads a value after itself. A rolling set
still lags a drift by its length; ``adaptive_rate`` adds adaptive conformal inference (:class:`AdaptiveLevels`):
each level's rank moves as every stride-1 window from the first origin on is scored, which bounds the long-run miss
rate whatever the errors do.

Windows overlap (stride 1), so they are not exchangeable in the strict sense; like NeuralForecast's and
statsforecast's conformal intervals, the guarantee is then approximate, which the backtest's raw-versus-calibrated
coverage makes visible.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from tsbridge.models.probabilistic import check_levels

#: ``calibration=`` values (``None``: the network's own quantiles).
CALIBRATION_METHODS = ("conformal",)


def conformal_quantile(scores: Tensor, level: float, clamp: bool = False) -> Tensor:
    """The ``ceil((n + 1) * level / 100)``-th smallest of ``n`` scores along dim 0: the split-conformal margin at
    ``level`` percent. With ``clamp`` the rank is held within ``1..n`` (an adaptive level may leave 0-100 or ask for
    more windows than there are: it gets the largest or smallest score, the widest or narrowest interval the
    windows support, where adaptive conformal inference would give an infinite or empty one).

    Raises:
        ValueError: without ``clamp``, fewer scores than the level needs (``n < 100 / (100 - level) - 1``), naming
            both.
    """
    n = scores.shape[0]
    rank = math.ceil((n + 1) * level / 100)
    if clamp:
        rank = min(max(rank, 1), n)
    elif rank > n:
        needed = math.ceil(100 / (100 - level)) - 1
        raise ValueError(f"conformal calibration at level {level:g} needs at least {needed} calibration windows, "
                         f"got {n}; use a longer validation part (val_size) or lower levels")
    return torch.kthvalue(scores, rank, dim=0).values


def _interval_positions(n_levels: int) -> list[tuple[int, int]]:
    """``(lo, hi)`` positions of each level's bounds among the quantiles of ``levels_to_quantiles(levels)``
    (levels ascending: the widest interval's bounds are the outermost quantiles)."""
    return [(n_levels - 1 - k, n_levels + 1 + k) for k in range(n_levels)]


def _scores(point: Tensor, quantiles: Tensor | None, actual: Tensor, n_levels: int) -> Tensor:
    """Conformity scores ``(N, H, T, K)``: absolute residuals (repeated per level) or CQR's ``max(lo - y, y - hi)``."""
    if quantiles is None:
        return (actual - point).abs().unsqueeze(-1).expand(*actual.shape, n_levels)
    return torch.stack([torch.maximum(quantiles[..., lo] - actual, actual - quantiles[..., hi])
                        for lo, hi in _interval_positions(n_levels)], dim=-1)


def window_scores(point: Tensor, quantiles: Tensor | None, actual: Tensor, scale: Tensor, n_levels: int) -> Tensor:
    """Normalised conformity scores ``(N, H, T, K)`` of windows: :func:`_scores` divided by each window's ``scale``
    ``(N, 1, T)``."""
    return _scores(point, quantiles, actual, n_levels) / scale.unsqueeze(-1)


def _margins(scores: Tensor, levels: Sequence[float], clamp: bool = False) -> Tensor:
    """Per-level conformal margins ``(H, T, K)`` of scores ``(N, H, T, K)``."""
    return torch.stack([conformal_quantile(scores[..., k], level, clamp) for k, level in enumerate(levels)], dim=-1)


class AdaptiveLevels:
    """Adaptive conformal inference (ACI; Gibbs & Candès, 2021): working levels that move as forecasts are scored,
    so that the long-run share of values outside each interval approaches its nominal ``1 - level`` even when the
    errors drift.

    Each scored window moves level ``k``'s miscoverage target ``alpha_k`` by ``rate * (nominal_alpha_k - miss_k)``,
    ``miss_k`` the window's share of values outside its level-``k`` interval: a missed window widens the next
    intervals, a covered one narrows them. Over ``T`` scored windows the average miss is within
    ``(max(alpha, 1 - alpha) + rate) / (rate * T)`` of nominal whatever the data (their Proposition 4.1, with the
    share of a window in place of one value). ``rate`` 0.005 is the paper's.

    Attributes:
        nominal: the nominal levels in percent, ascending.
        rate: the step size (ACI's gamma), > 0.
    """

    def __init__(self, nominal: Sequence[float], rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"adaptive_rate must be > 0 (ACI's step size, e.g. 0.005), got {rate!r}")
        self.nominal = tuple(nominal)
        self.rate = float(rate)
        self._target = 1 - torch.tensor(self.nominal, dtype=torch.float64) / 100
        self._alpha = self._target.clone()

    @property
    def levels(self) -> tuple[float, ...]:
        """The working levels in percent (may leave 0-100; :func:`conformal_quantile` with ``clamp`` takes them)."""
        return tuple((100 * (1 - self._alpha)).tolist())

    def observe(self, misses: Tensor) -> None:
        """Move the levels after scored windows' ``misses`` ``(W, K)``: each window's share of values outside each
        level's interval, one update per window."""
        self._alpha += self.rate * (self._target - misses).sum(dim=0)


@dataclass(frozen=True)
class ConformalCalibration:
    """Margins that turn a model's forecasts into calibrated intervals (see the module docstring).

    Attributes:
        levels: interval levels in percent, ascending.
        around_point: True: intervals are ``point +- margin`` (a point model); False: the network's own interval
            bounds move out by ``margin`` (conformalised quantile regression).
        margins: pooled margins ``(H, T, K)`` in multiples of each window's scale (its look-back spread), float64.
        windows: calibration windows the pooled margins come from.
        series_margins: per-series margins ``(S, H, T, K)`` with ``per_series``; else None.
        series_ids: the ids of ``series_margins``' rows (empty without them).
    """

    levels: tuple[float, ...]
    around_point: bool
    margins: Tensor
    windows: int
    series_margins: Tensor | None = None
    series_ids: tuple[Hashable, ...] = ()

    @classmethod
    def fit(cls, point: Tensor, quantiles: Tensor | None, actual: Tensor, scale: Tensor, series: Tensor,
            series_ids: Sequence[Hashable], levels: Sequence[float], per_series: bool = False) -> ConformalCalibration:
        """Margins from calibration windows' forecasts and actual values, in original units.

        Args:
            point: point forecasts ``(N, H, T)``.
            quantiles: the network's quantiles ``(N, H, T, Q)`` at ``levels_to_quantiles(levels)``, or None for a
                point model (intervals around the point).
            actual: the values that followed each window ``(N, H, T)``.
            scale: what each window's scores are divided by ``(N, 1, T)``: its look-back spread
                (:meth:`tsbridge.predictor.Predictor.calibrated`), or ones.
            series: each window's position in ``series_ids`` ``(N,)``.
            series_ids: the series' ids.
            levels: interval levels in percent.
            per_series: keep one margin per series besides the pooled one.

        Raises:
            ValueError: too few windows for a level (pooled, or in some series with ``per_series``).
        """
        levels = tuple(check_levels(levels))
        scores = window_scores(point, quantiles, actual, scale, len(levels))
        series_margins = None
        if per_series:
            try:
                series_margins = torch.stack([_margins(scores[series == s], levels) for s in range(len(series_ids))])
            except ValueError as error:
                raise ValueError(f"per-series calibration: {error} (in at least one of {len(series_ids)} series); "
                                 "pool the series (per_series=False) instead") from None
        return cls(levels=levels, around_point=quantiles is None, margins=_margins(scores, levels).double(),
                   windows=len(scores), series_margins=None if series_margins is None else series_margins.double(),
                   series_ids=tuple(series_ids) if per_series else ())

    def recalibrated(self, scores: Tensor, working_levels: Sequence[float] | None = None) -> ConformalCalibration:
        """The same calibration with pooled margins from other windows' ``scores`` ``(N, H, T, K)``
        (:func:`window_scores`, e.g. the newest observed ones); per-series margins are dropped (the caller
        recalibrates each series with its own scores when it wants them per series). ``working_levels`` (one per
        level, e.g. :attr:`AdaptiveLevels.levels`) set each level's rank in place of its nominal value, clamped to
        the scores there are; the intervals keep their nominal names.

        Raises:
            ValueError: too few windows for a nominal level.
        """
        adaptive = working_levels is not None
        margins = _margins(scores, working_levels if adaptive else self.levels, clamp=adaptive)
        return replace(self, margins=margins.double(), windows=len(scores), series_margins=None, series_ids=())

    def misses(self, scores: Tensor) -> Tensor:
        """Each window's share of values outside each level's interval ``(N, K)``, for windows' ``scores``
        ``(N, H, T, K)`` under the pooled margins."""
        return (scores > self.margins).double().mean(dim=(1, 2))

    def _window_margins(self, series: Tensor, series_ids: Sequence[Hashable]) -> Tensor:
        """Margins ``(N, H, T, K)`` for windows of the series at positions ``series`` of ``series_ids``."""
        if self.series_margins is None:
            return self.margins.expand(len(series), *self.margins.shape)
        rows = {series_id: row for row, series_id in enumerate(self.series_ids)}
        table = torch.cat([self.series_margins, self.margins.unsqueeze(0)])  # the last row: pooled, for new series
        chosen = torch.tensor([rows.get(series_id, len(self.series_ids)) for series_id in series_ids])
        return table[chosen[series]]

    def apply(self, point: Tensor, quantiles: Tensor | None, scale: Tensor, series: Tensor,
              series_ids: Sequence[Hashable]) -> Tensor:
        """Calibrated quantiles ``(N, H, T, Q)`` at ``levels_to_quantiles(levels)`` (original units): the point is
        the median; each level's bounds are set from the margins. Quantiles are sorted afterwards, so a narrowed
        interval never crosses the median or a narrower level's bound."""
        margins = self._window_margins(series, series_ids) * scale.double().unsqueeze(-1)  # (N, H, T, K)
        if quantiles is None:
            quantiles = point.unsqueeze(-1).expand(*point.shape, 2 * len(self.levels) + 1)
        calibrated = quantiles.double().clone()
        for k, (lo, hi) in enumerate(_interval_positions(len(self.levels))):
            calibrated[..., lo] -= margins[..., k]
            calibrated[..., hi] += margins[..., k]
        return calibrated.sort(dim=-1).values

    # ------------------------------------------------------------------ persistence (plain JSON values)
    def to_json(self) -> dict[str, Any]:
        return {"method": "conformal", "levels": list(self.levels), "around_point": self.around_point,
                "windows": self.windows, "margins": self.margins.tolist(),
                "series_margins": None if self.series_margins is None else self.series_margins.tolist()}

    @classmethod
    def from_json(cls, saved: dict[str, Any], series_ids: Sequence[Hashable]) -> ConformalCalibration:
        """Rebuild from :meth:`to_json`; ``series_ids`` are the per-series rows' ids (saved with the data).

        Raises:
            ValueError: values of the wrong shape or method (the caller names the file).
        """
        if saved.get("method") != "conformal":
            raise ValueError(f"unknown calibration method {saved.get('method')!r}")
        margins = torch.tensor(saved["margins"], dtype=torch.float64)
        series_margins = saved.get("series_margins")
        if series_margins is not None:
            series_margins = torch.tensor(series_margins, dtype=torch.float64)
            if series_margins.shape != (len(series_ids), *margins.shape):
                raise ValueError(f"per-series margins of shape {tuple(series_margins.shape)} for "
                                 f"{len(series_ids)} series")
        if margins.dim() != 3 or margins.shape[-1] != len(saved["levels"]):
            raise ValueError(f"margins of shape {tuple(margins.shape)} for levels {saved['levels']}")
        return cls(levels=tuple(check_levels(saved["levels"])), around_point=bool(saved["around_point"]),
                   margins=margins, windows=int(saved["windows"]), series_margins=series_margins,
                   series_ids=tuple(series_ids) if series_margins is not None else ())
