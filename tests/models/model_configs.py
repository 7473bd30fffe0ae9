"""Tiny configs of every model name, shared by the model tests (real defaults: conf/model/)."""

from typing import Any

from tsbridge.models import MODEL_NAMES, MODELS

LOOKBACK, HORIZON, HIDDEN = 16, 4, 8

_BRIDGED = {"_target_": "tsbridge.models.BridgedLSTM", "hidden_size": HIDDEN, "head": "last"}
_BLEND = {**_BRIDGED, "bridge": "blend", "normalize_states": True}

#: One tiny config per Hydra model name (the real defaults live in conf/model/).
TINY_CONFIGS: dict[str, dict[str, Any]] = {
    "concat": {**_BRIDGED, "bridge": "concat", "dropout": 0.1},
    "blend": {**_BLEND, "granularity": "scalar"},
    "blend_unit": {**_BLEND, "granularity": "unit", "init_past_weight": 0.6},
    "blend_gated": {**_BLEND, "granularity": "gated", "head": "flatten"},
    "attention": {**_BRIDGED, "bridge": "attention", "score": "dot"},
    "feedback": {
        **_BLEND,
        "_target_": "tsbridge.models.FeedbackLSTM",
        "granularity": "scalar",
        "passes": 1,
    },
    "lstm": {"_target_": "tsbridge.models.LSTMForecaster", "hidden_size": HIDDEN, "head": "last"},
    "bilstm": {
        "_target_": "tsbridge.models.BiLSTMForecaster",
        "hidden_size": HIDDEN,
        "head": "last",
        "num_layers": 2,
        "dropout": 0.1,
    },
    # SegRNN's defaults otherwise (GRU, last-value norm, PMF); channel independence is a variant, as for the others.
    "segrnn": {"_target_": "tsbridge.models.SegRNN", "hidden_size": HIDDEN, "segment_length": 4,
               "channel_independent": False},
    "segrnn_blend": {"_target_": "tsbridge.models.BridgedSegRNN", "hidden_size": HIDDEN, "segment_length": 4,
                     "channel_independent": False, "granularity": "unit"},
    "dlinear": {"_target_": "tsbridge.models.DLinear", "kernel_size": 5},
    "naive": {"_target_": "tsbridge.models.Naive"},
    "seasonal_naive": {"_target_": "tsbridge.models.SeasonalNaive", "season_length": 6},
}

#: Options every recurrent net must also pass the contract with: LOOKBACK read as 4 segments of 4,
#: parallel decoding of HORIZON in output segments of 3 (the last one trimmed), with and without
#: channel embeddings, and each recurrent cell and window norm (SegRNN's GRU and last-value norm, the
#: median/MAD norm, and an LSTM without any norm, which SegRNN does not have by default).
SEGMENT_VARIANTS: dict[str, dict[str, Any]] = {
    "segments": {"segment_length": 4},
    "pmf": {"segment_length": 4, "head": "pmf", "output_segment_length": 3},
    "pmf_channels": {"segment_length": 2, "head": "pmf", "channel_independent": True},
    "gru_last": {"cell": "gru", "norm": "last"},
    "robust": {"norm": "robust"},
    "lstm_none_pmf": {"cell": "lstm", "norm": "none", "segment_length": 4, "head": "pmf"},
}

#: (model name, variant or None): every name as configured, plus every recurrent one in each variant.
CONTRACT_CASES: list[tuple[str, str | None]] = [(name, None) for name in MODEL_NAMES] + [
    (name, variant) for name in MODEL_NAMES if MODELS[name].recurrent for variant in SEGMENT_VARIANTS
]


def case_id(case: tuple[str, str | None]) -> str:
    """Test id of a contract case: ``blend`` or ``blend-pmf``."""
    name, variant = case
    return name if variant is None else f"{name}-{variant}"
