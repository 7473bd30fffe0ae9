"""Lightning callbacks that turn a run's blend readouts into files a person can read."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

from tsbridge.plotting import plot_blend_history


class BlendWeightMonitor(L.Callback):
    """Record the learned past/future blend weight over training; write a CSV and a PNG at fit end.

    Works with :class:`tsbridge.ForecastModule`, whose training steps return their readouts: the weight recorded
    for a step is the one that step's forward pass used. The trajectory is kept in :attr:`history` (one dict per
    ``every_n_steps`` training steps: ``step`` (optimizer steps done), ``epoch``, ``past_weight``,
    ``future_weight``), and for input-gated blends the mean gate per look-back position over the last clean
    validation pass in :attr:`profile`. Files ``blend_weights.csv``, ``blend_weights.png`` and, for gated
    blends, ``blend_profile.csv`` go into the trainer's log dir (or ``dirpath`` when given). Models without
    a blend bridge are ignored, so the callback can stay in every config.
    """

    def __init__(self, dirpath: str | None = None, every_n_steps: int = 1) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.dirpath = dirpath
        self.every_n_steps = every_n_steps
        self._history: list[dict[str, float]] = []
        # (step, epoch, weight tensor) not yet read back: converting every step would stall a GPU each time.
        self._pending: list[tuple[int, int, Tensor]] = []
        self.profile: list[float] | None = None

    @property
    def history(self) -> list[dict[str, float]]:
        self._read_back()
        return self._history

    def _read_back(self) -> None:
        """Move the pending step weights to :attr:`history` with one device-to-host copy."""
        if self._pending:
            weights = torch.stack([weight for _, _, weight in self._pending]).tolist()
            self._history.extend(
                {"step": step, "epoch": epoch, "past_weight": past, "future_weight": 1.0 - past}
                for (step, epoch, _), past in zip(self._pending, weights)
            )
            self._pending.clear()

    def state_dict(self) -> dict[str, Any]:
        """Saved in checkpoints, so a resumed run's trajectory covers the whole training."""
        return {"history": self.history, "profile": self.profile}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._history, self._pending = list(state_dict["history"]), []
        self.profile = state_dict["profile"]

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, *args: Any) -> None:
        readouts = outputs.get("readouts", {}) if isinstance(outputs, dict) else {}
        weight = readouts.get("blend/past_weight")
        if weight is None or trainer.global_step % self.every_n_steps:
            return
        self._pending.append((trainer.global_step, trainer.current_epoch, weight))

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After the module's on_validation_epoch_end, which averages the epoch's readouts (callbacks run first).
        profile = getattr(pl_module, "validation_readouts", {}).get("blend/profile")
        if profile is not None and not trainer.sanity_checking:
            self.profile = profile.tolist()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._read_back()

    def output_dir(self, trainer: L.Trainer) -> Path:
        return Path(self.dirpath or trainer.log_dir or trainer.default_root_dir)

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.history:
            return
        out = self.output_dir(trainer)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "blend_weights.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(self.history[0]))
            writer.writeheader()
            writer.writerows(self.history)
        if self.profile is not None:
            with open(out / "blend_profile.csv", "w", newline="") as f:
                f.write("position,past_weight\n")
                f.writelines(f"{i},{w}\n" for i, w in enumerate(self.profile))
        figure = plot_blend_history(self.history)
        figure.savefig(out / "blend_weights.png", dpi=120, bbox_inches="tight")
