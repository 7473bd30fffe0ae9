"""Every YAML file in every config group composes through the Hydra compose API, and its objects instantiate.

The options are found on disk, so a new file in any group is covered (or fails until a check is added here).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest
import torch
from cli_helpers import ETT_DIR
from hydra import compose, initialize_config_module
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

import tsbridge.conf
from tsbridge.config import (
    build_callbacks, build_datamodule, build_loggers, build_module, build_trainer, compose_config,
)
from tsbridge.data import make_synthetic

CONF = Path(tsbridge.conf.__file__).parent
TINY_DATA = ["data.lookback=24", "data.horizon=6"]


def ett_present(name: str) -> bool:
    return any(path.name.lower() in (f"{name}.csv", f"{name}.csv.gz") for path in ETT_DIR.glob("*"))


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


def compose_with(tmp_path: Path, *overrides: str) -> DictConfig:
    """``conf/train.yaml`` composed outside an app; ``paths.output_dir`` replaces Hydra's runtime folder."""
    return compose_config([f"paths.output_dir={tmp_path}", *overrides])


def test_every_group_is_checked_here():
    groups = {str(p.parent.relative_to(CONF)) for p in CONF.rglob("*.yaml") if p.parent != CONF}
    assert groups == {"callbacks", "data", "experiment", "hparams_search", "hydra", "hydra/launcher", "logger",
                      "model", "model/shared", "data/shared", "module", "paths", "trainer"}
    assert {p.name for p in CONF.glob("*.yaml")} == {"train.yaml", "eval.yaml", "predict.yaml"}


@pytest.fixture(scope="module")
def tiny_datamodule():
    cfg = compose_config(["experiment=smoke"])
    return build_datamodule(cfg)


@pytest.mark.parametrize("name", options("model"))
def test_model_builds_a_module_that_forecasts(name, tiny_datamodule):
    # SegRNN reads each channel alone by default: the smoke data's covariates need the channels read together.
    together = ["model.channel_independent=false"] if name.startswith("segrnn") else []
    cfg = compose_config([f"model={name}", "module=default", *together])
    module = build_module(cfg, tiny_datamodule)
    batch = next(iter(tiny_datamodule.val_dataloader()))
    with torch.no_grad():
        forecast = module(batch["x"])
    assert forecast.shape == batch["y"].shape


@pytest.mark.parametrize("name", options("data"))
def test_data_config_composes_and_instantiates(name, tmp_path):
    if name == "csv":
        path = tmp_path / "tiny.csv"
        make_synthetic(n_rows=300, seed=0).to_csv(path, index=False)
        cfg = compose_with(tmp_path, "data=csv", f"data.frame.path={path}", "data.target_cols=[target]", *TINY_DATA)
    elif name == "synthetic":
        cfg = compose_with(tmp_path, "data=synthetic", "data.frame.n_rows=300", *TINY_DATA)
    else:  # ETT-small: the files are never shipped, so without them the config can only compose
        cfg = compose_with(tmp_path, f"data={name}", f"data.frame.path={ETT_DIR}")
        if not ett_present(name):
            assert cfg.data.frame.name == name
            pytest.skip(f"ETT files not in {ETT_DIR}: composed only")
    datamodule = build_datamodule(cfg)
    assert datamodule.lookback == cfg.data.lookback and datamodule.n_targets >= 1


@pytest.mark.parametrize("name", options("trainer"))
def test_trainer_config_instantiates(name, tmp_path):
    # gpu and ddp name hardware the tests do not have: their configs are built for the CPU instead.
    hardware = ["trainer.accelerator=cpu", "trainer.devices=1"] if name in ("gpu", "ddp") else []
    cfg = compose_with(tmp_path, f"trainer={name}", *hardware)
    trainer = build_trainer(cfg, callbacks=[], logger=False)
    assert trainer.max_epochs == cfg.trainer.max_epochs
    if name == "ddp_cpu":
        assert trainer.num_devices == 2 and type(trainer.strategy).__name__ == "DDPStrategy"


@pytest.mark.parametrize("name", options("logger"))
def test_logger_config_instantiates(name, tmp_path):
    if name == "mlflow" and importlib.util.find_spec("mlflow") is None:
        pytest.skip("mlflow is not installed")
    if name == "tensorboard":
        pytest.importorskip("tensorboard")
    loggers = build_loggers(compose_with(tmp_path, f"logger={name}"))
    assert len(loggers) == (0 if name == "none" else 1)


@pytest.mark.parametrize("name", options("callbacks"))
def test_callbacks_config_instantiates(name, tmp_path):
    callbacks = build_callbacks(compose_with(tmp_path, f"callbacks={name}"))
    names = {type(c).__name__ for c in callbacks}
    expected = {"ModelCheckpoint", "EarlyStopping", "BlendWeightMonitor", "TQDMProgressBar"}
    assert names == (expected if name == "default" else set())


@pytest.mark.parametrize(("group", "name"), [(g, n) for g in ("module", "paths") for n in options(g)])
def test_module_and_paths_configs_compose(group, name, tmp_path):
    cfg = compose_with(tmp_path, f"{group}={name}")
    from tsbridge.models.probabilistic import LOSSES

    assert cfg.module.loss in (None, *LOSSES) and cfg.paths.output_dir == str(tmp_path)


@pytest.mark.parametrize("name", options("experiment"))
def test_experiment_composes_and_builds(name, tmp_path):
    cfg = compose_with(tmp_path, f"experiment={name}")
    if str(cfg.data.frame.name).startswith("ett"):
        if not ett_present(cfg.data.frame.name):
            pytest.skip(f"ETT files not in {ETT_DIR}: composed only")
        cfg.data.frame.path = str(ETT_DIR)
    datamodule = build_datamodule(cfg)
    build_module(cfg, datamodule)
    build_trainer(cfg)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:optuna.*")  # optuna 2.10 on SQLAlchemy 2
def test_optuna_search_composes():
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    with initialize_config_module(config_module="tsbridge.conf", version_base="1.3"):
        cfg = compose("train", overrides=["hparams_search=optuna"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "minimize"
    assert set(sweeper.params) == {"model.hidden_size", "module.optimizer.lr", "model.dropout"}
    assert cfg.optimized_metric == "val/loss"
    assert instantiate(sweeper.sampler).__class__.__name__ == "TPESampler"


@pytest.mark.filterwarnings("error:.*ConfigStore schema")  # the presets extend the plugin schemas explicitly
@pytest.mark.parametrize(("name", "plugin", "schema"), [
    ("parallel", "hydra_plugins.hydra_joblib_launcher", "JobLibLauncherConf"),
    ("slurm", "hydra_plugins.hydra_submitit_launcher", "SlurmQueueConf"),
])
def test_launcher_preset_sets_every_field_of_the_plugin(name, plugin, schema):
    config_module = pytest.importorskip(f"{plugin}.config")
    with initialize_config_module(config_module="tsbridge.conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"hydra/launcher={name}"], return_hydra_config=True)
    preset = set(OmegaConf.load(CONF / "hydra" / "launcher" / f"{name}.yaml")) - {"defaults"}
    fields = {f.name for f in dataclasses.fields(getattr(config_module, schema))}
    # Every field explicit: the preset works even where Hydra no longer merges it with the plugin's schema.
    assert preset == fields, f"missing {fields - preset}, unknown {preset - fields}"
    assert get_class(cfg.hydra.launcher._target_).__module__.startswith(plugin)


def test_eval_config_composes(tmp_path):
    cfg = compose_config(["ckpt_path=some.ckpt", f"paths.output_dir={tmp_path}"], config_name="eval")
    assert cfg.split == "test" and cfg.task_name == "eval"
    build_trainer(cfg, callbacks=[], logger=False)


def test_predict_config_composes_with_the_run_data_and_no_future_by_default():
    cfg = compose_config(["ckpt_path=some.ckpt"], config_name="predict")
    assert cfg.task_name == "predict" and cfg.data.frame.path is None and cfg.future is None and cfg.plot
