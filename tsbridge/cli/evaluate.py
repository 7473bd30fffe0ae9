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

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from tsbridge.cli.common import hydra_command, route_lightning_logs, write_json
from tsbridge.cli.runs import load_run
from tsbridge.config import build_trainer

SPLITS = ("test", "val")


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score ``cfg.ckpt_path`` on ``cfg.split``; write ``eval_metrics.json`` (and ``predictions.csv``), under DDP
    on rank 0 only."""
    if cfg.split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {cfg.split!r}")
    ckpt_path = Path(cfg.ckpt_path)
    _, datamodule, module = load_run(ckpt_path, cfg.run_config)
    from tsbridge.predictor import Predictor  # imports Lightning: kept out of --help, completion and errors

    route_lightning_logs()
    trainer = build_trainer(cfg, callbacks=[], logger=False)
    score = trainer.test if cfg.split == "test" else trainer.validate
    # The trainer asks the data module for the loader: under DDP it then gives each rank its share of the windows,
    # each window once (a loader built here would get Lightning's padded sampler, which scores some twice).
    (scores,) = score(module, datamodule=datamodule, verbose=False)
    metrics = {name: float(value) for name, value in sorted(scores.items())}
    dataset = getattr(datamodule, f"{cfg.split}_dataset")

    output_dir = Path(cfg.paths.output_dir)
    summary: dict[str, Any] = {
        "checkpoint": str(ckpt_path.resolve()),
        "model": module.model_name,
        "split": cfg.split,
        "n_windows": len(dataset),
        "metrics": metrics,
        "predictions": "",
    }
    if not trainer.is_global_zero:  # another DDP rank: the metrics are everyone's, rank 0 writes them
        return summary
    if cfg.predictions:
        predictor = Predictor.from_datamodule(module, datamodule)
        summary["predictions"] = str(output_dir / "predictions.csv")
        table = predictor.forecast_table(datamodule.series, dataset.origins())  # every window of the split
        table.to_csv(summary["predictions"], index=False)
    write_json(output_dir / "eval_metrics.json", summary)
    lines = [f"tsbridge-eval: {summary['n_windows']} {cfg.split} windows of {ckpt_path.name} ({module.model_name})"]
    lines += [f"  {name:<22} {metrics[name]:.4f}" for name in metrics if name.split("/")[-1] in ("mse", "mae")]
    lines.append(f"  written to {output_dir}")
    print("\n".join(lines))
    return summary


main = hydra_command("tsbridge-eval", "eval", evaluate)


if __name__ == "__main__":
    main()
