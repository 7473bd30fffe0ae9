"""``tsbridge-train``: fit a model from ``conf/``, test it on the best checkpoint, write ``metrics.json``.

Examples::

    tsbridge-train                                   # blend bridge on the built-in synthetic data
    tsbridge-train experiment=smoke                  # a seconds-long end-to-end check
    tsbridge-train model=attention data=etth1 data.horizon=96 trainer.max_epochs=20
    tsbridge-train -m model=concat,blend,attention   # a multirun sweep, one folder per job
    tsbridge-train ckpt_path=outputs/train/<run>/checkpoints/last.ckpt   # resume an interrupted run
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
from omegaconf import DictConfig, OmegaConf

from tsbridge.cli.common import report_errors, write_json
from tsbridge.config import build_datamodule, build_module, build_trainer

if TYPE_CHECKING:
    import lightning as L


def _continue_checkpoints_of(trainer: L.Trainer, ckpt_path: str) -> None:
    """Save a resumed run's checkpoints next to the one it resumes from.

    Lightning restores the checkpoint callback's best-model bookkeeping only when its folder is unchanged; in
    the new run's folder the first epoch after resuming would become "best" whatever its score.
    """
    callback = trainer.checkpoint_callback
    if callback is not None:
        callback.dirpath = str(Path(ckpt_path).resolve().parent)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit and test as ``cfg`` says; return the summary written to ``metrics.json``."""
    import lightning as L  # here, not at the top: --help and tab completion stay fast

    from tsbridge.metrics import scalar_values

    started = datetime.now().astimezone()
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule)
    trainer = build_trainer(cfg)
    if cfg.ckpt_path:
        _continue_checkpoints_of(trainer, cfg.ckpt_path)

    fit_started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    fit_seconds = time.perf_counter() - fit_started
    fit_metrics = scalar_values(trainer.callback_metrics)

    checkpoint = trainer.checkpoint_callback
    best_path = checkpoint.best_model_path if checkpoint is not None else ""
    test_metrics: dict[str, float] = {}
    if cfg.test:
        # Without a checkpoint callback the last weights are tested.
        trainer.test(module, datamodule=datamodule, ckpt_path=best_path or None, verbose=False)
        test_metrics = scalar_values(trainer.callback_metrics)

    summary: dict[str, Any] = {
        "model": cfg.model.get("bridge") or str(cfg.model._target_).rsplit(".", 1)[-1],
        "optimized_metric": cfg.optimized_metric,
        "val": {k: v for k, v in fit_metrics.items() if k.startswith("val")},
        "test": {k: v for k, v in test_metrics.items() if k.startswith("test")},
        "readouts": {k: v for k, v in fit_metrics.items() if k.split("/")[0] in ("blend", "importance", "attention")},
        "best_checkpoint": best_path,
        "last_checkpoint": str(Path(checkpoint.dirpath) / "last.ckpt") if checkpoint and checkpoint.save_last else "",
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "world_size": trainer.world_size,
        "fit_seconds": round(fit_seconds, 3),
        "started": started.isoformat(timespec="milliseconds"),
        "finished": datetime.now().astimezone().isoformat(timespec="milliseconds"),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    if trainer.is_global_zero:
        write_json(Path(cfg.paths.output_dir) / "metrics.json", summary)
        _print_summary(summary)
    return summary


def _print_summary(summary: dict[str, Any]) -> None:
    lines = [f"tsbridge-train: {summary['model']} trained {summary['epochs']} epochs in {summary['fit_seconds']:.1f} s"]
    for name in ("test/mse", "test/mae", "test_original/mae", "test/mase"):
        if name in summary["test"]:
            lines.append(f"  {name:<20} {summary['test'][name]:.4f}")
    readouts = summary["readouts"]
    if "blend/past_weight_epoch" in readouts:
        past = readouts["blend/past_weight_epoch"]
        lines.append(f"  learned blend weight: past (forward states) {past:.3f} | "
                     f"future (backward states) {1 - past:.3f}")
    for side in ("past", "future"):
        if f"importance/{side}" in readouts:
            increase = readouts[f"importance/{side}"]
            lines.append(f"  importance/{side:<7} {increase:+.3f} (val loss increase when blanked)")
    print("\n".join(lines))


@hydra.main(version_base="1.3", config_path="pkg://tsbridge.conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns the optimised metric so sweepers (Optuna) can minimise it."""
    with report_errors("tsbridge-train"):
        summary = train(cfg)
    return summary["val"].get(cfg.optimized_metric, summary["test"].get(cfg.optimized_metric))


if __name__ == "__main__":
    main()
