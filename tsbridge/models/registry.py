"""The one list of model names, and safe construction of nets from plain configs.

Every place that names models (the Hydra ``model/`` group, the Forecaster, ``metrics.json``, reports and
benchmark rows) reads :data:`MODELS`; a test checks that ``conf/model/<name>.yaml`` exists for each name and
builds the net this registry describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """What a model name means.

    Attributes:
        net_class: The class exported by :mod:`tsbridge.models` that implements it.
        options: Constructor options that make this variant (every other option keeps the class default).
        recurrent: A recurrent net: it takes ``hidden_size``, ``dropout``, ``cell``, ``norm``,
            ``channel_independent`` and the other recurrent options.
        blend: Has a blend bridge, so it reads out a learned past weight.
        summary: One line for help texts.
    """

    net_class: str
    options: Mapping[str, Any] = field(default_factory=dict)
    recurrent: bool = True
    blend: bool = False
    summary: str = ""


#: Model name -> spec, in the order help texts list them. The Hydra ``model/`` names.
MODELS: dict[str, ModelSpec] = {
    "concat": ModelSpec("BridgedLSTM", {"bridge": "concat"}, summary="[h_fwd_t ; h_bwd_t] feeds the second LSTM"),
    "blend": ModelSpec("BridgedLSTM", {"bridge": "blend", "granularity": "scalar"}, blend=True,
                       summary="a * h_fwd_t + (1 - a) * h_bwd_t with one learned weight a"),
    "blend_unit": ModelSpec("BridgedLSTM", {"bridge": "blend", "granularity": "unit"}, blend=True,
                            summary="blend with one learned weight per hidden unit"),
    "blend_gated": ModelSpec("BridgedLSTM", {"bridge": "blend", "granularity": "gated"}, blend=True,
                             summary="blend with an input-gated weight a_t"),
    "attention": ModelSpec("BridgedLSTM", {"bridge": "attention"},
                           summary="the second LSTM's states attend over all BiLSTM outputs"),
    "feedback": ModelSpec("FeedbackLSTM", blend=True,
                          summary="an earlier LSTM re-reads the bridged bidirectional state of the first pass"),
    "segrnn": ModelSpec("SegRNN", summary="SegRNN (Lin et al. 2023): a GRU over segments, parallel decoding"),
    "segrnn_blend": ModelSpec("BridgedSegRNN", blend=True,
                              summary="SegRNN decoding from a * h_fwd(last segment) + (1 - a) * h_bwd(first)"),
    "lstm": ModelSpec("LSTMForecaster", summary="baseline: unidirectional LSTM + head"),
    "bilstm": ModelSpec("BiLSTMForecaster", summary="baseline: BiLSTM + head, no bridge"),
    "dlinear": ModelSpec("DLinear", recurrent=False, summary="baseline: DLinear (Zeng et al., 2023)"),
    "naive": ModelSpec("Naive", recurrent=False, summary="baseline: last value"),
    "seasonal_naive": ModelSpec("SeasonalNaive", recurrent=False, summary="baseline: value one season ago"),
}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
#: The net classes :func:`build_net` may construct.
NET_CLASSES: tuple[str, ...] = tuple(dict.fromkeys(spec.net_class for spec in MODELS.values()))

# Hydra bookkeeping keys that carry no constructor argument and change nothing here.
_IGNORED_KEYS = frozenset({"_recursive_", "_convert_"})


def check_model_name(name: Any) -> str:
    """Return ``name`` if it is a model name, else raise ``ValueError`` listing them."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    return name


def model_name(net: nn.Module) -> str:
    """The model name of a built net: the one spec whose class and variant options it has.

    A tsbridge net always has one (``model=blend model.granularity=gated`` builds, and is named,
    ``blend_gated``); any other module is named by its class.
    """
    config = getattr(net, "config", None) or {}
    class_name = type(net).__name__
    for name, spec in MODELS.items():
        if spec.net_class == class_name and all(config.get(k) == v for k, v in spec.options.items()):
            return name
    return class_name


def net_class(class_name: str) -> type[nn.Module]:
    """The class ``tsbridge.models.<class_name>`` (imported here: this module is imported by that package)."""
    from tsbridge import models

    return getattr(models, class_name)


def build_model(name: str, n_inputs: int, n_targets: int, lookback: int, horizon: int, **options: Any) -> nn.Module:
    """The net a model name stands for, with the class defaults (those ``conf/model/<name>.yaml`` mirrors).

    Example: ``build_model("blend_gated", n_inputs=1, n_targets=1, lookback=48, horizon=12)``.
    """
    spec = MODELS[check_model_name(name)]
    return net_class(spec.net_class)(n_inputs, n_targets, lookback, horizon, **{**spec.options, **options})


def net_target_class(target: Any) -> type[nn.Module]:
    """The class a net config's ``_target_`` names, if it is one of :data:`NET_CLASSES` (by
    ``tsbridge.models.<Class>`` or its defining module's path); else ``ValueError`` listing the allowed ones."""
    if not isinstance(target, str):
        raise ValueError(f"model config needs a _target_ string, got {target!r}")
    module_path, _, class_name = target.rpartition(".")
    cls = net_class(class_name) if class_name in NET_CLASSES else None
    if cls is None or module_path not in ("tsbridge.models", cls.__module__):
        raise ValueError(
            f"_target_ {target!r} is not a tsbridge net; allowed: "
            + ", ".join(f"tsbridge.models.{name}" for name in NET_CLASSES)
        )
    return cls


def build_net(config: Mapping[str, Any], **overrides: Any) -> nn.Module:
    """Build a net from ``{"_target_": "tsbridge.models.<Class>", **kwargs}``.

    Only the classes exported by :mod:`tsbridge.models` are accepted, by name (either
    ``tsbridge.models.BridgedLSTM`` or its defining module's path), so a config file cannot make
    this call import or run anything else (unlike ``hydra.utils.instantiate``).

    Args:
        config: The model config, e.g. a Hydra ``DictConfig``, a plain dict or a net's ``config``.
        overrides: Keyword arguments added to (or replacing) the config's, typically the data's
            ``n_inputs``, ``n_targets``, ``lookback`` and ``horizon``.

    Raises:
        ValueError: Missing or foreign ``_target_``, Hydra features this builder does not do, or
            options the class does not take.
    """
    kwargs = {**dict(config), **overrides}
    cls = net_target_class(kwargs.pop("_target_", None))
    special = [key for key in kwargs if key.startswith("_") and key not in _IGNORED_KEYS]
    if special:
        raise ValueError(f"model config keys {special} are not supported by build_net")
    kwargs = {key: value for key, value in kwargs.items() if key not in _IGNORED_KEYS}
    try:
        return cls(**kwargs)
    except TypeError as error:  # unknown or missing keyword: a config mistake, not a bug to trace
        raise ValueError(f"invalid options for {cls.__name__}: {error}") from error
