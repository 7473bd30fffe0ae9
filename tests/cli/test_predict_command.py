"""``tsbridge-predict`` and the forecast a training run writes: the steps after the end of the data, in files."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_helpers import TINY, metrics_files

from tsbridge.data import make_synthetic

pytestmark = pytest.mark.slow


def predict_summary(output_root) -> dict:
    (path,) = sorted((output_root / "outputs" / "predict").glob("*/predict.json"))
    return json.loads(path.read_text())


def test_a_training_run_writes_its_forecast_and_predict_forecasts_past_newer_data(cli, output_root):
    data = make_synthetic(n_rows=700)
    data.iloc[:600].to_csv(output_root / "train.csv", index=False)
    data.to_csv(output_root / "newer.csv", index=False)
    cli("train", *TINY, "data=csv", "~data.frame.n_rows", "data.frame.path=train.csv", "data.target_cols=[target]",
        "data.features=S", "module.levels=[80,90]", "calibration.method=conformal")
    (metrics,) = metrics_files(output_root)
    run = metrics.parent
    written = pd.read_csv(run / "forecast.csv", parse_dates=["date"])
    assert written["date"].iloc[0] == data["date"].iloc[599] + pd.Timedelta(hours=1)  # right after the data's end
    assert list(written.columns) == ["date", "target-lo-90", "target-lo-80", "target", "target-hi-80",
                                     "target-hi-90"]
    assert (run / "forecast.png").stat().st_size > 0

    checkpoint = run / "checkpoints" / "last.ckpt"
    cli("predict", f"ckpt_path={checkpoint}")
    summary = predict_summary(output_root)
    again = pd.read_csv(summary["forecast"], parse_dates=["date"])
    pd.testing.assert_frame_equal(again, written)  # the same model, data and recomputed margins: the same forecast
    cli("predict", f"ckpt_path={checkpoint}", "data.frame.path=newer.csv", "plot=false")
    newer = pd.read_csv(sorted((output_root / "outputs" / "predict").glob("*/forecast.csv"))[-1], parse_dates=["date"])
    assert newer["date"].iloc[0] == data["date"].iloc[-1] + pd.Timedelta(hours=1)
    assert len(newer) == len(written)


def test_a_model_with_future_features_needs_their_values(cli, output_root):
    cli("train", *TINY, "data.future_features=[load]")
    (metrics,) = metrics_files(output_root)
    assert json.loads(metrics.read_text())["forecast"] == ""  # nothing to forecast with: the future is unknown
    checkpoint = metrics.parent / "checkpoints" / "last.ckpt"
    missing = cli("predict", f"ckpt_path={checkpoint}", check=False)
    assert missing.returncode == 2 and "future=" in missing.stderr and "Traceback" not in missing.stderr
    frame = make_synthetic(n_rows=600, seed=42)  # the smoke experiment's data (conf/experiment/smoke.yaml)
    stamps = pd.date_range(frame["date"].iloc[-1], periods=7, freq="h")[1:]
    pd.DataFrame({"date": stamps, "load": 1.0}).to_csv(output_root / "future.csv", index=False)
    cli("predict", f"ckpt_path={checkpoint}", "future=future.csv", "plot=false")
    forecast = pd.read_csv(predict_summary(output_root)["forecast"], parse_dates=["date"])
    assert list(forecast["date"]) == list(stamps)


def test_a_missing_checkpoint_is_one_clear_line(cli, output_root):
    result = cli("predict", f"ckpt_path={output_root / 'nothing.ckpt'}", check=False)
    assert result.returncode == 2 and "no checkpoint at" in result.stderr and "Traceback" not in result.stderr
