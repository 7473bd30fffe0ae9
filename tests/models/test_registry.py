"""build_net: builds tsbridge nets from configs and refuses anything else."""

import pytest
from model_configs import TINY_CONFIGS

from tsbridge.models import MODEL_NAMES, MODELS, BridgedLSTM, FeedbackLSTM, build_model, build_net, model_name

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


@pytest.mark.parametrize("name", sorted(TINY_CONFIGS))
def test_a_built_net_records_the_config_that_rebuilds_it(name):
    net = build_net(TINY_CONFIGS[name], **DIMS)
    assert net.config["_target_"] == TINY_CONFIGS[name]["_target_"]
    assert {**TINY_CONFIGS[name], **DIMS}.items() <= net.config.items()  # every given option, plus the defaults
    clone = build_net(net.config)
    assert clone.config == net.config
    clone.load_state_dict(net.state_dict())  # same parameters, same shapes
    assert model_name(net) == model_name(clone) == name


def test_positional_and_passed_on_arguments_are_recorded_by_name():
    feedback = FeedbackLSTM(2, 1, 16, 4, 8, passes=2)  # FeedbackLSTM passes *args on to BridgedLSTM
    assert feedback.config == {**build_model("feedback", 2, 1, 16, 4, hidden_size=8, passes=2).config}
    assert feedback.config["hidden_size"] == 8 and feedback.config["passes"] == 2


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_name_builds_with_only_the_sizes_and_is_named_back(name):
    # SegRNN's defaults cut 24-step segments of each channel alone; seasonal_naive's season comes from the data's
    # frequency, so built without data it is given one (a day of hourly data).
    options = {"season_length": 24} if name == "seasonal_naive" else {}
    net = build_model(name, **{**DIMS, "n_inputs": 1, "lookback": 48}, **options)
    assert model_name(net) == name
    assert MODELS[name].net_class == type(net).__name__
    assert (net.blend is not None) == MODELS[name].blend


def test_model_name_follows_the_variant_options():
    net = build_model("blend", **DIMS, granularity="gated")
    assert model_name(net) == "blend_gated"
    with pytest.raises(ValueError, match="unknown model 'blender'.*blend_gated"):
        build_model("blender", **DIMS)
