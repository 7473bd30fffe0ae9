"""Forecast new frames with a fitted :class:`~tsbridge.module.ForecastModule`: one batched pass over lazily
indexed windows, for the next ``horizon`` steps or for every origin of a backtest.

:class:`FittedData` holds what forecasting needs from the training data (columns, fitted scaler, frequency,
recent rows), so it works the same right after ``fit`` and after ``Forecaster.load``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from pandas.tseries.frequencies import to_offset
from torch import Tensor
from torch.utils.data import DataLoader

from tsbridge.data import SeriesFrame, StandardScaler, WindowDataset, collate_windows, prepare_series
from tsbridge.data.errors import DataValidationError
from tsbridge.metrics import original_unit_metrics
from tsbridge.module import ForecastModule

if TYPE_CHECKING:
    from tsbridge.data import WindowDataModule

#: Where a backtest starts: a timestamp, a row position, a fraction of each series, or None (earliest).
Start = pd.Timestamp | str | int | float | None


class Backtest(NamedTuple):
    """Result of ``Forecaster.backtest``: one row per (origin, step, target), and metrics per target."""

    forecasts: pd.DataFrame
    metrics: pd.DataFrame


class FrequencyError(DataValidationError):
    """The time axis has no inferable frequency, or a new frame's differs from the training one."""


def resolve_freq(series: SeriesFrame, freq: str | None) -> str | None:
    """The frequency to forecast with: ``freq`` if given (checked), else the one inferred from ``series``.

    Raises:
        FrequencyError: datetime stamps without an inferable frequency and no ``freq``.
    """
    if freq is not None:
        try:
            return to_offset(freq).freqstr
        except ValueError as error:
            raise FrequencyError(f"freq={freq!r} is not a pandas frequency: {error}") from None
    stamps = series.timestamps[0]
    if series.freq is None and isinstance(stamps, pd.DatetimeIndex):
        raise FrequencyError(
            f"cannot infer the frequency of series {series.series_ids[0]!r} (irregular or too few timestamps, "
            f"e.g. {list(stamps[:3])}); pass freq= (such as 'h' or 'D') or regularise the frame (DataFrame.asfreq)"
        )
    return series.freq


@dataclass
class FittedData:
    """The training data's columns, scaler, frequency and rows, as forecasting needs them.

    Attributes:
        target_cols, input_cols: channel names, targets first (the batch contract).
        time_col, id_col, fill: how frames are read (see :func:`tsbridge.data.prepare_series`).
        lookback, horizon: the window lengths the net was trained with.
        freq: pandas offset alias of the time axis; None for integer time axes.
        scaler: the scaler fitted on the training rows, or None.
        history: the training series in original units (after loading: their last ``lookback`` rows).
        batch_size: windows per forward pass.
    """

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

    @classmethod
    def from_datamodule(cls, datamodule: WindowDataModule, freq: str | None) -> FittedData:
        """What a fitted data module (after ``setup``) leaves for forecasting, at frequency ``freq``."""
        return cls(
            target_cols=datamodule.target_cols, input_cols=datamodule.input_cols, time_col=datamodule.time_col,
            id_col=datamodule.id_col, fill=datamodule.fill, lookback=datamodule.lookback,
            horizon=datamodule.horizon, freq=freq, scaler=datamodule.scaler,
            history=replace(datamodule.series, freq=freq), batch_size=datamodule.eval_batch_size,
        )

    @property
    def n_targets(self) -> int:
        return len(self.target_cols)

    @property
    def time_name(self) -> Hashable:
        return self.time_col or self.history.timestamps[0].name

    def prepare(self, frame: pd.DataFrame) -> SeriesFrame:
        """Validate ``frame`` against the training columns; original units, training frequency.

        Raises:
            DataValidationError: missing columns, non-numeric values, unsorted time ... (naming what is wrong).
            FrequencyError: the frame's inferred frequency differs from the training one.
        """
        series = prepare_series(
            frame, target_cols=self.target_cols, feature_cols=self.input_cols[self.n_targets :],
            time_col=self.time_col, id_col=self.id_col, fill=self.fill,
        )
        if series.freq is not None and self.freq is not None and to_offset(series.freq) != to_offset(self.freq):
            raise FrequencyError(f"the frame has frequency {series.freq!r} but the model was trained on {self.freq!r}")
        return replace(series, freq=self.freq)

    def _scaled(self, series: SeriesFrame) -> dict[str, Any]:
        """Scaled values and per-series target statistics ``(n_series, 1, n_targets)``."""
        if self.scaler is None:
            return {"values": series.values}
        values = [self.scaler.transform(v, sid) for v, sid in zip(series.values, series.series_ids)]
        loc, scale = self.scaler.target_stats(series.series_ids, self.n_targets)
        return {"values": values, "loc": loc, "scale": scale}

    def last_windows(self, series: SeriesFrame) -> WindowDataset:
        """One window per series: its last ``lookback`` rows (SeriesTooShortError if it has fewer)."""
        return WindowDataset.last_windows(
            **self._scaled(series), lookback=self.lookback, horizon=self.horizon, n_targets=self.n_targets,
            series_ids=series.series_ids,
        )

    def windows(self, series: SeriesFrame, index: Tensor) -> WindowDataset:
        """Windows at ``(series, start)`` pairs ``index`` (int64 ``(N, 2)``), without targets."""
        return WindowDataset(**self._scaled(series), index=index, lookback=self.lookback, horizon=self.horizon,
                             n_targets=self.n_targets, with_target=False)


def forecast(module: ForecastModule, dataset: WindowDataset, batch_size: int) -> Tensor:
    """Forecasts ``(N, H, n_targets)`` in original units for every window of ``dataset``, in order."""
    module.eval()
    outputs = []
    with torch.inference_mode():
        for i, batch in enumerate(DataLoader(dataset, batch_size=batch_size, collate_fn=collate_windows)):
            batch = {key: value.to(module.device) for key, value in batch.items()}
            outputs.append(module.predict_step(batch, i)["forecast"].cpu())
    return torch.cat(outputs)


def _framed(data: FittedData, series_ids: list[Hashable], parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One frame per series -> a time index (one series) or an (id, time) MultiIndex (panels)."""
    if data.id_col is None:
        frame = parts[0]
        frame.index.name = data.time_name
        return frame
    return pd.concat(parts, keys=series_ids, names=[data.id_col, data.time_name])


def predict_frame(module: ForecastModule, data: FittedData, series: SeriesFrame, horizon: int) -> pd.DataFrame:
    """The ``horizon`` steps after the end of each series of ``series``, in original units."""
    values = forecast(module, data.last_windows(series), data.batch_size)[:, :horizon].double().numpy()
    parts = [pd.DataFrame(values[i], index=series.future_index(i, horizon), columns=data.target_cols)
             for i in range(len(series.values))]
    return _framed(data, series.series_ids, parts)


def attention_frame(module: ForecastModule, data: FittedData, series: SeriesFrame) -> pd.DataFrame:
    """Attention weights over the look-back of the forecast from the end of each series.

    Returns columns ``lag`` -L .. -1 (-1: the last observed step), rows the decoder positions that query
    (``query``), under the series id for panels; each row sums to 1.
    """
    windows = data.last_windows(series)
    forecast(module, windows, batch_size=len(windows))  # one batch, so last_weights covers every series
    weights = module.net.attention.last_weights.reshape(len(windows), -1, data.lookback).cpu().numpy()  # (S, P, L)
    index = pd.MultiIndex.from_product([series.series_ids, range(weights.shape[1])],
                                       names=[data.id_col or "series", "query"])
    frame = pd.DataFrame(weights.reshape(-1, data.lookback), index=index,
                         columns=pd.RangeIndex(-data.lookback, 0, name="lag"))
    return frame if data.id_col is not None else frame.droplevel(0)


def _first_origin(start: Start, stamps: pd.Index) -> int:
    if start is None:
        return 0
    if isinstance(start, (bool, np.bool_)):
        raise TypeError(f"start must be a timestamp, a row position or a fraction, got {start!r}")
    if isinstance(start, (int, np.integer)):
        return int(start)
    if isinstance(start, (float, np.floating)):
        if not 0 <= start < 1:
            raise ValueError(f"a fractional start must lie in [0, 1), got {start}")
        return int(start * len(stamps))
    return int(stamps.searchsorted(pd.Timestamp(start), side="left"))


def backtest_origins(series: SeriesFrame, lookback: int, horizon: int, start: Start, stride: int) -> Tensor:
    """``(series, origin row)`` pairs: every ``stride``-th origin from ``start`` with a full look-back and horizon.

    The origin is the last row a forecast may read; it forecasts rows ``origin + 1 .. origin + horizon``.
    """
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be an integer >= 1, got {stride!r}")
    pairs = []
    for s, stamps in enumerate(series.timestamps):
        first = max(_first_origin(start, stamps), lookback - 1)
        origins = torch.arange(first, max(first, len(stamps) - horizon), stride, dtype=torch.int64)
        pairs.append(torch.stack([torch.full_like(origins, s), origins], dim=1))
    index = torch.cat(pairs)
    if len(index) == 0:
        raise ValueError(
            f"no backtest origin from start={start!r}: an origin needs lookback={lookback} rows up to it and "
            f"horizon={horizon} rows after it (series lengths {series.lengths[:5]})"
        )
    return index


def backtest_frame(module: ForecastModule, data: FittedData, series: SeriesFrame, origins: Tensor) -> pd.DataFrame:
    """Long frame of forecasts and actuals at ``origins`` (from :func:`backtest_origins`), one batched pass.

    Columns: [id_col], ``origin``, ``timestamp``, ``step`` (1..H), ``target``, ``actual``, ``forecast``.
    """
    window_starts = origins.clone()
    window_starts[:, 1] += 1 - data.lookback
    forecasts = forecast(module, data.windows(series, window_starts), data.batch_size).double().numpy()
    horizon, steps = data.horizon, np.arange(1, data.horizon + 1)
    parts = []
    for s in origins[:, 0].unique().tolist():
        rows = (origins[:, 0] == s).numpy()
        cut = origins[rows, 1].numpy()  # (k,)
        future = cut[:, None] + steps  # (k, H) rows forecast from each origin
        actual = series.values[s][:, : data.n_targets].double().numpy()[future]  # (k, H, T)
        stamps = series.timestamps[s]
        columns = {
            "origin": stamps[cut].repeat(horizon),
            "timestamp": stamps[future.ravel()],
            "step": np.tile(steps, len(cut)),
        }
        for t, name in enumerate(data.target_cols):
            part = pd.DataFrame({**columns, "target": name, "actual": actual[..., t].ravel(),
                                 "forecast": forecasts[rows][..., t].ravel()})
            if data.id_col is not None:
                part.insert(0, data.id_col, series.series_ids[s])
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def retrained_backtest(fit_until: Callable[[pd.DataFrame], tuple[ForecastModule, FittedData]], frame: pd.DataFrame,
                       time_col: str | None, series: SeriesFrame, origins: Tensor) -> pd.DataFrame:
    """:func:`backtest_frame` with a model refitted, by ``fit_until(rows)``, on the rows up to each origin time.

    ``series`` is ``frame`` prepared; origins sharing a time (panels) share one refit.
    """
    times = [series.timestamps[s][c] for s, c in origins.tolist()]
    raw_times = pd.Index(frame.index if time_col is None else frame[time_col])
    if isinstance(series.timestamps[0], pd.DatetimeIndex):
        raw_times = pd.to_datetime(raw_times)
    parts = []
    for cutoff in sorted(set(times)):
        module, data = fit_until(frame[raw_times <= cutoff])
        chosen = origins[torch.tensor([t == cutoff for t in times])]
        parts.append(backtest_frame(module, data, data.prepare(frame), chosen))
    return pd.concat(parts, ignore_index=True)


def backtest_metrics(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Per target: mse, mae, rmse, mape, smape of a :func:`backtest_frame` (the module's original-unit metrics)."""
    rows = {}
    for name, group in forecasts.groupby("target", sort=False):
        metrics = original_unit_metrics()
        values = metrics(torch.tensor(group["forecast"].to_numpy()), torch.tensor(group["actual"].to_numpy()))
        rows[name] = {key: float(value) for key, value in values.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "target"
    return table
