"""Multirun sweeps: one folder per job, a report over them, the Optuna sweeper and the parallel joblib launcher."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_helpers import TINY, metrics_files

from tsbridge.cli import report

pytestmark = pytest.mark.slow


def test_model_sweep_gives_one_folder_per_job_and_a_three_row_report(cli, output_root, capsys):
    cli("train", "-m", *TINY, "model=concat,blend,attention")
    (sweep_dir,) = (output_root / "multirun" / "train").iterdir()
    paths = metrics_files(sweep_dir)
    assert [p.parent.name for p in paths] == ["0", "1", "2"]
    assert {json.loads(p.read_text())["model"] for p in paths} == {"concat", "blend", "attention"}

    report.main([str(sweep_dir), "--metric", "val/loss"])
    table = pd.read_csv(sweep_dir / "report.csv")
    assert len(table) == 3 and table["val/loss"].is_monotonic_increasing
    assert sorted(table["overrides"]) == ["model=attention", "model=blend", "model=concat"]
    assert (table["hidden_size"] == 8).all()
    assert table.loc[table["model"] == "blend", "past_weight"].between(0, 1).all()
    assert table.loc[table["model"] != "blend", "past_weight"].isna().all()
    markdown = (sweep_dir / "report.md").read_text().splitlines()
    assert markdown[0].startswith("| run | model | overrides | val/loss |") and len(markdown) == 2 + 3
    assert (sweep_dir / "past_weights.png").stat().st_size > 0
    assert "model=concat" in capsys.readouterr().out


def test_report_on_a_folder_without_runs_fails_clearly(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        report.main([str(tmp_path)])
    assert exit_info.value.code == 2 and "no metrics.json under" in capsys.readouterr().err


def test_optuna_sweeper_runs_two_trials(cli, output_root):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    # No model.hidden_size on the command line: a value given there would be fixed, not searched.
    cli("train", "experiment=smoke", "hparams_search=optuna", "hydra.sweeper.n_trials=2")
    (sweep_dir,) = (output_root / "multirun" / "train").iterdir()
    trials = [json.loads(p.read_text()) for p in metrics_files(sweep_dir)]
    assert len(trials) == 2
    models = [t["config"]["model"] for t in trials]
    assert all(m["hidden_size"] in (16, 32, 64, 128) and 0 <= m["dropout"] <= 0.3 for m in models)
    learning_rates = {t["config"]["module"]["optimizer"]["lr"] for t in trials}
    assert len(learning_rates) == 2 and all(1e-4 <= lr <= 1e-2 for lr in learning_rates)
    results = (sweep_dir / "optimization_results.yaml").read_text()
    best = min(t["val"]["val/loss"] for t in trials)
    assert "best_params" in results and f"best_value: {best}" in results


def test_joblib_launcher_runs_two_jobs_in_parallel_in_their_own_folders(cli, output_root):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    result = cli("train", "-m", *TINY, "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "seed=1,2")
    assert "ConfigStore schema" not in result.stderr  # the presets extend the plugin schemas explicitly
    (sweep_dir,) = (output_root / "multirun" / "train").iterdir()
    runs = {p.parent.name: json.loads(p.read_text()) for p in metrics_files(sweep_dir)}
    assert sorted(runs) == ["0", "1"]
    assert {run["config"]["seed"] for run in runs.values()} == {1, 2}
    for name, run in runs.items():
        assert run["config"]["paths"]["output_dir"] == str(sweep_dir / name)
        assert all(str(sweep_dir / name) in run[key] for key in ("best_checkpoint", "last_checkpoint"))
    # Two worker processes of the pool, not one process in turn (the basic launcher's way). Their start and end
    # times are not compared: a 1-second job can end before a slower worker has finished importing.
    assert len({run["pid"] for run in runs.values()}) == 2


def test_a_failing_sweep_job_does_not_stop_the_others_and_is_named_at_the_end(cli, output_root):
    result = cli("train", "-m", *TINY, "trainer.max_epochs=0,1", check=False)
    assert result.returncode == 1, result.stderr[-2000:]
    (sweep_dir,) = (output_root / "multirun" / "train").iterdir()
    assert [p.parent.name for p in metrics_files(sweep_dir)] == ["1"]  # the job after the failed one ran
    failed = json.loads((sweep_dir / "0" / "failed.json").read_text())
    assert "trainer.max_epochs=0" in failed["overrides"] and "trains nothing" in failed["error"]
    assert f"tsbridge-train: 1 of 2 sweep jobs failed (the others ran):\n  {sweep_dir / '0'}: trainer.max_epochs=0" \
        in result.stderr


def test_report_skips_a_truncated_metrics_json_naming_it(cli, output_root, capsys):
    cli("train", "-m", *TINY, "seed=0,1")
    (sweep_dir,) = (output_root / "multirun" / "train").iterdir()
    damaged = sweep_dir / "0" / "metrics.json"
    damaged.write_text(damaged.read_text()[:100])
    table = report.collect_runs(sweep_dir, "val/loss")
    assert list(table["run"]) == ["1"]
    assert f"tsbridge-report: skipped {damaged}: not readable JSON" in capsys.readouterr().err
