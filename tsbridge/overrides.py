"""Turn :class:`tsbridge.Forecaster` keyword arguments into the Hydra overrides ``tsbridge-train`` understands.

A keyword goes to the config node that has a key of that name (``hidden_size`` -> ``model.hidden_size``,
``max_epochs`` -> ``trainer.max_epochs``, ``batch_size`` -> ``data.batch_size``), so the notebook API and the
command line read the same YAML defaults and a fitted Forecaster can print the command that reproduces it.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig

from tsbridge.data.splits import row_split

#: Nodes searched, in this order, for a keyword's key.
OPTION_NODES = ("model", "module", "trainer", "data")
#: Keywords that name a nested key.
ALIASES = {"lr": "module.optimizer.lr", "weight_decay": "module.optimizer.weight_decay", "seed": "seed",
           "threads": "threads", "refit": "refit", "calibration": "calibration.method",
           "calibration_per_series": "calibration.per_series"}
#: Data keys that describe one frame, so ``fit`` takes them (value: the argument to use instead).
FIT_ARGUMENTS = {
    "frame": "fit(df)",
    "target_cols": "fit(target=...)",
    "time_col": "fit(time_col=...)",
    "id_col": "fit(id_col=...)",
    "feature_cols": "fit(features=[...])",
    "future_features": "fit(future_features=[...])",
    "calendar": "fit(calendar=[...])",
    "split": "fit(val_size=..., test_size=...)",
    "freq": "fit(freq=...)",
    "lookback": "Forecaster(lookback=...)",
    "horizon": "Forecaster(horizon=...)",
}
# Set by the Forecaster itself from its work_dir.
_MANAGED_KEYS = frozenset({"default_root_dir"})


def format_value(value: Any) -> str:
    """A Python value in Hydra's override grammar (``None`` -> ``null``, strings quoted, lists, dicts)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # NumPy / torch scalars
        value = value.item()
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)  # inf, -inf, nan are Hydra literals
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{key}:{format_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(format_value(item) for item in value) + "]"
    raise TypeError(f"cannot express {value!r} ({type(value).__name__}) as a Hydra override")


def override(path: str, value: Any) -> str:
    """``"path=value"`` in Hydra's grammar."""
    return f"{path}={format_value(value)}"


def option_paths(cfg: DictConfig) -> dict[str, str]:
    """Keyword name -> dotted config path, for every keyword ``Forecaster(**options)`` accepts under ``cfg``."""
    paths: dict[str, str] = {}
    for node in OPTION_NODES:
        for key in cfg[node]:
            if key.startswith("_") or key in _MANAGED_KEYS or key in FIT_ARGUMENTS:
                continue
            paths.setdefault(key, f"{node}.{key}")
    return {**paths, **ALIASES}


def option_overrides(cfg: DictConfig, options: Mapping[str, Any]) -> list[str]:
    """Hydra overrides for keyword ``options`` routed by :func:`option_paths`.

    Raises:
        TypeError: an option no config node has (with the closest names), or one that ``fit`` takes.
    """
    paths = option_paths(cfg)
    overrides = []
    for name, value in options.items():
        if name in FIT_ARGUMENTS:
            raise TypeError(f"{name!r} is not a Forecaster option; use {FIT_ARGUMENTS[name]}")
        if name not in paths:
            close = difflib.get_close_matches(name, paths, n=3)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            known = {node: sorted(k for k, p in paths.items() if p.startswith(f"{node}.")) for node in OPTION_NODES}
            raise TypeError(
                f"unknown Forecaster option {name!r}{hint} Options are the keys of the composed config: "
                + "; ".join(f"{node}: {', '.join(keys)}" for node, keys in known.items())
                + "; aliases: " + ", ".join(ALIASES)
                + ". Anything else: Forecaster.from_config(overrides=[...]) or fit(trainer_kwargs={...})"
            )
        overrides.append(override(paths[name], value))
    return overrides


def split_ratios(configured: Any, val_size: float | int | None, test_size: float) -> str | list[float]:
    """The ``data.split`` of one ``fit``: ``(1 - val - test, val, test)`` of each series, or with an integer
    ``val_size`` the row counts ``"rows:V"`` / ``"rows:V:T"`` (:func:`tsbridge.data.splits.row_split`).

    Args:
        configured: the composed ``data.split`` (a preset name, row counts or three ratios).
        val_size: validation share, or (an integer) rows at the end of every series; None keeps the configured
            split (and a preset name as it is).
        test_size: test share (rows with an integer ``val_size``); 0 trains and validates on everything (no test
            part).
    """
    if isinstance(val_size, int) and not isinstance(val_size, bool):
        if val_size < 1 or (test_size and not isinstance(test_size, int)) or test_size < 0:
            raise ValueError(f"an integer val_size counts rows at the end of every series: need val_size >= 1 and "
                             f"test_size in rows too (an integer >= 0), got val_size={val_size}, test_size={test_size}")
        return row_split(val_size, int(test_size))
    if isinstance(configured, str):
        if val_size is None and not test_size:
            return configured
        if val_size is None:
            raise ValueError(f"data.split is the preset {configured!r}; pass val_size= together with test_size=")
    val = float(configured[1]) if val_size is None else float(val_size)
    test = float(test_size)
    if not 0 < val < 1 or not 0 <= test < 1 or val + test >= 1:
        raise ValueError(f"need 0 < val_size < 1, 0 <= test_size < 1 and val_size + test_size < 1, "
                         f"got val_size={val}, test_size={test}")
    return [1 - val - test, val, test]


def frame_overrides(cfg: DictConfig, *, target: str | Sequence[str], time_col: str | None,
                    id_col: str | None, features: str | Sequence[str] | None, val_size: float | int | None,
                    test_size: float, freq: str | None = None, future_features: str | Sequence[str] | None = None,
                    calendar: str | Sequence[str] | None = None) -> list[str]:
    """The ``data.*`` overrides that describe one training frame (see ``Forecaster.fit`` for the arguments)."""
    split = split_ratios(cfg.data.split, val_size, test_size)
    targets = list(target) if isinstance(target, (list, tuple)) else [target]
    overrides = [override("data.target_cols", targets), override("data.time_col", time_col),
                 override("data.id_col", id_col), override("data.split", split), override("data.freq", freq)]
    if features is not None:
        overrides.append(override("data.features", features) if isinstance(features, str)
                         else override("data.feature_cols", list(features)))
    for key, columns in (("future_features", future_features), ("calendar", calendar)):
        if columns is not None:
            overrides.append(override(f"data.{key}", [columns] if isinstance(columns, str) else list(columns)))
    return overrides
