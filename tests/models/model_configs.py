"""Tiny configs of every model name, shared by the model tests (real defaults: conf/model/)."""

from typing import Any

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
    "dlinear": {"_target_": "tsbridge.models.DLinear", "kernel_size": 5},
    "naive": {"_target_": "tsbridge.models.Naive"},
    "seasonal_naive": {"_target_": "tsbridge.models.SeasonalNaive", "season_length": 6},
}
