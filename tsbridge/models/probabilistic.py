"""Forecast outputs: what a net's last linear layer feeds, so that any net forecasts points, quantiles or a
distribution.

A net ends in a linear layer of ``n_params`` raw numbers per forecast element (step x target). An output turns
them into parameters (:meth:`ForecastOutput.project`), scores the parameters against the actual values
(:meth:`~ForecastOutput.loss`) and reads forecasts from them (:meth:`~ForecastOutput.point`,
:meth:`~ForecastOutput.quantiles`). :meth:`~ForecastOutput.denormalize` and :meth:`~ForecastOutput.shift` let a
net's scaling (RevIN) and linear skip act on the parameters as they act on a point forecast.

Shapes: ``...`` is any leading shape, e.g. (B, H, T); raw values and parameters are (..., n_params), actual values
(...). Parameters are laid out locations first, then scales, then shape parameters: a point is ``[value]``,
quantiles ``[q_1, ..., q_Q]`` (ascending levels), a Normal ``[loc, scale]``, a Student-t ``[loc, scale, df]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Distribution, Normal, StudentT

from tsbridge.models._checks import check_choice

POINT_LOSSES = ("mse", "mae", "huber", "mape", "smape")
DISTRIBUTION_LOSSES = ("normal", "student_t")
LOSSES = (*POINT_LOSSES, "quantile", *DISTRIBUTION_LOSSES)
#: Smallest scale a distribution output predicts (scaled units): a scale of 0 would make the NLL infinite.
MIN_SCALE = 1e-4
#: Student-t degrees of freedom are above this, so the forecast distribution has a finite variance.
MIN_DF = 2.0


#: What ``levels`` must be, as messages say it.
_LEVELS = "percentages such as [80] or [80, 90]"


def _as_list(name: str, values: Sequence[float], what: str) -> list:
    if isinstance(values, (str, bytes)):  # list("80") would be the characters "8" and "0"
        raise ValueError(f"{name} must be a list of {what}, not the string {values!r}")
    try:
        return list(values)
    except TypeError:
        raise ValueError(f"{name} must be a list of {what}, got {values!r}") from None


def _check_fractions(name: str, values: Sequence[float]) -> tuple[float, ...]:
    """``values`` as floats, each a probability strictly inside (0, 1), or ``ValueError`` naming ``name``."""
    listed = _as_list(name, values, "numbers in (0, 1)")
    for value in listed:
        if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < value < 1.0:
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r} in {listed}")
    return tuple(float(value) for value in listed)


def check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    """``levels`` (interval levels in percent) as floats sorted ascending, or ``ValueError`` naming the bad one."""
    listed = _as_list("levels", levels, _LEVELS)
    if not listed:
        raise ValueError("levels must name at least one interval level in percent, such as [80, 90]")
    for level in listed:
        if isinstance(level, bool) or not isinstance(level, Real) or not 0.0 < level < 100.0:
            raise ValueError(f"each level must be a number strictly between 0 and 100 (percent), got {level!r}")
    values = [float(level) for level in listed]
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"levels {repeated} are given more than once in {listed}")
    return tuple(sorted(values))


def level_bounds(level: float) -> tuple[float, float]:
    """Quantile levels of the central interval at ``level`` percent: 80 -> (0.1, 0.9)."""
    # (100 -+ level) / 200 rounds once, so 80 gives exactly the floats 0.1 and 0.9 (not 1 - 0.9 = 0.09999...).
    return (100.0 - level) / 200.0, (100.0 + level) / 200.0


def levels_to_quantiles(levels: Sequence[float]) -> tuple[float, ...]:
    """Quantile levels of the central intervals at ``levels`` percent plus the median, ascending.

    ``[80, 90]`` -> ``(0.05, 0.1, 0.5, 0.9, 0.95)``.

    Raises:
        ValueError: ``levels`` is empty, not a sequence of numbers, holds a level outside (0, 100) or repeats one.
    """
    bounds = [bound for level in check_levels(levels) for bound in level_bounds(level)]
    return tuple(sorted({0.5, *bounds}))


class ForecastOutput(nn.Module):
    """Base class: raw net outputs -> parameters -> loss, point forecast, quantiles.

    Subclasses set ``n_params``, ``n_locations`` and ``n_scales`` (the parameter layout) and implement
    :meth:`project`, :meth:`loss`, :meth:`point` and :meth:`quantiles`.

    Attributes:
        levels: interval levels (percent) this output forecasts, ascending; empty for a point output.
    """

    n_params: int
    n_locations: int  # parameters that move and stretch with the data (a location, every quantile)
    n_scales: int  # parameters that only stretch (a distribution's scale)

    def __init__(self, levels: Sequence[float] | None = None) -> None:
        super().__init__()
        listed = [] if levels is None else _as_list("levels", levels, _LEVELS)
        self.levels: tuple[float, ...] = check_levels(listed) if listed else ()

    @property
    def quantile_levels(self) -> tuple[float, ...]:
        """Quantile levels of :attr:`levels` plus the median (what ``predict`` reports); empty for a point."""
        return levels_to_quantiles(self.levels) if self.levels else ()

    def forward(self, raw: Tensor) -> Tensor:
        """Same as :meth:`project`."""
        return self.project(raw)

    def project(self, raw: Tensor) -> Tensor:
        """Map raw net outputs (..., n_params) to valid parameters (..., n_params)."""
        raise NotImplementedError

    def loss(self, params: Tensor, target: Tensor, loc: Tensor | None = None, scale: Tensor | None = None) -> Tensor:
        """Mean training loss of ``params`` (..., n_params) against ``target`` (...): a scalar. ``loc``/``scale``
        (broadcasting to ``target``; ``target * scale + loc`` is in original units) serve losses defined in original
        units (``mape``, ``smape``); the others ignore them."""
        raise NotImplementedError

    def point(self, params: Tensor) -> Tensor:
        """Point forecast (...): the value, the median or the location."""
        raise NotImplementedError

    def quantiles(self, params: Tensor, levels: Sequence[float]) -> Tensor:
        """Quantiles (..., len(levels)) at quantile ``levels`` in (0, 1)."""
        raise NotImplementedError

    def interval(self, params: Tensor, level: float) -> tuple[Tensor, Tensor]:
        """Lower and upper ends (...) of the central interval at ``level`` percent."""
        lower, upper = self.quantiles(params, level_bounds(level)).unbind(-1)
        return lower, upper

    def denormalize(self, params: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
        """Parameters of ``y * scale + loc`` for ``y`` distributed as ``params`` (scaled units -> original units).

        Locations (a value, every quantile, a distribution's location) map like ``y``; a distribution's scale is
        multiplied by ``|scale|``; shape parameters (degrees of freedom) stay. ``loc`` and ``scale`` broadcast to
        the leading shape of ``params``, e.g. (B, 1, T) for (B, H, T, P); ``scale`` must not be 0 (a negative one,
        such as a learned RevIN weight below 0, swaps the tails and is handled).
        """
        loc, scale = loc.unsqueeze(-1), scale.unsqueeze(-1)  # (..., 1): one affine map per forecast element
        i, j = self.n_locations, self.n_locations + self.n_scales
        locations, scales, shapes = params[..., :i], params[..., i:j], params[..., j:]
        return torch.cat([self._scale_locations(locations, scale) + loc, scales * scale.abs(), shapes], dim=-1)

    def shift(self, params: Tensor, offset: Tensor) -> Tensor:
        """Parameters of ``y + offset`` (e.g. plus a linear-skip forecast); ``offset`` is (...)."""
        locations, rest = params[..., : self.n_locations], params[..., self.n_locations :]
        return torch.cat([locations + offset.unsqueeze(-1), rest], dim=-1)

    def _scale_locations(self, locations: Tensor, scale: Tensor) -> Tensor:
        """``locations * scale``; quantile outputs also swap their tails where ``scale`` < 0."""
        return locations * scale

    def _check_width(self, raw: Tensor) -> None:
        if raw.shape[-1] != self.n_params:
            raise ValueError(f"{type(self).__name__} expects {self.n_params} raw values per element, "
                             f"got a last dimension of {raw.shape[-1]} (shape {tuple(raw.shape)})")

    def extra_repr(self) -> str:
        return f"levels={list(self.levels)}" if self.levels else ""


def _original_units(forecast: Tensor, target: Tensor, loc: Tensor | None,
                    scale: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """``(forecast, actual, |forecast - actual|)`` in original units (original = scaled * ``scale`` + ``loc``); the
    error is the scaled difference times the scale, free of the cancellation of two large original values."""
    scale = torch.ones_like(target) if scale is None else scale.to(target.dtype)  # the data's float64 stats
    loc = 0 if loc is None else loc.to(target.dtype)
    return forecast * scale + loc, target * scale + loc, (forecast - target).abs() * scale.abs()


def _ratio(error: Tensor, denominator: Tensor) -> Tensor:
    """``error / denominator`` where the denominator is not 0, else 0 (NeuralForecast's ``divide_no_nan``)."""
    return torch.where(denominator != 0, error / denominator.clamp_min(torch.finfo(denominator.dtype).tiny), 0)


def mape_loss(forecast: Tensor, target: Tensor, loc: Tensor | None, scale: Tensor | None) -> Tensor:
    """Mean absolute percentage error in original units, ``|y_hat - y| / |y|``, of scaled ``forecast`` and
    ``target`` (original = scaled * ``scale`` + ``loc``). Elements whose actual value is 0 count as 0, as
    NeuralForecast's MAPE does (``divide_no_nan``): a loss for positive series, the measure Tourism is scored in, which
    punishes over-forecasts of small values more than under-forecasts."""
    _, actual, error = _original_units(forecast, target, loc, scale)
    return _ratio(error, actual.abs()).mean()


def smape_loss(forecast: Tensor, target: Tensor, loc: Tensor | None, scale: Tensor | None) -> Tensor:
    """Symmetric MAPE in original units as a fraction, ``2 |y_hat - y| / (|y_hat| + |y|)`` (between 0 and 2), of
    scaled ``forecast`` and ``target``: the M3/M4 measure (:func:`tsbridge.metrics.smape` is 100 times it), which
    N-BEATS trains on there. An element whose value and forecast are both 0 counts as 0."""
    forecast, actual, error = _original_units(forecast, target, loc, scale)
    return _ratio(2 * error, forecast.abs() + actual.abs()).mean()


class PointOutput(ForecastOutput):
    """One value per element trained with ``"mse"``, ``"mae"``, ``"huber"``, ``"mape"`` or ``"smape"``
    (:func:`mape_loss`, :func:`smape_loss`, in original units): a plain point forecast."""

    n_params, n_locations, n_scales = 1, 1, 0
    _LOSSES = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}
    _PERCENTAGE_LOSSES = {"mape": mape_loss, "smape": smape_loss}  # in original units: they need loc and scale

    def __init__(self, loss: str = "mse") -> None:
        super().__init__()
        self.kind = check_choice("loss", loss, POINT_LOSSES)

    def project(self, raw: Tensor) -> Tensor:
        self._check_width(raw)
        return raw

    def loss(self, params: Tensor, target: Tensor, loc: Tensor | None = None, scale: Tensor | None = None) -> Tensor:
        if self.kind in self._PERCENTAGE_LOSSES:
            return self._PERCENTAGE_LOSSES[self.kind](params[..., 0], target, loc, scale)
        return self._LOSSES[self.kind](params[..., 0], target)

    def point(self, params: Tensor) -> Tensor:
        return params[..., 0]

    def quantiles(self, params: Tensor, levels: Sequence[float]) -> Tensor:
        raise ValueError("a point output has no quantiles; build a probabilistic one: build_output(levels=[80, 90])")

    def extra_repr(self) -> str:
        return f"loss={self.kind!r}"


class QuantileOutput(ForecastOutput):
    """Quantiles at fixed levels, trained with the pinball (quantile) loss; they never cross.

    The median is one raw value; each quantile above it adds a softplus (positive) step to the one below it, and
    each quantile below it subtracts one from the one above, so ``q_1 <= ... <= q_Q`` for any raw values (equal
    only where a softplus underflows to 0).

    Args:
        quantiles: levels in (0, 1), holding 0.5 and, with each level q, its mirror 1 - q (central intervals),
            as :func:`levels_to_quantiles` gives them.
    """

    n_scales = 0

    def __init__(self, quantiles: Sequence[float]) -> None:
        levels = sorted(_check_fractions("quantiles", quantiles))
        if len(set(levels)) < len(levels) or 0.5 not in levels:
            raise ValueError(f"quantiles must be distinct and include the median 0.5, got {list(quantiles)}")
        unpaired = [q for q in levels if not any(math.isclose(q, 1.0 - other, abs_tol=1e-9) for other in levels)]
        if unpaired:
            raise ValueError(f"quantiles {unpaired} have no mirror 1 - q in {levels}: central intervals need both ends")
        super().__init__([round(100.0 - 200.0 * q, 9) for q in levels if q < 0.5])
        self.n_params = self.n_locations = len(levels)
        self.median_index = levels.index(0.5)
        self._quantile_levels = tuple(levels)
        self.register_buffer("fractions", torch.tensor(levels), persistent=False)  # (Q,), moves with the net

    @property
    def quantile_levels(self) -> tuple[float, ...]:
        return self._quantile_levels

    def project(self, raw: Tensor) -> Tensor:
        # Q: quantiles, m: position of the median
        self._check_width(raw)
        m = self.median_index
        median = raw[..., m : m + 1]  # (..., 1)
        above = median + F.softplus(raw[..., m + 1 :]).cumsum(-1)  # (..., Q - m - 1), ascending
        below = median - F.softplus(raw[..., :m].flip(-1)).cumsum(-1).flip(-1)  # (..., m), ascending
        return torch.cat([below, median, above], dim=-1)  # (..., Q)

    def loss(self, params: Tensor, target: Tensor, loc: Tensor | None = None, scale: Tensor | None = None) -> Tensor:
        """Pinball loss averaged over elements and quantiles: ``max(q * e, (q - 1) * e)``, ``e = target - q_hat``."""
        error = target.unsqueeze(-1) - params  # (..., Q)
        fractions = self.fractions.to(params.dtype)  # (Q,)
        return torch.maximum(fractions * error, (fractions - 1) * error).mean()

    def point(self, params: Tensor) -> Tensor:
        return params[..., self.median_index]

    def quantiles(self, params: Tensor, levels: Sequence[float]) -> Tensor:
        positions = []
        for level in _check_fractions("levels", levels):
            matches = [i for i, q in enumerate(self._quantile_levels) if math.isclose(q, level, abs_tol=1e-9)]
            if not matches:
                raise ValueError(f"quantile {level} is not one this output forecasts: {list(self._quantile_levels)}")
            positions.append(matches[0])
        return params[..., positions]  # (..., len(levels))

    def _scale_locations(self, locations: Tensor, scale: Tensor) -> Tensor:
        # y * scale with scale < 0 turns the q quantile into the 1 - q one: the mirrored (flipped) set keeps order.
        return torch.where(scale < 0, locations.flip(-1), locations) * scale


class _DistributionOutput(ForecastOutput):
    """A parametric distribution trained with its negative log-likelihood; the point forecast is its location."""

    n_locations, n_scales = 1, 1

    def distribution(self, params: Tensor) -> Distribution:
        """The forecast distribution, batch shape (...)."""
        raise NotImplementedError

    def loss(self, params: Tensor, target: Tensor, loc: Tensor | None = None, scale: Tensor | None = None) -> Tensor:
        return -self.distribution(params).log_prob(target).mean()

    def point(self, params: Tensor) -> Tensor:
        return params[..., 0]  # the median and (df > 1) the mean of these symmetric distributions


class NormalOutput(_DistributionOutput):
    """A Normal distribution per element: ``[loc, scale]``, scale = softplus + :data:`MIN_SCALE`.

    Args:
        levels: interval levels (percent) to report; they do not change training.
    """

    n_params = 2

    def project(self, raw: Tensor) -> Tensor:
        self._check_width(raw)
        return torch.stack([raw[..., 0], F.softplus(raw[..., 1]) + MIN_SCALE], dim=-1)  # (..., 2)

    def distribution(self, params: Tensor) -> Normal:
        # validate_args=False: argument checks would read values back from the device at every step.
        return Normal(params[..., 0], params[..., 1], validate_args=False)

    def quantiles(self, params: Tensor, levels: Sequence[float]) -> Tensor:
        fractions = params.new_tensor(_check_fractions("levels", levels))  # (Q,)
        return Normal(params[..., 0:1], params[..., 1:2], validate_args=False).icdf(fractions)  # (..., Q)


class StudentTOutput(_DistributionOutput):
    """A Student-t distribution per element: ``[loc, scale, df]``, scale = softplus + :data:`MIN_SCALE`,
    df = :data:`MIN_DF` + softplus (heavier tails than a Normal, finite variance).

    Args:
        levels: interval levels (percent) to report; they do not change training.
    """

    n_params = 3

    def project(self, raw: Tensor) -> Tensor:
        self._check_width(raw)
        scale, df = F.softplus(raw[..., 1]) + MIN_SCALE, F.softplus(raw[..., 2]) + MIN_DF
        return torch.stack([raw[..., 0], scale, df], dim=-1)  # (..., 3)

    def distribution(self, params: Tensor) -> StudentT:
        return StudentT(params[..., 2], params[..., 0], params[..., 1], validate_args=False)

    def quantiles(self, params: Tensor, levels: Sequence[float]) -> Tensor:
        # torch's StudentT has no cdf/icdf (torch lacks the incomplete beta function). scipy's stdtrit inverts the
        # t CDF to double precision (Cephes), and scipy is a dependency already (scoringrules needs it). The
        # degrees of freedom make a round trip to the host, so this is for predictions and metrics, never a loss
        # (the loss is the NLL); 10^6 quantiles take about 0.3 s on one CPU core.
        from scipy.special import stdtrit

        fractions = np.asarray(_check_fractions("levels", levels))  # (Q,)
        df = params[..., 2:3].detach().to("cpu", torch.float64).numpy()  # (..., 1)
        standard = torch.from_numpy(stdtrit(df, fractions)).to(params)  # (..., Q) quantiles of t(df, 0, 1)
        return params[..., 0:1] + params[..., 1:2] * standard  # (..., Q)


def build_output(loss: str | None = None, levels: Sequence[float] | None = None) -> ForecastOutput:
    """The output for a loss and interval levels.

    Args:
        loss: ``"mse"``, ``"mae"``, ``"huber"``, ``"mape"``, ``"smape"`` (point forecasts), ``"quantile"``,
            ``"normal"`` or ``"student_t"``. None: ``"quantile"`` when ``levels`` are given, else ``"mse"``.
        levels: central interval levels in percent, e.g. ``[80, 90]``; None or empty for point forecasts.

    Raises:
        ValueError: an unknown loss, bad levels, levels with a point loss, or a probabilistic loss without levels.
    """
    levels = [] if levels is None else _as_list("levels", levels, _LEVELS)
    if loss is not None:
        check_choice("loss", loss, LOSSES)
    if not levels:
        if loss in ("quantile", *DISTRIBUTION_LOSSES):
            raise ValueError(f"loss={loss!r} forecasts intervals and needs levels, e.g. levels=[80, 90]")
        return PointOutput(loss or "mse")
    if loss in POINT_LOSSES:
        raise ValueError(f"levels={levels} need a probabilistic loss ('quantile', 'normal' or 'student_t'); "
                         f"loss={loss!r} trains a point forecast")
    if loss in (None, "quantile"):
        return QuantileOutput(levels_to_quantiles(levels))
    return NormalOutput(levels) if loss == "normal" else StudentTOutput(levels)
