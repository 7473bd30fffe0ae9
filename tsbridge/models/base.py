"""Shared wrapper for every forecasting net: shape checks, RevIN, channel independence, linear skip.

A subclass implements only :meth:`ForecastNet.core`, which maps an already normalised (and, with
channel independence, univariate) window to its forecast. The wrapper does the rest, so every net
gets the same options with the same meaning and the same errors.
"""

from torch import Tensor, nn

from tsbridge.models._checks import ABLATIONS, check_bool, check_choice, check_positive_int
from tsbridge.models.revin import RevIN


class ForecastNet(nn.Module):
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
    """

    bidirectional: bool = False

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

    def core(self, x: Tensor, ablate: str | None) -> Tensor:
        """Forecast from a prepared window: (B', L, core_inputs) -> (B', H, core_targets)."""
        raise NotImplementedError

    def forward(self, x: Tensor, ablate: str | None = None) -> Tensor:
        """Forecast the next ``horizon`` steps of the target channels.

        Args:
            x: Look-back window (B, L, n_inputs), targets first.
            ablate: None, or for bidirectional nets ``"past"``/``"future"`` to replace the
                forward or backward encoder states by their batch-and-time mean (importance).

        Returns:
            Forecast (B, H, n_targets) in the units of ``x``.
        """
        # B: batch, L: look-back, H: horizon, C: input channels, T: target channels
        self._check_input(x)
        check_choice("ablate", ablate, ABLATIONS if self.bidirectional else (None,))
        batch = x.shape[0]
        stats = None
        if self.revin is not None:
            x, stats = self.revin.normalize(x)
        if self.channel_independent:
            x = x.transpose(1, 2).reshape(batch * self.n_inputs, self.lookback, 1)  # (B*C, L, 1)
        y = self.core(x, ablate)  # (B', H, T')
        if self.skip is not None:
            history = x[..., : self.core_targets].transpose(1, 2)  # (B', T', L)
            y = y + self.skip(history).transpose(1, 2)  # (B', H, T')
        if self.channel_independent:
            y = y.reshape(batch, self.n_targets, self.horizon).transpose(1, 2)  # (B, H, T)
        if stats is not None:
            y = self.revin.denormalize(y, stats)
        # Transposes above leave y strided; metrics and callers may .view() it.
        return y.contiguous()

    def _check_input(self, x: Tensor) -> None:
        expected = ("B", self.lookback, self.n_inputs)
        if x.dim() != 3 or x.shape[1] != self.lookback or x.shape[2] != self.n_inputs:
            raise ValueError(
                f"{type(self).__name__} expects x of shape (B, L, n_inputs) = {expected}, "
                f"got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"x must be a floating point tensor, got {x.dtype}")
