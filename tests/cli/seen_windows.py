"""A test-only callback: which training windows each DDP rank was given, step by step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L


class SeenWindows(L.Callback):
    """Record the ``(series, origin)`` pairs of every training batch; write them when training ends to
    ``seen_windows_rank<rank>.json`` in the run folder, one ``{"epoch": ..., "windows": [[series, origin], ...]}``
    per step."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: dict,
                             batch_idx: int) -> None:
        windows = list(zip(batch["series"].tolist(), batch["origin"].tolist()))
        self.batches.append({"epoch": trainer.current_epoch, "windows": windows})

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        path = Path(trainer.default_root_dir) / f"seen_windows_rank{trainer.global_rank}.json"
        path.write_text(json.dumps(self.batches))
