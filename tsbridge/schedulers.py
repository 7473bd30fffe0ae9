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
    by ``gamma`` once per epoch: the lr of (0-based) epoch ``e`` is ``lr0 * gamma ** max(0, e + 1 - hold_epochs)``.

    The defaults reproduce SegRNN's ``--lradj type3`` (``lss-1138/SegRNN``, ``utils/tools.py``
    ``adjust_learning_rate``, the default of ``run_longExp.py``): it sets ``lr0`` while the finished
    1-based epoch is below 3 and ``lr0 * 0.8 ** (epoch - 3)`` after, for the *next* epoch, so the
    first four epochs train at ``lr0`` and the fifth at ``0.8 * lr0``. A group with its own initial
    rate (the blend logit's ``blend_lr``) keeps its ratio to the others.

    Args:
        optimizer: The wrapped optimizer.
        hold_epochs: Epochs trained at the initial rate, at least 1 (1 is ``ExponentialLR``).
        gamma: Factor per epoch after the hold, in (0, 1].
        last_epoch: Index of the last epoch when resuming (PyTorch's convention; -1 starts fresh).
    """

    def __init__(self, optimizer: Optimizer, hold_epochs: int = 4, gamma: float = 0.8, last_epoch: int = -1) -> None:
        if isinstance(hold_epochs, bool) or not isinstance(hold_epochs, int) or hold_epochs < 1:
            raise ValueError(f"hold_epochs must be a positive integer, got {hold_epochs!r}")
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
        self.hold_epochs = hold_epochs
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The rate of every group for epoch ``last_epoch`` (closed form: resuming needs no history)."""
        decays = max(0, self.last_epoch + 1 - self.hold_epochs)
        return [base_lr * self.gamma**decays for base_lr in self.base_lrs]
