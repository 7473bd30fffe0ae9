"""``tsbridge-eval``: metrics and a predictions CSV for a ``tsbridge-train`` checkpoint on one split.

Examples::

    tsbridge-eval ckpt_path=outputs/train/<run>/checkpoints/last.ckpt             # test split
    tsbridge-eval ckpt_path=outputs/train/<run>/checkpoints/<best>.ckpt split=val
    tsbridge-eval ckpt_path=moved/model.ckpt run_config=moved/config.yaml

The data module is rebuilt from the training run's config (so the scaler is refitted on the same training rows;
that config may only name tsbridge's own data classes and loaders, so a run folder cannot make this command run
code) and the network from the checkpoint's own hyperparameters, loaded with ``weights_only=True``. Forecasts are
the :class:`~tsbridge.predictor.Predictor`'s long table, the layout of ``Forecaster.backtest``.
"""

from __future__ import annotations

import sys
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
from omegaconf import DictConfig, OmegaConf

from tsbridge.cli.common import check_override_syntax, quiet_runtime, report_errors, route_lightning_logs, write_json
from tsbridge.config import build_datamodule, build_trainer
from tsbridge.errors import CorruptFileError

if TYPE_CHECKING:
    from tsbridge.module import ForecastModule

SPLITS = ("test", "val")


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


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score ``cfg.ckpt_path`` on ``cfg.split``; write ``eval_metrics.json`` (and ``predictions.csv``)."""
    if cfg.split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {cfg.split!r}")
    ckpt_path = Path(cfg.ckpt_path)
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(ckpt_path)!r}")
    run_config, source = load_run_config(ckpt_path, cfg.run_config)
    from tsbridge.predictor import Predictor  # imports Lightning: kept out of --help, completion and errors

    route_lightning_logs()

    datamodule = build_datamodule(run_config, source=str(source))
    module = load_module(ckpt_path)
    trainer = build_trainer(cfg, callbacks=[], logger=False)
    loader = getattr(datamodule, f"{cfg.split}_dataloader")()
    score = trainer.test if cfg.split == "test" else trainer.validate
    (scores,) = score(module, dataloaders=loader, verbose=False)
    metrics = {name: float(value) for name, value in sorted(scores.items())}

    output_dir = Path(cfg.paths.output_dir)
    summary: dict[str, Any] = {
        "checkpoint": str(ckpt_path.resolve()),
        "model": module.model_name,
        "split": cfg.split,
        "n_windows": len(loader.dataset),
        "metrics": metrics,
        "predictions": "",
    }
    if cfg.predictions:
        predictor = Predictor.from_datamodule(module, datamodule)
        origins = loader.dataset.index.pairs()  # (series, start) of every window of the split
        origins[:, 1] += datamodule.lookback - 1
        summary["predictions"] = str(output_dir / "predictions.csv")
        predictor.forecast_table(datamodule.series, origins).to_csv(summary["predictions"], index=False)
    write_json(output_dir / "eval_metrics.json", summary)
    lines = [f"tsbridge-eval: {summary['n_windows']} {cfg.split} windows of {ckpt_path.name} ({module.model_name})"]
    lines += [f"  {name:<22} {metrics[name]:.4f}" for name in metrics if name.split("/")[-1] in ("mse", "mae")]
    lines.append(f"  written to {output_dir}")
    print("\n".join(lines))
    return summary


@hydra.main(version_base="1.3", config_path="pkg://tsbridge.conf", config_name="eval")
def _hydra_main(cfg: DictConfig) -> None:
    quiet_runtime()  # again: a launcher's worker processes (joblib, SLURM) start here
    with report_errors("tsbridge-eval"):
        evaluate(cfg)


def main() -> None:
    """Entry point of ``tsbridge-eval``: quiet third-party noise, then run the Hydra app."""
    quiet_runtime()
    check_override_syntax("tsbridge-eval", sys.argv[1:])
    _hydra_main()


if __name__ == "__main__":
    main()
