"""``trainer=ddp_cpu``: real two-process DDP runs on the CPU (gloo): only rank 0 writes outputs, each rank trains on
its share of a panel's windows, and fit and evaluation give one process's metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import TINY, metrics_files, run_cli

from tsbridge.config import build_datamodule, compose_config

pytestmark = pytest.mark.slow

# Five series of 171 hourly rows: 450 training windows, an even count (DistributedSampler pads an odd one by repeating
# a window, so that the ranks step together); 65 validation windows and 145 test windows, odd counts, which a padded
# sampler would score one twice. With 32 windows an evaluation batch, the ranks' 33 and 32 validation windows are two
# batches and one: the validation during fit must not need the ranks to run the same batches.
PANEL_DATA = ["data.frame.n_series=5", "data.id_col=series_id", "data.frame.n_rows=171"]
PANEL = [
    *TINY, *PANEL_DATA, "trainer.max_epochs=2", "trainer.limit_train_batches=1.0", "trainer.limit_val_batches=1.0",
    "trainer.limit_test_batches=1.0", "forecast=false", "logger=none", "data.eval_batch_size=32",
    # Each rank draws its own dropout masks, unlike one process: without dropout the two fits can be the same fit.
    "model.dropout=0",
    "+callbacks.seen_windows._target_=seen_windows.SeenWindows",
]
# Windows per rank and step; one process takes 2 * BATCH, which DDP's mean of the two ranks' gradients matches.
BATCH = 32
N_TEST_WINDOWS = 145
SERIES = {0, 1, 2, 3, 4}


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


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of the panel fit in one process, at batch size ``2 * BATCH``."""
    root = tmp_path_factory.mktemp("one_process")
    run_cli("train", *PANEL, "trainer=cpu", f"data.batch_size={2 * BATCH}", output_root=root)
    (metrics,) = metrics_files(root)
    return metrics.parent


def seen_windows(run_dir: Path, rank: int, part: str = "train") -> list[tuple[int, set[tuple[int, int]]]]:
    """The epoch and the ``(series, origin)`` windows of each training step (``part="val"``: validation batch) of
    ``rank`` during the fit (tests/cli/seen_windows.py)."""
    batches = json.loads((run_dir / f"seen_windows_rank{rank}.json").read_text())[part]
    return [(batch["epoch"], {tuple(window) for window in batch["windows"]}) for batch in batches]


def fit_validation_losses(run_dir: Path, rank: int) -> list[float]:
    """``val/loss`` after each validation epoch of the fit, as ``rank`` read it (checkpointing reads the same)."""
    return json.loads((run_dir / f"seen_windows_rank{rank}.json").read_text())["val_loss"]


def epoch_shares(steps: list[tuple[int, set[tuple[int, int]]]], epoch: int) -> set[tuple[int, int]]:
    return set().union(*(windows for step_epoch, windows in steps if step_epoch == epoch))


def test_ddp_fit_over_a_panel_gives_each_rank_its_share_and_fits_as_one_process(cli, output_root, one_process_run):
    cli("train", *PANEL, "trainer=ddp_cpu", f"data.batch_size={BATCH}", timeout=300)
    (run_dir,) = (output_root / "outputs" / "train").iterdir()
    datamodule = build_datamodule(compose_config([*TINY, *PANEL_DATA]))
    datamodule.setup()
    every_window = {tuple(pair) for pair in datamodule.train_dataset.origins().tolist()}
    assert len(every_window) == 450 and {series for series, _ in every_window} == SERIES

    rank_steps = [seen_windows(run_dir, rank) for rank in (0, 1)]
    one_process_steps = seen_windows(one_process_run, 0)
    for epoch in (0, 1):
        shares = [epoch_shares(steps, epoch) for steps in rank_steps]
        # Half the windows each, none twice, every window of every series between them.
        assert len(shares[0]) == len(shares[1]) == 225 and not shares[0] & shares[1]
        assert shares[0] | shares[1] == every_window
        assert all({series for series, _ in share} == SERIES for share in shares)
    # Step by step, the two ranks' batches of BATCH windows are the one process's batch of 2 * BATCH.
    assert len(rank_steps[0]) == len(rank_steps[1]) == len(one_process_steps) == 16
    for (_, rank_0), (_, rank_1), (_, one_process) in zip(*rank_steps, one_process_steps):
        assert rank_0 | rank_1 == one_process and not rank_0 & rank_1

    ddp = json.loads((run_dir / "metrics.json").read_text())
    one = json.loads((one_process_run / "metrics.json").read_text())
    assert ddp["world_size"] == 2 and one["world_size"] == 1
    assert ddp["test"].keys() == one["test"].keys() and ddp["best_checkpoint"].endswith("epoch001-step000016.ckpt")
    # The same steps on the same windows: equal up to float32 rounding, DDP's mean of two batch means standing for one
    # process's mean over both (measured: 1e-8 apart; 1e-5 leaves room for other CPUs' summation order).
    for name, value in one["test"].items():
        assert ddp["test"][name] == pytest.approx(value, rel=1e-5), name

    # The validation during the fit, which picks the best checkpoint: every validation window once over the ranks
    # (33 and 32 of them, two batches and one), and the loss both ranks read is the one process's.
    every_val_window = {tuple(pair) for pair in datamodule.val_dataset.origins().tolist()}
    assert len(every_val_window) == 65
    rank_val_batches = [seen_windows(run_dir, rank, "val") for rank in (0, 1)]
    assert [len(batches) for batches in rank_val_batches] == [4, 2]  # 2 epochs
    for epoch in (0, 1):
        shares = [epoch_shares(batches, epoch) for batches in rank_val_batches]
        assert sorted(map(len, shares)) == [32, 33] and not shares[0] & shares[1]
        assert shares[0] | shares[1] == every_val_window
    one_process_losses = fit_validation_losses(one_process_run, 0)
    assert len(one_process_losses) == 2
    for rank in (0, 1):
        assert fit_validation_losses(run_dir, rank) == pytest.approx(one_process_losses, rel=1e-5)


def test_ddp_evaluation_scores_every_test_window_once(cli, output_root, one_process_run):
    training = json.loads((one_process_run / "metrics.json").read_text())
    result = cli("evaluate", f"ckpt_path={training['best_checkpoint']}", "trainer=ddp_cpu", "predictions=false",
                 timeout=300)
    assert result.stdout.count(f"tsbridge-eval: {N_TEST_WINDOWS} test windows") == 1  # rank 0 reports, rank 1 not
    (path,) = (output_root / "outputs" / "eval").glob("*/eval_metrics.json")
    summary = json.loads(path.read_text())
    assert summary["n_windows"] == N_TEST_WINDOWS
    # The one-process test pass of the same weights, to float rounding. Lightning's padded sampler (a window scored
    # twice) moved test/loss by 0.5% here, and its sync_dist mean over the ranks' 53 and 52 windows by 1%.
    assert summary["metrics"].keys() == training["test"].keys()
    for name, value in training["test"].items():
        assert summary["metrics"][name] == pytest.approx(value, rel=1e-6), name
