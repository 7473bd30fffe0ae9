"""``tsbridge-eval``: a checkpoint's metrics on a split, equal to the training run's, and its forecasts as CSV."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from cli_helpers import TINY, metrics_files

from tsbridge.data import load_dataset

pytestmark = pytest.mark.slow


def eval_summary(output_root) -> dict:
    (path,) = (output_root / "outputs" / "eval").glob("*/eval_metrics.json")
    return json.loads(path.read_text())


def test_eval_reproduces_the_test_metrics_and_writes_predictions(cli, output_root, trained_run):
    training = json.loads((trained_run / "metrics.json").read_text())
    cli("evaluate", f"ckpt_path={training['best_checkpoint']}", "split=test")
    summary = eval_summary(output_root)
    assert summary["split"] == "test" and summary["metrics"].keys() == training["test"].keys()
    for name, value in training["test"].items():
        assert summary["metrics"][name] == pytest.approx(value, rel=1e-6), name

    predictions = pd.read_csv(summary["predictions"], parse_dates=["origin", "timestamp"])
    # The Forecaster.backtest layout (a wide frame: no id column).
    assert list(predictions.columns) == ["origin", "timestamp", "step", "target", "actual", "forecast"]
    horizon = training["config"]["data"]["horizon"]
    assert len(predictions) == summary["n_windows"] * horizon  # one target
    assert set(predictions["step"]) == set(range(1, horizon + 1)) and set(predictions["target"]) == {"target"}
    hours = (predictions["timestamp"] - predictions["origin"]) / pd.Timedelta("1h")
    assert (hours == predictions["step"]).all()
    # Actual values are the raw data at each forecast timestamp (original units, no leak of scaled values).
    frame = load_dataset("synthetic", n_rows=600, seed=training["config"]["seed"]).set_index("date")
    np.testing.assert_allclose(predictions["actual"], frame.loc[predictions["timestamp"], "target"], rtol=1e-5)
    squared_error = ((predictions["forecast"] - predictions["actual"]) ** 2).mean()
    assert squared_error == pytest.approx(training["test"]["test_original/mse"], rel=1e-4)


def test_eval_on_the_validation_split(cli, output_root, trained_run):
    training = json.loads((trained_run / "metrics.json").read_text())
    cli("evaluate", f"ckpt_path={training['last_checkpoint']}", "split=val", "predictions=false")
    summary = eval_summary(output_root)
    assert summary["predictions"] == "" and not list(output_root.rglob("predictions.csv"))
    # One epoch: the last checkpoint is the one validated at the end of training.
    assert summary["metrics"]["val/loss"] == pytest.approx(training["val"]["val/loss"], rel=1e-6)
    assert not metrics_files(output_root)  # eval's JSON is not a training run's metrics.json


@pytest.mark.parametrize(("arguments", "message"), [
    (["ckpt_path=nowhere.ckpt"], "no checkpoint at 'nowhere.ckpt'"),
    (["ckpt_path=moved.ckpt"], "no training config for checkpoint 'moved.ckpt'"),
    (["ckpt_path=moved.ckpt", "split=train"], "split must be one of ['test', 'val'], got 'train'"),
])
def test_eval_errors_are_one_line(cli, output_root, arguments, message):
    (output_root / "moved.ckpt").write_bytes(b"")
    result = cli("evaluate", *arguments, check=False)
    assert result.returncode == 2 and f"tsbridge-eval: error: {message}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_refitted_run_is_evaluated_from_its_refit_checkpoint_with_the_same_scaling(cli, output_root):
    cli("train", *TINY, "refit=true", "trainer.max_epochs=2")
    (run,) = metrics_files(output_root)
    training = json.loads(run.read_text())
    assert training["best_checkpoint"].endswith("checkpoints/refit.ckpt")
    assert training["config"]["refit"] is True and training["epochs"] >= 1
    cli("evaluate", f"ckpt_path={training['best_checkpoint']}", "split=test")
    summary = eval_summary(output_root)
    for name, value in training["test"].items():
        assert summary["metrics"][name] == pytest.approx(value, rel=1e-6), name
