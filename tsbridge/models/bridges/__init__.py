"""Bridges from the BiLSTM encoder to the second LSTM, one small module each."""

from tsbridge.models._checks import check_choice
from tsbridge.models.bridges.attention import SCORES, AttentionBridge
from tsbridge.models.bridges.base import Bridge
from tsbridge.models.bridges.blend import GRANULARITIES, BlendBridge
from tsbridge.models.bridges.concat import ConcatBridge

#: Bridge names accepted by ``BridgedLSTM(bridge=...)``.
BRIDGES = ("concat", "blend", "attention")

__all__ = [
    "BRIDGES",
    "GRANULARITIES",
    "SCORES",
    "AttentionBridge",
    "BlendBridge",
    "Bridge",
    "ConcatBridge",
    "build_bridge",
]


def build_bridge(
    bridge: str,
    hidden_size: int,
    *,
    granularity: str = "scalar",
    normalize_states: bool = True,
    init_past_weight: float | None = None,
    learn_past_weight: bool = True,
    score: str = "dot",
) -> Bridge:
    """Build the bridge named ``bridge``; an option of another bridge set away from its default is an error.

    The defaults are those of the bridges' own signatures, so a net built with only ``bridge=`` gets
    each bridge's defaults, and a value that could only matter to another bridge is refused instead
    of silently ignored.

    Args:
        bridge: One of :data:`BRIDGES`.
        hidden_size: Units per encoder direction.
        granularity: ``blend`` only: one of :data:`GRANULARITIES`.
        normalize_states: ``blend`` only: layer-normalise both directions before blending.
        init_past_weight: ``blend`` only: initial past weight in (0, 1) (None: 0.5).
        learn_past_weight: ``blend`` only: False fixes the past weight at ``init_past_weight``, the control
            that tells whether a learned weight says more than its start.
        score: ``attention`` only: one of :data:`SCORES`.
    """
    check_choice("bridge", bridge, BRIDGES)
    blend_options = {"granularity": granularity != "scalar", "normalize_states": normalize_states is not True,
                     "init_past_weight": init_past_weight is not None,
                     "learn_past_weight": learn_past_weight is not True}
    misplaced = [name for name, changed in blend_options.items() if changed and bridge != "blend"]
    if score != "dot" and bridge != "attention":
        misplaced.append("score")
    if misplaced:
        raise ValueError(f"{', '.join(misplaced)} do(es) not apply to bridge={bridge!r}")
    if bridge == "blend":
        return BlendBridge(hidden_size, granularity, normalize_states, init_past_weight, learn_past_weight)
    if bridge == "attention":
        return AttentionBridge(hidden_size, score)
    return ConcatBridge(hidden_size)
