"""``tsbridge-train`` as a user runs it: outputs of a run, errors, help, printed config and tab completion."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from cli_helpers import TINY, metrics_files, run_cli
from omegaconf import OmegaConf

pytestmark = pytest.mark.slow


def test_run_writes_a_complete_metrics_json(trained_run):
    summary = json.loads((trained_run / "metrics.json").read_text())
    assert summary["model"] == "blend" and summary["optimized_metric"] == "val/loss"
    for name in ("val/loss", "val/mse", "val_original/mae"):
        assert math.isfinite(summary["val"][name])
    for name in ("test/mse", "test/mae", "test_original/mse", "test_original/mae", "test/mase"):
        assert math.isfinite(summary["test"][name])
    past = summary["readouts"]["blend/past_weight"]
    assert 0 < past < 1 and summary["readouts"]["blend/future_weight"] == pytest.approx(1 - past)
    assert summary["epochs"] == 1 and summary["global_step"] == 3 and summary["world_size"] == 1
    assert summary["fit_seconds"] > 0 and summary["started"] < summary["finished"]
    for key in ("best_checkpoint", "last_checkpoint"):
        assert Path(summary[key]).parent.samefile(trained_run / "checkpoints")
    # The resolved config is stored, and equals the one Hydra saved (which keeps the interpolations).
    assert summary["config"]["data"]["lookback"] == 24 and summary["config"]["paths"]["output_dir"] == str(trained_run)
    assert OmegaConf.load(trained_run / ".hydra" / "config.yaml").model.hidden_size == 8
    for name in ("blend_weights.csv", "blend_weights.png", "csv/metrics.csv"):
        assert (trained_run / name).is_file()


@pytest.mark.parametrize(("overrides", "message"), [
    (["model=nope"], "Could not find 'model/nope'"),
    (["data.lookback=-5"], "lookback must be an integer >= 1, got -5"),
    (["data=csv", "data.frame.path=missing.csv", "data.target_cols=[y]"], "no data file at 'missing.csv'"),
    (["data=csv"], "Missing mandatory value"),
    (["trainer.max_epochs=abc"], "trainer.max_epochs must be a whole number of epochs (>= 1, or -1 for no limit), "
                                 "got 'abc'"),
    (["trainer.max_epochs=-5"], "trainer.max_epochs must be a whole number of epochs"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0 trains nothing"),
    (["seed=abc"], "seed must be a whole number such as 42, got 'abc'"),  # was Lightning's "invalid literal for int()"
])
def test_config_errors_end_with_one_clear_message(cli, overrides, message):
    result = cli("train", *TINY, *overrides, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    # Hydra's own errors (an unknown option) end with its hint; ours end with the same hint after the message.
    assert "HYDRA_FULL_ERROR" in lines[-1]
    if not overrides[0].startswith("model="):
        assert lines[-2].startswith("tsbridge-train: error: ") and message in lines[-2]


def test_help_lists_the_groups_and_examples(cli):
    result = cli("train", "--help")
    assert "tsbridge-train -m model=concat,blend,attention" in result.stdout
    assert "model: attention, bilstm, blend" in result.stdout
    experiments = sorted(path.stem for path in (Path(__file__).parents[2] / "conf" / "experiment").glob("*.yaml"))
    assert "hparams_search: optuna" in result.stdout
    assert "experiment: " + ", ".join(experiments) in result.stdout


def test_cfg_job_prints_the_composed_config_without_training(cli, output_root):
    result = cli("train", "model=attention", "data.horizon=12", "--cfg", "job")
    cfg = OmegaConf.create(result.stdout)
    assert cfg.model.bridge == "attention" and cfg.data.horizon == 12
    assert not (output_root / "outputs").exists()


def test_shell_completion_script_and_completions(cli):
    script = cli("train", "-sc", "install=bash").stdout
    assert "complete -o nospace -o default -F hydra_bash_completion" in script
    completions = cli("train", "-sc", "query=bash", env_extra={"COMP_LINE": "tsbridge-train model=bl"}).stdout
    assert "model=blend" in completions.split()


# ---------------------------------------------------------------- issue 12: runs cut short, a quiet terminal
@pytest.mark.parametrize(("overrides", "steps", "validated"), [
    (["trainer.max_steps=2"], 2, True),  # stops inside the first epoch, before any validation
    (["trainer.max_epochs=3", "trainer.max_steps=5"], 5, True),  # stops inside the second epoch
    (["trainer.limit_val_batches=0"], 3, False),  # validation switched off: scored on the test windows only
])
def test_runs_cut_short_by_step_or_batch_limits_still_score_and_write_metrics(cli, output_root, overrides, steps,
                                                                             validated):
    result = cli("train", *TINY, *overrides)
    (path,) = metrics_files(output_root)
    summary = json.loads(path.read_text())
    assert summary["global_step"] == steps
    assert math.isfinite(summary["test"]["test/mse"]) and math.isfinite(summary["test"]["test_original/mae"])
    assert ("val/loss" in summary["val"]) == validated
    assert "Early stopping conditioned on metric" not in result.stderr and "could not find the monitored key" not in (
        result.stderr)


@pytest.fixture(scope="module")
def terminal_output(tmp_path_factory) -> str:
    """What a default-sized ``tsbridge-train`` run prints, stdout and stderr together."""
    root = tmp_path_factory.mktemp("terminal")
    result = run_cli("train", *TINY, output_root=root)
    return result.stdout + result.stderr


def test_each_log_line_is_printed_once(terminal_output):
    assert terminal_output.count("GPU available:") == 1  # Lightning's own handler used to print it a second time
    assert terminal_output.count("[tsbridge.fitting][INFO] - forecasting ['target'] from the input columns") == 1
    messages = [line.split("] - ", 1)[1] for line in terminal_output.splitlines() if "] - " in line]
    assert messages and len(messages) == len(set(messages))


def test_lightning_product_tips_are_not_printed(terminal_output):
    for advert in ("💡 Tip", "litlogger", "litmodels", "lightning.ai"):
        assert advert not in terminal_output


def test_third_party_deprecation_warnings_are_not_printed(terminal_output):
    # e.g. torch's FutureWarning about LeafSpec, raised inside Lightning: nothing a user can change.
    assert "is deprecated" not in terminal_output and "FutureWarning" not in terminal_output


def test_the_summary_names_the_run_folder_and_what_each_metric_means(terminal_output):
    (line,) = [line for line in terminal_output.splitlines() if line.strip().startswith("written to ")]
    run_dir = Path(line.split("written to ", 1)[1])
    assert (run_dir / "metrics.json").is_file()
    assert "test/mase" in terminal_output and "below 1 beats repeating last season's value" in terminal_output
    assert "test_original/smape" in terminal_output and "0 (perfect) to 2" in terminal_output


def test_an_override_that_does_not_parse_is_one_line_naming_it(cli):
    result = cli("train", "model.hidden_size=[", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("tsbridge-train: error: cannot read the override 'model.hidden_size=[' for "
                                     "model.hidden_size: no viable alternative at input '['; quote values with "
                                     "brackets, commas or spaces (see "
                                     "https://hydra.cc/docs/advanced/override_grammar/basic)")
