"""Learning-rate schedules that ``torch.optim.lr_scheduler`` lacks, for ``module.scheduler`` configs.

Use from YAML (Lightning steps it once per training epoch)::

    module:
      scheduler:
        _target_: tsbridge.schedulers.HoldThenExponentialLR
        hold_epochs: 4
        gamma: 0.8
        interval: epoch
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


class HoldThenExponentialLR(LRScheduler):
    """Keep each parameter group's initial learning rate for ``hold_epochs`` epochs, then multiply it
    by ``gamma`` once per epoch: the lr of (0-based) epoch ``e`` is ``lr0 * gamma ** max(0, e + 1 - hold_epochs)``,
    times ``first_epoch_factor`` in epoch 0.

    The defaults reproduce SegRNN's ``--lradj type3`` as its ``adjust_learning_rate`` defines it
    (``lss-1138/SegRNN``, ``utils/tools.py``, the default of ``run_longExp.py``): it sets ``lr0`` while the
    finished 1-based epoch is below 3 and ``lr0 * 0.8 ** (epoch - 3)`` after, for the *next* epoch, so epochs
    2-4 train at ``lr0`` and the fifth at ``0.8 * lr0``. SegRNN's training loop (``exp/exp_main.py``) also
    builds a ``OneCycleLR``, which it never steps under type3 but whose construction sets every group's rate
    to ``lr0 / 25`` (``div_factor``): its *first* epoch trains at ``lr0 / 25``, a warm-up that
    ``first_epoch_factor=0.04`` reproduces (``conf/experiment/segrnn_etth1.yaml`` sets it). A group with its
    own initial rate (the blend logit's ``blend_lr``) keeps its ratio to the others.

    Args:
        optimizer: The wrapped optimizer.
        hold_epochs: Epochs trained at the initial rate, at least 1 (1 is ``ExponentialLR``).
        gamma: Factor per epoch after the hold, in (0, 1].
        first_epoch_factor: Factor on the rate of the first epoch alone, in (0, 1] (1: no warm-up).
        last_epoch: Index of the last epoch when resuming (PyTorch's convention; -1 starts fresh).
    """

    def __init__(self, optimizer: Optimizer, hold_epochs: int = 4, gamma: float = 0.8,
                 first_epoch_factor: float = 1.0, last_epoch: int = -1) -> None:
        if isinstance(hold_epochs, bool) or not isinstance(hold_epochs, int) or hold_epochs < 1:
            raise ValueError(f"hold_epochs must be a positive integer, got {hold_epochs!r}")
        for name, value in (("gamma", gamma), ("first_epoch_factor", first_epoch_factor)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value!r}")
        self.hold_epochs = hold_epochs
        self.gamma = float(gamma)
        self.first_epoch_factor = float(first_epoch_factor)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The rate of every group for epoch ``last_epoch`` (closed form: resuming needs no history)."""
        decays = max(0, self.last_epoch + 1 - self.hold_epochs)
        warm_up = self.first_epoch_factor if self.last_epoch == 0 else 1.0
        return [base_lr * self.gamma**decays * warm_up for base_lr in self.base_lrs]
