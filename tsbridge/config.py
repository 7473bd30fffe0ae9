"""Compose tsbridge's Hydra configs and build the run's objects from them.

The command line (``tsbridge-train``) and the notebook API (:class:`tsbridge.Forecaster`) both go through
these functions, so a config means the same thing everywhere and defaults live only in ``conf/``.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Collection, Sequence
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from tsbridge.errors import CorruptFileError, UnsafeConfigError

if TYPE_CHECKING:
    import lightning as L
    import pandas as pd

    from tsbridge.data import WindowDataModule
    from tsbridge.module import ForecastModule

CONFIG_MODULE = "tsbridge.conf"
#: What a data config read from a file (a run folder's config) may instantiate: tsbridge's data module and loaders.
DATA_TARGETS = frozenset({
    "tsbridge.data.WindowDataModule", "tsbridge.data.datamodule.WindowDataModule",
    "tsbridge.data.load_dataset", "tsbridge.data.datasets.load_dataset",
    "tsbridge.data.read_frame", "tsbridge.data.datasets.read_frame",
})


def compose_config(overrides: Sequence[str] = (), config_name: str = "train") -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` with Hydra overrides, outside a Hydra app (notebooks, tests).

    ``${hydra:...}`` interpolations are unavailable outside an app, so callers that build objects set
    ``paths.output_dir`` themselves (the Forecaster uses a temporary or chosen directory).
    """
    if GlobalHydra.instance().is_initialized():  # e.g. inside a running Hydra app or a previous compose
        GlobalHydra.instance().clear()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


def check_targets(node: Any, allowed: Collection[str], source: str, path: str = "") -> None:
    """Raise :class:`~tsbridge.errors.UnsafeConfigError` if ``node`` names any ``_target_`` outside ``allowed``.

    Hydra's ``instantiate`` imports and calls whatever ``_target_`` names (``pandas.read_pickle`` and
    ``torch.load`` run a payload). ``node`` must be resolved (:func:`resolved_config`): an interpolation left in it
    could pull an unchecked node in when Hydra resolves it later.
    """
    if isinstance(node, (DictConfig, dict)):
        items = node.items_ex(resolve=False) if isinstance(node, DictConfig) else node.items()
        for key, value in items:
            where = f"{path}.{key}" if path else str(key)
            if key == "_target_" and value not in allowed:
                listed = (", ".join(sorted(allowed)) if len(allowed) <= 12
                          else f"{len(allowed)} names of tsbridge's conf/")
                raise UnsafeConfigError(
                    f"{source}: {where} names {value!r}, which tsbridge does not build from a config file; "
                    f"allowed: {listed}. Nothing was built."
                )
            check_targets(value, allowed, source, where)
    elif isinstance(node, (ListConfig, list, tuple)):
        for position, value in enumerate(node):
            check_targets(value, allowed, source, f"{path}[{position}]")
    elif isinstance(node, str) and "${" in node:
        # What survives resolution is an escaped interpolation (``\\${...}``): Hydra would resolve it when it
        # instantiates the node, after this check.
        raise UnsafeConfigError(f"{source}: {path} holds the interpolation {node!r} after resolution; tsbridge "
                                "does not build configs from a file that expand more when they are built. Nothing "
                                "was built.")


def resolved_config(cfg: DictConfig, allowed: Collection[str], source: str, key: str | None = None) -> Any:
    """``cfg`` (or its node ``key``) as plain containers with every interpolation resolved in the context of the
    whole ``cfg``, checked by :func:`check_targets` at every depth: what a config read from a file may build.

    Checking the tree as written is not enough: ``data.seed: ${evil}`` pulls a root node ``evil`` with its own
    ``_target_`` into ``data`` only when OmegaConf resolves it, which Hydra does while instantiating.

    Raises:
        UnsafeConfigError: a ``_target_`` outside ``allowed``, or an interpolation that would expand later.
        CorruptFileError: an interpolation that does not resolve (a missing key), naming it.
    """
    try:
        node = cfg if key is None else cfg.get(key)
        if isinstance(node, (DictConfig, ListConfig)):  # a child resolves against the whole config
            node = OmegaConf.to_container(node, resolve=True)
    except OmegaConfBaseException as error:
        reason = str(error).splitlines()[0]
        raise CorruptFileError(f"{source}: its config does not resolve ({reason}); nothing was built") from None
    check_targets(node, allowed, source, key or "")
    return node


@functools.cache
def packaged_targets() -> frozenset[str]:
    """Every ``_target_`` that tsbridge's own ``conf/`` names, and torch's optimizers and schedulers: what a
    saved Forecaster's composed config may build (its optimizer and scheduler may be any of torch's)."""
    targets: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            targets.update([node["_target_"]] if isinstance(node.get("_target_"), str) else [])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    def walk(folder: Traversable) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry)
            elif entry.name.endswith(".yaml"):
                collect(OmegaConf.to_container(OmegaConf.create(entry.read_text()), resolve=False))

    walk(importlib.resources.files(CONFIG_MODULE))
    import torch

    from tsbridge import schedulers

    scheduler = torch.optim.lr_scheduler.LRScheduler
    for module, base in ((torch.optim, torch.optim.Optimizer), (torch.optim.lr_scheduler, scheduler),
                         (schedulers, scheduler)):
        targets.update(f"{module.__name__}.{name}" for name, value in vars(module).items()
                       if isinstance(value, type) and issubclass(value, base) and value is not base)
    return frozenset(targets)


def instantiate_unwrapped(config: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate``, re-raising the error a constructor raised instead of Hydra's wrapper.

    Hydra wraps every exception in ``InstantiationException``, which is not a ``ValueError``, so
    ``except ValueError`` (or a tsbridge error class) would miss a data error raised inside a fit.
    """
    try:
        return instantiate(config, **kwargs)
    except InstantiationException as error:
        if isinstance(error.__cause__, Exception):
            raise error.__cause__ from None
        raise


def build_datamodule(cfg: DictConfig, frame: pd.DataFrame | None = None, *,
                     source: str | None = None) -> WindowDataModule:
    """The data module of ``cfg.data``; ``frame`` replaces the configured data source when given.

    Arguments arrive as plain lists/dicts (``_convert_="all"``): the data module saves them as hyperparameters
    into checkpoints, which are loaded with ``weights_only=True`` and so may hold no OmegaConf objects.

    Args:
        cfg: the composed config.
        frame: the training frame, replacing ``cfg.data.frame``.
        source: set when ``cfg`` was read from a file (naming it): then ``cfg.data`` is resolved first and, at
            any depth, may only name tsbridge's data module and loaders (:data:`DATA_TARGETS`).
    """
    data = cfg.data if source is None else resolved_config(cfg, DATA_TARGETS, source, key="data")
    overrides = {} if frame is None else {"frame": frame}
    return instantiate_unwrapped(data, _convert_="all", **overrides)


def net_config(cfg: DictConfig, datamodule: WindowDataModule) -> dict[str, Any]:
    """Plain net config: ``cfg.model`` completed with the sizes the data module implies, and a ``season_length``
    left null (``seasonal_naive``'s default) set to the data's season."""
    net = OmegaConf.to_container(cfg.model, resolve=True)
    net.update(
        n_inputs=datamodule.n_inputs,
        n_targets=datamodule.n_targets,
        lookback=datamodule.lookback,
        horizon=datamodule.horizon,
    )
    if datamodule.n_future:  # only then: the parameter-free and univariate baselines refuse the option
        net["n_future"] = datamodule.n_future
    if "season_length" in net and net["season_length"] is None:
        net["season_length"] = _data_season(datamodule)
    return net


def _data_season(datamodule: WindowDataModule) -> int:
    """The season of the data's frequency, for a model asked to use it; ValueError naming the fix if none fits."""
    season = datamodule.season_length
    if season is None:
        raise ValueError(f"the data's frequency ({datamodule.freq or 'a numeric time axis'}) has no season tsbridge "
                         "knows (README, 'Seasons'); pass model.season_length (Forecaster: season_length=)")
    if season > datamodule.lookback:
        raise ValueError(f"the season of the data's frequency {datamodule.freq!r} is {season} steps, longer than "
                         f"lookback={datamodule.lookback}; pass a lookback of at least {season} or a shorter "
                         "model.season_length (Forecaster: season_length=)")
    return season


def mase_season(cfg: DictConfig, datamodule: WindowDataModule) -> int:
    """``cfg.module.mase_season``, or when null the data's season if it is shorter than the look-back, else 1."""
    configured = cfg.module.get("mase_season")
    if configured is not None:
        return configured
    season = datamodule.season_length
    return season if season is not None and season < datamodule.lookback else 1


def build_module(cfg: DictConfig, datamodule: WindowDataModule) -> ForecastModule:
    """The :class:`ForecastModule` of ``cfg.model`` and ``cfg.module`` for this data."""
    from tsbridge.metrics import check_forecast_columns
    from tsbridge.models.probabilistic import POINT_LOSSES
    from tsbridge.module import ForecastModule

    module = {**OmegaConf.to_container(cfg.module, resolve=True), "mase_season": mase_season(cfg, datamodule)}
    check_forecast_columns(datamodule.target_cols, module.get("levels"), (datamodule.id_col, datamodule.time_col))
    if calibration_method(cfg) and module.get("loss") in POINT_LOSSES:
        module["levels"] = None  # a point network: its intervals come from the calibration alone
    return ForecastModule(net=net_config(cfg, datamodule), **module)


def check_options(cfg: DictConfig) -> None:
    """Refuse a ``seed``, ``module.levels`` or ``refit`` of the wrong kind (or a refit beside calibration or a
    validation-driven schedule) before any data is read, naming the option.

    Checked here because their own readers report them late and in other words: Lightning's seeding says
    ``invalid literal for int()``, and the levels are first read after the data. The model's options are checked
    when the net is built, as their rules depend on the data's sizes.
    """
    from tsbridge.models.probabilistic import check_levels

    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be a whole number such as 42, got {seed!r}")
    levels = OmegaConf.select(cfg, "module.levels")
    if levels:
        check_levels(levels)
    _check_refit(cfg)


def _check_refit(cfg: DictConfig) -> None:
    """Refuse ``refit`` beside what needs validation windows the model never trained on, or after the epochs."""
    refit = cfg.get("refit", False)
    if not isinstance(refit, bool):
        raise ValueError(f"refit must be true or false, got {refit!r}")
    if not refit:
        return
    if OmegaConf.select(cfg, "calibration.method") is not None:
        raise ValueError("refit=true trains on the validation windows, which conformal calibration needs unseen; "
                         "choose one of refit and calibration")
    scheduler = OmegaConf.select(cfg, "module.scheduler._target_") or ""
    if scheduler.endswith("ReduceLROnPlateau"):
        raise ValueError("refit=true trains without validation, and ReduceLROnPlateau lowers the rate on val/loss; "
                         "use a scheduler that follows the epochs (e.g. tsbridge.schedulers.HoldThenExponentialLR)")


def calibration_method(cfg: DictConfig) -> str | None:
    """``cfg.calibration.method`` checked: None or one of :data:`tsbridge.calibration.CALIBRATION_METHODS`."""
    from tsbridge.calibration import CALIBRATION_METHODS

    method = OmegaConf.select(cfg, "calibration.method")
    if method is not None and method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration.method must be null or one of {list(CALIBRATION_METHODS)}, got {method!r}")
    if method is not None and not OmegaConf.select(cfg, "module.levels"):
        raise ValueError(f"calibration.method={method} calibrates intervals: set the levels, e.g. "
                         "module.levels=[80,90] (Forecaster(levels=[80, 90]))")
    return method


def _instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate each ``_target_`` entry of a name -> config mapping (callbacks, loggers)."""
    if not group:
        return []
    return [instantiate_unwrapped(entry) for entry in group.values()
            if isinstance(entry, DictConfig) and "_target_" in entry]


def build_callbacks(cfg: DictConfig) -> list[L.Callback]:
    return _instantiate_group(cfg.get("callbacks"))


def build_loggers(cfg: DictConfig) -> list[Any]:
    return _instantiate_group(cfg.get("logger"))


def _check_epochs(trainer: dict[str, Any]) -> None:
    """Refuse an epoch budget Lightning would reject with an assertion, or that trains nothing at all."""
    for key in ("max_epochs", "min_epochs"):
        value = trainer.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            raise ValueError(f"trainer.{key} must be a whole number of epochs (>= 1, or -1 for no limit), "
                             f"got {value!r}")
    if trainer.get("max_epochs") == 0:
        raise ValueError("trainer.max_epochs=0 trains nothing: the model would forecast from its random initial "
                         "weights; pass max_epochs >= 1")


def build_trainer(cfg: DictConfig, callbacks: list[L.Callback] | None = None,
                  logger: list[Any] | bool | None = None, **overrides: Any) -> L.Trainer:
    """The Lightning Trainer of ``cfg.trainer``; ``callbacks``/``logger`` default to the configured ones.

    With ``enable_progress_bar=False`` (config or ``overrides``) configured progress-bar callbacks are left out:
    Lightning refuses the two together. The model summary, when enabled, is
    :class:`~tsbridge.quiet.ParameterSummary` (Lightning's, without rows that have no parameters) unless a
    model-summary callback is configured.
    """
    from lightning.pytorch.callbacks import ModelSummary, ProgressBar

    from tsbridge.quiet import ParameterSummary

    _check_epochs({**OmegaConf.to_container(cfg.trainer, resolve=True), **overrides})
    callbacks = build_callbacks(cfg) if callbacks is None else list(callbacks)
    if not overrides.get("enable_progress_bar", cfg.trainer.get("enable_progress_bar", True)):
        callbacks = [callback for callback in callbacks if not isinstance(callback, ProgressBar)]
    summary = overrides.get("enable_model_summary", cfg.trainer.get("enable_model_summary", True))
    if summary and not any(isinstance(callback, ModelSummary) for callback in callbacks):
        callbacks.append(ParameterSummary())
        # Lightning adds no summary of its own then, and says it would have (one more line to read) unless told.
        overrides = {**overrides, "enable_model_summary": False}
    logger = (build_loggers(cfg) or False) if logger is None else logger
    return instantiate_unwrapped(cfg.trainer, callbacks=callbacks, logger=logger, **overrides)
