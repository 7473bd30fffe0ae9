"""Lightning callbacks that turn a run's blend readouts into files a person can read."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
# A bare Figure needs no pyplot backend: works headless, in DDP workers, and leaves a notebook's backend alone.
from matplotlib.figure import Figure
from torch import Tensor


class BlendWeightMonitor(L.Callback):
    """Record the learned past/future blend weight over training; write a CSV and a PNG at fit end.

    Works with :class:`tsbridge.ForecastModule`. The trajectory is kept in :attr:`history` (one dict per
    ``every_n_steps`` training steps: ``step`` (optimizer steps done),
    ``epoch``, ``past_weight``, ``future_weight``), and for input-gated blends the per-position profile of
    the last epoch in :attr:`profile`. Files ``blend_weights.csv``, ``blend_weights.png`` and, for gated
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

    @staticmethod
    def _blend(pl_module: L.LightningModule) -> Any:
        return getattr(getattr(pl_module, "net", None), "blend", None)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        # The value the module logged for this step (the weight its forward used), not the updated parameter.
        logged = getattr(pl_module, "step_past_weight", None)
        if logged is None or trainer.global_step % self.every_n_steps:
            return
        self._pending.append((trainer.global_step, trainer.current_epoch, logged))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._read_back()
        blend = self._blend(pl_module)
        profile = blend.past_profile() if blend is not None else None
        if profile is not None:
            self.profile = profile.detach().cpu().tolist()

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


def plot_blend_history(history: list[dict[str, float]]) -> Figure:
    """Plot past (forward) and future (backward) blend weights against the training step."""
    steps = [row["step"] for row in history]
    figure = Figure(figsize=(7, 3.5))
    axis = figure.subplots()
    axis.plot(steps, [row["past_weight"] for row in history], label="past weight a (forward states)")
    axis.plot(steps, [row["future_weight"] for row in history], label="future weight 1 - a (backward states)")
    axis.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    axis.set_xlabel("training step")
    axis.set_ylabel("blend weight")
    axis.set_ylim(0, 1)
    axis.set_title("Learned past-versus-future blend weight")
    axis.legend(loc="best")
    figure.tight_layout()
    return figure
