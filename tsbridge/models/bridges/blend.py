"""Blend bridge: ``a * h_fwd_t + (1 - a) * h_bwd_t`` with a learned past weight ``a`` in (0, 1)."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsbridge.models._checks import check_bool, check_choice
from tsbridge.models.bridges.base import Bridge

#: ``scalar``: one weight; ``unit``: one per hidden unit; ``gated``: ``a_t = sigmoid(W [h_fwd_t;
#: h_bwd_t] + b)`` per step and unit, depending on the input.
GRANULARITIES = ("scalar", "unit", "gated")


class BlendBridge(Bridge):
    """Convex blend of the forward ("past") and backward ("future") states, readable as a weight.

    ``a = sigmoid(logit)`` is a real ``nn.Parameter`` created here, once, so it is trained and
    saved like any weight. A weight alone can mislead when one direction's states are larger than
    the other's (the net can rescale either to compensate, and a stays near 0.5), so
    ``normalize_states`` layer-normalises both directions (no affine) before blending, and
    :meth:`last_past_share` reports the norm share each side actually contributes.

    Args:
        hidden_size: Units N per encoder direction.
        granularity: One of :data:`GRANULARITIES`.
        normalize_states: Layer norm without affine on both directions before blending.
        init_past_weight: Initial a in (0, 1); None starts at 0.5 (no preference). For ``gated``
            it sets the gate bias and the gate weights start at zero, so a starts there everywhere.
    """

    def __init__(
        self,
        hidden_size: int,
        granularity: str,
        normalize_states: bool = False,
        init_past_weight: float | None = None,
    ) -> None:
        super().__init__(hidden_size, hidden_size, hidden_size)
        self.granularity = check_choice("granularity", granularity, GRANULARITIES)
        self.normalize_states = check_bool("normalize_states", normalize_states)
        init = 0.5 if init_past_weight is None else init_past_weight
        if isinstance(init, bool) or not isinstance(init, (int, float)) or not 0.0 < init < 1.0:
            raise ValueError(f"init_past_weight must be in (0, 1), got {init_past_weight!r}")
        init_logit = math.log(init / (1.0 - init))
        self.gate: nn.Linear | None = None
        if granularity == "gated":
            self.gate = nn.Linear(2 * hidden_size, hidden_size)
            nn.init.zeros_(self.gate.weight)
            nn.init.constant_(self.gate.bias, init_logit)
            self.logit = self.gate.bias  # the input-independent part of the gate's logit
        else:
            shape = (1,) if granularity == "scalar" else (hidden_size,)
            self.logit = nn.Parameter(torch.full(shape, init_logit))
        # Detached statistics of the last forward, a few small tensors (see the readout methods).
        self._last_gate_mean: Tensor | None = None  # (L, N), gated only
        self._last_share: Tensor | None = None

    def blend_parameters(self) -> list[nn.Parameter]:
        """The blend logit (for ``gated``: the gate bias), for its own optimizer param group."""
        return [self.logit]

    def forward(self, h_fwd: Tensor, h_bwd: Tensor) -> Tensor:
        """(B, L, N) twice -> blended (B, L, N)."""
        # B: batch, L: look-back, N: hidden units
        if self.normalize_states:
            h_fwd = F.layer_norm(h_fwd, h_fwd.shape[-1:])
            h_bwd = F.layer_norm(h_bwd, h_bwd.shape[-1:])
        if self.gate is None:
            a = torch.sigmoid(self.logit)  # (1,) or (N,), broadcast over (B, L, N)
        else:
            a = torch.sigmoid(self.gate(torch.cat([h_fwd, h_bwd], dim=-1)))  # (B, L, N)
        past, future = a * h_fwd, (1.0 - a) * h_bwd
        with torch.no_grad():
            past_norm, future_norm = past.norm(), future.norm()
            self._last_share = past_norm / (past_norm + future_norm).clamp_min(1e-12)
            if self.gate is not None:
                self._last_gate_mean = a.mean(dim=0)  # (L, N)
        return past + future

    def past_weight(self) -> Tensor:
        """Scalar mean a (for ``gated``: over the last forward's batch, steps and units)."""
        return self.past_weight_values().mean()

    def past_weight_values(self) -> Tensor:
        """1-D past weights: one (scalar), per unit, or per step and unit of the last forward's
        batch-mean gate (``gated``; before any forward, the gate at zero input)."""
        if self._last_gate_mean is not None:
            return self._last_gate_mean.flatten()  # (L*N,)
        return torch.sigmoid(self.logit.detach()).flatten()

    def past_profile(self) -> Tensor | None:
        """Mean a per look-back position (L,) of the last forward; ``gated`` only, else None."""
        return None if self._last_gate_mean is None else self._last_gate_mean.mean(dim=-1)

    def last_past_share(self) -> Tensor:
        """``||a h_fwd|| / (||a h_fwd|| + ||(1-a) h_bwd||)`` of the last forward (NaN before)."""
        return torch.tensor(float("nan")) if self._last_share is None else self._last_share
