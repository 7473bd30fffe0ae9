"""Intervals and known-future covariates from the command line: the same options as the Forecaster, as overrides."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_helpers import TINY, metrics_files

pytestmark = pytest.mark.slow


def test_train_logs_interval_metrics_and_eval_writes_the_interval_columns(cli, output_root):
    cli("train", *TINY, "module.levels=[80,90]", "data.future_features=[load]", "data.calendar=[hour]")
    (path,) = metrics_files(output_root)
    summary = json.loads(path.read_text())
    for stage in ("val", "test"):
        for name in ("crps", "coverage-80", "coverage-90", "width-80", "width-90"):
            assert f"{stage}/{name}" in summary[stage], (stage, name)
        assert 0 <= summary[stage][f"{stage}/coverage-80"] <= summary[stage][f"{stage}/coverage-90"] <= 1
    assert "importance/future_features" in summary["readouts"]
    cli("evaluate", f"ckpt_path={summary['best_checkpoint']}")
    (predictions,) = (output_root / "outputs" / "eval").glob("*/predictions.csv")
    frame = pd.read_csv(predictions)
    names = ("forecast", "forecast-lo-90", "forecast-lo-80", "forecast-hi-80", "forecast-hi-90")
    assert list(names) == [c for c in frame.columns if c in names]
    assert (frame["forecast-lo-90"] <= frame["forecast-lo-80"]).all()
    assert (frame["forecast-hi-80"] <= frame["forecast-hi-90"]).all()
    assert (frame["forecast-lo-80"] <= frame["forecast"]).all() and (frame["forecast"] <= frame["forecast-hi-80"]).all()


def test_a_column_in_both_covariate_lists_is_one_clear_error(cli):
    result = cli("train", *TINY, "data.feature_cols=[load]", "data.future_features=[load]", check=False)
    assert result.returncode == 2 and "in both features and future_features" in result.stderr
    assert "Traceback" not in result.stderr
