"""Pure ``torch.nn`` forecasting nets: bridged BiLSTMs and the baselines they are compared with.

Every net maps a look-back window ``x`` (B, L, n_inputs), target channels first, to a forecast
(B, H, n_targets) in the same units, and is built as ``Cls(n_inputs=, n_targets=, lookback=,
horizon=, **options)``, usually through :func:`build_net` from a Hydra ``model/`` config.
"""

from tsbridge.models.base import ForecastNet
from tsbridge.models.bridged import BridgedLSTM
from tsbridge.models.bridges import AttentionBridge, BlendBridge, ConcatBridge
from tsbridge.models.encoder import BiLSTMEncoder
from tsbridge.models.feedback import FeedbackLSTM
from tsbridge.models.head import ForecastHead
from tsbridge.models.linear import DLinear
from tsbridge.models.naive import Naive, SeasonalNaive
from tsbridge.models.recurrent import BiLSTMForecaster, LSTMForecaster
from tsbridge.models.registry import MODEL_NAMES, build_net
from tsbridge.models.revin import RevIN

#: The net classes :func:`build_net` may construct.
NET_CLASSES: tuple[str, ...] = (
    "BridgedLSTM",
    "FeedbackLSTM",
    "LSTMForecaster",
    "BiLSTMForecaster",
    "DLinear",
    "Naive",
    "SeasonalNaive",
)

__all__ = [
    "MODEL_NAMES",
    "NET_CLASSES",
    "AttentionBridge",
    "BiLSTMEncoder",
    "BiLSTMForecaster",
    "BlendBridge",
    "BridgedLSTM",
    "ConcatBridge",
    "DLinear",
    "FeedbackLSTM",
    "ForecastHead",
    "ForecastNet",
    "LSTMForecaster",
    "Naive",
    "RevIN",
    "SeasonalNaive",
    "build_net",
]
