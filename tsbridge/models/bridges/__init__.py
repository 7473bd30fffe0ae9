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
    granularity: str | None = None,
    normalize_states: bool = False,
    init_past_weight: float | None = None,
    score: str | None = None,
) -> Bridge:
    """Build the bridge named ``bridge``, refusing options that belong to another bridge.

    Args:
        bridge: One of :data:`BRIDGES`.
        hidden_size: Units per encoder direction.
        granularity: ``blend`` only (required there): one of :data:`GRANULARITIES`.
        normalize_states: ``blend`` only: layer-normalise both directions before blending.
        init_past_weight: ``blend`` only: initial past weight in (0, 1) (None: 0.5).
        score: ``attention`` only (required there): one of :data:`SCORES`.
    """
    check_choice("bridge", bridge, BRIDGES)
    blend_options = {
        "granularity": granularity is not None,
        "normalize_states": bool(normalize_states),
        "init_past_weight": init_past_weight is not None,
    }
    misplaced = [name for name, given in blend_options.items() if given and bridge != "blend"]
    if score is not None and bridge != "attention":
        misplaced.append("score")
    if misplaced:
        raise ValueError(f"{', '.join(misplaced)} do(es) not apply to bridge={bridge!r}")
    if bridge == "blend":
        if granularity is None:
            raise ValueError(f"bridge='blend' needs granularity, one of {list(GRANULARITIES)}")
        return BlendBridge(hidden_size, granularity, normalize_states, init_past_weight)
    if bridge == "attention":
        if score is None:
            raise ValueError(f"bridge='attention' needs score, one of {list(SCORES)}")
        return AttentionBridge(hidden_size, score)
    return ConcatBridge(hidden_size)
