"""``tsbridge.Forecaster``: fit, predict, backtest, plot and save a tsbridge model from a notebook.

It composes the same ``conf/`` as ``tsbridge-train`` (keyword options become Hydra overrides) and builds the data
module, :class:`~tsbridge.module.ForecastModule` and Trainer with :mod:`tsbridge.config`. Lightning stays hidden
until ``trainer_kwargs=``, ``callbacks=`` or ``logger=`` ask for it.

Example::

    from tsbridge import Forecaster

    fc = Forecaster("blend", lookback=48, horizon=12, hidden_size=32, max_epochs=5)
    fc.fit(df, target="load", time_col="date", val_size=0.2)
    fc.predict()                    # the 12 steps after df, original units, indexed by timestamp
    fc.blend_weights                # {"past": 0.61, "future": 0.39}
    fc.save("model/")
    Forecaster.load("model/").predict()
"""

from __future__ import annotations

import tempfile
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from matplotlib.figure import Figure

from tsbridge import persistence
from tsbridge.callbacks import BlendWeightMonitor, plot_blend_history
from tsbridge.config import build_callbacks, build_datamodule, build_module, build_trainer, compose_config
from tsbridge.data import SeriesFrame
from tsbridge.inference import (Backtest, FittedData, Start, attention_frame, backtest_frame, backtest_metrics,
                                backtest_origins, forecast, predict_frame, resolve_freq, retrained_backtest)
from tsbridge.models import MODEL_NAMES
from tsbridge.metrics import scalar_values
from tsbridge.module import ForecastModule
from tsbridge.overrides import frame_overrides, option_overrides, override
from tsbridge.plotting import plot_series_forecast

BLEND_MODELS = ("blend", "blend_unit", "blend_gated", "feedback")


class NotFittedError(ValueError, AttributeError):
    """The Forecaster has no trained model yet (call ``fit`` or ``Forecaster.load``)."""


class MissingReadoutError(AttributeError):
    """The model has no blend (or attention) bridge to read weights from."""


class Forecaster:
    """Forecasting model with a pandas-in, pandas-out API, built from tsbridge's Hydra configs.

    Args:
        model: a ``conf/model`` name (:data:`tsbridge.models.MODEL_NAMES`), e.g. ``"blend"`` or ``"attention"``.
        lookback: look-back window L (rows the model reads).
        horizon: forecast length H (rows it forecasts).
        work_dir: where checkpoints and logs go; None uses a temporary directory removed with the object.
        **options: any key of the composed ``model``, ``module``, ``trainer`` or ``data`` config, routed to the
            node that has it (``hidden_size`` -> ``model.hidden_size``, ``max_epochs`` -> ``trainer.max_epochs``,
            ``batch_size`` -> ``data.batch_size``), plus ``lr``/``weight_decay`` (``module.optimizer.*``) and
            ``seed``. Everything not given keeps its YAML default. Unknown names raise ``TypeError``.

    Attributes:
        overrides: the Hydra overrides composed (``tsbridge-train <overrides>`` trains the same model).
        config: the composed config (after ``fit``: including that fit's data overrides).
        module: the fitted :class:`ForecastModule` (None before ``fit``).
        data: what forecasting keeps from the training frame (:class:`~tsbridge.inference.FittedData`: target and
            input columns, fitted scaler, frequency, recent rows); None before ``fit``.
        trainer: the Lightning Trainer of the last ``fit`` (None after ``load``).
        metrics: scalars logged by the last ``fit``: ``val/*`` and the readouts (``blend/past_weight_epoch``,
            ``blend/past_share``, ``importance/past``, ``importance/future``, ``attention/entropy``) of the last
            epoch, plus ``test/*`` and ``test_original/*`` of the best weights when ``test_size > 0``.
    """

    def __init__(self, model: str = "blend", lookback: int = 96, horizon: int = 24, *,
                 work_dir: str | Path | None = None, **options: Any) -> None:
        if model not in MODEL_NAMES:
            raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
        self._setup([f"model={model}", override("data.lookback", lookback), override("data.horizon", horizon)],
                    work_dir)
        if options:
            self.overrides += option_overrides(self.config, options)
            self.config = self._compose(self.overrides)

    @classmethod
    def from_config(cls, overrides: Sequence[str] = (), *, work_dir: str | Path | None = None) -> Forecaster:
        """A Forecaster from Hydra overrides, e.g. ``["model=attention", "model.hidden_size=128"]``."""
        forecaster = cls.__new__(cls)
        forecaster._setup(list(overrides), work_dir)
        return forecaster

    def _setup(self, overrides: list[str], work_dir: str | Path | None) -> None:
        self._tmp = None if work_dir is not None else tempfile.TemporaryDirectory(prefix="tsbridge-")
        self.work_dir = Path(work_dir if work_dir is not None else self._tmp.name)
        self.overrides = overrides
        self.config = self._compose(overrides)
        self.trainer: L.Trainer | None = None
        self._set_fitted(None, None)

    def _compose(self, overrides: list[str], output_dir: Path | None = None):
        cfg = compose_config(overrides)
        cfg.paths.output_dir = str(output_dir or self.work_dir)  # ${hydra:...} exists only inside a Hydra app
        return cfg

    def _set_fitted(self, module: ForecastModule | None, data: FittedData | None, fit_args: dict | None = None,
                    blend_history: list | None = None, metrics: dict | None = None) -> None:
        self.module, self.data, self._fit_args = module, data, fit_args or {}
        self._blend_history, self.metrics = blend_history or [], metrics or {}

    def __repr__(self) -> str:
        return f"Forecaster.from_config({self.overrides!r})  # fitted: {self.module is not None}"

    # ------------------------------------------------------------------ training
    def fit(self, df: pd.DataFrame, target: str | Sequence[str], *, time_col: str | None = None,
            id_col: str | None = None, features: str | Sequence[str] | None = None, val_size: float | None = None,
            test_size: float = 0.0, freq: str | None = None, max_epochs: int | None = None,
            trainer_kwargs: dict[str, Any] | None = None, callbacks: Sequence[L.Callback] | None = None,
            logger: Any = None) -> Forecaster:
        """Train from scratch on ``df``, keep the best validation epoch's weights, and return ``self``.

        Args:
            df: a wide frame (one series) or a long/panel frame with ``id_col`` (one global model).
            target: the column(s) to forecast.
            time_col: the time column; None uses the index.
            id_col: the series id column of a long frame.
            features: covariate columns (a list), or ``"S"`` (targets only), ``"MS"`` (every other numeric column
                is an input) or ``"M"`` (forecast every column); None keeps the configured ``data.features``.
            val_size: share of each series' end for validation (early stopping, best checkpoint); None keeps
                the configured ``data.split``'s.
            test_size: share after validation that is held out and evaluated into :attr:`metrics`; with 0
                (the default) every row is used for training and validation.
            freq: pandas frequency of the time axis; None infers it (error if it cannot).
            max_epochs: overrides ``trainer.max_epochs``.
            trainer_kwargs: extra ``lightning.Trainer`` arguments, winning over the config.
            callbacks: Lightning callbacks added to the configured ones (progress bar, checkpoint, early stopping,
                blend monitor).
            logger: Lightning logger(s), or False for none; None uses the configured one (CSV under ``work_dir``).
        """
        fit_args = {"target": target, "time_col": time_col, "id_col": id_col, "features": features,
                    "val_size": val_size, "test_size": test_size, "freq": freq, "max_epochs": max_epochs}
        fit_overrides = frame_overrides(self.config, target=target, time_col=time_col, id_col=id_col,
                                        features=features, val_size=val_size, test_size=test_size)
        if max_epochs is not None:
            fit_overrides.append(override("trainer.max_epochs", max_epochs))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        cfg = self._compose(self.overrides + fit_overrides, Path(tempfile.mkdtemp(prefix="fit-", dir=self.work_dir)))

        L.seed_everything(cfg.seed, workers=True, verbose=False)
        datamodule = build_datamodule(cfg, frame=df)
        freq = resolve_freq(datamodule.series, freq)
        module = build_module(cfg, datamodule)
        all_callbacks = build_callbacks(cfg) + list(callbacks or [])
        trainer = build_trainer(cfg, callbacks=all_callbacks, logger=logger, **(trainer_kwargs or {}))
        trainer.fit(module, datamodule=datamodule)
        checkpoint = trainer.checkpoint_callback
        if checkpoint is not None and checkpoint.best_model_path:  # as tsbridge-train tests: the best epoch
            state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
            module.load_state_dict(state)
        metrics = scalar_values(trainer.callback_metrics)
        if test_size:
            trainer.test(module, datamodule=datamodule, verbose=False)
            metrics.update(scalar_values(trainer.callback_metrics))
        data = FittedData.from_datamodule(datamodule, freq)
        monitor = next((c for c in all_callbacks if isinstance(c, BlendWeightMonitor)), None)
        self._set_fitted(module.cpu().eval(), data, fit_args, list(monitor.history) if monitor else [], metrics)
        self.config, self.trainer = cfg, trainer
        return self

    # ------------------------------------------------------------------ forecasting
    def _fitted(self) -> tuple[ForecastModule, FittedData]:
        if self.module is None or self.data is None:
            raise NotFittedError("this Forecaster is not fitted yet; call fit(df, target=...) or Forecaster.load(path)")
        return self.module, self.data

    def _series(self, df: pd.DataFrame | None) -> SeriesFrame:
        """``df`` validated against the training columns, or the training series when None."""
        _, data = self._fitted()
        return data.history if df is None else data.prepare(df)

    def predict(self, df: pd.DataFrame | None = None, horizon: int | None = None) -> pd.DataFrame:
        """Forecast the steps after the end of ``df`` (or of the training frame), in original units.

        Args:
            df: a frame with the training columns and at least ``lookback`` rows per series.
            horizon: steps to return, at most the trained horizon; None returns all of them.

        Returns:
            One column per target, indexed by the future timestamps (the training frequency); for a panel, by
            an ``(id_col, time)`` MultiIndex (``.reset_index()`` gives NeuralForecast's long layout).
        """
        module, data = self._fitted()
        horizon = data.horizon if horizon is None else horizon
        if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= data.horizon:
            raise ValueError(f"horizon must be an integer from 1 to the trained horizon {data.horizon}, got "
                             f"{horizon!r}; a longer forecast needs a model trained with Forecaster(horizon=...)")
        return predict_frame(module, data, self._series(df), horizon)

    def backtest(self, df: pd.DataFrame, *, start: Start = None, stride: int = 1, retrain: bool = False) -> Backtest:
        """Rolling-origin evaluation: forecast ``horizon`` steps from every ``stride``-th origin of ``df``.

        Each forecast reads only the ``lookback`` rows up to and including its origin. Without ``retrain`` all
        origins go through the fitted model in one batched pass over lazily indexed windows; with ``retrain`` a
        copy is fitted (same settings as the last ``fit``) on the rows up to each distinct origin time.

        Args:
            df: frame with the training columns.
            start: first origin: a timestamp (the first row at or after it), a row position (int), a fraction of
                each series (float in [0, 1)), or None; origins without a full look-back are skipped.
            stride: rows between origins.
            retrain: refit before every origin (slow: one training per origin).

        Returns:
            ``Backtest(forecasts, metrics)``: ``forecasts`` has columns [id_col], origin, timestamp, step, target,
            actual, forecast; ``metrics`` has one row per target (mse, mae, rmse, mape, smape).
        """
        module, data = self._fitted()
        series = data.prepare(df)
        origins = backtest_origins(series, data.lookback, data.horizon, start, stride)
        forecasts = (retrained_backtest(self._fit_until, df, data.time_col, series, origins) if retrain
                     else backtest_frame(module, data, series, origins))
        return Backtest(forecasts, backtest_metrics(forecasts))

    def _fit_until(self, frame: pd.DataFrame) -> tuple[ForecastModule, FittedData]:
        """A copy of this forecaster fitted on ``frame`` with the last fit's arguments (for retraining backtests)."""
        refit = type(self).from_config(self.overrides, work_dir=self.work_dir).fit(frame, **self._fit_args)
        return refit.module, refit.data

    # ------------------------------------------------------------------ readouts
    def _readout(self, kind: str) -> Any:
        module, _ = self._fitted()
        part = getattr(module.net, kind, None)
        if part is None:
            name = self.config.model.get("bridge") or str(self.config.model._target_).rsplit(".", 1)[-1]
            hint = (f"models with one: {', '.join(BLEND_MODELS)}; for any bidirectional model, fit logs "
                    "importance/past and importance/future") if kind == "blend" else "use model='attention'"
            raise MissingReadoutError(f"model {name!r} has no {kind} bridge, so it has no {kind} weights ({hint})")
        return part

    @property
    def blend_weights(self) -> dict[str, Any]:
        """``{"past": a, "future": 1 - a}``: the learned weight of the forward (past-facing) BiLSTM states.

        For ``blend_unit`` the mean over units. A ``blend_gated`` weight depends on the input: it is the mean gate
        of the forecast from the end of the training data, with ``"profile"``: the mean a per look-back position.
        """
        blend = self._readout("blend")
        if blend.granularity == "gated":  # the gate readouts describe the last forward pass: make it a known one
            windows = self.data.last_windows(self.data.history)
            forecast(self.module, windows, batch_size=len(windows))
        past = float(blend.past_weight())
        weights: dict[str, Any] = {"past": past, "future": 1.0 - past}
        profile = blend.past_profile()
        if profile is not None:
            weights["profile"] = profile.cpu().numpy()
        return weights

    @property
    def blend_history(self) -> pd.DataFrame:
        """The past/future weight per training step (step, epoch, past_weight, future_weight)."""
        return pd.DataFrame(self._blend_history, columns=["step", "epoch", "past_weight", "future_weight"])

    def attention_weights(self, df: pd.DataFrame | None = None) -> pd.DataFrame:
        """Attention over the look-back of the forecast from the end of ``df`` (or the training frame).

        Returns:
            Columns ``lag`` -L .. -1 (-1: the last observed step), rows the decoder positions that query
            (``query``; one with ``head="last"``), under the series id for panels. Each row sums to 1.
        """
        self._readout("attention")
        return attention_frame(*self._fitted(), self._series(df))

    # ------------------------------------------------------------------ figures
    def plot(self, df: pd.DataFrame | None = None, *, origin: Any = None, series_id: Hashable | None = None,
             history: int | None = None) -> Figure:
        """History, forecast and actuals of one series as a matplotlib Figure (one panel per target).

        Args:
            df: the data (None: the training frame).
            origin: forecast from the last row at or before this time and draw the actual values after it;
                None forecasts past the end of the data.
            series_id: the series of a panel (None: the first).
            history: rows of history drawn (None: the ``lookback`` rows the forecast reads).
        """
        return plot_series_forecast(*self._fitted(), self._series(df), series_id, origin, history)

    def plot_blend(self) -> Figure:
        """The past (forward) and future (backward) blend weights over the training steps."""
        self._readout("blend")
        if not self._blend_history:
            raise RuntimeError("no blend trajectory was recorded: the configured callbacks had no "
                               "BlendWeightMonitor (callbacks=default has one)")
        return plot_blend_history(self._blend_history)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted forecaster to directory ``path`` (see :mod:`tsbridge.persistence`)."""
        module, data = self._fitted()
        extras = {"fit_args": self._fit_args, "blend_history": self._blend_history, "metrics": self.metrics}
        return persistence.save(path, self.overrides, module, data, extras)

    @classmethod
    def load(cls, path: str | Path, *, work_dir: str | Path | None = None) -> Forecaster:
        """Load a forecaster written by :meth:`save`; it predicts exactly as the saved one.

        Nothing is unpickled: weights are read with ``torch.load(weights_only=True)`` and the net is built only
        from tsbridge's own classes. A tampered directory raises :class:`~tsbridge.persistence.UnsafeCheckpointError`.
        """
        saved = persistence.load(path)
        forecaster = cls.from_config(saved.overrides, work_dir=work_dir)
        forecaster._set_fitted(saved.module, saved.data, **saved.extras)
        return forecaster
