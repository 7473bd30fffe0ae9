"""Forecaster construction (keywords -> the same Hydra config as tsbridge-train) and the fit/predict round trip."""

from __future__ import annotations

import pandas as pd
import pytest
from forecaster_frames import HORIZON, LOOKBACK, QUIET, hourly
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from tsbridge import Forecaster
from tsbridge.config import compose_config
from tsbridge.overrides import format_value, split_ratios


def test_options_route_to_the_config_node_that_has_them():
    fc = Forecaster("attention", lookback=24, horizon=6, hidden_size=8, score="additive", lr=0.01, max_epochs=2,
                    batch_size=16, scaler=None)
    cfg = fc.config
    assert (cfg.data.lookback, cfg.data.horizon) == (24, 6)
    assert (cfg.model.hidden_size, cfg.model.score, cfg.model.bridge) == (8, "additive", "attention")
    assert cfg.module.optimizer.lr == 0.01
    assert cfg.trainer.max_epochs == 2
    assert (cfg.data.batch_size, cfg.data.scaler) == (16, None)
    assert "model.hidden_size=8" in fc.overrides and "module.optimizer.lr=0.01" in fc.overrides


def test_keywords_and_from_config_compose_the_same_config():
    by_keywords = Forecaster("concat", lookback=24, horizon=6, hidden_size=8, dropout=0.0)
    by_overrides = Forecaster.from_config(by_keywords.overrides)
    for node in ("model", "module", "trainer", "data"):  # unresolved: each has its own temporary work_dir
        assert OmegaConf.to_container(by_overrides.config[node]) == OmegaConf.to_container(by_keywords.config[node])
    cfg = Forecaster.from_config(["model=attention", "model.hidden_size=128"]).config
    assert (cfg.model.bridge, cfg.model.hidden_size) == ("attention", 128)


def test_defaults_come_from_yaml():
    fc = Forecaster()  # only model, lookback and horizon are in the signature
    yaml = compose_config(["model=blend"])
    assert fc.config.model == yaml.model and fc.config.module == yaml.module
    assert fc.config.trainer.max_epochs == yaml.trainer.max_epochs


def test_unknown_option_is_a_type_error_naming_the_closest_key():
    with pytest.raises(TypeError, match=r"unknown Forecaster option 'hiden_size'.*did you mean 'hidden_size'"):
        Forecaster(hiden_size=8)
    with pytest.raises(TypeError, match=r"'score'"):  # only the attention model has a score
        Forecaster("blend", score="dot")


def test_per_frame_settings_are_fit_arguments():
    with pytest.raises(TypeError, match=r"fit\(target=\.\.\.\)"):
        Forecaster(target_cols=["y"])


def test_unknown_model_lists_the_models():
    with pytest.raises(ValueError, match="unknown model 'transformer'; choose one of concat, blend"):
        Forecaster("transformer")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "null"), (True, "true"), (3, "3"), (0.001, "0.001"), ("a b", '"a b"'), (["x", 1], '["x",1]'),
     ({"_target_": "torch.optim.SGD", "lr": 0.1}, '{_target_:"torch.optim.SGD",lr:0.1}')],
)
def test_values_are_written_in_hydra_grammar(value, expected):
    assert format_value(value) == expected


def test_formatted_values_compose_back_to_the_same_values():
    cfg = compose_config(["data.target_cols=" + format_value(["load", "a b"]), "data.time_col=" + format_value("1"),
                          "module.optimizer=" + format_value({"_target_": "torch.optim.SGD", "lr": 0.1})])
    assert list(cfg.data.target_cols) == ["load", "a b"] and cfg.data.time_col == "1"
    assert (cfg.module.optimizer._target_, cfg.module.optimizer.lr) == ("torch.optim.SGD", 0.1)


def test_split_ratios():
    assert split_ratios([0.7, 0.1, 0.2], 0.2, 0.1) == pytest.approx([0.7, 0.2, 0.1])
    assert split_ratios("ett-hourly", None, 0) == "ett-hourly"
    assert split_ratios([0.7, 0.1, 0.2], 0.25, 0) == pytest.approx([0.75, 0.25, 0.0])  # no test part
    assert split_ratios([0.7, 0.1, 0.2], None, 0)[0] == pytest.approx(0.9)  # configured val share
    with pytest.raises(ValueError, match="val_size"):
        split_ratios([0.7, 0.1, 0.2], 0.6, 0.5)
    assert split_ratios([0.7, 0.1, 0.2], 18, 0) == "rows:18"  # an integer counts rows, as NeuralForecast's does
    assert split_ratios("ett-hourly", 24, 48) == "rows:24:48"
    for val_size, test_size in ((0, 0), (18, 0.1), (18, -1)):
        with pytest.raises(ValueError, match="integer val_size"):
            split_ratios([0.7, 0.1, 0.2], val_size, test_size)


def test_fit_predict_round_trip(fitted_hourly):
    fc = fitted_hourly
    assert fc.module is not None and fc.trainer is not None
    forecast = fc.predict()
    frame = hourly()
    assert list(forecast.columns) == ["load"] and len(forecast) == HORIZON
    assert forecast.index[0] == frame["date"].iloc[-1] + pd.Timedelta(hours=1)
    assert forecast.index.name == "date" and forecast["load"].notna().all()
    # original units: the level (about 10) is restored, not the scaled ~0
    assert forecast["load"].between(5, 15).all()
    pd.testing.assert_frame_equal(fc.predict(frame), forecast)  # the training frame's end, given or not
    pd.testing.assert_frame_equal(fc.predict(horizon=2), forecast.iloc[:2])
    assert fc.config.data.target_cols == ["load"] and fc.config.paths.output_dir.startswith(str(fc.work_dir))


def test_fit_returns_self_and_tests_when_asked(tmp_path):
    fc = Forecaster("dlinear", lookback=LOOKBACK, horizon=HORIZON, max_epochs=1, batch_size=16,
                    accelerator="cpu", enable_model_summary=False, work_dir=tmp_path)
    assert fc.fit(hourly(), target="load", time_col="date", features="S", val_size=0.2, test_size=0.2,
                  **QUIET) is fc
    assert {"val/loss", "test/mse", "test/mae", "test_original/mae"} <= set(fc.metrics)
    assert fc.module.hparams.net["n_inputs"] == 1  # features="S": the target only
    assert any(tmp_path.glob("fit-*/checkpoints/*.ckpt"))  # work_dir holds the run


def test_plots_return_figures(fitted_hourly):
    frame = hourly()
    figure = fitted_hourly.plot(frame, origin=frame["date"].iloc[100])
    assert isinstance(figure, Figure)
    labels = [line.get_label() for line in figure.axes[0].lines]
    assert {"history", "actual", "forecast"} <= set(labels)
    assert isinstance(fitted_hourly.plot(), Figure)
    assert isinstance(fitted_hourly.plot_blend(), Figure)
