"""The one fit path: seed, build, fit, keep the best weights, validate and test them, return a :class:`FitResult`.

``tsbridge-train``, :meth:`tsbridge.Forecaster.fit` (and its retraining backtest) and ``benchmarks/accuracy.py``
all call :func:`fit`, so a new head, loss or input is threaded through this one place (GluonTS's split: this is
the estimator's ``train``; the :class:`~tsbridge.predictor.Predictor` it returns forecasts).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import pandas as pd
import torch
from omegaconf import DictConfig

from tsbridge.calibration import ConformalCalibration
from tsbridge.callbacks import BlendWeightMonitor
from tsbridge.config import (build_callbacks, build_datamodule, build_module, build_trainer, calibration_method,
                             check_options)
from tsbridge.errors import CorruptFileError
from tsbridge.metrics import interval_scores, scalar_values
from tsbridge.persistence import load_tensors
from tsbridge.predictor import Backtest, Predictor, Start, backtest_metrics
from tsbridge.threads import AUTO, torch_threads

if TYPE_CHECKING:
    from tsbridge.data import WindowDataModule, WindowDataset
    from tsbridge.module import ForecastModule

#: Prefixes of the logged names kept as readouts (the rest are val/test metrics).
READOUT_PREFIXES = ("blend", "importance", "attention")

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What one :func:`fit` produced.

    Attributes:
        model: the registry name of the model (``blend_gated``, ``feedback`` ...).
        module: the fitted :class:`~tsbridge.module.ForecastModule`, holding the best validation epoch's weights
            (the last ones without a checkpoint callback), on the CPU in eval mode.
        datamodule: the data module it was trained on (scaler fitted on its training rows).
        trainer: the Lightning Trainer.
        val: ``val/*`` and ``val_original/*`` of those weights (one validation pass after fitting).
        test: ``test/*`` and ``test_original/*`` of the same weights; empty without a test part or ``cfg.test``.
            With calibration also ``test_calibrated_original/*``: crps, coverage and width of the calibrated
            intervals on the same test windows.
        readouts: scalar readouts of those weights on the validation windows (``blend/past_weight``: the mean
            past weight a, ``blend/future_weight``, ``blend/past_share``, ``importance/past`` ...).
        validation_readouts: the same validation pass's readout tensors (``blend/profile`` ...).
        blend_history: the past weight per training step (``step, epoch, past_weight, future_weight``), from the
            :class:`~tsbridge.callbacks.BlendWeightMonitor` when one ran.
        best_checkpoint: the best validation epoch's checkpoint ("" when none was written).
        last_checkpoint: the last epoch's state, ``checkpoints/last.ckpt``, which a run resumes from ("" when
            none was written).
        run_dir: the run's output folder (``cfg.paths.output_dir``).
        epochs, global_step: training epochs and optimizer steps done (with ``refit``: of the selection run).
        fit_seconds: wall time of ``trainer.fit`` (with ``refit``: both fits).
        calibration: the conformal calibration on the validation windows (``cfg.calibration``), or None.
        refit_epochs: with ``cfg.refit``, the epochs the returned weights trained on the training and validation
            windows (the selection run's best epoch count); None without.
        selection_module: with ``cfg.refit``, the selection run's best weights (the ones ``val`` scores), on the
            CPU in eval mode; None without (``module`` holds them then).

    With ``cfg.refit`` the returned ``module`` is the refitted one (``test`` scores it, ``best_checkpoint`` is its
    ``checkpoints/refit.ckpt``), while ``val``, ``readouts`` and ``validation_readouts`` stay those of the selection
    run's best weights: the refitted model trained on the validation windows, so no score of it on them is honest.
    ``blend_history`` is the refit's. :meth:`validation_forecasts` forecasts with the selection run's weights.
    """

    model: str
    module: ForecastModule
    datamodule: WindowDataModule
    trainer: L.Trainer
    val: dict[str, float]
    test: dict[str, float]
    readouts: dict[str, float]
    validation_readouts: dict[str, torch.Tensor] = field(repr=False)
    blend_history: list[dict[str, float]]
    best_checkpoint: str
    last_checkpoint: str
    run_dir: Path
    epochs: int
    global_step: int
    fit_seconds: float
    calibration: ConformalCalibration | None = None
    refit_epochs: int | None = None
    selection_module: ForecastModule | None = field(default=None, repr=False)

    @property
    def metrics(self) -> dict[str, float]:
        """``val``, ``test`` and ``readouts`` in one flat dict."""
        return {**self.val, **self.test, **self.readouts}

    def validation_forecasts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Point forecasts and actuals (N, H, T) of every validation window, in the data module's order and in
        original units (float64), by the weights ``val`` scores: the selection run's with ``refit`` (the refitted
        model trained on these windows). What several fits are combined and compared on without reading the test
        part: an ensemble's validation score is that of its combined forecasts, not the mean of its members'.
        The median for interval models, uncalibrated (calibration is fitted on these windows).

        Raises:
            ValueError: the data has no validation part.
        """
        module = self.module if self.selection_module is None else self.selection_module
        predictor = Predictor.from_datamodule(module, self.datamodule)
        dataset = self.datamodule.val_dataset
        if dataset is None or not len(dataset):
            raise ValueError("no validation windows to forecast: give the data a validation part (val_size / "
                             "data.split)")
        origins = dataset.origins()
        forecast = predictor.forecast(predictor.windows(predictor.history, origins), raw=True).point
        return forecast, predictor.actuals(predictor.history, origins)

    @cached_property
    def predictor(self) -> Predictor:
        """The fitted model with what forecasting needs of the training data (built on first use)."""
        return replace(Predictor.from_datamodule(self.module, self.datamodule), calibration=self.calibration)


def _continue_checkpoints_of(trainer: L.Trainer, ckpt_path: str) -> None:
    """Save a resumed run's checkpoints (the best and ``last.ckpt``) next to the one it resumes from.

    Lightning restores the checkpoint callbacks' best-model bookkeeping only when their folder is unchanged; in
    the new run's folder the first epoch after resuming would become "best" whatever its score.
    """
    for callback in trainer.checkpoint_callbacks:
        callback.dirpath = str(Path(ckpt_path).resolve().parent)


def _best_checkpoint(trainer: L.Trainer) -> str:
    """The best epoch's file of the first checkpoint callback with a monitor; "" when none was written."""
    return next((c.best_model_path for c in trainer.checkpoint_callbacks if c.monitor is not None), "")


def _last_checkpoint(trainer: L.Trainer) -> str:
    """The file of the last epoch's state: what a checkpoint callback without a monitor keeps (``last.ckpt`` of
    ``conf/callbacks/default.yaml``), else a ``save_last`` file; "" when none was written."""
    for callback in trainer.checkpoint_callbacks:
        if callback.monitor is None and callback.best_model_path:
            return callback.best_model_path
    return next((c.last_model_path for c in trainer.checkpoint_callbacks if c.last_model_path), "")


def _check_resumable(ckpt_path: str) -> None:
    """Read ``ckpt_path`` with :func:`~tsbridge.persistence.load_tensors` before Lightning does.

    Lightning reads a resumed checkpoint with torch's own errors (an ``OSError`` traceback for a truncated file,
    advice to unpickle for a foreign one); this names the file and what is wrong with it instead.

    Raises:
        CorruptFileError: a truncated or damaged file, or one that is not a Lightning checkpoint.
        UnsafeCheckpointError: a file holding pickled objects besides tensors.
    """
    if ckpt_path in ("last", "best", "hpc", "registry") or not Path(ckpt_path).is_file():
        return  # Lightning's own names for checkpoints it finds, and its own error for a missing file
    checkpoint = load_tensors(Path(ckpt_path), what="checkpoint")
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CorruptFileError(f"{ckpt_path} is not a tsbridge-train checkpoint (no state_dict); resume from a "
                               "checkpoints/last.ckpt that tsbridge-train wrote")


def _load_best(module: ForecastModule, trainer: L.Trainer) -> str:
    """Load the best checkpoint's weights into ``module`` (reading the file only); return its path ("" when there
    is none)."""
    best = _best_checkpoint(trainer)
    if best:
        state = torch.load(best, map_location=module.device, weights_only=True)["state_dict"]
        module.load_state_dict(state)
    return best


def fit(cfg: DictConfig, frame: pd.DataFrame | None = None, *, callbacks: Sequence[L.Callback] = (),
        logger: Any = None, trainer_kwargs: dict[str, Any] | None = None) -> FitResult:
    """Train the model ``cfg`` describes and evaluate its best weights.

    Seeds everything with ``cfg.seed``, builds the data module (from ``frame`` when given, else from
    ``cfg.data``), the module and the Trainer, fits (resuming from ``cfg.ckpt_path`` when set), loads the best
    checkpoint, runs one validation pass over it (its metrics and clean readouts) and, when ``cfg.test`` is true
    and the data has a test part, tests it.

    With ``cfg.refit`` true, the model is then trained again from the same initial weights on the training *and*
    validation windows for the best run's epoch count (:func:`refit`), and that model is tested and returned:
    the validation part chooses when to stop, then teaches too. Short series gain the most (an M3 yearly series
    whose training rows before the validation cut hold no window trains on its validation rows).

    Args:
        cfg: a composed ``train`` config (:func:`tsbridge.config.compose_config`, or Hydra's).
        frame: the training data, replacing ``cfg.data.frame``.
        callbacks: Lightning callbacks added to the configured ones.
        logger: Lightning logger(s), or False for none; None uses the configured ones.
        trainer_kwargs: extra ``lightning.Trainer`` arguments, winning over ``cfg.trainer``.

    torch's CPU threads are set by ``cfg.threads`` (:mod:`tsbridge.threads`; ``auto``: the free cores) for the
    whole call and restored afterwards.
    """
    with torch_threads(cfg.get("threads", AUTO)):
        return _fit(cfg, frame, callbacks, logger, trainer_kwargs)


def _fit(cfg: DictConfig, frame: pd.DataFrame | None, callbacks: Sequence[L.Callback], logger: Any,
         trainer_kwargs: dict[str, Any] | None) -> FitResult:
    check_options(cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(cfg, frame)
    # Which columns became inputs follows a rule (data.features: "MS", the default data's, takes every other numeric
    # column), so the fit says what it chose.
    future = datamodule.input_cols[datamodule.n_inputs - datamodule.n_future :]
    log.info("forecasting %s from the input columns %s%s", datamodule.target_cols, datamodule.input_cols,
             f" ({future} known for the forecast steps too)" if future else "")
    module = build_module(cfg, datamodule)
    trainer = build_trainer(cfg, callbacks=build_callbacks(cfg) + list(callbacks), logger=logger,
                            **(trainer_kwargs or {}))
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path:
        _check_resumable(ckpt_path)
        _continue_checkpoints_of(trainer, ckpt_path)
    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    fit_seconds = time.perf_counter() - started
    best = _load_best(module, trainer)
    # Empty when validation is off (limit_val_batches=0). Without a bar: it repeats the last epoch's validation
    # bar for the best weights, and would print every epoch's line a second time.
    bar = trainer.progress_bar_callback
    if bar is not None:
        bar.disable()
    validated = next(iter(trainer.validate(module, datamodule=datamodule, verbose=False)), {})
    if bar is not None:
        bar.enable()
    validated = scalar_values(validated)
    readouts = {k: v for k, v in validated.items() if k.split("/")[0] in READOUT_PREFIXES}
    past = module.validation_readouts.get("blend/past_weight")
    if past is not None:
        readouts.update({"blend/past_weight": float(past), "blend/future_weight": 1.0 - float(past)})
    validation_readouts = dict(module.validation_readouts)
    selection, selection_module = trainer, None
    refit_epochs = None
    if cfg.get("refit", False):
        selection_module = module.cpu().eval()
        refit_epochs = best_epochs(selection, best)
        started = time.perf_counter()
        module, trainer, best = refit(cfg, datamodule, refit_epochs, callbacks, trainer_kwargs)
        fit_seconds += time.perf_counter() - started
    test: dict[str, float] = {}
    if cfg.get("test", True) and len(datamodule.test_dataset):
        test = scalar_values(next(iter(trainer.test(module, datamodule=datamodule, verbose=False)), {}))
    monitor = next((c for c in trainer.callbacks if isinstance(c, BlendWeightMonitor)), None)
    calibration = None
    if calibration_method(cfg):
        calibrated = calibrated_predictor(cfg, module, datamodule)
        calibration = calibrated.calibration
        if test:
            test.update(_calibrated_scores(calibrated, datamodule.test_dataset))
    return FitResult(
        model=module.model_name, module=module.cpu().eval(), datamodule=datamodule, trainer=trainer,
        val={k: v for k, v in validated.items() if k.startswith("val")}, test=test, readouts=readouts,
        validation_readouts=validation_readouts,
        blend_history=list(monitor.history) if monitor is not None else [],
        best_checkpoint=best, last_checkpoint=_last_checkpoint(selection),
        run_dir=Path(cfg.paths.output_dir), epochs=selection.current_epoch, global_step=selection.global_step,
        fit_seconds=fit_seconds, calibration=calibration, refit_epochs=refit_epochs,
        selection_module=selection_module,
    )


def best_epochs(trainer: L.Trainer, best_checkpoint: str) -> int:
    """How many epochs the kept weights trained for: the best checkpoint's epoch + 1, or every epoch run when no
    checkpoint was kept (the last weights are the ones returned then)."""
    if not best_checkpoint:
        return max(trainer.current_epoch, 1)
    return int(load_tensors(Path(best_checkpoint), what="checkpoint")["epoch"]) + 1


def refit(cfg: DictConfig, datamodule: WindowDataModule, epochs: int, callbacks: Sequence[L.Callback] = (),
          trainer_kwargs: dict[str, Any] | None = None) -> tuple[ForecastModule, L.Trainer, str]:
    """Train ``cfg``'s model again, from the same seed and so the same initial weights, on ``datamodule``'s training
    and validation windows for ``epochs`` epochs, with no validation, early stopping or best-epoch checkpoint;
    return the module, its trainer and its ``checkpoints/refit.ckpt`` ("" without a configured checkpoint folder).

    The scaler stays the one fitted on the training rows (:meth:`WindowDataModule.train_through_validation`).
    """
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    datamodule.train_through_validation()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = build_module(cfg, datamodule)
    configured = build_callbacks(cfg) + list(callbacks)
    folder = next((c.dirpath for c in configured if isinstance(c, ModelCheckpoint) and c.dirpath), None)
    kept = [c for c in configured if not isinstance(c, (EarlyStopping, ModelCheckpoint))]
    if folder is not None:
        kept.append(ModelCheckpoint(dirpath=folder, filename="refit", enable_version_counter=False))
    # Its own logger would restart the selection run's step count in the same files; the refit logs nothing.
    trainer = build_trainer(cfg, callbacks=kept, logger=False, **{
        **(trainer_kwargs or {}), "max_epochs": epochs, "min_epochs": None,
        "limit_val_batches": 0, "num_sanity_val_steps": 0})
    with warnings.catch_warnings():  # the folder holds the selection run's checkpoints, as it should
        warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
        trainer.fit(module, datamodule=datamodule)
    checkpoint = str(Path(folder) / "refit.ckpt") if folder is not None else ""
    return module, trainer, checkpoint


def calibrated_predictor(cfg: DictConfig, module: ForecastModule, datamodule: WindowDataModule) -> Predictor:
    """``module``'s predictor over ``datamodule``'s data with conformal margins at ``cfg.module.levels`` from the
    validation windows (as ``cfg.calibration`` says; a rebuilt run recomputes them the same way: one forecasting
    pass)."""
    predictor = Predictor.from_datamodule(module, datamodule)  # sets the data module up
    if datamodule.val_dataset is None or not len(datamodule.val_dataset):
        raise ValueError("calibration needs validation windows, which the model never trained on; give the data a "
                         "validation part (val_size / data.split)")
    levels = list(cfg.module.levels)
    return predictor.calibrated(predictor.history, datamodule.val_dataset.origins(), levels,
                                bool(cfg.calibration.get("per_series", False)))


def _calibrated_scores(predictor: Predictor, dataset: WindowDataset) -> dict[str, float]:
    """``test_calibrated_original/`` crps, coverage and width of ``predictor``'s intervals on ``dataset``'s windows
    (every target and step pooled, as the module's ``test_original/`` interval metrics are)."""
    origins = dataset.origins()
    forecast = predictor.forecast(predictor.windows(predictor.history, origins), predictor.history.series_ids)
    scores = interval_scores(predictor.actuals(predictor.history, origins), forecast.quantiles, predictor.levels)
    return {f"test_calibrated_original/{name}": value for name, value in scores.items()}


def refit_backtest(fit_frame: Callable[[pd.DataFrame], FitResult], predictor: Predictor, frame: pd.DataFrame,
                   start: Start = None, stride: int = 1) -> Backtest:
    """:meth:`Predictor.backtest` with a model fitted again, by ``fit_frame(rows)``, on the rows up to each distinct
    origin time (origins sharing a time, as in panels, share one fit). ``predictor`` reads and windows ``frame``."""
    series = predictor.prepare(frame)
    origins = predictor.origins(series, start, stride)
    times = [series.timestamps[s][origin] for s, origin in origins.tolist()]
    raw_times = pd.Index(frame.index if predictor.time_col is None else frame[predictor.time_col])
    if isinstance(series.timestamps[0], pd.DatetimeIndex):
        raw_times = pd.to_datetime(raw_times)
    parts = []
    for cutoff in sorted(set(times)):
        refit = fit_frame(frame[raw_times <= cutoff]).predictor
        chosen = origins[torch.tensor([t == cutoff for t in times])]
        parts.append(refit.forecast_table(refit.prepare(frame), chosen))
    forecasts = pd.concat(parts, ignore_index=True)
    return Backtest(forecasts, backtest_metrics(forecasts, predictor.levels))
