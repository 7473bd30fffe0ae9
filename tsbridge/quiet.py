"""Keep Lightning's console output to what a user can act on; importing this module changes nothing."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

#: The loggers Lightning writes its console lines to.
LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning", "lightning.pytorch.utilities.rank_zero")
# Lightning's log lines that advertise products rather than describe the run.
_ADVERTISING = ("💡 Tip", "litlogger", "litmodels", "lightning.ai")


class DropProductTips(logging.Filter):
    """Drops Lightning's product advertisements ("💡 Tip: ... try installing litlogger")."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(marker in message for marker in _ADVERTISING)


def drop_product_tips() -> None:
    """Filter the advertisements out of Lightning's loggers (once; later calls change nothing)."""
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, DropProductTips) for existing in logger.filters):
            logger.addFilter(DropProductTips())


@contextmanager
def lightning_warnings_only() -> Iterator[None]:
    """While inside, Lightning logs warnings and errors only (no "GPU available" / "`Trainer.fit` stopped" lines)."""
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def hide_third_party_noise() -> None:
    """Install the warning filters every entry point shares (global; use inside ``warnings.catch_warnings()`` to
    keep them local).

    Third-party deprecation warnings (in code a user does not call, e.g. Lightning's use of torch's ``LeafSpec``)
    are hidden, tsbridge's own kept. Lightning's hints that do not apply to tsbridge's fits are hidden too: the
    monitored key missing before the first validation (``fit`` validates once after training) and a logging
    interval longer than a tiny epoch (every epoch's metrics are logged anyway), and for the parameter-free
    baselines: no optimizer, no gradient clipping, a training step without a loss.
    """
    for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("default", category=category, module=r"tsbridge(\..*)?$")
    warnings.filterwarnings("ignore", message=r".*is deprecated, use `isinstance\(treespec")
    warnings.filterwarnings("ignore", message=r"`ModelCheckpoint\(monitor=.*could not find the monitored key")
    warnings.filterwarnings("ignore", message=r"The number of training batches .* is smaller than the logging interval")
    # The parameter-free baselines (naive, seasonal_naive) have nothing to optimise or clip, by design.
    for message in (r"`parameters` is an empty generator, no gradient clipping",
                    r".*configure_optimizers.* returned `None`", r"`training_step` returned `None`"):
        warnings.filterwarnings("ignore", message=message)


@contextmanager
def quiet_fit(progress: bool = True) -> Iterator[None]:
    """The one quiet set-up of a fit, shared by the Forecaster and the benchmarks (the CLI installs the same filters
    for its whole process): no product tips, no third-party noise, and with ``progress=False`` none of
    Lightning's information lines ("GPU available", "`Trainer.fit` stopped")."""
    drop_product_tips()
    with warnings.catch_warnings():
        hide_third_party_noise()
        with nullcontext() if progress else lightning_warnings_only():
            yield
