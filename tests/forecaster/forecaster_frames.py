"""Small frames (hourly, daily, panel) and tiny Forecaster settings shared by the Forecaster tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tsbridge import Forecaster

LOOKBACK, HORIZON = 16, 4
# Tiny networks and a few batches: the tests check plumbing, not accuracy.
TINY_OPTIONS: dict[str, Any] = {
    "max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1, "batch_size": 16,
    "importance": False, "enable_model_summary": False, "accelerator": "cpu",
}
# Skip the sanity check and the CSV logger: less time and fewer files per fit.
QUIET: dict[str, Any] = {"trainer_kwargs": {"num_sanity_val_steps": 0}, "logger": False}


def wave(n_rows: int, phase: float = 0.0, level: float = 10.0) -> np.ndarray:
    """A daily-seasonal signal with trend and a little noise (deterministic)."""
    rows = np.arange(n_rows)
    noise = np.random.default_rng(int(phase * 100)).normal(0, 0.1, n_rows)
    return level + np.sin(2 * np.pi * rows / 24 + phase) + 0.01 * rows + noise


def hourly(n_rows: int = 160, start: str = "2024-01-01") -> pd.DataFrame:
    """Wide hourly frame: ``date``, target ``load`` and covariate ``temp``."""
    return pd.DataFrame({"date": pd.date_range(start, periods=n_rows, freq="h"), "load": wave(n_rows),
                         "temp": wave(n_rows, phase=1.0, level=0.0)})


def daily(n_rows: int = 120) -> pd.DataFrame:
    """Wide daily frame indexed by a DatetimeIndex (no time column), target ``sales``."""
    index = pd.date_range("2023-01-01", periods=n_rows, freq="D", name="day")
    return pd.DataFrame({"sales": wave(n_rows, phase=0.5, level=100.0)}, index=index)


def panel(lengths: tuple[int, ...] = (140, 120)) -> pd.DataFrame:
    """Long hourly frame of series ``a``, ``b``... that end at different times (``b`` ends earlier)."""
    parts = [pd.DataFrame({"store": name, "time": pd.date_range("2024-01-01", periods=n, freq="h"),
                           "demand": wave(n, phase=i, level=10.0 * (i + 1))})
             for i, (name, n) in enumerate(zip("abcdefgh", lengths))]
    return pd.concat(parts, ignore_index=True)


def tiny(model: str = "blend", **options: Any) -> Forecaster:
    """A Forecaster with tiny settings (hidden size 8 for the recurrent models)."""
    sizes = {} if model in ("dlinear", "naive", "seasonal_naive") else {"hidden_size": 8}
    return Forecaster(model, lookback=LOOKBACK, horizon=HORIZON, **{**TINY_OPTIONS, **sizes, **options})
