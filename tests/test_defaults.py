"""One source of defaults: every value in conf/ mirrors the Python signature it configures.

A class built in Python with only its sizes is what the command line builds by default; a YAML value that differs on
purpose is a choice of that config (a model variant, a dataset's protocol) and is named here.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from tsbridge.config import compose_config
from tsbridge.data import WindowDataModule, make_synthetic
from tsbridge.models import MODEL_NAMES, MODELS, build_model, build_net
from tsbridge.models.base import call_arguments
from tsbridge.models.registry import net_class
from tsbridge.module import DEFAULT_OPTIMIZER, ForecastModule

CONF = Path(__file__).resolve().parents[1] / "conf"
SIZES = {"n_inputs": 3, "n_targets": 3, "lookback": 48, "horizon": 12}
# Per data config, the keys whose values are that dataset's choices rather than WindowDataModule defaults.
DATA_CHOICES = {
    "synthetic": {"time_col", "target_cols", "features"},
    "csv": {"time_col", "target_cols"},
    **{name: {"time_col", "target_cols", "features", "horizon", "split"}
       for name in ("etth1", "etth2", "ettm1", "ettm2")},
}
# Keys that are not constructor defaults: the data source, and the run's seed (an interpolation of ${seed}).
DATA_SOURCE_KEYS = {"_target_", "frame", "seed"}


def python_defaults(function) -> dict:
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_every_registered_model_has_a_config_file_and_no_other_exists():
    assert sorted(p.stem for p in (CONF / "model").glob("*.yaml")) == sorted(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_config_mirrors_the_class_defaults(name):
    spec = MODELS[name]
    config = OmegaConf.to_container(compose_config([f"model={name}"]).model, resolve=True)
    assert config.pop("_target_") == f"tsbridge.models.{spec.net_class}"
    defaults = call_arguments(net_class(spec.net_class), tuple(SIZES.values()), {})
    for key, value in config.items():
        expected = spec.options.get(key, defaults.get(key, "<not a constructor argument>"))
        assert value == expected, f"conf/model/{name}.yaml: {key}={value!r}, Python default {expected!r}"


# Defaults that only the data decides (null in conf/, filled in for a frame): given here on both sides.
DATA_DECIDED = {"seasonal_naive": {"season_length": 24}}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_net_built_from_its_sizes_equals_the_one_the_cli_builds(name):
    sizes = {**SIZES, "lookback": 48, **DATA_DECIDED.get(name, {})}
    torch.manual_seed(0)
    from_python = build_model(name, **sizes)
    torch.manual_seed(0)
    from_yaml = build_net(compose_config([f"model={name}"]).model, **sizes)
    assert from_python.config == from_yaml.config
    python_state, yaml_state = from_python.state_dict(), from_yaml.state_dict()
    assert python_state.keys() == yaml_state.keys()
    assert all(torch.equal(python_state[k], yaml_state[k]) for k in python_state)


def test_module_config_mirrors_the_forecast_module_defaults():
    config = OmegaConf.to_container(compose_config([]).module, resolve=True)
    defaults = python_defaults(ForecastModule.__init__)
    assert config.pop("optimizer") == DEFAULT_OPTIMIZER and defaults.pop("optimizer") is None
    assert config == defaults
    net = build_model("blend", **SIZES)
    module = ForecastModule(net)
    assert dict(module.hparams) == {"net": net.config, **config, "optimizer": DEFAULT_OPTIMIZER}


def test_the_shared_data_config_is_the_data_module_defaults():
    config = OmegaConf.to_container(OmegaConf.load(CONF / "data" / "shared" / "window.yaml"))
    defaults = python_defaults(WindowDataModule.__init__)
    assert config.pop("_target_") == "tsbridge.data.WindowDataModule" and config.pop("seed") == "${seed}"
    defaults.pop("seed")
    assert {key: list(v) if isinstance(v, tuple) else v for key, v in defaults.items()} == config


@pytest.mark.parametrize("name", sorted(DATA_CHOICES))
def test_data_configs_hold_only_their_dataset_choices(name):
    assert (CONF / "data" / f"{name}.yaml").is_file()
    config = OmegaConf.to_container(compose_config([f"data={name}"]).data)
    defaults = {key: list(v) if isinstance(v, tuple) else v
                for key, v in python_defaults(WindowDataModule.__init__).items()}
    for key, value in config.items():
        if key in DATA_SOURCE_KEYS or key in DATA_CHOICES[name]:
            continue
        assert value == defaults[key], f"conf/data/{name}.yaml: {key}={value!r}, Python default {defaults[key]!r}"
    changed = {key for key in DATA_CHOICES[name] if key in defaults and config.get(key) == defaults[key]}
    assert not changed, f"listed as choices of {name} but equal to the default: {changed}"


def test_every_data_config_is_listed():
    assert sorted(p.stem for p in (CONF / "data").glob("*.yaml")) == sorted(DATA_CHOICES)


def test_a_data_module_built_from_its_frame_equals_the_cli_default():
    frame = make_synthetic(n_rows=600)
    from_python = WindowDataModule(frame, target_cols=["target"], time_col="date", features="MS")
    from_yaml = compose_config(["data.frame.n_rows=600"]).data
    settings = {key: value for key, value in from_python.hparams.items() if key != "seed"}
    for key, value in settings.items():
        configured = from_yaml[key]
        configured = list(configured) if OmegaConf.is_list(configured) else configured
        assert (list(value) if isinstance(value, tuple) else value) == configured, key
