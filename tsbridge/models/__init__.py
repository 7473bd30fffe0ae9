"""Pure ``torch.nn`` forecasting nets: bridged BiLSTMs, SegRNN, and the baselines they are compared with.

Every net maps a look-back window ``x`` (B, L, n_inputs), target channels first, to a forecast
(B, H, n_targets) in the same units, and is built as ``Cls(n_inputs, n_targets, lookback, horizon,
**options)`` (the defaults are the ones ``conf/model/`` mirrors), by name with :func:`build_model`, or
from a Hydra ``model/`` config with :func:`build_net`. Every recurrent net also reads its window in
segments (``segment_length``, :mod:`tsbridge.models.segments`), can decode the horizon in parallel
output segments (``head="pmf"``, :mod:`tsbridge.models.pmf`), as SegRNN does, and takes its recurrent
``cell`` (LSTM or GRU) and window ``norm`` (RevIN, its robust median/MAD form, last value or none) as options.
"""

from tsbridge.models.base import ForecastNet, Readouts
from tsbridge.models.bridged import BridgedLSTM
from tsbridge.models.bridges import AttentionBridge, BlendBridge, ConcatBridge
from tsbridge.models.encoder import BidirectionalEncoder
from tsbridge.models.ensemble import MemberEnsemble
from tsbridge.models.feedback import FeedbackLSTM
from tsbridge.models.head import ForecastHead
from tsbridge.models.linear import DLinear
from tsbridge.models.naive import Naive, SeasonalNaive
from tsbridge.models.pmf import ParallelDecoder
from tsbridge.models.recurrent import BiLSTMForecaster, LSTMForecaster
from tsbridge.models.registry import (
    MODEL_NAMES,
    MODELS,
    NET_CLASSES,
    ModelSpec,
    build_model,
    build_net,
    check_model_name,
    model_name,
)
from tsbridge.models.revin import RevIN
from tsbridge.models.segments import SegmentEmbedding
from tsbridge.models.segrnn import BridgedSegRNN, SegRNN
from tsbridge.models.window_norm import LastValueNorm, RobustNorm

__all__ = [
    "MODELS",
    "MODEL_NAMES",
    "NET_CLASSES",
    "ModelSpec",
    "Readouts",
    "AttentionBridge",
    "BiLSTMForecaster",
    "BidirectionalEncoder",
    "BlendBridge",
    "BridgedLSTM",
    "BridgedSegRNN",
    "ConcatBridge",
    "DLinear",
    "FeedbackLSTM",
    "ForecastHead",
    "ForecastNet",
    "LSTMForecaster",
    "LastValueNorm",
    "MemberEnsemble",
    "Naive",
    "ParallelDecoder",
    "RevIN",
    "RobustNorm",
    "SeasonalNaive",
    "SegRNN",
    "SegmentEmbedding",
    "build_model",
    "build_net",
    "check_model_name",
    "model_name",
]
