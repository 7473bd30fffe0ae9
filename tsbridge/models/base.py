"""Shared wrapper for every forecasting net: shape checks, RevIN, channel independence, linear skip.

A subclass implements only :meth:`ForecastNet.core`, which maps an already normalised (and, with
channel independence, univariate) window to its forecast and the readouts of that very pass; with
channel independence it is also told which channel each of its univariate windows is (for channel
embeddings). The wrapper does the rest, so every net gets the same options with the same meaning
and the same errors.

Readouts (blend weights, gate profile, attention weights ...) are *returned* by the forward call
that produced them (``net(x, return_readouts=True)``); no module keeps "the last forward pass",
because Lightning runs validation and ablation passes between the ones a reader cares about.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from tsbridge.models._checks import ABLATIONS, check_bool, check_choice, check_positive_int
from tsbridge.models.revin import RevIN

#: Readouts of one forward pass, keyed by their logged names (``blend/past_weight`` ...).
Readouts = dict[str, Tensor]


def call_arguments(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every constructor argument of ``cls(*args, **kwargs)`` by name, defaults included.

    ``*args``/``**kwargs`` that a subclass passes on (``FeedbackLSTM(*args, passes, **kwargs)``) are
    followed up the class hierarchy to the ``__init__`` that names them.
    """
    named: dict[str, Any] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        signature = inspect.signature(klass.__init__)
        bound = signature.bind(None, *args, **kwargs)
        bound.apply_defaults()
        args, kwargs, passes_on = (), {}, False
        for name, value in list(bound.arguments.items())[1:]:  # [0] is self
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                args, passes_on = value, True
            elif kind is inspect.Parameter.VAR_KEYWORD:
                kwargs, passes_on = value, True
            else:
                named.setdefault(name, value)
        if not passes_on:
            break
    return named


class _RecordsConfig(type(nn.Module)):
    """Metaclass that stores, after construction, the config that rebuilds the net (:attr:`ForecastNet.config`)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        net = super().__call__(*args, **kwargs)
        net.config = {"_target_": f"tsbridge.models.{cls.__name__}", **call_arguments(cls, args, kwargs)}
        return net


class ForecastNet(nn.Module, metaclass=_RecordsConfig):
    """Base class of the tsbridge nets: ``forward(x (B, L, n_inputs)) -> (B, H, n_targets)``.

    The first ``n_targets`` input channels are the target channels (the data layer's batch
    contract), so the wrapper can read the targets' own history for the skip path and RevIN.

    Args:
        n_inputs: Input channels per step (targets first, then covariates).
        n_targets: Target channels forecast (``1 <= n_targets <= n_inputs``).
        lookback: Look-back window length L.
        horizon: Forecast horizon H.
        revin: Standardise each window per channel and undo it on the forecast (RevIN).
        revin_affine: With ``revin``, also learn a per-channel scale and shift.
        channel_independent: Apply one shared univariate model to each channel separately (the batch
            the core sees is B * C). Only valid when ``n_inputs == n_targets`` (settings S and M).
        linear_skip: Add a linear map from each target channel's look-back window to its horizon
            (shared over channels), so the recurrent core only has to learn the residual.

    Attributes:
        bidirectional: True for nets with a BiLSTM encoder, which accept ``ablate="past"|"future"``.
        config: ``{"_target_": "tsbridge.models.<Class>", **every constructor argument}``, set after
            construction: :func:`tsbridge.models.build_net` rebuilds an equal net from it, which is how
            checkpoints and saved forecasters store a net.
    """

    bidirectional: bool = False
    config: dict[str, Any]

    def __init__(
        self,
        n_inputs: int,
        n_targets: int,
        lookback: int,
        horizon: int,
        *,
        revin: bool = False,
        revin_affine: bool = False,
        channel_independent: bool = False,
        linear_skip: bool = False,
    ) -> None:
        super().__init__()
        self.n_inputs = check_positive_int("n_inputs", n_inputs)
        self.n_targets = check_positive_int("n_targets", n_targets)
        self.lookback = check_positive_int("lookback", lookback)
        self.horizon = check_positive_int("horizon", horizon)
        if n_targets > n_inputs:
            raise ValueError(
                f"n_targets ({n_targets}) must not exceed n_inputs ({n_inputs}): "
                "the targets are the first input channels"
            )
        self.channel_independent = check_bool("channel_independent", channel_independent)
        if channel_independent and n_inputs != n_targets:
            raise ValueError(
                "channel_independent=True needs n_inputs == n_targets (settings S and M): with "
                f"covariates (n_inputs={n_inputs}, n_targets={n_targets}) a univariate model "
                "per channel would have nothing to forecast for them"
            )
        check_bool("revin", revin)
        check_bool("revin_affine", revin_affine)
        check_bool("linear_skip", linear_skip)
        if revin_affine and not revin:
            raise ValueError("revin_affine=True needs revin=True")
        # What the core sees: one channel per sample with channel independence.
        self.core_inputs = 1 if channel_independent else n_inputs
        self.core_targets = 1 if channel_independent else n_targets
        self.revin = RevIN(n_inputs, affine=revin_affine) if revin else None
        self.skip = nn.Linear(lookback, horizon) if linear_skip else None

    @property
    def blend(self) -> nn.Module | None:
        """The net's BlendBridge, or None."""
        return None

    @property
    def attention(self) -> nn.Module | None:
        """The net's AttentionBridge, or None."""
        return None

    def blend_parameters(self) -> list[nn.Parameter]:
        """The blend logit(s), for their own optimizer param group (empty without a blend)."""
        return [] if self.blend is None else self.blend.blend_parameters()

    def core(self, x: Tensor, ablate: str | None, channel_ids: Tensor | None = None) -> tuple[Tensor, Readouts]:
        """Forecast from a prepared window: (B', L, core_inputs) -> (B', H, core_targets), readouts.

        ``channel_ids`` (B',) gives, with channel independence, the channel of each univariate
        window (sample ``b * C + c`` is channel ``c``); None without.
        """
        raise NotImplementedError

    def forward(
        self, x: Tensor, ablate: str | None = None, *, return_readouts: bool = False
    ) -> Tensor | tuple[Tensor, Readouts]:
        """Forecast the next ``horizon`` steps of the target channels.

        Args:
            x: Look-back window (B, L, n_inputs), targets first.
            ablate: None, or for bidirectional nets ``"past"``/``"future"`` to replace the
                forward or backward encoder states by their batch-and-time mean (importance).
            return_readouts: Also return this pass's readouts (detached): ``blend/past_weight``
                (mean past weight a), ``blend/past_weight_values`` (one a, one per unit, or the
                batch-mean gate per step and unit), ``blend/profile`` (gated: mean a per look-back
                position), ``blend/past_share`` (the forward side's share of the blended norm),
                ``attention/weights`` (B, P, L) and ``attention/entropy``; with channel
                independence, samples are the B * C channel windows. Recurrent nets with
                ``segment_length`` w > 1 run over S = L / w segments, so every per-position
                readout is per segment: ``blend/profile`` (S,), the gated ``past_weight_values``
                (S * N,), ``attention/weights`` (B, P, S) with P = 1 (``last``), S (``flatten``)
                or one query per output segment (``pmf``).

        Returns:
            Forecast (B, H, n_targets) in the units of ``x``, and the readouts when asked.
        """
        # B: batch, L: look-back, H: horizon, C: input channels, T: target channels
        self._check_input(x)
        check_choice("ablate", ablate, ABLATIONS if self.bidirectional else (None,))
        batch = x.shape[0]
        stats = channel_ids = None
        if self.revin is not None:
            x, stats = self.revin.normalize(x)
        if self.channel_independent:
            x = x.transpose(1, 2).reshape(batch * self.n_inputs, self.lookback, 1)  # (B*C, L, 1)
            channel_ids = torch.arange(self.n_inputs, device=x.device).repeat(batch)  # (B*C,): c of sample b*C + c
        y, readouts = self.core(x, ablate, channel_ids)  # (B', H, T')
        if self.skip is not None:
            history = x[..., : self.core_targets].transpose(1, 2)  # (B', T', L)
            y = y + self.skip(history).transpose(1, 2)  # (B', H, T')
        if self.channel_independent:
            y = y.reshape(batch, self.n_targets, self.horizon).transpose(1, 2)  # (B, H, T)
        if stats is not None:
            y = self.revin.denormalize(y, stats)
        # Transposes above leave y strided; metrics and callers may .view() it.
        y = y.contiguous()
        if not return_readouts:
            return y
        return y, {name: value.detach() for name, value in readouts.items()}

    def _check_input(self, x: Tensor) -> None:
        expected = ("B", self.lookback, self.n_inputs)
        if x.dim() != 3 or x.shape[1] != self.lookback or x.shape[2] != self.n_inputs:
            raise ValueError(
                f"{type(self).__name__} expects x of shape (B, L, n_inputs) = {expected}, "
                f"got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"x must be a floating point tensor, got {x.dtype}")
