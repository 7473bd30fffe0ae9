"""``tsbridge-train``: fit a model from ``conf/``, test it on the best checkpoint, write ``metrics.json``.

Examples::

    tsbridge-train                                   # blend bridge on the built-in synthetic data
    tsbridge-train experiment=smoke                  # a seconds-long end-to-end check
    tsbridge-train model=attention data=etth1 data.horizon=96 trainer.max_epochs=20
    tsbridge-train -m model=concat,blend,attention   # a multirun sweep, one folder per job
    tsbridge-train ckpt_path=outputs/train/<run>/checkpoints/last.ckpt   # resume an interrupted run
"""

from __future__ import annotations

import math
import os
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from tsbridge.cli.common import hydra_command, route_lightning_logs, write_json

if TYPE_CHECKING:
    from tsbridge.fitting import FitResult

#: What the summary says each headline metric measures (README repeats it).
METRIC_MEANINGS = {
    "test/mse": "mean squared error on the scaled values (the literature's number)",
    "test/mae": "mean absolute error on the scaled values",
    "test_original/mae": "mean absolute error in the data's own units",
    "test/mase": "MAE over the in-window seasonal naive MAE; below 1 beats repeating last season's value",
    "test_original/smape": "symmetric absolute percentage error, 0 (perfect) to 2",
}


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit and test as ``cfg`` says; return the summary written to ``metrics.json``."""
    from tsbridge.fitting import fit  # imports Lightning: --help and tab completion stay fast

    route_lightning_logs()

    started = datetime.now().astimezone()
    result = fit(cfg)
    summary: dict[str, Any] = {
        "model": result.model,
        "optimized_metric": cfg.optimized_metric,
        "val": result.val,
        "test": result.test,
        "readouts": result.readouts,
        "best_checkpoint": result.best_checkpoint,
        "last_checkpoint": result.last_checkpoint,
        "epochs": result.epochs,
        "global_step": result.global_step,
        "world_size": result.trainer.world_size,
        "fit_seconds": round(result.fit_seconds, 3),
        "started": started.isoformat(timespec="milliseconds"),
        "finished": datetime.now().astimezone().isoformat(timespec="milliseconds"),
        # Where a sweep job ran: a launcher's worker process, or a cluster node under submitit.
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "run_dir": str(result.run_dir),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    if result.trainer.is_global_zero:
        summary["forecast"] = _write_forecast(result, Path(cfg.paths.output_dir)) if cfg.get("forecast", True) else ""
        write_json(Path(cfg.paths.output_dir) / "metrics.json", summary)
        _print_summary(summary)
    return summary


def _write_forecast(result: FitResult, output_dir: Path) -> str:
    """``forecast.csv`` and ``forecast.png`` of the horizon after the data's end; "" (and why, on stderr) for a
    model that needs the future features' values, which only ``tsbridge-predict future=<file>`` can give."""
    from tsbridge.cli.predict import forecast_files

    if result.predictor.future_features:
        print(f"tsbridge-train: no forecast.csv: {result.model} reads future features; run tsbridge-predict "
              f"ckpt_path={result.best_checkpoint} future=<their values for the next steps>", file=sys.stderr)
        return ""
    return forecast_files(result.predictor, output_dir)["forecast"]


def _print_summary(summary: dict[str, Any]) -> None:
    lines = [f"tsbridge-train: {summary['model']} trained {summary['epochs']} epochs in {summary['fit_seconds']:.1f} s"]
    metrics = summary["test"] or summary["val"]
    for name, meaning in METRIC_MEANINGS.items():
        name = name if summary["test"] else name.replace("test", "val", 1)
        if name in metrics:
            lines.append(f"  {name:<20} {metrics[name]:.4f}  {meaning}")
    readouts = summary["readouts"]
    if "blend/past_weight" in readouts:
        past = readouts["blend/past_weight"]
        lines.append(f"  learned blend weight: past (forward states) {past:.3f} | "
                     f"future (backward states) {1 - past:.3f}")
    for side in ("past", "future"):
        if f"importance/{side}" in readouts:
            increase = readouts[f"importance/{side}"]
            lines.append(f"  importance/{side:<7} {increase:+.3f} (val loss increase when blanked)")
    lines.append(f"  written to {summary['run_dir']}")
    print("\n".join(lines))


def optimized_value(cfg: DictConfig, summary: dict[str, Any] | None) -> float:
    """The optimised metric of a finished job, for sweepers (Optuna minimises it); NaN for a failed sweep job (its
    error is recorded in its folder, and the sweep goes on), which Optuna records as a failed trial."""
    if summary is None:
        return math.nan
    return summary["val"].get(cfg.optimized_metric, summary["test"].get(cfg.optimized_metric))


main = hydra_command("tsbridge-train", "train", train, optimized_value)


if __name__ == "__main__":
    main()
