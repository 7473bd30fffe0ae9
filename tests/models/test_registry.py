"""build_net: builds tsbridge nets from configs and refuses anything else."""

import pytest
from model_configs import TINY_CONFIGS

from tsbridge.models import BridgedLSTM, build_net

DIMS = {"n_inputs": 2, "n_targets": 1, "lookback": 16, "horizon": 4}


@pytest.mark.parametrize(
    "target",
    [
        "os.system",
        "torch.nn.Linear",
        "builtins.eval",
        "evil.BridgedLSTM",
        "tsbridge.models.build_net",
        "tsbridge.models.BlendBridge",
        "BridgedLSTM",
        "tsbridge.models.base.ForecastNet",
    ],
)
def test_foreign_targets_are_refused(target):
    with pytest.raises(ValueError, match="not a tsbridge net"):
        build_net({"_target_": target}, **DIMS)


def test_missing_target_and_hydra_specials_are_refused():
    with pytest.raises(ValueError, match="_target_"):
        build_net({"hidden_size": 8}, **DIMS)
    with pytest.raises(ValueError, match="_partial_"):
        build_net({**TINY_CONFIGS["concat"], "_partial_": True}, **DIMS)


def test_exported_and_module_paths_build_the_same_class():
    config = {**TINY_CONFIGS["concat"], "_recursive_": False}
    for target in ("tsbridge.models.BridgedLSTM", "tsbridge.models.bridged.BridgedLSTM"):
        net = build_net({**config, "_target_": target}, **DIMS)
        assert type(net) is BridgedLSTM and net.n_inputs == 2


def test_omegaconf_configs_are_accepted():
    from omegaconf import OmegaConf

    net = build_net(OmegaConf.create(TINY_CONFIGS["blend"]), **DIMS)
    assert net.blend is not None


def test_unknown_option_is_a_value_error_naming_the_class_and_key():
    with pytest.raises(ValueError, match="invalid options for LSTMForecaster.*hiden_size"):
        build_net({**TINY_CONFIGS["lstm"], "hiden_size": 8}, **DIMS)
