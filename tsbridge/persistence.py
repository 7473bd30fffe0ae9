"""Save a :class:`~tsbridge.predictor.Predictor` to a directory and load it back without unpickling anything.

A saved predictor is a directory holding

* ``forecaster.json``: format version, the module's hyperparameters (net config included), the data settings
  (``min_lookback`` among them; a save without it has no padding), scaler statistics, frequency, the last
  ``lookback`` rows of each training series (all of a shorter one's, with padding; so ``predict()`` needs no
  frame) and the caller's extras (the Forecaster keeps its overrides, fit arguments, metrics and blend trajectory);
* ``weights.pt``: the module's ``state_dict``, plain tensors read with ``torch.load(weights_only=True)``.

Loading builds the net only through :func:`tsbridge.models.build_net` (tsbridge's own classes), optimizers only
from ``torch.optim`` (:class:`~tsbridge.module.ForecastModule`), refuses overrides that could make a later ``fit``
instantiate other code, and checks that the two files agree, so a tampered directory cannot run anything and a
damaged one says what is wrong. Saving writes a temporary folder next to ``path`` and renames it into place: an
interrupted save leaves the previous save (or nothing), never half a directory.
"""

from __future__ import annotations

import inspect
import json
import pickle
import shutil
import tempfile
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from tsbridge import __version__
from tsbridge.calibration import ConformalCalibration
from tsbridge.data import FrequencyError, SeriesFrame, StandardScaler, calendar_width
from tsbridge.data.timegrid import canonical_freq
from tsbridge.errors import CorruptFileError, UnsafeCheckpointError
from tsbridge.models.registry import net_target_class
from tsbridge.module import ForecastModule

if TYPE_CHECKING:  # the Predictor saves itself through this module, which only reads its attributes
    from tsbridge.predictor import Predictor

#: How a file torch.save writes begins: a zip archive, or (the format before torch 1.6) a pickle of protocol 2.
_TORCH_STARTS = (b"PK\x03\x04", b"\x80")
FORMAT = "tsbridge.forecaster"
VERSION = 2
CONFIG_FILE = "forecaster.json"
WEIGHTS_FILE = "weights.pt"

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "CorruptFileError", "SavedPredictor", "UnsafeCheckpointError",
           "check_overrides", "load", "load_tensors", "save"]


@dataclass
class SavedPredictor:
    """What :func:`load` returns: the :class:`~tsbridge.predictor.Predictor`'s fields and the extras saved with it."""

    fields: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _label_to_json(label: Hashable) -> Any:
    """A series id or column label as JSON: strings, numbers and booleans as they are, timestamps tagged."""
    label = _plain(label)
    if isinstance(label, (str, int, float, bool)) or label is None:
        return label
    if isinstance(label, (pd.Timestamp, np.datetime64)):
        return {"timestamp": pd.Timestamp(label).isoformat()}
    raise TypeError(f"cannot save the label {label!r} ({type(label).__name__}): series ids and column names must be "
                    "strings, numbers, booleans or timestamps")


def _label_from_json(saved: Any) -> Hashable:
    return pd.Timestamp(saved["timestamp"]) if isinstance(saved, dict) else saved


def _stamps_to_json(stamps: pd.Index) -> dict[str, Any]:
    if isinstance(stamps, pd.DatetimeIndex):
        return {"kind": "datetime", "unit": stamps.unit, "tz": None if stamps.tz is None else str(stamps.tz),
                "name": _label_to_json(stamps.name), "values": stamps.asi8.tolist()}
    return {"kind": "index", "name": _label_to_json(stamps.name), "values": [_plain(v) for v in stamps]}


def _stamps_from_json(saved: dict[str, Any]) -> pd.Index:
    name = _label_from_json(saved["name"])
    if saved["kind"] != "datetime":
        return pd.Index(saved["values"], name=name)
    stamps = pd.DatetimeIndex(np.array(saved["values"], dtype=f"datetime64[{saved['unit']}]"), name=name)
    return stamps if saved["tz"] is None else stamps.tz_localize("UTC").tz_convert(saved["tz"])


def _tensor_to_json(tensor: torch.Tensor) -> dict[str, Any]:
    return {"dtype": str(tensor.dtype).removeprefix("torch."), "values": tensor.tolist()}


def _damaged(file: Path, key: str, problem: str) -> CorruptFileError:
    """The error of a saved value that tsbridge did not write, naming the file and the key."""
    return CorruptFileError(f"{file}: {key} {problem}; the save is damaged, edited or not tsbridge's, so it was not "
                            "loaded")


def _tensor_from_json(saved: dict[str, Any], file: Path, key: str) -> torch.Tensor:
    try:
        return torch.tensor(saved["values"], dtype=getattr(torch, saved["dtype"]))
    except (TypeError, ValueError, KeyError, AttributeError) as error:  # a string among the numbers, a bad dtype ...
        raise _damaged(file, key, f"does not hold a tensor of numbers ({error})") from None


_SETTINGS = ("time_col", "id_col", "fill", "lookback", "horizon", "freq", "batch_size")


def _data_to_json(predictor: Predictor) -> dict[str, Any]:
    history, rows = predictor.history, predictor.lookback
    scaler = predictor.scaler
    return {
        **{key: getattr(predictor, key) for key in _SETTINGS},
        "min_lookback": predictor.min_lookback,
        "target_cols": [_label_to_json(c) for c in predictor.target_cols],
        "input_cols": [_label_to_json(c) for c in predictor.input_cols],
        "future_features": [_label_to_json(c) for c in predictor.future_features],
        "calendar": list(predictor.calendar),
        "scaler": None if scaler is None else {
            "per_series": scaler.per_series, "mean": _tensor_to_json(scaler.mean), "std": _tensor_to_json(scaler.std),
            "series_ids": [_label_to_json(s) for s in scaler.series_ids]},
        "series_ids": [_label_to_json(s) for s in history.series_ids],
        "values": [_tensor_to_json(v[-rows:]) for v in history.values],
        "timestamps": [_stamps_to_json(s[-rows:]) for s in history.timestamps],
        "calibration": None if predictor.calibration is None else {
            **predictor.calibration.to_json(),
            "series_ids": [_label_to_json(s) for s in predictor.calibration.series_ids]},
    }


def _scaler_from_json(saved: dict[str, Any], file: Path) -> StandardScaler:
    mean, std = (_tensor_from_json(saved[key], file, f"data.scaler.{key}") for key in ("mean", "std"))
    # The scaler divides by std: a 0 here would surface at predict as values beyond float32's range, blaming the data.
    bad = std[~(torch.isfinite(std) & (std > 0))]
    if bad.numel():
        raise _damaged(file, "data.scaler.std", f"holds {bad[0].item():g}, but a fitted scaler's standard deviations "
                       "are positive and finite")
    return StandardScaler.from_state_dict({"per_series": saved["per_series"], "mean": mean, "std": std,
                                           "series_ids": [_label_from_json(s) for s in saved["series_ids"]]})


def _predictor_fields(saved: dict[str, Any], module: ForecastModule, file: Path) -> dict[str, Any]:
    """The Predictor's fields from the saved ``data`` section of ``file``, each value read checked."""
    scaler = None if saved["scaler"] is None else _scaler_from_json(saved["scaler"], file)
    if saved["freq"] is not None:
        try:  # checked now, not at the first forecast, which would blame pandas
            canonical_freq(saved["freq"])
        except FrequencyError:
            raise _damaged(file, "data.freq", f"{saved['freq']!r} is not a pandas frequency") from None
    input_cols = [_label_from_json(c) for c in saved["input_cols"]]
    target_cols = [_label_from_json(c) for c in saved["target_cols"]]
    calendar = tuple(saved["calendar"])
    n_future = len(saved["future_features"]) + (calendar_width(calendar) if calendar else 0)
    history = SeriesFrame(
        values=[_tensor_from_json(v, file, f"data.values[{i}]").reshape(-1, len(input_cols))
                for i, v in enumerate(saved["values"])],
        timestamps=[_stamps_from_json(s) for s in saved["timestamps"]],
        series_ids=[_label_from_json(s) for s in saved["series_ids"]], input_cols=input_cols,
        target_cols=target_cols, freq=saved["freq"], future_cols=input_cols[len(input_cols) - n_future :],
        calendar=calendar,
    )
    calibration = saved.get("calibration")
    if calibration is not None:
        calibration = ConformalCalibration.from_json(calibration,
                                                     [_label_from_json(s) for s in calibration["series_ids"]])
    return {"module": module, "target_cols": target_cols, "input_cols": input_cols, "scaler": scaler,
            "calibration": calibration,
            "history": history, "future_features": [_label_from_json(c) for c in saved["future_features"]],
            "calendar": calendar, "min_lookback": saved.get("min_lookback"),  # absent from older saves: no padding
            **{key: saved[key] for key in _SETTINGS}}


def _check_replaceable(path: Path) -> None:
    """Refuse to save over anything but nothing or an earlier save (a folder holding only a save's files)."""
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir() or path.is_symlink():
        raise FileExistsError(f"{path} exists and is not a folder written by Forecaster.save; not replacing it "
                              "(remove it or choose another path)")
    names = {entry.name for entry in path.iterdir()}
    if names and not ({CONFIG_FILE} <= names <= {CONFIG_FILE, WEIGHTS_FILE}):
        raise FileExistsError(f"{path} is a folder holding {', '.join(sorted(names)[:5])}, not a Forecaster.save; "
                              "not replacing it (remove it or choose another path)")
    if names:
        try:
            foreign = json.loads((path / CONFIG_FILE).read_text()).get("format") != FORMAT
        except (ValueError, AttributeError, UnicodeDecodeError):
            foreign = True
        if foreign:
            raise FileExistsError(f"{path / CONFIG_FILE} is not a tsbridge save; not replacing {path}")


def save(path: str | Path, predictor: Predictor, extras: dict[str, Any]) -> Path:
    """Write ``forecaster.json`` and ``weights.pt`` into directory ``path``, replacing a previous save there.

    Both files are written into a temporary folder beside ``path`` first, then renamed into place.

    Raises:
        FileExistsError: ``path`` is a file, or a folder that is not an earlier save (it is never replaced).
    """
    path = Path(path)
    _check_replaceable(path)
    document = {
        "format": FORMAT, "version": VERSION, "tsbridge_version": __version__,
        "module": dict(predictor.module.hparams), "data": _data_to_json(predictor), "extras": extras,
    }
    text = json.dumps(document, indent=1)  # fails here, before anything is written, on an unsavable value
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.saving-", dir=path.parent))
    try:
        (staging / CONFIG_FILE).write_text(text)
        state = {key: value.detach().cpu() for key, value in predictor.module.state_dict().items()}
        torch.save(state, staging / WEIGHTS_FILE)
        if path.exists():
            previous = path.with_name(f".{path.name}.replaced-{staging.name.rsplit('-', 1)[-1]}")
            path.rename(previous)
            staging.rename(path)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            staging.rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # only left when something above failed
    return path


def _interpolations(value: Any) -> list[str]:
    """The strings inside a parsed override value that OmegaConf would expand (``${...}``, escaped or not)."""
    if isinstance(value, str):
        return [value] if "${" in value else []
    if isinstance(value, dict):
        return [found for item in value.values() for found in _interpolations(item)]
    if isinstance(value, list):
        return [found for item in value for found in _interpolations(item)]
    return []


def check_overrides(overrides: Any, source: Path) -> list[str]:
    """The saved Hydra overrides, parsed with Hydra's own grammar and refused unless each one only sets a value.

    Refused: anything that is not a list of strings, adding or deleting keys (``+``, ``++``, ``~``), moving a
    package (``@``), sweeps, and interpolations anywhere in a value (``data.seed=${module.scheduler}`` would pull a
    node into another when the config resolves). What the overrides compose is checked next, resolved, by
    :func:`tsbridge.config.resolved_config`.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType
    from hydra.errors import HydraException

    def refuse(entry: Any, why: str) -> UnsafeCheckpointError:
        return UnsafeCheckpointError(f"{source}: saved override {entry!r} {why}, which could make fit() build "
                                     "arbitrary objects; refusing to load")

    if not isinstance(overrides, list) or not all(isinstance(entry, str) for entry in overrides):
        raise refuse(overrides, "is not a list of strings")
    parser = OverridesParser.create()
    for entry in overrides:
        try:
            (parsed,) = parser.parse_overrides([entry])
        except HydraException as error:
            raise refuse(entry, f"does not parse ({str(error).splitlines()[0]})") from None
        if parsed.type != OverrideType.CHANGE or parsed.package is not None:
            raise refuse(entry, "adds, deletes or moves a config node")
        if parsed.is_sweep_override():
            raise refuse(entry, "is a sweep")
        if _interpolations(parsed.value()):
            raise refuse(entry, "holds an interpolation")
    return overrides


def _unreadable(path: Path, reason: str) -> CorruptFileError:
    return CorruptFileError(f"{path} is truncated or corrupt, not a readable torch file ({reason})")


def load_tensors(path: Path, what: str = "weights file") -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file and what is wrong with it.

    Torch's own message advises retrying with ``weights_only=False``, which would run whatever the file holds;
    these errors keep only the reason and never repeat that advice.

    Args:
        path: the file.
        what: what the file should be (``"weights file"``, ``"checkpoint"``), for the messages.

    Raises:
        UnsafeCheckpointError: the file holds pickled objects other than tensors and plain containers.
        CorruptFileError: the file is truncated, empty or not a torch file.
    """
    with open(path, "rb") as file:  # a missing file: FileNotFoundError, unchanged
        start = file.read(len(_TORCH_STARTS[0]))
    if not start.startswith(_TORCH_STARTS):  # other bytes: torch's unpickler would fail on them with KeyError: 101
        raise _unreadable(path, f"it begins with {start!r}, as no file torch.save writes" if start else "it is empty")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = next((line for line in lines if "weights_only" not in line), type(error).__name__)
        raise UnsafeCheckpointError(
            f"{path} is not a tsbridge {what}: it holds pickled objects, not only tensors, so it was not loaded "
            f"(unpickling them could run code; tsbridge reads tensors only): {reason}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError) as error:  # damaged after the header
        reason = str(error).split(". ")[0].splitlines()[0] if str(error) else type(error).__name__
        raise _unreadable(path, reason) from None


def _load_weights(path: Path) -> dict[str, torch.Tensor]:
    state = load_tensors(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UnsafeCheckpointError(f"{path} does not hold a state_dict of tensors")
    return state


def _read_document(file: Path) -> dict[str, Any]:
    try:
        document = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptFileError(f"{file} is truncated or corrupt: not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("version") != VERSION:
        found = document if not isinstance(document, dict) else (document.get("format"), document.get("version"))
        raise ValueError(f"{file} is not a {FORMAT} file of version {VERSION} (found {found!r}); save it again "
                         "with this tsbridge version")
    return document


def _check_module(file: Path, module: dict[str, Any]) -> None:
    """The module section may hold only :class:`ForecastModule`'s arguments and must name a tsbridge net; checked
    first, as a foreign net lacks the sizes :func:`_check_consistent` compares.

    Raises:
        CorruptFileError: a key that is no argument, naming it.
        UnsafeCheckpointError: a net ``_target_`` outside tsbridge's nets.
    """
    unknown = [key for key in module if key not in inspect.signature(ForecastModule).parameters]
    if unknown:
        raise _damaged(file, f"module.{unknown[0]}", "is no setting of a tsbridge model")
    net = module.get("net")
    try:
        net_target_class(net.get("_target_") if isinstance(net, dict) else None)
    except ValueError as error:
        raise UnsafeCheckpointError(f"{file}: module.net: {error}; a foreign or edited save is not loaded, and "
                                    "nothing was built") from None


def _check_consistent(file: Path, data: dict[str, Any], net: dict[str, Any]) -> None:
    """The data settings must describe the saved net: name the first value that disagrees."""
    expected = {"lookback": data["lookback"], "horizon": data["horizon"], "n_inputs": len(data["input_cols"]),
                "n_targets": len(data["target_cols"])}
    for key, value in expected.items():
        if net.get(key) != value:
            raise CorruptFileError(f"{file}: the data settings give {key}={value} but the saved net was built with "
                                   f"{key}={net.get(key)}; the file was edited or damaged")
    min_lookback = data.get("min_lookback")
    if min_lookback is not None and (isinstance(min_lookback, bool) or not isinstance(min_lookback, int)
                                     or not 1 <= min_lookback <= data["lookback"]):
        raise _damaged(file, "data.min_lookback", f"is {min_lookback!r}, not an integer from 1 to "
                       f"lookback={data['lookback']}")
    needed, name = (data["lookback"], "lookback") if min_lookback is None else (min_lookback, "min_lookback")
    short = [len(v["values"]) for v in data["values"] if len(v["values"]) < needed]
    if short:
        raise CorruptFileError(f"{file}: a saved series has {short[0]} rows, fewer than {name}={needed}")


def load(path: str | Path) -> SavedPredictor:
    """Read a directory written by :func:`save`.

    Raises:
        FileNotFoundError: the directory or one of its files is missing.
        UnsafeCheckpointError: the weights hold pickled objects, or the config names foreign classes.
        CorruptFileError: a truncated or damaged file, or files that disagree (naming the value).
        ValueError: not a saved predictor, or another format version.
    """
    path = Path(path)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path / name} not found; Forecaster.save(path) writes {CONFIG_FILE} "
                                    f"and {WEIGHTS_FILE}")
    document = _read_document(path / CONFIG_FILE)
    extras = document.get("extras", {})
    check_overrides(extras.get("overrides", []), path / CONFIG_FILE)
    _check_module(path / CONFIG_FILE, document["module"])
    _check_consistent(path / CONFIG_FILE, document["data"], document["module"]["net"])
    state = _load_weights(path / WEIGHTS_FILE)
    try:
        module = ForecastModule(**document["module"])
    except ValueError as error:  # the optimizer or scheduler check refused a foreign _target_, or bad net options
        raise UnsafeCheckpointError(f"{path / CONFIG_FILE}: {error}") from None
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        reason = "; ".join(line.strip() for line in str(error).splitlines()[1:3] if line.strip())
        raise CorruptFileError(f"{path / WEIGHTS_FILE} does not fit the model described in {CONFIG_FILE} "
                               f"(weights of another model?): {reason}") from None
    return SavedPredictor(_predictor_fields(document["data"], module.eval(), path / CONFIG_FILE), extras)
