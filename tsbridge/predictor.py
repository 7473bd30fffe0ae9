"""``Predictor``: a fitted model plus what it needs of the training data, to forecast new frames.

The estimator/predictor split of GluonTS: :func:`tsbridge.fitting.fit` trains and returns a Predictor; the Predictor
forecasts (the next ``horizon`` steps, or every origin of a backtest, in one batched pass over lazily indexed
windows), reads out blend and attention weights on given inputs, and saves/loads without unpickling anything. It
works the same right after fitting and after :meth:`Predictor.load`. Window positions follow
:mod:`tsbridge.data.windows` (``start``, ``origin``, forecast rows).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from tsbridge import persistence
from tsbridge.calibration import AdaptiveLevels, ConformalCalibration, window_scores
from tsbridge.data import (SeriesFrame, SeriesTooShortError, StandardScaler, WindowDataset, collate_windows,
                           extend_with_future, future_feature_columns, model_units, prepare_series, resolve_freq)
from tsbridge.metrics import format_level, interval_scores, original_unit_metrics, quantile_columns
from tsbridge.models import MODELS
from tsbridge.models.probabilistic import check_levels
from tsbridge.module import ForecastModule

if TYPE_CHECKING:
    from tsbridge.data import WindowDataModule

#: The smallest look-back spread (in units of the series' scale) conformal scores are divided by: a flat window
#: would otherwise give a zero margin.
MIN_SPREAD = 1e-3

#: Where a backtest starts: a timestamp, a row position, a fraction of each series, or None (earliest).
Start = pd.Timestamp | str | int | float | None


class MissingReadoutError(AttributeError):
    """The model has no blend (or attention) bridge to read weights from."""


class Forecast(NamedTuple):
    """Forecasts in original units: the point (N, H, T) and, for interval models, quantiles (N, H, T, Q)."""

    point: Tensor
    quantiles: Tensor | None

    def values(self) -> Tensor:
        """The quantiles, or the point as one quantile: (N, H, T, Q or 1)."""
        return self.point.unsqueeze(-1) if self.quantiles is None else self.quantiles

    def rows(self, at: Tensor) -> Forecast:
        """The forecasts of windows ``at`` (indices or a mask)."""
        return Forecast(self.point[at], None if self.quantiles is None else self.quantiles[at])


#: ACI step sizes :meth:`Predictor.select_adaptive_rate` compares (0: the rolling recalibration alone; 0.005: the
#: step of ACI's authors, Gibbs & Candès 2021).
ADAPTIVE_RATES = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05)
#: Coverage within this of nominal on the held-out windows counts as calibrated there (half the 2 points issue 19
#: asks of the test part: the held-out half is shorter and calmer than a test part tends to be).
RATE_TOLERANCE = 0.01
#: A step whose CRPS on the held-out windows is more than this share above the slowest step's is not chosen: a fast
#: step buys coverage with intervals that swing wide after each run of misses (EPF's validation: step 0.02 covered
#: within 1 point at +11% CRPS, and +14% on the test part), and issue 19 allows calibration +2% CRPS.
RATE_SHARPNESS = 0.02


class _ScoredPool(NamedTuple):
    """The stride-1 windows one group of series recalibrates from, ordered by when their last value is observed."""

    known: np.ndarray  # when each window's last value is observed
    issued: np.ndarray  # each window's origin time
    scores: Tensor  # its conformity scores (:func:`tsbridge.calibration.window_scores`)
    size: int  # how many of the newest windows each recalibration reads


class RateSelection(NamedTuple):
    """An adaptive rate chosen on held-out windows (:meth:`Predictor.select_adaptive_rate`)."""

    #: The chosen ``adaptive_rate`` for :meth:`Predictor.backtest`.
    rate: float
    #: Per rate: coverage at each level and crps (pooled), ``largest_gap``, the largest distance from nominal over
    #: levels, targets (and series, when calibrated per series), and ``sharp``, whether its crps let it compete.
    scores: pd.DataFrame
    #: Windows that calibrated the selection, and windows it was backtested on.
    calibration_windows: int
    selection_windows: int


class Backtest(NamedTuple):
    """Result of a backtest: one row per (origin, step, target), and metrics per target."""

    forecasts: pd.DataFrame
    metrics: pd.DataFrame


@dataclass
class Predictor:
    """A fitted :class:`~tsbridge.module.ForecastModule` and the training data's columns, scaler and rows.

    Attributes:
        module: the fitted module (eval mode).
        target_cols, input_cols: channel names, targets first (the batch contract).
        time_col, id_col, fill: how frames are read (see :func:`tsbridge.data.prepare_series`).
        lookback, horizon: the window lengths the net was trained with.
        min_lookback: with edge padding (the data module's ``min_lookback``), the fewest real rows a forecast
            reads: a series of at least that many rows is forecast, its look-back padded with copies of its first
            row; None: ``lookback`` rows are needed.
        freq: pandas offset alias of the time axis; None for integer time axes.
        scaler: the scaler fitted on the training rows, or None.
        history: the training series in original units (after loading: their last ``lookback`` rows), which
            :meth:`predict` forecasts from when given no frame.
        batch_size: windows per forward pass.
        future_features: columns whose values for the forecast steps are known (passed as ``future=``).
        calendar: calendar features derived from the timestamps (known for any step).
        calibration: conformal margins that replace the network's own intervals (:meth:`calibrated`), or None.
    """

    module: ForecastModule
    target_cols: list[str]
    input_cols: list[str]
    time_col: str | None
    id_col: str | None
    fill: str | None
    lookback: int
    horizon: int
    freq: str | None
    scaler: StandardScaler | None
    history: SeriesFrame
    batch_size: int
    min_lookback: int | None = None
    future_features: list[Hashable] = field(default_factory=list)
    calendar: tuple[str, ...] = ()
    calibration: ConformalCalibration | None = None

    @classmethod
    def from_datamodule(cls, module: ForecastModule, datamodule: WindowDataModule) -> Predictor:
        """The predictor of ``module`` trained on ``datamodule`` (set up here if it is not yet).

        Raises:
            FrequencyError: datetime series without a known frequency (pass ``freq=`` to the data module).
        """
        datamodule.setup()
        freq = resolve_freq(datamodule.series, None)
        return cls(
            module=module.eval(), target_cols=datamodule.target_cols, input_cols=datamodule.input_cols,
            time_col=datamodule.time_col, id_col=datamodule.id_col, fill=datamodule.fill,
            lookback=datamodule.lookback, horizon=datamodule.horizon, freq=freq, scaler=datamodule.scaler,
            history=replace(datamodule.series, freq=freq), batch_size=datamodule.eval_batch_size,
            min_lookback=datamodule.min_lookback,
            future_features=future_feature_columns(datamodule.series), calendar=datamodule.series.calendar,
        )

    @property
    def model(self) -> str:
        """The registry name of the model (``blend``, ``attention`` ...)."""
        return self.module.model_name

    @property
    def shortest_lookback(self) -> int:
        """The fewest real rows a forecast reads: ``min_lookback`` with padding, else ``lookback``."""
        return self.lookback if self.min_lookback is None else self.min_lookback

    def _lookback_setting(self) -> str:
        """``lookback=8`` or ``min_lookback=3``: the option that sets :attr:`shortest_lookback`, for messages."""
        return f"lookback={self.lookback}" if self.min_lookback is None else f"min_lookback={self.min_lookback}"

    @property
    def n_targets(self) -> int:
        return len(self.target_cols)

    @property
    def n_future(self) -> int:
        """Known-future channels (future features and calendar columns), the last inputs."""
        return self.history.n_future

    @property
    def levels(self) -> tuple[float, ...]:
        """Interval levels (percent) forecast: the calibration's, else the network's; empty for points."""
        return self.calibration.levels if self.calibration is not None else self.module.output.levels

    def interval_columns(self, target: Hashable) -> list[str]:
        """Names of a target's forecast columns: ``<target>`` (the median), ``<target>-lo-80``, ``<target>-hi-80``,
        ... in quantile order (NeuralForecast's names); ``[target]`` for points."""
        return quantile_columns(target, self.levels) if self.levels else [target]

    @property
    def time_name(self) -> Hashable:
        return self.history.timestamps[0].name if self.time_col is None else self.time_col

    # ------------------------------------------------------------------ frames and windows
    def prepare(self, frame: pd.DataFrame | None) -> SeriesFrame:
        """``frame`` validated against the training columns (original units, training frequency); None: the
        training series.

        Raises:
            DataValidationError: missing columns, non-numeric values, unsorted time ... (naming what is wrong).
            FrequencyError: the frame's timestamps are off the training frequency's grid.
        """
        if frame is None:
            return self.history
        past = self.input_cols[self.n_targets : len(self.input_cols) - self.n_future]
        return prepare_series(
            frame, target_cols=self.target_cols, feature_cols=past, time_col=self.time_col, id_col=self.id_col,
            fill=self.fill, freq=self.freq, future_cols=self.future_features or None, calendar=self.calendar,
        )

    def _scaled(self, series: SeriesFrame) -> dict[str, Any]:
        """Model-unit (scaled float32) values and per-series target statistics ``(n_series, 1, n_targets)``."""
        values = model_units(series, self.scaler).values
        if self.scaler is None:
            return {"values": values}
        loc, scale = self.scaler.target_stats(series.series_ids, self.n_targets)
        return {"values": values, "loc": loc, "scale": scale}

    def windows(self, series: SeriesFrame, origins: Tensor) -> WindowDataset:
        """Windows ending at ``(series, origin)`` pairs ``origins`` (int64 ``(N, 2)``), without targets; with
        known-future inputs they read those of the ``horizon`` rows after each origin (which must exist). With
        ``min_lookback``, an origin closer than ``lookback`` rows to its series' start is read edge-padded.

        Raises:
            ValueError: an origin before row ``shortest_lookback - 1`` (fewer real rows than the model reads).
        """
        first = self.shortest_lookback - 1
        if len(origins) and int(origins[:, 1].min()) < first:
            raise ValueError(f"an origin at row {int(origins[:, 1].min())} has fewer rows up to it than "
                             f"{self._lookback_setting()}; the first origin of a series is row {first}")
        starts = origins.clone()
        starts[:, 1] += 1 - self.lookback
        return WindowDataset(**self._scaled(series), index=starts, lookback=self.lookback, horizon=self.horizon,
                             n_targets=self.n_targets, with_target=False, n_future=self.n_future)

    def forecast(self, dataset: WindowDataset, series_ids: Sequence[Hashable] = (), raw: bool = False) -> Forecast:
        """Forecasts of every window of ``dataset``, in order, in original units (float64): the point (N, H, T)
        and, for interval models, the quantiles (N, H, T, Q) at ``levels_to_quantiles(levels)``: calibrated ones
        when the predictor is calibrated, unless ``raw`` (the network's own, None for a point network).
        ``series_ids``: the ids of the dataset's series, for per-series calibration margins (a series not
        calibrated, or none given, gets the pooled margin)."""
        calibrate = self.calibration is not None and not raw
        forecast, spread, positions = self._forecast_windows(dataset, with_spread=calibrate)
        return self._calibrate(forecast, spread, positions, series_ids, len(dataset.values)) if calibrate else forecast

    def _calibrate(self, forecast: Forecast, spread: Tensor, positions: Tensor, series_ids: Sequence[Hashable],
                   n_series: int) -> Forecast:
        """``forecast`` with the calibration's intervals (see :meth:`forecast`)."""
        series_ids = list(series_ids) or [None] * n_series
        return forecast._replace(quantiles=self.calibration.apply(
            *forecast, scale=spread, series=positions, series_ids=series_ids))

    def _forecast_windows(self, dataset: WindowDataset, with_spread: bool = True
                          ) -> tuple[Forecast, Tensor | None, Tensor]:
        """The network's own forecasts of ``dataset``'s windows (see :meth:`forecast`), each window's look-back
        spread (N, 1, T; None unless ``with_spread``) and its series position (N,).

        The spread, the standard deviation of the window's target values in original units, is what conformal
        scores are divided by (normalised conformal): a margin then widens with the volatility of the moment, as the
        errors do, and one pooled margin serves series of any size.
        """
        self.module.eval()
        points, quantiles, spreads, positions = [], [], [], []
        with torch.inference_mode():
            for batch in DataLoader(dataset, batch_size=self.batch_size, collate_fn=collate_windows):
                if with_spread:
                    targets = batch["x"][:, :, : self.n_targets].double()  # scaled by the series' scaler
                    spread = targets.std(dim=1, correction=0, keepdim=True).clamp_min(MIN_SPREAD)
                    spreads.append(spread * batch["scale"])
                positions.append(batch["series"])
                batch = {key: value.to(self.module.device) for key, value in batch.items()}
                outputs = self.module.predict_step(batch, 0)
                points.append(outputs["forecast"].cpu())
                if "quantiles" in outputs:
                    quantiles.append(outputs["quantiles"].cpu())
        forecast = Forecast(torch.cat(points), torch.cat(quantiles) if quantiles else None)
        return forecast, torch.cat(spreads) if with_spread else None, torch.cat(positions)

    def _ends(self, series: SeriesFrame, future: pd.DataFrame | None) -> tuple[SeriesFrame, Tensor]:
        """The series extended by their known future (when the model reads it) and the origin at each one's end."""
        for series_id, length in zip(series.series_ids, series.lengths):
            if length < self.shortest_lookback:
                raise SeriesTooShortError(f"series {series_id!r} has {length} rows, fewer than "
                                          f"{self._lookback_setting()}")
        origins = torch.tensor([[s, n - 1] for s, n in enumerate(series.lengths)], dtype=torch.int64).reshape(-1, 2)
        if not self.n_future:
            if future is not None:
                raise ValueError("future= holds known-future values, but this model reads none (it was fitted "
                                 "without future_features or calendar)")
            return series, origins
        return extend_with_future(series, self.horizon, future, time_col=self.time_col, id_col=self.id_col), origins

    # ------------------------------------------------------------------ forecasts
    def predict(self, frame: pd.DataFrame | None = None, horizon: int | None = None,
                future: pd.DataFrame | None = None) -> pd.DataFrame:
        """The ``horizon`` steps (default: all trained ones) after the end of each series of ``frame`` (None: the
        training data), in original units.

        Args:
            frame: the recent data (at least ``lookback`` rows per series, ``min_lookback`` with padding; the
                training columns).
            horizon: steps returned, at most the trained horizon.
            future: for a model with future features, their values over the forecast steps: the time column (or
                index), the id column of a panel and each future feature, for the next ``horizon`` timestamps of
                every series (calendar features need nothing).

        Returns:
            One column per target (the median for interval models) plus ``<target>-lo-80``, ``<target>-hi-80`` ...
            per level, indexed by the future timestamps (panels: an ``(id_col, time)`` MultiIndex;
            ``.reset_index()`` gives NeuralForecast's long layout).
        """
        horizon = self.horizon if horizon is None else horizon
        if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= self.horizon:
            raise ValueError(f"horizon must be an integer from 1 to the trained horizon {self.horizon}, got "
                             f"{horizon!r}; a longer forecast needs a model trained with a longer horizon")
        return self.forecast_frame(self.prepare(frame), horizon, future)

    def forecast_frame(self, series: SeriesFrame, horizon: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        """:meth:`predict` of prepared ``series``: the ``horizon`` steps after each series' end."""
        extended, origins = self._ends(series, future)
        forecast = self.forecast(self.windows(extended, origins), series.series_ids)
        values = forecast.values()[:, :horizon].numpy()  # (S, horizon, T, Q or 1)
        columns = [column for target in self.target_cols for column in self.interval_columns(target)]
        # One frame for all series (a frame per series and their concat cost more than the forecast itself).
        futures = series.future_indexes(horizon)
        stamps = futures[0].append(futures[1:]).rename(self.time_name)
        values = values.reshape(len(stamps), -1)
        if self.id_col is None:
            return pd.DataFrame(values, index=stamps, columns=columns)
        ids = pd.Index(series.series_ids).repeat(horizon)
        index = pd.MultiIndex.from_arrays([ids, stamps], names=[self.id_col, self.time_name])
        return pd.DataFrame(values, index=index, columns=columns)

    def origins(self, series: SeriesFrame, start: Start = None, stride: int = 1) -> Tensor:
        """``(series, origin)`` pairs: every ``stride``-th origin from ``start`` with a full look-back (with
        ``min_lookback``: at least that many rows, the rest padded) and horizon.

        ``start``: a timestamp (the first row at or after it; a tz-naive one on tz-aware data is wall time in the
        data's zone), a row position (int >= 0), a fraction of each series (float in [0, 1)), or None (the
        earliest origin).

        Raises:
            ValueError: a bad ``stride`` or ``start`` (naming the value), or no origin from ``start``.
        """
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride must be an integer >= 1, got {stride!r}")
        pairs = []
        for s, stamps in enumerate(series.timestamps):
            first = max(_first_origin(start, stamps), self.shortest_lookback - 1)
            origins = torch.arange(first, max(first, len(stamps) - self.horizon), stride, dtype=torch.int64)
            pairs.append(torch.stack([torch.full_like(origins, s), origins], dim=1))
        index = torch.cat(pairs)
        if len(index) == 0:
            raise ValueError(
                f"no backtest origin from start={start!r}: an origin needs {self._lookback_setting()} rows up to it "
                f"and horizon={self.horizon} rows after it (series lengths {series.lengths[:5]})"
            )
        return index

    def actuals(self, series: SeriesFrame, origins: Tensor) -> Tensor:
        """The ``horizon`` target values after each of ``origins`` (``(series, origin)`` pairs): (N, H, T) float64."""
        rows = origins[:, 1:] + torch.arange(1, self.horizon + 1)  # (N, H)
        return torch.stack([series.values[s][rows[i], : self.n_targets].double()
                            for i, s in enumerate(origins[:, 0].tolist())]) if len(origins) else torch.empty(0)

    def forecast_table(self, series: SeriesFrame, origins: Tensor, raw: bool = False) -> pd.DataFrame:
        """Long frame of forecasts and actuals at ``origins`` (``(series, origin)`` pairs), one batched pass.

        Columns: [id_col], ``origin``, ``timestamp``, ``step`` (1..H), ``target``, ``actual``, ``forecast`` (the
        median for interval models), and per level ``forecast-lo-<level>``, ``forecast-hi-<level>`` (the network's
        own with ``raw``, else calibrated ones when the predictor is calibrated). Known-future inputs are read from
        ``series`` itself, on each origin's forecast rows only.
        """
        forecast = self.forecast(self.windows(series, origins), series.series_ids, raw)
        return self._table(series, origins, forecast, self.module.output.levels if raw else self.levels)

    def _table(self, series: SeriesFrame, origins: Tensor, forecast: Forecast, levels: tuple[float, ...]
               ) -> pd.DataFrame:
        """:meth:`forecast_table` of ``forecast``, the forecasts at ``origins`` with intervals at ``levels``."""
        values = forecast.values().numpy()  # (N, H, T, Q or 1)
        actuals = self.actuals(series, origins).numpy()  # (N, H, T)
        bounds = interval_bounds(levels)  # column name -> position among the quantiles
        steps = np.arange(1, self.horizon + 1)
        parts = []
        for s in origins[:, 0].unique().tolist():
            rows = (origins[:, 0] == s).numpy()
            origin = origins[rows, 1].numpy()  # (k,)
            future = origin[:, None] + steps  # (k, H) rows forecast from each origin
            actual = actuals[rows]  # (k, H, T)
            stamps = series.timestamps[s]
            columns = {"origin": stamps[origin].repeat(self.horizon), "timestamp": stamps[future.ravel()],
                       "step": np.tile(steps, len(origin))}
            for t, name in enumerate(self.target_cols):
                mine = values[rows][:, :, t]  # (k, H, Q or 1)
                part = pd.DataFrame({**columns, "target": name, "actual": actual[..., t].ravel(),
                                     "forecast": mine[..., bounds.get("forecast", 0)].ravel(),
                                     **{column: mine[..., q].ravel() for column, q in bounds.items()
                                        if column != "forecast"}})
                if self.id_col is not None:
                    part.insert(0, self.id_col, series.series_ids[s])
                parts.append(part)
        return pd.concat(parts, ignore_index=True)

    def backtest(self, frame: pd.DataFrame, start: Start = None, stride: int = 1,
                 recalibrate: bool = False, adaptive_rate: float = 0.0, raw: bool = False) -> Backtest:
        """Rolling-origin evaluation of ``frame``: every ``stride``-th origin from ``start`` (see :meth:`origins`),
        each forecast reading only the ``lookback`` rows up to its origin (and the known-future values of its
        ``horizon`` forecast rows), in one batched pass. Metrics per target: mse, mae, rmse, mape, smape and, for
        interval models, crps, coverage-<level> and width-<level> (original units). A calibrated predictor
        reports its calibrated intervals there and the network's own beside them as ``raw_crps``,
        ``raw_coverage-<level>``, ``raw_width-<level>`` (when the network forecasts intervals).

        ``recalibrate`` (a calibrated predictor): each origin's margins come from the newest stride-1 windows of
        ``frame`` whose values are all observed by that origin, as many as the calibration had (per series with
        per-series calibration), as a forecaster calibrated again on its newest data would have them.
        ``adaptive_rate`` > 0 (with ``recalibrate``) also adapts each level's rank as the stride-1 windows from the
        first origin on are scored (adaptive conformal inference, :class:`tsbridge.calibration.AdaptiveLevels`:
        0.005 is its authors' step), one adaptation per series with per-series calibration.

        ``raw``: the network's own forecasts and intervals only, as the model scores without its calibration (the
        same numbers as the ``raw_`` metrics, per row)."""
        if adaptive_rate and not recalibrate:
            raise ValueError("adaptive_rate adapts the recalibrated margins: pass recalibrate=True with it")
        if raw and recalibrate:
            raise ValueError("raw=True scores the network's own intervals: it cannot be recalibrated as well")
        series = self.prepare(frame)
        origins = self.origins(series, start, stride)
        if recalibrate and self.calibration is None:
            raise ValueError("recalibrate=True needs a calibrated model: fit with calibration='conformal' or call "
                             "calibrate() first")
        if self.calibration is None or raw:
            forecasts = self.forecast_table(series, origins, raw)
            return Backtest(forecasts, backtest_metrics(forecasts, self.module.output.levels if raw else self.levels))
        dataset = self.windows(series, origins)
        raw, spread, positions = self._forecast_windows(dataset)  # one pass serves both tables
        if recalibrate:
            calibrated = self._recalibrated(series, origins, raw, spread, [adaptive_rate])[0]
        else:
            calibrated = self._calibrate(raw, spread, positions, series.series_ids, len(dataset.values))
        forecasts = self._table(series, origins, calibrated, self.levels)
        metrics = backtest_metrics(forecasts, self.levels)
        if self.module.output.levels:
            own = self.module.output.levels
            raw_metrics = backtest_metrics(self._table(series, origins, raw, own), own)
            interval = [column for column in raw_metrics.columns if column.startswith(("crps", "coverage-", "width-"))]
            metrics = metrics.join(raw_metrics[interval].add_prefix("raw_"))
        return Backtest(forecasts, metrics)

    def _recalibrated(self, series: SeriesFrame, origins: Tensor, raw: Forecast, spread: Tensor,
                      adaptive_rates: Sequence[float]) -> list[Forecast]:
        """``raw`` forecasts at ``origins`` with intervals recalibrated origin by origin (see :meth:`backtest`), one
        forecast per rate of ``adaptive_rates``: each origin's margins come from the newest stride-1 windows of
        ``series`` whose values are all observed by then, as many as the calibration had; per series (that series'
        share of them) when it was calibrated per series. With a rate > 0 each group of series adapts its levels as
        its windows are scored. The windows are forecast and scored once for all the rates."""
        calibration = self.calibration
        per_series = calibration.series_margins is not None
        every = list(range(len(series.values)))
        groups = [[s] for s in every] if per_series else [every]
        size = calibration.windows // (len(calibration.series_ids) if per_series else 1)
        pool = self.origins(series)  # every stride-1 window
        quantiles = [torch.empty(*raw.point.shape, 2 * len(calibration.levels) + 1, dtype=torch.float64)
                     for _ in adaptive_rates]
        for members in map(torch.tensor, groups):
            mine = torch.isin(origins[:, 0], members)
            if mine.any():
                group = origins[mine], raw.rows(mine), spread[mine]
                scored = self._scored_pool(series, group[0], pool[torch.isin(pool[:, 0], members)], size)
                for rate, filled in zip(adaptive_rates, quantiles):
                    filled[mine] = self._recalibrated_group(series, *group, scored, rate)
        return [raw._replace(quantiles=filled) for filled in quantiles]

    def _scored_pool(self, series: SeriesFrame, origins: Tensor, pool: Tensor, size: int) -> _ScoredPool:
        """The windows of ``pool`` (one group of series) that recalibrating at ``origins`` reads, scored: the newest
        ``size`` observed by the first origin and every later one observed by the last origin."""
        known = _times(series, pool + torch.tensor([0, self.horizon]))  # when each window's last value is observed
        order = np.argsort(known, kind="stable")
        pool, known = pool[torch.from_numpy(order)], known[order]
        origin_times = _times(series, origins)
        first = int(np.searchsorted(known, origin_times.min(), side="right"))
        if first < size:
            raise ValueError(f"recalibrate=True needs {size} windows (the calibration's count) observed before the "
                             f"first origin, and the frame holds {first}; pass a frame that starts earlier, e.g. with "
                             "the validation part")
        last = int(np.searchsorted(known, origin_times.max(), side="right"))
        needed = pool[first - size : last]
        forecast, needed_spread, _ = self._forecast_windows(self.windows(series, needed))
        scores = window_scores(forecast.point, forecast.quantiles, self.actuals(series, needed), needed_spread,
                               len(self.calibration.levels))
        return _ScoredPool(known[first - size : last], _times(series, needed), scores, size)

    def _recalibrated_group(self, series: SeriesFrame, origins: Tensor, raw: Forecast, spread: Tensor,
                            scored: _ScoredPool, adaptive_rate: float) -> Tensor:
        """Recalibrated quantiles of ``raw`` (one group of series) from the newest ``scored.size`` windows observed
        by each origin; with ``adaptive_rate``, at levels adapted on every scored window issued from the first
        origin on and observed by then."""
        known, scores, size = scored.known, scored.scores, scored.size
        quantiles = torch.empty(*raw.point.shape, 2 * len(self.calibration.levels) + 1, dtype=torch.float64)
        no_series = torch.zeros(len(origins), dtype=torch.int64)
        origin_times = _times(series, origins)
        times = np.unique(origin_times)
        if adaptive_rate:
            adaptive = AdaptiveLevels(self.calibration.levels, adaptive_rate)
            adapting = scored.issued >= times[0]  # the windows that adapt the levels: issued from the first origin on
            misses = torch.zeros(len(scores), len(self.calibration.levels), dtype=torch.float64)
            times = np.union1d(times, scored.issued[adapting])
            fed = 0  # windows (ordered by when they are observed) already fed back
        for time in times:
            end = int(np.searchsorted(known, time, side="right"))
            if adaptive_rate:
                observed = torch.from_numpy(np.flatnonzero(adapting[fed:end]) + fed)
                adaptive.observe(misses[observed])  # issued before ``time``: their misses are set below
                fed = end
                margins = self.calibration.recalibrated(scores[end - size : end], adaptive.levels)
                now = torch.from_numpy(np.flatnonzero(scored.issued == time))
                misses[now] = margins.misses(scores[now])
            else:
                margins = self.calibration.recalibrated(scores[end - size : end])
            at = torch.from_numpy(np.flatnonzero(origin_times == time))
            if len(at):
                quantiles[at] = margins.apply(*raw.rows(at), spread[at], no_series[at], [None])
        return quantiles

    def select_adaptive_rate(self, series: SeriesFrame, origins: Tensor, rates: Sequence[float] = ADAPTIVE_RATES,
                             tolerance: float = RATE_TOLERANCE,
                             sharpness: float | None = RATE_SHARPNESS) -> RateSelection:
        """Choose :meth:`backtest`'s ``adaptive_rate`` on the windows at ``origins`` (the validation part's, which
        the model never trained on), before any later window is read: each series' first half of them calibrates a
        copy of this predictor as this one was calibrated (same levels, pooled or per series), and its second half
        is backtested with ``recalibrate=True`` at every rate of ``rates`` (0: the rolling recalibration alone).
        Among the rates whose CRPS there is at most ``sharpness`` (a share) above the slowest rate's (None: every
        rate), the choice is the smallest whose coverage is within ``tolerance`` of nominal at every level, per
        target (and per series when calibrated per series): the least adaptation that calibrates held-out windows,
        since a faster rate also makes the intervals swing more. When none gets there, the one of the smallest
        largest gap. No refit; the windows the recalibration reads are forecast once for all the rates.

        Raises:
            ValueError: the predictor is not calibrated, or a series has too few windows to halve.
        """
        calibration = self.calibration
        if calibration is None:
            raise ValueError("choosing an adaptive rate needs a calibrated model: fit with calibration='conformal'")
        if not rates or any(rate < 0 for rate in rates):
            raise ValueError(f"rates must be step sizes >= 0 (0: no adaptation), got {list(rates)}")
        first, second = _halves(origins)
        per_series = calibration.series_margins is not None
        selecting = self.calibrated(series, first, calibration.levels, per_series)
        raw, spread, _ = selecting._forecast_windows(selecting.windows(series, second))
        by_series = per_series and self.id_col is not None
        coverage = {f"coverage-{format_level(level)}": level / 100 for level in calibration.levels}
        rows = []
        rates = sorted(set(map(float, rates)))
        for rate, recalibrated in zip(rates, selecting._recalibrated(series, second, raw, spread, rates)):
            table = selecting._table(series, second, recalibrated, calibration.levels)
            metrics = backtest_metrics(table, calibration.levels)  # per target, pooled over series
            groups = pd.concat([backtest_metrics(part, calibration.levels) for _, part in table.groupby(self.id_col)]
                               ) if by_series else metrics
            gap = max(float((groups[name] - nominal).abs().max()) for name, nominal in coverage.items())
            rows.append({"rate": rate, **metrics[list(coverage)].mean().to_dict(),
                         "crps": float(metrics["crps"].mean()), "largest_gap": gap})
        scores = pd.DataFrame(rows).set_index("rate")
        scores["sharp"] = True if sharpness is None else scores["crps"] <= scores["crps"].iloc[0] * (1 + sharpness)
        eligible = scores[scores["sharp"]]
        calibrated = eligible.index[eligible["largest_gap"] <= tolerance]
        chosen = float(calibrated[0]) if len(calibrated) else float(eligible["largest_gap"].idxmin())
        return RateSelection(chosen, scores, len(first), len(second))

    def calibrated(self, series: SeriesFrame, origins: Tensor, levels: Sequence[float] | None = None,
                   per_series: bool = False) -> Predictor:
        """A copy of this predictor whose intervals are conformally calibrated (:mod:`tsbridge.calibration`) on
        the windows ending at ``origins`` (``(series, origin)`` pairs of ``series``), which the model must not
        have trained on: one forecasting pass, no refit.

        Args:
            series: prepared series holding the calibration windows and the values after them.
            origins: the calibration windows' origins (:meth:`origins`, or the validation part's).
            levels: interval levels in percent; None: the network's own (required for a point network).
            per_series: one margin per series instead of one pooled over the panel.

        Raises:
            ValueError: no levels for a point network, levels other than a quantile network's, or too few windows.
        """
        own = self.module.output.levels
        if levels is None and not own:
            raise ValueError("calibrating a point forecast needs interval levels, e.g. levels=[80, 90]")
        levels = own if levels is None else check_levels(levels)  # sorted
        if own and levels != own:
            raise ValueError(f"the network forecasts the levels {list(own)}; calibrate those (got {list(levels)})")
        raw, spread, positions = self._forecast_windows(self.windows(series, origins))
        calibration = ConformalCalibration.fit(raw.point, raw.quantiles, self.actuals(series, origins), spread,
                                               positions, series.series_ids, levels, per_series)
        return replace(self, calibration=calibration)

    # ------------------------------------------------------------------ readouts
    def require_readout(self, kind: str) -> None:
        """Raise :class:`MissingReadoutError` unless the net has a ``kind`` (``"blend"``/``"attention"``) bridge."""
        if getattr(self.module.net, kind, None) is None:
            blends = ", ".join(name for name, spec in MODELS.items() if spec.blend)
            hint = (f"models with one: {blends}; for any bidirectional model, fit logs importance/past and "
                    "importance/future") if kind == "blend" else "use model='attention'"
            raise MissingReadoutError(f"model {self.model!r} has no {kind} bridge, so it has no {kind} weights "
                                      f"({hint})")

    def blend_weights(self, frame: pd.DataFrame | None = None, future: pd.DataFrame | None = None) -> dict[str, Any]:
        """``{"past": a, "future": 1 - a}`` of the forecast from the end of ``frame`` (see :meth:`readouts`); for
        ``blend_unit`` the mean over units; a ``blend_gated`` weight depends on the input: the mean gate of that
        forecast, with ``"profile"``, the mean a per look-back position (per segment with segments)."""
        self.require_readout("blend")
        readouts = self.readouts(frame, future)
        past = float(readouts["blend/past_weight"])
        weights: dict[str, Any] = {"past": past, "future": 1.0 - past}
        if "blend/profile" in readouts:
            weights["profile"] = readouts["blend/profile"].numpy()
        return weights

    def readouts(self, frame: pd.DataFrame | None = None, future: pd.DataFrame | None = None) -> dict[str, Tensor]:
        """The net's readouts (``blend/past_weight``, ``blend/profile``, ``attention/weights`` ...) of the forecast
        from the end of each series of ``frame`` (None: the training data), from one explicit forward pass. A model
        with future features reads them from ``future``; without it, from the last origin whose forecast steps are
        in the data."""
        series = self.prepare(frame)
        if self.future_features and future is None:  # the last window whose known future lies in the data
            origins = torch.tensor([[s, n - 1 - self.horizon] for s, n in enumerate(series.lengths)])
            windows = self.windows(series, origins)
        else:
            windows = self.windows(*self._ends(series, future))
        batch = windows.__getitems__(list(range(len(windows))))
        device = self.module.device
        x_future = batch["x_future"].to(device) if self.n_future else None
        with torch.inference_mode():
            _, readouts = self.module.net(batch["x"].to(device), x_future, return_readouts=True)
        return {name: value.cpu() for name, value in readouts.items()}

    def attention_weights(self, frame: pd.DataFrame | None = None, future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Attention over the look-back of the forecast from the end of each series of ``frame``.

        Returns columns ``lag`` -S .. -1 (-1: the last observed step, or segment with ``segment_length`` > 1),
        rows the decoder positions that query (``query``), under the series id for panels; each row sums to 1.
        """
        self.require_readout("attention")
        series = self.prepare(frame)
        weights = self.readouts(frame, future)["attention/weights"]
        weights = weights.reshape(len(series.values), -1, weights.shape[-1]).numpy()  # (S, P, L)
        index = pd.MultiIndex.from_product([series.series_ids, range(weights.shape[1])],
                                           names=[self.id_col or "series", "query"])
        table = pd.DataFrame(weights.reshape(-1, weights.shape[-1]), index=index,
                             columns=pd.RangeIndex(-weights.shape[-1], 0, name="lag"))
        return table if self.id_col is not None else table.droplevel(0)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, extras: dict[str, Any] | None = None) -> Path:
        """Write this predictor to directory ``path`` (see :mod:`tsbridge.persistence`)."""
        return persistence.save(path, self, extras or {})

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        """Read a predictor written by :meth:`save` (nothing is unpickled)."""
        return cls(**persistence.load(path).fields)


def _halves(origins: Tensor) -> tuple[Tensor, Tensor]:
    """``(series, row)`` origins cut in time per series: each series' earlier half (the larger, for an odd count)
    and its later half."""
    first, second = [], []
    for s in origins[:, 0].unique().tolist():
        mine = origins[origins[:, 0] == s]
        mine = mine[mine[:, 1].argsort()]
        if len(mine) < 2:
            raise ValueError(f"series {s} has {len(mine)} held-out window(s); choosing a rate needs at least 2 per "
                             "series (a larger validation part)")
        cut = (len(mine) + 1) // 2
        first.append(mine[:cut])
        second.append(mine[cut:])
    return torch.cat(first), torch.cat(second)


def _times(series: SeriesFrame, pairs: Tensor) -> np.ndarray:
    """The timestamps of ``(series, row)`` pairs as one comparable array (int64 nanoseconds for datetimes, which
    also orders series in different time zones)."""
    stamps = pd.Index([series.timestamps[s][row] for s, row in pairs.tolist()])
    return stamps.asi8 if isinstance(stamps, pd.DatetimeIndex) else stamps.to_numpy()


def _first_origin(start: Start, stamps: pd.Index) -> int:
    """Row position from which a series with timestamps ``stamps`` has origins, as ``start`` asks (see
    :meth:`Predictor.origins`).

    A tz-naive timestamp on tz-aware data is read as wall time in the data's zone, as pandas reads a naive string
    in ``.loc`` on such an index: the time a user types is the time printed in their frame. A tz-aware timestamp on
    tz-naive data is refused: the data do not say which zone their times are in.

    Raises:
        TypeError: a boolean ``start``.
        ValueError: a negative row position, a fraction outside [0, 1), a value that is not a timestamp, a
            timestamp on a numeric time axis, a tz-aware timestamp on tz-naive data, or a naive one that does not
            exist (or exists twice) in the data's zone.
    """
    if start is None:
        return 0
    if isinstance(start, (bool, np.bool_)):
        raise TypeError(f"start must be a timestamp, a row position or a fraction, got {start!r}")
    if isinstance(start, (int, np.integer)):
        if start < 0:
            raise ValueError(f"start={start} is a negative row position; rows count from 0 (the first row of each "
                             "series): for the last rows pass a fraction (start=0.8) or a timestamp")
        return int(start)
    if isinstance(start, (float, np.floating)):
        if not 0 <= start < 1:
            raise ValueError(f"a fractional start must lie in [0, 1), got {start}")
        return int(start * len(stamps))
    if not isinstance(stamps, pd.DatetimeIndex):
        raise ValueError(f"start={start!r}: the time axis holds {stamps.dtype} values, not timestamps; pass a row "
                         "position (int >= 0) or a fraction in [0, 1)")
    try:
        when = pd.Timestamp(start)
    except (ValueError, TypeError) as error:
        raise ValueError(f"start={start!r} is not a timestamp ({error}); pass one such as '2024-01-31 12:00', a row "
                         "position (int >= 0) or a fraction in [0, 1)") from None
    if pd.isna(when):
        raise ValueError(f"start={start!r} is not a timestamp (NaT); pass a timestamp, a row position or a fraction")
    if when.tz is None and stamps.tz is not None:
        try:
            when = when.tz_localize(stamps.tz)
        except ValueError as error:  # a wall time skipped or repeated by a daylight-saving change
            raise ValueError(f"start={start!r} is not a single time in the data's time zone {stamps.tz} ({error}); "
                             "pass a tz-aware timestamp") from None
    elif when.tz is not None and stamps.tz is None:
        raise ValueError(f"start={start!r} has a time zone ({when.tz}) but the data's timestamps are tz-naive; pass "
                         "a naive timestamp, or give the data's time column a time zone")
    return int(stamps.searchsorted(when, side="left"))


def interval_bounds(levels: tuple[float, ...]) -> dict[str, int]:
    """Long-table column -> position among the quantiles at ``levels_to_quantiles(levels)``: ``forecast`` (the
    median), ``forecast-lo-80``, ``forecast-hi-80`` ... (the names :meth:`Predictor.predict` gives a target's
    columns, NeuralForecast's); empty for points."""
    if not levels:
        return {}
    return {column: position for position, column in enumerate(quantile_columns("forecast", levels))}


def backtest_metrics(forecasts: pd.DataFrame, levels: tuple[float, ...] = ()) -> pd.DataFrame:
    """Per target: mse, mae, rmse, mape, smape of a :meth:`Predictor.forecast_table` (original units) and, with
    ``levels``, crps, coverage-<level> and width-<level> of its ``forecast-lo-``/``forecast-hi-`` columns."""
    bounds = interval_bounds(levels)
    ordered = sorted(bounds, key=bounds.get)
    rows = {}
    for name, group in forecasts.groupby("target", sort=False):
        metrics = original_unit_metrics()
        values = metrics(torch.tensor(group["forecast"].to_numpy()), torch.tensor(group["actual"].to_numpy()))
        rows[name] = {key: float(value) for key, value in values.items()}
        if levels:
            quantiles = group[ordered].to_numpy()  # (n, Q) in quantile order
            rows[name].update(interval_scores(group["actual"].to_numpy(), quantiles, levels))
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "target"
    return table
