"""Blend bridge: ``a * h_fwd_t + (1 - a) * h_bwd_t`` with a learned past weight ``a`` in (0, 1)."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tsbridge.models._checks import check_bool, check_choice
from tsbridge.models.bridges.base import Bridge, BridgeReadouts

#: ``scalar``: one weight; ``unit``: one per hidden unit; ``gated``: ``a_t = sigmoid(W [h_fwd_t;
#: h_bwd_t] + b)`` per step and unit, depending on the input.
GRANULARITIES = ("scalar", "unit", "gated")


class BlendBridge(Bridge):
    """Convex blend of the forward ("past") and backward ("future") states, readable as a weight.

    ``a = sigmoid(logit)`` is a real ``nn.Parameter`` created here, once, so it is trained and
    saved like any weight. A weight alone can mislead when one direction's states are larger than
    the other's (the net can rescale either to compensate, and a stays near 0.5), so
    ``normalize_states`` layer-normalises both directions (no affine) before blending, and the
    ``blend/past_share`` readout reports the norm share each side actually contributes.

    Args:
        hidden_size: Units N per encoder direction.
        granularity: One of :data:`GRANULARITIES`.
        normalize_states: Layer norm without affine on both directions before blending.
        init_past_weight: Initial a in (0, 1); None starts at 0.5 (no preference). For ``gated``
            it sets the gate bias and the gate weights start at zero, so a starts there everywhere.
        learn_past_weight: False fixes a at ``init_past_weight`` (then anywhere in [0, 1]; None: 0.5) for
            ablations: a control with a = 1 reads the forward states only, with a = 0.5 an even blend.
            ``scalar`` and ``unit`` only (a gate is learned by definition).
    """

    def __init__(
        self,
        hidden_size: int,
        granularity: str = "scalar",
        normalize_states: bool = True,
        init_past_weight: float | None = None,
        learn_past_weight: bool = True,
    ) -> None:
        super().__init__(hidden_size, hidden_size, hidden_size)
        self.granularity = check_choice("granularity", granularity, GRANULARITIES)
        self.normalize_states = check_bool("normalize_states", normalize_states)
        self.learn_past_weight = check_bool("learn_past_weight", learn_past_weight)
        init = 0.5 if init_past_weight is None else init_past_weight
        number = isinstance(init, (int, float)) and not isinstance(init, bool)
        # A learned weight is sigmoid(logit): 0 and 1 are out of its reach.
        if not number or not (0.0 < init < 1.0 if learn_past_weight else 0.0 <= init <= 1.0):
            interval = "(0, 1)" if learn_past_weight else "[0, 1]"
            raise ValueError(f"init_past_weight must be in {interval}, got {init_past_weight!r}")
        self.gate: nn.Linear | None = None
        shape = (1,) if granularity == "scalar" else (hidden_size,)
        if not learn_past_weight and granularity == "gated":
            raise ValueError("learn_past_weight=False fixes one weight; granularity='gated' learns a gate")
        # The fixed a of learn_past_weight=False, or None: a buffer, so a saved model keeps it.
        self.register_buffer("fixed_weight", None if learn_past_weight else torch.full(shape, float(init)))
        if not learn_past_weight:
            return
        init_logit = math.log(init / (1.0 - init))
        if granularity == "gated":
            self.gate = nn.Linear(2 * hidden_size, hidden_size)
            nn.init.zeros_(self.gate.weight)
            nn.init.constant_(self.gate.bias, init_logit)
            self.logit = self.gate.bias  # the input-independent part of the gate's logit
        else:
            self.logit = nn.Parameter(torch.full(shape, init_logit))

    def blend_parameters(self) -> list[nn.Parameter]:
        """The blend logit (for ``gated``: the gate bias), for its own optimizer param group; none when fixed."""
        return [] if self.fixed_weight is not None else [self.logit]

    def forward(self, h_fwd: Tensor, h_bwd: Tensor) -> tuple[Tensor, BridgeReadouts]:
        """(B, L, N) twice -> blended (B, L, N) and this call's readouts (detached).

        Readouts: ``blend/past_weight`` (mean a), ``blend/past_weight_values`` (1-D: one a, one per
        unit, or for ``gated`` the batch-mean a per step and unit, (L*N,)), ``blend/profile``
        (``gated`` only: batch-mean a per position, (L,)) and ``blend/past_share``.
        """
        # B: batch, L: look-back, N: hidden units
        if self.normalize_states:
            h_fwd = F.layer_norm(h_fwd, h_fwd.shape[-1:])
            h_bwd = F.layer_norm(h_bwd, h_bwd.shape[-1:])
        if self.fixed_weight is not None:
            a = self.fixed_weight  # (1,) or (N,), broadcast over (B, L, N)
        elif self.gate is None:
            a = torch.sigmoid(self.logit)  # (1,) or (N,), broadcast over (B, L, N)
        else:
            a = torch.sigmoid(self.gate(torch.cat([h_fwd, h_bwd], dim=-1)))  # (B, L, N)
        past, future = a * h_fwd, (1.0 - a) * h_bwd
        return past + future, self._readouts(a.detach(), past.detach(), future.detach())

    def _readouts(self, a: Tensor, past: Tensor, future: Tensor) -> BridgeReadouts:
        past_norm, future_norm = past.norm(), future.norm()
        values = a if self.gate is None else a.mean(dim=0)  # (1,), (N,) or (L, N)
        readouts = {
            "blend/past_weight": values.mean(),
            "blend/past_weight_values": values.flatten(),
            "blend/past_share": past_norm / (past_norm + future_norm).clamp_min(1e-12),
        }
        if self.gate is not None:
            readouts["blend/profile"] = values.mean(dim=-1)  # (L,)
        return readouts
