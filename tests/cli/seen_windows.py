"""A test-only callback: which windows each DDP rank was given during a fit, and the validation loss it logged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L


class SeenWindows(L.Callback):
    """Record the ``(series, origin)`` pairs of every training batch and of every validation batch of the fit (the
    sanity check left out), and ``val/loss`` after each validation epoch; write them when training ends to
    ``seen_windows_rank<rank>.json`` in the run folder: ``{"train": [{"epoch": ..., "windows": [[series, origin],
    ...]}, ...] (one per step), "val": [...] (one per validation batch), "val_loss": [...] (one per epoch)}``."""

    def __init__(self) -> None:
        self.seen: dict[str, list[Any]] = {"train": [], "val": [], "val_loss": []}

    def _record(self, part: str, trainer: L.Trainer, batch: dict) -> None:
        windows = list(zip(batch["series"].tolist(), batch["origin"].tolist()))
        self.seen[part].append({"epoch": trainer.current_epoch, "windows": windows})

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: dict,
                             batch_idx: int) -> None:
        self._record("train", trainer, batch)

    def on_validation_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: dict,
                                  batch_idx: int, dataloader_idx: int = 0) -> None:
        if not trainer.sanity_checking:
            self._record("val", trainer, batch)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After the epoch's metrics were computed over every rank: what checkpointing and early stopping read.
        if not trainer.sanity_checking:
            self.seen["val_loss"].append(float(trainer.callback_metrics["val/loss"]))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        path = Path(trainer.default_root_dir) / f"seen_windows_rank{trainer.global_rank}.json"
        path.write_text(json.dumps(self.seen))
