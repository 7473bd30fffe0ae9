"""The built-in synthetic dataset: an hourly energy-market-like system with drivers and a lagged response.

Drivers (``temperature``, ``load``, ``wind``, ``solar``) carry daily, weekly and yearly seasonality and
persistent noise; the ``target`` responds to the drivers with lags of 1-24 hours, drifts with a trend and jumps
between regimes that change its level and its sensitivity to load. Forecasting it well needs the drivers' recent
past, the seasonal pattern and some robustness to regime changes, so it is not trivial.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_ROWS = 2 * 365 * 24
DRIVER_COLS = ("temperature", "load", "wind", "solar")
TARGET_COL = "target"
TIME_COL = "date"
ID_COL = "series_id"
_START = "2020-01-06"  # a Monday, so weekly patterns line up with calendar weeks
_MEAN_REGIME_HOURS = 45 * 24


def _ar1(rng: np.random.Generator, phi: np.ndarray, sigma: np.ndarray, n_rows: int) -> np.ndarray:
    """AR(1) noise ``e[t] = phi e[t-1] + sigma w[t]``, one process per row of ``phi``/``sigma`` (k, 1)."""
    shocks = rng.standard_normal((n_rows, len(phi))) * sigma[:, 0]
    out = np.empty_like(shocks)
    out[0] = shocks[0] / np.sqrt(1 - phi[:, 0] ** 2)  # start in the stationary distribution
    for t in range(1, n_rows):  # vectorised over processes; ~20 ms for two years hourly
        out[t] = phi[:, 0] * out[t - 1] + shocks[t]
    return out.T


def _lag(values: np.ndarray, hours: int) -> np.ndarray:
    """Shift right by ``hours`` along the last axis, repeating the first value (no look-ahead)."""
    hours = min(hours, values.shape[-1])  # a series shorter than the lag is all first value
    return np.concatenate([np.repeat(values[..., :1], hours, axis=-1), values[..., :-hours]], axis=-1)


def _regimes(rng: np.random.Generator, n_series: int, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-constant level shift and load sensitivity, switching at random change points."""
    level = np.empty((n_series, n_rows))
    gain = np.empty((n_series, n_rows))
    for s in range(n_series):
        t = 0
        while t < n_rows:
            length = int(rng.exponential(_MEAN_REGIME_HOURS)) + 24
            level[s, t : t + length] = rng.normal(0.0, 6.0)
            gain[s, t : t + length] = rng.uniform(0.5, 1.5)
            t += length
    return level, gain


def make_synthetic(n_rows: int = DEFAULT_ROWS, n_series: int = 1, seed: int = 0) -> pd.DataFrame:
    """Generate the synthetic dataset.

    Args:
        n_rows: hourly rows per series.
        n_series: number of series; more than one gives a long/panel frame with a ``series_id`` column
            (``"s0"``, ``"s1"``, ...), each series with its own amplitudes, regimes and noise.
        seed: the same seed always gives the same frame.

    Returns:
        Columns ``[series_id,] date, temperature, load, wind, solar, target``; ``date`` hourly from 2020-01-06.
    """
    if n_rows < 2 or n_series < 1:
        raise ValueError(f"need n_rows >= 2 and n_series >= 1, got n_rows={n_rows}, n_series={n_series}")
    rng = np.random.default_rng(seed)
    dates = pd.date_range(_START, periods=n_rows, freq="h")
    hour = dates.hour.to_numpy()
    weekend = (dates.day_of_week.to_numpy() >= 5).astype(float)
    day = 2 * np.pi * hour / 24
    year = 2 * np.pi * np.arange(n_rows) / (365.25 * 24)

    def per_series(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, (n_series, 1))

    phi = np.repeat([[0.98], [0.9], [0.995], [0.8], [0.85]], n_series, axis=0)
    sigma = np.repeat([[0.3], [2.0], [0.25], [0.1], [1.2]], n_series, axis=0)
    temp_noise, load_noise, wind_noise, cloud_noise, target_noise = np.split(
        _ar1(rng, phi, sigma, n_rows), 5
    )  # each (n_series, n_rows)

    temperature = 12 - 9 * np.cos(year) * per_series(0.7, 1.3) + 4 * np.sin(day - 2 * np.pi * 9 / 24) + temp_noise
    daily_load = np.sin(day - 2 * np.pi * 8 / 24) + 0.5 * np.sin(2 * (day - 2 * np.pi * 7 / 24))
    load = (
        per_series(80, 120)
        + 15 * per_series(0.7, 1.3) * daily_load
        - 12 * weekend
        + 0.8 * np.abs(temperature - 18)
        + load_noise
    )
    wind = np.log1p(np.exp(4 + 2.5 * wind_noise))  # positive, bursty
    cloud = 1 / (1 + np.exp(-3 * cloud_noise))
    solar = np.clip(np.sin(day - np.pi / 2), 0, None) * (0.8 + 0.2 * np.cos(year - np.pi)) * (1 - 0.7 * cloud) * 10
    level, gain = _regimes(rng, n_series, n_rows)
    trend = per_series(-3, 3) * np.arange(n_rows) / 8760
    target = (
        20
        + level
        + trend
        + 0.5 * gain * (_lag(load, 3) - 100)
        - 1.2 * _lag(wind, 6)
        - 0.6 * _lag(solar, 1)
        + 0.3 * _lag(temperature, 24)
        + 3 * np.sin(day - 2 * np.pi * 18 / 24)
        + target_noise
    )
    columns = dict(zip(DRIVER_COLS, (temperature, load, wind, solar)), **{TARGET_COL: target})
    frame = pd.DataFrame({TIME_COL: np.tile(dates, n_series)})
    for name, values in columns.items():
        frame[name] = values.reshape(-1).round(4)
    if n_series > 1:
        frame.insert(0, ID_COL, np.repeat([f"s{s}" for s in range(n_series)], n_rows))
    return frame
