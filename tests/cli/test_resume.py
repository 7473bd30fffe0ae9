"""Fault tolerance: a run SIGKILLed mid-training and resumed from ``last.ckpt`` ends exactly like an uninterrupted
run with the same seed (same shuffles, weights, optimizer state, early-stopping and best-checkpoint bookkeeping)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from cli_helpers import TINY, cli_env

from tsbridge.config import compose_config
from tsbridge.fitting import fit

pytestmark = pytest.mark.slow

# Three short epochs with the default dropout: the checkpoint carries the global random state dropout draws from.
THREE_EPOCHS = [*TINY, "trainer.max_epochs=3"]


def wait_for(path, process, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.is_file():
        assert process.poll() is None, f"the run ended (exit {process.returncode}) before writing {path.name}"
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.1)


def test_killed_and_resumed_run_matches_the_uninterrupted_run(cli, output_root):
    cli("train", *THREE_EPOCHS, f"hydra.run.dir={output_root / 'uninterrupted'}")

    # The same run, held at the start of its second epoch (after last.ckpt of the first) and killed there.
    killed_dir = output_root / "killed"
    pause = "+callbacks.pause={_target_: pause_callback.PauseAtEpoch, epoch: 1, seconds: 300}"
    process = subprocess.Popen(
        [sys.executable, "-m", "tsbridge.cli.train", *THREE_EPOCHS, pause, f"hydra.run.dir={killed_dir}"],
        cwd=output_root, env=cli_env(output_root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    last = killed_dir / "checkpoints" / "last.ckpt"
    try:
        wait_for(last, process)
        time.sleep(1.0)  # the checkpoint is complete: the run is paused right after writing it
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not (killed_dir / "metrics.json").exists()
    assert torch.load(last, map_location="cpu", weights_only=True)["epoch"] == 0

    cli("train", *THREE_EPOCHS, f"ckpt_path={last}", f"hydra.run.dir={output_root / 'resumed'}")

    expected = json.loads((output_root / "uninterrupted" / "metrics.json").read_text())
    resumed = json.loads((output_root / "resumed" / "metrics.json").read_text())
    assert (resumed["epochs"], resumed["global_step"]) == (expected["epochs"], expected["global_step"]) == (3, 9)
    for part in ("val", "test", "readouts"):
        assert resumed[part].keys() == expected[part].keys()
        for name, value in expected[part].items():
            assert resumed[part][name] == pytest.approx(value, rel=1e-6, abs=1e-9), f"{part} {name}"
    # The resumed run kept saving next to the checkpoint it resumed from, with the same best epoch.
    assert resumed["best_checkpoint"].startswith(str(killed_dir / "checkpoints"))
    assert resumed["best_checkpoint"].rsplit("/", 1)[-1] == expected["best_checkpoint"].rsplit("/", 1)[-1]


class GlobalStepAtStart(L.Callback):
    """Records the optimizer steps already done when training starts (after a checkpoint is restored)."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.step = trainer.global_step


def fit_frozen(output_dir, *overrides: str, callbacks=()):
    """A tiny run whose weights never move (learning rates 0): val/loss never improves after the first epoch, so the
    best checkpoint stays epoch 0 and only a truthful last.ckpt holds a later epoch. No early stopping."""
    cfg = compose_config([*THREE_EPOCHS, "~callbacks.early_stopping", "module.optimizer.lr=0", "module.blend_lr=0",
                          *overrides])
    cfg.paths.output_dir = str(output_dir)
    return fit(cfg, callbacks=callbacks, logger=False)


def test_last_ckpt_is_the_last_epoch_not_the_best_and_a_resume_continues_from_it(tmp_path):
    result = fit_frozen(tmp_path / "run")  # 3 epochs of 3 steps, then best weights reloaded, validated and tested
    last = torch.load(result.last_checkpoint, map_location="cpu", weights_only=True)
    best = torch.load(result.best_checkpoint, map_location="cpu", weights_only=True)
    assert Path(result.last_checkpoint).name == "last.ckpt"
    assert (last["epoch"], last["global_step"]) == (2, 9)  # the third epoch (Lightning counts from 0)
    assert (best["epoch"], best["global_step"]) == (0, 3)

    started = GlobalStepAtStart()
    resumed = fit_frozen(tmp_path / "resumed", "trainer.max_epochs=4", f"ckpt_path={result.last_checkpoint}",
                         callbacks=[started])
    assert started.step == 9 and (resumed.epochs, resumed.global_step) == (4, 12)
    assert torch.load(resumed.last_checkpoint, map_location="cpu", weights_only=True)["global_step"] == 12
