"""Save a fitted :class:`tsbridge.Forecaster` to a directory and load it back without unpickling anything.

A saved forecaster is a directory holding

* ``forecaster.json``: format version, the Hydra overrides it was composed from, the module's hyperparameters
  (net config included), the data settings, scaler statistics, frequency, the last ``lookback`` rows of each
  training series (so ``predict()`` needs no frame) and the blend-weight trajectory;
* ``weights.pt``: the module's ``state_dict``, plain tensors read with ``torch.load(weights_only=True)``.

Loading builds the net only through :func:`tsbridge.models.build_net` (tsbridge's own classes), optimizers only
from ``torch.optim`` (:class:`~tsbridge.module.ForecastModule`), and refuses overrides that could make a later
``fit`` instantiate other code, so a tampered directory cannot run anything.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tsbridge import __version__
from tsbridge.data import SeriesFrame, StandardScaler
from tsbridge.inference import FittedData
from tsbridge.module import ForecastModule

FORMAT = "tsbridge.forecaster"
VERSION = 1
CONFIG_FILE = "forecaster.json"
WEIGHTS_FILE = "weights.pt"


class UnsafeCheckpointError(ValueError):
    """A saved forecaster holds something other than plain tensors and tsbridge configs; it is not loaded."""


@dataclass
class SavedForecaster:
    """What :func:`load` returns: enough to rebuild a fitted Forecaster."""

    overrides: list[str]
    module: ForecastModule
    data: FittedData
    extras: dict[str, Any] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _stamps_to_json(stamps: pd.Index) -> dict[str, Any]:
    if isinstance(stamps, pd.DatetimeIndex):
        return {"kind": "datetime", "unit": stamps.unit, "tz": None if stamps.tz is None else str(stamps.tz),
                "name": stamps.name, "values": stamps.asi8.tolist()}
    return {"kind": "index", "name": stamps.name, "values": [_plain(v) for v in stamps]}


def _stamps_from_json(saved: dict[str, Any]) -> pd.Index:
    if saved["kind"] != "datetime":
        return pd.Index(saved["values"], name=saved["name"])
    stamps = pd.DatetimeIndex(np.array(saved["values"], dtype=f"datetime64[{saved['unit']}]"), name=saved["name"])
    return stamps if saved["tz"] is None else stamps.tz_localize("UTC").tz_convert(saved["tz"])


def _data_to_json(data: FittedData) -> dict[str, Any]:
    history, rows = data.history, data.lookback
    scaler = None
    if data.scaler is not None:
        scaler = {"per_series": data.scaler.per_series, "mean": data.scaler.mean.tolist(),
                  "std": data.scaler.std.tolist(), "series_ids": [_plain(s) for s in data.scaler.series_ids]}
    return {
        **{key: getattr(data, key) for key in ("target_cols", "input_cols", "time_col", "id_col", "fill",
                                                "lookback", "horizon", "freq", "batch_size")},
        "scaler": scaler,
        "series_ids": [_plain(s) for s in history.series_ids],
        "values": [v[-rows:].tolist() for v in history.values],
        "timestamps": [_stamps_to_json(s[-rows:]) for s in history.timestamps],
    }


def _data_from_json(saved: dict[str, Any]) -> FittedData:
    settings = {key: value for key, value in saved.items() if key not in ("scaler", "series_ids", "values",
                                                                          "timestamps")}
    scaler = saved["scaler"]
    if scaler is not None:
        scaler = StandardScaler.from_state_dict(
            {**scaler, "mean": torch.tensor(scaler["mean"], dtype=torch.float32),
             "std": torch.tensor(scaler["std"], dtype=torch.float32)}
        )
    history = SeriesFrame(
        values=[torch.tensor(v, dtype=torch.float32).reshape(-1, len(saved["input_cols"])) for v in saved["values"]],
        timestamps=[_stamps_from_json(s) for s in saved["timestamps"]],
        series_ids=saved["series_ids"], input_cols=saved["input_cols"], target_cols=saved["target_cols"],
        freq=saved["freq"],
    )
    return FittedData(**settings, scaler=scaler, history=history)


def save(path: str | Path, overrides: list[str], module: ForecastModule, data: FittedData,
         extras: dict[str, Any]) -> Path:
    """Write ``forecaster.json`` and ``weights.pt`` into directory ``path`` (created if needed)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    document = {
        "format": FORMAT, "version": VERSION, "tsbridge_version": __version__,
        "overrides": overrides, "module": dict(module.hparams), "data": _data_to_json(data), "extras": extras,
    }
    (path / CONFIG_FILE).write_text(json.dumps(document, indent=1))
    torch.save({key: value.detach().cpu() for key, value in module.state_dict().items()}, path / WEIGHTS_FILE)
    return path


def _check_overrides(overrides: list[str]) -> list[str]:
    """Refuse overrides that add keys or name ``_target_`` outside ``module`` (restricted to torch.optim)."""
    for entry in overrides:
        key = entry.split("=", 1)[0] if isinstance(entry, str) else "+"
        if key.startswith(("+", "~")) or ("_target_" in entry and not key.startswith("module.")):
            raise UnsafeCheckpointError(
                f"saved override {entry!r} could make fit() build arbitrary objects; refusing to load"
            )
    return overrides


def _load_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        # torch's message opens with advice to retry with weights_only=False; keep only the actual reason.
        lines = [line for line in str(error).splitlines() if line.strip()]
        reason = next((line for line in lines if not line.startswith(("Weights only load failed", "Check the doc"))),
                      type(error).__name__)
        raise UnsafeCheckpointError(
            f"{path} is not a plain tensor state_dict, so it was not loaded (it may contain pickled code; "
            f"tsbridge reads weights only with torch.load(weights_only=True)): {reason}"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UnsafeCheckpointError(f"{path} does not hold a state_dict of tensors")
    return state


def load(path: str | Path) -> SavedForecaster:
    """Read a directory written by :func:`save`.

    Raises:
        FileNotFoundError: the directory or one of its files is missing.
        UnsafeCheckpointError: the weights hold pickled objects, or the config names foreign classes.
        ValueError: not a saved forecaster, or an unknown format version.
    """
    path = Path(path)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path / name} not found; Forecaster.save(path) writes {CONFIG_FILE} "
                                    f"and {WEIGHTS_FILE}")
    document = json.loads((path / CONFIG_FILE).read_text())
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise ValueError(f"{path / CONFIG_FILE} is not a {FORMAT} file of version {VERSION} "
                         f"(format {document.get('format')!r}, version {document.get('version')!r})")
    overrides = _check_overrides(document["overrides"])
    state = _load_weights(path / WEIGHTS_FILE)
    try:
        module = ForecastModule(**document["module"])
    except ValueError as error:  # build_net / optimizer checks refused a foreign _target_
        raise UnsafeCheckpointError(f"{path / CONFIG_FILE}: {error}") from None
    module.load_state_dict(state)
    module.eval()
    return SavedForecaster(overrides=overrides, module=module,
                           data=_data_from_json(document["data"]), extras=document.get("extras", {}))
