"""``trainer=ddp_cpu``: a real two-process DDP fit on the CPU (gloo), where only rank 0 writes outputs."""

from __future__ import annotations

import json

import pytest
from cli_helpers import TINY, metrics_files

pytestmark = pytest.mark.slow


def test_ddp_cpu_fit_runs_two_processes_and_rank_zero_writes(cli, output_root):
    result = cli("train", *TINY, "trainer=ddp_cpu", timeout=300)
    assert "Starting with 2 processes" in result.stdout + result.stderr
    (run_dir,) = (output_root / "outputs" / "train").iterdir()  # rank 1 joins rank 0's folder, makes none
    assert [p.parent for p in metrics_files(output_root)] == [run_dir]
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["world_size"] == 2 and summary["test"]["test/mse"] > 0
    # Both ranks ran the whole script (rank 1 logs to its own file), but only rank 0 printed the summary and
    # wrote metrics.json: the two share one gate.
    assert (run_dir / "train_ddp_process_1.log").is_file()
    assert result.stdout.count("tsbridge-train: blend trained") == 1
    assert (run_dir / "blend_weights.csv").is_file()
