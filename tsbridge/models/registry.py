"""Safe construction of nets from plain configs (``_target_`` plus keyword arguments)."""

from collections.abc import Mapping
from typing import Any

from torch import nn

#: The Hydra ``model/`` names, each one YAML file.
MODEL_NAMES: tuple[str, ...] = (
    "concat",
    "blend",
    "blend_unit",
    "blend_gated",
    "attention",
    "feedback",
    "lstm",
    "bilstm",
    "dlinear",
    "naive",
    "seasonal_naive",
)

# Hydra bookkeeping keys that carry no constructor argument and change nothing here.
_IGNORED_KEYS = frozenset({"_recursive_", "_convert_"})


def build_net(config: Mapping[str, Any], **overrides: Any) -> nn.Module:
    """Build a net from ``{"_target_": "tsbridge.models.<Class>", **kwargs}``.

    Only the classes exported by :mod:`tsbridge.models` are accepted, by name (either
    ``tsbridge.models.BridgedLSTM`` or its defining module's path), so a config file cannot make
    this call import or run anything else (unlike ``hydra.utils.instantiate``).

    Args:
        config: The model config, e.g. a Hydra ``DictConfig`` or a plain dict.
        overrides: Keyword arguments added to (or replacing) the config's, typically the data's
            ``n_inputs``, ``n_targets``, ``lookback`` and ``horizon``.

    Raises:
        ValueError: Missing or foreign ``_target_``, Hydra features this builder does not do, or
            options the class does not take.
    """
    from tsbridge import models

    kwargs = {**dict(config), **overrides}
    target = kwargs.pop("_target_", None)
    if not isinstance(target, str):
        raise ValueError(f"model config needs a _target_ string, got {target!r}")
    module_path, _, class_name = target.rpartition(".")
    cls = getattr(models, class_name) if class_name in models.NET_CLASSES else None
    if cls is None or module_path not in ("tsbridge.models", cls.__module__):
        raise ValueError(
            f"_target_ {target!r} is not a tsbridge net; allowed: "
            + ", ".join(f"tsbridge.models.{name}" for name in models.NET_CLASSES)
        )
    special = [key for key in kwargs if key.startswith("_") and key not in _IGNORED_KEYS]
    if special:
        raise ValueError(f"model config keys {special} are not supported by build_net")
    kwargs = {key: value for key, value in kwargs.items() if key not in _IGNORED_KEYS}
    try:
        return cls(**kwargs)
    except TypeError as error:  # unknown or missing keyword: a config mistake, not a bug to trace
        raise ValueError(f"invalid options for {class_name}: {error}") from error
