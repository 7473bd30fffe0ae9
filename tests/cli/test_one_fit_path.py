"""One fit path: ``tsbridge-train``, ``Forecaster.fit`` and ``benchmarks/accuracy.py`` train through
:func:`tsbridge.fitting.fit`, so the same config and seed give the same test metrics, and the model keeps its name."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
from cli_helpers import TINY, metrics_files

from tsbridge import Forecaster
from tsbridge.cli.report import collect_runs
from tsbridge.data import load_dataset

pytestmark = pytest.mark.slow
OVERRIDES = [*TINY, "seed=3"]
REPO = Path(__file__).resolve().parents[2]


def accuracy_script():
    spec = importlib.util.spec_from_file_location("benchmark_accuracy_fit_path", REPO / "benchmarks" / "accuracy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve their module
    spec.loader.exec_module(module)
    return module


def test_cli_forecaster_and_benchmark_give_identical_test_metrics(cli, output_root, tmp_path):
    cli("train", *OVERRIDES)
    (path,) = metrics_files(output_root)
    from_cli = json.loads(path.read_text())["test"]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the CLI subprocess (OMP_NUM_THREADS=1): the same reduction order
    try:
        frame = load_dataset("synthetic", n_rows=600, seed=3)  # what experiment=smoke reads, built by hand
        forecaster = Forecaster.from_config(OVERRIDES, work_dir=tmp_path / "fc", progress=False)
        forecaster.fit(frame, target="target", time_col="date", val_size=0.1, test_size=0.2)
        row = accuracy_script().train_and_test(OVERRIDES, threads=1)
    finally:
        torch.set_num_threads(threads)
    from_forecaster = {k: v for k, v in forecaster.metrics.items() if k.startswith("test")}
    assert from_forecaster == from_cli  # bit for bit
    assert row["mse"] == f"{from_cli['test/mse']:.6f}" and row["mae"] == f"{from_cli['test/mae']:.6f}"


def test_the_report_of_a_sweep_names_each_model(cli, output_root):
    cli("train", "-m", *TINY, "model=blend,blend_gated,feedback")
    (sweep_dir,) = (output_root / "multirun" / "train").iterdir()
    table = collect_runs(sweep_dir)
    assert sorted(table["model"]) == ["blend", "blend_gated", "feedback"]
    summaries = [json.loads(p.read_text()) for p in metrics_files(sweep_dir)]
    assert sorted(s["model"] for s in summaries) == ["blend", "blend_gated", "feedback"]
