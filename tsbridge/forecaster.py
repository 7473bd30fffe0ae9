"""``tsbridge.Forecaster``: the notebook facade over :func:`tsbridge.fitting.fit` and
:class:`~tsbridge.predictor.Predictor`.

It composes the same ``conf/`` as ``tsbridge-train`` (keyword options become Hydra overrides), trains through the
one fit path and forecasts, reads out, plots and saves through the Predictor that fit returns. Lightning stays hidden
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

import shutil
import tempfile
import weakref
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import lightning as L
import pandas as pd
from matplotlib.figure import Figure
from omegaconf import DictConfig

from tsbridge import fitting, persistence
from tsbridge.callbacks import plot_blend_history
from tsbridge.config import check_options, compose_config, packaged_targets, resolved_config
from tsbridge.models import check_model_name
from tsbridge.module import ForecastModule
from tsbridge.overrides import frame_overrides, option_overrides, override
from tsbridge.plotting import plot_calibration, plot_series_forecast
from tsbridge.predictor import (ADAPTIVE_RATES, RATE_SHARPNESS, RATE_TOLERANCE, Backtest, MissingReadoutError, Predictor,
                               RateSelection, Start)
from tsbridge.quiet import quiet_fit



class NotFittedError(ValueError, AttributeError):
    """The Forecaster has no trained model yet (call ``fit`` or ``Forecaster.load``)."""


class Forecaster:
    """Forecasting model with a pandas-in, pandas-out API, built from tsbridge's Hydra configs.

    Args:
        model: a ``conf/model`` name (:data:`tsbridge.models.MODEL_NAMES`), e.g. ``"blend"`` or ``"attention"``.
        lookback: look-back window L (rows the model reads).
        horizon: forecast length H (rows it forecasts).
        work_dir: where checkpoints and logs go; None uses a temporary directory removed with the object.
        progress: show Lightning's progress bars, model summary and information lines while fitting (False: only its
            warnings).
        **options: any key of the composed ``model``, ``module``, ``trainer`` or ``data`` config, routed to the
            node that has it (``hidden_size`` -> ``model.hidden_size``, ``max_epochs`` -> ``trainer.max_epochs``,
            ``batch_size`` -> ``data.batch_size``; ``min_lookback`` -> ``data.min_lookback``, edge padding that lets
            a panel's series shorter than ``lookback + horizon`` train and forecast), plus ``lr``/``weight_decay``
            (``module.optimizer.*``) and ``seed``, ``threads`` (torch's CPU threads during a fit,
            :mod:`tsbridge.threads`), ``refit`` (True: once early stopping has chosen the epochs, train again on the
            training and validation windows for that many epochs and keep that model, :func:`tsbridge.fitting.fit`),
            ``calibration`` (``"conformal"``: calibrated intervals, :mod:`tsbridge.calibration`) and
            ``calibration_per_series``, and ``members`` (a seed ensemble trained in one fit,
            :mod:`tsbridge.models.ensemble`). Everything not given keeps its YAML default. Unknown names raise
            ``TypeError``.

    Attributes:
        overrides: the Hydra overrides composed (``tsbridge-train <overrides>`` trains the same model).
        config: the composed config (after ``fit``: including that fit's data overrides).
        predictor: the fitted :class:`~tsbridge.predictor.Predictor` (after ``fit`` or ``load``).
        result: the :class:`~tsbridge.fitting.FitResult` of the last ``fit`` (None after ``load``).
    """

    def __init__(self, model: str = "blend", lookback: int = 96, horizon: int = 24, *,
                 work_dir: str | Path | None = None, progress: bool = True, **options: Any) -> None:
        check_model_name(model)
        self._setup([f"model={model}", override("data.lookback", lookback), override("data.horizon", horizon)],
                    work_dir, progress)
        if options:
            self.overrides += option_overrides(self.config, options)
            self.config = self._compose(self.overrides)

    @classmethod
    def from_config(cls, overrides: Sequence[str] = (), *, work_dir: str | Path | None = None,
                    progress: bool = True) -> Forecaster:
        """A Forecaster from Hydra overrides, e.g. ``["model=attention", "model.hidden_size=128"]``."""
        forecaster = cls.__new__(cls)
        forecaster._setup(list(overrides), work_dir, progress)
        return forecaster

    def _setup(self, overrides: list[str], work_dir: str | Path | None, progress: bool) -> None:
        if work_dir is None:
            work_dir = tempfile.mkdtemp(prefix="tsbridge-")
            # Removed with the object (no ResourceWarning, unlike a TemporaryDirectory left to the collector).
            weakref.finalize(self, shutil.rmtree, work_dir, ignore_errors=True)
        self.work_dir, self.progress = Path(work_dir), progress
        self.overrides = overrides
        self.config = self._compose(overrides)
        self.predictor: Predictor | None = None
        self.result: fitting.FitResult | None = None
        self._fit_args: dict[str, Any] = {}
        self._saved: dict[str, Any] = {}  # what a loaded forecaster has instead of a FitResult

    def _compose(self, overrides: list[str], output_dir: Path | None = None) -> DictConfig:
        cfg = compose_config(overrides)
        check_options(cfg)  # at construction: a bad seed or levels is named before fit reads any data
        cfg.paths.output_dir = str(output_dir or self.work_dir)  # ${hydra:...} exists only inside a Hydra app
        return cfg

    @property
    def model(self) -> str:
        """The ``conf/model`` name this forecaster was built with (``"blend"``, ``"lstm"`` ...)."""
        return next(entry.split("=", 1)[1] for entry in reversed(self.overrides) if entry.startswith("model="))

    def __repr__(self) -> str:
        return f"Forecaster.from_config({self.overrides!r})  # fitted: {self.predictor is not None}"

    # ------------------------------------------------------------------ training
    def fit(self, df: pd.DataFrame, target: str | Sequence[str], *, time_col: str | None = None,
            id_col: str | None = None, features: str | Sequence[str] | None = None,
            future_features: str | Sequence[str] | None = None, calendar: str | Sequence[str] | None = None,
            val_size: float | int | None = None, test_size: float = 0.0, freq: str | None = None,
            max_epochs: int | None = None,
            trainer_kwargs: dict[str, Any] | None = None, callbacks: Sequence[L.Callback] = (),
            logger: Any = None) -> Forecaster:
        """Train from scratch on ``df``, keep the best validation epoch's weights, and return ``self``.

        Args:
            df: a wide frame (one series) or a long/panel frame with ``id_col`` (one global model).
            target: the column(s) to forecast.
            time_col: the time column; None uses the index.
            id_col: the series id column of a long frame.
            features: covariates known up to the forecast origin only (a list: past covariates), or ``"S"``
                (targets only), ``"MS"`` (every other numeric column but the future features is an input) or ``"M"``
                (forecast every such column); None keeps the configured ``data.features`` (``"MS"`` in the default
                config). Each fit logs the columns it chose (INFO, logger ``tsbridge.fitting``).
            future_features: covariates whose values for the forecast steps are known when forecasting (a load or
                generation forecast, a holiday flag): the model reads them over the horizon too, and ``predict``
                then needs ``future=`` (their next ``horizon`` rows). A column belongs in one list only.
            calendar: calendar features derived from the timestamps, e.g. ``["hour", "dayofweek"]`` (known for
                any step; see :data:`tsbridge.data.CALENDAR_FEATURES`).
            val_size: share of each series' end for validation (early stopping, best checkpoint), or as an
                integer that many rows at the end of every series (NeuralForecast's ``val_size``): with the horizon,
                every series of a panel validates on one window, its last, as competitions test (a share leaves a
                short series none and gives a long one several); None keeps the configured ``data.split``'s.
            test_size: share (rows with an integer ``val_size``) after validation that is held out and evaluated
                into :attr:`metrics`; with 0 (the default) every row is used for training and validation.
            freq: pandas frequency of the time axis; None infers it (error if it cannot).
            max_epochs: overrides ``trainer.max_epochs``.
            trainer_kwargs: extra ``lightning.Trainer`` arguments, winning over the config.
            callbacks: Lightning callbacks added to the configured ones (progress bar, checkpoint, early stopping,
                blend monitor).
            logger: Lightning logger(s), or False for none; None uses the configured one (CSV under ``work_dir``).
        """
        self._fit_args = {"target": target, "time_col": time_col, "id_col": id_col, "features": features,
                          "future_features": future_features, "calendar": calendar, "val_size": val_size,
                          "test_size": test_size, "freq": freq, "max_epochs": max_epochs}
        fit_overrides = frame_overrides(self.config, target=target, time_col=time_col, id_col=id_col,
                                        features=features, val_size=val_size, test_size=test_size, freq=freq,
                                        future_features=future_features, calendar=calendar)
        if max_epochs is not None:
            fit_overrides.append(override("trainer.max_epochs", max_epochs))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.config = self._compose(self.overrides + fit_overrides)
        self._fit_options = {"callbacks": list(callbacks), "logger": logger,
                             "trainer_kwargs": {**self._progress_kwargs(), **(trainer_kwargs or {})}}
        self.result = self._fit(df)
        self.predictor = self.result.predictor
        return self

    def _progress_kwargs(self) -> dict[str, Any]:
        return {} if self.progress else {"enable_progress_bar": False, "enable_model_summary": False}

    def _fit(self, frame: pd.DataFrame) -> fitting.FitResult:
        """One :func:`tsbridge.fitting.fit` of ``frame`` with this forecaster's config, in a new run folder."""
        cfg = self.config.copy()
        cfg.paths.output_dir = tempfile.mkdtemp(prefix="fit-", dir=self.work_dir)
        with quiet_fit(self.progress):
            return fitting.fit(cfg, frame, **self._fit_options)

    # ------------------------------------------------------------------ forecasting
    def _fitted(self) -> Predictor:
        if self.predictor is None:
            raise NotFittedError("this Forecaster is not fitted yet; call fit(df, target=...) or Forecaster.load(path)")
        return self.predictor

    @property
    def module(self) -> ForecastModule | None:
        """The fitted :class:`~tsbridge.module.ForecastModule` (None before ``fit``)."""
        return None if self.predictor is None else self.predictor.module

    @property
    def trainer(self) -> L.Trainer | None:
        """The Lightning Trainer of the last ``fit`` (None before it and after ``load``)."""
        return None if self.result is None else self.result.trainer

    @property
    def metrics(self) -> dict[str, float]:
        """``val/*`` and the readouts of the best weights, plus ``test/*`` when ``test_size > 0``."""
        return self.result.metrics if self.result is not None else dict(self._saved.get("metrics", {}))

    def predict(self, df: pd.DataFrame | None = None, horizon: int | None = None, *,
                future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the end of ``df`` (None: the training frame) in original units:
        one column per target (the median with ``levels``) plus ``<target>-lo-<level>``/``-hi-<level>``, indexed
        by the future timestamps (panels: ``(id_col, time)``). With future features, ``future`` holds their values
        for those steps. See :meth:`tsbridge.predictor.Predictor.predict`."""
        return self._fitted().predict(df, horizon, future)

    def backtest(self, df: pd.DataFrame, *, start: Start = None, stride: int = 1, retrain: bool = False,
                 recalibrate: bool = False, adaptive_rate: float = 0.0, raw: bool = False) -> Backtest:
        """Rolling-origin evaluation: forecast ``horizon`` steps from every ``stride``-th origin of ``df`` from
        ``start`` (a timestamp, a row position >= 0, a fraction of each series, or None: the earliest), each
        reading only the ``lookback`` rows up to its origin; all origins in one batched pass
        (:meth:`tsbridge.predictor.Predictor.backtest`). With ``retrain`` the model is fitted again, with the last
        ``fit``'s settings, on the rows up to each distinct origin time (slow: one training per origin). With
        ``recalibrate`` (a calibrated model) each origin's intervals are calibrated again on the calibration windows
        plus the backtest's windows already observed by then, as a forecaster recalibrated on its newest data
        would be (per series when calibrated per series; :mod:`tsbridge.calibration`); ``adaptive_rate`` > 0 also
        adapts each level as the windows are scored (adaptive conformal inference; 0.005 is its authors' step).
        ``raw`` scores a calibrated model's network alone: its own forecasts and intervals, without the margins.

        Returns:
            ``Backtest(forecasts, metrics)``: one row per (origin, step, target) with actual and forecast (and
            ``forecast-lo-<level>``/``forecast-hi-<level>`` interval columns), and per-target metrics (mse, mae,
            rmse, mape, smape; crps, coverage-<level>, width-<level> for interval models).
        """
        predictor = self._fitted()
        if not retrain:
            return predictor.backtest(df, start, stride, recalibrate, adaptive_rate, raw)
        if recalibrate or adaptive_rate or raw:
            raise ValueError("recalibrate, adaptive_rate and raw are for a fitted model's backtest; a retraining "
                             "backtest calibrates each refit on its own validation part")
        if self.result is None:
            raise NotFittedError("a retraining backtest needs the fit settings: call fit() (a loaded forecaster "
                                 "only predicts)")
        return fitting.refit_backtest(self._fit, predictor, df, start, stride)

    def calibrate(self, df: pd.DataFrame, *, start: Start = None, stride: int = 1,
                  levels: Sequence[float] | None = None, per_series: bool = False) -> Forecaster:
        """Conformally calibrate the intervals (:mod:`tsbridge.calibration`) on the windows of ``df`` from ``start``
        (every ``stride``-th origin, as :meth:`backtest` chooses them), and return ``self``.

        ``fit`` with ``calibration="conformal"`` already calibrates on the validation part; this post-fit step
        calibrates on a tail the caller chooses, e.g. the newest data of a loaded model. Those windows must be data
        the model never trained on, or the intervals come out too narrow. One forecasting pass, no refit; the
        margins are saved with the model.

        Args:
            df: data holding the calibration windows and the values after them.
            start: the first origin (a timestamp, a row position, a fraction of each series; None: the earliest).
            stride: every ``stride``-th origin.
            levels: interval levels in percent; None: the model's own (required for a point model).
            per_series: one margin per series instead of one pooled over the panel.
        """
        predictor = self._fitted()
        series = predictor.prepare(df)
        self.predictor = predictor.calibrated(series, predictor.origins(series, start, stride), levels, per_series)
        return self

    def select_adaptive_rate(self, rates: Sequence[float] = ADAPTIVE_RATES,
                             tolerance: float = RATE_TOLERANCE,
                             sharpness: float | None = RATE_SHARPNESS) -> RateSelection:
        """Choose the ``adaptive_rate`` for :meth:`backtest` on the last fit's validation part, which the model never
        trained on and no test window enters: its earlier half calibrates, its later half is backtested at every
        rate, and among the rates whose CRPS there is at most ``sharpness`` above the slowest's, the smallest whose
        coverage is within ``tolerance`` of nominal wins
        (:meth:`tsbridge.predictor.Predictor.select_adaptive_rate`). Choose it before scoring a test part, and
        backtest with ``recalibrate=True, adaptive_rate=selection.rate``.

        Raises:
            NotFittedError: not fitted in this session (a loaded model keeps no validation part).
            ValueError: the model is not calibrated.
        """
        predictor = self._fitted()
        if self.result is None:
            raise NotFittedError("choosing an adaptive rate reads the fit's validation part: call fit() (a loaded "
                                 "forecaster keeps none)")
        dataset = self.result.datamodule.val_dataset
        if dataset is None or not len(dataset):
            raise ValueError("choosing an adaptive rate needs a validation part: fit with val_size > 0")
        return predictor.select_adaptive_rate(predictor.history, dataset.origins(), rates, tolerance, sharpness)

    # ------------------------------------------------------------------ readouts
    @property
    def blend_weights(self) -> dict[str, Any]:
        """``{"past": a, "future": 1 - a}``: the learned weight of the forward (past-facing) BiLSTM states, read
        out of the forecast from the end of the training data (see :meth:`Predictor.blend_weights`)."""
        return self._fitted().blend_weights()

    @property
    def blend_history(self) -> pd.DataFrame:
        """The past/future weight per training step (step, epoch, past_weight, future_weight)."""
        history = self.result.blend_history if self.result is not None else self._saved.get("blend_history", [])
        return pd.DataFrame(history, columns=["step", "epoch", "past_weight", "future_weight"])

    def attention_weights(self, df: pd.DataFrame | None = None) -> pd.DataFrame:
        """Attention over the look-back of the forecast from the end of ``df`` (or the training frame).

        Returns:
            Columns ``lag`` -L .. -1 (-1: the last observed step), rows the decoder positions that query
            (``query``; one with ``head="last"``), under the series id for panels. Each row sums to 1.
        """
        return self._fitted().attention_weights(df)

    # ------------------------------------------------------------------ figures
    def plot(self, df: pd.DataFrame | None = None, *, origin: Any = None, series_id: Hashable | None = None,
             history: int | None = None, future: pd.DataFrame | None = None) -> Figure:
        """History, forecast and actuals of one series as a matplotlib Figure (one panel per target).

        Args:
            df: the data (None: the training frame).
            origin: forecast from the last row at or before this time and draw the actual values after it;
                None forecasts past the end of the data.
            series_id: the series of a panel (None: the first).
            history: rows of history drawn (None: the ``lookback`` rows the forecast reads).
            future: the future features' values after the end of the data (see :meth:`predict`), when
                forecasting from there.

        Intervals, when the model forecasts them, are drawn as bands.
        """
        predictor = self._fitted()
        return plot_series_forecast(predictor, predictor.prepare(df), series_id, origin, history, future)

    def plot_calibration(self, backtest: Backtest) -> Figure:
        """Nominal against empirical coverage of each interval level in a :meth:`backtest` (the diagonal is
        perfect calibration); for a calibrated model the network's own intervals are drawn dashed beside the
        calibrated ones."""
        predictor = self._fitted()
        if not predictor.levels:
            raise MissingReadoutError("this model forecasts points; fit it with levels=[...] to forecast intervals")
        return plot_calibration(backtest.metrics, predictor.levels)

    def plot_blend(self) -> Figure:
        """The past (forward) and future (backward) blend weights over the training steps."""
        self._fitted().require_readout("blend")
        if self.blend_history.empty:
            raise RuntimeError("no blend trajectory was recorded: the configured callbacks had no "
                               "BlendWeightMonitor (callbacks=default has one)")
        return plot_blend_history(self.blend_history.to_dict("records"))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted forecaster to directory ``path`` (see :mod:`tsbridge.persistence`)."""
        extras = {"overrides": self.overrides, "fit_args": self._fit_args,
                  "blend_history": self.blend_history.to_dict("records"), "metrics": self.metrics}
        return self._fitted().save(path, extras)

    @classmethod
    def load(cls, path: str | Path, *, work_dir: str | Path | None = None) -> Forecaster:
        """Load a forecaster written by :meth:`save`; it predicts exactly as the saved one.

        Nothing is unpickled: weights are read with ``torch.load(weights_only=True)`` and the net is built only
        from tsbridge's own classes. A tampered directory raises :class:`~tsbridge.errors.UnsafeCheckpointError`
        (pickled weights, foreign nets, overrides that do more than set values) or
        :class:`~tsbridge.errors.UnsafeConfigError` (a composed config naming code outside tsbridge's ``conf/`` and
        ``torch.optim``), before anything is built.
        """
        saved = persistence.load(path)
        forecaster = cls.from_config(saved.extras.get("overrides", []), work_dir=work_dir)  # checked by load
        # What they compose, resolved, may build nothing but what tsbridge's own conf/ and torch's optim name.
        resolved_config(forecaster.config, packaged_targets(), str(Path(path) / persistence.CONFIG_FILE))
        forecaster.predictor, forecaster._saved = Predictor(**saved.fields), saved.extras
        forecaster._fit_args = saved.extras.get("fit_args", {})
        return forecaster


class Comparison(NamedTuple):
    """What :func:`compare` returns.

    Attributes:
        forecasts: the forecasts past the end of the data, one column block per model (columns ``(model, column)``:
            ``("lstm", "y")``, ``("lstm", "y-lo-80")`` ...), indexed as :meth:`Forecaster.predict` indexes them.
        metrics: each model's backtest metrics on the test part, one row per ``(model, target)``.
        forecasters: the fitted forecasters by name, to plot, read out or save.
    """

    forecasts: pd.DataFrame
    metrics: pd.DataFrame
    forecasters: dict[str, Forecaster]


def compare(models: Sequence[str | Forecaster] | Mapping[str, str | Forecaster], df: pd.DataFrame, *,
            target: str | Sequence[str],
            test_size: float = 0.2, stride: int = 1, lookback: int = 96, horizon: int = 24,
            progress: bool = False, **fit_args: Any) -> Comparison:
    """Fit several models on the same data and set their forecasts and test metrics side by side (as
    ``NeuralForecast(models=[...])`` does): the everyday first question of which model to use.

    Each model is fitted with the same ``fit`` arguments, holding out each series' last ``test_size`` share; its
    metrics come from a :meth:`Forecaster.backtest` of that test part (every ``stride``-th origin whose forecast
    lies in it), its forecast from :meth:`Forecaster.predict` past the end of ``df``. Choose on validation metrics
    (``forecasters[name].metrics["val/loss"]``) when the choice must stay honest; the test part is for reporting.

    Args:
        models: model names (``"blend"``, ``"lstm"``, ``"seasonal_naive"`` ...), built with ``lookback``,
            ``horizon`` and ``progress``, or configured :class:`Forecaster` objects (used as given; each is
            fitted here), named by their model; or a mapping from the names to use to either (two configurations
            of one model: ``{"small": Forecaster("lstm", hidden_size=16), "large": ...}``).
        df: the data, as for :meth:`Forecaster.fit`.
        target: the column(s) to forecast.
        test_size: each series' share held out and scored, in (0, 1).
        stride: every ``stride``-th test origin is scored.
        lookback, horizon, progress: for models given by name.
        **fit_args: the other :meth:`Forecaster.fit` arguments (``time_col``, ``id_col``, ``val_size`` ...).

    Raises:
        ValueError: no models, a repeated name, or ``test_size`` outside (0, 1).
    """
    if isinstance(models, str) or not models:
        raise ValueError(f"models must be a list of model names or Forecasters, e.g. ['blend', 'lstm'], got {models!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must lie in (0, 1): the share of each series that is scored, got {test_size!r}")
    named = list(models.items()) if isinstance(models, Mapping) else [(None, model) for model in models]
    forecasters: dict[str, Forecaster] = {}
    for name, model in named:
        forecaster = model if isinstance(model, Forecaster) else Forecaster(model, lookback, horizon, progress=progress)
        name = name or forecaster.model
        if name in forecasters:
            raise ValueError(f"model {name!r} is given twice; name the configurations with a dict, e.g. "
                             "{'small': Forecaster('lstm', hidden_size=16), 'large': Forecaster('lstm')}")
        forecasters[name] = forecaster.fit(df, target=target, test_size=test_size, **fit_args)
    start = 1 - test_size
    metrics = pd.concat({name: fc.backtest(df, start=start, stride=stride).metrics for name, fc in forecasters.items()},
                        names=["model"])
    forecasts = pd.concat({name: fc.predict() for name, fc in forecasters.items()}, axis=1, names=["model", None])
    return Comparison(forecasts, metrics, forecasters)
