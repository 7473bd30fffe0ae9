"""Shared wrapper for every forecasting net: shape checks, window normalisation, channel independence, linear skip.

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
from tsbridge.models.probabilistic import DISTRIBUTION_LOSSES, ForecastOutput, PointOutput, build_output
from tsbridge.models.window_norm import build_window_norm, resolve_norm

#: ``distribution`` values: the output family of a net forecasting intervals (see ``levels``).
DISTRIBUTIONS = ("quantile", *DISTRIBUTION_LOSSES)

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
        # A subclass passes its own named arguments to super() explicitly: what arrives here may be partial.
        bound = signature.bind_partial(None, *args, **kwargs)
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
    contract), so the wrapper can read the targets' own history for the skip path and the window norm; the last
    ``n_future`` channels are known in the future too, and ``forward`` then also takes their values over
    the horizon. With ``levels`` the net forecasts intervals: ``forward`` returns the parameters of
    :attr:`output` (quantiles or a distribution) per step and target, (B, H, n_targets, n_params).

    Args:
        n_inputs: Input channels per step (targets first, then covariates).
        n_targets: Target channels forecast (``1 <= n_targets <= n_inputs``).
        lookback: Look-back window length L.
        horizon: Forecast horizon H.
        n_future: Known-future channels: the last ``n_future`` input channels (future features and calendar
            features), whose values over the horizon ``forward`` reads as ``x_future``.
        levels: Central interval levels in percent (e.g. ``[80, 90]``); None forecasts points.
        distribution: With ``levels``: ``"quantile"`` (the quantiles the levels imply plus the median),
            ``"normal"`` or ``"student_t"`` (see :mod:`tsbridge.models.probabilistic`).
        norm: How each window is normalised before the net reads it, and undone on the forecast (one of
            :data:`~tsbridge.models.window_norm.NORMS`): ``"revin"`` standardises it per channel (RevIN),
            ``"robust"`` does so with the median and the median absolute deviation (spiky series), ``"last"``
            subtracts each channel's last value (SegRNN), ``"none"`` reads the data's units.
        revin: The older flag for ``norm``, kept as an alias: True is ``norm="revin"``, False turns
            ``norm="revin"`` into ``"none"``; None (the default) leaves ``norm`` as it is.
        revin_affine: With ``norm="revin"``, also learn a per-channel scale and shift.
        channel_independent: Apply one shared univariate model to each channel separately (the batch
            the core sees is B * C). Only valid when ``n_inputs == n_targets`` (settings S and M).
        linear_skip: Add a linear map from each target channel's look-back window to its horizon
            (shared over channels), so the recurrent core only has to learn the residual. It starts at
            zero, so an untrained skip adds nothing: PyTorch's default initialisation made it add a random
            forecast about as large as the (normalised) series, which early stopping kept unlearned.

    Attributes:
        bidirectional: True for nets with a BiLSTM encoder, which accept ``ablate="past"|"future"``.
        config: ``{"_target_": "tsbridge.models.<Class>", **every constructor argument}``, set after
            construction: :func:`tsbridge.models.build_net` rebuilds an equal net from it, which is how
            checkpoints and saved forecasters store a net.
    """

    bidirectional: bool = False
    #: Whether the net reads ``x_future`` (the parameter-free and univariate baselines do not).
    reads_future: bool = True
    #: Whether the net can learn interval forecasts (``levels``); parameter-free baselines cannot.
    learns_intervals: bool = True
    config: dict[str, Any]

    def __init__(
        self,
        n_inputs: int,
        n_targets: int,
        lookback: int,
        horizon: int,
        *,
        n_future: int = 0,
        levels: list[float] | None = None,
        distribution: str = "quantile",
        norm: str = "none",
        revin: bool | None = None,
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
                "per channel would have nothing to forecast for them; forecast the targets alone "
                "(data.features=S, or M for all channels) or read the channels together (channel_independent=false)"
            )
        if isinstance(n_future, bool) or not isinstance(n_future, int) or not 0 <= n_future <= n_inputs - n_targets:
            raise ValueError(f"n_future must be an integer from 0 to n_inputs - n_targets = {n_inputs - n_targets} "
                             f"(the known-future channels are covariates, after the targets), got {n_future!r}")
        if n_future and not self.reads_future:
            raise ValueError(f"{type(self).__name__} does not read known-future inputs (n_future={n_future}); use a "
                             "recurrent model (a bridge, feedback, lstm or bilstm)")
        self.n_future = n_future
        check_choice("distribution", distribution, DISTRIBUTIONS)
        if levels and not self.learns_intervals:
            raise ValueError(f"{type(self).__name__} has no parameters to learn intervals (levels={levels}); use a "
                             "learned model, or intervals from its residuals (benchmarks/intervals.py does)")
        #: Turns the core's raw values into forecasts: a point, quantiles or a distribution's parameters.
        self.output: ForecastOutput = build_output(distribution if levels else None, levels or None)
        self.probabilistic = not isinstance(self.output, PointOutput)
        check_bool("linear_skip", linear_skip)
        # What the core sees: one channel per sample with channel independence; it returns n_params values per
        # forecast element (one for a point).
        self.core_inputs = 1 if channel_independent else n_inputs
        self.core_targets = 1 if channel_independent else n_targets
        self.core_outputs = self.core_targets * self.output.n_params
        #: RevIN, RobustNorm, LastValueNorm or None: the normalisation of ``norm`` (:mod:`tsbridge.models.window_norm`).
        self.window_norm = build_window_norm(resolve_norm(norm, revin), n_inputs, revin_affine)
        self.skip = None
        if linear_skip:
            self.skip = nn.Linear(lookback, horizon)
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

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

    def core(self, x: Tensor, ablate: str | None, channel_ids: Tensor | None = None,
             x_future: Tensor | None = None) -> tuple[Tensor, Readouts]:
        """Forecast from a prepared window: (B', L, core_inputs) -> raw values (B', H, core_outputs), readouts.

        ``channel_ids`` (B',) gives, with channel independence, the channel of each univariate
        window (sample ``b * C + c`` is channel ``c``); None without. ``x_future`` (B', H, n_future)
        holds the (normalised) known-future inputs over the horizon, or None.
        """
        raise NotImplementedError

    def forward(
        self, x: Tensor, x_future: Tensor | None = None, *, ablate: str | None = None, return_readouts: bool = False
    ) -> Tensor | tuple[Tensor, Readouts]:
        """Forecast the next ``horizon`` steps of the target channels.

        Args:
            x: Look-back window (B, L, n_inputs), targets first, known-future channels last.
            x_future: The known-future channels' values over the horizon (B, H, n_future); required when
                ``n_future`` > 0, else None. Rows of the window's future that are not known are never read.
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
            Forecast (B, H, n_targets) in the units of ``x`` or, with ``levels``, the output's parameters
            (B, H, n_targets, n_params) in those units; and the readouts when asked.
        """
        # B: batch, L: look-back, H: horizon, C: input channels, T: target channels, P: parameters per value
        self._check_input(x, x_future)
        check_choice("ablate", ablate, ABLATIONS if self.bidirectional else (None,))
        batch = x.shape[0]
        stats = channel_ids = None
        if self.window_norm is not None:
            # RevIN standardises known-future channels over look-back and future together (see RevIN.normalize).
            x, stats = self.window_norm.normalize(x, x_future)
            if x_future is not None:
                x_future = self.window_norm.normalize_future(x_future, stats)
        if self.channel_independent:
            x = x.transpose(1, 2).reshape(batch * self.n_inputs, self.lookback, 1)  # (B*C, L, 1)
            channel_ids = torch.arange(self.n_inputs, device=x.device).repeat(batch)  # (B*C,): c of sample b*C + c
        raw, readouts = self.core(x, ablate, channel_ids, x_future)  # (B', H, T'*P)
        params = self.output.project(raw.view(raw.shape[0], self.horizon, self.core_targets, -1))  # (B', H, T', P)
        if self.skip is not None:
            history = x[..., : self.core_targets].transpose(1, 2)  # (B', T', L)
            params = self.output.shift(params, self.skip(history).transpose(1, 2))  # skip: (B', H, T')
        if self.channel_independent:
            params = params.reshape(batch, self.n_targets, self.horizon, -1).transpose(1, 2)  # (B, H, T, P)
        if stats is not None:
            params = self.output.denormalize(params, *self.window_norm.target_map(stats, self.n_targets))
        # Transposes above leave the result strided; metrics and callers may .view() it.
        y = (params if self.probabilistic else params[..., 0]).contiguous()
        if not return_readouts:
            return y
        return y, {name: value.detach() for name, value in readouts.items()}

    def _check_input(self, x: Tensor, x_future: Tensor | None) -> None:
        expected = ("B", self.lookback, self.n_inputs)
        if x.dim() != 3 or x.shape[1] != self.lookback or x.shape[2] != self.n_inputs:
            raise ValueError(
                f"{type(self).__name__} expects x of shape (B, L, n_inputs) = {expected}, "
                f"got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"x must be a floating point tensor, got {x.dtype}")
        if not self.n_future:
            if x_future is not None:
                raise ValueError(f"{type(self).__name__} was built without known-future inputs (n_future=0) but got "
                                 "x_future; build it with n_future=... to read them")
            return
        expected_future = (x.shape[0], self.horizon, self.n_future)
        if x_future is None or tuple(x_future.shape) != expected_future:
            got = None if x_future is None else tuple(x_future.shape)
            raise ValueError(f"{type(self).__name__} reads the known future: x_future of shape (B, H, n_future) = "
                             f"{expected_future}, got {got}")
