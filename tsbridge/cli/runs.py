"""A finished ``tsbridge-train`` run read back (``tsbridge-eval``, ``tsbridge-predict``): its config, checked before
anything is built, its data module rebuilt from that config (the scaler refitted on the same training rows) and its
network from the checkpoint's own hyperparameters, loaded with ``weights_only=True``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from tsbridge.config import build_datamodule
from tsbridge.errors import CorruptFileError

if TYPE_CHECKING:
    from tsbridge.data import WindowDataModule
    from tsbridge.module import ForecastModule


def load_run_config(ckpt_path: Path, run_config: str | None = None) -> tuple[DictConfig, Path]:
    """The config of the training run that wrote ``ckpt_path``, and the file it was read from.

    Looks at ``run_config`` when given, else ``<run>/.hydra/config.yaml`` and then the ``config`` entry of
    ``<run>/metrics.json``, where ``<run>`` is the folder above the checkpoint's folder.
    """
    if run_config is not None:
        candidates = [Path(run_config)]
    else:
        run_dir = ckpt_path.resolve().parent.parent
        candidates = [run_dir / ".hydra" / "config.yaml", run_dir / "metrics.json"]
    for candidate in candidates:
        if candidate.is_file():
            try:
                if candidate.suffix == ".json":
                    return OmegaConf.create(json.loads(candidate.read_text())["config"]), candidate
                return OmegaConf.load(candidate), candidate
            except (ValueError, KeyError, TypeError) as error:  # JSON and YAML syntax errors are ValueErrors
                raise CorruptFileError(f"{candidate} is truncated or corrupt, not a training run's config "
                                       f"({type(error).__name__}: {str(error).splitlines()[0]})") from None
    tried = ", ".join(repr(str(c)) for c in candidates)
    raise FileNotFoundError(f"no training config for checkpoint {str(ckpt_path)!r} (tried {tried}); pass run_config=")


def load_module(ckpt_path: Path) -> ForecastModule:
    """The :class:`ForecastModule` of a Lightning checkpoint, read with ``weights_only=True`` and built only from
    tsbridge's own net classes and ``torch.optim``."""
    from tsbridge.module import ForecastModule
    from tsbridge.persistence import load_tensors

    checkpoint = load_tensors(ckpt_path, what="checkpoint")
    if not isinstance(checkpoint, dict) or not {"state_dict", "hyper_parameters"} <= checkpoint.keys():
        raise CorruptFileError(f"{ckpt_path} is not a tsbridge-train checkpoint (no state_dict and "
                               "hyper_parameters)")
    try:
        module = ForecastModule(**checkpoint["hyper_parameters"])
        module.load_state_dict(checkpoint["state_dict"])
    except (TypeError, RuntimeError) as error:  # unknown hyperparameters; weights of another shape
        reason = "; ".join(line.strip() for line in str(error).splitlines()[:3] if line.strip())
        raise CorruptFileError(f"{ckpt_path}: its weights do not fit the model its hyper_parameters describe "
                               f"(an edited or foreign checkpoint?): {reason}") from None
    return module


def load_run(ckpt_path: Path, run_config: str | None = None) -> tuple[DictConfig, WindowDataModule, ForecastModule]:
    """The config, the data module and the fitted module of the run that wrote ``ckpt_path`` (see the module
    docstring).

    Raises:
        FileNotFoundError: no checkpoint there, or no training config found for it.
        CorruptFileError: a damaged config or checkpoint.
        UnsafeConfigError, UnsafeCheckpointError: a config or checkpoint naming code outside tsbridge.
    """
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(ckpt_path)!r}")
    config, source = load_run_config(ckpt_path, run_config)
    return config, build_datamodule(config, source=str(source)), load_module(ckpt_path)
