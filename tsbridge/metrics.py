"""Forecast metrics built on torchmetrics, in scaled and original units."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.regression import (
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    SymmetricMeanAbsolutePercentageError,
)


class MeanAbsoluteScaledError(Metric):
    """MASE with a per-window scale: forecast MAE over the in-window one-step naive MAE.

    Each window is scaled by the mean absolute one-step change of its own look-back (target channels),
    so the metric is comparable across series of different scales and needs no access to training rows
    outside the window. A value below 1 means the forecast beats a one-step naive forecast made inside
    the window. Being a ratio, it is the same in scaled and original units.
    """

    full_state_update = False

    def __init__(self, eps: float = 1e-8, **kwargs) -> None:
        super().__init__(**kwargs)
        self.eps = eps
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, history: Tensor) -> None:
        """Add a batch.

        Args:
            preds: (B, H, C) forecasts.
            target: (B, H, C) actual values.
            history: (B, L, C) look-back values of the same channels.
        """
        naive_mae = (history[:, 1:] - history[:, :-1]).abs().mean(dim=(1, 2))  # (B,)
        forecast_mae = (preds - target).abs().mean(dim=(1, 2))  # (B,)
        self.total += (forecast_mae / (naive_mae + self.eps)).double().sum()
        self.count += preds.shape[0]

    def compute(self) -> Tensor:
        return (self.total / self.count.clamp(min=1)).float()


def scalar_values(metrics: Mapping[str, Tensor]) -> dict[str, float]:
    """The one-element entries of logged metrics (e.g. ``trainer.callback_metrics``) as floats, sorted by name."""
    return {name: float(value) for name, value in sorted(metrics.items()) if value.numel() == 1}


def scaled_metrics() -> MetricCollection:
    """Metrics on the scaled values, as the long-term forecasting literature reports them."""
    return MetricCollection(
        {"mse": MeanSquaredError(), "mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False)}
    )


def original_unit_metrics() -> MetricCollection:
    """Metrics on inverse-scaled values; percentage errors only make sense here."""
    return MetricCollection(
        {
            "mse": MeanSquaredError(),
            "mae": MeanAbsoluteError(),
            "rmse": MeanSquaredError(squared=False),
            "mape": MeanAbsolutePercentageError(),
            "smape": SymmetricMeanAbsolutePercentageError(),
        }
    )
