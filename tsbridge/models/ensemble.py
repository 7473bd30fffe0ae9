"""Several copies of one net, each with its own weights, forecasting as one: a seed ensemble trained in one fit.

N-BEATS' forecasts are the median of 180 nets and the M4 winners averaged several; averaging a few nets that differ
only by their random start is the cheapest accuracy a forecaster can buy, and it smooths the quantiles of interval
models. :class:`MemberEnsemble` holds the members side by side so that one fit trains them all:
:class:`~tsbridge.module.ForecastModule` (``members=K``) gives each member its own loss on the same batches (each
learns as it would alone), early stopping and the checkpoint watch the ensemble's validation loss, and everything
downstream (intervals, conformal calibration, backtests, save/load) sees one net whose forecast is the members' mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from tsbridge.models.base import Readouts

#: The attributes a net's users read (the module, the Predictor's readouts), answered by the first member: the
#: members are copies of one configuration, so these agree.
_SHARED = ("config", "lookback", "horizon", "n_inputs", "n_targets", "n_future", "bidirectional", "output",
           "probabilistic", "blend", "attention")


class MemberEnsemble(nn.Module):
    """Nets of one configuration whose forecast is the mean of theirs.

    The mean is taken over the members' outputs: point forecasts, the quantiles of a quantile head (quantile
    averaging, which keeps them ordered), or a distribution head's parameters (its mean location and scale, not
    the mixture). Readouts are averaged the same way, so a blend's ``blend/past_weight`` is the members' mean
    past weight.

    Args:
        members: two or more nets of the same class and ``config`` (built one after another, so each starts from
            its own random weights).

    Attributes:
        members: the nets, as an ``nn.ModuleList`` (their weights are ``members.<k>.*`` in a state dict).
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        first = members[0]
        if any(type(m) is not type(first) or getattr(m, "config", None) != getattr(first, "config", None)
               for m in members[1:]):
            raise ValueError("ensemble members must be nets of one class and one config")
        self.members = nn.ModuleList(members)

    def __getattr__(self, name: str) -> Any:
        if name in _SHARED:
            return getattr(self.members[0], name)
        return super().__getattr__(name)  # parameters, buffers and submodules (``members``)

    def blend_parameters(self) -> list[nn.Parameter]:
        """Every member's blend logit(s), for their own optimizer param group."""
        return [p for member in self.members for p in member.blend_parameters()]

    def member_forecasts(self, x: Tensor, x_future: Tensor | None = None, *, ablate: str | None = None,
                         return_readouts: bool = False) -> list[Any]:
        """Each member's own output of ``forward`` (with its readouts when asked), in member order."""
        return [member(x, x_future, ablate=ablate, return_readouts=return_readouts) for member in self.members]

    def forward(self, x: Tensor, x_future: Tensor | None = None, *, ablate: str | None = None,
                return_readouts: bool = False) -> Tensor | tuple[Tensor, Readouts]:
        """The members' mean forecast (see the net's ``forward``: same arguments, shapes and readouts)."""
        outputs = self.member_forecasts(x, x_future, ablate=ablate, return_readouts=return_readouts)
        if not return_readouts:
            return torch.stack(outputs).mean(dim=0)
        forecasts, readouts = zip(*outputs)
        return torch.stack(forecasts).mean(dim=0), mean_readouts(readouts)


def mean_readouts(readouts: Sequence[Readouts]) -> Readouts:
    """The element-wise mean of several passes' readouts (the keys of the first; every member has the same)."""
    return {name: torch.stack([r[name] for r in readouts]).mean(dim=0) for name in readouts[0]}
