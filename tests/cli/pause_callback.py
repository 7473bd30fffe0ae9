"""A test-only callback: holds training at the start of one epoch, so a test can kill the run right there."""

from __future__ import annotations

import time

import lightning as L


class PauseAtEpoch(L.Callback):
    """Sleep ``seconds`` when epoch ``epoch`` starts (after the previous epoch's ``last.ckpt`` is written)."""

    def __init__(self, epoch: int, seconds: float) -> None:
        self.epoch = epoch
        self.seconds = seconds

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            time.sleep(self.seconds)
