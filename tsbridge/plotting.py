"""Figures of forecasts against history and actuals.

Figures are bare :class:`matplotlib.figure.Figure` objects (no pyplot state, nothing to close): scripts call
``figure.savefig``, and in Jupyter a returned figure is drawn as a PNG (see :func:`show_figures_in_jupyter`, which
the plotting functions call, so importing this module changes nothing).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd
import torch
from matplotlib.figure import Figure

from tsbridge.data import SeriesFrame
from tsbridge.data.errors import DataValidationError
from tsbridge.metrics import format_level
from tsbridge.predictor import Predictor


def show_figures_in_jupyter() -> None:
    """Let a Jupyter kernel draw returned bare Figures (as tsbridge's plots are) when nothing else does.

    Matplotlib's inline backend registers its figure formatter only once pyplot has made a figure; until then
    Jupyter would print ``<Figure size ...>``. An existing registration (``%matplotlib inline``, a chosen
    ``InlineBackend.figure_formats``) is left as it is. Called by every function that returns a figure.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):  # not a Jupyter kernel (plain Python, terminal IPython)
        return
    formatters = shell.display_formatter.formatters
    for formatter in formatters.values():
        try:
            formatter.lookup_by_type(Figure)
            return
        except KeyError:
            continue
    formatters["image/png"].for_type(Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight"))


def plot_forecast(history: pd.DataFrame, forecast: pd.DataFrame, actuals: pd.DataFrame | None = None,
                  title: str | None = None, levels: Sequence[float] = ()) -> Figure:
    """One panel per target: the recent history, the forecast (with its intervals as bands) and, when known, the
    actual values.

    Args:
        history: rows up to the forecast origin, one column per target (time index).
        forecast: the forecast rows: one column per target and, per level, ``<target>-lo-<level>`` and
            ``<target>-hi-<level>`` (time index), as ``predict`` returns them.
        actuals: observed values over (part of) the forecast's span, or None.
        title: figure title.
        levels: interval levels drawn as bands (wider levels lighter).
    """
    show_figures_in_jupyter()
    targets = list(history.columns)
    figure = Figure(figsize=(9, 0.8 + 2.6 * len(targets)))
    axes = figure.subplots(len(targets), 1, sharex=True, squeeze=False)[:, 0]
    for axis, name in zip(axes, targets):
        axis.plot(history.index, history[name], color="tab:gray", label="history")
        if actuals is not None and len(actuals):
            axis.plot(actuals.index, actuals[name], color="black", label="actual")
        # Start the forecast line at the last observed value so the two read as one curve.
        joined = pd.concat([history[name].iloc[-1:], forecast[name]])
        axis.plot(joined.index, joined.to_numpy(), color="tab:blue", marker=".", markevery=range(1, len(joined)),
                  label="forecast" + (" (median)" if levels else ""))
        for rank, level in enumerate(sorted(levels, reverse=True)):
            lower, upper = (forecast[f"{name}-{side}-{format_level(level)}"] for side in ("lo", "hi"))
            axis.fill_between(forecast.index, lower.to_numpy(), upper.to_numpy(), color="tab:blue",
                              alpha=0.15 + 0.15 * rank, linewidth=0, label=f"{format_level(level)}% interval")
        axis.axvline(history.index[-1], color="grey", linewidth=0.8, linestyle=":")
        axis.set_ylabel(str(name))
        axis.legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel(str(forecast.index.name or "time"))
    figure.autofmt_xdate()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_series_forecast(predictor: Predictor, series: SeriesFrame, series_id: Hashable | None, origin: Any,
                         history: int | None, future: pd.DataFrame | None = None) -> Figure:
    """Forecast one series of ``series`` from ``origin`` (None: its end) and plot it with history and actuals.

    The forecast reads the ``lookback`` rows up to the last one at or before ``origin``; up to ``horizon`` rows
    after it are drawn as actuals. ``history`` rows are drawn before it (None: ``lookback``). A model with future
    features reads their values after ``origin`` from ``series`` when it holds them, else from ``future``.
    """
    if series_id is not None and series_id not in series.series_ids:
        raise DataValidationError(f"series {series_id!r} not in the data; ids are {series.series_ids[:10]}")
    position = 0 if series_id is None else series.series_ids.index(series_id)
    stamps = series.timestamps[position]
    values = series.values[position][:, : predictor.n_targets].double().numpy()
    if origin is not None and isinstance(stamps, pd.DatetimeIndex):
        origin = pd.Timestamp(origin)
    end = len(stamps) if origin is None else int(stamps.searchsorted(origin, side="right"))
    if predictor.n_future and end + predictor.horizon <= len(stamps):  # the known future is in the data
        forecast = predictor.forecast(predictor.windows(series, torch.tensor([[position, end - 1]])), series.series_ids)
        columns = [c for target in predictor.target_cols for c in predictor.interval_columns(target)]
        predicted = pd.DataFrame(forecast.values()[0].reshape(predictor.horizon, -1).numpy(),
                                 index=stamps[end : end + predictor.horizon], columns=columns)
    else:
        single = replace(series, values=[series.values[position][:end]], timestamps=[stamps[:end]],
                         series_ids=[series.series_ids[position]])
        predicted = predictor.forecast_frame(single, predictor.horizon, future)
        if predictor.id_col is not None:
            predicted = predicted.droplevel(0)
    shown, after = slice(max(0, end - (history or predictor.lookback)), end), slice(end, end + predictor.horizon)
    past = pd.DataFrame(values[shown], index=stamps[shown], columns=predictor.target_cols)
    actuals = pd.DataFrame(values[after], index=stamps[after], columns=predictor.target_cols)
    title = None if predictor.id_col is None else f"{predictor.id_col} = {series.series_ids[position]}"
    return plot_forecast(past, predicted, actuals, title, predictor.levels)


def plot_calibration(metrics: pd.DataFrame, levels: Sequence[float]) -> Figure:
    """Nominal against empirical coverage of the central intervals, one line per target (a calibrated model lies on
    the diagonal; below it, intervals are too narrow).

    Args:
        metrics: a backtest's metrics (one row per target) with ``coverage-<level>`` columns, and with
            ``raw_coverage-<level>`` ones for a calibrated model (drawn dashed: the network's own intervals).
        levels: the interval levels in percent.
    """
    show_figures_in_jupyter()
    figure = Figure(figsize=(4.5, 4.5))
    axis = figure.subplots()
    nominal = [level / 100 for level in sorted(levels)]
    axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":", label="calibrated")
    calibrated = f"raw_coverage-{format_level(levels[0])}" in metrics.columns
    for target, row in metrics.iterrows():
        empirical = [row[f"coverage-{format_level(level)}"] for level in sorted(levels)]
        line, = axis.plot(nominal, empirical, marker="o", label=f"{target}, calibrated" if calibrated else str(target))
        for x, y in zip(nominal, empirical):
            axis.annotate(f"{y:.2f}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=8)
        if calibrated:
            raw = [row[f"raw_coverage-{format_level(level)}"] for level in sorted(levels)]
            axis.plot(nominal, raw, marker="x", linestyle="--", color=line.get_color(), label=f"{target}, raw")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("nominal coverage (interval level)")
    axis.set_ylabel("empirical coverage")
    axis.set_title("Interval calibration")
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure


def plot_blend_history(history: list[dict[str, float]]) -> Figure:
    """Plot past (forward) and future (backward) blend weights against the training step."""
    show_figures_in_jupyter()
    steps = [row["step"] for row in history]
    figure = Figure(figsize=(7, 3.5))
    axis = figure.subplots()
    axis.plot(steps, [row["past_weight"] for row in history], label="past weight a (forward states)")
    axis.plot(steps, [row["future_weight"] for row in history], label="future weight 1 - a (backward states)")
    axis.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    axis.set_xlabel("training step")
    axis.set_ylabel("blend weight")
    axis.set_ylim(0, 1)
    axis.set_title("Learned past-versus-future blend weight")
    axis.legend(loc="best")
    figure.tight_layout()
    return figure
