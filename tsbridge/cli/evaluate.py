"""``tsbridge-eval``: metrics and a predictions CSV for a ``tsbridge-train`` checkpoint on one split.

Examples::

    tsbridge-eval ckpt_path=outputs/train/<run>/checkpoints/last.ckpt             # test split
    tsbridge-eval ckpt_path=outputs/train/<run>/checkpoints/<best>.ckpt split=val
    tsbridge-eval ckpt_path=moved/model.ckpt run_config=moved/config.yaml

The data module is rebuilt from the training run's config (so the scaler is refitted on the same training rows)
and the network from the checkpoint's own hyperparameters, loaded with ``weights_only=True``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from tsbridge.cli.common import report_errors, write_json
from tsbridge.config import build_datamodule, build_trainer

if TYPE_CHECKING:
    from torch import Tensor

    from tsbridge.data import WindowDataModule

SPLITS = ("test", "val")
PREDICTION_COLUMNS = ["series_id", "origin", "timestamp", "step", "target", "actual", "forecast"]


def load_run_config(ckpt_path: Path, run_config: str | None = None) -> DictConfig:
    """The config of the training run that wrote ``ckpt_path``.

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
            if candidate.suffix == ".json":
                return OmegaConf.create(json.loads(candidate.read_text())["config"])
            return OmegaConf.load(candidate)
    tried = ", ".join(repr(str(c)) for c in candidates)
    raise FileNotFoundError(f"no training config for checkpoint {str(ckpt_path)!r} (tried {tried}); pass run_config=")


def predictions_frame(datamodule: WindowDataModule, batches: list[dict[str, Tensor]]) -> pd.DataFrame:
    """One row per (window, forecast step, target) with actual and forecast values in original units.

    ``origin`` is the timestamp of the window's last input row; ``timestamp`` that of the forecast step
    ``step`` (1 = the first step after the origin).
    """
    series_frame = datamodule.series  # unscaled values and timestamps
    forecast = np.concatenate([b["forecast"].float().cpu().numpy() for b in batches])  # (N, H, T)
    series = np.concatenate([b["series"].cpu().numpy() for b in batches])  # (N,)
    t0 = np.concatenate([b["t0"].cpu().numpy() for b in batches])  # (N,)
    n_windows, horizon, n_targets = forecast.shape
    rows = t0[:, None] + np.arange(horizon)  # (N, H) row of each forecast step within its series
    actual = np.empty_like(forecast)
    timestamps = np.empty((n_windows, horizon), dtype=object)
    origins = np.empty(n_windows, dtype=object)
    for s in np.unique(series):
        mine = series == s
        values = series_frame.values[s].numpy()[:, :n_targets]  # (rows_s, T), targets first
        actual[mine] = values[rows[mine]]  # (n_s, H, T)
        stamps = series_frame.timestamps[s]
        timestamps[mine] = np.asarray(stamps[rows[mine].ravel()], dtype=object).reshape(-1, horizon)
        origins[mine] = np.asarray(stamps[t0[mine] - 1], dtype=object)
    n_rows = n_windows * horizon * n_targets
    ids = np.asarray(series_frame.series_ids, dtype=object)
    return pd.DataFrame({
        "series_id": np.repeat(ids[series], horizon * n_targets),
        "origin": np.repeat(origins, horizon * n_targets),
        "timestamp": np.repeat(timestamps.ravel(), n_targets),
        "step": np.tile(np.repeat(np.arange(1, horizon + 1), n_targets), n_windows),
        "target": np.tile(np.asarray(datamodule.target_cols, dtype=object), n_windows * horizon),
        "actual": actual.reshape(n_rows),
        "forecast": forecast.reshape(n_rows),
    }, columns=PREDICTION_COLUMNS)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score ``cfg.ckpt_path`` on ``cfg.split``; write ``eval_metrics.json`` (and ``predictions.csv``)."""
    if cfg.split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {cfg.split!r}")
    ckpt_path = Path(cfg.ckpt_path)
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(ckpt_path)!r}")
    run_config = load_run_config(ckpt_path, cfg.run_config)
    from tsbridge.module import ForecastModule  # imports Lightning: kept out of --help, completion and errors

    datamodule = build_datamodule(run_config)
    module = ForecastModule.load_from_checkpoint(ckpt_path, map_location="cpu", weights_only=True)
    trainer = build_trainer(cfg, callbacks=[], logger=False)
    loader = getattr(datamodule, f"{cfg.split}_dataloader")()
    score = trainer.test if cfg.split == "test" else trainer.validate
    (scores,) = score(module, dataloaders=loader, verbose=False)
    metrics = {name: float(value) for name, value in sorted(scores.items())}

    output_dir = Path(cfg.paths.output_dir)
    summary: dict[str, Any] = {
        "checkpoint": str(ckpt_path.resolve()),
        "split": cfg.split,
        "n_windows": len(loader.dataset),
        "metrics": metrics,
        "predictions": "",
    }
    if cfg.predictions:
        frame = predictions_frame(datamodule, trainer.predict(module, dataloaders=loader))
        summary["predictions"] = str(output_dir / "predictions.csv")
        frame.to_csv(summary["predictions"], index=False)
    write_json(output_dir / "eval_metrics.json", summary)
    lines = [f"tsbridge-eval: {summary['n_windows']} {cfg.split} windows of {ckpt_path.name}"]
    lines += [f"  {name:<22} {metrics[name]:.4f}" for name in metrics if name.split("/")[-1] in ("mse", "mae")]
    lines.append(f"  written to {output_dir}")
    print("\n".join(lines))
    return summary


@hydra.main(version_base="1.3", config_path="pkg://tsbridge.conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    """Hydra entry point of ``tsbridge-eval``."""
    with report_errors("tsbridge-eval"):
        evaluate(cfg)


if __name__ == "__main__":
    main()
