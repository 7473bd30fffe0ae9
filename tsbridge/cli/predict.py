"""``tsbridge-predict``: forecast the steps after the end of a trained run's data; write ``forecast.csv`` and
``forecast.png``.

Examples::

    tsbridge-predict ckpt_path=outputs/train/<run>/checkpoints/last.ckpt
    tsbridge-predict ckpt_path=outputs/train/<run>/checkpoints/last.ckpt data.frame.path=newer.csv
    tsbridge-predict ckpt_path=outputs/train/<run>/checkpoints/last.ckpt future=tomorrow.csv

The run is read back as ``tsbridge-eval`` reads it (:mod:`tsbridge.cli.runs`: a checked config, the scaler refitted
on the same training rows, weights only), so a forecast of a newer file uses the training run's scaling; a run
trained with conformal calibration has its margins recomputed on its validation windows, as its fit did.
``forecast.csv`` holds :meth:`tsbridge.predictor.Predictor.predict`'s frame: the time column (and the id column of a
panel), one column per target and, for interval models, ``<target>-lo-<level>`` / ``-hi-<level>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from omegaconf import DictConfig

from tsbridge.cli.common import hydra_command, route_lightning_logs, write_json
from tsbridge.cli.runs import load_run

if TYPE_CHECKING:
    from tsbridge.predictor import Predictor


def _read_future(path: str | None, predictor: Predictor) -> pd.DataFrame | None:
    """The future-features file, its time column parsed as the training data's was."""
    if path is None:
        return None
    from tsbridge.data import read_frame

    future = read_frame(path)
    if predictor.time_col in future.columns and predictor.freq is not None:
        future[predictor.time_col] = pd.to_datetime(future[predictor.time_col])
    return future


def forecast_files(predictor: Predictor, output_dir: Path, frame: pd.DataFrame | None = None,
                   future: pd.DataFrame | None = None, plot: bool = True) -> dict[str, Any]:
    """Write ``forecast.csv`` (the horizon after the end of ``frame``, None: the predictor's data) and, with
    ``plot``, ``forecast.png`` (the first series) into ``output_dir``; return what was written."""
    from tsbridge.plotting import plot_series_forecast

    forecast = predictor.predict(frame, future=future)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = {"forecast": str(output_dir / "forecast.csv"), "plot": ""}
    forecast.reset_index().to_csv(written["forecast"], index=False)
    if plot:
        figure = plot_series_forecast(predictor, predictor.prepare(frame), None, None, None, future)
        written["plot"] = str(output_dir / "forecast.png")
        figure.savefig(written["plot"], dpi=120, bbox_inches="tight")
    stamps = forecast.index.get_level_values(-1)
    written.update(first=str(stamps.min()), last=str(stamps.max()), rows=len(forecast))
    return written


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Forecast past the end of ``cfg.ckpt_path``'s run data (or of ``cfg.data.frame.path``); write the files and
    ``predict.json`` into the command's run folder."""
    run_config, datamodule, module = load_run(Path(cfg.ckpt_path), cfg.run_config)
    from tsbridge.config import calibration_method
    from tsbridge.data import read_frame
    from tsbridge.fitting import calibrated_predictor
    from tsbridge.predictor import Predictor  # imports Lightning: kept out of --help, completion and errors

    route_lightning_logs()
    if calibration_method(run_config):  # a checkpoint holds no margins: recompute them as the run's fit did
        predictor = calibrated_predictor(run_config, module, datamodule)
    else:
        predictor = Predictor.from_datamodule(module, datamodule)
    frame = None if cfg.data.frame.path is None else read_frame(cfg.data.frame.path)
    output_dir = Path(cfg.paths.output_dir)
    written = forecast_files(predictor, output_dir, frame, _read_future(cfg.future, predictor), cfg.plot)
    summary = {"checkpoint": str(Path(cfg.ckpt_path).resolve()), "model": module.model_name,
               "data": cfg.data.frame.path or "the training run's", **written}
    write_json(output_dir / "predict.json", summary)
    print(f"tsbridge-predict: {written['rows']} forecast rows from {written['first']} to {written['last']} "
          f"({module.model_name})\n  written to {output_dir}")
    return summary


main = hydra_command("tsbridge-predict", "predict", predict)


if __name__ == "__main__":
    main()
